// ChildProcess: one program a test runs (argv, no shell), its output in files; killed and reaped by its
// owner.
#pragma once

#include <csignal>
#include <cstring>
#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>
#include <vector>

extern char** environ;

namespace rollback::testing {

struct ChildOptions {
    std::string stdout_path = "/dev/null";
    std::string stderr_path = "/dev/null"; // may be the same file as stdout_path
    bool append = false;                   // O_APPEND (a log across restarts) instead of O_TRUNC
    // The test's environment without the entries starting with one of `drop_prefixes`, then `environment`
    // ("NAME=value", replacing an entry of the same name).
    std::vector<std::string> drop_prefixes;
    std::vector<std::string> environment;
};

// Options that send stdout and stderr to two files (truncated) and keep the test's environment.
inline ChildOptions output_files(std::string stdout_path, std::string stderr_path) {
    ChildOptions options;
    options.stdout_path = std::move(stdout_path);
    options.stderr_path = std::move(stderr_path);
    return options;
}

class ChildProcess {
  public:
    // Starts argv[0] (a path, not looked up in PATH); stdin is /dev/null. Throws when it cannot start.
    ChildProcess(std::vector<std::string> argv, const ChildOptions& options = {}) {
        if (argv.empty()) throw std::invalid_argument("ChildProcess: empty argv");
        std::vector<std::string> env = environment_for(options);
        std::vector<char*> raw_argv;
        for (auto& argument : argv)
            raw_argv.push_back(argument.data());
        raw_argv.push_back(nullptr);
        std::vector<char*> raw_env;
        for (auto& entry : env)
            raw_env.push_back(entry.data());
        raw_env.push_back(nullptr);
        const int flags = O_WRONLY | O_CREAT | (options.append ? O_APPEND : O_TRUNC);
        posix_spawn_file_actions_t actions;
        posix_spawn_file_actions_init(&actions);
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
        posix_spawn_file_actions_addopen(&actions, 1, options.stdout_path.c_str(), flags, 0644);
        if (options.stderr_path == options.stdout_path)
            posix_spawn_file_actions_adddup2(&actions, 1, 2);
        else
            posix_spawn_file_actions_addopen(&actions, 2, options.stderr_path.c_str(), flags, 0644);
        const int error = posix_spawn(&pid_, raw_argv[0], &actions, nullptr, raw_argv.data(), raw_env.data());
        posix_spawn_file_actions_destroy(&actions);
        if (error != 0) {
            pid_ = -1;
            throw std::runtime_error("cannot start " + argv[0] + ": " + std::strerror(error));
        }
    }
    ~ChildProcess() {
        if (pid_ > 0) {
            ::kill(pid_, SIGKILL);
            ::waitpid(pid_, nullptr, 0);
        }
    }
    ChildProcess(const ChildProcess&) = delete;
    ChildProcess& operator=(const ChildProcess&) = delete;

    // Waits at most `limit` for the exit: its status, 128+N for signal N, -1 if it still runs.
    int wait(std::chrono::milliseconds limit) {
        const auto give_up = std::chrono::steady_clock::now() + limit;
        while (!reaped()) {
            if (std::chrono::steady_clock::now() >= give_up) return -1;
            std::this_thread::sleep_for(std::chrono::milliseconds(5));
        }
        return exit_status_;
    }
    bool running() { return !reaped(); }
    void signal(int number) {
        if (pid_ > 0) ::kill(pid_, number);
    }
    // SIGKILL, then reap (a killed process ends at once).
    int kill_and_reap() {
        if (pid_ > 0) {
            ::kill(pid_, SIGKILL);
            int status = 0;
            if (::waitpid(pid_, &status, 0) == pid_) record(status);
            pid_ = -1;
        }
        return exit_status_;
    }
    // The process id while it runs (and until reaped); -1 afterwards.
    pid_t pid() const { return pid_; }

  private:
    static std::vector<std::string> environment_for(const ChildOptions& options) {
        std::vector<std::string> env;
        for (char** entry = environ; *entry != nullptr; ++entry) {
            const std::string text = *entry;
            bool dropped = false;
            for (const auto& prefix : options.drop_prefixes)
                dropped = dropped || text.rfind(prefix, 0) == 0;
            for (const auto& added : options.environment)
                dropped = dropped || text.rfind(added.substr(0, added.find('=') + 1), 0) == 0;
            if (!dropped) env.push_back(text);
        }
        env.insert(env.end(), options.environment.begin(), options.environment.end());
        return env;
    }

    bool reaped() {
        if (pid_ <= 0) return true;
        int status = 0;
        if (::waitpid(pid_, &status, WNOHANG) == pid_) {
            record(status);
            pid_ = -1;
            return true;
        }
        return false;
    }
    void record(int status) {
        exit_status_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    }

    pid_t pid_ = -1;
    int exit_status_ = -1;
};

} // namespace rollback::testing
