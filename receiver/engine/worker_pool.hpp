// WorkerPool: a fixed number of threads running queued tasks one each, in the order they were submitted.
#pragma once

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <mutex>
#include <optional>
#include <thread>
#include <utility>
#include <vector>

namespace rollback {

// Runs each submitted task exactly once with `run`, at most `workers` at a time; the others wait in a
// first-in, first-out queue. stop() hands the tasks that never started back to the caller, so that none is
// lost silently. `queued_changed` (may be empty) is told the queue's length on every change, under the
// pool's lock (a gauge; it must not call back into the pool).
template <typename Task> class WorkerPool {
  public:
    using Run = std::function<void(Task&)>;
    using QueuedChanged = std::function<void(std::size_t)>;

    WorkerPool(std::size_t workers, Run run, QueuedChanged queued_changed = {})
        : run_(std::move(run)), queued_changed_(std::move(queued_changed)) {
        workers = std::max<std::size_t>(workers, 1);
        threads_.reserve(workers);
        for (std::size_t i = 0; i < workers; ++i)
            threads_.emplace_back([this] { work(); });
    }
    // Drops the queued tasks (stop() first to get them back) and waits for the running ones.
    ~WorkerPool() {
        stop();
        join();
    }
    WorkerPool(const WorkerPool&) = delete;
    WorkerPool& operator=(const WorkerPool&) = delete;

    // Queues `task` at the back. After stop() the pool takes nothing: the task comes back to the caller.
    std::optional<Task> submit(Task task) {
        {
            std::lock_guard lock(mutex_);
            if (stopping_) return task;
            queue_.push_back(std::move(task));
            report_queued_locked();
        }
        work_ready_.notify_one();
        return std::nullopt;
    }

    // Stops taking and starting tasks; returns the queued ones, in the order submitted. Running tasks go on.
    std::vector<Task> stop() {
        std::vector<Task> unstarted;
        {
            std::lock_guard lock(mutex_);
            stopping_ = true;
            unstarted.reserve(queue_.size());
            for (Task& task : queue_)
                unstarted.push_back(std::move(task));
            queue_.clear();
            report_queued_locked();
        }
        work_ready_.notify_all();
        idle_.notify_all();
        return unstarted;
    }

    // After stop(): waits for the running tasks to end and joins the threads.
    void join() {
        for (std::thread& thread : threads_)
            if (thread.joinable()) thread.join();
    }

    // Blocks until nothing is queued or running, or `limit` passed; whether the pool is idle.
    bool wait_idle_for(std::chrono::steady_clock::duration limit) {
        std::unique_lock lock(mutex_);
        return idle_.wait_for(lock, limit, [this] { return queue_.empty() && running_ == 0; });
    }
    void wait_idle() {
        std::unique_lock lock(mutex_);
        idle_.wait(lock, [this] { return queue_.empty() && running_ == 0; });
    }

    std::size_t queued() const {
        std::lock_guard lock(mutex_);
        return queue_.size();
    }
    std::size_t running() const {
        std::lock_guard lock(mutex_);
        return running_;
    }

  private:
    void work() {
        std::unique_lock lock(mutex_);
        while (true) {
            work_ready_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
            if (stopping_) return; // stop() took the queue
            {
                Task task = std::move(queue_.front());
                queue_.pop_front();
                ++running_;
                report_queued_locked();
                lock.unlock();
                run_(task);
            } // the task is destroyed before its worker counts as free
            lock.lock();
            --running_;
            idle_.notify_all();
        }
    }

    void report_queued_locked() {
        if (queued_changed_) queued_changed_(queue_.size());
    }

    Run run_;
    QueuedChanged queued_changed_;
    mutable std::mutex mutex_; // guards queue_, running_, stopping_
    std::condition_variable work_ready_;
    std::condition_variable idle_;
    std::deque<Task> queue_;
    std::size_t running_ = 0;
    bool stopping_ = false;
    std::vector<std::thread> threads_; // last: the threads start once everything above exists
};

} // namespace rollback
