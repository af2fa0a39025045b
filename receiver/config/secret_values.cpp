// Lists the secret values of a loaded config: tokens, secret headers, the GitHub token, secret URL parts.
#include "config/secret_values.hpp"

#include "common/files.hpp"
#include "common/url.hpp"
#include "config/placeholders.hpp"

#include <algorithm>
#include <array>
#include <cctype>
#include <map>
#include <string_view>

namespace rollback {
namespace {

class SecretList {
  public:
    void add(const std::string& key, std::string_view value) {
        if (value.empty()) return;
        for (const SecretValue& known : values_)
            if (known.value == value) return;
        values_.push_back({key, std::string(value)});
    }
    // The literal parts of `text` between its {{placeholders}}: a line break never occurs in a header value
    // or a URL (the config refuses both), so each placeholder becomes one and the parts are the lines.
    void add_literal_parts(const std::string& key, std::string_view text) {
        std::map<std::string, std::string> breaks;
        for (const std::string& name : known_placeholders())
            breaks.emplace(name, "\n");
        const std::string split = expand_placeholders(text, breaks);
        std::size_t start = 0;
        while (start <= split.size()) {
            const std::size_t end = std::min(split.find('\n', start), split.size());
            add(key, std::string_view(split).substr(start, end - start));
            start = end + 1;
        }
    }
    // The values of the query of `path_and_query` ("?token=abc&service={{service}}": "abc"), not the names.
    void add_query_values(const std::string& key, std::string_view path_and_query) {
        const auto query = path_and_query.find('?');
        if (query == std::string_view::npos) return;
        std::string_view rest = path_and_query.substr(query + 1);
        while (!rest.empty()) {
            const std::string_view parameter = rest.substr(0, rest.find('&'));
            rest.remove_prefix(std::min(parameter.size() + 1, rest.size()));
            if (const auto equals = parameter.find('='); equals != std::string_view::npos)
                add_literal_parts(key, parameter.substr(equals + 1));
        }
    }
    void add_file(const std::string& key, const std::string& file) {
        if (file.empty()) return;
        if (auto content = read_secret_file(file)) add(key, *content);
    }
    void add_headers(const std::string& path, const HttpTarget& target) {
        for (const HeaderSetting& header : target.headers) {
            const std::string key = path + ".headers." + header.name;
            if (!header.file.empty())
                add_file(key + ".file", header.file);
            else if (is_credential_header(header.name))
                add_literal_parts(key, header.value);
        }
    }
    std::vector<SecretValue> values_;
};

} // namespace

bool is_credential_header(std::string_view name) {
    std::string lower(name);
    std::transform(lower.begin(), lower.end(), lower.begin(),
                   [](unsigned char c) { return std::tolower(c); });
    if (lower == "authorization" || lower == "proxy-authorization" || lower == "cookie") return true;
    static constexpr std::array<std::string_view, 7> parts = {"token",    "secret",    "key",    "auth",
                                                              "password", "signature", "session"};
    return std::any_of(parts.begin(), parts.end(),
                       [&](std::string_view part) { return lower.find(part) != std::string::npos; });
}

std::vector<SecretValue> configured_secret_values(const LoadedConfig& loaded) {
    SecretList list;
    list.add("auth.webhook_token_file", loaded.secrets.webhook_token);
    list.add("auth.api_token_file", loaded.secrets.api_token);
    list.add("auth.read_token_file", loaded.secrets.read_token);
    list.add("ledger.postgres.dsn_file", loaded.secrets.ledger_dsn);
    auto add_settings = [&](const std::string& path, const ServiceSettings& settings) {
        const RollbackSettings& rollback = settings.rollback;
        if (rollback.webhook) {
            const HttpTarget& target = rollback.webhook->target;
            list.add_headers(path + ".rollback.webhook", target);
            const std::string_view rest = url_path_and_query(target.url);
            list.add_query_values(path + ".rollback.webhook.url", rest);
        }
        if (rollback.github_workflow)
            list.add_file(path + ".rollback.github_workflow.token_file",
                          rollback.github_workflow->token_file);
        const std::string notify_path = path == "defaults" ? "notify" : path + ".notify"; // top-level key
        for (std::size_t i = 0; i < settings.notify.size(); ++i) {
            const std::string target_path = notify_path + "[" + std::to_string(i) + "]";
            const HttpTarget& target = settings.notify[i].target;
            list.add_headers(target_path, target);
            const std::string_view rest = url_path_and_query(target.url);
            if (rest != "/") list.add_literal_parts(target_path + ".url", rest);
        }
    };
    add_settings("defaults", loaded.config.defaults);
    for (const auto& [name, settings] : loaded.config.services)
        add_settings("services." + name, settings);
    return std::move(list.values_);
}

} // namespace rollback
