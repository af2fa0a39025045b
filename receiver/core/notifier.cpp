// The notification queue: one worker thread, one attempt per message, bounded memory, a bounded stop.
#include "core/notifier.hpp"

#include "core/logging.hpp"

namespace rollback {

Notifier::Notifier(HttpCaller& http, Metrics& metrics) : http_(http), metrics_(metrics) {
    worker_ = std::thread([this] { run(); });
}

Notifier::~Notifier() {
    stop(Duration::zero());
}

void Notifier::send(const std::string& event, HttpCall call) {
    std::lock_guard lock(mutex_);
    if (stopping_) {
        log_warn("notification dropped: the receiver is stopping", {{"event", event}, {"url", call.url}});
        return;
    }
    if (queue_.size() >= max_queued) {
        log_warn("notification dropped: too many waiting",
                 {{"event", queue_.front().event}, {"url", queue_.front().call.url}});
        metrics_.notifications_sent.add({queue_.front().event, "dropped"});
        queue_.pop_front();
    }
    queue_.push_back(Message{event, std::move(call)});
    changed_.notify_all();
}

void Notifier::wait_idle() {
    std::unique_lock lock(mutex_);
    changed_.wait(lock, [this] { return queue_.empty() && !in_flight_; });
}

void Notifier::run() {
    std::unique_lock lock(mutex_);
    while (true) {
        changed_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
        if (queue_.empty()) return; // stopping, nothing left
        Message message = std::move(queue_.front());
        queue_.pop_front();
        in_flight_ = true;
        lock.unlock();
        const HttpCallResult result = http_.call(message.call, cancel_);
        if (result.succeeded()) {
            metrics_.notifications_sent.add({message.event, "success"});
        } else {
            metrics_.notifications_sent.add({message.event, "failure"});
            log_warn("notification failed", {{"event", message.event},
                                             {"url", message.call.url},
                                             {"err", result.describe(message.call.timeout)}});
        }
        lock.lock();
        in_flight_ = false;
        changed_.notify_all();
    }
}

void Notifier::stop(Duration grace) {
    {
        std::unique_lock lock(mutex_);
        if (!worker_.joinable()) return;
        stopping_ = true;
        changed_.notify_all();
        if (!changed_.wait_for(lock, grace, [this] { return queue_.empty() && !in_flight_; })) {
            for (const Message& message : queue_) {
                log_warn("notification dropped: the receiver is stopping",
                         {{"event", message.event}, {"url", message.call.url}});
                metrics_.notifications_sent.add({message.event, "dropped"});
            }
            queue_.clear();
            cancel_ = true;
        }
    }
    worker_.join();
    std::lock_guard lock(mutex_);
    changed_.notify_all();
}

} // namespace rollback
