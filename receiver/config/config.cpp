// Reads the receiver's YAML configuration into typed, checked settings (the only user of yaml-cpp).
#include "config/config.hpp"

#include "common/files.hpp"
#include "common/text.hpp"
#include "common/url.hpp"
#include "config/placeholders.hpp"

#include <yaml-cpp/eventhandler.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <array>
#include <cctype>
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
constexpr int max_rollback_concurrency = 256;

using KeyList = std::span<const std::string_view>;

// An instance name goes into every audit event, the log and the page: short, printable, not empty.
constexpr std::size_t kMaxInstanceBytes = 200;
Status check_instance_name(std::string_view name) {
    if (name.empty()) return make_error("must not be empty; leave it out for <hostname>:<port>");
    if (name.size() > kMaxInstanceBytes)
        return make_error("is " + std::to_string(name.size()) + " bytes; use at most " +
                          std::to_string(kMaxInstanceBytes));
    if (!check_no_control_characters(name).ok())
        return make_error("holds a control character; use printable text such as receiver-a");
    return ok_status();
}

constexpr std::array<std::string_view, 12> top_level_keys = {"instance",
                                                             "listen_address",
                                                             "request_read_timeout",
                                                             "rollback_concurrency",
                                                             "ledger",
                                                             "audit",
                                                             "auth",
                                                             "tls",
                                                             "defaults",
                                                             "notify",
                                                             "services",
                                                             "prometheus"};
constexpr std::array<std::string_view, 1> prometheus_keys = {"url"};
constexpr std::array<std::string_view, 2> ledger_keys = {"path", "postgres"};
constexpr std::array<std::string_view, 2> ledger_postgres_keys = {"dsn_file", "claim_lease"};
constexpr std::array<std::string_view, 1> audit_keys = {"file"};
constexpr std::array<std::string_view, 3> auth_keys = {"webhook_token_file", "api_token_file",
                                                       "read_token_file"};
constexpr std::array<std::string_view, 6> defaults_keys = {
    "service_label", "environment_label", "watch_window", "debounce", "confirm_window", "rollback"};
constexpr std::array<std::string_view, 6> service_keys = {"watch_window", "debounce", "confirm_window",
                                                          "repository",   "rollback", "notify"};
constexpr std::array<std::string_view, 7> rollback_keys = {
    "command", "webhook", "github_workflow", "timeout", "retries", "retry_backoff", "allow_option_values"};
constexpr std::array<std::pair<ActionKind, std::string_view>, 3> action_names{{
    {ActionKind::command, "command"},
    {ActionKind::webhook, "webhook"},
    {ActionKind::github_workflow, "github_workflow"},
}};
constexpr std::array<std::string_view, 4> tls_keys = {"cert_file", "key_file", "client_ca_file", "ca_file"};
constexpr std::array<std::string_view, 1> target_tls_keys = {"ca_file"};
constexpr std::array<std::string_view, 4> webhook_keys = {"url", "headers", "body", "tls"};
constexpr std::array<std::string_view, 7> github_workflow_keys = {"repository", "workflow", "ref", "inputs",
                                                                  "token_file", "api_url",  "tls"};
constexpr std::array<std::string_view, 3> notify_keys = {"url", "headers", "tls"};
constexpr std::array<std::string_view, 2> header_file_keys = {"file", "prefix"};
constexpr std::size_t max_template_depth = 32;

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

        if (const YAML::Node* node = find(*entries, "instance")) {
            auto text = read_string(*node, "instance");
            if (!text) return make_error(text.error());
            if (auto valid = check_instance_name(*text); !valid) return fail("instance", valid.error());
            config.instance = *text;
        }
        if (const YAML::Node* node = find(*entries, "listen_address")) {
            auto text = read_string(*node, "listen_address");
            if (!text) return make_error(text.error());
            auto address = parse_listen_address(*text);
            if (!address) return fail("listen_address", address.error());
            config.listen_address = *text;
        }
        if (const YAML::Node* node = find(*entries, "request_read_timeout")) {
            auto timeout = read_duration(*node, "request_read_timeout");
            if (!timeout) return make_error(timeout.error());
            if (timeout->count() <= 0) return fail("request_read_timeout", "must be longer than 0s");
            config.request_read_timeout = *timeout;
        }
        if (const YAML::Node* node = find(*entries, "rollback_concurrency")) {
            auto workers = read_whole_number(*node, "rollback_concurrency", 1, max_rollback_concurrency);
            if (!workers) return make_error(workers.error());
            config.rollback_concurrency = *workers;
        }
        if (const YAML::Node* node = find(*entries, "ledger")) {
            auto ledger = read_mapping(*node, "ledger", ledger_keys);
            if (!ledger) return make_error(ledger.error());
            const YAML::Node* path = find(*ledger, "path");
            const YAML::Node* postgres = find(*ledger, "postgres");
            if (path != nullptr && postgres != nullptr)
                return fail("ledger",
                            "set either ledger.path (SQLite) or ledger.postgres (PostgreSQL), not both");
            if (path != nullptr) {
                auto text = read_path(*path, "ledger.path");
                if (!text) return make_error(text.error());
                config.ledger_path = *text;
            }
            if (postgres != nullptr) {
                if (auto read = read_ledger_postgres(*postgres, config); !read)
                    return make_error(read.error());
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
        if (const YAML::Node* node = find(*entries, "tls")) {
            if (auto status = read_tls(*node, config.tls); !status) return make_error(status.error());
        }
        if (const YAML::Node* node = find(*entries, "defaults")) {
            if (auto status = read_defaults(*node, config); !status) return make_error(status.error());
        }
        if (const YAML::Node* node = find(*entries, "notify")) { // before services: they inherit it
            auto notify = read_notify(*node, "notify");
            if (!notify) return make_error(notify.error());
            config.defaults.notify = std::move(*notify);
        }
        if (const YAML::Node* node = find(*entries, "services")) {
            if (auto status = read_services(*node, config); !status) return make_error(status.error());
        }
        if (const YAML::Node* node = find(*entries, "prometheus")) {
            if (auto status = read_prometheus(*node, config); !status) return make_error(status.error());
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

    Status read_ledger_postgres(const YAML::Node& node, Config& config) const {
        auto settings = read_mapping(node, "ledger.postgres", ledger_postgres_keys);
        if (!settings) return make_error(settings.error());
        const YAML::Node* dsn_file = find(*settings, "dsn_file");
        if (dsn_file == nullptr)
            return fail(
                "ledger.postgres.dsn_file",
                "required: the file holding the PostgreSQL connection string (never the config itself)");
        auto text = read_path(*dsn_file, "ledger.postgres.dsn_file");
        if (!text) return make_error(text.error());
        config.ledger_postgres_dsn_file = resolve_path(*text, base_dir_);
        if (const YAML::Node* lease = find(*settings, "claim_lease")) {
            auto duration = read_duration(*lease, "ledger.postgres.claim_lease");
            if (!duration) return make_error(duration.error());
            if (duration->count() <= 0) return fail("ledger.postgres.claim_lease", "must be longer than 0s");
            config.ledger_claim_lease = *duration;
        }
        return ok_status();
    }

    Status read_auth(const YAML::Node& node, Config& config) const {
        if (node.IsMap()) {
            for (const auto& pair : node) {
                const std::string key = pair.first.IsScalar() ? pair.first.Scalar() : std::string();
                if (key == "webhook_token" || key == "api_token" || key == "read_token") {
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
            std::string& field = key == "webhook_token_file" ? config.webhook_token_file
                                 : key == "api_token_file"   ? config.api_token_file
                                                             : config.read_token_file;
            field = resolve_path(*text, base_dir_);
        }
        if (!config.read_token_file.empty() && config.api_token_file.empty())
            return fail(
                "auth.read_token_file",
                "a read token needs auth.api_token_file too: without the API token the API is open to "
                "everyone who can reach it, reads and writes alike");
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
        if (const YAML::Node* value = find(entries, "confirm_window")) {
            auto duration = read_duration(*value, path + ".confirm_window");
            if (!duration) return make_error(duration.error());
            settings.confirm_window = *duration;
        }
        if (const YAML::Node* value = find(entries, "repository")) {
            auto repository = read_repository(*value, path + ".repository");
            if (!repository) return make_error(repository.error());
            settings.repository = std::move(*repository);
        }
        if (const YAML::Node* value = find(entries, "rollback")) {
            if (auto status = read_rollback(*value, path + ".rollback", settings.rollback); !status)
                return status;
        }
        if (const YAML::Node* value = find(entries, "notify")) {
            auto notify = read_notify(*value, path + ".notify");
            if (!notify) return make_error(notify.error());
            settings.notify = std::move(*notify);
        }
        return ok_status();
    }

    // prometheus.url: the Prometheus the deployment page's chart asks, http:// or https:// with a host and
    // an optional path prefix (no query, fragment or user info); trailing slashes are dropped, since
    // /api/v1/query_range is appended to it.
    Status read_prometheus(const YAML::Node& node, Config& config) const {
        auto entries = read_mapping(node, "prometheus", prometheus_keys);
        if (!entries) return Error{entries.error()};
        const YAML::Node* url_node = find(*entries, "url");
        if (url_node == nullptr) return fail("prometheus.url", "missing (e.g. url: http://prometheus:9090)");
        auto text = read_string(*url_node, "prometheus.url");
        if (!text) return Error{text.error()};
        const std::string example = " (use Prometheus' address, e.g. http://prometheus:9090)";
        auto url = parse_http_url(*text);
        if (!url) return fail("prometheus.url", url.error() + example);
        if (url->path.find('?') != std::string::npos)
            return fail("prometheus.url", "\"" + redact_url(*text) + "\": a query is not allowed" + example);
        std::string base = *text;
        while (!base.empty() && base.back() == '/')
            base.pop_back();
        config.prometheus_url = std::move(base);
        return ok_status();
    }

    // A service's repository for compare links: http:// or https://, a host and a path of letters, digits and
    // - . _ ~ % / only (no query, fragment or placeholder); trailing slashes are dropped, since
    // /compare/<restored>...<rolled back> is appended to it.
    Result<std::string> read_repository(const YAML::Node& node, const std::string& path) const {
        auto text = read_string(node, path);
        if (!text) return Error{text.error()};
        const std::string example = " (use the repository's web address, e.g. https://github.com/org/repo)";
        auto url = parse_http_url(*text);
        if (!url) return fail(path, url.error() + example);
        std::string repository = *text;
        while (!repository.empty() && repository.back() == '/')
            repository.pop_back();
        std::string_view repo_path = url->path;
        while (!repo_path.empty() && repo_path.back() == '/')
            repo_path.remove_suffix(1);
        if (repo_path.empty()) return fail(path, "\"" + *text + "\" names no repository" + example);
        for (const char c : repo_path) {
            const auto byte = static_cast<unsigned char>(c);
            if (!std::isalnum(byte) && std::string_view("-._~%/").find(c) == std::string_view::npos)
                return fail(path, "\"" + redact_url(*text) +
                                      "\" may hold only letters, digits and - . _ ~ % / " +
                                      "after the host (no query, fragment or placeholder)" + example);
        }
        return repository;
    }

    Status read_rollback(const YAML::Node& node, const std::string& path, RollbackSettings& rollback) const {
        auto entries = read_mapping(node, path, rollback_keys);
        if (!entries) return make_error(entries.error());
        std::vector<std::string> actions_given;
        for (const auto& [kind, name] : action_names) {
            if (find(*entries, name) != nullptr) actions_given.emplace_back(name);
        }
        if (actions_given.size() > 1) {
            return fail(path,
                        "holds " + actions_given[0] + " and " + actions_given[1] +
                            "; a service has one rollback action (command, webhook or github_workflow)");
        }
        if (!actions_given.empty()) { // the action is replaced as a whole, never merged with the default's
            rollback.command.clear();
            rollback.webhook.reset();
            rollback.github_workflow.reset();
        }
        if (const YAML::Node* value = find(*entries, "command")) {
            auto command = read_command(*value, path + ".command");
            if (!command) return make_error(command.error());
            rollback.command = std::move(*command);
        }
        if (const YAML::Node* value = find(*entries, "webhook")) {
            auto webhook = read_webhook(*value, path + ".webhook");
            if (!webhook) return make_error(webhook.error());
            rollback.webhook = std::move(*webhook);
        }
        if (const YAML::Node* value = find(*entries, "github_workflow")) {
            auto workflow = read_github_workflow(*value, path + ".github_workflow");
            if (!workflow) return make_error(workflow.error());
            rollback.github_workflow = std::move(*workflow);
        }
        if (const YAML::Node* value = find(*entries, "timeout")) {
            const std::string key_path = path + ".timeout";
            auto duration = read_duration(*value, key_path);
            if (!duration) return make_error(duration.error());
            if (duration->count() <= 0) return fail(key_path, "must be longer than 0s (e.g. 10m)");
            rollback.timeout = *duration;
        }
        if (const YAML::Node* value = find(*entries, "retries")) {
            auto retries = read_whole_number(*value, path + ".retries", 0, max_retries);
            if (!retries) return make_error(retries.error());
            rollback.retries = *retries;
        }
        if (const YAML::Node* value = find(*entries, "retry_backoff")) {
            auto duration = read_duration(*value, path + ".retry_backoff");
            if (!duration) return make_error(duration.error());
            rollback.retry_backoff = *duration;
        }
        if (const YAML::Node* value = find(*entries, "allow_option_values")) {
            const bool plain = value->IsScalar() && value->Tag() == "?";
            if (!plain || (value->Scalar() != "true" && value->Scalar() != "false"))
                return fail(path + ".allow_option_values", "expected true or false");
            rollback.allow_option_values = value->Scalar() == "true";
        }
        return ok_status();
    }

    Status read_tls(const YAML::Node& node, TlsSettings& tls) const {
        auto entries = read_mapping(node, "tls", tls_keys);
        if (!entries) return make_error(entries.error());
        for (const auto& [key, value] : *entries) {
            auto text = read_path(value, "tls." + key);
            if (!text) return make_error(text.error());
            const std::string resolved = resolve_path(*text, base_dir_);
            if (key == "cert_file") tls.cert_file = resolved;
            if (key == "key_file") tls.key_file = resolved;
            if (key == "client_ca_file") tls.client_ca_file = resolved;
            if (key == "ca_file") tls.ca_file = resolved;
        }
        if (tls.cert_file.empty() != tls.key_file.empty()) {
            return fail(tls.cert_file.empty() ? "tls.cert_file" : "tls.key_file",
                        "missing; serving HTTPS needs both tls.cert_file and tls.key_file");
        }
        if (!tls.client_ca_file.empty() && tls.cert_file.empty()) {
            return fail("tls.client_ca_file",
                        "client certificates need HTTPS; set tls.cert_file and tls.key_file too");
        }
        return ok_status();
    }

    // A string with known placeholders.
    Result<std::string> read_template_string(const YAML::Node& node, const std::string& path) const {
        auto text = read_string(node, path);
        if (!text) return text;
        if (auto status = check_placeholders(*text); !status) return fail(path, status.error());
        return text;
    }

    // An http(s) URL, checked with its placeholders standing in as plain words.
    Result<std::string> read_url(const YAML::Node& node, const std::string& path) const {
        auto text = read_template_string(node, path);
        if (!text) return text;
        std::map<std::string, std::string> stand_ins;
        for (const std::string& name : known_placeholders())
            stand_ins.emplace(name, "x");
        if (auto url = parse_http_url(expand_placeholders(*text, stand_ins)); !url)
            return fail(path, url.error());
        return text;
    }

    // `tls: {ca_file: ...}` inside an action or notify target.
    Result<std::string> read_target_ca_file(const YAML::Node& node, const std::string& path) const {
        auto entries = read_mapping(node, path, target_tls_keys);
        if (!entries) return make_error(entries.error());
        const YAML::Node* file = find(*entries, "ca_file");
        if (file == nullptr) return std::string();
        auto text = read_path(*file, path + ".ca_file");
        if (!text) return text;
        return resolve_path(*text, base_dir_);
    }

    // `headers:` — name: "value with {{placeholders}}" or name: {file: PATH, prefix: "Bearer "}.
    Result<std::vector<HeaderSetting>> read_headers(const YAML::Node& node, const std::string& path) const {
        auto entries = read_mapping(node, path, {});
        if (!entries) return make_error(entries.error());
        std::vector<HeaderSetting> headers;
        for (const auto& [name, value] : *entries) {
            const std::string key_path = path + "." + name;
            if (name.find_first_of(" \t\r\n:") != std::string::npos)
                return fail(key_path, "not a header name (no spaces or ':')");
            HeaderSetting header{name, "", "", ""};
            if (value.IsMap()) {
                auto from_file = read_mapping(value, key_path, header_file_keys);
                if (!from_file) return make_error(from_file.error());
                const YAML::Node* file = find(*from_file, "file");
                if (file == nullptr)
                    return fail(key_path, "a header read from a file needs file: PATH (and optional prefix)");
                auto file_path = read_path(*file, key_path + ".file");
                if (!file_path) return make_error(file_path.error());
                header.file = resolve_path(*file_path, base_dir_);
                if (const YAML::Node* prefix = find(*from_file, "prefix")) {
                    auto text = read_string(*prefix, key_path + ".prefix");
                    if (!text) return make_error(text.error());
                    header.prefix = *text;
                }
            } else {
                auto text = read_template_string(value, key_path);
                if (!text) {
                    return fail(key_path,
                                "expected a string, or {file: PATH, prefix: \"Bearer \"} for a secret");
                }
                header.value = *text;
            }
            if (header.value.find_first_of("\r\n") != std::string::npos ||
                header.prefix.find_first_of("\r\n") != std::string::npos)
                return fail(key_path, "a header value may not hold a line break");
            headers.push_back(std::move(header));
        }
        return headers;
    }

    // A JSON value written in YAML; placeholders are checked in every string.
    Result<TemplateValue> read_template(const YAML::Node& node, const std::string& path,
                                        std::size_t depth) const {
        if (depth > max_template_depth)
            return fail(path, "nested more than " + std::to_string(max_template_depth) + " levels deep");
        TemplateValue value;
        if (node.IsNull()) return value;
        if (node.IsScalar()) {
            const std::string& text = node.Scalar();
            const bool plain = node.Tag() == "?";
            if (plain && (text == "true" || text == "false")) {
                value.kind = TemplateValue::Kind::boolean;
            } else if (plain && is_json_number(text)) {
                value.kind = TemplateValue::Kind::number;
            } else {
                value.kind = TemplateValue::Kind::string;
                if (auto status = check_placeholders(text); !status) return fail(path, status.error());
            }
            value.text = text;
            return value;
        }
        if (node.IsSequence()) {
            value.kind = TemplateValue::Kind::list;
            for (std::size_t i = 0; i < node.size(); ++i) {
                auto item = read_template(node[i], path + "[" + std::to_string(i) + "]", depth + 1);
                if (!item) return item;
                value.items.push_back(std::move(*item));
            }
            return value;
        }
        value.kind = TemplateValue::Kind::object;
        auto entries = read_mapping(node, path, {});
        if (!entries) return make_error(entries.error());
        for (const auto& [key, child] : *entries) {
            auto item = read_template(child, path + "." + key, depth + 1);
            if (!item) return item;
            value.fields.push_back(TemplateField{key, std::move(*item)});
        }
        return value;
    }

    // JSON's number grammar: -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
    static bool is_json_number(std::string_view text) {
        std::size_t i = 0;
        auto digits = [&] {
            const std::size_t start = i;
            while (i < text.size() && text[i] >= '0' && text[i] <= '9')
                ++i;
            return i - start;
        };
        if (i < text.size() && text[i] == '-') ++i;
        if (i < text.size() && text[i] == '0') {
            ++i;
        } else if (digits() == 0) {
            return false;
        }
        if (i < text.size() && text[i] == '.') {
            ++i;
            if (digits() == 0) return false;
        }
        if (i < text.size() && (text[i] == 'e' || text[i] == 'E')) {
            ++i;
            if (i < text.size() && (text[i] == '+' || text[i] == '-')) ++i;
            if (digits() == 0) return false;
        }
        return i == text.size();
    }

    // url, headers and tls of a webhook or notify target.
    Status read_target(const Entries& entries, const std::string& path, HttpTarget& target) const {
        const YAML::Node* url = find(entries, "url");
        if (url == nullptr)
            return fail(path + ".url", "missing; give the http:// or https:// URL to POST to");
        auto text = read_url(*url, path + ".url");
        if (!text) return make_error(text.error());
        target.url = *text;
        if (const YAML::Node* headers = find(entries, "headers")) {
            auto read = read_headers(*headers, path + ".headers");
            if (!read) return make_error(read.error());
            target.headers = std::move(*read);
        }
        if (const YAML::Node* tls = find(entries, "tls")) {
            auto ca_file = read_target_ca_file(*tls, path + ".tls");
            if (!ca_file) return make_error(ca_file.error());
            target.ca_file = *ca_file;
        }
        return ok_status();
    }

    Result<WebhookAction> read_webhook(const YAML::Node& node, const std::string& path) const {
        if (!node.IsMap()) return fail(path, "expected a mapping with url (and optional headers, body, tls)");
        auto entries = read_mapping(node, path, webhook_keys);
        if (!entries) return make_error(entries.error());
        WebhookAction webhook;
        if (auto status = read_target(*entries, path, webhook.target); !status)
            return make_error(status.error());
        if (const YAML::Node* body = find(*entries, "body")) {
            if (!body->IsMap() && !body->IsNull())
                return fail(path + ".body", "expected a mapping, sent as a JSON object");
            auto value = read_template(*body, path + ".body", 0);
            if (!value) return make_error(value.error());
            webhook.body = std::move(*value);
        }
        return webhook;
    }

    Result<GithubWorkflowAction> read_github_workflow(const YAML::Node& node, const std::string& path) const {
        if (!node.IsMap()) {
            return fail(path, "expected a mapping with repository, workflow, ref and token_file "
                              "(and optional inputs, api_url)");
        }
        auto entries = read_mapping(node, path, github_workflow_keys);
        if (!entries) return make_error(entries.error());
        GithubWorkflowAction workflow;
        struct Required {
            const char* key;
            std::string* field;
            const char* example;
        };
        for (const Required& required : {Required{"repository", &workflow.repository, "my-org/checkout"},
                                         Required{"workflow", &workflow.workflow, "rollback.yml"},
                                         Required{"ref", &workflow.ref, "main"}}) {
            const std::string key_path = path + "." + required.key;
            const YAML::Node* value = find(*entries, required.key);
            if (value == nullptr)
                return fail(key_path, std::string("missing (e.g. ") + required.example + ")");
            auto text = read_string(*value, key_path);
            if (!text) return make_error(text.error());
            if (text->empty() || text->find_first_of(" \t\r\n?#") != std::string::npos)
                return fail(key_path, std::string("expected a name such as ") + required.example);
            *required.field = *text;
        }
        const std::size_t slash = workflow.repository.find('/');
        if (slash == std::string::npos || slash == 0 || slash + 1 == workflow.repository.size() ||
            workflow.repository.find('/', slash + 1) != std::string::npos)
            return fail(path + ".repository", "expected OWNER/NAME, e.g. my-org/checkout");
        if (workflow.workflow.find('/') != std::string::npos)
            return fail(path + ".workflow", "expected the workflow's file name (rollback.yml) or its id");
        const YAML::Node* token = find(*entries, "token_file");
        if (token == nullptr) {
            return fail(path + ".token_file",
                        "missing; put a GitHub token allowed to run workflows (actions: write) in a file");
        }
        auto token_path = read_path(*token, path + ".token_file");
        if (!token_path) return make_error(token_path.error());
        workflow.token_file = resolve_path(*token_path, base_dir_);
        if (const YAML::Node* api_url = find(*entries, "api_url")) {
            auto text = read_string(*api_url, path + ".api_url");
            if (!text) return make_error(text.error());
            auto url = parse_http_url(*text);
            if (!url) return fail(path + ".api_url", url.error());
            if (url->path.find('?') != std::string::npos)
                return fail(path + ".api_url",
                            "a query is not allowed (e.g. https://github.example.com/api/v3)");
            std::string base = *text;
            while (!base.empty() && base.back() == '/')
                base.pop_back();
            workflow.api_url = base;
        }
        if (const YAML::Node* inputs = find(*entries, "inputs")) {
            auto input_entries = read_mapping(*inputs, path + ".inputs", {});
            if (!input_entries) return make_error(input_entries.error());
            if (input_entries->size() > 10) // GitHub's own limit for workflow_dispatch
                return fail(path + ".inputs", "GitHub accepts at most 10 inputs");
            for (const auto& [name, value] : *input_entries) {
                auto text = read_template_string(value, path + ".inputs." + name);
                if (!text) return make_error(text.error());
                workflow.inputs.emplace_back(name, *text);
            }
        }
        if (const YAML::Node* tls = find(*entries, "tls")) {
            auto ca_file = read_target_ca_file(*tls, path + ".tls");
            if (!ca_file) return make_error(ca_file.error());
            workflow.ca_file = *ca_file;
        }
        return workflow;
    }

    // `notify:` — a list of URLs or {url, headers, tls} mappings.
    Result<std::vector<NotifyTarget>> read_notify(const YAML::Node& node, const std::string& path) const {
        const std::string expected = "expected a list of URLs or {url: ..., headers: ...} mappings";
        if (node.IsNull()) return std::vector<NotifyTarget>{};
        if (!node.IsSequence()) return fail(path, expected);
        std::vector<NotifyTarget> targets;
        for (std::size_t i = 0; i < node.size(); ++i) {
            const std::string item_path = path + "[" + std::to_string(i) + "]";
            const YAML::Node item = node[i];
            NotifyTarget target;
            if (item.IsScalar()) {
                auto url = read_url(item, item_path);
                if (!url) return make_error(url.error());
                target.target.url = *url;
            } else if (item.IsMap()) {
                auto entries = read_mapping(item, item_path, notify_keys);
                if (!entries) return make_error(entries.error());
                if (auto status = read_target(*entries, item_path, target.target); !status)
                    return make_error(status.error());
            } else {
                return fail(item_path, expected);
            }
            targets.push_back(std::move(target));
        }
        return targets;
    }

    // A whole number written in decimal digits, from `min` to `max` (both at most three digits).
    Result<int> read_whole_number(const YAML::Node& node, const std::string& path, int min, int max) const {
        const std::string expected =
            "expected a whole number from " + std::to_string(min) + " to " + std::to_string(max);
        if (!node.IsScalar()) return fail(path, expected);
        const std::string& text = node.Scalar();
        if (text.empty() || text.size() > 3) return fail(path, expected);
        int value = 0;
        for (const char c : text) {
            if (c < '0' || c > '9') return fail(path, expected);
            value = value * 10 + (c - '0');
        }
        if (value < min || value > max) return fail(path, expected);
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

// Reads one token file named by `key` into `token`; the token itself never appears in a message. A file
// others may write is refused like every secret file (check_files_readable).
Status read_token(const Config& config, const std::string& key, const std::string& file, std::string& token) {
    if (file.empty()) return ok_status();
    auto content = read_file(file);
    if (!content) return make_error(config.source + ": " + key + ": " + content.error());
    if (auto private_file = check_not_writable_by_others(file); !private_file)
        return make_error(config.source + ": " + key + ": " + private_file.error());
    const std::string_view trimmed = trim(*content);
    if (trimmed.empty()) {
        return make_error(config.source + ": " + key + ": " + file + " is empty; put the bearer token in it");
    }
    if (trimmed.find_first_of(kWhitespace) != std::string_view::npos) {
        return make_error(config.source + ": " + key + ": " + file +
                          " holds more than one word; put only the bearer token in it");
    }
    token = std::string(trimmed);
    return ok_status();
}

// Each token opens other doors: two files holding the same token would make the webhook token an API
// token, or the read token a writing one. The message names the keys only (both tokens are the
// operator's, read at start: no outside input to time the comparison by).
Status check_tokens_differ(const LoadedConfig& loaded) {
    const std::array<std::pair<std::string_view, const std::string*>, 3> tokens{{
        {"auth.webhook_token_file", &loaded.secrets.webhook_token},
        {"auth.api_token_file", &loaded.secrets.api_token},
        {"auth.read_token_file", &loaded.secrets.read_token},
    }};
    for (std::size_t i = 0; i < tokens.size(); ++i)
        for (std::size_t j = i + 1; j < tokens.size(); ++j)
            if (!tokens[i].second->empty() && *tokens[i].second == *tokens[j].second)
                return make_error(loaded.config.source + ": " + std::string(tokens[i].first) + " and " +
                                  std::string(tokens[j].first) +
                                  " hold the same token; each must be its own (e.g. openssl rand -hex 32)");
    return ok_status();
}

// Every file the config names for later (secrets read on each call, CA bundles, the listener's
// certificate and key) must be readable now, so that a typo fails the start or the reload, not a rollback;
// and none may be writable by its group or by others: each is a secret or decides whom the receiver trusts.
Status check_files_readable(const Config& config) {
    std::vector<std::pair<std::string, std::string>> files; // key path, file
    auto add = [&](const std::string& key, const std::string& file) {
        if (!file.empty()) files.emplace_back(key, file);
    };
    add("tls.cert_file", config.tls.cert_file);
    add("tls.key_file", config.tls.key_file);
    add("tls.client_ca_file", config.tls.client_ca_file);
    add("tls.ca_file", config.tls.ca_file);
    auto add_target = [&](const std::string& path, const HttpTarget& target) {
        for (const HeaderSetting& header : target.headers)
            add(path + ".headers." + header.name + ".file", header.file);
        add(path + ".tls.ca_file", target.ca_file);
    };
    auto add_settings = [&](const std::string& path, const ServiceSettings& settings) {
        const RollbackSettings& rollback = settings.rollback;
        if (rollback.webhook) add_target(path + ".rollback.webhook", rollback.webhook->target);
        if (rollback.github_workflow) {
            add(path + ".rollback.github_workflow.token_file", rollback.github_workflow->token_file);
            add(path + ".rollback.github_workflow.tls.ca_file", rollback.github_workflow->ca_file);
        }
        const std::string notify_path = path == "defaults" ? "notify" : path + ".notify"; // top-level key
        for (std::size_t i = 0; i < settings.notify.size(); ++i)
            add_target(notify_path + "[" + std::to_string(i) + "]", settings.notify[i].target);
    };
    add_settings("defaults", config.defaults);
    for (const auto& [name, settings] : config.services)
        add_settings("services." + name, settings);
    for (const auto& [key, file] : files) {
        if (auto readable = read_file(file); !readable)
            return make_error(config.source + ": " + key + ": " + readable.error());
        if (auto private_file = check_not_writable_by_others(file); !private_file)
            return make_error(config.source + ": " + key + ": " + private_file.error());
    }
    return ok_status();
}

} // namespace

std::string_view to_string(ActionKind kind) {
    for (const auto& [value, name] : action_names)
        if (value == kind) return name;
    return "";
}

ActionKind RollbackSettings::action() const {
    if (!command.empty()) return ActionKind::command;
    if (webhook) return ActionKind::webhook;
    if (github_workflow) return ActionKind::github_workflow;
    return ActionKind::none;
}

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
    if (auto status = read_token(loaded.config, "auth.read_token_file", loaded.config.read_token_file,
                                 loaded.secrets.read_token);
        !status) {
        return make_error(status.error());
    }
    if (auto status = check_tokens_differ(loaded); !status) return make_error(status.error());
    if (!loaded.config.ledger_postgres_dsn_file.empty()) {
        auto dsn = read_secret_file(loaded.config.ledger_postgres_dsn_file);
        if (!dsn) return make_error(loaded.config.source + ": ledger.postgres.dsn_file: " + dsn.error());
        loaded.secrets.ledger_dsn = std::move(*dsn);
    }
    if (auto status = check_files_readable(loaded.config); !status) return make_error(status.error());
    return loaded;
}

} // namespace rollback
