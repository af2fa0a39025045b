// Sends notify: messages on threads of their own, so that a slow or failing chat never delays a rollback.
#pragma once

#include "http/client.hpp"
#include "ops/metrics.hpp"

#include <atomic>
#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

namespace rollback {

// A few worker threads send the queued messages, one call per endpoint (URL) at a time: each endpoint gets
// its messages in order, and an endpoint that hangs until its timeout holds up only its own messages.
class Notifier {
  public:
    static constexpr std::size_t worker_count = 4;
    // Messages waiting beyond this many are dropped (oldest first) and logged: a dead chat endpoint must
    // not grow memory without bound during an incident.
    static constexpr std::size_t max_queued = 1000;

    Notifier(HttpCaller& http, Metrics& metrics);
    ~Notifier(); // stop(0)
    Notifier(const Notifier&) = delete;
    Notifier& operator=(const Notifier&) = delete;

    // Builds the call of one message for `event` (rollback_started, ...); runs on a worker thread, so that
    // reading secret header files never happens on the caller's (a webhook request's) thread.
    using Prepare = std::function<Result<HttpCall>()>;
    // Queues one message for `event` to `endpoint` (the target's configured URL: one call per endpoint at a
    // time); returns at once. One attempt per message: a failure to prepare or to send is logged (the URL
    // as redact_url shows it) and counted in rollback_receiver_notifications_sent_total{result="failure"}.
    // The body is scrubbed with installed_secret_scrubber() before it is sent.
    void send(const std::string& event, std::string endpoint, Prepare prepare);

    // Blocks until the queue is empty and nothing is in flight (tests, graceful stop).
    void wait_idle();

    // Sends what is queued for up to `grace`, then cancels the call in flight, drops the rest (logged) and
    // joins the threads. Later send() calls are dropped.
    void stop(Duration grace);

  private:
    struct Message {
        std::string event;
        std::string endpoint;
        Prepare prepare;
    };
    void run();
    // The first queued message whose endpoint has no call in flight; queue_.end() when there is none.
    std::deque<Message>::iterator next_sendable_locked();

    HttpCaller& http_;
    Metrics& metrics_;
    std::mutex mutex_;
    std::condition_variable changed_;
    std::deque<Message> queue_;
    std::set<std::string> busy_endpoints_; // endpoints with a call in flight
    bool stopping_ = false;
    std::atomic<bool> cancel_{false};
    std::vector<std::thread> workers_;
};

} // namespace rollback
