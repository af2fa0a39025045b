// TestReceiver: a temporary folder with config, tokens and a recording rollback script, the real daemon on
// 127.0.0.1:0, and its ledger read directly with SQLite; shared by the fault and hostile-request tests.
#pragma once

#include "support/daemon_process.hpp"
#include "support/temp_dir.hpp"

#include "common/time_util.hpp"

#include <doctest/doctest.h>
#include <nlohmann/json.hpp>
#include <sqlite3.h>

#include <algorithm>
#include <chrono>
#include <fstream>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace rollback::testing {

// Sanitizer builds run several times slower: tests widen their time bounds with this.
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
inline constexpr bool kSanitizedBuild = true;
#else
inline constexpr bool kSanitizedBuild = false;
#endif

inline const std::string kFixtureWebhookToken = "webhook-token-7c1d2e";
inline const std::string kFixtureApiToken = "api-token-3b4a5f";
inline const std::string kFixtureReadToken = "read-token-8e9d0c"; // auth.read_token_file, with_read_token()

inline std::vector<std::string> lines_of(const std::string& path) {
    std::vector<std::string> lines;
    std::ifstream in(path);
    for (std::string line; std::getline(in, line);)
        if (!line.empty()) lines.push_back(line);
    return lines;
}

// A fingerprint the webhook takes (lowercase hex digits, at most 64) made from `text` (up to 32 bytes): each
// byte as two hex digits, so different texts give different fingerprints.
inline std::string hex_fingerprint(const std::string& text) {
    static constexpr char kDigits[] = "0123456789abcdef";
    std::string hex;
    for (const unsigned char c : text.substr(0, 32)) {
        hex += kDigits[c >> 4];
        hex += kDigits[c & 0xf];
    }
    return hex;
}

// A firing notification (Alertmanager 0.25, payload version 4) with one alert for `service`.
inline std::string firing_notification_for(const std::string& service, TimePoint starts_at,
                                           const std::string& fingerprint) {
    using json = nlohmann::json;
    json alert{{"status", "firing"},
               {"labels", {{"alertname", "HighErrorRate"}, {"service", service}, {"severity", "page"}}},
               {"annotations", {{"summary", service + " error rate is 3.1%"}}},
               {"startsAt", format_rfc3339_ms(starts_at)},
               {"endsAt", "0001-01-01T00:00:00Z"},
               {"generatorURL", "http://prometheus:9090/graph?g0.expr=x"},
               {"fingerprint", fingerprint}};
    json body{{"receiver", "rollback"},
              {"status", "firing"},
              {"alerts", json::array({alert})},
              {"groupLabels", {{"service", service}}},
              {"commonLabels", json::object()},
              {"commonAnnotations", json::object()},
              {"externalURL", "http://alertmanager:9093"},
              {"version", "4"},
              {"groupKey", "{}:{service=\"" + service + "\"}"},
              {"truncatedAlerts", 0}};
    return body.dump();
}

// Read access to a ledger file with the SQLite API, as an operator's sqlite3 shell would have it.
class LedgerFile {
  public:
    explicit LedgerFile(const std::string& path) {
        if (sqlite3_open_v2(path.c_str(), &db_, SQLITE_OPEN_READWRITE, nullptr) != SQLITE_OK) {
            const std::string message = db_ ? sqlite3_errmsg(db_) : "out of memory";
            sqlite3_close_v2(db_);
            db_ = nullptr;
            throw std::runtime_error("cannot open " + path + ": " + message);
        }
        sqlite3_busy_timeout(db_, 5000);
    }
    ~LedgerFile() { sqlite3_close_v2(db_); }
    LedgerFile(const LedgerFile&) = delete;
    LedgerFile& operator=(const LedgerFile&) = delete;

    // Every row of `sql` (constant text from the test), each column as text ("" for NULL).
    std::vector<std::vector<std::string>> rows(const std::string& sql) const {
        sqlite3_stmt* raw = nullptr;
        if (sqlite3_prepare_v2(db_, sql.c_str(), -1, &raw, nullptr) != SQLITE_OK)
            throw std::runtime_error(sql + ": " + sqlite3_errmsg(db_));
        std::unique_ptr<sqlite3_stmt, int (*)(sqlite3_stmt*)> statement(raw, sqlite3_finalize);
        std::vector<std::vector<std::string>> result;
        int rc = SQLITE_ROW;
        while ((rc = sqlite3_step(statement.get())) == SQLITE_ROW) {
            std::vector<std::string> row;
            for (int column = 0; column < sqlite3_column_count(statement.get()); ++column) {
                const auto* text =
                    reinterpret_cast<const char*>(sqlite3_column_text(statement.get(), column));
                row.emplace_back(text ? text : "");
            }
            result.push_back(std::move(row));
        }
        if (rc != SQLITE_DONE) throw std::runtime_error(sql + ": " + sqlite3_errmsg(db_));
        return result;
    }
    // The first column of every row.
    std::vector<std::string> column(const std::string& sql) const {
        std::vector<std::string> values;
        for (auto& row : rows(sql))
            values.push_back(row.empty() ? "" : row[0]);
        return values;
    }
    // "ok" when PRAGMA integrity_check finds nothing wrong; otherwise its findings.
    std::string integrity() const {
        std::string findings;
        for (const auto& line : column("PRAGMA integrity_check"))
            findings += (findings.empty() ? "" : "\n") + line;
        return findings;
    }

  private:
    sqlite3* db_ = nullptr;
};

struct ReceiverSetup {
    // YAML lines under `services:` (each service indented by two spaces).
    std::string services_yaml;
    // The `defaults.rollback` mapping: the action of every service not in services_yaml.
    std::string default_rollback =
        "{command: [scripts/rollback.sh], timeout: 60s, retries: 0, retry_backoff: 100ms}";
    // Body of scripts/rollback.sh after its first line, which appends "$ROLLBACK_DEPLOYMENT_ID" to runs.txt.
    std::string script_body;
    // The ledger's folder, relative to the config (a test may mount a small file system there first).
    std::string ledger_folder = "data";
    // YAML lines added at the top level of the config (e.g. "request_read_timeout: 500ms\n").
    std::string top_level_yaml;
    // Also configure auth.read_token_file holding kFixtureReadToken.
    bool read_token = false;

    ReceiverSetup& with_services(std::string yaml) {
        services_yaml = std::move(yaml);
        return *this;
    }
    ReceiverSetup& with_script(std::string body) {
        script_body = std::move(body);
        return *this;
    }
    ReceiverSetup& with_ledger_folder(std::string folder) {
        ledger_folder = std::move(folder);
        return *this;
    }
    ReceiverSetup& with_top_level(std::string yaml) {
        top_level_yaml = std::move(yaml);
        return *this;
    }
    ReceiverSetup& with_read_token() {
        read_token = true;
        return *this;
    }
};

class TestReceiver {
  public:
    explicit TestReceiver(ReceiverSetup setup = {}) : setup_(std::move(setup)) {
        runs_path_ = dir_.file("runs.txt");
        ledger_path_ = dir_.file(setup_.ledger_folder + "/ledger.db");
        // One line per run, appended with O_APPEND (>>), so concurrent runs never lose a line.
        dir_.write("scripts/rollback.sh",
                   "#!/bin/sh\necho \"$ROLLBACK_DEPLOYMENT_ID\" >> '" + runs_path_ + "'\n" +
                       setup_.script_body,
                   true);
        dir_.write("secrets/webhook-token", kFixtureWebhookToken + "\n");
        dir_.write("secrets/api-token", kFixtureApiToken + "\n");
        if (setup_.read_token) dir_.write("secrets/read-token", kFixtureReadToken + "\n");
        config_path_ = dir_.write(
            "receiver.yml",
            "listen_address: 127.0.0.1:0\n" + setup_.top_level_yaml +
                "ledger: {path: " + setup_.ledger_folder +
                "/ledger.db}\n"
                "auth:\n  webhook_token_file: secrets/webhook-token\n"
                "  api_token_file: secrets/api-token\n" +
                (setup_.read_token ? "  read_token_file: secrets/read-token\n" : "") +
                "defaults:\n  watch_window: 30m\n  rollback: " + setup_.default_rollback + "\nservices:\n" +
                (setup_.services_yaml.empty() ? "  checkout: {watch_window: 30m}\n" : setup_.services_yaml));
    }

    // Starts the daemon and waits for it to listen (REQUIREd).
    void start() {
        launch();
        url_ = daemon_->wait_until_listening(std::chrono::seconds(30));
        REQUIRE_MESSAGE(!url_.empty(), "the receiver did not start:\n" << daemon_->log());
    }
    // Starts the daemon without waiting for it.
    void launch() { daemon_ = std::make_unique<DaemonProcess>(arguments(), dir_.file("receiver.log")); }
    void kill9() { daemon_->kill9(); }
    // SIGTERM; the exit status (-1 if it did not end within 30 s).
    int stop() {
        daemon_->signal(SIGTERM);
        return daemon_->wait_exit(std::chrono::seconds(30));
    }

    HttpClientResponse api(const std::string& method, const std::string& path, const std::string& body = {},
                           int timeout_seconds = 10) const {
        return http_request(url_, method, path, body, {{"Authorization", "Bearer " + kFixtureApiToken}},
                            timeout_seconds);
    }
    HttpClientResponse webhook(const std::string& body, int timeout_seconds = 10) const {
        return http_request(url_, "POST", "/webhook", body,
                            {{"Authorization", "Bearer " + kFixtureWebhookToken}}, timeout_seconds);
    }
    HttpClientResponse record(const std::string& id, const std::string& service, const std::string& version,
                              const std::string& previous, int timeout_seconds = 10) const {
        nlohmann::json body{{"id", id}, {"service", service}, {"version", version}};
        if (!previous.empty()) body["previous_version"] = previous;
        return api("POST", "/api/v1/deployments", body.dump(), timeout_seconds);
    }
    // The deployment as the API shows it; null when it is unknown or the API did not answer 200.
    nlohmann::json deployment(const std::string& id) const {
        const auto response = api("GET", "/api/v1/deployments/" + id);
        if (response.status != 200) return nullptr;
        return nlohmann::json::parse(response.body, nullptr, false);
    }
    std::vector<nlohmann::json> audit(const std::string& deployment_id) const {
        const auto response = api("GET", "/api/v1/audit?deployment_id=" + deployment_id + "&limit=1000");
        REQUIRE(response.status == 200);
        return nlohmann::json::parse(response.body)["events"].get<std::vector<nlohmann::json>>();
    }
    // Waits (at most `limit`) until the deployment's state is one of `states`; the last state seen.
    std::string wait_for_state(const std::string& id, const std::vector<std::string>& states,
                               std::chrono::milliseconds limit = std::chrono::seconds(30)) const {
        const auto give_up = std::chrono::steady_clock::now() + limit;
        std::string state;
        while (std::chrono::steady_clock::now() < give_up) {
            const auto found = deployment(id);
            state = found.is_object() ? found.value("state", "") : "";
            if (std::find(states.begin(), states.end(), state) != states.end()) return state;
            std::this_thread::sleep_for(std::chrono::milliseconds(20));
        }
        return state;
    }

    std::vector<std::string> runs() const { return lines_of(runs_path_); }
    const TempDir& dir() const { return dir_; }
    const std::string& url() const { return url_; }
    const std::string& ledger_path() const { return ledger_path_; }
    DaemonProcess& daemon() { return *daemon_; }

  private:
    std::vector<std::string> arguments() const { return {"--config.file=" + config_path_}; }

    ReceiverSetup setup_;
    TempDir dir_;
    std::string runs_path_;
    std::string ledger_path_;
    std::string config_path_;
    std::unique_ptr<DaemonProcess> daemon_;
    std::string url_;
};

inline std::size_t count_events(const std::vector<nlohmann::json>& events, const std::string& name) {
    return static_cast<std::size_t>(std::count_if(
        events.begin(), events.end(), [&](const nlohmann::json& e) { return e["event"] == name; }));
}

} // namespace rollback::testing
