// The real daemon's webhook and github_workflow actions and notify: messages, against a scripted fake server.
#include "support/receiver_fixture.hpp"
#include "support/test_certificates.hpp"

#include "common/time_util.hpp"
#include "http/client.hpp"
#include "http/server.hpp"

#include <doctest/doctest.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <csignal>
#include <filesystem>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace rollback {
namespace {

using namespace rollback::testing;
using namespace std::chrono_literals;
using json = nlohmann::json;

const std::string kDeployToken = "deploy-token-5e6f7a";
const std::string kGithubToken = "ghp_exampleToken0123456789";

// What the fake server answers to one request.
struct ScriptedAnswer {
    int status = 204;
    std::string body;
    Duration delay = Duration::zero(); // before answering; a hang is a delay longer than the test
    bool echo = false; // the body is the request itself (method, path, query, headers, body) as JSON
};

ScriptedAnswer github_error(int status, const std::string& message) {
    return {status, json{{"message", message}, {"documentation_url", "https://docs.github.com/rest"}}.dump(),
            Duration::zero()};
}

const ScriptedAnswer kHang{200, "{}", std::chrono::seconds(60)};

// An HttpServer on 127.0.0.1:0 (HTTPS with `tls`) that records every request and answers what the test
// scripted for its path; a hanging answer ends when the server is destroyed, so the server can stop.
class FakeServer {
  public:
    explicit FakeServer(const TlsSettings& tls = {})
        : scheme_(tls.serves_https() ? "https" : "http"),
          server_([this](const HttpRequest& request) { return handle(request); }, 1 << 20, "{}", tls) {
        auto port = server_.bind(ListenAddress{"127.0.0.1", 0});
        REQUIRE_MESSAGE(port.ok(), (port.ok() ? "" : port.error()));
        port_ = *port;
        serving_ = std::thread([this] { server_.serve(); });
    }
    ~FakeServer() {
        released_ = true;
        server_.stop();
        serving_.join();
    }
    FakeServer(const FakeServer&) = delete;
    FakeServer& operator=(const FakeServer&) = delete;

    // The answers to requests for `path`, in order; the last one repeats. Unscripted paths get 204.
    void script(const std::string& path, std::vector<ScriptedAnswer> answers) {
        std::lock_guard lock(mutex_);
        scripts_[path] = std::move(answers);
    }

    std::string base_url() const { return scheme_ + "://127.0.0.1:" + std::to_string(port_); }

    std::vector<HttpRequest> requests(const std::string& path) const {
        std::lock_guard lock(mutex_);
        std::vector<HttpRequest> found;
        for (const HttpRequest& request : requests_)
            if (request.path == path) found.push_back(request);
        return found;
    }
    std::size_t total_requests() const {
        std::lock_guard lock(mutex_);
        return requests_.size();
    }

    // Waits (at most `limit`) until `count` requests for `path` arrived; the number that did.
    std::size_t wait_for(const std::string& path, std::size_t count,
                         std::chrono::milliseconds limit = std::chrono::seconds(10)) const {
        const auto give_up = std::chrono::steady_clock::now() + limit;
        while (requests(path).size() < count && std::chrono::steady_clock::now() < give_up)
            std::this_thread::sleep_for(10ms);
        return requests(path).size();
    }

  private:
    HttpResponse handle(const HttpRequest& request) {
        ScriptedAnswer answer;
        {
            std::lock_guard lock(mutex_);
            const std::size_t earlier = static_cast<std::size_t>(
                std::count_if(requests_.begin(), requests_.end(),
                              [&](const HttpRequest& r) { return r.path == request.path; }));
            requests_.push_back(request);
            const auto script = scripts_.find(request.path);
            if (script != scripts_.end() && !script->second.empty())
                answer = script->second[std::min(earlier, script->second.size() - 1)];
        }
        const auto answer_at = std::chrono::steady_clock::now() + answer.delay;
        while (!released_ && std::chrono::steady_clock::now() < answer_at)
            std::this_thread::sleep_for(10ms);
        if (answer.echo)
            answer.body = json{{"method", request.method},
                               {"path", request.path},
                               {"query", request.query},
                               {"headers", request.headers},
                               {"body", request.body}}
                              .dump();
        return HttpResponse{answer.status, answer.body, "application/json", {}};
    }

    mutable std::mutex mutex_;
    std::map<std::string, std::vector<ScriptedAnswer>> scripts_;
    std::vector<HttpRequest> requests_;
    std::atomic<bool> released_{false};
    std::string scheme_;
    int port_ = 0;
    HttpServer server_;
    std::thread serving_;
};

// The first body captured from Alertmanager 0.25 (one firing HighErrorRate alert for checkout in prod),
// starting now, with its own fingerprint.
std::string captured_firing_notification(const std::string& fingerprint) {
    json body = json::parse(TempDir::read(std::string(ROLLBACK_SOURCE_DIR) +
                                          "/tests/fixtures/alertmanager-0.25/01-firing-one-alert.json"));
    json& alert = body["alerts"][0];
    alert["startsAt"] = format_rfc3339_ms(Clock::now() + 1s); // after the deployment: rule 5
    alert["fingerprint"] = fingerprint;
    return body.dump();
}
const std::string kSummary = "checkout error rate is 3.1%";
const std::string kGeneratorUrl =
    "http://prometheus:9090/graph?g0.expr=endpoint%3Ahttp_requests%3Aerror_rate5m+%3E+0.01";

// The receiver's config with these YAML lines under `services:`.
ReceiverSetup with_services(std::string services_yaml) {
    ReceiverSetup setup;
    setup.services_yaml = std::move(services_yaml);
    return setup;
}

// The daemon with `services_yaml`, the secret files the actions read, and deployment deploy-42 of checkout
// (prod, v2 replacing v1) recorded.
void start_with_deployment(TestReceiver& receiver) {
    receiver.dir().write("secrets/deploy-token", kDeployToken + "\n");
    receiver.dir().write("secrets/github-token", kGithubToken + "\n");
    receiver.start();
    const json deployment{{"id", "deploy-42"},
                          {"service", "checkout"},
                          {"environment", "prod"},
                          {"version", "v2"},
                          {"previous_version", "v1"}};
    const auto recorded = receiver.api("POST", "/api/v1/deployments", deployment.dump());
    REQUIRE_MESSAGE(recorded.status == 201, recorded.body << recorded.error);
}

// The single event named `name` in the trail (REQUIREd to be exactly one).
json only_event(const std::vector<json>& events, const std::string& name) {
    REQUIRE_MESSAGE(count_events(events, name) == 1, name << " in " << json(events).dump(1));
    for (const json& event : events)
        if (event["event"] == name) return event;
    return nullptr;
}

double seconds_since(std::chrono::steady_clock::time_point start) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

std::string github_workflow_yaml(const FakeServer& github, const std::string& tls_line, int retries) {
    return "  checkout:\n"
           "    rollback:\n"
           "      github_workflow:\n"
           "        api_url: " +
           github.base_url() +
           "\n"
           "        repository: my-org/checkout\n"
           "        workflow: rollback.yml\n"
           "        ref: main\n"
           "        token_file: secrets/github-token\n"
           "        inputs:\n"
           "          service: \"{{service}}\"\n"
           "          version: \"{{previous_version}}\"\n"
           "          deployment_id: \"{{deployment_id}}\"\n" +
           tls_line + "      timeout: 5s\n      retries: " + std::to_string(retries) +
           "\n      retry_backoff: 100ms\n";
}

// checkout with a webhook action to `url`, more `rollback_keys` ("timeout: 5s, retries: 0") and notify: URLs.
std::string webhook_service_yaml(const std::string& url, const std::string& rollback_keys,
                                 const std::vector<std::string>& notify_urls = {}) {
    std::string yaml = "  checkout:\n";
    if (!notify_urls.empty()) yaml += "    notify:\n";
    for (const std::string& notify_url : notify_urls)
        yaml += "      - \"" + notify_url + "\"\n";
    return yaml + "    rollback: {webhook: {url: \"" + url + "\"}, " + rollback_keys + "}\n";
}

const std::string kDispatchPath = "/repos/my-org/checkout/actions/workflows/rollback.yml/dispatches";

TEST_CASE("webhook action over HTTP: one POST with the configured path, headers and body; rolled_back") {
    FakeServer hooks;
    hooks.script("/hooks/checkout/rollback", {{200, R"({"status":"queued"})", Duration::zero()}});
    const std::string services_yaml =
        "  checkout:\n"
        "    rollback:\n"
        "      webhook:\n"
        "        url: \"" +
        hooks.base_url() +
        "/hooks/{{service}}/rollback?deployment={{deployment_id}}\"\n"
        "        headers:\n"
        "          Authorization: {file: secrets/deploy-token, prefix: \"Bearer \"}\n"
        "          X-Rollback-Alert: \"{{alertname}}\"\n"
        "        body:\n"
        "          service: \"{{service}}\"\n"
        "          environment: \"{{environment}}\"\n"
        "          deployment: \"{{deployment_id}}\"\n"
        "          from: \"{{version}}\"\n"
        "          to: \"{{previous_version}}\"\n"
        "          reason: \"{{alertname}} on {{service}}, back to {{previous_version}}\"\n"
        "          dry_run: false\n"
        "          attempt_limit: 3\n"
        "          ratio: 0.5\n"
        "          quoted_number: \"3\"\n"
        "          tags: [rollback, \"{{service}}\"]\n"
        "          owner: {team: payments, page: true}\n"
        "          nothing: null\n"
        "      timeout: 5s\n"
        "      retries: 0\n";
    TestReceiver receiver(with_services(services_yaml));
    start_with_deployment(receiver);

    REQUIRE(receiver.webhook(captured_firing_notification("3a218f5b4e107d69")).status == 200);
    CHECK(receiver.wait_for_state("deploy-42", {"rolled_back", "rollback_failed"}) == "rolled_back");

    const auto requests = hooks.requests("/hooks/checkout/rollback");
    REQUIRE(requests.size() == 1);
    CHECK(hooks.total_requests() == 1);
    const HttpRequest& request = requests[0];
    CHECK(request.method == "POST");
    CHECK(request.query == std::map<std::string, std::string>{{"deployment", "deploy-42"}});
    CHECK(request.header("authorization") == "Bearer " + kDeployToken);
    CHECK(request.header("x-rollback-alert") == "HighErrorRate");
    CHECK(request.header("content-type") == "application/json");
    const json expected_body{{"service", "checkout"},
                             {"environment", "prod"},
                             {"deployment", "deploy-42"},
                             {"from", "v2"},
                             {"to", "v1"},
                             {"reason", "HighErrorRate on checkout, back to v1"},
                             {"dry_run", false},
                             {"attempt_limit", 3},
                             {"ratio", 0.5},
                             {"quoted_number", "3"},
                             {"tags", {"rollback", "checkout"}},
                             {"owner", {{"team", "payments"}, {"page", true}}},
                             {"nothing", nullptr}};
    CHECK(json::parse(request.body, nullptr, false) == expected_body);

    const auto events = receiver.audit("deploy-42");
    const json started = only_event(events, "rollback_started");
    CHECK(started["detail"]["action"] == "webhook");
    CHECK(started["detail"]["request"] ==
          "POST " + hooks.base_url() + "/<redacted>"); // the path and query may hold a secret
    const json succeeded = only_event(events, "rollback_succeeded");
    CHECK(succeeded["detail"]["http_status"] == 200);
    CHECK(succeeded["detail"]["attempts"] == 1);
    CHECK(count_events(events, "rollback_attempt_failed") == 0);

    // The secret header value stays out of the trail and the log.
    for (const json& event : events)
        CHECK(event.dump().find(kDeployToken) == std::string::npos);
    CHECK(receiver.daemon().log().find(kDeployToken) == std::string::npos);
}

TEST_CASE(
    "github_workflow over HTTPS: trusted through tls.ca_file it dispatches; an unknown certificate fails") {
    const TestCertificates& certificates = test_certificates();
    TlsSettings server_tls;
    server_tls.cert_file = certificates.server_cert_file;
    server_tls.key_file = certificates.server_key_file;
    struct Row {
        std::string name;
        std::string tls_line;
        std::string final_state;
        std::size_t requests;
        std::string reason_part;
    };
    const std::vector<Row> rows{
        {"the service's tls.ca_file is the test CA", "        tls: {ca_file: " + certificates.ca_file + "}\n",
         "rolled_back", 1, "HTTP 204"},
        {"no ca_file: the system's CAs do not know the test CA", "", "rollback_failed", 0, "certificate"},
        {"the stranger as ca_file", "        tls: {ca_file: " + certificates.stranger_cert_file + "}\n",
         "rollback_failed", 0, "certificate"},
    };
    for (const Row& row : rows) {
        CAPTURE(row.name);
        FakeServer github(server_tls);
        github.script(kDispatchPath, {{204, "", Duration::zero()}});
        // retries: 2, yet a refused certificate is one attempt: it would be refused again.
        TestReceiver receiver(with_services(github_workflow_yaml(github, row.tls_line, 2)));
        start_with_deployment(receiver);

        REQUIRE(receiver.webhook(captured_firing_notification("3a218f5b4e107d69")).status == 200);
        CHECK(receiver.wait_for_state("deploy-42", {"rolled_back", "rollback_failed"}) == row.final_state);
        const auto requests = github.requests(kDispatchPath);
        CHECK(requests.size() == row.requests);
        CHECK(github.total_requests() == row.requests);
        const auto events = receiver.audit("deploy-42");
        const json started = only_event(events, "rollback_started");
        CHECK(started["detail"]["action"] == "github_workflow");
        CHECK(started["detail"]["request"] == "workflow_dispatch my-org/checkout rollback.yml@main");
        const json end =
            only_event(events, row.final_state == "rolled_back" ? "rollback_succeeded" : "rollback_failed");
        CAPTURE(end.dump());
        CHECK(end["reason"].get<std::string>().find(row.reason_part) != std::string::npos);
        CHECK(count_events(events, "rollback_attempt_failed") == (row.final_state == "rolled_back" ? 0 : 1));
        if (requests.empty()) continue;

        const HttpRequest& request = requests[0];
        CHECK(request.method == "POST");
        CHECK(request.query.empty());
        CHECK(request.header("authorization") == "Bearer " + kGithubToken);
        CHECK(request.header("accept") == "application/vnd.github+json");
        CHECK(request.header("x-github-api-version") == "2022-11-28");
        CHECK(request.header("content-type") == "application/json");
        CHECK_FALSE(request.header("user-agent").empty()); // GitHub rejects requests without one
        const json expected{
            {"ref", "main"},
            {"inputs", {{"service", "checkout"}, {"version", "v1"}, {"deployment_id", "deploy-42"}}}};
        CHECK(json::parse(request.body, nullptr, false) == expected);
        CHECK(receiver.daemon().log().find(kGithubToken) == std::string::npos);
    }
}

TEST_CASE("github_workflow answers: 4xx fails at once with GitHub's message, 5xx/429 are retried") {
    const TestCertificates& certificates = test_certificates();
    TlsSettings server_tls;
    server_tls.cert_file = certificates.server_cert_file;
    server_tls.key_file = certificates.server_key_file;
    const std::string trust_test_ca = "        tls: {ca_file: " + certificates.ca_file + "}\n";
    struct Row {
        std::string name;
        std::vector<ScriptedAnswer> answers;
        std::size_t requests;
        std::string final_state;
        std::size_t attempt_failures;
        std::string reason_part; // of the final event
    };
    const ScriptedAnswer ok{204, "", Duration::zero()};
    const std::vector<Row> rows{
        {"401 bad token", {github_error(401, "Bad credentials")}, 1, "rollback_failed", 1, "Bad credentials"},
        {"422 invalid inputs",
         {github_error(422, "Unexpected inputs provided: [\"deployment_id\"]")},
         1,
         "rollback_failed",
         1,
         "Unexpected inputs provided"},
        {"404 unknown workflow", {github_error(404, "Not Found")}, 1, "rollback_failed", 1, "Not Found"},
        {"500 twice, then 204",
         {github_error(500, "Server Error"), github_error(500, "Server Error"), ok},
         3,
         "rolled_back",
         2,
         "HTTP 204"},
        {"429 rate limited, then 204",
         {github_error(429, "API rate limit exceeded"), ok},
         2,
         "rolled_back",
         1,
         "HTTP 204"},
        {"500 every time", {github_error(500, "Server Error")}, 3, "rollback_failed", 3, "500"},
    };
    for (const Row& row : rows) {
        CAPTURE(row.name);
        FakeServer github(server_tls);
        github.script(kDispatchPath, row.answers);
        TestReceiver receiver(with_services(github_workflow_yaml(github, trust_test_ca, 2)));
        start_with_deployment(receiver);

        REQUIRE(receiver.webhook(captured_firing_notification("3a218f5b4e107d69")).status == 200);
        CHECK(receiver.wait_for_state("deploy-42", {"rolled_back", "rollback_failed"}) == row.final_state);
        CHECK(github.requests(kDispatchPath).size() == row.requests);
        const auto events = receiver.audit("deploy-42");
        CHECK(count_events(events, "rollback_attempt_failed") == row.attempt_failures);
        const json end =
            only_event(events, row.final_state == "rolled_back" ? "rollback_succeeded" : "rollback_failed");
        CAPTURE(end.dump());
        CHECK(end["reason"].get<std::string>().find(row.reason_part) != std::string::npos);
        CHECK(end["detail"]["attempts"] == row.requests);
    }
}

TEST_CASE("a webhook action that hangs times out per attempt and is retried, then the rollback fails") {
    FakeServer hooks;
    hooks.script("/hooks/rollback", {kHang});
    TestReceiver receiver(with_services(webhook_service_yaml(
        hooks.base_url() + "/hooks/rollback", "timeout: 500ms, retries: 1, retry_backoff: 100ms")));
    start_with_deployment(receiver);

    REQUIRE(receiver.webhook(captured_firing_notification("3a218f5b4e107d69")).status == 200);
    CHECK(receiver.wait_for_state("deploy-42", {"rolled_back", "rollback_failed"}) == "rollback_failed");
    CHECK(hooks.requests("/hooks/rollback").size() == 2);
    const auto events = receiver.audit("deploy-42");
    CHECK(count_events(events, "rollback_attempt_failed") == 2);
    for (const json& event : events)
        if (event["event"] == "rollback_attempt_failed") CHECK(event["reason"] == "timed out after 500ms");
    const json failed = only_event(events, "rollback_failed");
    CHECK(failed["reason"] == "timed out after 500ms");
    CHECK(failed["detail"]["attempts"] == 2);
}

TEST_CASE("while a webhook action hangs, the daemon answers health checks, webhooks and the API at once") {
    FakeServer hooks;
    hooks.script("/hooks/rollback", {kHang});
    TestReceiver receiver(
        with_services(webhook_service_yaml(hooks.base_url() + "/hooks/rollback", "timeout: 3s, retries: 0")));
    start_with_deployment(receiver);

    const std::string notification = captured_firing_notification("3a218f5b4e107d69");
    REQUIRE(receiver.webhook(notification).status == 200);
    REQUIRE(hooks.wait_for("/hooks/rollback", 1) == 1);
    for (int round = 0; round < 3; ++round) {
        CAPTURE(round);
        auto start = std::chrono::steady_clock::now();
        CHECK(http_request(receiver.url(), "GET", "/-/healthy", {}, {}, 5).status == 200);
        CHECK(seconds_since(start) < 2.0);
        start = std::chrono::steady_clock::now();
        CHECK(receiver.webhook(notification, 5).status == 200);
        CHECK(seconds_since(start) < 2.0);
    }
    // All of that was answered while the one attempt still hung.
    CHECK(receiver.deployment("deploy-42")["state"] == "rolling_back");
    CHECK(hooks.requests("/hooks/rollback").size() == 1);

    CHECK(receiver.wait_for_state("deploy-42", {"rolled_back", "rollback_failed"}) == "rollback_failed");
    const auto events = receiver.audit("deploy-42");
    CHECK(count_events(events, "rollback_started") == 1); // the repeated webhooks did not start another
    CHECK(hooks.requests("/hooks/rollback").size() == 1);
}

TEST_CASE("notify: rollback_started and rollback_succeeded reach the chat as {\"text\": ...}") {
    FakeServer chat_and_hooks;
    TestReceiver receiver(with_services(webhook_service_yaml(chat_and_hooks.base_url() + "/hooks/rollback",
                                                             "timeout: 5s, retries: 0",
                                                             {chat_and_hooks.base_url() + "/chat"})));
    start_with_deployment(receiver);

    REQUIRE(receiver.webhook(captured_firing_notification("3a218f5b4e107d69")).status == 200);
    CHECK(receiver.wait_for_state("deploy-42", {"rolled_back", "rollback_failed"}) == "rolled_back");
    REQUIRE(chat_and_hooks.wait_for("/chat", 2) == 2);
    const auto messages = chat_and_hooks.requests("/chat");
    std::vector<std::string> texts;
    for (const HttpRequest& message : messages) {
        CHECK(message.method == "POST");
        CHECK(message.header("content-type") == "application/json");
        const json body = json::parse(message.body, nullptr, false);
        REQUIRE_MESSAGE(body.is_object(), message.body);
        CHECK(body.size() == 1); // Slack-compatible: only "text"
        REQUIRE(body["text"].is_string());
        texts.push_back(body["text"].get<std::string>());
    }
    // In the order of events: started, then succeeded.
    CHECK(texts[0].find("Rolling back checkout (prod) from v2 to v1") != std::string::npos);
    CHECK(texts[1].find("Rolled back checkout (prod) from v2 to v1") != std::string::npos);
    for (const std::string& text : texts) {
        CAPTURE(text);
        CHECK(text.find("deploy-42") != std::string::npos);
        CHECK(text.find("HighErrorRate") != std::string::npos);
        CHECK(text.find(kSummary) != std::string::npos);
        CHECK(text.find(kGeneratorUrl) != std::string::npos);
    }
    std::this_thread::sleep_for(200ms);
    CHECK(chat_and_hooks.requests("/chat").size() == 2);
}

TEST_CASE("notify: a chat that answers 500 or hangs neither delays nor fails the rollback") {
    FakeServer chat_and_hooks;
    chat_and_hooks.script("/chat/failing", {{500, R"({"error":"internal"})", Duration::zero()}});
    chat_and_hooks.script("/chat/hanging", {kHang});
    TestReceiver receiver(with_services(webhook_service_yaml(
        chat_and_hooks.base_url() + "/hooks/rollback", "timeout: 5s, retries: 0",
        {chat_and_hooks.base_url() + "/chat/failing", chat_and_hooks.base_url() + "/chat/hanging"})));
    start_with_deployment(receiver);

    const auto start = std::chrono::steady_clock::now();
    REQUIRE(receiver.webhook(captured_firing_notification("3a218f5b4e107d69")).status == 200);
    CHECK(receiver.wait_for_state("deploy-42", {"rolled_back", "rollback_failed"}) == "rolled_back");
    // A notification call may take up to its own timeout (10 s); the rollback did not wait for one.
    CHECK(seconds_since(start) < 5.0);
    CHECK(chat_and_hooks.requests("/hooks/rollback").size() == 1);
    CHECK(chat_and_hooks.wait_for("/chat/failing", 1) >= 1);
    CHECK(chat_and_hooks.wait_for("/chat/hanging", 1) >= 1);
    const auto events = receiver.audit("deploy-42");
    CHECK(count_events(events, "rollback_succeeded") == 1);
    CHECK(count_events(events, "rollback_failed") == 0);
    // And the stop is not held up by the chat that hangs (running rollbacks get 10 s; none runs).
    const auto stopping = std::chrono::steady_clock::now();
    CHECK(receiver.stop() == 0);
    CHECK(seconds_since(stopping) < 8.0);
}

TEST_CASE("50 concurrent duplicate webhooks for one deployment: exactly one request to the webhook action") {
    FakeServer hooks;
    hooks.script("/hooks/rollback",
                 {{204, "", std::chrono::milliseconds(300)}}); // still rolling back meanwhile
    TestReceiver receiver(
        with_services(webhook_service_yaml(hooks.base_url() + "/hooks/rollback", "timeout: 5s, retries: 0")));
    start_with_deployment(receiver);

    const std::string notification = captured_firing_notification("3a218f5b4e107d69");
    std::vector<int> statuses(50, 0);
    std::vector<std::thread> senders;
    for (std::size_t i = 0; i < statuses.size(); ++i)
        senders.emplace_back([&, i] { statuses[i] = receiver.webhook(notification, 20).status; });
    for (auto& sender : senders)
        sender.join();
    for (std::size_t i = 0; i < statuses.size(); ++i) {
        CAPTURE(i);
        CHECK(statuses[i] == 200);
    }
    CHECK(receiver.wait_for_state("deploy-42", {"rolled_back", "rollback_failed"}) == "rolled_back");
    std::this_thread::sleep_for(300ms);
    CHECK(hooks.requests("/hooks/rollback").size() == 1);
    const auto events = receiver.audit("deploy-42");
    CHECK(count_events(events, "rollback_started") == 1);
    CHECK(count_events(events, "rollback_succeeded") == 1);
}

TEST_CASE("targets that echo the request with a 500: no secret in the ledger, audit.jsonl, the API, the log "
          "or the chat") {
    FakeServer echo;
    const std::string literal_key = "literal-api-key-0123456789";
    const std::string query_secret = "query-secret-0123456789";
    const std::string chat_path = "/chat/T0/B0/chat-hook-secret-0123";
    echo.script("/hooks/echo", {{500, "", Duration::zero(), true}});
    echo.script(chat_path, {{500, "", Duration::zero(), true}});
    const std::string services_yaml =
        "  checkout:\n"
        "    notify: [\"" +
        echo.base_url() + chat_path +
        "\"]\n"
        "    rollback:\n"
        "      webhook:\n"
        "        url: \"" +
        echo.base_url() + "/hooks/echo?token=" + query_secret +
        "&service={{service}}\"\n"
        "        headers:\n"
        "          Authorization: {file: secrets/deploy-token, prefix: \"Bearer \"}\n"
        "          X-Api-Key: \"" +
        literal_key +
        "\"\n"
        "          X-Forwarded-Token: {file: secrets/api-token}\n"
        "      timeout: 5s\n"
        "      retries: 0\n";
    TestReceiver receiver(
        ReceiverSetup{}.with_services(services_yaml).with_top_level("audit: {file: data/audit.jsonl}\n"));
    start_with_deployment(receiver);

    REQUIRE(receiver.webhook(captured_firing_notification("3a218f5b4e107d69")).status == 200);
    CHECK(receiver.wait_for_state("deploy-42", {"rolled_back", "rollback_failed"}) == "rollback_failed");
    REQUIRE(echo.wait_for(chat_path, 2) == 2); // rollback_started and rollback_failed
    // The target did get the secrets: what it echoed is what the trail must not keep.
    const auto requests = echo.requests("/hooks/echo");
    REQUIRE(requests.size() == 1);
    CHECK(requests[0].header("authorization") == "Bearer " + kDeployToken);
    CHECK(requests[0].header("x-api-key") == literal_key);
    CHECK(requests[0].header("x-forwarded-token") == kFixtureApiToken);
    CHECK(requests[0].query.at("token") == query_secret);

    const auto events = receiver.audit("deploy-42");
    const json failed = only_event(events, "rollback_failed");
    CAPTURE(failed.dump());
    CHECK(failed["reason"].get<std::string>().rfind("HTTP 500: ", 0) == 0);
    const std::string output = failed["detail"]["output"].get<std::string>();
    CHECK(output.find("<redacted>") != std::string::npos);
    CHECK(output.find("\"method\":\"POST\"") != std::string::npos); // the echo is there, scrubbed
    CHECK(only_event(events, "rollback_started")["detail"]["request"] ==
          "POST " + echo.base_url() + "/<redacted>");

    const std::vector<std::string> secrets{kDeployToken, literal_key, kFixtureApiToken, query_secret,
                                           chat_path};
    std::string chat;
    for (const HttpRequest& message : echo.requests(chat_path))
        chat += message.body;
    receiver.stop(); // the log and the WAL are complete
    const std::map<std::string, std::string> places{
        {"the API's answer",
         receiver.api("GET", "/api/v1/audit?deployment_id=deploy-42").body + json(events).dump()},
        {"audit.jsonl", TempDir::read(receiver.dir().file("data/audit.jsonl"))},
        {"the ledger",
         TempDir::read(receiver.ledger_path()) + (std::filesystem::exists(receiver.ledger_path() + "-wal")
                                                      ? TempDir::read(receiver.ledger_path() + "-wal")
                                                      : std::string())},
        {"the log", receiver.daemon().log()},
        {"the chat", chat},
    };
    for (const auto& [place, text] : places) {
        CAPTURE(place);
        CHECK(!text.empty());
        for (const std::string& secret : secrets) {
            CAPTURE(secret);
            CHECK(text.find(secret) == std::string::npos);
        }
    }
    // The failing chat's URL is logged without its secret path.
    CHECK(receiver.daemon().log().find("url=" + echo.base_url() + "/<redacted>") != std::string::npos);
}

TEST_CASE("a secret file rotated and reloaded (SIGHUP) is scrubbed from then on") {
    FakeServer echo;
    echo.script("/hooks/echo", {{500, "", Duration::zero(), true}});
    const std::string first = "first-secret-value-0123";
    const std::string second = "second-secret-value-4567";
    TestReceiver receiver(with_services("  checkout:\n"
                                        "    rollback:\n"
                                        "      webhook:\n"
                                        "        url: \"" +
                                        echo.base_url() +
                                        "/hooks/echo\"\n"
                                        "        headers: {X-Api-Key: {file: secrets/rotating}}\n"
                                        "      timeout: 5s\n"
                                        "      retries: 0\n"));
    receiver.dir().write("secrets/rotating", first + "\n");
    start_with_deployment(receiver);
    receiver.dir().write("secrets/rotating", second + "\n"); // read on each call: the action sends this one
    receiver.daemon().signal(SIGHUP);
    for (int i = 0; i < 500 && receiver.daemon().log().find("config reloaded") == std::string::npos; ++i)
        std::this_thread::sleep_for(10ms);
    REQUIRE(receiver.daemon().log().find("config reloaded") != std::string::npos);

    REQUIRE(receiver.webhook(captured_firing_notification("3a218f5b4e107d69")).status == 200);
    CHECK(receiver.wait_for_state("deploy-42", {"rolled_back", "rollback_failed"}) == "rollback_failed");
    REQUIRE(echo.requests("/hooks/echo").size() == 1);
    CHECK(echo.requests("/hooks/echo")[0].header("x-api-key") == second);
    const auto events = receiver.audit("deploy-42");
    CHECK(only_event(events, "rollback_failed")["detail"]["output"].get<std::string>().find(
              "\"x-api-key\":\"<redacted>\"") != std::string::npos);
    receiver.stop();
    for (const std::string& text : {json(events).dump(), receiver.daemon().log()})
        CHECK(text.find(second) == std::string::npos);
}

TEST_CASE(
    "a GitHub API that echoes the request with a 500: the GitHub token stays out of the trail and the log") {
    FakeServer github;
    github.script(kDispatchPath, {{500, "", Duration::zero(), true}});
    TestReceiver receiver(with_services(github_workflow_yaml(github, "", 0)));
    start_with_deployment(receiver);

    REQUIRE(receiver.webhook(captured_firing_notification("3a218f5b4e107d69")).status == 200);
    CHECK(receiver.wait_for_state("deploy-42", {"rolled_back", "rollback_failed"}) == "rollback_failed");
    const auto requests = github.requests(kDispatchPath);
    REQUIRE(requests.size() == 1);
    CHECK(requests[0].header("authorization") == "Bearer " + kGithubToken);
    const auto events = receiver.audit("deploy-42");
    const json failed = only_event(events, "rollback_failed");
    CAPTURE(failed.dump());
    CHECK(failed["detail"]["output"].get<std::string>().find("Bearer <redacted>") != std::string::npos);
    receiver.stop();
    for (const std::string& text :
         {json(events).dump(), receiver.daemon().log(), TempDir::read(receiver.ledger_path())})
        CHECK(text.find(kGithubToken) == std::string::npos);
}

TEST_CASE("notify: a hostile alert name, summary and generatorURL reach the chat escaped, with no link") {
    FakeServer chat_and_hooks;
    TestReceiver receiver(with_services(webhook_service_yaml(chat_and_hooks.base_url() + "/hooks/rollback",
                                                             "timeout: 5s, retries: 0",
                                                             {chat_and_hooks.base_url() + "/chat"})));
    start_with_deployment(receiver);
    json notification = json::parse(captured_firing_notification("3a218f5b4e107d69"));
    json& alert = notification["alerts"][0];
    alert["labels"]["alertname"] = "<!channel>";
    alert["annotations"]["summary"] = "<https://evil.example|Open dashboard> & more";
    alert["generatorURL"] = "javascript:alert(1)";
    REQUIRE(receiver.webhook(notification.dump()).status == 200);
    CHECK(receiver.wait_for_state("deploy-42", {"rolled_back", "rollback_failed"}) == "rolled_back");
    REQUIRE(chat_and_hooks.wait_for("/chat", 2) == 2);
    for (const HttpRequest& message : chat_and_hooks.requests("/chat")) {
        const std::string text = json::parse(message.body)["text"].get<std::string>();
        CAPTURE(text);
        CHECK(text.find("\n&lt;!channel&gt;: &lt;https://evil.example|Open dashboard&gt; &amp; more") !=
              std::string::npos);
        CHECK(text.find('<') == std::string::npos); // no link, no ping: javascript: is left out
        CHECK(text.find("javascript") == std::string::npos);
    }
}

} // namespace
} // namespace rollback

namespace rollback {
namespace {

// The captured notification with its alert's alertname set to `alertname`.
std::string notification_with_alertname(const std::string& alertname, const std::string& fingerprint) {
    json body = json::parse(captured_firing_notification(fingerprint));
    body["alerts"][0]["labels"]["alertname"] = alertname;
    return body.dump();
}

const std::string kSmuggling = "x\r\nX-Injected: yes\r\nContent-Length: 0\r\n\r\nGET /smuggled HTTP/1.1";

// What no request to `server` may carry: the forged header, or the smuggled second request.
void check_nothing_forged(const FakeServer& server, const std::vector<std::string>& paths) {
    for (const std::string& path : paths)
        for (const HttpRequest& request : server.requests(path)) {
            CHECK(request.header("x-injected").empty());
            CHECK(request.header("content-length") != "0");
        }
    CHECK(server.requests("/smuggled").empty());
}

TEST_CASE("header injection: an alertname holding CR LF never puts a forged header next to the deploy token; "
          "the deployment is not claimed and a manual rollback still runs") {
    FakeServer hooks;
    hooks.script("/hooks/rollback", {{200, "{}", Duration::zero()}});
    const std::string services_yaml =
        "  checkout:\n"
        "    notify:\n"
        "      - url: \"" +
        hooks.base_url() +
        "/chat\"\n"
        "        headers: {X-Alert: \"{{alertname}}\"}\n"
        "    rollback:\n"
        "      webhook:\n"
        "        url: \"" +
        hooks.base_url() +
        "/hooks/rollback\"\n"
        "        headers:\n"
        "          Authorization: {file: secrets/deploy-token, prefix: \"Bearer \"}\n"
        "          X-Rollback-Alert: \"{{alertname}}\"\n"
        "      timeout: 5s\n"
        "      retries: 0\n";
    TestReceiver receiver(with_services(services_yaml));
    start_with_deployment(receiver);

    // The hostile alert: accepted (Alertmanager must not retry it forever), refused before the claim.
    REQUIRE(receiver.webhook(notification_with_alertname(kSmuggling, "3a218f5b4e107d69")).status == 200);
    auto events = receiver.audit("deploy-42");
    const json ignored = only_event(events, "alert_ignored");
    CHECK(ignored["reason"] == "unsafe_input");
    CHECK(ignored["detail"]["input_error"].get<std::string>().rfind(
              "header X-Rollback-Alert: holds CR (U+000D) at byte 1", 0) == 0);
    CHECK(count_events(events, "rollback_started") == 0);
    CHECK(receiver.deployment("deploy-42")["state"] == "watching");
    std::this_thread::sleep_for(300ms); // what a wrongly started rollback would have sent by now
    CHECK(hooks.total_requests() == 0);

    // By hand it rolls back (its alertname is ManualRollback); nothing forged arrives, at the action or the
    // chat.
    const auto manual = receiver.api("POST", "/api/v1/deployments/deploy-42/rollback",
                                     R"({"reason":"checkout is failing","actor":"alice"})");
    REQUIRE_MESSAGE(manual.status == 202, manual.body);
    CHECK(receiver.wait_for_state("deploy-42", {"rolled_back", "rollback_failed"}) == "rolled_back");
    REQUIRE(hooks.wait_for("/chat", 2) == 2); // rollback_started and rollback_succeeded
    const auto requests = hooks.requests("/hooks/rollback");
    REQUIRE(requests.size() == 1);
    CHECK(requests[0].header("authorization") == "Bearer " + kDeployToken);
    CHECK(requests[0].header("x-rollback-alert") == "ManualRollback");
    check_nothing_forged(hooks, {"/hooks/rollback", "/chat"});
}

TEST_CASE(
    "header injection at a notify target: the rollback runs, the message with the forged header is never "
    "sent") {
    FakeServer hooks;
    hooks.script("/hooks/rollback", {{200, "{}", Duration::zero()}});
    const std::string services_yaml = "  checkout:\n"
                                      "    notify:\n"
                                      "      - url: \"" +
                                      hooks.base_url() +
                                      "/chat\"\n"
                                      "        headers: {X-Alert: \"{{alertname}}\"}\n"
                                      "    rollback: {webhook: {url: \"" +
                                      hooks.base_url() + "/hooks/rollback\"}, timeout: 5s, retries: 0}\n";
    TestReceiver receiver(with_services(services_yaml));
    start_with_deployment(receiver);
    REQUIRE(receiver.webhook(notification_with_alertname(kSmuggling, "3a218f5b4e107d69")).status == 200);
    CHECK(receiver.wait_for_state("deploy-42", {"rolled_back", "rollback_failed"}) == "rolled_back");
    CHECK(hooks.wait_for("/hooks/rollback", 1) == 1);
    std::this_thread::sleep_for(500ms); // the notify queue's time to send (or not)
    CHECK(hooks.requests("/chat").empty());
    check_nothing_forged(hooks, {"/hooks/rollback"});
}

TEST_CASE("the one-shot claim cannot be burned: a 200 KB fingerprint is a 400 and the real alert rolls back; "
          "a --force previous_version is not claimed and stays rollbackable by hand") {
    // scripts/rollback.sh appends its deployment id and then its arguments to runs.txt.
    TestReceiver receiver(
        ReceiverSetup{}
            .with_services("  checkout:\n"
                           "    rollback:\n"
                           "      command: [scripts/rollback.sh, \"{{previous_version}}\"]\n"
                           "      timeout: 60s\n"
                           "      retries: 0\n")
            .with_script("echo \"args:$*\" >> \"$(dirname \"$0\")/../args.txt\"\n"));
    start_with_deployment(receiver);

    const std::size_t events_before = receiver.audit("deploy-42").size(); // deployment_recorded
    const auto huge = receiver.webhook(captured_firing_notification(std::string(200 * 1024, 'f')));
    CHECK(huge.status == 400);
    CHECK(huge.body.find("alerts[0].fingerprint: expected at most 64 lowercase hexadecimal digits") !=
          std::string::npos);
    CHECK(receiver.audit("deploy-42").size() == events_before); // nothing more in the ledger
    CHECK(receiver.deployment("deploy-42")["state"] == "watching");
    REQUIRE(receiver.webhook(captured_firing_notification("3a218f5b4e107d69")).status == 200);
    CHECK(receiver.wait_for_state("deploy-42", {"rolled_back", "rollback_failed"}) == "rolled_back");
    CHECK(receiver.runs() == std::vector<std::string>{"deploy-42"});

    // A deployment whose previous_version would be an option of the command.
    const json forced{{"id", "deploy-43"},
                      {"service", "checkout"},
                      {"environment", "prod"},
                      {"version", "v3"},
                      {"previous_version", "--force"}};
    REQUIRE(receiver.api("POST", "/api/v1/deployments", forced.dump()).status == 201);
    REQUIRE(receiver.webhook(captured_firing_notification("4f7d586a50ba8f09")).status == 200);
    const json ignored = only_event(receiver.audit("deploy-43"), "alert_ignored");
    CHECK(ignored["reason"] == "unsafe_input");
    CHECK(ignored["detail"]["input_error"].get<std::string>().find(
              "becomes \"--force\", which the program would read as an option") != std::string::npos);
    CHECK(receiver.deployment("deploy-43")["state"] == "watching"); // not burned
    const auto by_hand = receiver.api("POST", "/api/v1/deployments/deploy-43/rollback", R"({"reason":"x"})");
    CHECK(by_hand.status == 409);
    CHECK(by_hand.body.find("rollback.allow_option_values") != std::string::npos);
    CHECK(receiver.deployment("deploy-43")["state"] == "watching");
    CHECK(receiver.runs() == std::vector<std::string>{"deploy-42"}); // the command never ran for it

    // The operator opts the service in (SIGHUP re-reads the config): the same deployment rolls back by hand.
    const std::string config_file = receiver.dir().file("receiver.yml");
    std::string config = TempDir::read(config_file);
    const std::string retries_line = "      retries: 0\n";
    REQUIRE(config.find(retries_line) != std::string::npos);
    config.replace(config.find(retries_line), retries_line.size(),
                   retries_line + "      allow_option_values: true\n");
    receiver.dir().write("receiver.yml", config);
    REQUIRE(::kill(receiver.daemon().pid(), SIGHUP) == 0);
    for (int i = 0; i < 500 && receiver.daemon().log().find("config reloaded") == std::string::npos; ++i)
        std::this_thread::sleep_for(10ms);
    REQUIRE(receiver.daemon().log().find("config reloaded") != std::string::npos);
    const auto opted_in = receiver.api("POST", "/api/v1/deployments/deploy-43/rollback", R"({"reason":"x"})");
    REQUIRE_MESSAGE(opted_in.status == 202, opted_in.body);
    CHECK(receiver.wait_for_state("deploy-43", {"rolled_back", "rollback_failed"}) == "rolled_back");
    CHECK(receiver.runs() == std::vector<std::string>{"deploy-42", "deploy-43"});
    CHECK(lines_of(receiver.dir().file("args.txt")) == std::vector<std::string>{"args:v1", "args:--force"});
}

} // namespace
} // namespace rollback
