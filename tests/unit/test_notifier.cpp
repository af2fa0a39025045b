// The notification queue: never blocks the sender, per-endpoint order, one attempt per message, bounded queue
// and stop.
#include "notify/notifier.hpp"

#include <doctest/doctest.h>

#include <chrono>
#include <mutex>
#include <thread>
#include <vector>

using namespace rollback;
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

// Polls `done` every 2 ms for at most 5 s.
template <typename Condition> bool eventually(Condition done) {
    for (int i = 0; i < 2500; ++i) {
        if (done()) return true;
        std::this_thread::sleep_for(2ms);
    }
    return done();
}

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

} // namespace
} // namespace rollback
