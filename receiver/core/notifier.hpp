// Sends notify: messages on a thread of their own, so that a slow or failing chat never delays a rollback.
#pragma once

#include "core/http.hpp"
#include "core/metrics.hpp"

#include <atomic>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <string>
#include <thread>

namespace rollback {

class Notifier {
  public:
    // Messages waiting beyond this many are dropped (oldest first) and logged: a dead chat endpoint must
    // not grow memory without bound during an incident.
    static constexpr std::size_t max_queued = 1000;

    Notifier(HttpCaller& http, Metrics& metrics);
    ~Notifier(); // stop(0)
    Notifier(const Notifier&) = delete;
    Notifier& operator=(const Notifier&) = delete;

    // Queues one message for `event` (rollback_started, ...); returns at once. One attempt per message:
    // a failure is logged and counted in rollback_receiver_notifications_sent_total{result="failure"}.
    void send(const std::string& event, HttpCall call);

    // Blocks until the queue is empty and nothing is in flight (tests, graceful stop).
    void wait_idle();

    // Sends what is queued for up to `grace`, then cancels the call in flight, drops the rest (logged) and
    // joins the thread. Later send() calls are dropped.
    void stop(Duration grace);

  private:
    struct Message {
        std::string event;
        HttpCall call;
    };
    void run();

    HttpCaller& http_;
    Metrics& metrics_;
    std::mutex mutex_;
    std::condition_variable changed_;
    std::deque<Message> queue_;
    bool in_flight_ = false;
    bool stopping_ = false;
    std::atomic<bool> cancel_{false};
    std::thread worker_;
};

} // namespace rollback
