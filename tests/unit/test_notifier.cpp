// The notification queue: never blocks the sender, one attempt per message, bounded queue, bounded stop.
#include "core/notifier.hpp"

#include <doctest/doctest.h>

#include <chrono>
#include <mutex>
#include <thread>
#include <vector>

using namespace rollback;
using namespace std::chrono_literals;

namespace {

// Answers 204, or 500 for URLs ending in "/broken"; blocks while `gate_closed` (until cancelled).
class GatedHttp : public HttpCaller {
  public:
    HttpCallResult call(const HttpCall& request, const std::atomic<bool>& cancel) override {
        {
            std::lock_guard lock(mutex);
            urls.push_back(request.url);
        }
        while (gate_closed && !cancel)
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
    std::mutex mutex;
    std::vector<std::string> urls;
    std::atomic<bool> gate_closed{false};
};

HttpCall to(const std::string& url) {
    HttpCall call;
    call.url = url;
    return call;
}

} // namespace

TEST_CASE("messages are sent in order, once each; failures are counted, not retried") {
    GatedHttp http;
    Metrics metrics;
    Notifier notifier(http, metrics);
    notifier.send("rollback_started", to("http://chat/a"));
    notifier.send("rollback_started", to("http://chat/broken"));
    notifier.send("rollback_succeeded", to("http://chat/a"));
    notifier.wait_idle();
    CHECK(http.urls == std::vector<std::string>{"http://chat/a", "http://chat/broken", "http://chat/a"});
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
        notifier.send("rollback_started", to("http://chat/" + std::to_string(i)));
    CHECK(std::chrono::steady_clock::now() - started < 2s); // 1,050 sends while the first call hangs
    for (int i = 0; i < 500 && http.count() == 0; ++i)
        std::this_thread::sleep_for(2ms);
    CHECK(http.count() == 1); // the worker is stuck on the first message
    notifier.stop(0ms);       // cancels it and drops the rest
    CHECK(http.count() == 1);
    const std::string text = metrics.render();
    CHECK(text.find("result=\"dropped\"} " + std::to_string(Notifier::max_queued + 49)) != std::string::npos);
}

TEST_CASE("stop sends what is queued within the grace period, and later sends are dropped") {
    GatedHttp http;
    Metrics metrics;
    Notifier notifier(http, metrics);
    for (int i = 0; i < 5; ++i)
        notifier.send("rollback_succeeded", to("http://chat/x"));
    notifier.stop(5s);
    CHECK(http.count() == 5);
    notifier.send("rollback_succeeded", to("http://chat/late"));
    notifier.wait_idle();
    CHECK(http.count() == 5);
}
