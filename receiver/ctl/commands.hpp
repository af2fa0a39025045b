// rollbackctl's commands: each talks to the receiver (or Prometheus), prints, and gives the exit status.
#pragma once

#include "common/result.hpp"
#include "ctl/args.hpp"

#include <iosfwd>
#include <string>
#include <vector>

namespace rollback {

// The token file's content without surrounding white space; errors name the file.
Result<std::string> read_token_file(const std::string& path);

// Runs rollbackctl: parses, talks to the receiver / Prometheus, prints to `out` and `err`; returns the
// exit status.
int run_ctl(const std::vector<std::string>& arguments, const CtlEnvironment& environment, std::ostream& out,
            std::ostream& err);
// main(): reads the environment and uses std::cout / std::cerr.
int run_ctl(int argc, char** argv);

} // namespace rollback
