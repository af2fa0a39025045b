// ProcessCommandRunner: posix_spawnp without a shell, one output pipe, timeout and cancel with group kill.
#include "actions/command_runner.hpp"

#include "common/unique_fd.hpp"

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstring>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <fcntl.h>
#include <poll.h>
#include <spawn.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

extern char** environ;

namespace rollback {
namespace {

using SteadyClock = std::chrono::steady_clock;

constexpr std::chrono::milliseconds kTick{50};            // cancel and timeout are checked this often
constexpr std::chrono::milliseconds kDrainAfterExit{200}; // reading on after the child was reaped
constexpr std::chrono::milliseconds kFirstIdleSleep{1};   // output closed, child still running: back off
constexpr std::size_t kReadChunk = 64 * 1024;

// strerror_r comes in two flavours (GNU returns the text, XSI fills the buffer); accept either.
[[maybe_unused]] std::string from_strerror_r(const char* text, const char*) {
    return text;
}
[[maybe_unused]] std::string from_strerror_r(int rc, const char* buffer) {
    return rc == 0 ? std::string(buffer) : std::string("unknown error");
}
std::string error_text(int error_number) {
    char buffer[256] = {};
    return from_strerror_r(strerror_r(error_number, buffer, sizeof buffer), buffer);
}

// Owns a posix_spawn_file_actions_t; error() is non-zero when it could not be initialised.
class SpawnFileActions {
  public:
    SpawnFileActions() : error_(posix_spawn_file_actions_init(&actions_)) {}
    SpawnFileActions(const SpawnFileActions&) = delete;
    SpawnFileActions& operator=(const SpawnFileActions&) = delete;
    ~SpawnFileActions() {
        if (error_ == 0) posix_spawn_file_actions_destroy(&actions_);
    }
    int error() const { return error_; }
    posix_spawn_file_actions_t* get() { return &actions_; }

  private:
    posix_spawn_file_actions_t actions_{};
    int error_;
};

// Owns a posix_spawnattr_t; error() is non-zero when it could not be initialised.
class SpawnAttributes {
  public:
    SpawnAttributes() : error_(posix_spawnattr_init(&attributes_)) {}
    SpawnAttributes(const SpawnAttributes&) = delete;
    SpawnAttributes& operator=(const SpawnAttributes&) = delete;
    ~SpawnAttributes() {
        if (error_ == 0) posix_spawnattr_destroy(&attributes_);
    }
    int error() const { return error_; }
    posix_spawnattr_t* get() { return &attributes_; }

  private:
    posix_spawnattr_t attributes_{};
    int error_;
};

// Owns a spawned child that leads its own process group. The group id stays valid (and cannot be reused)
// until the leader is reaped, so every group signal is sent before reaping. If the owner goes away while
// the child still runs, the whole group is killed and the child reaped.
class ChildProcess {
  public:
    explicit ChildProcess(pid_t pid) : pid_(pid) {}
    ChildProcess(const ChildProcess&) = delete;
    ChildProcess& operator=(const ChildProcess&) = delete;
    ~ChildProcess() {
        if (reaped_) return;
        signal_group(SIGKILL);
        reap();
    }

    // True once the child has exited; it stays a zombie (not reaped) so its group can still be signalled.
    bool has_exited() {
        if (reaped_) return true;
        for (;;) {
            siginfo_t info{};
            if (::waitid(P_PID, static_cast<id_t>(pid_), &info, WEXITED | WNOHANG | WNOWAIT) == 0)
                return info.si_pid == pid_;
            if (errno == EINTR) continue;
            // ECHILD: someone else reaped it (or SIGCHLD is ignored); nothing is left to wait for.
            reaped_ = true;
            return true;
        }
    }

    void signal_group(int signal_number) const {
        if (!reaped_) ::kill(-pid_, signal_number);
    }

    // Waits for the child and returns its wait status, or nullopt when the status was lost.
    std::optional<int> reap() {
        if (reaped_) return status_;
        int status = 0;
        pid_t waited = -1;
        do {
            waited = ::waitpid(pid_, &status, 0);
        } while (waited == -1 && errno == EINTR);
        reaped_ = true;
        if (waited == pid_) status_ = status;
        return status_;
    }

  private:
    pid_t pid_;
    bool reaped_ = false;
    std::optional<int> status_;
};

// Keeps the last `limit` bytes of a stream without holding more than 2 * limit bytes at any time.
class OutputTail {
  public:
    explicit OutputTail(std::size_t limit) : limit_(limit) {}

    void append(const char* data, std::size_t size) {
        total_ += size;
        if (limit_ == 0) return;
        if (size >= limit_) {
            kept_.assign(data + (size - limit_), limit_);
            return;
        }
        if (kept_.size() + size > 2 * limit_) kept_.erase(0, kept_.size() - (limit_ - size));
        kept_.append(data, size);
    }

    bool truncated() const { return total_ > limit_; }

    std::string take() {
        if (kept_.size() > limit_) kept_.erase(0, kept_.size() - limit_);
        return std::move(kept_);
    }

  private:
    std::size_t limit_;
    std::size_t total_ = 0;
    std::string kept_;
};

// The daemon's environment with `overrides` replacing same-named entries in place or added at the end.
std::vector<std::string>
merged_environment(const std::vector<std::pair<std::string, std::string>>& overrides) {
    std::vector<std::string> entries;
    for (char** entry = environ; entry != nullptr && *entry != nullptr; ++entry)
        entries.emplace_back(*entry);
    for (const auto& [name, value] : overrides) {
        const std::string prefix = name + "=";
        auto same_name = std::find_if(entries.begin(), entries.end(), [&](const std::string& entry) {
            return entry.compare(0, prefix.size(), prefix) == 0;
        });
        if (same_name != entries.end())
            *same_name = prefix + value;
        else
            entries.push_back(prefix + value);
    }
    return entries;
}

std::vector<char*> pointer_array(const std::vector<std::string>& strings) {
    std::vector<char*> pointers;
    pointers.reserve(strings.size() + 1);
    for (const auto& text : strings)
        pointers.push_back(const_cast<char*>(text.c_str()));
    pointers.push_back(nullptr);
    return pointers;
}

// Milliseconds for poll(), rounded up so that a wait never ends just before the moment it waits for.
int poll_milliseconds(SteadyClock::duration wait) {
    if (wait <= SteadyClock::duration::zero()) return 0;
    return static_cast<int>(std::chrono::ceil<std::chrono::milliseconds>(wait).count());
}

Duration since(SteadyClock::time_point start) {
    return std::chrono::duration_cast<Duration>(SteadyClock::now() - start);
}

// Prepares the child side: stdout and stderr to the pipe, stdin from /dev/null, no other descriptors.
int add_file_actions(SpawnFileActions& actions, int output_fd) {
    if (actions.error() != 0) return actions.error();
    if (int rc = posix_spawn_file_actions_adddup2(actions.get(), output_fd, STDOUT_FILENO); rc != 0)
        return rc;
    if (int rc = posix_spawn_file_actions_adddup2(actions.get(), output_fd, STDERR_FILENO); rc != 0)
        return rc;
    if (int rc = posix_spawn_file_actions_addopen(actions.get(), STDIN_FILENO, "/dev/null", O_RDONLY, 0);
        rc != 0)
        return rc;
#if defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 34))
    // Descriptors a library opened without O_CLOEXEC (sockets, databases) must not leak into the command.
    if (int rc = posix_spawn_file_actions_addclosefrom_np(actions.get(), STDERR_FILENO + 1); rc != 0)
        return rc;
#endif
    return 0;
}

// A new process group led by the child, default signal dispositions and an empty signal mask, whatever
// the daemon's threads block or ignore (a blocked SIGTERM would otherwise be inherited).
int set_attributes(SpawnAttributes& attributes) {
    if (attributes.error() != 0) return attributes.error();
    sigset_t no_signals;
    sigemptyset(&no_signals);
    sigset_t all_signals;
    sigfillset(&all_signals);
    if (int rc = posix_spawnattr_setflags(
            attributes.get(),
            static_cast<short>(POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF));
        rc != 0)
        return rc;
    if (int rc = posix_spawnattr_setpgroup(attributes.get(), 0); rc != 0) return rc;
    if (int rc = posix_spawnattr_setsigmask(attributes.get(), &no_signals); rc != 0) return rc;
    return posix_spawnattr_setsigdefault(attributes.get(), &all_signals);
}

} // namespace

std::string CommandResult::describe() const {
    if (!started) return "could not start: " + spawn_error;
    std::string how_it_ended;
    if (signal != 0)
        how_it_ended = "killed by signal " + std::to_string(signal);
    else if (exit_code >= 0)
        how_it_ended = "exit status " + std::to_string(exit_code);
    else
        how_it_ended = "ended with an unknown status";
    if (!timed_out && !cancelled) return how_it_ended;

    std::string ending;
    if (ended_with_signal == SIGKILL)
        ending = " (ended with SIGKILL)";
    else if (ended_with_signal == SIGTERM)
        ending = " (ended with SIGTERM)";
    else
        ending = " (" + how_it_ended + ")";
    if (cancelled) return "cancelled" + ending;
    return "timed out after " + format_duration(timeout > Duration::zero() ? timeout : elapsed) + ending;
}

CommandResult ProcessCommandRunner::run(const CommandSpec& spec, const std::atomic<bool>& cancel) {
    const auto started_at = SteadyClock::now();
    CommandResult result;
    result.timeout = spec.timeout;
    if (spec.argv.empty()) {
        result.spawn_error = "the command is empty: give at least the program to run";
        return result;
    }
    const std::string& program = spec.argv.front();

    int pipe_fds[2] = {-1, -1};
    if (::pipe2(pipe_fds, O_CLOEXEC) != 0) {
        result.spawn_error = program + ": cannot create the output pipe: " + error_text(errno);
        return result;
    }
    UniqueFd read_end(pipe_fds[0]);
    UniqueFd write_end(pipe_fds[1]);

    SpawnFileActions actions;
    SpawnAttributes attributes;
    if (int rc = add_file_actions(actions, write_end.get()); rc != 0) {
        result.spawn_error = program + ": cannot prepare the child's files: " + error_text(rc);
        return result;
    }
    if (int rc = set_attributes(attributes); rc != 0) {
        result.spawn_error = program + ": cannot prepare the child's attributes: " + error_text(rc);
        return result;
    }
    const std::vector<char*> argv = pointer_array(spec.argv);
    const std::vector<std::string> environment = merged_environment(spec.environment);
    const std::vector<char*> envp = pointer_array(environment);

    pid_t pid = -1;
    if (int rc =
            ::posix_spawnp(&pid, program.c_str(), actions.get(), attributes.get(), argv.data(), envp.data());
        rc != 0) {
        result.spawn_error = program + ": " + error_text(rc);
        result.elapsed = since(started_at);
        return result;
    }
    ChildProcess child(pid);
    result.started = true;
    write_end.reset(); // the child holds its own copy; ours would keep the pipe from ever reaching EOF
    ::fcntl(read_end.get(), F_SETFL, ::fcntl(read_end.get(), F_GETFL) | O_NONBLOCK);

    const auto deadline = started_at + spec.timeout;
    std::optional<SteadyClock::time_point> terminate_sent_at;
    std::optional<SteadyClock::time_point> exited_at;
    std::optional<int> wait_status;
    OutputTail output(spec.output_limit);
    std::string chunk(kReadChunk, '\0');
    auto idle_sleep = std::chrono::duration_cast<SteadyClock::duration>(kFirstIdleSleep);

    for (;;) {
        auto now = SteadyClock::now();
        if (!exited_at && child.has_exited()) {
            // Whatever the command left running in its group goes now, while the zombie keeps the group id.
            child.signal_group(SIGKILL);
            wait_status = child.reap();
            exited_at = now;
        }

        SteadyClock::duration wait = kTick;
        if (exited_at) {
            // A process that left the group may still hold the pipe: read what is there, then stop.
            if (!read_end.valid() || now - *exited_at >= kDrainAfterExit) break;
            wait = std::min(wait, *exited_at + kDrainAfterExit - now);
        } else if (!terminate_sent_at) {
            if (cancel.load()) {
                result.cancelled = true;
            } else if (now >= deadline) {
                result.timed_out = true;
            }
            if (result.cancelled || result.timed_out) {
                child.signal_group(SIGTERM);
                result.ended_with_signal = SIGTERM;
                terminate_sent_at = now;
                wait = std::min<SteadyClock::duration>(wait, spec.kill_grace);
            } else {
                wait = std::min(wait, deadline - now);
            }
        } else if (result.ended_with_signal == SIGTERM) {
            if (now >= *terminate_sent_at + spec.kill_grace) {
                child.signal_group(SIGKILL);
                result.ended_with_signal = SIGKILL;
            } else {
                wait = std::min(wait, *terminate_sent_at + spec.kill_grace - now);
            }
        }

        if (!read_end.valid()) {
            // The child closed its output but runs on: sleep briefly, longer each time, up to one tick.
            std::this_thread::sleep_for(std::min(idle_sleep, wait));
            idle_sleep = std::min<SteadyClock::duration>(idle_sleep * 2, kTick);
            continue;
        }
        pollfd readable{read_end.get(), POLLIN, 0};
        const int ready = ::poll(&readable, 1, poll_milliseconds(wait));
        if (ready <= 0) continue; // timed out or interrupted: re-check the child, cancel and deadlines
        const ssize_t count = ::read(read_end.get(), chunk.data(), chunk.size());
        if (count > 0)
            output.append(chunk.data(), static_cast<std::size_t>(count));
        else if (count == 0 || (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR))
            read_end.reset(); // end of output (or an unreadable pipe): only the child is left to wait for
    }

    if (wait_status) {
        if (WIFEXITED(*wait_status)) result.exit_code = WEXITSTATUS(*wait_status);
        if (WIFSIGNALED(*wait_status)) result.signal = WTERMSIG(*wait_status);
    }
    result.output_truncated = output.truncated();
    result.output = output.take();
    result.elapsed = since(started_at);
    return result;
}

} // namespace rollback
