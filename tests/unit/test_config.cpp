// Tests for the config parser: defaults, every key, every error message, merging, paths, token files.
#include "config/config.hpp"

#include <doctest/doctest.h>

#include <cstdlib>
#include <fcntl.h>
#include <filesystem>
#include <fstream>
#include <string>
#include <sys/stat.h>
#include <unistd.h>
#include <vector>

namespace rollback {
namespace {

using namespace std::chrono_literals;

// A fresh folder under /tmp, removed with everything in it at the end of the test.
class TempDir {
  public:
    TempDir() {
        std::string pattern = "/tmp/test_config.XXXXXX";
        if (mkdtemp(pattern.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
        path_ = pattern;
    }
    ~TempDir() {
        std::error_code ignored;
        std::filesystem::remove_all(path_, ignored);
    }
    TempDir(const TempDir&) = delete;
    TempDir& operator=(const TempDir&) = delete;

    const std::string& path() const { return path_; }

  private:
    std::string path_;
};

// Restores the working directory it found, for the test that loads a config by a bare file name.
class WorkingDirectoryGuard {
  public:
    WorkingDirectoryGuard() : saved_(std::filesystem::current_path()) {}
    ~WorkingDirectoryGuard() {
        std::error_code ignored;
        std::filesystem::current_path(saved_, ignored);
    }
    WorkingDirectoryGuard(const WorkingDirectoryGuard&) = delete;
    WorkingDirectoryGuard& operator=(const WorkingDirectoryGuard&) = delete;

  private:
    std::filesystem::path saved_;
};

void write_file(const std::string& path, const std::string& content) {
    std::filesystem::create_directories(std::filesystem::path(path).parent_path());
    {
        std::ofstream out(path, std::ios::binary);
        out << content;
        REQUIRE(out.good());
    }
    // Whatever the umask: load_config refuses secret files their group or others may write.
    std::filesystem::permissions(path,
                                 std::filesystem::perms::group_write | std::filesystem::perms::others_write,
                                 std::filesystem::perm_options::remove);
}

Config parse_ok(const std::string& yaml, const std::string& base_dir = "") {
    auto config = parse_config(yaml, "test.yml", base_dir);
    INFO(yaml);
    REQUIRE_MESSAGE(config.ok(), config.error());
    return std::move(config).value();
}

} // namespace

TEST_CASE("an empty document gives every default") {
    for (const std::string text : {"", "\n", "# only a comment\n", "---\n", "---\n...\n"}) {
        const Config config = parse_ok(text);
        CAPTURE(text);
        CHECK(config.source == "test.yml");
        CHECK(config.listen_address == "127.0.0.1:9095");
        CHECK(config.instance.empty()); // the daemon names itself <hostname>:<port>
        CHECK(config.request_read_timeout == 10s);
        CHECK(config.rollback_concurrency == 8);
        CHECK(config.ledger_path == "data/ledger.db");
        CHECK(config.audit_file.empty());
        CHECK(config.webhook_token_file.empty());
        CHECK(config.api_token_file.empty());
        CHECK(config.service_label == "service");
        CHECK(config.environment_label == "environment");
        CHECK(config.defaults.watch_window == 30min);
        CHECK(config.defaults.debounce == 0s);
        CHECK(config.defaults.confirm_window == 10min);
        CHECK(config.defaults.repository.empty());
        CHECK(config.defaults.rollback.command.empty());
        CHECK_FALSE(config.defaults.rollback.has_action());
        CHECK(config.defaults.rollback.action() == ActionKind::none);
        CHECK(config.defaults.rollback.action_kind().empty());
        CHECK(config.defaults.rollback.timeout == 10min);
        CHECK(config.defaults.rollback.retries == 2);
        CHECK(config.defaults.rollback.retry_backoff == 10s);
        CHECK(config.services.empty());
    }
    // The default ledger path is relative to the config's folder too.
    CHECK(parse_ok("", "/etc/rollback").ledger_path == "/etc/rollback/data/ledger.db");
}

TEST_CASE("empty sections mean their defaults") {
    const Config config = parse_ok("ledger:\naudit:\nauth:\ndefaults:\nservices:\n  checkout:\n");
    CHECK(config.ledger_path == "data/ledger.db");
    CHECK(config.audit_file.empty());
    CHECK(config.webhook_token_file.empty());
    REQUIRE(config.services.count("checkout") == 1);
    CHECK(config.services.at("checkout").watch_window == 30min);
}

TEST_CASE("a full document sets every key") {
    const Config config = parse_ok(R"(
listen_address: 0.0.0.0:9100
request_read_timeout: 2m30s
rollback_concurrency: 3
ledger: {path: state/ledger.db}
audit: {file: state/audit.jsonl}
auth:
  webhook_token_file: secrets/webhook-token
  api_token_file: secrets/api-token
defaults:
  service_label: app
  environment_label: env
  watch_window: 1h30m
  debounce: 45s
  rollback:
    command: [kubectl, rollout, undo, "deployment/{{service}}"]
    timeout: 5m
    retries: 0
    retry_backoff: 500ms
services:
  checkout:
    watch_window: 15m
    debounce: 0
    rollback:
      command: [scripts/rollback.sh, "{{service}}", "{{previous_version}}"]
      timeout: 2m
      retries: 100
      retry_backoff: 1s
)",
                                   "/srv/rr");
    CHECK(config.listen_address == "0.0.0.0:9100");
    CHECK(config.request_read_timeout == 150s);
    CHECK(config.rollback_concurrency == 3);
    CHECK(config.ledger_path == "/srv/rr/state/ledger.db");
    CHECK(config.audit_file == "/srv/rr/state/audit.jsonl");
    CHECK(config.webhook_token_file == "/srv/rr/secrets/webhook-token");
    CHECK(config.api_token_file == "/srv/rr/secrets/api-token");
    CHECK(config.service_label == "app");
    CHECK(config.environment_label == "env");
    CHECK(config.defaults.watch_window == 90min);
    CHECK(config.defaults.debounce == 45s);
    CHECK(config.defaults.rollback.command ==
          std::vector<std::string>{"kubectl", "rollout", "undo", "deployment/{{service}}"});
    CHECK(config.defaults.rollback.timeout == 5min);
    CHECK(config.defaults.rollback.retries == 0);
    CHECK(config.defaults.rollback.retry_backoff == 500ms);

    REQUIRE(config.services.size() == 1);
    const ServiceSettings& checkout = config.services.at("checkout");
    CHECK(checkout.watch_window == 15min);
    CHECK(checkout.debounce == 0s);
    CHECK(checkout.rollback.command ==
          std::vector<std::string>{"/srv/rr/scripts/rollback.sh", "{{service}}", "{{previous_version}}"});
    CHECK(checkout.rollback.timeout == 2min);
    CHECK(checkout.rollback.retries == 100);
    CHECK(checkout.rollback.retry_backoff == 1s);
}

TEST_CASE("rollback_concurrency takes every whole number from 1 to 256") {
    CHECK(parse_ok("rollback_concurrency: 1\n").rollback_concurrency == 1);
    CHECK(parse_ok("rollback_concurrency: 256\n").rollback_concurrency == 256);
    CHECK(parse_ok("rollback_concurrency: '16'\n").rollback_concurrency == 16);
}

TEST_CASE("instance names the receiver: printable, not empty, at most 200 bytes") {
    CHECK(parse_ok("instance: receiver-a\n").instance == "receiver-a");
    CHECK(parse_ok("instance: 'eu-west-1/receiver 2'\n").instance == "eu-west-1/receiver 2");
    CHECK(parse_ok("instance: " + std::string(200, 'a') + "\n").instance == std::string(200, 'a'));
    struct Row {
        std::string yaml;
        const char* expected;
    };
    const std::vector<Row> rows = {
        {"instance: ''\n", "test.yml: instance: must not be empty; leave it out for <hostname>:<port>"},
        {"instance: " + std::string(201, 'a') + "\n", "test.yml: instance: is 201 bytes; use at most 200"},
        {"instance: \"a\\nb\"\n",
         "test.yml: instance: holds a control character; use printable text such as receiver-a"},
        {"instance: [a]\n", "test.yml: instance: "},
    };
    for (const Row& row : rows) {
        CAPTURE(row.yaml);
        auto parsed = parse_config(row.yaml, "test.yml", "/etc/rr");
        REQUIRE_FALSE(parsed.ok());
        CHECK(parsed.error().rfind(row.expected, 0) == 0);
    }
}

TEST_CASE("prometheus.url: optional; trailing slashes dropped, a path prefix kept") {
    CHECK(parse_config("", "test.yml", "/etc/rr")->prometheus_url.empty());
    CHECK(
        parse_config("prometheus: {url: http://prometheus:9090}\n", "test.yml", "/etc/rr")->prometheus_url ==
        "http://prometheus:9090");
    CHECK(parse_config("prometheus: {url: 'https://p.example/prom//'}\n", "test.yml", "/etc/rr")
              ->prometheus_url == "https://p.example/prom");
}

TEST_CASE("any scalar is accepted where a string is expected") {
    CHECK(parse_ok("ledger: {path: 2024}").ledger_path == "2024");
    CHECK(parse_ok("ledger: {path: 'quoted path.db'}").ledger_path == "quoted path.db");
    CHECK(parse_ok("listen_address: localhost:0").listen_address == "localhost:0");
    CHECK(parse_ok("listen_address: '[::1]:9095'").listen_address == "[::1]:9095");
    CHECK(parse_ok("defaults: {rollback: {command: [run, 5, true, '', 'null']}}").defaults.rollback.command ==
          std::vector<std::string>{"run", "5", "true", "", "null"});
}

TEST_CASE("every error names the source, the key path and what is expected") {
    struct Row {
        const char* yaml;
        const char* expected;
    };
    const std::vector<Row> rows = {
        // Not YAML at all, or the wrong shape at the top.
        {"ledger:\n  path: [unclosed\n",
         "test.yml: YAML syntax error at line 3, column 1: end of sequence flow"},
        {"a: b\n  c: d\n", "test.yml: YAML syntax error at line 2, column 4: illegal map value"},
        {"audit: {file: \"unterminated\n", "test.yml: YAML syntax error at line 2, column 1: "},
        {"- listen_address\n",
         "test.yml: the top level must be a mapping of settings (known keys: instance, listen_address, "
         "request_read_timeout, rollback_concurrency, ledger, audit, auth, tls, defaults, notify, services, "
         "prometheus)"},
        {"just text\n", "test.yml: the top level must be a mapping"},
        {"ledger: {path: a}\n---\nledger: {path: b}\n", "test.yml: found 2 YAML documents"},
        {"? [a, b]\n: c\n", "test.yml: top level: every key must be a non-empty string"},
        {"ledger: {path: a}\nledger: {path: b}\n", "test.yml: ledger: key given more than once; keep one"},
        // Unknown keys at every level.
        {"listen: 1.2.3.4:5\n",
         "test.yml: listen: unknown key (known keys: instance, listen_address, request_read_timeout, "
         "rollback_concurrency, ledger, audit, auth, tls, defaults, notify, services, prometheus)"},
        {"ledger: {file: x.db}\n", "test.yml: ledger.file: unknown key (known keys: path, postgres)"},
        {"ledger: {postgres: {dsn: x}}\n",
         "test.yml: ledger.postgres.dsn: unknown key (known keys: dsn_file, claim_lease)"},
        {"audit: {path: a.jsonl}\n", "test.yml: audit.path: unknown key (known keys: file)"},
        {"auth: {token_file: t}\n",
         "test.yml: auth.token_file: unknown key (known keys: webhook_token_file, api_token_file, "
         "read_token_file)"},
        {"defaults: {rollbak: {}}\n", "test.yml: defaults.rollbak: unknown key (known keys: service_label, "
                                      "environment_label, watch_window, debounce, confirm_window, rollback)"},
        {"defaults: {rollback: {cmd: [x]}}\n",
         "test.yml: defaults.rollback.cmd: unknown key (known keys: command, "
         "webhook, github_workflow, timeout, retries, retry_backoff, allow_option_values)"},
        {"defaults: {rollback: {allow_option_values: yes}}\n",
         "test.yml: defaults.rollback.allow_option_values: expected true or false"},
        {"defaults: {rollback: {allow_option_values: \"true\"}}\n",
         "test.yml: defaults.rollback.allow_option_values: expected true or false"},
        {"services: {checkout: {service_label: app}}\n",
         "test.yml: services.checkout.service_label: unknown key "
         "(known keys: watch_window, debounce, confirm_window, repository, rollback, notify)"},
        {"services: {checkout: {rollback: {retry: 1}}}\n",
         "test.yml: services.checkout.rollback.retry: unknown key"},
        // Tokens belong in files.
        {"auth: {webhook_token: hunter2}\n",
         "test.yml: auth.webhook_token: tokens are not allowed in the config "
         "file; put the token in a file and set auth.webhook_token_file"},
        {"auth: {api_token: hunter2}\n",
         "test.yml: auth.api_token: tokens are not allowed in the config file; put "
         "the token in a file and set auth.api_token_file"},
        // Mappings where a mapping is expected.
        {"ledger: data/ledger.db\n", "test.yml: ledger: expected a mapping (known keys: path, postgres)"},
        {"ledger: {postgres: postgresql://db}\n",
         "test.yml: ledger.postgres: expected a mapping (known keys: dsn_file, claim_lease)"},
        // The ledger: SQLite or PostgreSQL, never both; the DSN only from a file.
        {"ledger: {path: a.db, postgres: {dsn_file: dsn}}\n",
         "test.yml: ledger: set either ledger.path (SQLite) or ledger.postgres (PostgreSQL), not both"},
        {"ledger: {postgres: {claim_lease: 30s}}\n",
         "test.yml: ledger.postgres.dsn_file: required: the file holding the PostgreSQL connection string"},
        {"ledger: {postgres: }\n", "test.yml: ledger.postgres.dsn_file: required"},
        {"ledger: {postgres: {dsn_file: ''}}\n",
         "test.yml: ledger.postgres.dsn_file: expected a file path, not an empty string"},
        {"ledger: {postgres: {dsn_file: d, claim_lease: 0s}}\n",
         "test.yml: ledger.postgres.claim_lease: must be longer than 0s"},
        {"ledger: {postgres: {dsn_file: d, claim_lease: soon}}\n", "test.yml: ledger.postgres.claim_lease: "},
        {"defaults: [30m]\n", "test.yml: defaults: expected a mapping (known keys: service_label"},
        {"services: [checkout]\n",
         "test.yml: services: expected a mapping of service names to their settings"},
        {"services: {checkout: 15m}\n",
         "test.yml: services.checkout: expected a mapping (known keys: watch_window"},
        {"services: {checkout: {rollback: [x]}}\n",
         "test.yml: services.checkout.rollback: expected a mapping (known keys: command"},
        // Strings and paths.
        {"ledger: {path: [a]}\n", "test.yml: ledger.path: expected a string"},
        {"ledger: {path: {a: b}}\n", "test.yml: ledger.path: expected a string"},
        {"ledger: {path: }\n", "test.yml: ledger.path: expected a string"},
        {"ledger: {path: ''}\n", "test.yml: ledger.path: expected a file path, not an empty string"},
        {"audit: {file: [a]}\n", "test.yml: audit.file: expected a string"},
        {"auth: {api_token_file: {a: b}}\n", "test.yml: auth.api_token_file: expected a string"},
        {"auth: {webhook_token_file: ''}\n", "test.yml: auth.webhook_token_file: expected a file path"},
        {"defaults: {service_label: [a]}\n", "test.yml: defaults.service_label: expected a string"},
        {"defaults: {environment_label: 1env}\n",
         "test.yml: defaults.environment_label: \"1env\" is not a label name"},
        {"defaults: {service_label: app-name}\n",
         "test.yml: defaults.service_label: \"app-name\" is not a label"},
        // Listen addresses.
        {"listen_address: [a]\n", "test.yml: listen_address: expected a string"},
        {"listen_address: 9095\n", "test.yml: listen_address: \"9095\" is not a listen address (no port; use "
                                   "host:port, e.g. 127.0.0.1:9095, [::1]:9095 or 0.0.0.0:9095)"},
        {"listen_address: ':9095'\n", "test.yml: listen_address: \":9095\" is not a listen address (no host"},
        {"listen_address: 'localhost:65536'\n", "the port must be a number from 0 to 65535"},
        {"listen_address: 'localhost:http'\n", "the port must be a number from 0 to 65535"},
        {"listen_address: 'localhost:'\n", "the port must be a number from 0 to 65535"},
        {"listen_address: '::1:9095'\n", "an IPv6 address needs brackets"},
        {"listen_address: '[]:9095'\n", "not an IPv6 address inside the brackets"},
        {"listen_address: 'http://localhost:9095'\n", "(no scheme such as http://;"},
        {"listen_address: 'local host:9095'\n", "the host may hold only letters, digits, '.', '-' and '_'"},
        // Durations.
        {"request_read_timeout: 0s\n", "test.yml: request_read_timeout: must be longer than 0s"},
        {"request_read_timeout: 10x\n", "test.yml: request_read_timeout: \"10x\" is not a duration"},
        {"request_read_timeout: [10s]\n", "test.yml: request_read_timeout: expected a duration"},
        // The bound on rollbacks running at once.
        {"rollback_concurrency: 0\n",
         "test.yml: rollback_concurrency: expected a whole number from 1 to 256"},
        {"rollback_concurrency: 257\n",
         "test.yml: rollback_concurrency: expected a whole number from 1 to 256"},
        {"rollback_concurrency: -4\n",
         "test.yml: rollback_concurrency: expected a whole number from 1 to 256"},
        {"rollback_concurrency: 1000000\n", "test.yml: rollback_concurrency: expected a whole number"},
        {"rollback_concurrency: 2.5\n", "test.yml: rollback_concurrency: expected a whole number"},
        {"rollback_concurrency: eight\n", "test.yml: rollback_concurrency: expected a whole number"},
        {"rollback_concurrency: [8]\n", "test.yml: rollback_concurrency: expected a whole number"},
        {"rollback_concurrency:\n", "test.yml: rollback_concurrency: expected a whole number"},
        {"services: {checkout: {watch_window: 15x}}\n",
         "test.yml: services.checkout.watch_window: \"15x\" is not "
         "a duration (use e.g. 500ms, 30s, 15m, 1h30m)"},
        {"defaults: {watch_window: 0s}\n", "test.yml: defaults.watch_window: must be longer than 0s"},
        {"defaults: {watch_window: 0}\n", "test.yml: defaults.watch_window: must be longer than 0s"},
        {"services: {checkout: {watch_window: [15m]}}\n",
         "test.yml: services.checkout.watch_window: expected a duration such as 500ms, 30s, 15m or 1h30m"},
        {"defaults: {debounce: -5s}\n", "test.yml: defaults.debounce: \"-5s\" is not a duration"},
        {"defaults: {debounce: }\n", "test.yml: defaults.debounce: expected a duration"},
        // confirm_window: a duration (0s turns it off).
        {"defaults: {confirm_window: 10x}\n",
         "test.yml: defaults.confirm_window: \"10x\" is not a duration (use e.g. 500ms, 30s, 15m, 1h30m)"},
        {"defaults: {confirm_window: -1m}\n", "test.yml: defaults.confirm_window: \"-1m\" is not a duration"},
        {"services: {checkout: {confirm_window: [5m]}}\n",
         "test.yml: services.checkout.confirm_window: expected a duration such as 500ms, 30s, 15m or 1h30m"},
        {"services: {checkout: {confirm_window: }}\n",
         "test.yml: services.checkout.confirm_window: expected a duration"},
        // repository: a service's web address, for compare links.
        {"defaults: {repository: https://github.com/org/repo}\n",
         "test.yml: defaults.repository: unknown key (known keys: service_label"},
        {"services: {checkout: {repository: github.com/org/repo}}\n",
         "test.yml: services.checkout.repository: \"github.com/<redacted>\": no scheme"},
        {"services: {checkout: {repository: ftp://github.com/org/repo}}\n",
         "test.yml: services.checkout.repository: \"ftp://github.com/<redacted>\": unsupported scheme"},
        {"services: {checkout: {repository: https://github.com/org/repo#readme}}\n",
         "test.yml: services.checkout.repository: \"https://github.com/<redacted>\": a fragment (#...) is "
         "not "
         "allowed (use the repository's web address, e.g. https://github.com/org/repo)"},
        {"services: {checkout: {repository: \"https://github.com/org/repo?tab=code\"}}\n",
         "test.yml: services.checkout.repository: \"https://github.com/<redacted>\" may hold only letters, "
         "digits and - . _ ~ % / after the host (no query, fragment or placeholder)"},
        {"services: {checkout: {repository: \"https://github.com/{{service}}\"}}\n",
         "test.yml: services.checkout.repository: \"https://github.com/<redacted>\" may hold only"},
        {"services: {checkout: {repository: \"https://github.com/org/a|b\"}}\n",
         "test.yml: services.checkout.repository: \"https://github.com/<redacted>\" may hold only"},
        {"services: {checkout: {repository: https://github.com/}}\n",
         "test.yml: services.checkout.repository: \"https://github.com/\" names no repository (use the "
         "repository's web address"},
        {"services: {checkout: {repository: \"https://github.com/org repo\"}}\n",
         "test.yml: services.checkout.repository: \"https://github.com/<redacted>\": a URL may not hold "
         "spaces"},
        {"services: {checkout: {repository: [x]}}\n",
         "test.yml: services.checkout.repository: expected a string"},
        {"defaults: {rollback: {timeout: 0s}}\n",
         "test.yml: defaults.rollback.timeout: must be longer than 0s"},
        {"services: {checkout: {rollback: {timeout: 10}}}\n",
         "test.yml: services.checkout.rollback.timeout: \"10\" is not a duration"},
        {"defaults: {rollback: {retry_backoff: 1.5s}}\n",
         "test.yml: defaults.rollback.retry_backoff: \"1.5s\" is not a duration"},
        // Retries.
        {"services: {checkout: {rollback: {retries: -1}}}\n",
         "test.yml: services.checkout.rollback.retries: expected a whole number from 0 to 100"},
        {"services: {checkout: {rollback: {retries: 101}}}\n",
         "test.yml: services.checkout.rollback.retries: expected a whole number from 0 to 100"},
        {"services: {checkout: {rollback: {retries: 1000000}}}\n",
         "rollback.retries: expected a whole number"},
        {"services: {checkout: {rollback: {retries: 2.5}}}\n", "rollback.retries: expected a whole number"},
        {"services: {checkout: {rollback: {retries: two}}}\n", "rollback.retries: expected a whole number"},
        {"services: {checkout: {rollback: {retries: [2]}}}\n", "rollback.retries: expected a whole number"},
        {"services: {checkout: {rollback: {retries: }}}\n", "rollback.retries: expected a whole number"},
        // Commands.
        {"services: {checkout: {rollback: {command: [run.sh, \"{{servce}}\"]}}}\n",
         "test.yml: services.checkout.rollback.command[1]: unknown placeholder {{servce}}"},
        {"services: {checkout: {rollback: {command: [run.sh, \"--to={{version}}-{{verison}}\"]}}}\n",
         "test.yml: services.checkout.rollback.command[1]: unknown placeholder {{verison}}"},
        {"services: {checkout: {rollback: {command: [\"{{nope}}.sh\"]}}}\n",
         "test.yml: services.checkout.rollback.command[0]: unknown placeholder {{nope}}"},
        {"services: {checkout: {rollback: {command: [run.sh, \"--to={{previous_version\"]}}}\n",
         "test.yml: services.checkout.rollback.command[1]: unclosed {{"},
        {"services: {checkout: {rollback: {command: []}}}\n",
         "test.yml: services.checkout.rollback.command: expected a list of strings with at least one "
         "element"},
        {"services: {checkout: {rollback: {command: scripts/rollback.sh}}}\n",
         "test.yml: services.checkout.rollback.command: expected a list of strings with at least one "
         "element"},
        {"services: {checkout: {rollback: {command: {run: x}}}}\n",
         "test.yml: services.checkout.rollback.command: expected a list of strings with at least one "
         "element"},
        {"services: {checkout: {rollback: {command: }}}\n",
         "test.yml: services.checkout.rollback.command: expected a list of strings with at least one "
         "element"},
        {"services:\n  checkout:\n    rollback:\n      command:\n        - run.sh\n        - {{service}}\n",
         "test.yml: services.checkout.rollback.command[1]: expected a string, found a mapping (quote "
         "arguments"},
        {"services: {checkout: {rollback: {command: [run.sh, [a]]}}}\n",
         "test.yml: services.checkout.rollback.command[1]: expected a string"},
        {"services: {checkout: {rollback: {command: [run.sh, ~]}}}\n",
         "test.yml: services.checkout.rollback.command[1]: expected a string"},
        {"services: {checkout: {rollback: {command: ['', x]}}}\n",
         "test.yml: services.checkout.rollback.command[0]: expected the program to run"},
        // Actions other than command, notify and tls.
        {"services: {a: {rollback: {command: [x], webhook: {url: 'http://h/'}}}}\n",
         "test.yml: services.a.rollback: holds command and webhook; a service has one rollback action"},
        {"services: {a: {rollback: {webhook: {}}}}\n",
         "test.yml: services.a.rollback.webhook.url: missing; give the http:// or https:// URL"},
        {"services: {a: {rollback: {webhook: 'http://h/'}}}\n",
         "test.yml: services.a.rollback.webhook: expected a mapping with url"},
        {"services: {a: {rollback: {webhook: {url: 'ftp://h/'}}}}\n",
         "test.yml: services.a.rollback.webhook.url: \"ftp://h/\": unsupported scheme"},
        {"services: {a: {rollback: {webhook: {url: 'deploy.example.com/x'}}}}\n",
         "test.yml: services.a.rollback.webhook.url: \"deploy.example.com/<redacted>\": no scheme"},
        {"services: {a: {rollback: {webhook: {url: 'http://h/{{servce}}'}}}}\n",
         "test.yml: services.a.rollback.webhook.url: unknown placeholder"},
        {"services: {a: {rollback: {webhook: {url: 'http://h/', body: [1, 2]}}}}\n",
         "test.yml: services.a.rollback.webhook.body: expected a mapping, sent as a JSON object"},
        {"services: {a: {rollback: {webhook: {url: 'http://h/', body: {x: {y: '{{versoin}}'}}}}}}\n",
         "test.yml: services.a.rollback.webhook.body.x.y: unknown placeholder"},
        {"services: {a: {rollback: {webhook: {url: 'http://h/', headers: {X-Token: [a]}}}}}\n",
         "test.yml: services.a.rollback.webhook.headers.X-Token: expected a string, or {file: PATH"},
        {"services: {a: {rollback: {webhook: {url: 'http://h/', headers: {X-Token: {prefix: b}}}}}}\n",
         "test.yml: services.a.rollback.webhook.headers.X-Token: a header read from a file needs file: PATH"},
        {"services: {a: {rollback: {webhook: {url: 'http://h/', headers: {'X Token': v}}}}}\n",
         "test.yml: services.a.rollback.webhook.headers.X Token: not a header name"},
        {"services: {a: {rollback: {webhook: {url: 'http://h/', tls: {insecure: true}}}}}\n",
         "test.yml: services.a.rollback.webhook.tls.insecure: unknown key (known keys: ca_file)"},
        {"services: {a: {rollback: {webhook: {url: 'http://h/', method: PUT}}}}\n",
         "test.yml: services.a.rollback.webhook.method: unknown key (known keys: url, headers, body, tls)"},
        {"services: {a: {rollback: {github_workflow: {workflow: r.yml, ref: main, token_file: t}}}}\n",
         "test.yml: services.a.rollback.github_workflow.repository: missing (e.g. my-org/checkout)"},
        {"services: {a: {rollback: {github_workflow: {repository: org, workflow: r.yml, ref: main, "
         "token_file: t}}}}\n",
         "test.yml: services.a.rollback.github_workflow.repository: expected OWNER/NAME"},
        {"services: {a: {rollback: {github_workflow: {repository: o/r, workflow: r.yml, ref: main}}}}\n",
         "test.yml: services.a.rollback.github_workflow.token_file: missing; put a GitHub token"},
        {"services: {a: {rollback: {github_workflow: {repository: o/r, workflow: .github/r.yml, ref: main, "
         "token_file: t}}}}\n",
         "test.yml: services.a.rollback.github_workflow.workflow: expected the workflow's file name"},
        {"services: {a: {rollback: {github_workflow: {repository: o/r, workflow: r.yml, ref: main, "
         "token_file: t, api_url: 'github.example.com'}}}}\n",
         "test.yml: services.a.rollback.github_workflow.api_url: \"github.example.com\": no scheme"},
        {"services: {a: {rollback: {github_workflow: {repository: o/r, workflow: r.yml, ref: main, "
         "token_file: t, inputs: {v: '{{sha}}'}}}}}\n",
         "test.yml: services.a.rollback.github_workflow.inputs.v: unknown placeholder"},
        {"services: {a: {rollback: {github_workflow: {repository: o/r, workflow: r.yml, ref: main, "
         "token_file: t, inputs: {v: {x: 1}}}}}}\n",
         "test.yml: services.a.rollback.github_workflow.inputs.v: expected a string"},
        {"notify: 'http://chat/'\n", "test.yml: notify: expected a list of URLs"},
        {"notify: [{headers: {}}]\n", "test.yml: notify[0].url: missing"},
        {"notify: [[http://chat/]]\n", "test.yml: notify[0]: expected a list of URLs"},
        {"services: {a: {notify: ['chat']}}\n", "test.yml: services.a.notify[0]: \"chat\": no scheme"},
        {"tls: {cert_file: c.pem}\n", "test.yml: tls.key_file: missing; serving HTTPS needs both"},
        {"tls: {client_ca_file: ca.pem}\n", "test.yml: tls.client_ca_file: client certificates need HTTPS"},
        {"tls: {ca: x}\n",
         "test.yml: tls.ca: unknown key (known keys: cert_file, key_file, client_ca_file, ca_file)"},
        // prometheus.url: the Prometheus of the deployment page's chart.
        {"prometheus: {}\n", "test.yml: prometheus.url: missing (e.g. url: http://prometheus:9090)"},
        {"prometheus: {address: http://p:9090}\n",
         "test.yml: prometheus.address: unknown key (known keys: url)"},
        {"prometheus: {url: prometheus:9090}\n",
         "test.yml: prometheus.url: \"prometheus:9090\": no scheme (expected http://HOST[:PORT][/PATH] or "
         "https://...) (use Prometheus' address, e.g. http://prometheus:9090)"},
        {"prometheus: {url: 'ftp://p:9090'}\n",
         "test.yml: prometheus.url: \"ftp://p:9090\": unsupported scheme"},
        {"prometheus: {url: 'http://p:9090/?x=hunter2'}\n",
         "test.yml: prometheus.url: \"http://p:9090/<redacted>\": a query is not allowed (use Prometheus'"},
        {"prometheus: {url: 'http://u:hunter2@p:9090'}\n",
         "test.yml: prometheus.url: \"http://<redacted>@p:9090\""},
        {"prometheus: {url: [a]}\n", "test.yml: prometheus.url: expected a string"},
    };
    for (const Row& row : rows) {
        const std::string yaml = row.yaml;
        CAPTURE(yaml);
        const auto result = parse_config(yaml, "test.yml", "/etc/rr");
        REQUIRE_FALSE(result.ok());
        CHECK_MESSAGE(result.error().find(row.expected) != std::string::npos, "message: ", result.error());
        CHECK(result.error().rfind("test.yml: ", 0) == 0);
        CHECK(result.error().find("hunter2") == std::string::npos);
    }
}

TEST_CASE("webhook, github_workflow, notify and tls settings") {
    const std::string yaml = R"(
tls: {cert_file: certs/server.pem, key_file: certs/server.key, client_ca_file: certs/clients.pem,
      ca_file: /etc/ssl/internal.pem}
notify: ['https://hooks.slack.example/T1', {url: 'http://chat/{{service}}', headers: {X-Key: {file: k}}}]
defaults:
  rollback: {command: [scripts/rollback.sh], retries: 1}
services:
  checkout:
    rollback:
      webhook:
        url: https://deploy.example.com/api/rollback?service={{service}}
        headers:
          Authorization: {file: secrets/deploy-token, prefix: "Bearer "}
          X-Request-Source: rollback-receiver {{environment}}
        body: {service: "{{service}}", to: "{{previous_version}}", force: true, count: 3, ratio: 0.5,
               note: ~, quoted: "true", tags: [a, "{{version}}"]}
        tls: {ca_file: certs/deploy-ca.pem}
  search:
    notify: []
    rollback:
      github_workflow:
        repository: my-org/search
        workflow: rollback.yml
        ref: main
        inputs: {version: "{{previous_version}}", reason: "{{alertname}}"}
        token_file: secrets/github-token
  cart:
    rollback:
      github_workflow: {repository: o/cart, workflow: 1234, ref: v1, token_file: /t,
                        api_url: 'https://github.example.com/api/v3/'}
)";
    const Config config = parse_ok(yaml, "/etc/rr");
    CHECK(config.tls.cert_file == "/etc/rr/certs/server.pem");
    CHECK(config.tls.key_file == "/etc/rr/certs/server.key");
    CHECK(config.tls.client_ca_file == "/etc/rr/certs/clients.pem");
    CHECK(config.tls.ca_file == "/etc/ssl/internal.pem");
    CHECK(config.tls.serves_https());
    REQUIRE(config.defaults.notify.size() == 2);
    CHECK(config.defaults.notify[0].target.url == "https://hooks.slack.example/T1");
    CHECK(config.defaults.notify[1].target.url == "http://chat/{{service}}");
    REQUIRE(config.defaults.notify[1].target.headers.size() == 1);
    CHECK(config.defaults.notify[1].target.headers[0].file == "/etc/rr/k");
    CHECK(config.defaults.rollback.action() == ActionKind::command);
    CHECK(config.defaults.rollback.action_kind() == "command");

    const RollbackSettings& checkout = config.settings_for("checkout").rollback;
    CHECK(checkout.action() == ActionKind::webhook); // replaces the default command as a whole
    CHECK(checkout.action_kind() == "webhook");
    CHECK(checkout.command.empty());
    CHECK(checkout.retries == 1); // other keys still merge
    REQUIRE(checkout.webhook);
    CHECK(checkout.webhook->target.url == "https://deploy.example.com/api/rollback?service={{service}}");
    CHECK(checkout.webhook->target.ca_file == "/etc/rr/certs/deploy-ca.pem");
    REQUIRE(checkout.webhook->target.headers.size() == 2);
    CHECK(checkout.webhook->target.headers[0].name == "Authorization");
    CHECK(checkout.webhook->target.headers[0].file == "/etc/rr/secrets/deploy-token");
    CHECK(checkout.webhook->target.headers[0].prefix == "Bearer ");
    CHECK(checkout.webhook->target.headers[1].value == "rollback-receiver {{environment}}");
    const TemplateValue& body = checkout.webhook->body;
    REQUIRE(body.kind == TemplateValue::Kind::object);
    REQUIRE(body.fields.size() == 8);
    struct Field {
        const char* name;
        TemplateValue::Kind kind;
        const char* text;
    };
    using Kind = TemplateValue::Kind;
    const Field expected[] = {
        {"service", Kind::string, "{{service}}"}, {"to", Kind::string, "{{previous_version}}"},
        {"force", Kind::boolean, "true"},         {"count", Kind::number, "3"},
        {"ratio", Kind::number, "0.5"},           {"note", Kind::null, ""},
        {"quoted", Kind::string, "true"}};
    for (std::size_t i = 0; i < std::size(expected); ++i) {
        CAPTURE(expected[i].name);
        CHECK(body.fields[i].name == expected[i].name);
        CHECK(body.fields[i].value.kind == expected[i].kind);
        CHECK(body.fields[i].value.text == expected[i].text);
    }
    const TemplateValue& tags = body.fields[7].value;
    CHECK(body.fields[7].name == "tags");
    REQUIRE(tags.kind == Kind::list);
    REQUIRE(tags.items.size() == 2);
    CHECK(tags.items[1].text == "{{version}}");
    CHECK(config.settings_for("checkout").notify.size() == 2); // inherits the top-level list

    const ServiceSettings& search = config.settings_for("search");
    CHECK(search.notify.empty()); // its own empty list: no messages
    REQUIRE(search.rollback.github_workflow);
    const GithubWorkflowAction& workflow = *search.rollback.github_workflow;
    CHECK(workflow.api_url == "https://api.github.com");
    CHECK(workflow.repository == "my-org/search");
    CHECK(workflow.workflow == "rollback.yml");
    CHECK(workflow.ref == "main");
    CHECK(workflow.token_file == "/etc/rr/secrets/github-token");
    CHECK(workflow.inputs == std::vector<std::pair<std::string, std::string>>{
                                 {"version", "{{previous_version}}"}, {"reason", "{{alertname}}"}});
    CHECK(config.settings_for("cart").rollback.github_workflow->api_url ==
          "https://github.example.com/api/v3");
    CHECK(config.settings_for("cart").rollback.github_workflow->workflow == "1234");
}

TEST_CASE(
    "confirm_window: defaults and services, 0s turns it off; repository: a service's, trailing '/' dropped") {
    const Config config = parse_ok(R"(
defaults: {confirm_window: 2m}
services:
  checkout: {repository: https://github.com/my-org/checkout}
  search: {confirm_window: 0s, repository: "http://git.example:8080/team/search.git/"}
  cart: {confirm_window: 1h30m, repository: https://github.com/my-org/cart%2Dv2/}
)");
    CHECK(config.defaults.confirm_window == 2min);
    CHECK(config.settings_for("checkout").confirm_window == 2min); // inherited
    CHECK(config.settings_for("checkout").repository == "https://github.com/my-org/checkout");
    CHECK(config.settings_for("search").confirm_window == 0s);
    CHECK(config.settings_for("search").repository == "http://git.example:8080/team/search.git");
    CHECK(config.settings_for("cart").confirm_window == 90min);
    CHECK(config.settings_for("cart").repository == "https://github.com/my-org/cart%2Dv2");
    CHECK(config.settings_for("unknown").repository.empty());
    CHECK(parse_ok("defaults: {confirm_window: 0}\n").defaults.confirm_window == 0s);
}

TEST_CASE("an unknown placeholder error lists the known ones") {
    const auto result = parse_config("defaults: {rollback: {command: [x, '{{servce}}']}}", "test.yml", "");
    REQUIRE_FALSE(result.ok());
    for (const char* known :
         {"service", "environment", "deployment_id", "version", "previous_version", "alertname"}) {
        CHECK_MESSAGE(result.error().find(known) != std::string::npos, result.error());
    }
}

TEST_CASE("services start from defaults and override key by key") {
    const std::string yaml = R"(
services:                 # before defaults on purpose: the order in the file does not matter
  plain: {}
  empty:
  own_command: {rollback: {command: [own.sh]}}
  own_timeout: {rollback: {timeout: 1m, allow_option_values: true}}
  own_window: {watch_window: 1h}
  own_debounce: {debounce: 2m, rollback: {retries: 0, retry_backoff: 0s}}
defaults:
  watch_window: 20m
  debounce: 1m
  rollback: {command: [default.sh, "{{service}}"], timeout: 5m, retries: 3, retry_backoff: 1s}
)";
    const Config config = parse_ok(yaml);
    const std::vector<std::string> default_command = {"default.sh", "{{service}}"};
    REQUIRE(config.services.size() == 6);

    for (const char* name : {"plain", "empty"}) {
        const std::string service = name;
        CAPTURE(service);
        const ServiceSettings& same = config.services.at(name);
        CHECK(same.watch_window == 20min);
        CHECK(same.debounce == 1min);
        CHECK(same.rollback.command == default_command);
        CHECK(same.rollback.timeout == 5min);
        CHECK(same.rollback.retries == 3);
        CHECK(same.rollback.retry_backoff == 1s);
        CHECK_FALSE(same.rollback.allow_option_values); // off by default
    }

    const ServiceSettings& own_command = config.services.at("own_command");
    CHECK(own_command.rollback.command == std::vector<std::string>{"own.sh"});
    CHECK(own_command.rollback.timeout == 5min);
    CHECK(own_command.rollback.retries == 3);
    CHECK(own_command.rollback.retry_backoff == 1s);
    CHECK(own_command.watch_window == 20min);

    const ServiceSettings& own_timeout = config.services.at("own_timeout");
    CHECK(own_timeout.rollback.command == default_command);
    CHECK(own_timeout.rollback.timeout == 1min);
    CHECK(own_timeout.rollback.retries == 3);
    CHECK(own_timeout.rollback.allow_option_values);

    const ServiceSettings& own_window = config.services.at("own_window");
    CHECK(own_window.watch_window == 1h);
    CHECK(own_window.debounce == 1min);
    CHECK(own_window.rollback.command == default_command);

    const ServiceSettings& own_debounce = config.services.at("own_debounce");
    CHECK(own_debounce.debounce == 2min);
    CHECK(own_debounce.watch_window == 20min);
    CHECK(own_debounce.rollback.retries == 0);
    CHECK(own_debounce.rollback.retry_backoff == 0s);
    CHECK(own_debounce.rollback.timeout == 5min);
    CHECK(own_debounce.rollback.command == default_command);
}

TEST_CASE("settings_for gives the merged entry or the defaults") {
    const Config config =
        parse_ok("defaults: {watch_window: 20m}\nservices: {checkout: {watch_window: 15m}}\n");
    CHECK(config.settings_for("checkout").watch_window == 15min);
    CHECK(config.settings_for("payments").watch_window == 20min);
    CHECK(&config.settings_for("payments") == &config.defaults);
    CHECK(config.settings_for("").watch_window == 20min);
}

TEST_CASE("a service without a command anywhere has no action") {
    const Config config = parse_ok("services: {checkout: {rollback: {timeout: 1m}}}\n");
    CHECK_FALSE(config.settings_for("checkout").rollback.has_action());
    CHECK(config.settings_for("checkout").rollback.timeout == 1min);
}

TEST_CASE("relative paths are resolved against the config's folder") {
    const std::string yaml = R"(
ledger: {path: ../state/ledger.db}
audit: {file: ./audit.jsonl}
auth: {webhook_token_file: /run/secrets/hook, api_token_file: secrets/api}
services:
  relative_script: {rollback: {command: [scripts/rollback.sh, --file=a/b, "{{service}}"]}}
  dot_script: {rollback: {command: [./rollback.sh]}}
  absolute_script: {rollback: {command: [/usr/local/bin/rollback]}}
  on_path: {rollback: {command: [kubectl, rollout, undo]}}
)";
    const Config in_etc = parse_ok(yaml, "/etc/rr");
    CHECK(in_etc.ledger_path == "/etc/state/ledger.db");
    CHECK(in_etc.audit_file == "/etc/rr/audit.jsonl");
    CHECK(in_etc.webhook_token_file == "/run/secrets/hook");
    CHECK(in_etc.api_token_file == "/etc/rr/secrets/api");
    CHECK(in_etc.settings_for("relative_script").rollback.command ==
          std::vector<std::string>{"/etc/rr/scripts/rollback.sh", "--file=a/b", "{{service}}"});
    CHECK(in_etc.settings_for("dot_script").rollback.command[0] == "/etc/rr/rollback.sh");
    CHECK(in_etc.settings_for("absolute_script").rollback.command[0] == "/usr/local/bin/rollback");
    CHECK(in_etc.settings_for("on_path").rollback.command[0] == "kubectl");

    const Config relative_base = parse_ok(yaml, "config");
    CHECK(relative_base.ledger_path == "state/ledger.db");
    CHECK(relative_base.audit_file == "config/audit.jsonl");
    CHECK(relative_base.settings_for("relative_script").rollback.command[0] == "config/scripts/rollback.sh");

    const Config no_base = parse_ok(yaml, "");
    CHECK(no_base.ledger_path == "../state/ledger.db");
    CHECK(no_base.audit_file == "./audit.jsonl");
    CHECK(no_base.api_token_file == "secrets/api");
    CHECK(no_base.settings_for("relative_script").rollback.command[0] == "scripts/rollback.sh");
    CHECK(no_base.settings_for("dot_script").rollback.command[0] == "./rollback.sh");
}

TEST_CASE("ledger.postgres: the DSN file is resolved like every path, the claim lease defaults to 30s") {
    const Config sqlite = parse_ok("");
    CHECK(sqlite.ledger_postgres_dsn_file.empty());
    CHECK(sqlite.ledger_claim_lease == std::chrono::seconds(30));
    const Config shared =
        parse_ok("ledger: {postgres: {dsn_file: secrets/ledger-dsn, claim_lease: 45s}}", "/srv/rr");
    CHECK(shared.ledger_postgres_dsn_file == "/srv/rr/secrets/ledger-dsn");
    CHECK(shared.ledger_claim_lease == std::chrono::seconds(45));
    CHECK(parse_ok("ledger: {postgres: {dsn_file: /run/dsn}}").ledger_claim_lease ==
          std::chrono::seconds(30));
}

TEST_CASE("parse_listen_address splits host and port") {
    struct Good {
        const char* text;
        const char* host;
        int port;
    };
    for (const Good& row :
         std::vector<Good>{{"127.0.0.1:9095", "127.0.0.1", 9095},
                           {"[::1]:9095", "::1", 9095},
                           {"0.0.0.0:9095", "0.0.0.0", 9095},
                           {"localhost:0", "localhost", 0},
                           {"[fe80::1%eth0]:65535", "fe80::1%eth0", 65535},
                           {"rollback-receiver.internal:80", "rollback-receiver.internal", 80}}) {
        const std::string text = row.text;
        CAPTURE(text);
        const auto address = parse_listen_address(row.text);
        REQUIRE_MESSAGE(address.ok(), address.error());
        CHECK(address->host == row.host);
        CHECK(address->port == row.port);
    }
    for (const char* bad : {"", "9095", ":9095", "localhost", "localhost:", "localhost:65536", "localhost:-1",
                            "localhost:99999999", "::1:9095", "[::1]", "[]:80", "[local]:80", "[::1%]:80",
                            "[::1%a/b]:80", "a b:80", "host/x:80"}) {
        const std::string text = bad;
        CAPTURE(text);
        const auto address = parse_listen_address(text);
        REQUIRE_FALSE(address.ok());
        CHECK(address.error().find("is not a listen address") != std::string::npos);
    }
}

TEST_CASE("load_config checks that every secret and certificate file it names can be read") {
    TempDir temp;
    const std::string config_path = temp.path() + "/receiver.yml";
    write_file(temp.path() + "/present", "x\n");
    struct Row {
        std::string yaml;
        std::string key; // named in the error; empty: loads
    };
    const Row rows[] = {
        {"services: {a: {rollback: {webhook: {url: 'http://h/', headers: {X-T: {file: present}}}}}}\n", ""},
        {"services: {a: {rollback: {webhook: {url: 'http://h/', headers: {X-T: {file: absent}}}}}}\n",
         "services.a.rollback.webhook.headers.X-T.file: cannot read " + temp.path() + "/absent"},
        {"services: {a: {rollback: {github_workflow: {repository: o/r, workflow: w.yml, ref: main, "
         "token_file: absent}}}}\n",
         "services.a.rollback.github_workflow.token_file: cannot read"},
        {"notify: [{url: 'http://h/', tls: {ca_file: absent}}]\n", "notify[0].tls.ca_file: cannot read"},
        {"tls: {ca_file: absent}\n", "tls.ca_file: cannot read"},
        {"tls: {cert_file: absent, key_file: present}\n", "tls.cert_file: cannot read"},
    };
    for (const Row& row : rows) {
        CAPTURE(row.yaml);
        write_file(config_path, row.yaml);
        const auto loaded = load_config(config_path);
        if (row.key.empty()) {
            CHECK_MESSAGE(loaded.ok(), loaded.error());
        } else {
            REQUIRE_FALSE(loaded.ok());
            CHECK_MESSAGE(loaded.error().find(config_path + ": " + row.key) != std::string::npos,
                          loaded.error());
        }
    }
}

TEST_CASE("a token, secret, key or CA file its group or others may write fails the load, naming the file and "
          "the fix") {
    TempDir temp;
    const std::string config_path = temp.path() + "/receiver.yml";
    write_file(temp.path() + "/secret", "s3cr3t-value\n");
    write_file(temp.path() + "/api-token", "api-token-1\n");
    struct Row {
        std::string yaml;
        std::string key;
    };
    const Row rows[] = {
        {"auth: {webhook_token_file: secret}\n", "auth.webhook_token_file"},
        {"auth: {api_token_file: secret}\n", "auth.api_token_file"},
        {"auth: {api_token_file: api-token, read_token_file: secret}\n", "auth.read_token_file"},
        {"services: {a: {rollback: {webhook: {url: 'http://h/', headers: {X-T: {file: secret}}}}}}\n",
         "services.a.rollback.webhook.headers.X-T.file"},
        {"services: {a: {rollback: {github_workflow: {repository: o/r, workflow: w.yml, ref: main, "
         "token_file: secret}}}}\n",
         "services.a.rollback.github_workflow.token_file"},
        {"notify: [{url: 'http://h/', headers: {Authorization: {file: secret}}}]\n",
         "notify[0].headers.Authorization.file"},
        {"tls: {cert_file: api-token, key_file: secret}\n", "tls.key_file"},
        {"tls: {ca_file: secret}\n", "tls.ca_file"},
    };
    const struct {
        mode_t mode;
        const char* shown;
    } modes[] = {{0666, "writable by everyone (mode 0666)"}, {0620, "writable by its group (mode 0620)"}};
    for (const Row& row : rows) {
        for (const auto& mode : modes) {
            CAPTURE(row.yaml);
            CAPTURE(mode.shown);
            write_file(config_path, row.yaml);
            REQUIRE(::chmod((temp.path() + "/secret").c_str(), mode.mode) == 0);
            const auto loaded = load_config(config_path);
            REQUIRE_FALSE(loaded.ok());
            CHECK(loaded.error() == config_path + ": " + row.key + ": " + temp.path() + "/secret is " +
                                        mode.shown + "; run chmod go-w " + temp.path() + "/secret");
            CHECK(loaded.error().find("s3cr3t-value") == std::string::npos);
            REQUIRE(::chmod((temp.path() + "/secret").c_str(), 0640) == 0); // readable by a group is fine
            const auto fixed = load_config(config_path);
            CHECK_MESSAGE(fixed.ok(), fixed.error());
        }
    }
}

TEST_CASE("auth.read_token_file: a third token, read like the others; all three must differ") {
    TempDir temp;
    const std::string config_path = temp.path() + "/receiver.yml";
    const std::string all_three =
        "auth: {webhook_token_file: webhook, api_token_file: api, read_token_file: read}\n";
    SUBCASE("read and trimmed") {
        write_file(config_path, all_three);
        write_file(temp.path() + "/webhook", "webhook-1\n");
        write_file(temp.path() + "/api", "api-2\n");
        write_file(temp.path() + "/read", " read-3\n");
        const auto loaded = load_config(config_path);
        REQUIRE_MESSAGE(loaded.ok(), loaded.error());
        CHECK(loaded->config.read_token_file == temp.path() + "/read");
        CHECK(loaded->secrets.read_token == "read-3");
    }
    SUBCASE("two files holding the same token are an error naming both keys, not the token") {
        const struct {
            const char* webhook;
            const char* api;
            const char* read;
            const char* keys;
        } rows[] = {
            {"same-x", "same-x", "read-3", "auth.webhook_token_file and auth.api_token_file"},
            {"same-x", "api-2", "same-x", "auth.webhook_token_file and auth.read_token_file"},
            {"webhook-1", "same-x", "same-x", "auth.api_token_file and auth.read_token_file"},
        };
        for (const auto& row : rows) {
            CAPTURE(row.keys);
            write_file(config_path, all_three);
            write_file(temp.path() + "/webhook", std::string(row.webhook) + "\n");
            write_file(temp.path() + "/api", std::string(row.api) + "\n");
            write_file(temp.path() + "/read", std::string(row.read) + "\n");
            const auto loaded = load_config(config_path);
            REQUIRE_FALSE(loaded.ok());
            CHECK(loaded.error() == config_path + ": " + row.keys +
                                        " hold the same token; each must be its own "
                                        "(e.g. openssl rand -hex 32)");
            CHECK(loaded.error().find("same-x") == std::string::npos);
        }
    }
    SUBCASE("a read token without the API token is an error: the API would be open anyway") {
        write_file(config_path, "auth: {read_token_file: read}\n");
        write_file(temp.path() + "/read", "read-3\n");
        const auto loaded = load_config(config_path);
        REQUIRE_FALSE(loaded.ok());
        CHECK(loaded.error().find(config_path +
                                  ": auth.read_token_file: a read token needs auth.api_token_file") !=
              std::string::npos);
    }
    SUBCASE("the token itself is not allowed in the config") {
        const auto parsed = parse_config("auth: {read_token: abc}\n", "test.yml", ".");
        REQUIRE_FALSE(parsed.ok());
        CHECK(parsed.error().find("auth.read_token: tokens are not allowed in the config file") !=
              std::string::npos);
    }
}

// Restores the process's umask when the test ends.
class UmaskGuard {
  public:
    explicit UmaskGuard(mode_t mask) : previous_(::umask(mask)) {}
    ~UmaskGuard() { ::umask(previous_); }
    UmaskGuard(const UmaskGuard&) = delete;
    UmaskGuard& operator=(const UmaskGuard&) = delete;

  private:
    mode_t previous_;
};

mode_t mode_of(const std::string& path) {
    struct stat status {};
    REQUIRE(::stat(path.c_str(), &status) == 0);
    return status.st_mode & 07777;
}

TEST_CASE("create_private_folders and open_private_file create 0700 and 0600 whatever the umask; existing "
          "ones keep their mode") {
    TempDir temp;
    for (const mode_t mask : {mode_t{0}, mode_t{022}, mode_t{0277}}) {
        CAPTURE(mask);
        UmaskGuard umask_for_this_round(mask);
        const std::string top = temp.path() + "/round-" + std::to_string(mask);
        REQUIRE_MESSAGE(create_private_folders(top + "/a/b").ok(), top);
        CHECK(mode_of(top) == 0700);
        CHECK(mode_of(top + "/a") == 0700);
        CHECK(mode_of(top + "/a/b") == 0700);
        auto opened = open_private_file(top + "/a/b/file", O_WRONLY | O_APPEND);
        REQUIRE_MESSAGE(opened.ok(), opened.error());
        CHECK(mode_of(top + "/a/b/file") == 0600);
    }
    UmaskGuard usual(022);
    write_file(temp.path() + "/existing", "x\n");
    REQUIRE(::chmod((temp.path() + "/existing").c_str(), 0640) == 0);
    CHECK(open_private_file(temp.path() + "/existing", O_RDONLY).ok());
    CHECK(mode_of(temp.path() + "/existing") == 0640);
    CHECK(create_private_folders(temp.path()).ok()); // exists: nothing to do, its mode stays
    const auto blocked = create_private_folders(temp.path() + "/existing/below");
    REQUIRE_FALSE(blocked.ok());
    CHECK(blocked.error() == "cannot create the folder " + temp.path() + "/existing: Not a directory");
    CHECK(open_private_file(temp.path() + "/absent/file", O_RDONLY).error() ==
          "cannot open " + temp.path() + "/absent/file: No such file or directory");
}

TEST_CASE("read_secret_file trims the secret and rejects what cannot be one") {
    TempDir temp;
    write_file(temp.path() + "/token", "  ghp_abc def \n");
    write_file(temp.path() + "/empty", " \n");
    write_file(temp.path() + "/two-lines", "a\nb\n");
    CHECK(read_secret_file(temp.path() + "/token").value() == "ghp_abc def");
    CHECK(read_secret_file(temp.path() + "/empty").error().find("is empty") != std::string::npos);
    CHECK(read_secret_file(temp.path() + "/two-lines").error().find("more than one line") !=
          std::string::npos);
    CHECK(read_secret_file(temp.path() + "/absent").error().find("cannot read") != std::string::npos);
}

TEST_CASE("load_config reads the file and the token files") {
    TempDir temp;
    const std::string config_dir = temp.path() + "/conf";
    const std::string config_path = config_dir + "/receiver.yml";
    const std::string with_tokens = "ledger: {path: data/ledger.db}\n"
                                    "auth:\n  webhook_token_file: secrets/webhook-token\n"
                                    "  api_token_file: secrets/api-token\n";

    SUBCASE("tokens are read and trimmed; paths are relative to the config's folder") {
        write_file(config_path, with_tokens);
        write_file(config_dir + "/secrets/webhook-token", "  hook-token-123\n");
        write_file(config_dir + "/secrets/api-token", "\tapi-token-456\r\n\n");
        const auto loaded = load_config(config_path);
        REQUIRE_MESSAGE(loaded.ok(), loaded.error());
        CHECK(loaded->config.source == config_path);
        CHECK(loaded->config.ledger_path == config_dir + "/data/ledger.db");
        CHECK(loaded->config.webhook_token_file == config_dir + "/secrets/webhook-token");
        CHECK(loaded->secrets.webhook_token == "hook-token-123");
        CHECK(loaded->secrets.api_token == "api-token-456");
    }
    SUBCASE("the PostgreSQL DSN is read from its file, trimmed; a missing one names the key and the file") {
        write_file(config_path, "ledger:\n  postgres: {dsn_file: secrets/ledger-dsn}\n");
        const auto missing = load_config(config_path);
        REQUIRE_FALSE(missing.ok());
        INFO(missing.error());
        CHECK(missing.error().rfind(config_path + ": ledger.postgres.dsn_file: ", 0) == 0);
        CHECK(missing.error().find(config_dir + "/secrets/ledger-dsn") != std::string::npos);
        write_file(config_dir + "/secrets/ledger-dsn", "  host=db user=rr password=s3cret dbname=ledger\n");
        const auto loaded = load_config(config_path);
        REQUIRE_MESSAGE(loaded.ok(), loaded.error());
        CHECK(loaded->secrets.ledger_dsn == "host=db user=rr password=s3cret dbname=ledger");
    }
    SUBCASE("no auth section: no tokens") {
        write_file(config_path, "listen_address: localhost:0\n");
        const auto loaded = load_config(config_path);
        REQUIRE_MESSAGE(loaded.ok(), loaded.error());
        CHECK(loaded->secrets.webhook_token.empty());
        CHECK(loaded->secrets.api_token.empty());
    }
    SUBCASE("a missing token file names the key and the file") {
        write_file(config_path, with_tokens);
        write_file(config_dir + "/secrets/webhook-token", "valid-token-xyz\n");
        const auto loaded = load_config(config_path);
        REQUIRE_FALSE(loaded.ok());
        CHECK(loaded.error() == config_path + ": auth.api_token_file: cannot read " + config_dir +
                                    "/secrets/api-token: No such file or directory");
        CHECK(loaded.error().find("valid-token-xyz") == std::string::npos);
    }
    SUBCASE("an empty or blank token file is an error") {
        for (const char* blank : {"", "\n", "  \t\r\n"}) {
            write_file(config_path, with_tokens);
            write_file(config_dir + "/secrets/webhook-token", blank);
            write_file(config_dir + "/secrets/api-token", "valid-token-xyz");
            const auto loaded = load_config(config_path);
            REQUIRE_FALSE(loaded.ok());
            CHECK(loaded.error() == config_path + ": auth.webhook_token_file: " + config_dir +
                                        "/secrets/webhook-token is empty; put the bearer token in it");
            CHECK(loaded.error().find("valid-token-xyz") == std::string::npos);
        }
    }
    SUBCASE("a token file with more than one word is an error that does not show the words") {
        write_file(config_path, with_tokens);
        write_file(config_dir + "/secrets/webhook-token", "first-half second-half\n");
        write_file(config_dir + "/secrets/api-token", "valid-token-xyz");
        const auto loaded = load_config(config_path);
        REQUIRE_FALSE(loaded.ok());
        CHECK(loaded.error().find("auth.webhook_token_file: ") != std::string::npos);
        CHECK(loaded.error().find("more than one word") != std::string::npos);
        CHECK(loaded.error().find("first-half") == std::string::npos);
        CHECK(loaded.error().find("second-half") == std::string::npos);
        CHECK(loaded.error().find("valid-token-xyz") == std::string::npos);
    }
    SUBCASE("a folder in place of a token file is an error") {
        write_file(config_path, with_tokens);
        std::filesystem::create_directories(config_dir + "/secrets/webhook-token");
        const auto loaded = load_config(config_path);
        REQUIRE_FALSE(loaded.ok());
        CHECK(loaded.error() == config_path + ": auth.webhook_token_file: cannot read " + config_dir +
                                    "/secrets/webhook-token: Is a directory");
    }
    SUBCASE("a missing config file") {
        const auto loaded = load_config(temp.path() + "/absent.yml");
        REQUIRE_FALSE(loaded.ok());
        CHECK(loaded.error() == "cannot read " + temp.path() + "/absent.yml: No such file or directory");
    }
    SUBCASE("a config error carries the file's path") {
        write_file(config_path, "ledger: {path: [x]}\n");
        const auto loaded = load_config(config_path);
        REQUIRE_FALSE(loaded.ok());
        CHECK(loaded.error() == config_path + ": ledger.path: expected a string");
    }
    SUBCASE("a bare file name uses the working directory as its folder") {
        write_file(temp.path() + "/receiver.yml", "auth: {api_token_file: api-token}\n");
        write_file(temp.path() + "/api-token", "api-token-789\n");
        WorkingDirectoryGuard restore_cwd;
        std::filesystem::current_path(temp.path());
        const auto loaded = load_config("receiver.yml");
        REQUIRE_MESSAGE(loaded.ok(), loaded.error());
        CHECK(loaded->config.ledger_path == "data/ledger.db");
        CHECK(loaded->config.api_token_file == "api-token");
        CHECK(loaded->secrets.api_token == "api-token-789");
    }
}

TEST_CASE("the example config/receiver.yml in the repository is valid") {
    const std::string config_dir = std::string(ROLLBACK_SOURCE_DIR) + "/config";
    const auto loaded = load_config(config_dir + "/receiver.yml");
    REQUIRE_MESSAGE(loaded.ok(), loaded.error());
    const Config& config = loaded->config;
    CHECK(config.listen_address == "127.0.0.1:9095");
    CHECK(config.ledger_path == config_dir + "/data/ledger.db");
    CHECK(config.audit_file == config_dir + "/data/audit.jsonl");
    CHECK(config.webhook_token_file.empty());
    CHECK(config.api_token_file.empty());
    CHECK(config.service_label == "service");
    CHECK(config.environment_label == "environment");
    CHECK(config.defaults.watch_window == 30min);
    CHECK(config.defaults.debounce == 0s);
    CHECK(config.defaults.rollback.timeout == 10min);
    CHECK(config.defaults.rollback.retries == 2);
    CHECK(config.defaults.rollback.retry_backoff == 10s);
    REQUIRE(config.services.count("checkout") == 1);
    const ServiceSettings& checkout = config.services.at("checkout");
    CHECK(checkout.watch_window == 15min);
    CHECK(checkout.rollback.command == std::vector<std::string>{config_dir + "/scripts/rollback.sh",
                                                                "{{service}}", "{{previous_version}}"});
    CHECK(checkout.rollback.timeout == 10min);
}

TEST_CASE("the example config/receiver-ha.yml of the high-availability stack is valid") {
    // Its secret files are made by the compose `secrets` service, so the config is read from a copy
    // beside sample ones.
    TempDir temp;
    const std::string config_dir = temp.path() + "/config";
    std::filesystem::create_directories(config_dir + "/secrets");
    std::filesystem::copy_file(std::string(ROLLBACK_SOURCE_DIR) + "/config/receiver-ha.yml",
                               config_dir + "/receiver-ha.yml");
    write_file(config_dir + "/secrets/webhook-token", "webhook-token-123\n");
    write_file(config_dir + "/secrets/api-token", "api-token-456\n");
    write_file(config_dir + "/secrets/ledger-dsn",
               "host=postgres dbname=rollback user=rollback password=pw\n");
    const auto loaded = load_config(config_dir + "/receiver-ha.yml");
    REQUIRE_MESSAGE(loaded.ok(), loaded.error());
    const Config& config = loaded->config;
    CHECK(config.listen_address == "0.0.0.0:9095");
    CHECK(config.ledger_postgres_dsn_file == config_dir + "/secrets/ledger-dsn");
    CHECK(config.ledger_claim_lease == 30s);
    CHECK(loaded->secrets.ledger_dsn == "host=postgres dbname=rollback user=rollback password=pw");
    CHECK(loaded->secrets.webhook_token == "webhook-token-123");
    REQUIRE(config.services.count("demo") == 1);
    const auto& command = config.services.at("demo").rollback.command;
    REQUIRE(command.size() == 2);
    CHECK(command[0] == temp.path() + "/examples/demo-service/rollback");
    CHECK(command[1] == "{{previous_version}}");
}

} // namespace rollback

TEST_CASE("a lone ',' is a YAML syntax error, not an endless loop (found by fuzz_parse_config)") {
    for (const std::string text : {",", "# comment\n,", ",defaults: {}"}) {
        CAPTURE(text);
        const auto parsed = rollback::parse_config(text, "receiver.yml", "/tmp");
        REQUIRE_FALSE(parsed.ok());
        CHECK(parsed.error().rfind("receiver.yml: YAML syntax error at line", 0) == 0);
    }
    CHECK(rollback::parse_config("listen_address: 127.0.0.1:9095\n", "receiver.yml", "/tmp").ok());
    CHECK(!rollback::parse_config("a: 1\n---\nb: 2\n", "receiver.yml", "/tmp").ok());
}
