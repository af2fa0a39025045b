// Fakes of the engine's side effects for tests: a command runner and an HTTP caller that record and answer.
#pragma once

#include "actions/command_runner.hpp"
#include "http/client.hpp"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <deque>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

namespace rollback::testing {

using namespace std::chrono_literals;

// Records every command and how many ran at once; answers with the queued results (then success); can
// block until cancelled, or hold each run until the test releases it.
class FakeRunner : public CommandRunner {
  public:
    CommandResult run(const CommandSpec& spec, const std::atomic<bool>& cancel) override {
        {
            std::lock_guard lock(mutex_);
            calls.push_back(spec);
            most_running_ = std::max(most_running_, ++running_);
        }
        struct Leaving { // a run counts as running until it returns
            FakeRunner& runner;
            ~Leaving() {
                std::lock_guard lock(runner.mutex_);
                --runner.running_;
            }
        } leaving{*this};
        if (hold_until_released && !wait_for_release(cancel)) return cancelled_result(cancel);
        if (block_until_cancel) {
            for (int i = 0; i < 500 && !cancel; ++i)
                std::this_thread::sleep_for(10ms);
            return cancelled_result(cancel);
        }
        std::lock_guard lock(mutex_);
        CommandResult result;
        result.started = true;
        result.exit_code = 0;
        result.output = "rolled back\n";
        if (!results.empty()) {
            result = results.front();
            results.pop_front();
        }
        return result;
    }
    std::size_t call_count() {
        std::lock_guard lock(mutex_);
        return calls.size();
    }
    // The services (argv[1]) of the runs so far, in the order they started.
    std::vector<std::string> services_run() {
        std::lock_guard lock(mutex_);
        std::vector<std::string> services;
        for (const CommandSpec& spec : calls)
            services.push_back(spec.argv.size() > 1 ? spec.argv[1] : "");
        return services;
    }
    // With hold_until_released: lets `count` held runs (or runs still to come) go on.
    void release(int count) {
        std::lock_guard lock(mutex_);
        permits_ += count;
    }
    int running_now() {
        std::lock_guard lock(mutex_);
        return running_;
    }
    // The high-water mark of runs at the same time.
    int most_running_at_once() {
        std::lock_guard lock(mutex_);
        return most_running_;
    }

    std::mutex mutex_;
    std::vector<CommandSpec> calls;
    std::deque<CommandResult> results;
    std::atomic<bool> block_until_cancel{false};
    std::atomic<bool> hold_until_released{false};

  private:
    // Takes a permit from release(); false when cancelled first or after 10 s.
    bool wait_for_release(const std::atomic<bool>& cancel) {
        for (int i = 0; i < 1000 && !cancel; ++i) {
            {
                std::lock_guard lock(mutex_);
                if (permits_ > 0) {
                    --permits_;
                    return true;
                }
            }
            std::this_thread::sleep_for(10ms);
        }
        return false;
    }
    static CommandResult cancelled_result(const std::atomic<bool>& cancel) {
        CommandResult cancelled;
        cancelled.started = true;
        cancelled.cancelled = cancel.load();
        cancelled.signal = 15;
        return cancelled;
    }

    int running_ = 0;
    int most_running_ = 0;
    int permits_ = 0;
};

// Records every HTTP call; answers by URL with the queued results (then 204); a URL in `hang_urls` blocks
// until the cancel flag is raised (or 5 s pass).
class FakeHttp : public HttpCaller {
  public:
    HttpCallResult call(const HttpCall& request, const std::atomic<bool>& cancel) override {
        bool hang = false;
        {
            std::lock_guard lock(mutex_);
            calls.push_back(request);
            hang = hang_urls.count(request.url) > 0;
        }
        if (hang) {
            for (int i = 0; i < 500 && !cancel; ++i)
                std::this_thread::sleep_for(10ms);
            HttpCallResult stopped;
            stopped.cancelled = cancel.load();
            return stopped;
        }
        std::lock_guard lock(mutex_);
        HttpCallResult result;
        result.status = 204;
        auto queued = results.find(request.url);
        if (queued != results.end() && !queued->second.empty()) {
            result = queued->second.front();
            queued->second.pop_front();
        }
        return result;
    }
    std::vector<HttpCall> calls_to(const std::string& url) {
        std::lock_guard lock(mutex_);
        std::vector<HttpCall> matching;
        for (const HttpCall& call : calls)
            if (call.url == url) matching.push_back(call);
        return matching;
    }

    std::mutex mutex_;
    std::vector<HttpCall> calls;
    std::map<std::string, std::deque<HttpCallResult>> results;
    std::set<std::string> hang_urls;
};

} // namespace rollback::testing
