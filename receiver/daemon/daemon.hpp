// The daemon's life: flags, config, ledger, engine, HTTP server, signals; main() only calls run_daemon.
#pragma once

namespace rollback {

// Returns the process exit status: 0 after a graceful stop, 1 for a start-up failure, 2 for bad usage.
int run_daemon(int argc, char** argv);

} // namespace rollback
