// Fakes of the engine's side effects for tests: a command runner and an HTTP caller that record and answer.
#pragma once

#include "actions/command_runner.hpp"
#include "http/client.hpp"

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

// Records every command; answers with the queued results (then success); can block until cancelled.
class FakeRunner : public CommandRunner {
  public:
    CommandResult run(const CommandSpec& spec, const std::atomic<bool>& cancel) override {
        {
            std::lock_guard lock(mutex_);
            calls.push_back(spec);
        }
        if (block_until_cancel) {
            for (int i = 0; i < 500 && !cancel; ++i)
                std::this_thread::sleep_for(10ms);
            CommandResult cancelled;
            cancelled.started = true;
            cancelled.cancelled = cancel.load();
            cancelled.signal = 15;
            return cancelled;
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

    std::mutex mutex_;
    std::vector<CommandSpec> calls;
    std::deque<CommandResult> results;
    std::atomic<bool> block_until_cancel{false};
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
