// The notification queue: a few worker threads, one call per endpoint at a time, one attempt per message,
// bounded memory, a bounded stop.
#include "notify/notifier.hpp"

#include "common/url.hpp"
#include "ops/logging.hpp"
#include "ops/secret_scrubber.hpp"

namespace rollback {

Notifier::Notifier(HttpCaller& http, Metrics& metrics) : http_(http), metrics_(metrics) {
    for (std::size_t i = 0; i < worker_count; ++i)
        workers_.emplace_back([this] { run(); });
}

Notifier::~Notifier() {
    stop(Duration::zero());
}

void Notifier::send(const std::string& event, std::string endpoint, Prepare prepare) {
    std::lock_guard lock(mutex_);
    if (stopping_) {
        log_warn("notification dropped: the receiver is stopping",
                 {{"event", event}, {"url", redact_url(endpoint)}});
        return;
    }
    if (queue_.size() >= max_queued) {
        log_warn("notification dropped: too many waiting",
                 {{"event", queue_.front().event}, {"url", redact_url(queue_.front().endpoint)}});
        metrics_.notifications_sent.add({queue_.front().event, "dropped"});
        queue_.pop_front();
    }
    queue_.push_back(Message{event, std::move(endpoint), std::move(prepare)});
    changed_.notify_all();
}

void Notifier::wait_idle() {
    std::unique_lock lock(mutex_);
    changed_.wait(lock, [this] { return queue_.empty() && busy_endpoints_.empty(); });
}

std::deque<Notifier::Message>::iterator Notifier::next_sendable_locked() {
    for (auto it = queue_.begin(); it != queue_.end(); ++it)
        if (busy_endpoints_.count(it->endpoint) == 0) return it;
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
        busy_endpoints_.insert(message.endpoint);
        lock.unlock();
        Result<HttpCall> call = message.prepare();
        // A message may quote what a rollback target answered: the configured secrets stay out of the chat.
        if (const auto scrubber = installed_secret_scrubber(); call && scrubber)
            call->body = scrubber->scrub(call->body);
        if (!call) {
            metrics_.notifications_sent.add({message.event, "failure"});
            log_warn("notification not sent", {{"event", message.event}, {"err", call.error()}});
        } else if (const HttpCallResult result = http_.call(*call, cancel_); result.succeeded()) {
            metrics_.notifications_sent.add({message.event, "success"});
        } else {
            metrics_.notifications_sent.add({message.event, "failure"});
            log_warn("notification failed", {{"event", message.event},
                                             {"url", redact_url(message.endpoint)},
                                             {"err", result.describe(call->timeout)}});
        }
        lock.lock();
        busy_endpoints_.erase(message.endpoint);
        changed_.notify_all();
    }
}

void Notifier::stop(Duration grace) {
    {
        std::unique_lock lock(mutex_);
        if (workers_.empty()) return;
        stopping_ = true;
        changed_.notify_all();
        if (!changed_.wait_for(lock, grace, [this] { return queue_.empty() && busy_endpoints_.empty(); })) {
            for (const Message& message : queue_) {
                log_warn("notification dropped: the receiver is stopping",
                         {{"event", message.event}, {"url", redact_url(message.endpoint)}});
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
