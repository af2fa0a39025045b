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

std::string dsn_password(std::string_view dsn) {
    constexpr std::string_view kKeyword = "password";
    const bool uri = dsn.rfind("postgresql://", 0) == 0 || dsn.rfind("postgres://", 0) == 0;
    if (uri) {
        const auto scheme_end = dsn.find("://") + 3;
        const auto authority_end = std::min(dsn.find_first_of("/?", scheme_end), dsn.size());
        const std::string_view authority = dsn.substr(scheme_end, authority_end - scheme_end);
        const auto at = authority.rfind('@');
        if (at != std::string_view::npos) {
            const std::string_view user_info = authority.substr(0, at);
            const auto colon = user_info.find(':');
            if (colon != std::string_view::npos) return std::string(user_info.substr(colon + 1));
        }
        const auto query = dsn.find('?');
        if (query == std::string_view::npos) return {};
        for (std::size_t at_param = query + 1; at_param < dsn.size();) {
            const auto end = std::min(dsn.find('&', at_param), dsn.size());
            const std::string_view param = dsn.substr(at_param, end - at_param);
            if (param.rfind("password=", 0) == 0) return std::string(param.substr(kKeyword.size() + 1));
            at_param = end + 1;
        }
        return {};
    }
    // keyword=value pairs, separated by spaces; a value may be single-quoted with \\ and \' escapes.
    std::size_t at = 0;
    while (at < dsn.size()) {
        while (at < dsn.size() && std::isspace(static_cast<unsigned char>(dsn[at])))
            ++at;
        const auto equals = dsn.find('=', at);
        if (equals == std::string_view::npos) return {};
        std::string_view keyword = dsn.substr(at, equals - at);
        while (!keyword.empty() && std::isspace(static_cast<unsigned char>(keyword.back())))
            keyword.remove_suffix(1);
        at = equals + 1;
        while (at < dsn.size() && std::isspace(static_cast<unsigned char>(dsn[at])))
            ++at;
        std::string value;
        if (at < dsn.size() && dsn[at] == '\'') {
            for (++at; at < dsn.size() && dsn[at] != '\''; ++at) {
                if (dsn[at] == '\\' && at + 1 < dsn.size()) ++at;
                value += dsn[at];
            }
            ++at;
        } else {
            while (at < dsn.size() && !std::isspace(static_cast<unsigned char>(dsn[at])))
                value += dsn[at++];
        }
        if (keyword == kKeyword) return value;
    }
    return {};
}

std::vector<SecretValue> configured_secret_values(const LoadedConfig& loaded) {
    SecretList list;
    list.add("auth.webhook_token_file", loaded.secrets.webhook_token);
    list.add("auth.api_token_file", loaded.secrets.api_token);
    list.add("auth.read_token_file", loaded.secrets.read_token);
    // Only the DSN's password: its other words (host=127.0.0.1, user=postgres) are not secret, and scrubbing
    // them would blank out addresses and names in every log line.
    list.add("ledger.postgres.dsn_file", dsn_password(loaded.secrets.ledger_dsn));
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
