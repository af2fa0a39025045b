// DaemonProcess: runs the real rollback-receiver binary for integration tests and talks to it over HTTP.
#pragma once

#include "core/http.hpp"
#include "support/temp_dir.hpp"

#include <csignal>
#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <regex>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

extern char** environ;

namespace rollback::testing {

inline std::string receiver_binary() {
    return std::string(ROLLBACK_BINARY_DIR) + "/bin/rollback-receiver";
}

class DaemonProcess {
  public:
    // Starts the binary with `arguments`; stderr (the log) goes to `log_path`.
    DaemonProcess(std::vector<std::string> arguments, std::string log_path) : log_path_(std::move(log_path)) {
        log_offset_ = TempDir::read(log_path_).size(); // the file may hold an earlier run's lines
        std::vector<std::string> argv{receiver_binary()};
        argv.insert(argv.end(), arguments.begin(), arguments.end());
        std::vector<char*> raw;
        for (auto& a : argv)
            raw.push_back(a.data());
        raw.push_back(nullptr);
        posix_spawn_file_actions_t actions;
        posix_spawn_file_actions_init(&actions);
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
        posix_spawn_file_actions_addopen(&actions, 1, log_path_.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
        posix_spawn_file_actions_addopen(&actions, 2, log_path_.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
        const int error = posix_spawn(&pid_, raw[0], &actions, nullptr, raw.data(), environ);
        posix_spawn_file_actions_destroy(&actions);
        if (error != 0) throw std::runtime_error("cannot start " + argv[0]);
    }
    ~DaemonProcess() {
        if (pid_ > 0) {
            ::kill(pid_, SIGKILL);
            ::waitpid(pid_, nullptr, 0);
        }
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
            if (exited()) return "";
            std::this_thread::sleep_for(std::chrono::milliseconds(20));
        }
        return "";
    }

    // Waits for the process to end (at most `limit`); returns its exit status, -1 if it did not end,
    // 128+N for a signal.
    int wait_exit(std::chrono::milliseconds limit = std::chrono::seconds(10)) {
        const auto give_up = std::chrono::steady_clock::now() + limit;
        while (std::chrono::steady_clock::now() < give_up) {
            if (exited()) return exit_status_;
            std::this_thread::sleep_for(std::chrono::milliseconds(10));
        }
        return -1;
    }

    void signal(int number) {
        if (pid_ > 0) ::kill(pid_, number);
    }
    void kill9() {
        signal(SIGKILL);
        wait_exit();
    }

    const std::string& url() const { return base_url_; }
    std::string log() const { return TempDir::read(log_path_); }
    pid_t pid() const { return pid_; }

  private:
    bool exited() {
        if (pid_ <= 0) return true;
        int status = 0;
        if (::waitpid(pid_, &status, WNOHANG) == pid_) {
            exit_status_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
            pid_ = -1;
            return true;
        }
        return false;
    }

    std::string log_path_;
    std::size_t log_offset_ = 0;
    pid_t pid_ = -1;
    int exit_status_ = -1;
    std::string base_url_;
};

} // namespace rollback::testing
