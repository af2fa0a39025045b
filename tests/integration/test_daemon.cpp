// The real rollback-receiver binary over HTTP on loopback: exactly once, restarts, bad input, signals.
#include "support/daemon_process.hpp"
#include "support/postgres_server.hpp"
#include "support/raw_http.hpp"

#include "common/time_util.hpp"

#include <doctest/doctest.h>
#include <nlohmann/json.hpp>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <sys/stat.h>

using namespace rollback;
using namespace rollback::testing;
using json = nlohmann::json;
using namespace std::chrono_literals;

namespace {

const std::string kWebhookToken = "webhook-secret-1f2e3d";
const std::string kApiToken = "api-secret-9a8b7c";

std::vector<std::string> lines_of(const std::string& path) {
    std::vector<std::string> lines;
    std::ifstream in(path);
    for (std::string line; std::getline(in, line);)
        if (!line.empty()) lines.push_back(line);
    return lines;
}

// A folder with a config, tokens and a rollback script that appends one line per run to runs.log.
struct Stack {
    TempDir dir;
    std::string config_path;
    std::string runs_path;
    std::unique_ptr<DaemonProcess> daemon;
    std::string url;
    std::string ledger_yaml = "ledger: {path: data/ledger.db}\n";

    explicit Stack(const std::string& script_body = "", const std::string& extra_service_yaml = "",
                   bool with_tokens = true) {
        runs_path = dir.file("runs.log");
        dir.write("scripts/rollback.sh",
                  "#!/bin/sh\n"
                  "echo \"run id=$ROLLBACK_DEPLOYMENT_ID from=$ROLLBACK_FROM_VERSION to=$ROLLBACK_TO_VERSION "
                  "args=$*\" >> '" +
                      runs_path + "'\n" + script_body,
                  true);
        dir.write("secrets/webhook-token", kWebhookToken + "\n");
        dir.write("secrets/api-token", kApiToken + "\n");
        write_config(extra_service_yaml, with_tokens);
    }

    void write_config(const std::string& extra_service_yaml, bool with_tokens = true,
                      const std::string& window = "30m") {
        std::string yaml =
            "listen_address: 127.0.0.1:0\n" + ledger_yaml + "audit: {file: data/audit.jsonl}\n";
        if (with_tokens)
            yaml +=
                "auth:\n  webhook_token_file: secrets/webhook-token\n  api_token_file: secrets/api-token\n";
        yaml +=
            "defaults:\n  watch_window: " + window +
            "\n  rollback: {timeout: 60s, retries: 0, retry_backoff: 100ms}\n"
            "services:\n  checkout:\n    rollback:\n      command: [scripts/rollback.sh, \"{{service}}\", "
            "\"--to={{previous_version}}\"]\n" +
            extra_service_yaml;
        config_path = dir.write("receiver.yml", yaml);
    }

    void start(std::vector<std::string> extra = {}) {
        std::vector<std::string> arguments{"--config.file=" + config_path};
        arguments.insert(arguments.end(), extra.begin(), extra.end());
        daemon = std::make_unique<DaemonProcess>(arguments, dir.file("receiver.log"));
        url = daemon->wait_until_listening();
        REQUIRE_MESSAGE(!url.empty(), "the receiver did not start:\n" << daemon->log());
    }

    HttpClientResponse api(const std::string& method, const std::string& path, const std::string& body = {}) {
        return http_request(url, method, path, body, {{"Authorization", "Bearer " + kApiToken}});
    }
    HttpClientResponse webhook(const std::string& body) {
        return http_request(url, "POST", "/webhook", body, {{"Authorization", "Bearer " + kWebhookToken}});
    }

    HttpClientResponse record(const std::string& id, const std::string& version,
                              const std::string& previous) {
        json body{{"id", id}, {"service", "checkout"}, {"environment", "prod"}, {"version", version}};
        if (!previous.empty()) body["previous_version"] = previous;
        return api("POST", "/api/v1/deployments", body.dump());
    }

    json deployment(const std::string& id) {
        auto response = api("GET", "/api/v1/deployments/" + id);
        REQUIRE(response.status == 200);
        return json::parse(response.body);
    }

    std::vector<std::string> runs() const { return lines_of(runs_path); }

    // Waits until runs.log has `count` lines and the deployment left rolling_back (at most 10 s).
    void wait_for_runs(std::size_t count, const std::string& id) {
        for (int i = 0; i < 500; ++i) {
            if (runs().size() >= count && deployment(id)["state"] != "rolling_back") return;
            std::this_thread::sleep_for(20ms);
        }
    }
};

std::string firing_notification(TimePoint starts_at, const std::string& fingerprint = "3a218f5b4e107d69",
                                const std::string& service = "checkout") {
    json alert{{"status", "firing"},
               {"labels",
                {{"alertname", "HighErrorRate"},
                 {"environment", "prod"},
                 {"rollback", "true"},
                 {"service", service},
                 {"severity", "page"}}},
               {"annotations", {{"summary", "checkout error rate is 3.1%"}, {"value", "0.031"}}},
               {"startsAt", format_rfc3339_ms(starts_at)},
               {"endsAt", "0001-01-01T00:00:00Z"},
               {"generatorURL", "http://prometheus:9090/graph?g0.expr=x"},
               {"fingerprint", fingerprint}};
    json body{{"receiver", "rollback"},
              {"status", "firing"},
              {"alerts", json::array({alert})},
              {"groupLabels", {{"environment", "prod"}, {"service", service}}},
              {"commonLabels", json::object()},
              {"commonAnnotations", json::object()},
              {"externalURL", "http://alertmanager:9093"},
              {"version", "4"},
              {"groupKey", "{}:{environment=\"prod\", service=\"" + service + "\"}"},
              {"truncatedAlerts", 0}};
    return body.dump();
}

std::vector<json> audit_events(Stack& stack, const std::string& deployment_id) {
    auto response = stack.api("GET", "/api/v1/audit?deployment_id=" + deployment_id + "&limit=1000");
    REQUIRE(response.status == 200);
    const json parsed = json::parse(response.body);
    return parsed["events"].get<std::vector<json>>();
}

std::size_t count_events(const std::vector<json>& events, const std::string& name) {
    return static_cast<std::size_t>(
        std::count_if(events.begin(), events.end(), [&](const json& e) { return e["event"] == name; }));
}

} // namespace

TEST_CASE("record, then a firing webhook: exactly one rollback command, with the right versions") {
    Stack stack;
    stack.start();
    auto recorded = stack.record("deploy-42", "v2", "v1");
    REQUIRE(recorded.status == 201);
    CHECK(json::parse(recorded.body)["state"] == "watching");

    auto answer = stack.webhook(firing_notification(Clock::now() + 1s));
    CHECK(answer.status == 200);
    stack.wait_for_runs(1, "deploy-42");
    const auto runs = stack.runs();
    REQUIRE(runs.size() == 1);
    CHECK(runs[0] == "run id=deploy-42 from=v2 to=v1 args=checkout --to=v1");
    CHECK(stack.deployment("deploy-42")["state"] == "rolled_back");

    // The audit trail: in the ledger and in the JSON-lines file, with what the on-call needs.
    const auto events = audit_events(stack, "deploy-42");
    CHECK(count_events(events, "rollback_started") == 1);
    CHECK(count_events(events, "rollback_succeeded") == 1);
    for (const json& event : events) {
        if (event["event"] != "rollback_succeeded") continue;
        CHECK(event["alertname"] == "HighErrorRate");
        CHECK(event["version"] == "v2");
        CHECK(event["previous_version"] == "v1");
        CHECK(event["detail"]["annotations"]["summary"] == "checkout error rate is 3.1%");
        CHECK(event["detail"]["generatorURL"] == "http://prometheus:9090/graph?g0.expr=x");
        CHECK(event["detail"]["exit_code"] == 0);
        CHECK(event["time"].get<std::string>().size() == 24); // 2026-11-26T12:30:47.407Z
    }
    auto audit_lines = lines_of(stack.dir.file("data/audit.jsonl"));
    for (int i = 0; i < 100 && audit_lines.size() < 3; ++i) { // the file line follows the ledger row
        std::this_thread::sleep_for(20ms);
        audit_lines = lines_of(stack.dir.file("data/audit.jsonl"));
    }
    CHECK(audit_lines.size() >= 3);
    CHECK(json::parse(audit_lines.back())["event"].is_string());
    // Without `instance` in the config, the receiver names itself <hostname>:<port as configured>.
    const std::string default_instance = json::parse(audit_lines.back())["instance"].get<std::string>();
    CHECK(default_instance.size() > 2);
    CHECK(default_instance.substr(default_instance.size() - 2) == ":0");
    for (const json& event : events)
        CHECK(event["instance"] == default_instance);

    // The rollback is recorded as a deployment of kind rollback; the alert still firing does not touch it.
    auto listed = stack.api("GET", "/api/v1/deployments?service=checkout");
    REQUIRE(listed.status == 200);
    const json newest = json::parse(listed.body)["deployments"][0];
    CHECK(newest["kind"] == "rollback");
    CHECK(newest["version"] == "v1");
    CHECK(stack.webhook(firing_notification(Clock::now() - 1s)).status == 200);
    std::this_thread::sleep_for(200ms);
    CHECK(stack.runs().size() == 1);

    // Tokens never appear in the log.
    const std::string log = stack.daemon->log();
    CHECK(log.find(kWebhookToken) == std::string::npos);
    CHECK(log.find(kApiToken) == std::string::npos);
}

TEST_CASE("50 concurrent duplicate webhooks give one execution") {
    Stack stack("sleep 0.3\n");
    stack.start();
    REQUIRE(stack.record("deploy-7", "v8", "v7").status == 201);
    const std::string body = firing_notification(Clock::now() + 1s);
    std::vector<HttpClientResponse> answers(50);
    std::vector<double> seconds(50);
    std::vector<std::thread> senders;
    for (std::size_t i = 0; i < answers.size(); ++i)
        senders.emplace_back([&, i] {
            const auto start = std::chrono::steady_clock::now();
            answers[i] = stack.webhook(body);
            seconds[i] = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
        });
    for (auto& sender : senders)
        sender.join();
    for (std::size_t i = 0; i < answers.size(); ++i)
        CHECK_MESSAGE(answers[i].status == 200,
                      answers[i].body << answers[i].error << " after " << seconds[i] << " s");
    stack.wait_for_runs(1, "deploy-7");
    std::this_thread::sleep_for(300ms);
    CHECK(stack.runs().size() == 1);
    CHECK(stack.deployment("deploy-7")["state"] == "rolled_back");
}

TEST_CASE("kill -9 during a rollback: after restart it is rollback_interrupted, audited, never run again") {
    Stack stack("echo $$ > '" + std::string("PIDFILE") + "'\nsleep 30\n");
    // The script writes its pid so the test can end the orphan the killed daemon leaves behind.
    const std::string pid_file = stack.dir.file("rollback.pid");
    {
        std::string script = TempDir::read(stack.dir.file("scripts/rollback.sh"));
        script.replace(script.find("PIDFILE"), 7, pid_file);
        stack.dir.write("scripts/rollback.sh", script, true);
    }
    stack.start();
    REQUIRE(stack.record("deploy-9", "v2", "v1").status == 201);
    REQUIRE(stack.record("deploy-kept", "v1", "v0").status == 201); // another service state to survive
    REQUIRE(stack.record("deploy-9b", "v3", "v2").status == 201);
    const std::string body = firing_notification(Clock::now() + 1s);
    REQUIRE(stack.webhook(body).status == 200);
    for (int i = 0; i < 300 && lines_of(pid_file).empty(); ++i)
        std::this_thread::sleep_for(20ms);
    REQUIRE(stack.runs().size() == 1);
    CHECK(stack.deployment("deploy-9b")["state"] == "rolling_back");

    stack.daemon->kill9();
    const auto orphan = lines_of(pid_file);
    REQUIRE(orphan.size() == 1);
    ::kill(-std::stoi(orphan[0]), SIGKILL); // its process group

    stack.start();
    CHECK(stack.deployment("deploy-9b")["state"] == "rollback_interrupted");
    CHECK(stack.deployment("deploy-kept")["version"] == "v1");
    const auto events = audit_events(stack, "deploy-9b");
    CHECK(count_events(events, "rollback_started") == 1);
    CHECK(count_events(events, "rollback_interrupted") == 1);
    REQUIRE(stack.webhook(body).status == 200);
    std::this_thread::sleep_for(300ms);
    CHECK(stack.runs().size() == 1);
}

TEST_CASE("a deployment answered 201 survives kill -9") {
    Stack stack;
    stack.start();
    for (int i = 0; i < 20; ++i)
        REQUIRE(stack.record("d-" + std::to_string(i), "v" + std::to_string(i + 1), "v" + std::to_string(i))
                    .status == 201);
    stack.daemon->kill9();
    stack.start();
    auto listed = stack.api("GET", "/api/v1/deployments?limit=1000");
    REQUIRE(listed.status == 200);
    CHECK(json::parse(listed.body)["deployments"].size() == 20);
    CHECK(stack.deployment("d-19")["state"] == "watching");
    CHECK(stack.deployment("d-3")["state"] == "superseded");
}

TEST_CASE("recording is idempotent on id: 201, 200 for the same retry, 409 for other content") {
    Stack stack;
    stack.start();
    CHECK(stack.record("r1", "v2", "v1").status == 201);
    CHECK(stack.record("r1", "v2", "v1").status == 200);
    auto conflict = stack.record("r1", "v3", "v1");
    CHECK(conflict.status == 409);
    CHECK(json::parse(conflict.body)["error"].get<std::string>().find("r1") != std::string::npos);
    CHECK(stack.deployment("r1")["version"] == "v2");
    // Without previous_version the ledger fills it in from the service's previous deployment.
    auto next = stack.record("r2", "v3", "");
    REQUIRE(next.status == 201);
    CHECK(json::parse(next.body)["previous_version"] == "v2");
    CHECK(stack.deployment("r1")["state"] == "superseded");
    // Without an id the receiver assigns one.
    auto generated = stack.api("POST", "/api/v1/deployments", R"({"service":"checkout","version":"v9"})");
    REQUIRE(generated.status == 201);
    CHECK(!json::parse(generated.body)["id"].get<std::string>().empty());
}

TEST_CASE("bad input gets the contract's status and a JSON error naming the field; the ledger is untouched") {
    Stack stack;
    stack.start();
    REQUIRE(stack.record("keep", "v2", "v1").status == 201);
    const std::string big(2 * 1024 * 1024, 'x');
    struct Row {
        const char* name;
        std::string method, path, body;
        bool webhook_token;
        bool send_token;
        int status;
        std::string error_contains;
    };
    const std::vector<Row> rows{
        {"malformed JSON", "POST", "/webhook", "{\"alerts\": [", true, true, 400, "malformed JSON"},
        {"missing alerts", "POST", "/webhook", R"({"version":"4"})", true, true, 400, "alerts"},
        {"unknown version", "POST", "/webhook", R"({"version":"3","alerts":[]})", true, true, 400, "version"},
        {"wrong type of alerts", "POST", "/webhook", R"({"version":"4","alerts":{}})", true, true, 400,
         "alerts"},
        {"bad startsAt", "POST", "/webhook",
         R"({"version":"4","alerts":[{"status":"firing","labels":{},"startsAt":"yesterday"}]})", true, true,
         400, "alerts[0].startsAt"},
        {"webhook without token", "POST", "/webhook", R"({"version":"4","alerts":[]})", true, false, 401,
         "token"},
        {"webhook with the API token", "POST", "/webhook", R"({"version":"4","alerts":[]})", false, true, 401,
         "token"},
        {"body over 1 MiB", "POST", "/webhook", big, true, true, 413, "larger"},
        {"deployment without service", "POST", "/api/v1/deployments", R"({"version":"v1"})", false, true, 400,
         "service"},
        {"deployed_at not RFC 3339", "POST", "/api/v1/deployments",
         R"({"service":"checkout","version":"v3","deployed_at":"26/11/2026"})", false, true, 400,
         "deployed_at"},
        // A deployment dated in the future would supersede every later one and make every alert predate it.
        {"deployed_at far in the future", "POST", "/api/v1/deployments",
         R"({"service":"checkout","version":"v3","deployed_at":"2099-01-01T00:00:00Z"})", false, true, 400,
         "deployed_at: 2099-01-01T00:00:00.000Z is more than 5m in the future"},
        {"version a number", "POST", "/api/v1/deployments", R"({"service":"checkout","version":3})", false,
         true, 400, "version"},
        {"API without token", "GET", "/api/v1/deployments", "", false, false, 401, "token"},
        {"unknown route", "GET", "/api/v2/nothing", "", false, true, 404, "no route"},
        {"unknown deployment", "GET", "/api/v1/deployments/nope", "", false, true, 404, "nope"},
        {"wrong method", "DELETE", "/webhook", "", true, true, 405, "POST"},
        {"bad limit", "GET", "/api/v1/deployments?limit=abc", "", false, true, 400, "limit"},
    };
    for (const Row& row : rows) {
        CAPTURE(row.name);
        std::vector<std::pair<std::string, std::string>> headers;
        if (row.send_token)
            headers.emplace_back("Authorization",
                                 "Bearer " + (row.webhook_token ? kWebhookToken : kApiToken));
        auto response = http_request(stack.url, row.method, row.path, row.body, headers);
        CHECK(response.status == row.status);
        json error = json::parse(response.body, nullptr, false);
        REQUIRE_MESSAGE(error.is_object(), response.body);
        CHECK(error["error"].get<std::string>().find(row.error_contains) != std::string::npos);
    }
    auto listed = stack.api("GET", "/api/v1/deployments");
    REQUIRE(listed.status == 200);
    const json deployments = json::parse(listed.body)["deployments"];
    CHECK(deployments.size() == 1);
    CHECK(deployments[0]["state"] == "watching");
    CHECK(stack.runs().empty());
    CHECK(http_request(stack.url, "GET", "/-/healthy").status == 200);
    CHECK(http_request(stack.url, "GET", "/-/ready").status == 200);
}

TEST_CASE("reload: SIGHUP and POST /-/reload apply a good config and keep the old one on a bad config") {
    Stack stack;
    stack.start();
    // Bad config: reload fails, the old config (with its rollback command) stays in use.
    const std::string good = TempDir::read(stack.config_path);
    stack.dir.write("receiver.yml", good + "bogus_key: 1\n");
    auto failed = stack.api("POST", "/-/reload");
    CHECK(failed.status == 500);
    CHECK(json::parse(failed.body)["error"] ==
          "the new configuration was rejected; the old one stays in force; see the receiver's log for why");
    CHECK(stack.daemon->log().find("bogus_key") != std::string::npos); // the reason is in the log only
    stack.daemon->signal(SIGHUP);
    std::this_thread::sleep_for(200ms);
    REQUIRE(stack.record("d1", "v2", "v1").status == 201);
    REQUIRE(stack.webhook(firing_notification(Clock::now() + 1s)).status == 200);
    stack.wait_for_runs(1, "d1");
    CHECK(stack.runs().size() == 1);

    // Good config by SIGHUP: the watch window shrinks to 1ms, so the next alert is outside it.
    stack.write_config("", true, "1ms");
    stack.daemon->signal(SIGHUP);
    for (int i = 0; i < 100 && stack.daemon->log().find("config reloaded") == std::string::npos; ++i)
        std::this_thread::sleep_for(20ms);
    REQUIRE(stack.record("d2", "v3", "v1").status == 201);
    std::this_thread::sleep_for(20ms);
    REQUIRE(stack.webhook(firing_notification(Clock::now() + 1s)).status == 200);
    std::this_thread::sleep_for(200ms);
    CHECK(stack.runs().size() == 1);
    const auto events = audit_events(stack, "d2");
    REQUIRE(!events.empty());
    CHECK(events[0]["reason"] == "outside_window");
    CHECK(stack.deployment("d2")["state"] == "healthy");
    auto metrics = http_request(stack.url, "GET", "/metrics");
    CHECK(metrics.body.find("rollback_receiver_config_reloads_total{result=\"failure\"} 2") !=
          std::string::npos);
}

TEST_CASE("POST /-/reload needs the API token; a failed reload answers a generic error, the secret in the "
          "config only in the log") {
    Stack stack;
    stack.start();
    const auto anonymous = http_request(stack.url, "POST", "/-/reload");
    CHECK(anonymous.status == 401);
    CHECK(json::parse(anonymous.body)["error"].get<std::string>().find("auth.api_token_file") !=
          std::string::npos);
    CHECK(http_request(stack.url, "POST", "/-/reload", "", {{"Authorization", "Bearer " + kWebhookToken}})
              .status == 401); // the webhook token is not the API token
    CHECK(stack.daemon->log().find("config reloaded") == std::string::npos);
    CHECK(stack.api("POST", "/-/reload").status == 200);
    CHECK(stack.api("PUT", "/-/reload").status == 200);

    // A notify URL is a secret (a Slack hook's path is its key); the config error quotes it.
    const std::string good = TempDir::read(stack.config_path);
    stack.dir.write("receiver.yml",
                    good + "notify:\n  - url: 'ftp://hooks.slack.example/services/T0/B0/SECRETXYZ'\n");
    const auto failed = stack.api("POST", "/-/reload");
    CHECK(failed.status == 500);
    CHECK(json::parse(failed.body)["error"] ==
          "the new configuration was rejected; the old one stays in force; see the receiver's log for why");
    CHECK(failed.body.find("SECRETXYZ") == std::string::npos);
    CHECK(failed.body.find("notify") == std::string::npos);
    CHECK(stack.daemon->log().find("notify[0].url") != std::string::npos);
}

TEST_CASE(
    "a reload re-applies the start-up checks: dropping the tokens of a receiver that is not on loopback "
    "is refused and the old tokens stay") {
    Stack stack;
    // 127.1 is 127.0.0.1 to bind() but not a loopback address to the exposure rule (only dotted quads, ::1
    // and localhost count): a non-loopback listener for the rule while the test stays on loopback.
    stack.start({"--web.listen-address=127.1:0"});
    stack.write_config("", false);
    stack.daemon->signal(SIGHUP);
    for (int i = 0; i < 250 && stack.daemon->log().find("config reload failed") == std::string::npos; ++i)
        std::this_thread::sleep_for(20ms);
    CHECK(stack.daemon->log().find("refusing to listen on 127.1:0 without tokens") != std::string::npos);
    CHECK(stack.api("POST", "/-/reload").status == 500);
    CHECK(http_request(stack.url, "GET", "/api/v1/deployments").status == 401); // the old tokens are in force
    CHECK(stack.api("GET", "/api/v1/deployments").status == 200);
    CHECK(stack.daemon->log().find("config reloaded") == std::string::npos);
}

namespace {

// One request as a browser's form or fetch could send it: `content_type` ("" leaves it out) and
// `extra_headers` (Origin, Sec-Fetch-Site; a Host there replaces the receiver's own), on a connection of
// its own, to 127.0.0.1:port.
RawHttpResponse browser_write(const std::string& url, const std::string& path, const std::string& body,
                              const std::string& content_type, const std::string& extra_headers) {
    RawHttpConnection connection(port_of(url));
    std::string request = "POST " + path +
                          " HTTP/1.1\r\nConnection: close\r\nContent-Length: " + std::to_string(body.size()) +
                          "\r\n" + extra_headers;
    if (extra_headers.find("Host: ") == std::string::npos)
        request += "Host: " + url.substr(url.find("://") + 3) + "\r\n";
    if (!content_type.empty()) request += "Content-Type: " + content_type + "\r\n";
    REQUIRE(connection.send(request + "\r\n" + body));
    return connection.read_response();
}

} // namespace

TEST_CASE("without tokens, a write a page of another site could send is refused, and nothing is recorded or "
          "rolled back") {
    Stack stack("", "", false);
    stack.start();
    const std::string deployment =
        R"({"id":"d1","service":"checkout","environment":"prod","version":"v2","previous_version":"v1"})";
    const std::string evil = "Origin: http://evil.example\r\n";
    struct Row {
        const char* why;
        std::string path;
        std::string body;
        std::string content_type;
        std::string headers;
        int status;
    };
    const std::vector<Row> refused{
        {"a text/plain form from another site", "/api/v1/deployments", deployment, "text/plain", evil, 403},
        {"JSON from another site", "/api/v1/deployments", deployment, "application/json", evil, 403},
        {"Sec-Fetch-Site: cross-site", "/api/v1/deployments", deployment, "application/json",
         "Sec-Fetch-Site: cross-site\r\n", 403},
        {"Origin: null (a sandboxed frame)", "/api/v1/deployments", deployment, "application/json",
         "Origin: null\r\n", 403},
        {"a rebound name: Origin and Host agree, neither is loopback", "/api/v1/deployments", deployment,
         "application/json",
         "Host: evil.example:" + std::to_string(port_of(stack.url)) +
             "\r\nOrigin: http://evil.example:" + std::to_string(port_of(stack.url)) + "\r\n",
         403},
        {"text/plain without an Origin", "/api/v1/deployments", deployment, "text/plain", "", 415},
        {"a form body", "/api/v1/deployments", deployment, "application/x-www-form-urlencoded", "", 415},
        {"no Content-Type", "/api/v1/deployments", deployment, "", "", 415},
        {"a webhook from another site", "/webhook", firing_notification(Clock::now() + 1s), "text/plain",
         evil, 403},
        {"a text/plain webhook", "/webhook", firing_notification(Clock::now() + 1s), "text/plain", "", 415},
        {"a manual rollback from another site", "/api/v1/deployments/d0/rollback", R"({"reason":"x"})",
         "text/plain", evil, 403},
        {"a pause from another site", "/api/v1/services/checkout/pause", R"({"reason":"x"})", "text/plain",
         evil, 403},
        {"a body-less reload from another site", "/-/reload", "", "", evil, 403},
    };
    REQUIRE(stack.record("d0", "v1", "v0").status == 201); // something to roll back
    for (const Row& row : refused) {
        CAPTURE(row.why);
        const RawHttpResponse response =
            browser_write(stack.url, row.path, row.body, row.content_type, row.headers);
        CHECK(response.status == row.status);
        CHECK(json::parse(response.body, nullptr, false).contains("error"));
    }
    std::this_thread::sleep_for(200ms);
    CHECK(stack.runs().empty());
    const auto listed = json::parse(stack.api("GET", "/api/v1/deployments").body)["deployments"];
    REQUIRE(listed.size() == 1); // d0 only
    CHECK(listed[0]["state"] == "watching");
    CHECK(json::parse(stack.api("GET", "/api/v1/services").body)["services"].empty());
    CHECK(stack.daemon->log().find("config reloaded") == std::string::npos);

    // What a script or a page of the receiver itself sends still works.
    const std::string self = "Origin: " + stack.url + "\r\n";
    CHECK(browser_write(stack.url, "/api/v1/deployments", deployment, "application/json; charset=utf-8", self)
              .status == 201);
    CHECK(browser_write(stack.url, "/-/reload", "", "application/x-www-form-urlencoded", "").status ==
          200); // curl -XPOST -d '': no body, no content to check
    CHECK(browser_write(stack.url, "/api/v1/services/checkout/resume", "", "",
                        "Sec-Fetch-Site: same-origin\r\n")
              .status == 200);
}

TEST_CASE("a token file that its group or others may write fails the start, naming the file and the fix") {
    for (const mode_t mode : {mode_t{0666}, mode_t{0660}}) {
        CAPTURE(mode);
        Stack stack;
        const std::string token_file = stack.dir.file("secrets/api-token");
        REQUIRE(::chmod(token_file.c_str(), mode) == 0);
        DaemonProcess refused({"--config.file=" + stack.config_path}, stack.dir.file("refused.log"));
        CHECK(refused.wait_exit() == 1);
        CHECK(refused.log().find("auth.api_token_file: " + token_file + " is writable by") !=
              std::string::npos);
        CHECK(refused.log().find("run chmod go-w " + token_file) != std::string::npos);
        CHECK(refused.log().find(kApiToken) == std::string::npos);
        REQUIRE(::chmod(token_file.c_str(), 0600) == 0);
        stack.start();
        // A reload applies the same check.
        REQUIRE(::chmod(token_file.c_str(), mode) == 0);
        CHECK(stack.api("POST", "/-/reload").status == 500);
        CHECK(stack.daemon->log().find("run chmod go-w " + token_file) != std::string::npos);
        CHECK(stack.api("GET", "/api/v1/deployments").status == 200); // the old token stays
    }
}

TEST_CASE("the ledger, its -wal, the audit file and the folder the receiver creates for them are private, "
          "whatever the umask") {
    Stack stack;
    const mode_t previous_umask = ::umask(0); // the daemon inherits it
    stack.start();
    ::umask(previous_umask);
    REQUIRE(stack.record("d1", "v2", "v1").status == 201);
    auto mode_of = [&](const std::string& name) {
        struct stat status {};
        REQUIRE_MESSAGE(::stat(stack.dir.file(name).c_str(), &status) == 0, name);
        return status.st_mode & 07777;
    };
    CHECK(mode_of("data") == 0700);
    CHECK(mode_of("data/ledger.db") == 0600);
    CHECK(mode_of("data/ledger.db-wal") == 0600);
    CHECK(mode_of("data/ledger.db-shm") == 0600);
    CHECK(mode_of("data/audit.jsonl") == 0600);
}

TEST_CASE("dry run: audits rollback_dry_run and runs nothing") {
    Stack stack;
    stack.start({"--dry-run"});
    REQUIRE(stack.record("d1", "v2", "v1").status == 201);
    REQUIRE(stack.webhook(firing_notification(Clock::now() + 1s)).status == 200);
    std::this_thread::sleep_for(300ms);
    CHECK(stack.runs().empty());
    CHECK(stack.deployment("d1")["state"] == "watching");
    CHECK(count_events(audit_events(stack, "d1"), "rollback_dry_run") == 1);
}

TEST_CASE("start-up: flags, refusal to expose without tokens, SIGTERM exits 0") {
    TempDir dir;
    SUBCASE("--version and --help exit 0, an unknown flag exits 2") {
        DaemonProcess version({"--version"}, dir.file("out.log"));
        CHECK(version.wait_exit() == 0);
        CHECK(version.log().find("rollback-receiver, version") != std::string::npos);
        DaemonProcess help({"--help"}, dir.file("help.log"));
        CHECK(help.wait_exit() == 0);
        CHECK(help.log().find("--config.file") != std::string::npos);
        DaemonProcess bad({"--no-such-flag"}, dir.file("bad.log"));
        CHECK(bad.wait_exit() == 2);
        CHECK(bad.log().find("unknown flag --no-such-flag") != std::string::npos);
    }
    SUBCASE("a non-loopback address without tokens is refused, naming the settings to add") {
        Stack stack("", "", false);
        DaemonProcess exposed({"--config.file=" + stack.config_path, "--web.listen-address=0.0.0.0:0"},
                              stack.dir.file("exposed.log"));
        CHECK(exposed.wait_exit() == 1);
        CHECK(exposed.log().find("auth.webhook_token_file") != std::string::npos);
    }
    SUBCASE("a bad config exits 1 with the key in the message") {
        const std::string config = dir.write("bad.yml", "defaults:\n  watch_window: 15x\n");
        DaemonProcess bad({"--config.file=" + config}, dir.file("badconfig.log"));
        CHECK(bad.wait_exit() == 1);
        CHECK(bad.log().find("defaults.watch_window: \"15x\" is not a duration") != std::string::npos);
    }
    SUBCASE("SIGTERM stops gracefully with exit 0") {
        Stack stack;
        stack.start();
        stack.daemon->signal(SIGTERM);
        CHECK(stack.daemon->wait_exit() == 0);
    }
}

TEST_CASE("pause, resume and manual rollback over the API") {
    Stack stack;
    stack.start();
    REQUIRE(stack.record("d1", "v2", "v1").status == 201);

    auto paused =
        stack.api("POST", "/api/v1/services/checkout/pause", R"({"reason":"incident 7","for":"1h"})");
    REQUIRE(paused.status == 200);
    CHECK(json::parse(paused.body)["paused"] == true);
    CHECK(!json::parse(paused.body)["until"].get<std::string>().empty());
    auto services = stack.api("GET", "/api/v1/services");
    REQUIRE(services.status == 200);
    CHECK(json::parse(services.body)["services"][0]["reason"] == "incident 7");

    REQUIRE(stack.webhook(firing_notification(Clock::now() + 1s)).status == 200);
    std::this_thread::sleep_for(200ms);
    CHECK(stack.runs().empty());
    const auto ignored = audit_events(stack, "d1");
    REQUIRE(!ignored.empty());
    CHECK(ignored[0]["reason"] == "paused");

    CHECK(stack.api("POST", "/api/v1/services/checkout/pause", R"({"for":"soon"})").status == 400);
    CHECK(stack.api("POST", "/api/v1/deployments/d1/rollback", R"({})").status == 400);
    CHECK(stack.api("POST", "/api/v1/deployments/nope/rollback", R"({"reason":"x"})").status == 404);

    // A manual rollback runs while paused, once.
    auto manual =
        stack.api("POST", "/api/v1/deployments/d1/rollback", R"({"reason":"customers report errors"})");
    REQUIRE(manual.status == 202);
    CHECK(json::parse(manual.body)["deployment"]["state"] == "rolling_back");
    stack.wait_for_runs(1, "d1");
    CHECK(stack.runs().size() == 1);
    auto twice = stack.api("POST", "/api/v1/deployments/d1/rollback", R"({"reason":"again"})");
    CHECK(twice.status == 409);
    CHECK(json::parse(twice.body)["error"].get<std::string>().find("rolled_back") != std::string::npos);

    auto resumed = stack.api("POST", "/api/v1/services/checkout/resume");
    REQUIRE(resumed.status == 200);
    CHECK(json::parse(resumed.body)["paused"] == false);
    CHECK(json::parse(stack.api("GET", "/api/v1/services").body)["services"].empty());
    const auto service_events =
        json::parse(stack.api("GET", "/api/v1/audit?service=checkout").body)["events"];
    std::size_t pause_events = 0;
    for (const auto& event : service_events)
        if (event["event"] == "service_paused" || event["event"] == "service_resumed") ++pause_events;
    CHECK(pause_events == 2);
}

TEST_CASE("two receivers on one PostgreSQL ledger (ledger.postgres): one store, one rollback for both") {
    const std::string dsn = shared_postgres_server().create_database() + " password=not-in-any-log";
    Stack first;
    Stack second;
    for (Stack* stack : {&first, &second}) {
        stack->dir.write("secrets/ledger-dsn", dsn + "\n");
        stack->ledger_yaml = "ledger: {postgres: {dsn_file: secrets/ledger-dsn, claim_lease: 30s}}\n"
                             "instance: receiver-" +
                             std::string(stack == &first ? "a" : "b") + "\n";
        stack->write_config("");
        stack->start();
    }
    REQUIRE_MESSAGE(first.record("pg-1", "v2", "v1").status == 201, first.daemon->log());
    CHECK(second.record("pg-1", "v2", "v1").status == 200); // the other receiver: the same ledger, a repeat
    CHECK(second.deployment("pg-1")["state"] == "watching");
    CHECK(PostgresServer::rows(dsn, "SELECT id, state FROM deployments") ==
          std::vector<std::vector<std::string>>{{"pg-1", "watching"}});
    CHECK_FALSE(std::filesystem::exists(first.dir.file("data/ledger.db"))); // no SQLite file beside it

    // Alertmanager's HA pair: both members deliver the same group, one to each receiver.
    const std::string notification = firing_notification(Clock::now() + 1s);
    CHECK(first.webhook(notification).status == 200);
    CHECK(second.webhook(notification).status == 200);
    for (int i = 0; i < 500 && first.runs().size() + second.runs().size() < 1; ++i)
        std::this_thread::sleep_for(20ms);
    for (int i = 0; i < 500 && first.deployment("pg-1")["state"] == "rolling_back"; ++i)
        std::this_thread::sleep_for(20ms);
    std::this_thread::sleep_for(300ms);
    CHECK(first.runs().size() + second.runs().size() == 1);
    CHECK(second.deployment("pg-1")["state"] == "rolled_back");
    CHECK(count_events(audit_events(first, "pg-1"), "rollback_started") == 1);
    // The trail names the receiver that wrote each event: the one that ran the rollback wrote its start.
    const std::string runner = first.runs().size() == 1 ? "receiver-a" : "receiver-b";
    for (const json& event : audit_events(second, "pg-1")) {
        CAPTURE(event.dump());
        if (event["event"] == "deployment_recorded") CHECK(event["instance"] == "receiver-a");
        if (event["event"] == "rollback_started" || event["event"] == "rollback_succeeded")
            CHECK(event["instance"] == runner);
    }
    for (Stack* stack : {&first, &second}) {
        const std::string log = stack->daemon->log();
        CHECK(log.find("not-in-any-log") == std::string::npos);
        CHECK(log.find("postgres (dsn_file ") != std::string::npos);
    }
}

namespace {

// Two receivers, receiver-a and receiver-b, on one PostgreSQL database with `lease` as claim_lease; each
// runs `script_body` after writing its run line.
void start_pair_on_postgres(Stack& first, Stack& second, const std::string& lease) {
    const std::string dsn = shared_postgres_server().create_database();
    for (Stack* stack : {&first, &second}) {
        stack->dir.write("secrets/ledger-dsn", dsn + "\n");
        stack->ledger_yaml = "ledger: {postgres: {dsn_file: secrets/ledger-dsn, claim_lease: " + lease +
                             "}}\ninstance: receiver-" + std::string(stack == &first ? "a" : "b") + "\n";
        stack->write_config("");
        stack->start();
    }
}

const json* find_event(const std::vector<json>& events, const std::string& name) {
    for (const json& event : events)
        if (event["event"] == name) return &event;
    return nullptr;
}

} // namespace

TEST_CASE("a claim lost with its receiver (kill -9): the survivor marks it rollback_interrupted after "
          "claim_lease, naming the lost receiver, and nothing runs it again") {
    // receiver-a's action writes its pid and runs long; the test ends that orphan after the kill.
    const std::string slow = "echo $$ > \"$(dirname \"$0\")/../rollback.pid\"\nsleep 20\n";
    Stack first(slow);
    Stack second(slow);
    start_pair_on_postgres(first, second, "1s");
    REQUIRE(first.record("lost-1", "v2", "v1").status == 201);
    const std::string notification = firing_notification(Clock::now() + 1s);
    REQUIRE(first.webhook(notification).status == 200);
    const std::string pid_file = first.dir.file("rollback.pid");
    for (int i = 0; i < 300 && lines_of(pid_file).empty(); ++i)
        std::this_thread::sleep_for(20ms);
    REQUIRE(first.runs().size() == 1);
    REQUIRE(second.deployment("lost-1")["state"] == "rolling_back");

    // While receiver-a lives it renews its claim: after twice the lease the claim still stands.
    std::this_thread::sleep_for(2s);
    CHECK(second.deployment("lost-1")["state"] == "rolling_back");

    first.daemon->kill9();
    const auto killed_at = std::chrono::steady_clock::now();
    const auto orphan = lines_of(pid_file);
    REQUIRE(orphan.size() == 1);
    ::kill(-std::stoi(orphan[0]), SIGKILL); // the action's process group: it ends with its receiver here

    json state;
    for (int i = 0; i < 500; ++i) { // at most 10 s; the lease is 1 s and receiver-b sweeps every 1/3 s
        state = second.deployment("lost-1")["state"];
        if (state != "rolling_back") break;
        std::this_thread::sleep_for(20ms);
    }
    const double taken_over_after =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - killed_at).count();
    MESSAGE("receiver-b took the claim over " << taken_over_after << " s after the kill (claim_lease 1s)");
    CHECK(state == "rollback_interrupted");
    CHECK(taken_over_after < 3.0);
    const auto events = audit_events(second, "lost-1");
    CHECK(count_events(events, "rollback_started") == 1);
    CHECK(count_events(events, "rollback_interrupted") == 1);
    const json* interrupted = find_event(events, "rollback_interrupted");
    REQUIRE(interrupted != nullptr);
    CHECK((*interrupted)["instance"] == "receiver-b");
    CHECK((*interrupted)["reason"] == "claim_lease_expired");
    CHECK((*interrupted)["detail"]["lost_instance"] == "receiver-a");
    CHECK((*interrupted)["detail"]["claim_lease"] == "1s");
    const json* started = find_event(events, "rollback_started");
    REQUIRE(started != nullptr);
    CHECK((*started)["instance"] == "receiver-a");

    // Alertmanager keeps delivering: receiver-b never runs the interrupted rollback by itself.
    REQUIRE(second.webhook(notification).status == 200);
    std::this_thread::sleep_for(500ms);
    CHECK(second.runs().empty());
    CHECK(first.runs().size() == 1);

    // receiver-a started again: its old claim is already taken over; nothing runs, nothing is swept twice.
    first.start();
    REQUIRE(first.webhook(notification).status == 200);
    std::this_thread::sleep_for(500ms);
    CHECK(first.runs().size() == 1);
    CHECK(count_events(audit_events(first, "lost-1"), "rollback_interrupted") == 1);
}

TEST_CASE("a rollback that outlasts claim_lease keeps its claim: its receiver renews it, the other never "
          "takes it over") {
    Stack first("sleep 3\n");
    Stack second("sleep 3\n");
    start_pair_on_postgres(first, second, "1s");
    REQUIRE(first.record("long-1", "v2", "v1").status == 201);
    REQUIRE(first.webhook(firing_notification(Clock::now() + 1s)).status == 200);
    first.wait_for_runs(1, "long-1");
    CHECK(first.deployment("long-1")["state"] == "rolled_back");
    const auto events = audit_events(second, "long-1");
    CHECK(count_events(events, "rollback_succeeded") == 1);
    CHECK(count_events(events, "rollback_interrupted") == 0);
    CHECK(first.runs().size() + second.runs().size() == 1);
}

namespace {

// Sends `bodies` (round-robin, `count` in all) as webhooks over one keep-alive connection at a time;
// returns how many were answered 200.
int send_webhooks_on_one_connection(const Stack& stack, const std::vector<std::string>& bodies, int count,
                                    int offset) {
    // A connect the busy server's backlog refuses is tried again (at most 100 times, 20 ms apart), as
    // Alertmanager's client would; a request it never answers counts as not answered.
    const auto connect = [&]() -> std::unique_ptr<RawHttpConnection> {
        for (int attempt = 0; attempt < 100; ++attempt) {
            try {
                return std::make_unique<RawHttpConnection>(port_of(stack.url));
            } catch (const std::runtime_error&) {
                std::this_thread::sleep_for(20ms);
            }
        }
        return nullptr;
    };
    auto connection = connect();
    int answered_200 = 0;
    for (int i = 0; i < count && connection; ++i) {
        const std::string& body = bodies[static_cast<std::size_t>(i + offset) % bodies.size()];
        const std::string request =
            "POST /webhook HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer " + kWebhookToken +
            "\r\nContent-Type: application/json\r\nContent-Length: " + std::to_string(body.size()) +
            "\r\n\r\n" + body;
        RawHttpResponse response;
        if (connection->send(request)) response = connection->read_response(std::chrono::seconds(10));
        if (response.status == 200) ++answered_200;
        // The server ends a keep-alive connection after a number of requests: the client connects again,
        // as Alertmanager's does, so 8 connections stay open at any time.
        if (response.status == 0 || response.head.find("Connection: close") != std::string::npos)
            connection = connect();
    }
    return answered_200;
}

// Two receivers on one PostgreSQL ledger, 8 keep-alive connections each, all sending at once.
std::vector<int> send_from_both(const Stack& first, const Stack& second,
                                const std::vector<std::string>& bodies, int per_connection) {
    constexpr int kConnections = 8;
    std::vector<int> answered(2 * kConnections, 0);
    std::vector<std::thread> senders;
    for (int c = 0; c < 2 * kConnections; ++c)
        senders.emplace_back([&, c] {
            answered[static_cast<std::size_t>(c)] =
                send_webhooks_on_one_connection(c % 2 == 0 ? first : second, bodies, per_connection, c);
        });
    for (auto& sender : senders)
        sender.join();
    return answered;
}

} // namespace

// Under ThreadSanitizer (CI's build-tsan: two instrumented receivers, each several times slower, on two busy
// cores) the second receiver once stopped answering midway through 500 per connection, with no log kept;
// not reproduced since (the logs are now printed when it happens). There the load is a fifth of it.
#if defined(__SANITIZE_THREAD__)
constexpr int kLoadDivisor = 5;
#else
constexpr int kLoadDivisor = 1;
#endif

TEST_CASE("2 receivers x 8 connections x 500 duplicates on PostgreSQL (100 under ThreadSanitizer): one "
          "execution; 16 deployments: 16, each once") {
    const std::string dsn = shared_postgres_server().create_database();
    std::string services_yaml;
    for (int s = 0; s < 16; ++s)
        services_yaml += "  svc-" + std::to_string(s) +
                         ":\n    rollback:\n      command: [scripts/rollback.sh, \"{{service}}\"]\n";
    Stack first("sleep 0.2\n");
    Stack second("sleep 0.2\n");
    second.runs_path = first.runs_path; // one log of runs for both: each line is one execution
    for (Stack* stack : {&first, &second})
        stack->dir.write("scripts/rollback.sh",
                         "#!/bin/sh\necho \"run id=$ROLLBACK_DEPLOYMENT_ID args=$*\" >> '" + first.runs_path +
                             "'\nsleep 0.2\n",
                         true);
    for (Stack* stack : {&first, &second}) {
        stack->dir.write("secrets/ledger-dsn", dsn + "\n");
        stack->ledger_yaml = "ledger: {postgres: {dsn_file: secrets/ledger-dsn, claim_lease: 30s}}\n";
        stack->write_config(services_yaml);
        stack->start();
    }

    // One deployment, 8000 deliveries of its alert.
    REQUIRE_MESSAGE(first.record("dup-1", "v2", "v1").status == 201, first.daemon->log());
    const auto one_started = std::chrono::steady_clock::now();
    const std::vector<int> answered =
        send_from_both(first, second, {firing_notification(Clock::now() + 1s)}, 500 / kLoadDivisor);
    constexpr int kDuplicates = 16 * 500 / kLoadDivisor;
    MESSAGE(
        kDuplicates << " duplicate webhooks in "
                    << std::chrono::duration<double>(std::chrono::steady_clock::now() - one_started).count()
                    << " s");
    for (std::size_t c = 0; c < answered.size(); ++c) {
        CAPTURE(c);
        CHECK(answered[c] == 500 / kLoadDivisor);
    }
    if (std::count(answered.begin(), answered.end(), 500 / kLoadDivisor) !=
        static_cast<long>(answered.size()))
        FAIL_CHECK("requests went unanswered; the receivers' logs:\n--- first\n"
                   << first.daemon->log() << "\n--- second\n"
                   << second.daemon->log());
    first.wait_for_runs(1, "dup-1");
    std::this_thread::sleep_for(300ms); // a second execution, if there were one, would have started by now
    CHECK(first.runs() == std::vector<std::string>{"run id=dup-1 args=checkout --to=v1"});
    CHECK(count_events(audit_events(first, "dup-1"), "rollback_started") == 1);

    // 16 deployments of 16 services, each alert delivered 160 times over the same 16 connections.
    std::vector<std::string> bodies;
    for (int s = 0; s < 16; ++s) {
        const std::string service = "svc-" + std::to_string(s);
        const json request{{"id", service + "-d1"},
                           {"service", service},
                           {"environment", "prod"},
                           {"version", "v2"},
                           {"previous_version", "v1"}};
        REQUIRE(first.api("POST", "/api/v1/deployments", request.dump()).status == 201);
        char fingerprint[17];
        std::snprintf(fingerprint, sizeof fingerprint, "%016x", 0xabc000 + s);
        bodies.push_back(firing_notification(Clock::now() + 1s, fingerprint, service));
    }
    const std::vector<int> answered_16 = send_from_both(first, second, bodies, 160 / kLoadDivisor);
    for (std::size_t c = 0; c < answered_16.size(); ++c) {
        CAPTURE(c);
        CHECK(answered_16[c] == 160 / kLoadDivisor);
    }
    for (int i = 0; i < 500 && first.runs().size() < 17; ++i)
        std::this_thread::sleep_for(20ms);
    for (int s = 0; s < 16; ++s) // each left rolling_back
        for (int i = 0;
             i < 500 && first.deployment("svc-" + std::to_string(s) + "-d1")["state"] == "rolling_back"; ++i)
            std::this_thread::sleep_for(20ms);
    std::this_thread::sleep_for(300ms);
    const std::vector<std::string> runs = first.runs();
    CHECK(runs.size() == 17);
    for (int s = 0; s < 16; ++s) {
        const std::string id = "svc-" + std::to_string(s) + "-d1";
        CAPTURE(id);
        CHECK(std::count(runs.begin(), runs.end(), "run id=" + id + " args=svc-" + std::to_string(s)) == 1);
        CHECK(first.deployment(id)["state"] == "rolled_back");
        CHECK(count_events(audit_events(second, id), "rollback_started") == 1);
    }
}

TEST_CASE("PostgreSQL stopped and started again: 503 within 2 s while it is away, then service resumes, "
          "nothing acknowledged lost") {
    PostgresServer server; // its own server: this test stops it
    const std::string dsn = server.create_database();
    Stack stack;
    stack.dir.write("secrets/ledger-dsn", dsn + "\n");
    stack.ledger_yaml = "ledger: {postgres: {dsn_file: secrets/ledger-dsn, claim_lease: 30s}}\n";
    stack.write_config("");
    stack.start();
    REQUIRE_MESSAGE(stack.record("before-1", "v2", "v1").status == 201, stack.daemon->log());
    CHECK(http_request(stack.url, "GET", "/-/ready").status == 200);

    server.stop();
    const auto timed = [](auto&& call) {
        const auto start = std::chrono::steady_clock::now();
        HttpClientResponse response = call();
        return std::make_pair(
            response, std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
    };
    for (int round = 0; round < 3; ++round) { // the first call meets the lost session, the others a refusal
        CAPTURE(round);
        const auto [recorded, record_seconds] = timed([&] { return stack.record("away-1", "v3", "v2"); });
        CHECK(recorded.status == 503);
        CHECK(json::parse(recorded.body)["error"].get<std::string>().find("ledger") != std::string::npos);
        CHECK(record_seconds < 2.0);
        const auto [hooked, webhook_seconds] =
            timed([&] { return stack.webhook(firing_notification(Clock::now() + 1s)); });
        CHECK(hooked.status == 503);
        CHECK(json::parse(hooked.body)["error"].is_string());
        CHECK(webhook_seconds < 2.0);
        const auto [ready, ready_seconds] = timed([&] { return http_request(stack.url, "GET", "/-/ready"); });
        CHECK(ready.status == 503);
        CHECK(ready_seconds < 2.0);
        MESSAGE("PostgreSQL away, round " << round << ": record " << record_seconds << " s, webhook "
                                          << webhook_seconds << " s, ready " << ready_seconds << " s");
        CHECK(http_request(stack.url, "GET", "/-/healthy").status == 200);
        std::this_thread::sleep_for(300ms);
    }
    CHECK(stack.runs().empty());

    server.start(); // the same port and data: the receiver connects again by itself, no restart
    int ready_status = 0;
    for (int i = 0; i < 250 && ready_status != 200; ++i) {
        ready_status = http_request(stack.url, "GET", "/-/ready").status;
        if (ready_status != 200) std::this_thread::sleep_for(20ms);
    }
    CHECK(ready_status == 200);
    CHECK(stack.record("after-1", "v3", "v2").status == 201);
    CHECK(stack.deployment("before-1")["state"] == "superseded"); // acknowledged before, still there
    CHECK(stack.deployment("after-1")["state"] == "watching");
    CHECK(stack.webhook(firing_notification(Clock::now() + 1s)).status == 200);
    stack.wait_for_runs(1, "after-1");
    CHECK(stack.runs().size() == 1);
}
