// The real rollbackctl binary against the real receiver and a fake Prometheus, as child processes.
#include "support/daemon_process.hpp"

#include "common/time_util.hpp"
#include "http/server.hpp"

#include <doctest/doctest.h>
#include <nlohmann/json.hpp>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <sstream>

using namespace rollback;
using namespace rollback::testing;
using json = nlohmann::json;
using namespace std::chrono_literals;

namespace {

const std::string kWebhookToken = "webhook-secret-5d4c3b";
const std::string kApiToken = "api-secret-0f1e2d";

std::string ctl_binary() {
    return std::string(ROLLBACK_BINARY_DIR) + "/bin/rollbackctl";
}

std::vector<std::string> lines_of(const std::string& path) {
    std::vector<std::string> lines;
    std::ifstream in(path);
    for (std::string line; std::getline(in, line);)
        if (!line.empty()) lines.push_back(line);
    return lines;
}

bool contains(const std::string& text, const std::string& part) {
    return text.find(part) != std::string::npos;
}

struct CtlResult {
    int status = -1; // exit status; 128+N for signal N; -1 if it did not end in time
    std::string out;
    std::string err;
};

// One rollbackctl child process: stdout and stderr go to files in `dir`. The environment is the test's
// without ROLLBACK_RECEIVER_*, plus `environment`.
class CtlProcess {
  public:
    CtlProcess(const TempDir& dir, const std::vector<std::string>& arguments,
               const std::vector<std::string>& environment = {}) {
        static std::atomic<int> counter{0};
        const std::string name = "ctl-" + std::to_string(counter++);
        out_path_ = dir.file(name + ".out");
        err_path_ = dir.file(name + ".err");
        std::vector<std::string> argv{ctl_binary()};
        argv.insert(argv.end(), arguments.begin(), arguments.end());
        if (!std::filesystem::exists(argv[0]))
            throw std::runtime_error("cannot start " + argv[0] + " (build the rollbackctl target)");
        ChildOptions options;
        options.stdout_path = out_path_;
        options.stderr_path = err_path_;
        options.drop_prefixes = {"ROLLBACK_RECEIVER_"};
        options.environment = environment;
        process_ = std::make_unique<ChildProcess>(std::move(argv), options);
    }

    std::string out() const { return TempDir::read(out_path_); }

    CtlResult wait(std::chrono::milliseconds limit = 30s) {
        CtlResult result;
        result.status = process_->wait(limit);
        result.out = TempDir::read(out_path_);
        result.err = TempDir::read(err_path_);
        return result;
    }

  private:
    std::string out_path_;
    std::string err_path_;
    std::unique_ptr<ChildProcess> process_;
};

// A receiver with tokens and a rollback script that appends one line per run to runs.log.
struct Receiver {
    TempDir dir;
    std::string runs_path;
    std::string token_file;
    std::unique_ptr<DaemonProcess> daemon;
    std::string url;

    explicit Receiver(const std::string& script_body = "") {
        runs_path = dir.file("runs.log");
        dir.write("scripts/rollback.sh",
                  "#!/bin/sh\necho \"run id=$ROLLBACK_DEPLOYMENT_ID to=$ROLLBACK_TO_VERSION\" >> '" +
                      runs_path + "'\n" + script_body,
                  true);
        dir.write("secrets/webhook-token", kWebhookToken + "\n");
        token_file = dir.write("secrets/api-token", kApiToken + "\n");
        const std::string config =
            dir.write("receiver.yml", "listen_address: 127.0.0.1:0\n"
                                      "ledger: {path: data/ledger.db}\n"
                                      "auth:\n  webhook_token_file: secrets/webhook-token\n"
                                      "  api_token_file: secrets/api-token\n"
                                      "defaults:\n  watch_window: 30m\n"
                                      "  rollback: {timeout: 60s, retries: 0, retry_backoff: 100ms}\n"
                                      "services:\n  checkout:\n    rollback:\n"
                                      "      command: [scripts/rollback.sh]\n");
        daemon = std::make_unique<DaemonProcess>(std::vector<std::string>{"--config.file=" + config},
                                                 dir.file("receiver.log"));
        url = daemon->wait_until_listening();
        REQUIRE_MESSAGE(!url.empty(), "the receiver did not start:\n" << daemon->log());
    }

    // rollbackctl with --url and the API token from the environment, as CI would run it.
    CtlResult ctl(const std::vector<std::string>& arguments) {
        CtlProcess process(dir, arguments,
                           {"ROLLBACK_RECEIVER_URL=" + url, "ROLLBACK_RECEIVER_TOKEN_FILE=" + token_file});
        return process.wait();
    }

    HttpClientResponse api(const std::string& method, const std::string& path, const std::string& body = {}) {
        return http_request(url, method, path, body, {{"Authorization", "Bearer " + kApiToken}});
    }

    json deployment(const std::string& id) {
        auto response = api("GET", "/api/v1/deployments/" + id);
        REQUIRE(response.status == 200);
        return json::parse(response.body);
    }

    std::vector<json> events(const std::string& query) {
        auto response = api("GET", "/api/v1/audit?" + query + "&limit=1000");
        REQUIRE(response.status == 200);
        return json::parse(response.body)["events"].get<std::vector<json>>();
    }

    std::vector<std::string> runs() const { return lines_of(runs_path); }

    // Waits (at most 10 s) until the deployment left rolling_back and runs.log has `count` lines.
    void wait_for_rollback(const std::string& id, std::size_t count) {
        for (int i = 0; i < 500; ++i) {
            if (runs().size() >= count && deployment(id)["state"] != "rolling_back") return;
            std::this_thread::sleep_for(20ms);
        }
    }
};

std::string firing_alert(TimePoint starts_at) {
    json alert{{"status", "firing"},
               {"labels", {{"alertname", "HighErrorRate"}, {"environment", "prod"}, {"service", "checkout"}}},
               {"annotations", {{"summary", "checkout error rate is 3.1%"}}},
               {"startsAt", format_rfc3339_ms(starts_at)},
               {"endsAt", "0001-01-01T00:00:00Z"},
               {"generatorURL", "http://prometheus:9090/graph"},
               {"fingerprint", "3a218f5b4e107d69"}};
    return json{{"receiver", "rollback"},
                {"status", "firing"},
                {"alerts", json::array({alert})},
                {"groupLabels", json::object()},
                {"commonLabels", json::object()},
                {"commonAnnotations", json::object()},
                {"externalURL", "http://alertmanager:9093"},
                {"version", "4"},
                {"groupKey", "{}:{service=\"checkout\"}"},
                {"truncatedAlerts", 0}}
        .dump();
}

// A fake Prometheus on 127.0.0.1: answers GET /api/v1/query with what the test sets, and records the
// queries it was asked.
class FakePrometheus {
  public:
    FakePrometheus()
        : server_([this](const HttpRequest& request) { return answer(request); }, 1 << 20, "{}") {
        auto port = server_.bind(ListenAddress{"127.0.0.1", 0});
        REQUIRE(port.ok());
        url_ = "http://127.0.0.1:" + std::to_string(*port);
        thread_ = std::thread([this] { server_.serve(); });
    }
    ~FakePrometheus() {
        server_.stop();
        thread_.join();
    }
    FakePrometheus(const FakePrometheus&) = delete;
    FakePrometheus& operator=(const FakePrometheus&) = delete;

    void set(int status, std::string body) {
        std::lock_guard lock(mutex_);
        status_ = status;
        body_ = std::move(body);
    }
    void set_value(const std::string& value) {
        set(200, R"({"status":"success","data":{"resultType":"vector","result":[)"
                 R"({"metric":{"service":"checkout"},"value":[1764160000.5,")" +
                     value + R"("]}]}})");
    }
    void set_no_data() { set(200, R"({"status":"success","data":{"resultType":"vector","result":[]}})"); }

    std::vector<std::string> queries() const {
        std::lock_guard lock(mutex_);
        return queries_;
    }
    const std::string& url() const { return url_; }

  private:
    HttpResponse answer(const HttpRequest& request) {
        std::lock_guard lock(mutex_);
        if (request.method != "GET" || request.path != "/api/v1/query")
            return HttpResponse{404, R"({"status":"error","error":"not found"})", "application/json", {}};
        auto query = request.query.find("query");
        queries_.push_back(query == request.query.end() ? "" : query->second);
        return HttpResponse{status_, body_, "application/json", {}};
    }

    mutable std::mutex mutex_;
    int status_ = 200;
    std::string body_;
    std::vector<std::string> queries_;
    HttpServer server_;
    std::string url_;
    std::thread thread_;
};

const std::string kQuery = "max(endpoint:http_requests:error_rate5m{service=\"checkout\"})";

std::vector<std::string> verify_arguments(const std::string& prometheus_url,
                                          std::vector<std::string> extra = {}) {
    std::vector<std::string> arguments{"verify", "--prometheus", prometheus_url, "--query",
                                       kQuery,   "--threshold",  "0.01",         "--duration",
                                       "2s",     "--interval",   "200ms"};
    arguments.insert(arguments.end(), extra.begin(), extra.end());
    return arguments;
}

std::size_t count_lines_with(const std::string& text, const std::string& part) {
    std::size_t count = 0;
    std::istringstream in(text);
    for (std::string line; std::getline(in, line);)
        count += contains(line, part) ? 1 : 0;
    return count;
}

} // namespace

TEST_CASE("record prints the id; a retry with the same --id gives the same id; other fields conflict") {
    Receiver receiver;
    const std::vector<std::string> record{
        "record", "--service",     "checkout", "--version", "v2",        "--previous-version",
        "v1",     "--environment", "prod",     "--id",      "deploy-42", "--commit",
        "abc123", "--actor",       "ci"};
    const CtlResult first = receiver.ctl(record);
    CHECK_MESSAGE(first.status == 0, first.err);
    CHECK(first.out == "deploy-42\n");
    CHECK(contains(first.err, "recorded checkout v2 (previous v1) as deploy-42"));
    const CtlResult retry = receiver.ctl(record);
    CHECK_MESSAGE(retry.status == 0, retry.err);
    CHECK(retry.out == "deploy-42\n");
    CHECK(contains(retry.err, "already recorded"));
    const json stored = receiver.deployment("deploy-42");
    CHECK(stored["commit"] == "abc123");
    CHECK(stored["actor"] == "ci");

    std::vector<std::string> conflicting = record;
    conflicting[4] = "v3";
    const CtlResult conflict = receiver.ctl(conflicting);
    CHECK(conflict.status == 1);
    CHECK(conflict.out.empty());
    CHECK(contains(conflict.err, "HTTP 409"));

    // Without --id the receiver makes one; it is printed alone, for `ID=$(rollbackctl record ...)`.
    const CtlResult generated = receiver.ctl({"record", "--service", "search", "--version", "v9"});
    CHECK_MESSAGE(generated.status == 0, generated.err);
    CHECK(generated.out.rfind("search-", 0) == 0);
    CHECK(std::count(generated.out.begin(), generated.out.end(), '\n') == 1);
}

TEST_CASE("deployments and audit: the table has the row, the trail has the event, --json is the API's") {
    Receiver receiver;
    REQUIRE(receiver
                .ctl({"record", "--service", "checkout", "--version", "v2", "--previous-version", "v1",
                      "--environment", "prod", "--id", "deploy-42"})
                .status == 0);

    const CtlResult table = receiver.ctl({"deployments"});
    CHECK_MESSAGE(table.status == 0, table.err);
    CHECK(table.out.rfind("ID", 0) == 0);
    CHECK(contains(table.out, "STATE"));
    bool found = false;
    std::istringstream lines(table.out);
    for (std::string line; std::getline(lines, line);) {
        if (line.rfind("deploy-42 ", 0) != 0) continue;
        found = true;
        std::istringstream cells(line);
        std::vector<std::string> words{std::istream_iterator<std::string>(cells), {}};
        REQUIRE(words.size() == 7);
        CHECK(words[1] == "checkout");
        CHECK(words[2] == "prod");
        CHECK(words[3] == "v2");
        CHECK(words[4] == "v1");
        CHECK(words[5].back() == 's'); // recorded seconds ago
        CHECK(words[6] == "watching");
    }
    CHECK_MESSAGE(found, table.out);

    const CtlResult filtered = receiver.ctl({"deployments", "--service", "other"});
    CHECK(filtered.status == 0);
    CHECK(contains(filtered.out, "no deployments recorded for other"));

    const CtlResult as_json = receiver.ctl({"deployments", "--json"});
    CHECK(as_json.status == 0);
    CHECK(json::parse(as_json.out)["deployments"][0]["id"] == "deploy-42");

    const CtlResult audit = receiver.ctl({"audit", "--service", "checkout"});
    CHECK_MESSAGE(audit.status == 0, audit.err);
    CHECK(contains(audit.out, "TIME"));
    CHECK(count_lines_with(audit.out, "deployment_recorded") == 1);
    CHECK(contains(audit.out, "checkout/prod"));
    CHECK(contains(audit.out, "v2 -> v1"));

    const CtlResult audit_json = receiver.ctl({"audit", "--deployment", "deploy-42", "--json"});
    CHECK(audit_json.status == 0);
    CHECK(json::parse(audit_json.out)["events"][0]["event"] == "deployment_recorded");
}

TEST_CASE("audit --follow prints events recorded while it runs, once each") {
    Receiver receiver;
    REQUIRE(receiver.ctl({"record", "--service", "checkout", "--version", "v1", "--id", "deploy-1"}).status ==
            0);
    CtlProcess follow(
        receiver.dir, {"audit", "--follow-for", "4s"},
        {"ROLLBACK_RECEIVER_URL=" + receiver.url, "ROLLBACK_RECEIVER_TOKEN_FILE=" + receiver.token_file});
    for (int i = 0; i < 500 && !contains(follow.out(), "deploy-1"); ++i)
        std::this_thread::sleep_for(10ms);
    REQUIRE(contains(follow.out(), "deploy-1"));
    REQUIRE(receiver.ctl({"record", "--service", "checkout", "--version", "v2", "--id", "deploy-2"}).status ==
            0);
    const CtlResult followed = follow.wait();
    CHECK_MESSAGE(followed.status == 0, followed.err);
    CHECK(count_lines_with(followed.out, "deployment_recorded") == 2); // each event once
    CHECK(count_lines_with(followed.out, "deploy-2") >= 1);
    CHECK(count_lines_with(followed.out, "TIME") == 1); // one header
}

TEST_CASE("usage errors exit 2 with a usage line; a wrong token or no receiver is a clear failure") {
    Receiver receiver;
    const CtlResult unknown = receiver.ctl({"frobnicate"});
    CHECK(unknown.status == 2);
    CHECK(contains(unknown.err, "unknown command \"frobnicate\""));
    CHECK(contains(unknown.err, "usage: rollbackctl"));

    const CtlResult missing = receiver.ctl({"record", "--version", "v2"});
    CHECK(missing.status == 2);
    CHECK(contains(missing.err, "record needs --service"));
    CHECK(contains(missing.err, "usage: rollbackctl"));

    const CtlResult unknown_flag = receiver.ctl({"deployments", "--servce", "checkout"});
    CHECK(unknown_flag.status == 2);
    CHECK(contains(unknown_flag.err, "unknown flag --servce for deployments"));

    const CtlResult help = receiver.ctl({"verify", "--help"});
    CHECK(help.status == 0);
    CHECK(contains(help.out, "--on-error fail|ignore"));
    CHECK(contains(help.out, "Exit status:"));

    const std::string wrong_token = receiver.dir.write("secrets/wrong", "not-the-token\n");
    CtlProcess wrong(receiver.dir, {"--url", receiver.url, "--token-file", wrong_token, "deployments"});
    const CtlResult refused = wrong.wait();
    CHECK(refused.status == 1);
    CHECK(contains(refused.err, "the receiver refused the API token (HTTP 401)"));
    CHECK(contains(refused.err, "--token-file or ROLLBACK_RECEIVER_TOKEN_FILE"));
    CHECK_FALSE(contains(refused.err, "not-the-token"));

    CtlProcess no_token(receiver.dir, {"--url", receiver.url, "deployments"});
    const CtlResult anonymous = no_token.wait();
    CHECK(anonymous.status == 1);
    CHECK(contains(anonymous.err, "no token was sent"));

    // Nothing listens on the stopped receiver's port.
    receiver.daemon->signal(SIGTERM);
    REQUIRE(receiver.daemon->wait_exit() == 0);
    const CtlResult unreachable = receiver.ctl({"deployments"});
    CHECK(unreachable.status == 2);
    CHECK(contains(unreachable.err, "cannot reach the receiver at " + receiver.url));
}

TEST_CASE("pause and resume: visible in deployments, alerts ignored with reason paused") {
    Receiver receiver;
    REQUIRE(receiver
                .ctl({"record", "--service", "checkout", "--version", "v2", "--previous-version", "v1",
                      "--id", "deploy-42"})
                .status == 0);
    const CtlResult paused = receiver.ctl({"pause", "checkout", "--reason", "incident 7", "--for", "30m"});
    CHECK_MESSAGE(paused.status == 0, paused.err);
    CHECK(contains(paused.out, "paused automatic rollbacks of checkout: incident 7 (until "));

    const CtlResult table = receiver.ctl({"deployments"});
    CHECK(contains(table.out, "watching (paused)"));
    CHECK(contains(table.out, "paused: checkout \u2014 incident 7 (until "));

    const auto answer = http_request(receiver.url, "POST", "/webhook", firing_alert(Clock::now() + 1s),
                                     {{"Authorization", "Bearer " + kWebhookToken}});
    REQUIRE(answer.status == 200);
    std::this_thread::sleep_for(200ms);
    CHECK(receiver.runs().empty());
    const CtlResult audit = receiver.ctl({"audit", "--deployment", "deploy-42"});
    CHECK(count_lines_with(audit.out, "alert_ignored") == 1);
    CHECK(contains(audit.out, "paused"));
    CHECK(contains(audit.out, "HighErrorRate: checkout error rate is 3.1%"));

    const CtlResult resumed = receiver.ctl({"resume", "checkout"});
    CHECK_MESSAGE(resumed.status == 0, resumed.err);
    CHECK(resumed.out == "resumed automatic rollbacks of checkout\n");
    const CtlResult after = receiver.ctl({"deployments"});
    CHECK_FALSE(contains(after.out, "paused"));
}

TEST_CASE("rollback: once, a second time refused with the reason, unknown id refused, reason required") {
    Receiver receiver;
    REQUIRE(receiver
                .ctl({"record", "--service", "checkout", "--version", "v2", "--previous-version", "v1",
                      "--id", "deploy-42"})
                .status == 0);
    const CtlResult started =
        receiver.ctl({"rollback", "deploy-42", "--reason", "checkout is failing", "--actor", "alice"});
    CHECK_MESSAGE(started.status == 0, started.err);
    CHECK(contains(started.out, "rollback of deploy-42 started: checkout v2 -> v1"));
    receiver.wait_for_rollback("deploy-42", 1);
    CHECK(receiver.runs() == std::vector<std::string>{"run id=deploy-42 to=v1"});
    CHECK(receiver.deployment("deploy-42")["state"] == "rolled_back");

    const CtlResult again = receiver.ctl({"rollback", "deploy-42", "--reason", "once more"});
    CHECK(again.status == 1);
    CHECK(contains(again.err, "HTTP 409"));
    CHECK(contains(again.err, "rolled_back"));
    CHECK(receiver.runs().size() == 1);

    const CtlResult unknown = receiver.ctl({"rollback", "deploy-404", "--reason", "x"});
    CHECK(unknown.status == 1);
    CHECK(contains(unknown.err, "HTTP 404"));

    const CtlResult no_reason = receiver.ctl({"rollback", "deploy-42"});
    CHECK(no_reason.status == 2);
    CHECK(contains(no_reason.err, "rollback needs --reason"));
}

TEST_CASE("rollback: eight concurrent rollbackctl processes, one rollback") {
    Receiver receiver("sleep 0.3\n");
    REQUIRE(receiver
                .ctl({"record", "--service", "checkout", "--version", "v2", "--previous-version", "v1",
                      "--id", "deploy-42"})
                .status == 0);
    std::vector<std::unique_ptr<CtlProcess>> processes;
    for (int i = 0; i < 8; ++i)
        processes.push_back(std::make_unique<CtlProcess>(
            receiver.dir,
            std::vector<std::string>{"rollback", "deploy-42", "--reason", "race " + std::to_string(i)},
            std::vector<std::string>{"ROLLBACK_RECEIVER_URL=" + receiver.url,
                                     "ROLLBACK_RECEIVER_TOKEN_FILE=" + receiver.token_file}));
    int started = 0, refused = 0;
    for (auto& process : processes) {
        const CtlResult result = process->wait();
        started += result.status == 0 ? 1 : 0;
        refused += result.status == 1 && contains(result.err, "HTTP 409") ? 1 : 0;
    }
    CHECK(started == 1);
    CHECK(refused == 7);
    receiver.wait_for_rollback("deploy-42", 1);
    std::this_thread::sleep_for(100ms);
    CHECK(receiver.runs().size() == 1);
}

TEST_CASE("verify against a fake Prometheus: pass, fail fast, no data and errors per policy") {
    FakePrometheus prometheus;
    TempDir dir;
    auto verify = [&](std::vector<std::string> extra = {}) {
        CtlProcess process(dir, verify_arguments(prometheus.url(), std::move(extra)));
        return process.wait();
    };

    SUBCASE("under the threshold for the whole duration: exit 0, one line per poll") {
        prometheus.set_value("0.0031");
        const CtlResult result = verify();
        CHECK_MESSAGE(result.status == 0, result.out << result.err);
        const std::size_t polls = count_lines_with(result.out, "value=0.0031 threshold=0.01 ok");
        CHECK(polls >= 3); // about 11 on an idle machine: at 0, 200ms, ..., 2s
        CHECK(polls <= 12);
        CHECK(contains(result.out, "/2s] value=0.0031"));
        CHECK(contains(result.out, "verify: passed"));
        const auto queries = prometheus.queries();
        REQUIRE_FALSE(queries.empty());
        CHECK(queries.front() == kQuery); // sent URL-encoded, arrives intact
    }
    SUBCASE("equal to the threshold passes") {
        prometheus.set_value("0.01");
        CHECK(verify().status == 0);
    }
    SUBCASE("over the threshold: exit 1 at the first poll") {
        prometheus.set_value("0.02");
        const auto started = std::chrono::steady_clock::now();
        const CtlResult result = verify({"--duration", "60s"});
        CHECK(result.status == 1);
        CHECK(std::chrono::steady_clock::now() - started < 30s); // did not wait for the duration
        CHECK(count_lines_with(result.out, "value=0.02 threshold=0.01 OVER THRESHOLD") == 1);
        CHECK(contains(result.out, "verify: FAILED: " + kQuery + " = 0.02 > threshold 0.01"));
    }
    SUBCASE("no data: keeps polling with --no-data ok, fails with --no-data fail") {
        prometheus.set_no_data();
        const CtlResult tolerant = verify({"--no-data", "ok"});
        CHECK(tolerant.status == 0);
        CHECK(contains(tolerant.out, "value=none threshold=0.01 no data (--no-data ok)"));
        CHECK(contains(tolerant.err, "warning: no poll returned a value"));
        const CtlResult strict = verify({"--no-data", "fail"});
        CHECK(strict.status == 1);
        CHECK(contains(strict.out, "returned no data (--no-data fail)"));
    }
    SUBCASE("HTTP 500: exit 2 at once with --on-error fail; after the duration with --on-error ignore") {
        prometheus.set(500, "{\"status\":\"error\",\"error\":\"storage unavailable\"}");
        const CtlResult strict = verify({"--on-error", "fail"});
        CHECK(strict.status == 2);
        CHECK(count_lines_with(strict.out, "error: Prometheus answered HTTP 500: storage unavailable") == 1);
        const CtlResult tolerant = verify({"--on-error", "ignore"});
        CHECK(tolerant.status == 2);
        CHECK(count_lines_with(tolerant.out, "error, ignored (--on-error ignore)") >= 3);
        CHECK(contains(tolerant.err, "every poll failed"));
    }
    SUBCASE("Prometheus not reachable: exit 2") {
        const CtlResult result = [&] {
            CtlProcess process(dir, verify_arguments("http://127.0.0.1:1"));
            return process.wait();
        }();
        CHECK(result.status == 2);
        CHECK(contains(result.out, "no answer from Prometheus"));
    }
    SUBCASE("a bad query (Prometheus 400) is an error, not a pass") {
        prometheus.set(400, R"({"status":"error","errorType":"bad_data","error":"1:5: parse error"})");
        const CtlResult result = verify();
        CHECK(result.status == 2);
        CHECK(contains(result.out, "HTTP 400: 1:5: parse error"));
    }
}

TEST_CASE("verify --rollback: over the threshold asks the receiver to roll the deployment back") {
    Receiver receiver;
    REQUIRE(receiver
                .ctl({"record", "--service", "checkout", "--version", "v2", "--previous-version", "v1",
                      "--id", "deploy-42"})
                .status == 0);
    FakePrometheus prometheus;
    prometheus.set_value("0.031");
    const CtlResult result = receiver.ctl(verify_arguments(prometheus.url(), {"--rollback", "deploy-42"}));
    CHECK_MESSAGE(result.status == 1, result.out << result.err);
    CHECK(contains(result.out, "rollback of deploy-42 started: checkout v2 -> v1"));
    receiver.wait_for_rollback("deploy-42", 1);
    CHECK(receiver.runs().size() == 1);
    CHECK(receiver.deployment("deploy-42")["state"] == "rolled_back");
    bool reason_found = false;
    for (const json& event : receiver.events("deployment_id=deploy-42"))
        reason_found =
            reason_found || contains(event.dump(), "verify: max(endpoint:http_requests:error_rate5m{");
    CHECK(reason_found);

    // A healthy value never calls the receiver.
    REQUIRE(receiver
                .ctl({"record", "--service", "checkout", "--version", "v3", "--previous-version", "v1",
                      "--id", "deploy-43"})
                .status == 0);
    prometheus.set_value("0.001");
    CHECK(receiver.ctl(verify_arguments(prometheus.url(), {"--rollback", "deploy-43", "--duration", "400ms"}))
              .status == 0);
    CHECK(receiver.deployment("deploy-43")["state"] == "watching");
}
