// The notification queue: a few worker threads, one call per endpoint at a time, one attempt per message,
// bounded memory, a bounded stop.
#include "notify/notifier.hpp"

#include "ops/logging.hpp"

namespace rollback {

Notifier::Notifier(HttpCaller& http, Metrics& metrics) : http_(http), metrics_(metrics) {
    for (std::size_t i = 0; i < worker_count; ++i)
        workers_.emplace_back([this] { run(); });
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
    changed_.wait(lock, [this] { return queue_.empty() && busy_urls_.empty(); });
}

std::deque<Notifier::Message>::iterator Notifier::next_sendable_locked() {
    for (auto it = queue_.begin(); it != queue_.end(); ++it)
        if (busy_urls_.count(it->call.url) == 0) return it;
    return queue_.end();
}

void Notifier::run() {
    std::unique_lock lock(mutex_);
    while (true) {
        auto next = queue_.end();
        changed_.wait(lock, [&] {
            next = next_sendable_locked();
            return next != queue_.end() || (stopping_ && queue_.empty());
        });
        if (next == queue_.end()) return; // stopping, nothing left
        Message message = std::move(*next);
        queue_.erase(next);
        busy_urls_.insert(message.call.url);
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
        busy_urls_.erase(message.call.url);
        changed_.notify_all();
    }
}

void Notifier::stop(Duration grace) {
    {
        std::unique_lock lock(mutex_);
        if (workers_.empty()) return;
        stopping_ = true;
        changed_.notify_all();
        if (!changed_.wait_for(lock, grace, [this] { return queue_.empty() && busy_urls_.empty(); })) {
            for (const Message& message : queue_) {
                log_warn("notification dropped: the receiver is stopping",
                         {{"event", message.event}, {"url", message.call.url}});
                metrics_.notifications_sent.add({message.event, "dropped"});
            }
            queue_.clear();
            cancel_ = true;
        }
        changed_.notify_all();
    }
    for (std::thread& worker : workers_)
        worker.join();
    std::lock_guard lock(mutex_);
    workers_.clear();
    changed_.notify_all();
}

} // namespace rollback
