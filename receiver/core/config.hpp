// The receiver's configuration: typed settings with their defaults, parsed from YAML text.
#pragma once

#include "core/result.hpp"
#include "core/time_util.hpp"

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace rollback {

// How to roll a service back. Merged key by key: a service's value wins over `defaults.rollback`.
struct RollbackSettings {
    // The one action. Only `command` exists so far; more kinds (webhook, github_workflow) come later.
    // argv with {{placeholders}}; argv[0] relative with a '/' is resolved against the config's folder.
    std::vector<std::string> command; // empty: no action configured
    Duration timeout = std::chrono::minutes(10);
    int retries = 2; // further attempts after a failed first one
    Duration retry_backoff = std::chrono::seconds(10);

    bool has_action() const { return !command.empty(); }
};

// The settings that apply to one service: `defaults` with the service's own keys on top.
struct ServiceSettings {
    Duration watch_window = std::chrono::minutes(30);
    Duration debounce = std::chrono::seconds(0);
    RollbackSettings rollback;
};

struct Config {
    std::string source = "<defaults>"; // the file it came from, for messages
    std::string listen_address = "127.0.0.1:9095";
    std::string ledger_path = "data/ledger.db"; // resolved against the config's folder
    std::string audit_file;                     // empty: no JSON-lines copy; resolved like ledger_path
    std::string webhook_token_file;             // empty: /webhook needs no token; resolved
    std::string api_token_file;                 // empty: /api/v1/* needs no token; resolved
    std::string service_label = "service";
    std::string environment_label = "environment";
    ServiceSettings defaults;
    std::map<std::string, ServiceSettings> services; // already merged with defaults

    // The service's merged settings, or `defaults` for a service the config does not name.
    const ServiceSettings& settings_for(const std::string& service) const;
};

// The bearer tokens, read from the token files. Never logged, never in the YAML.
struct Secrets {
    std::string webhook_token; // empty: none required
    std::string api_token;     // empty: none required
};

// Parses YAML text. `source_name` appears in every message; relative paths are resolved against
// `base_dir` (the config file's folder). Messages look like
//   "config/receiver.yml: services.checkout.watch_window: \"15x\" is not a duration (use 30s, 15m, 1h30m)"
//   "config/receiver.yml: ledger.path: expected a string"
//   "config/receiver.yml: defaults.rollbak: unknown key (known: service_label, ...)"
Result<Config> parse_config(std::string_view yaml_text, const std::string& source_name,
                            const std::string& base_dir);

// Reads the file, parses it (base_dir = the file's folder) and reads the token files into `secrets`
// (surrounding whitespace trimmed; a missing, unreadable or empty token file is an error naming the key).
struct LoadedConfig {
    Config config;
    Secrets secrets;
};
Result<LoadedConfig> load_config(const std::string& path);

// A listen address split into its parts: "127.0.0.1:9095", "[::1]:9095" (host "::1"), "0.0.0.0:9095",
// "localhost:0" (port 0: any free port). The same check parse_config applies to `listen_address`, for
// the --web.listen-address flag. The message quotes the text and shows the expected form.
struct ListenAddress {
    std::string host; // without the brackets of an IPv6 address
    int port = 0;     // 0..65535
};
Result<ListenAddress> parse_listen_address(std::string_view text);

} // namespace rollback
