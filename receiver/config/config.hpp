// The receiver's configuration: typed settings with their defaults, parsed from YAML text.
#pragma once

#include "common/files.hpp" // read_secret_file: secrets for outgoing calls, read on each call
#include "common/result.hpp"
#include "common/time_util.hpp"

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace rollback {

// A JSON value written in YAML (a webhook `body`, workflow `inputs`): strings may hold {{placeholders}},
// replaced when the request is sent. Plain YAML scalars become null, true/false or numbers where they
// read as such in JSON; quoted scalars are always strings.
struct TemplateField;
struct TemplateValue {
    enum class Kind { null, boolean, number, string, list, object };
    Kind kind = Kind::null;
    std::string text;                  // boolean, number (JSON literal), string
    std::vector<TemplateValue> items;  // list
    std::vector<TemplateField> fields; // object, in the YAML's order
};
struct TemplateField {
    std::string name;
    TemplateValue value;
};

// One request header of an outgoing call: a literal `value` (may hold placeholders), or the trimmed
// content of `file` (read on every call, so a rotated secret is picked up) after `prefix`.
struct HeaderSetting {
    std::string name;
    std::string value;
    std::string file;   // resolved against the config's folder; non-empty: the value comes from the file
    std::string prefix; // e.g. "Bearer " in front of the file's content
};

// Where an outgoing HTTP call goes and how it is trusted.
struct HttpTarget {
    std::string url;                    // http:// or https://, with a host; placeholders allowed
    std::vector<HeaderSetting> headers; // in the config's order
    std::string ca_file; // empty: the system's trusted CAs (or tls.ca_file); set: only this PEM bundle
};

// `webhook:` action: POST `body` as JSON to the target; any 2xx is success.
struct WebhookAction {
    HttpTarget target;
    TemplateValue body; // an object; null: the empty object {}
};

// `github_workflow:` action: workflow_dispatch through the GitHub REST API; 204 is success.
struct GithubWorkflowAction {
    std::string api_url = "https://api.github.com";          // GitHub Enterprise: https://HOST/api/v3
    std::string repository;                                  // owner/name
    std::string workflow;                                    // file name (rollback.yml) or numeric id
    std::string ref;                                         // branch or tag the workflow runs on
    std::vector<std::pair<std::string, std::string>> inputs; // values may hold placeholders
    std::string token_file;                                  // resolved; read on every call
    std::string ca_file;                                     // as in HttpTarget
};

// A service's rollback action: one of the three, or none configured.
enum class ActionKind { none, command, webhook, github_workflow };
// Its name, the key of its settings under `rollback:` and the "action" of its audit events: "command",
// "webhook", "github_workflow"; "" for none.
std::string_view to_string(ActionKind kind);

// How to roll a service back. Merged key by key: a service's value wins over `defaults.rollback`; the
// action (command, webhook or github_workflow: one per service) is replaced as a whole.
struct RollbackSettings {
    // argv with {{placeholders}}; argv[0] relative with a '/' is resolved against the config's folder.
    std::vector<std::string> command; // empty: not a command action
    std::optional<WebhookAction> webhook;
    std::optional<GithubWorkflowAction> github_workflow;
    Duration timeout = std::chrono::minutes(10);
    int retries = 2; // further attempts after a failed first one
    Duration retry_backoff = std::chrono::seconds(10);
    // The command action: whether an argument may start with '-' because of a placeholder's value (a
    // previous_version of "--force" becoming an option). Off: such a rollback is refused before its claim,
    // unless the argument comes after a literal "--" in the command.
    bool allow_option_values = false;

    ActionKind action() const;
    bool has_action() const { return action() != ActionKind::none; }
    // to_string(action()), for the audit trail.
    std::string action_kind() const { return std::string(to_string(action())); }
};

// A notification target (`notify:` list): a Slack-compatible incoming webhook by default.
struct NotifyTarget {
    HttpTarget target;
};

// The settings that apply to one service: `defaults` with the service's own keys on top.
struct ServiceSettings {
    Duration watch_window = std::chrono::minutes(30);
    Duration debounce = std::chrono::seconds(0);
    // After rollback_succeeded, how long the alerts that caused the rollback have to resolve: all resolved
    // within it → rollback_effective; any still firing when it ends → rollback_ineffective (notified). 0s:
    // no confirmation, neither event.
    Duration confirm_window = std::chrono::minutes(10);
    // The service's source repository (`services.<name>.repository`, http(s), no query, fragment or trailing
    // slash), for rollback_started's compare_url; empty: none.
    std::string repository;
    RollbackSettings rollback;
    std::vector<NotifyTarget> notify; // top-level `notify`, replaced by a service's own list
};

// `tls:` — the listener's certificate (HTTPS when both files are set; mutual TLS with client_ca_file) and
// the CA bundle trusted for outgoing calls (actions, notifications) that do not name their own.
struct TlsSettings {
    std::string cert_file;      // PEM certificate (chain) the listener presents
    std::string key_file;       // its private key
    std::string client_ca_file; // set: clients must present a certificate signed by one of these CAs
    std::string ca_file;        // outgoing calls: trust only these CAs instead of the system's
    bool serves_https() const { return !cert_file.empty(); }
};

struct Config {
    std::string source = "<defaults>"; // the file it came from, for messages
    std::string listen_address = "127.0.0.1:9095";
    // Names this receiver in every audit event it writes; empty: `<hostname>:<port>` (the daemon fills it
    // in when it starts). Read at start only.
    std::string instance;
    // A request must arrive whole (head and body) within this of its first byte; the listener answers 408
    // after it. Read at start.
    Duration request_read_timeout = std::chrono::seconds(10);
    // At most this many rollbacks run at once (threads, child processes, outgoing calls); further claimed
    // ones wait in order for a free worker. 1..256. Read at start.
    int rollback_concurrency = 8;
    std::string ledger_path = "data/ledger.db"; // resolved against the config's folder
    // ledger.postgres, the shared PostgreSQL ledger instead of the SQLite file (never both): the file holding
    // its connection string (resolved like ledger_path; empty: SQLite), and how long after its last renewal
    // a claim counts as lost with its receiver.
    std::string ledger_postgres_dsn_file;
    Duration ledger_claim_lease = std::chrono::seconds(30);
    std::string audit_file;         // empty: no JSON-lines copy; resolved like ledger_path
    std::string webhook_token_file; // empty: /webhook needs no token; resolved
    std::string api_token_file;     // empty: /api/v1/* and /-/reload need no token; resolved
    std::string read_token_file;    // empty: no read-only token; needs api_token_file; resolved
    std::string service_label = "service";
    std::string environment_label = "environment";
    TlsSettings tls;
    ServiceSettings defaults;
    std::map<std::string, ServiceSettings> services; // already merged with defaults
    // prometheus.url without a trailing slash: the Prometheus the deployment page's chart asks (GET
    // <url>/api/v1/query_range); empty: no chart. Read at start and on reload.
    std::string prometheus_url;

    // The service's merged settings, or `defaults` for a service the config does not name.
    const ServiceSettings& settings_for(const std::string& service) const;
};

// The bearer tokens, read from the token files. Never logged, never in the YAML.
struct Secrets {
    std::string webhook_token; // empty: none required
    std::string api_token;     // empty: none required
    std::string read_token;    // may only read the API; empty: none
    std::string ledger_dsn;    // ledger.postgres.dsn_file's content; empty: the SQLite ledger
};

// Parses YAML text. `source_name` appears in every message; relative paths are resolved against
// `base_dir` (the config file's folder). Messages look like
//   "config/receiver.yml: services.checkout.watch_window: \"15x\" is not a duration (use 30s, 15m, 1h30m)"
//   "config/receiver.yml: ledger.path: expected a string"
//   "config/receiver.yml: defaults.rollbak: unknown key (known: service_label, ...)"
Result<Config> parse_config(std::string_view yaml_text, const std::string& source_name,
                            const std::string& base_dir);

// Reads the file, parses it (base_dir = the file's folder) and reads the token files into `secrets`
// (surrounding whitespace trimmed; a missing, unreadable or empty token file is an error naming the key,
// and so are two token files holding the same token). Every token, secret, key and CA file it names must
// be readable and not writable by its group or by others (the error names the file and "chmod go-w").
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
