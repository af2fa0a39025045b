// Runs one rollback command as a child process: no shell, a timeout, bounded output capture.
#pragma once

#include "common/time_util.hpp"

#include <atomic>
#include <string>
#include <vector>

namespace rollback {

struct CommandSpec {
    std::vector<std::string> argv; // argv[0] is looked up in PATH when it has no '/'
    std::vector<std::pair<std::string, std::string>> environment; // added to (or replacing in) the daemon's
    Duration timeout = std::chrono::minutes(10);
    Duration kill_grace = std::chrono::seconds(5); // SIGTERM, then SIGKILL after this long
    std::size_t output_limit = 64 * 1024;          // keep the last this-many bytes of stdout+stderr
};

struct CommandResult {
    bool started = false;    // false: could not start (spawn_error says why)
    std::string spawn_error; // e.g. "scripts/rollback.sh: No such file or directory"
    int exit_code = -1;      // when it exited normally
    int signal = 0;          // when it was ended by a signal
    bool timed_out = false;  // the timeout ran out and we ended it
    bool cancelled = false;  // the cancel flag was raised and we ended it
    std::string output;      // stdout and stderr interleaved, the last output_limit bytes
    bool output_truncated = false;
    Duration elapsed{0};
    Duration timeout{0};       // the timeout that applied (describe() names it when timed_out)
    int ended_with_signal = 0; // timed out or cancelled: the last signal sent to the group (SIGTERM/SIGKILL)

    bool succeeded() const { return started && !timed_out && !cancelled && signal == 0 && exit_code == 0; }
    // One line for a person: "exit status 0", "exit status 3", "killed by signal 9",
    // "timed out after 10s (ended with SIGTERM)", "cancelled (ended with SIGKILL)", "could not start: ...".
    std::string describe() const;
};

// The seam the rollback engine runs actions through, so tests can inject a fake.
class CommandRunner {
  public:
    virtual ~CommandRunner() = default;
    // Blocks until the command ends, times out or `cancel` becomes true (checked at least every 50 ms).
    virtual CommandResult run(const CommandSpec& spec, const std::atomic<bool>& cancel) = 0;
};

// The real one: posix_spawn into a new process group; the whole group gets SIGTERM then SIGKILL.
// stdin is /dev/null. The child never outlives run(): when it exits, whatever it left running in its process
// group is killed (SIGKILL) before it is reaped. Only a process that left the group (setsid) survives; if it
// holds the output pipe, run() stops reading shortly after the child exited.
class ProcessCommandRunner final : public CommandRunner {
  public:
    CommandResult run(const CommandSpec& spec, const std::atomic<bool>& cancel) override;
};

} // namespace rollback
