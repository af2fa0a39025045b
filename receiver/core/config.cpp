// Reads the receiver's YAML configuration into typed, checked settings (the only user of yaml-cpp).
#include "core/config.hpp"

#include "core/placeholders.hpp"

#include <yaml-cpp/eventhandler.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <memory>
#include <set>
#include <span>
#include <sstream>
#include <utility>

namespace rollback {
namespace {

constexpr int max_retries = 100;
constexpr std::string_view whitespace = " \t\r\n\v\f";

using KeyList = std::span<const std::string_view>;

constexpr std::array<std::string_view, 6> top_level_keys = {"listen_address", "ledger",   "audit",
                                                            "auth",           "defaults", "services"};
constexpr std::array<std::string_view, 1> ledger_keys = {"path"};
constexpr std::array<std::string_view, 1> audit_keys = {"file"};
constexpr std::array<std::string_view, 2> auth_keys = {"webhook_token_file", "api_token_file"};
constexpr std::array<std::string_view, 5> defaults_keys = {"service_label", "environment_label",
                                                           "watch_window", "debounce", "rollback"};
constexpr std::array<std::string_view, 3> service_keys = {"watch_window", "debounce", "rollback"};
constexpr std::array<std::string_view, 4> rollback_keys = {"command", "timeout", "retries", "retry_backoff"};

std::string join(KeyList names) {
    std::string joined;
    for (const std::string_view name : names) {
        if (!joined.empty()) joined += ", ";
        joined += name;
    }
    return joined;
}

bool contains(KeyList names, std::string_view name) {
    for (const std::string_view known : names) {
        if (known == name) return true;
    }
    return false;
}

std::string child_path(const std::string& parent, const std::string& key) {
    return parent.empty() ? key : parent + "." + key;
}

// A relative path is taken relative to the config file's folder (lexically, as Prometheus does).
std::string resolve_path(const std::string& path, const std::string& base_dir) {
    if (base_dir.empty() || path.empty()) return path;
    const std::filesystem::path as_path(path);
    if (as_path.is_absolute()) return path;
    return (std::filesystem::path(base_dir) / as_path).lexically_normal().string();
}

// Prometheus label names: [a-zA-Z_][a-zA-Z0-9_]*.
bool is_label_name(std::string_view text) {
    if (text.empty()) return false;
    for (std::size_t i = 0; i < text.size(); ++i) {
        const char c = text[i];
        const bool letter = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
        const bool digit = c >= '0' && c <= '9';
        if (!letter && !(digit && i > 0)) return false;
    }
    return true;
}

// Letters, digits, '.', '-', '_' (an empty text passes: callers check emptiness where it matters).
bool is_host_name(std::string_view text) {
    for (const char c : text) {
        const bool allowed = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                             c == '.' || c == '-' || c == '_';
        if (!allowed) return false;
    }
    return true;
}

std::string_view trim(std::string_view text) {
    const std::size_t first = text.find_first_not_of(whitespace);
    if (first == std::string_view::npos) return {};
    const std::size_t last = text.find_last_not_of(whitespace);
    return text.substr(first, last - first + 1);
}

struct FileCloser {
    void operator()(std::FILE* file) const { std::fclose(file); }
};
using FileHandle = std::unique_ptr<std::FILE, FileCloser>;

// The whole content of a file, or "cannot read <path>: <reason>".
Result<std::string> read_file(const std::string& path) {
    const FileHandle file(std::fopen(path.c_str(), "rb"));
    if (!file) return make_error("cannot read " + path + ": " + std::strerror(errno));
    std::string content;
    char buffer[8192];
    while (true) {
        const std::size_t count = std::fread(buffer, 1, sizeof buffer, file.get());
        content.append(buffer, count);
        if (count < sizeof buffer) break;
    }
    if (std::ferror(file.get())) return make_error("cannot read " + path + ": " + std::strerror(errno));
    return content;
}

using Entries = std::vector<std::pair<std::string, YAML::Node>>;

// Turns YAML nodes into Config fields. Every message starts with "<source>: <key.path>: ".
class ConfigReader {
  public:
    ConfigReader(const std::string& source, const std::string& base_dir)
        : source_(source), base_dir_(base_dir) {}

    Result<Config> read(const YAML::Node& root) const {
        Config config;
        config.source = source_;
        if (root.IsNull()) { // an empty document: every default
            config.ledger_path = resolve_path(config.ledger_path, base_dir_);
            return config;
        }
        if (!root.IsMap()) {
            return make_error(source_ + ": the top level must be a mapping of settings (known keys: " +
                              join(top_level_keys) + ")");
        }
        auto entries = read_mapping(root, "", top_level_keys);
        if (!entries) return make_error(entries.error());

        if (const YAML::Node* node = find(*entries, "listen_address")) {
            auto text = read_string(*node, "listen_address");
            if (!text) return make_error(text.error());
            auto address = parse_listen_address(*text);
            if (!address) return fail("listen_address", address.error());
            config.listen_address = *text;
        }
        if (const YAML::Node* node = find(*entries, "ledger")) {
            auto ledger = read_mapping(*node, "ledger", ledger_keys);
            if (!ledger) return make_error(ledger.error());
            if (const YAML::Node* path = find(*ledger, "path")) {
                auto text = read_path(*path, "ledger.path");
                if (!text) return make_error(text.error());
                config.ledger_path = *text;
            }
        }
        config.ledger_path = resolve_path(config.ledger_path, base_dir_);
        if (const YAML::Node* node = find(*entries, "audit")) {
            auto audit = read_mapping(*node, "audit", audit_keys);
            if (!audit) return make_error(audit.error());
            if (const YAML::Node* file = find(*audit, "file")) {
                auto text = read_path(*file, "audit.file");
                if (!text) return make_error(text.error());
                config.audit_file = resolve_path(*text, base_dir_);
            }
        }
        if (const YAML::Node* node = find(*entries, "auth")) {
            if (auto status = read_auth(*node, config); !status) return make_error(status.error());
        }
        if (const YAML::Node* node = find(*entries, "defaults")) {
            if (auto status = read_defaults(*node, config); !status) return make_error(status.error());
        }
        if (const YAML::Node* node = find(*entries, "services")) {
            if (auto status = read_services(*node, config); !status) return make_error(status.error());
        }
        return config;
    }

  private:
    Error fail(const std::string& key_path, const std::string& what) const {
        return make_error(source_ + ": " + key_path + ": " + what);
    }

    static const YAML::Node* find(const Entries& entries, std::string_view key) {
        for (const auto& [name, node] : entries) {
            if (name == key) return &node;
        }
        return nullptr;
    }

    // The key/value pairs of a mapping; a null value (`ledger:` with nothing after it) has none. Keys must
    // be strings, appear once, and be one of `known` (any name when `known` is empty, as for services).
    Result<Entries> read_mapping(const YAML::Node& node, const std::string& path, KeyList known) const {
        Entries entries;
        if (node.IsNull()) return entries;
        if (!node.IsMap()) {
            if (known.size() == 0) return fail(path, "expected a mapping of service names to their settings");
            return fail(path, "expected a mapping (known keys: " + join(known) + ")");
        }
        std::set<std::string> seen;
        for (const auto& pair : node) {
            if (!pair.first.IsScalar() || pair.first.Scalar().empty()) {
                return fail(path.empty() ? "top level" : path, "every key must be a non-empty string");
            }
            const std::string& key = pair.first.Scalar();
            const std::string key_path = child_path(path, key);
            if (known.size() != 0 && !contains(known, key)) {
                return fail(key_path, "unknown key (known keys: " + join(known) + ")");
            }
            if (!seen.insert(key).second) return fail(key_path, "key given more than once; keep one");
            entries.emplace_back(key, pair.second);
        }
        return entries;
    }

    // Any scalar is taken as its text (`listen_address: 9095` reads "9095"); null, lists and mappings are
    // not.
    Result<std::string> read_string(const YAML::Node& node, const std::string& path) const {
        if (!node.IsScalar()) return fail(path, "expected a string");
        return node.Scalar();
    }

    Result<std::string> read_path(const YAML::Node& node, const std::string& path) const {
        auto text = read_string(node, path);
        if (!text) return text;
        if (text->empty()) return fail(path, "expected a file path, not an empty string");
        return text;
    }

    Result<Duration> read_duration(const YAML::Node& node, const std::string& path) const {
        if (!node.IsScalar()) return fail(path, "expected a duration such as 500ms, 30s, 15m or 1h30m");
        auto duration = parse_duration(node.Scalar());
        if (!duration) return fail(path, duration.error());
        return duration;
    }

    Status read_auth(const YAML::Node& node, Config& config) const {
        if (node.IsMap()) {
            for (const auto& pair : node) {
                const std::string key = pair.first.IsScalar() ? pair.first.Scalar() : std::string();
                if (key == "webhook_token" || key == "api_token") {
                    return fail("auth." + key,
                                "tokens are not allowed in the config file; put the token in a "
                                "file and set auth." +
                                    key + "_file");
                }
            }
        }
        auto entries = read_mapping(node, "auth", auth_keys);
        if (!entries) return make_error(entries.error());
        for (const auto& [key, value] : *entries) {
            auto text = read_path(value, "auth." + key);
            if (!text) return make_error(text.error());
            std::string& field =
                key == "webhook_token_file" ? config.webhook_token_file : config.api_token_file;
            field = resolve_path(*text, base_dir_);
        }
        return ok_status();
    }

    Status read_defaults(const YAML::Node& node, Config& config) const {
        auto entries = read_mapping(node, "defaults", defaults_keys);
        if (!entries) return make_error(entries.error());
        for (const char* label_key : {"service_label", "environment_label"}) {
            const YAML::Node* value = find(*entries, label_key);
            if (value == nullptr) continue;
            const std::string path = std::string("defaults.") + label_key;
            auto text = read_string(*value, path);
            if (!text) return make_error(text.error());
            if (!is_label_name(*text)) {
                return fail(path, "\"" + *text +
                                      "\" is not a label name (use letters, digits and '_', "
                                      "not starting with a digit, e.g. service)");
            }
            (std::string_view(label_key) == "service_label" ? config.service_label
                                                            : config.environment_label) = *text;
        }
        return read_service_settings(*entries, "defaults", config.defaults);
    }

    Status read_services(const YAML::Node& node, Config& config) const {
        auto entries = read_mapping(node, "services", {});
        if (!entries) return make_error(entries.error());
        for (const auto& [name, value] : *entries) {
            const std::string path = "services." + name;
            auto settings = read_mapping(value, path, service_keys);
            if (!settings) return make_error(settings.error());
            ServiceSettings merged = config.defaults;
            if (auto status = read_service_settings(*settings, path, merged); !status) return status;
            config.services.emplace(name, std::move(merged));
        }
        return ok_status();
    }

    // watch_window, debounce and rollback from `entries`, on top of what `settings` already holds.
    Status read_service_settings(const Entries& entries, const std::string& path,
                                 ServiceSettings& settings) const {
        if (const YAML::Node* value = find(entries, "watch_window")) {
            const std::string key_path = path + ".watch_window";
            auto duration = read_duration(*value, key_path);
            if (!duration) return make_error(duration.error());
            if (duration->count() <= 0) return fail(key_path, "must be longer than 0s (e.g. 30m)");
            settings.watch_window = *duration;
        }
        if (const YAML::Node* value = find(entries, "debounce")) {
            auto duration = read_duration(*value, path + ".debounce");
            if (!duration) return make_error(duration.error());
            settings.debounce = *duration;
        }
        if (const YAML::Node* value = find(entries, "rollback")) {
            return read_rollback(*value, path + ".rollback", settings.rollback);
        }
        return ok_status();
    }

    Status read_rollback(const YAML::Node& node, const std::string& path, RollbackSettings& rollback) const {
        auto entries = read_mapping(node, path, rollback_keys);
        if (!entries) return make_error(entries.error());
        if (const YAML::Node* value = find(*entries, "command")) {
            auto command = read_command(*value, path + ".command");
            if (!command) return make_error(command.error());
            rollback.command = std::move(*command);
        }
        if (const YAML::Node* value = find(*entries, "timeout")) {
            const std::string key_path = path + ".timeout";
            auto duration = read_duration(*value, key_path);
            if (!duration) return make_error(duration.error());
            if (duration->count() <= 0) return fail(key_path, "must be longer than 0s (e.g. 10m)");
            rollback.timeout = *duration;
        }
        if (const YAML::Node* value = find(*entries, "retries")) {
            auto retries = read_retries(*value, path + ".retries");
            if (!retries) return make_error(retries.error());
            rollback.retries = *retries;
        }
        if (const YAML::Node* value = find(*entries, "retry_backoff")) {
            auto duration = read_duration(*value, path + ".retry_backoff");
            if (!duration) return make_error(duration.error());
            rollback.retry_backoff = *duration;
        }
        return ok_status();
    }

    Result<int> read_retries(const YAML::Node& node, const std::string& path) const {
        const std::string expected = "expected a whole number from 0 to " + std::to_string(max_retries);
        if (!node.IsScalar()) return fail(path, expected);
        const std::string& text = node.Scalar();
        if (text.empty() || text.size() > 3) return fail(path, expected);
        int value = 0;
        for (const char c : text) {
            if (c < '0' || c > '9') return fail(path, expected);
            value = value * 10 + (c - '0');
        }
        if (value > max_retries) return fail(path, expected);
        return value;
    }

    // argv, run without a shell: every element a string with known {{placeholders}}; argv[0] a program.
    Result<std::vector<std::string>> read_command(const YAML::Node& node, const std::string& path) const {
        const std::string expected = "expected a list of strings with at least one element, e.g. "
                                     "[scripts/rollback.sh, \"{{service}}\", \"{{previous_version}}\"]";
        if (!node.IsSequence() || node.size() == 0) return fail(path, expected);
        std::vector<std::string> argv;
        for (std::size_t i = 0; i < node.size(); ++i) {
            const YAML::Node element = node[i];
            const std::string element_path = path + "[" + std::to_string(i) + "]";
            if (element.IsMap()) {
                return fail(element_path, "expected a string, found a mapping (quote arguments that hold "
                                          "placeholders: \"{{service}}\")");
            }
            if (!element.IsScalar()) return fail(element_path, "expected a string");
            const std::string& argument = element.Scalar();
            if (i == 0 && argument.empty())
                return fail(element_path, "expected the program to run, not \"\"");
            if (auto status = check_placeholders(argument); !status)
                return fail(element_path, status.error());
            argv.push_back(argument);
        }
        // A program name without '/' is looked up in PATH; with one, it is a file relative to the config.
        if (argv[0].find('/') != std::string::npos) argv[0] = resolve_path(argv[0], base_dir_);
        return argv;
    }

    std::string source_;
    std::string base_dir_;
};

// Reads one token file named by `key` into `token`; the token itself never appears in a message.
Status read_token(const Config& config, const std::string& key, const std::string& file, std::string& token) {
    if (file.empty()) return ok_status();
    auto content = read_file(file);
    if (!content) return make_error(config.source + ": " + key + ": " + content.error());
    const std::string_view trimmed = trim(*content);
    if (trimmed.empty()) {
        return make_error(config.source + ": " + key + ": " + file + " is empty; put the bearer token in it");
    }
    if (trimmed.find_first_of(whitespace) != std::string_view::npos) {
        return make_error(config.source + ": " + key + ": " + file +
                          " holds more than one word; put only the bearer token in it");
    }
    token = std::string(trimmed);
    return ok_status();
}

} // namespace

const ServiceSettings& Config::settings_for(const std::string& service) const {
    const auto found = services.find(service);
    return found == services.end() ? defaults : found->second;
}

Result<ListenAddress> parse_listen_address(std::string_view text) {
    auto bad = [&](std::string_view why) {
        return make_error("\"" + std::string(text) + "\" is not a listen address (" + std::string(why) +
                          "; use host:port, e.g. 127.0.0.1:9095, [::1]:9095 or 0.0.0.0:9095)");
    };
    if (text.find("://") != std::string_view::npos) return bad("no scheme such as http://");
    const std::size_t colon = text.rfind(':');
    if (colon == std::string_view::npos) return bad("no port");
    std::string_view host = text.substr(0, colon);
    const std::string_view port_text = text.substr(colon + 1);
    if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
        host = host.substr(1, host.size() - 2);
        const std::string_view address = host.substr(0, host.find('%')); // a zone ("%eth0") may follow
        const std::string_view zone = host.substr(address.size());
        if (address.empty() || address.find(':') == std::string_view::npos ||
            address.find_first_not_of("0123456789abcdefABCDEF:.") != std::string_view::npos ||
            zone.size() == 1 || !is_host_name(zone.substr(std::min<std::size_t>(zone.size(), 1)))) {
            return bad("not an IPv6 address inside the brackets");
        }
    } else {
        if (host.empty()) return bad("no host");
        if (host.find(':') != std::string_view::npos) return bad("an IPv6 address needs brackets");
        if (!is_host_name(host)) return bad("the host may hold only letters, digits, '.', '-' and '_'");
    }
    if (port_text.empty() || port_text.size() > 5 ||
        port_text.find_first_not_of("0123456789") != std::string_view::npos) {
        return bad("the port must be a number from 0 to 65535");
    }
    const int port = std::stoi(std::string(port_text));
    if (port > 65535) return bad("the port must be a number from 0 to 65535");
    return ListenAddress{std::string(host), port};
}

namespace {

// Counts documents through yaml-cpp's event parser and notices when a document starts where the last
// one did: Debian's yaml-cpp 0.7 loops forever in LoadAll on text like "," (jbeder/yaml-cpp#1040,
// found by fuzz_parse_config), so the documents are counted this way before anything is loaded.
class DocumentCounter : public YAML::EventHandler {
  public:
    void OnDocumentStart(const YAML::Mark& mark) override {
        stuck = count > 0 && mark.pos == last_start.pos;
        last_start = mark;
        ++count;
    }
    void OnDocumentEnd() override {}
    void OnNull(const YAML::Mark&, YAML::anchor_t) override {}
    void OnAlias(const YAML::Mark&, YAML::anchor_t) override {}
    void OnScalar(const YAML::Mark&, const std::string&, YAML::anchor_t, const std::string&) override {}
    void OnSequenceStart(const YAML::Mark&, const std::string&, YAML::anchor_t,
                         YAML::EmitterStyle::value) override {}
    void OnSequenceEnd() override {}
    void OnMapStart(const YAML::Mark&, const std::string&, YAML::anchor_t,
                    YAML::EmitterStyle::value) override {}
    void OnMapEnd() override {}

    std::size_t count = 0;
    bool stuck = false;
    YAML::Mark last_start;
};

} // namespace

Result<Config> parse_config(std::string_view yaml_text, const std::string& source_name,
                            const std::string& base_dir) {
    std::vector<YAML::Node> documents;
    try {
        const std::string text(yaml_text);
        std::istringstream stream(text);
        YAML::Parser parser(stream);
        DocumentCounter counter;
        while (parser.HandleNextDocument(counter)) {
            if (counter.stuck || counter.count > 1000) {
                return make_error(source_name + ": YAML syntax error at line " +
                                  std::to_string(counter.last_start.line + 1) + ", column " +
                                  std::to_string(counter.last_start.column + 1) +
                                  ": unexpected text where a document should start");
            }
        }
        if (counter.count > 0) documents = YAML::LoadAll(text);
    } catch (const YAML::ParserException& error) {
        return make_error(source_name + ": YAML syntax error at line " + std::to_string(error.mark.line + 1) +
                          ", column " + std::to_string(error.mark.column + 1) + ": " + error.msg);
    } catch (const YAML::Exception& error) {
        return make_error(source_name + ": cannot read the YAML: " + error.msg);
    }
    if (documents.size() > 1) {
        return make_error(source_name + ": found " + std::to_string(documents.size()) +
                          " YAML documents (separated by ---); the config is one document");
    }
    const YAML::Node root = documents.empty() ? YAML::Node() : documents.front();
    try {
        return ConfigReader(source_name, base_dir).read(root);
    } catch (const YAML::Exception& error) { // the reader only asks checked questions; this is a safety net
        return make_error(source_name + ": cannot read the YAML: " + error.msg);
    }
}

Result<LoadedConfig> load_config(const std::string& path) {
    auto text = read_file(path);
    if (!text) return make_error(text.error());
    std::string base_dir = std::filesystem::path(path).parent_path().string();
    if (base_dir.empty()) base_dir = ".";
    auto config = parse_config(*text, path, base_dir);
    if (!config) return make_error(config.error());
    LoadedConfig loaded{std::move(*config), {}};
    if (auto status = read_token(loaded.config, "auth.webhook_token_file", loaded.config.webhook_token_file,
                                 loaded.secrets.webhook_token);
        !status) {
        return make_error(status.error());
    }
    if (auto status = read_token(loaded.config, "auth.api_token_file", loaded.config.api_token_file,
                                 loaded.secrets.api_token);
        !status) {
        return make_error(status.error());
    }
    return loaded;
}

} // namespace rollback
