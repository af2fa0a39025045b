// The notification queue: never blocks the sender, per-endpoint order, one attempt per message, bounded queue
// and stop; hostile alert text arrives escaped for mrkdwn and configured secrets never reach the chat.
#include "notify/notifier.hpp"

#include "actions/actions.hpp"
#include "ops/secret_scrubber.hpp"

#include "support/eventually.hpp"

#include <doctest/doctest.h>
#include <nlohmann/json.hpp>

#include <chrono>
#include <mutex>
#include <thread>
#include <vector>

using namespace rollback;
using rollback::testing::eventually;
using namespace std::chrono_literals;

namespace {

// Answers 204, or 500 for URLs ending in "/broken"; blocks while `gate_closed`, or while the URL is
// `stuck_url` and `stuck` (until cancelled). Records each call as "url body".
class GatedHttp : public HttpCaller {
  public:
    HttpCallResult call(const HttpCall& request, const std::atomic<bool>& cancel) override {
        {
            std::lock_guard lock(mutex);
            urls.push_back(request.url);
            calls.push_back(request.url + " " + request.body);
        }
        while ((gate_closed || (stuck && request.url == stuck_url)) && !cancel)
            std::this_thread::sleep_for(2ms);
        HttpCallResult result;
        result.cancelled = cancel.load();
        if (!result.cancelled) result.status = request.url.ends_with("/broken") ? 500 : 204;
        return result;
    }
    std::size_t count() {
        std::lock_guard lock(mutex);
        return urls.size();
    }
    std::vector<std::string> calls_to(const std::string& url) {
        std::lock_guard lock(mutex);
        std::vector<std::string> matching;
        for (const std::string& call : calls)
            if (call.starts_with(url + " ")) matching.push_back(call.substr(url.size() + 1));
        return matching;
    }
    std::mutex mutex;
    std::vector<std::string> urls;
    std::vector<std::string> calls;
    std::atomic<bool> gate_closed{false};
    std::string stuck_url; // set before the notifier starts sending
    std::atomic<bool> stuck{false};
};

HttpCall to(const std::string& url, const std::string& body = {}) {
    HttpCall call;
    call.url = url;
    call.body = body;
    return call;
}

// Queues a call that is ready: its endpoint is its URL.
void send(Notifier& notifier, const std::string& event, const HttpCall& call) {
    notifier.send(event, call.url, [call] { return Result<HttpCall>(call); });
}

} // namespace

TEST_CASE("messages are sent once each, in order per endpoint; failures are counted, not retried") {
    GatedHttp http;
    Metrics metrics;
    Notifier notifier(http, metrics);
    send(notifier, "rollback_started", to("http://chat/a", "1"));
    send(notifier, "rollback_started", to("http://chat/broken", "1"));
    send(notifier, "rollback_succeeded", to("http://chat/a", "2"));
    send(notifier, "rollback_succeeded", to("http://chat/a", "3"));
    notifier.wait_idle();
    CHECK(http.count() == 4);
    CHECK(http.calls_to("http://chat/a") == std::vector<std::string>{"1", "2", "3"});
    CHECK(http.calls_to("http://chat/broken") == std::vector<std::string>{"1"});
    const std::string text = metrics.render();
    CHECK(
        text.find(
            "rollback_receiver_notifications_sent_total{event=\"rollback_started\",result=\"success\"} 1") !=
        std::string::npos);
    CHECK(
        text.find(
            "rollback_receiver_notifications_sent_total{event=\"rollback_started\",result=\"failure\"} 1") !=
        std::string::npos);
}

TEST_CASE("send never waits for a stuck endpoint, and the queue is bounded") {
    GatedHttp http;
    http.gate_closed = true;
    Metrics metrics;
    Notifier notifier(http, metrics);
    const auto started = std::chrono::steady_clock::now();
    for (std::size_t i = 0; i < Notifier::max_queued + 50; ++i)
        send(notifier, "rollback_started", to("http://chat/" + std::to_string(i)));
    CHECK(std::chrono::steady_clock::now() - started < 2s); // 1,050 sends while the first call hangs
    for (int i = 0; i < 500 && http.count() == 0; ++i)
        std::this_thread::sleep_for(2ms);
    // Every worker takes a message and is stuck with it; nothing else is sent.
    REQUIRE(eventually([&] { return http.count() == Notifier::worker_count; }));
    std::this_thread::sleep_for(50ms);
    CHECK(http.count() == Notifier::worker_count);
    notifier.stop(0ms); // cancels them and drops the rest
    CHECK(http.count() == Notifier::worker_count);
    const std::string text = metrics.render();
    const std::size_t dropped = Notifier::max_queued + 50 - Notifier::worker_count;
    CHECK(text.find("result=\"dropped\"} " + std::to_string(dropped)) != std::string::npos);
}

TEST_CASE("an endpoint that hangs holds up only its own messages, which keep their order") {
    GatedHttp http;
    http.stuck_url = "http://chat/slow";
    http.stuck = true;
    Metrics metrics;
    Notifier notifier(http, metrics);
    send(notifier, "rollback_started", to("http://chat/slow", "1"));
    REQUIRE(eventually([&] { return http.calls_to("http://chat/slow").size() == 1; }));
    send(notifier, "rollback_succeeded", to("http://chat/slow", "2"));
    for (int i = 1; i <= 3; ++i)
        send(notifier, "rollback_started", to("http://chat/fast", std::to_string(i)));
    // The other endpoint gets its messages while the slow one hangs.
    CHECK(eventually([&] { return http.calls_to("http://chat/fast").size() == 3; }));
    CHECK(http.calls_to("http://chat/fast") == std::vector<std::string>{"1", "2", "3"});
    // The slow endpoint's second message waits for its first call, with workers to spare.
    std::this_thread::sleep_for(50ms);
    CHECK(http.calls_to("http://chat/slow") == std::vector<std::string>{"1"});
    http.stuck = false;
    notifier.wait_idle();
    CHECK(http.calls_to("http://chat/slow") == std::vector<std::string>{"1", "2"});
}

TEST_CASE("stop sends what is queued within the grace period, and later sends are dropped") {
    GatedHttp http;
    Metrics metrics;
    Notifier notifier(http, metrics);
    for (int i = 0; i < 5; ++i)
        send(notifier, "rollback_succeeded", to("http://chat/x"));
    notifier.stop(5s);
    CHECK(http.count() == 5);
    send(notifier, "rollback_succeeded", to("http://chat/late"));
    notifier.wait_idle();
    CHECK(http.count() == 5);
}

namespace rollback {
namespace {

TEST_CASE("a message is prepared on a notifier thread, not the sender's; a failure to prepare is counted") {
    GatedHttp http;
    Metrics metrics;
    Notifier notifier(http, metrics);
    const auto sender = std::this_thread::get_id();
    std::atomic<bool> prepared_elsewhere{false};
    notifier.send("rollback_started", "http://chat/a", [&] {
        prepared_elsewhere = std::this_thread::get_id() != sender;
        return Result<HttpCall>(to("http://chat/a", "1"));
    });
    notifier.send("rollback_started", "http://chat/b",
                  [] { return Result<HttpCall>(make_error("cannot read /secrets/chat-token")); });
    notifier.wait_idle();
    CHECK(prepared_elsewhere);
    CHECK(metrics.notifications_sent.value({"rollback_started", "success"}) == 1);
    CHECK(metrics.notifications_sent.value({"rollback_started", "failure"}) == 1);
}

// The text of the one message the chat received: the "text" of its {"text": ...} body.
std::string received_text(GatedHttp& http, const std::string& url) {
    const auto bodies = http.calls_to(url);
    REQUIRE(bodies.size() == 1);
    const auto body = nlohmann::json::parse(bodies[0], nullptr, false);
    REQUIRE(body.is_object());
    return body["text"].get<std::string>();
}

TEST_CASE(
    "a hostile alert name, summary and generatorURL arrive escaped for mrkdwn; no forged link or ping") {
    GatedHttp http;
    Metrics metrics;
    Notifier notifier(http, metrics);
    Deployment target;
    target.id = "deploy-<!here>";
    target.service = "checkout";
    target.environment = "prod";
    target.version = "v2&<@U1>";
    target.previous_version = "v1";
    struct Row {
        std::string alertname;
        std::string summary;
        std::string generator_url;
        std::string expected_tail; // the text after "(deployment ...)"
    };
    const std::vector<Row> rows{
        {"<!channel>", "<https://evil.example|Open dashboard>", "javascript:alert(1)",
         "\n&lt;!channel&gt;: &lt;https://evil.example|Open dashboard&gt;"},
        {"A&B", "x", "https://evil.example|Open dashboard", "\nA&amp;B: x"},
        {"HighErrorRate", "5% > 1%", "http://prometheus:9090/graph?a=1&b=2",
         "\nHighErrorRate: 5% &gt; 1%\n<http://prometheus:9090/graph?a=1&amp;b=2|graph>"},
    };
    for (std::size_t i = 0; i < rows.size(); ++i) {
        const Row& row = rows[i];
        CAPTURE(row.alertname);
        Alert alert;
        alert.labels = {{"alertname", row.alertname}};
        alert.annotations = {{"summary", row.summary}};
        alert.generator_url = row.generator_url;
        const std::string text = notification_text("rollback_failed", target, alert, "HTTP 500: <!everyone>");
        NotifyTarget chat;
        chat.target.url = "http://chat/hostile/" + std::to_string(i);
        notifier.send("rollback_failed", chat.target.url, [chat, text, &target, &alert] {
            return notification_call(chat, text, placeholder_values(target, alert), 1s, "",
                                     [](const std::string&) { return Result<std::string>(std::string()); });
        });
        notifier.wait_idle();
        const std::string received = received_text(http, chat.target.url);
        CHECK(received == ":x: Rollback of checkout (prod) from v2&amp;&lt;@U1&gt; to v1 FAILED: HTTP 500: "
                          "&lt;!everyone&gt; (the bad version may still be live) (deployment "
                          "deploy-&lt;!here&gt;)" +
                              row.expected_tail);
    }
}

TEST_CASE("a message that quotes a configured secret reaches the chat scrubbed") {
    GatedHttp http;
    Metrics metrics;
    Notifier notifier(http, metrics);
    const std::string token = "deploy-token-0123456789";
    install_secret_scrubber(std::make_shared<const SecretScrubber>(std::vector<SecretValue>{{"k", token}}));
    send(notifier, "rollback_failed",
         to("http://chat/a", nlohmann::json{{"text", "FAILED: HTTP 500: Bearer " + token}}.dump()));
    notifier.wait_idle();
    install_secret_scrubber(nullptr);
    CHECK(received_text(http, "http://chat/a") == "FAILED: HTTP 500: Bearer <redacted>");
}

} // namespace
} // namespace rollback
