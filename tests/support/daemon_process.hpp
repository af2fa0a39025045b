// DaemonProcess: runs the real rollback-receiver binary for integration tests and talks to it over HTTP.
#pragma once

#include "http/client.hpp"
#include "support/child_process.hpp"
#include "support/temp_dir.hpp"

#include <chrono>
#include <memory>
#include <regex>
#include <string>
#include <thread>
#include <vector>

namespace rollback::testing {

inline std::string receiver_binary() {
    return std::string(ROLLBACK_BINARY_DIR) + "/bin/rollback-receiver";
}

class DaemonProcess {
  public:
    // Starts the binary with `arguments`; stdout and stderr (the log) are appended to `log_path`.
    // `environment` ("NAME=value") is added to the test's own.
    DaemonProcess(std::vector<std::string> arguments, std::string log_path,
                  std::vector<std::string> environment = {})
        : log_path_(std::move(log_path)) {
        log_offset_ = TempDir::read(log_path_).size(); // the file may hold an earlier run's lines
        std::vector<std::string> argv{receiver_binary()};
        argv.insert(argv.end(), arguments.begin(), arguments.end());
        ChildOptions options;
        options.stdout_path = log_path_;
        options.stderr_path = log_path_;
        options.append = true;
        options.environment = std::move(environment);
        process_ = std::make_unique<ChildProcess>(std::move(argv), options);
    }
    DaemonProcess(const DaemonProcess&) = delete;
    DaemonProcess& operator=(const DaemonProcess&) = delete;

    // Waits (at most `limit`) for the "listening" log line and returns the base URL; "" if it exited or
    // never listened.
    std::string wait_until_listening(std::chrono::milliseconds limit = std::chrono::seconds(10)) {
        const std::regex listening(R"(msg=listening address=(\S+))");
        const auto give_up = std::chrono::steady_clock::now() + limit;
        while (std::chrono::steady_clock::now() < give_up) {
            std::smatch match;
            const std::string log = TempDir::read(log_path_);
            // Only lines written after this start count: the log file may hold an earlier run.
            const std::string tail = log.substr(std::min(log.size(), log_offset_));
            if (std::regex_search(tail, match, listening)) {
                base_url_ = "http://" + match[1].str();
                return base_url_;
            }
            if (!process_->running()) return "";
            std::this_thread::sleep_for(std::chrono::milliseconds(20));
        }
        return "";
    }

    // Waits for the process to end (at most `limit`); returns its exit status, -1 if it did not end,
    // 128+N for a signal.
    int wait_exit(std::chrono::milliseconds limit = std::chrono::seconds(10)) {
        return process_->wait(limit);
    }

    void signal(int number) { process_->signal(number); }
    void kill9() { process_->kill_and_reap(); }

    const std::string& url() const { return base_url_; }
    std::string log() const { return TempDir::read(log_path_); }
    // The process id while it runs; -1 once it has ended.
    pid_t pid() const { return process_->pid(); }

  private:
    std::string log_path_;
    std::size_t log_offset_ = 0;
    std::unique_ptr<ChildProcess> process_;
    std::string base_url_;
};

} // namespace rollback::testing
