// Unit tests for ProcessCommandRunner with real child processes: no shell, output, timeout, cancel, groups.
#include "actions/command_runner.hpp"
#include "support/temp_dir.hpp"

#include <doctest/doctest.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include <fcntl.h>
#include <pthread.h>
#include <sys/wait.h>
#include <unistd.h>

namespace rollback {
namespace {

using namespace std::chrono_literals;
using testing::TempDir;

constexpr Duration kQuick = 5s; // a generous bound for "ended quickly" on a busy machine

CommandResult run_command(CommandSpec spec) {
    ProcessCommandRunner runner;
    std::atomic<bool> never{false};
    return runner.run(spec, never);
}

CommandResult run_argv(std::vector<std::string> argv) {
    CommandSpec spec;
    spec.argv = std::move(argv);
    spec.timeout = 20s;
    return run_command(spec);
}

// Raises `cancel` as soon as `path` exists (the command says it is ready), or after 5 s at the latest.
std::thread raise_cancel_once_exists(const std::string& path, std::atomic<bool>& cancel) {
    return std::thread([path, &cancel] {
        const auto give_up = std::chrono::steady_clock::now() + 5s;
        while (!std::filesystem::exists(path) && std::chrono::steady_clock::now() < give_up)
            std::this_thread::sleep_for(5ms);
        cancel = true;
    });
}

// True when `pid` no longer runs: gone, or a zombie waiting for its (new) parent. Waits up to 5 s for it.
bool process_ended(pid_t pid) {
    const auto give_up = std::chrono::steady_clock::now() + 5s;
    for (;;) {
        std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
        std::string line;
        if (!stat || !std::getline(stat, line)) return true;
        const std::size_t name_end = line.rfind(')');
        if (name_end != std::string::npos && name_end + 2 < line.size()) {
            const char state = line[name_end + 2];
            if (state == 'Z' || state == 'X') return true;
        }
        if (std::chrono::steady_clock::now() >= give_up) return false;
        std::this_thread::sleep_for(10ms);
    }
}

pid_t first_line_pid(const std::string& output) {
    const std::string first = output.substr(0, output.find('\n'));
    REQUIRE_MESSAGE(!first.empty(), "the command printed no pid: " << output);
    return static_cast<pid_t>(std::stol(first));
}

std::size_t open_descriptor_count() {
    std::size_t count = 0;
    for ([[maybe_unused]] const auto& entry : std::filesystem::directory_iterator("/proc/self/fd"))
        ++count;
    return count;
}

TEST_CASE("a successful command reports exit status 0 and its output") {
    const CommandResult result = run_argv({"/bin/echo", "hello", "world"});
    CHECK(result.started);
    CHECK(result.exit_code == 0);
    CHECK(result.signal == 0);
    CHECK(result.output == "hello world\n");
    CHECK_FALSE(result.output_truncated);
    CHECK_FALSE(result.timed_out);
    CHECK_FALSE(result.cancelled);
    CHECK(result.succeeded());
    CHECK(result.describe() == "exit status 0");
}

TEST_CASE("a failing command reports its exit status and is not a success") {
    struct Row {
        std::vector<std::string> argv;
        int exit_code;
        std::string description;
    };
    const std::vector<Row> rows{
        {{"/bin/false"}, 1, "exit status 1"},
        {{"/bin/sh", "-c", "echo failing; exit 3"}, 3, "exit status 3"},
        {{"/bin/sh", "-c", "exit 255"}, 255, "exit status 255"},
    };
    for (const auto& row : rows) {
        CAPTURE(row.description);
        const CommandResult result = run_argv(row.argv);
        CHECK(result.started);
        CHECK(result.exit_code == row.exit_code);
        CHECK_FALSE(result.succeeded());
        CHECK(result.describe() == row.description);
    }
}

TEST_CASE("a command ended by a signal reports the signal") {
    const CommandResult result = run_argv({"/bin/sh", "-c", "kill -9 $$"});
    CHECK(result.started);
    CHECK(result.signal == SIGKILL);
    CHECK(result.exit_code == -1);
    CHECK_FALSE(result.succeeded());
    CHECK(result.describe() == "killed by signal 9");
}

TEST_CASE("stdout and stderr arrive interleaved in the order they were written") {
    const CommandResult result =
        run_argv({"/bin/sh", "-c", "echo one; echo two >&2; echo three; echo four >&2"});
    CHECK(result.output == "one\ntwo\nthree\nfour\n");
}

TEST_CASE("arguments reach the command one by one and literally, never through a shell") {
    const std::vector<std::string> arguments{
        "two words", "it's \"quoted\"", "; rm -rf /", "$(whoami)", "`id`", "*", "", "--to=v1", "a\nnewline",
    };
    std::vector<std::string> argv{"/bin/sh", "-c",
                                  "printf '%s\\n' \"$#\"; for a; do printf '[%s]\\n' \"$a\"; done", "sh"};
    argv.insert(argv.end(), arguments.begin(), arguments.end());
    std::string expected = std::to_string(arguments.size()) + "\n";
    for (const auto& argument : arguments)
        expected += "[" + argument + "]\n";

    const CommandResult result = run_argv(argv);
    CHECK(result.exit_code == 0);
    CHECK(result.output == expected);

    for (const std::string argument : {"; rm -rf /", "$(whoami)", "*", "two words"}) {
        CAPTURE(argument);
        CHECK(run_argv({"/usr/bin/printf", "%s\\n", argument}).output == argument + "\n");
    }
}

TEST_CASE("the command sees the daemon's environment with the ROLLBACK_* entries added or replaced") {
    REQUIRE(::setenv("ROLLBACK_SERVICE", "stale-value-from-the-daemon", 1) == 0);
    REQUIRE(::setenv("ROLLBACK_TEST_INHERITED", "inherited", 1) == 0);
    CommandSpec spec;
    spec.argv = {
        "/bin/sh", "-c",
        "printf '%s|%s|%s\\n' \"$ROLLBACK_SERVICE\" \"$ROLLBACK_TO_VERSION\" \"$ROLLBACK_TEST_INHERITED\";"
        "env | grep -c '^ROLLBACK_SERVICE='"};
    spec.environment = {{"ROLLBACK_SERVICE", "checkout"}, {"ROLLBACK_TO_VERSION", "v1; rm -rf /"}};
    const CommandResult result = run_command(spec);
    ::unsetenv("ROLLBACK_SERVICE");
    ::unsetenv("ROLLBACK_TEST_INHERITED");
    CHECK(result.exit_code == 0);
    CHECK(result.output == "checkout|v1; rm -rf /|inherited\n1\n");
}

TEST_CASE("stdin is /dev/null, so a command reading it ends at once") {
    CommandSpec spec;
    spec.argv = {"cat"};
    spec.timeout = 20s;
    const CommandResult result = run_command(spec);
    CHECK(result.exit_code == 0);
    CHECK(result.output.empty());
    CHECK_FALSE(result.timed_out);
    CHECK(run_argv({"/bin/sh", "-c", "readlink /proc/$$/fd/0"}).output == "/dev/null\n");
}

TEST_CASE("a bare program name is looked up in PATH") {
    CHECK(run_argv({"true"}).describe() == "exit status 0");
    CHECK(run_argv({"false"}).describe() == "exit status 1");
    CHECK(run_argv({"echo", "from PATH"}).output == "from PATH\n");
}

TEST_CASE("a command that cannot start reports why") {
    TempDir dir;
    const std::string not_executable = dir.write("rollback.sh", "#!/bin/sh\necho never\n"); // no x bit
    struct Row {
        std::string program;
        std::string error;
    };
    const std::vector<Row> rows{
        {"/nonexistent/scripts/rollback.sh", "/nonexistent/scripts/rollback.sh: No such file or directory"},
        {"no-such-rollback-command", "no-such-rollback-command: No such file or directory"},
        {not_executable, not_executable + ": Permission denied"},
    };
    for (const auto& row : rows) {
        CAPTURE(row.program);
        const CommandResult result = run_argv({row.program, "checkout"});
        CHECK_FALSE(result.started);
        CHECK_FALSE(result.succeeded());
        CHECK(result.spawn_error == row.error);
        CHECK(result.describe() == "could not start: " + row.error);
    }

    const CommandResult empty = run_argv({});
    CHECK_FALSE(empty.started);
    CHECK(empty.describe().find("could not start: the command is empty") == 0);
}

TEST_CASE("a command that runs past its timeout is ended with SIGTERM") {
    CommandSpec spec;
    spec.argv = {"sleep", "30"};
    spec.timeout = 200ms;
    const CommandResult result = run_command(spec);
    CHECK(result.started);
    CHECK(result.timed_out);
    CHECK_FALSE(result.cancelled);
    CHECK(result.signal == SIGTERM);
    CHECK(result.ended_with_signal == SIGTERM);
    CHECK_FALSE(result.succeeded());
    CHECK(result.elapsed >= 200ms);
    CHECK(result.elapsed < kQuick);
    CHECK(result.describe() == "timed out after 200ms (ended with SIGTERM)");
}

TEST_CASE("SIGTERM reaches the command even when the daemon blocks or ignores it") {
    // A daemon typically blocks SIGTERM in its threads (to sigwait for it) and may ignore signals; a child
    // inheriting that would shrug off the runner's SIGTERM and only end with SIGKILL after the grace period.
    struct sigaction ignore {};
    ignore.sa_handler = SIG_IGN;
    struct sigaction previous {};
    REQUIRE(::sigaction(SIGTERM, &ignore, &previous) == 0);
    CommandResult result;
    std::thread blocked_thread([&result] {
        sigset_t term;
        sigemptyset(&term);
        sigaddset(&term, SIGTERM);
        ::pthread_sigmask(SIG_BLOCK, &term, nullptr);
        CommandSpec spec;
        spec.argv = {"sleep", "30"};
        spec.timeout = 100ms;
        spec.kill_grace = 10s;
        result = run_command(spec);
    });
    blocked_thread.join();
    ::sigaction(SIGTERM, &previous, nullptr);
    CHECK(result.timed_out);
    CHECK(result.signal == SIGTERM);
    CHECK(result.elapsed < kQuick);
}

TEST_CASE("a cancel raised from another thread ends a long command quickly") {
    ProcessCommandRunner runner;
    std::atomic<bool> cancel{false};
    CommandSpec spec;
    spec.argv = {"sleep", "30"};
    std::thread canceller([&cancel] {
        std::this_thread::sleep_for(100ms);
        cancel = true;
    });
    const CommandResult result = runner.run(spec, cancel);
    canceller.join();
    CHECK(result.cancelled);
    CHECK_FALSE(result.timed_out);
    CHECK(result.signal == SIGTERM);
    CHECK(result.elapsed < kQuick);
    CHECK(result.describe() == "cancelled (ended with SIGTERM)");
}

TEST_CASE("a command that ignores SIGTERM gets SIGKILL after the grace period") {
    TempDir dir;
    const std::string ready = dir.file("ready");
    ProcessCommandRunner runner;
    std::atomic<bool> cancel{false};
    CommandSpec spec;
    spec.argv = {"/bin/sh", "-c", "trap '' TERM; touch \"$1\"; sleep 30", "sh", ready};
    spec.kill_grace = 300ms;
    std::thread canceller = raise_cancel_once_exists(ready, cancel);
    const CommandResult result = runner.run(spec, cancel);
    canceller.join();
    CHECK(result.cancelled);
    CHECK(result.signal == SIGKILL);
    CHECK(result.ended_with_signal == SIGKILL);
    CHECK(result.elapsed >= 300ms);
    CHECK(result.elapsed < kQuick);
    CHECK(result.describe() == "cancelled (ended with SIGKILL)");
}

TEST_CASE("the whole process group is ended, grandchildren included") {
    struct Row {
        std::string name;
        std::string background; // the grandchild the command starts
    };
    const std::vector<Row> rows{
        {"a plain grandchild", "sleep 30 &"},
        {"a grandchild that ignores SIGTERM", "(trap '' TERM; exec sleep 30) &"},
    };
    for (const auto& row : rows) {
        CAPTURE(row.name);
        TempDir dir;
        const std::string ready = dir.file("ready");
        ProcessCommandRunner runner;
        std::atomic<bool> cancel{false};
        CommandSpec spec;
        spec.argv = {"/bin/sh", "-c", row.background + " echo $!; touch \"$1\"; wait", "sh", ready};
        spec.kill_grace = 2s;
        std::thread canceller = raise_cancel_once_exists(ready, cancel);
        const CommandResult result = runner.run(spec, cancel);
        canceller.join();
        CHECK(result.cancelled);
        CHECK(result.elapsed < kQuick);
        const pid_t grandchild = first_line_pid(result.output);
        CHECK(process_ended(grandchild));
    }
}

TEST_CASE("what a successful command leaves running in its group is killed when it exits") {
    const CommandResult result = run_argv({"/bin/sh", "-c", "sleep 30 & echo $!"});
    CHECK(result.exit_code == 0);
    CHECK(result.elapsed < kQuick);
    CHECK(process_ended(first_line_pid(result.output)));
}

TEST_CASE("a process that left the group and holds the output pipe does not keep run() waiting") {
    // The command starts a process in a new session (out of reach of the group kill) that inherits the
    // output pipe, waits until it is there, prints its pid and exits.
    TempDir dir;
    const std::string pid_file = dir.file("escaped.pid");
    const CommandResult result = run_argv({"/bin/sh", "-c",
                                           "setsid /bin/sh -c 'echo $$ > \"$1\"; exec sleep 30' sh \"$1\" & "
                                           "while [ ! -s \"$1\" ]; do sleep 0.01; done; cat \"$1\"",
                                           "sh", pid_file});
    const pid_t escaped = first_line_pid(result.output);
    CHECK(::kill(escaped, 0) == 0); // it really escaped the group kill, so it held the pipe
    ::kill(escaped, SIGKILL);       // it escaped the runner on purpose; the test cleans it up
    CHECK(result.exit_code == 0);
    CHECK(result.elapsed < kQuick);
}

TEST_CASE("only the last output_limit bytes of a large output are kept") {
    CommandSpec spec;
    spec.argv = {"/bin/sh", "-c", "head -c 5000000 /dev/zero | tr '\\0' x; printf END"};
    spec.timeout = 20s;
    const CommandResult result = run_command(spec);
    CHECK(result.exit_code == 0);
    CHECK(result.output_truncated);
    REQUIRE(result.output.size() == 64 * 1024);
    CHECK(result.output == std::string(64 * 1024 - 3, 'x') + "END");
}

TEST_CASE("output_limit keeps exactly the tail and marks truncation only when something was dropped") {
    struct Row {
        std::string printed;
        std::size_t limit;
        std::string kept;
        bool truncated;
    };
    const std::vector<Row> rows{
        {"", 10, "", false},
        {"0123456789", 10, "0123456789", false},
        {"0123456789A", 10, "123456789A", true},
        {"abc", 0, "", true},
        {"", 0, "", false},
    };
    for (const auto& row : rows) {
        CAPTURE(row.printed);
        CAPTURE(row.limit);
        CommandSpec spec;
        spec.argv = {"/usr/bin/printf", "%s", row.printed};
        spec.output_limit = row.limit;
        const CommandResult result = run_command(spec);
        CHECK(result.output == row.kept);
        CHECK(result.output_truncated == row.truncated);
    }
}

TEST_CASE("the command does not inherit the daemon's other file descriptors") {
    const int leaky = ::open("/dev/null", O_RDONLY); // deliberately without O_CLOEXEC
    REQUIRE(leaky >= 0);
    const std::string fd_path = "/proc/self/fd/" + std::to_string(leaky);
    const CommandResult result = run_argv(
        {"/bin/sh", "-c", "if [ -e \"$1\" ]; then echo leaked; else echo closed; fi", "sh", fd_path});
    ::close(leaky);
    CHECK(result.output == "closed\n");
}

TEST_CASE("run() may be called from several threads at once") {
    constexpr int kThreads = 4;
    constexpr int kRunsPerThread = 5;
    std::vector<std::string> failures(kThreads);
    std::vector<std::thread> threads;
    for (int index = 0; index < kThreads; ++index) {
        threads.emplace_back([index, &failures] {
            ProcessCommandRunner runner;
            std::atomic<bool> never{false};
            for (int run = 0; run < kRunsPerThread; ++run) {
                CommandSpec spec;
                spec.argv = {"/bin/sh", "-c", "echo \"$ROLLBACK_SERVICE\"; echo err-$1 >&2", "sh",
                             std::to_string(index)};
                spec.environment = {{"ROLLBACK_SERVICE", "service-" + std::to_string(index)}};
                const CommandResult result = runner.run(spec, never);
                const std::string expected =
                    "service-" + std::to_string(index) + "\nerr-" + std::to_string(index) + "\n";
                if (result.exit_code != 0 || result.output != expected)
                    failures[static_cast<std::size_t>(index)] +=
                        result.describe() + ": " + result.output + "; ";
            }
        });
    }
    for (auto& thread : threads)
        thread.join();
    for (const auto& failure : failures)
        CHECK(failure.empty());
}

TEST_CASE("run() leaves no file descriptor open behind it") {
    const std::size_t before = open_descriptor_count();
    run_argv({"/bin/echo", "x"});
    run_argv({"/nonexistent/rollback.sh"});
    CommandSpec spec;
    spec.argv = {"sleep", "30"};
    spec.timeout = 50ms;
    run_command(spec);
    CHECK(open_descriptor_count() == before);
}

TEST_CASE("describe() gives one line for a person") {
    struct Row {
        CommandResult result;
        std::string description;
    };
    auto make = [](auto&& adjust) {
        CommandResult result;
        result.started = true;
        adjust(result);
        return result;
    };
    const std::vector<Row> rows{
        {make([](CommandResult& r) { r.exit_code = 0; }), "exit status 0"},
        {make([](CommandResult& r) { r.exit_code = 3; }), "exit status 3"},
        {make([](CommandResult& r) { r.signal = 9; }), "killed by signal 9"},
        {make([](CommandResult& r) {
             r.timed_out = true;
             r.timeout = 2s;
             r.elapsed = 2013ms;
             r.signal = SIGTERM;
             r.ended_with_signal = SIGTERM;
         }),
         "timed out after 2s (ended with SIGTERM)"},
        {make([](CommandResult& r) {
             r.timed_out = true;
             r.timeout = 10min;
             r.signal = SIGKILL;
             r.ended_with_signal = SIGKILL;
         }),
         "timed out after 10m (ended with SIGKILL)"},
        {make([](CommandResult& r) {
             r.timed_out = true;
             r.timeout = 2s;
             r.exit_code = 143;
             r.ended_with_signal = SIGTERM;
         }),
         "timed out after 2s (ended with SIGTERM)"},
        {make([](CommandResult& r) {
             r.cancelled = true;
             r.signal = SIGTERM;
             r.ended_with_signal = SIGTERM;
         }),
         "cancelled (ended with SIGTERM)"},
        {make([](CommandResult& r) {
             r.cancelled = true;
             r.signal = SIGKILL;
             r.ended_with_signal = SIGKILL;
         }),
         "cancelled (ended with SIGKILL)"},
        {make([](CommandResult& r) {
             r.timed_out = true;
             r.elapsed = 1500ms;
             r.signal = 9;
         }),
         "timed out after 1s500ms (killed by signal 9)"},
        {make([](CommandResult& r) {
             r.started = false;
             r.spawn_error = "x: No such file or directory";
         }),
         "could not start: x: No such file or directory"},
    };
    for (const auto& row : rows)
        CHECK(row.result.describe() == row.description);
}

// Kept last: every child started above must have been reaped by run().
TEST_CASE("no child process is left behind, not even a zombie") {
    errno = 0;
    CHECK(::waitpid(-1, nullptr, WNOHANG) == -1);
    CHECK(errno == ECHILD);
}

} // namespace
} // namespace rollback
