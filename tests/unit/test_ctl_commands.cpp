// Unit tests for rollbackctl's commands without a receiver: usage errors, every --help, a missing token file.
#include "ctl/commands.hpp"

#include <doctest/doctest.h>

#include <sstream>
#include <string>
#include <vector>

namespace rollback {
namespace {

using Arguments = std::vector<std::string>;

bool contains(const std::string& text, const std::string& part) {
    return text.find(part) != std::string::npos;
}

TEST_CASE("run_ctl: usage errors exit 2 with a usage line, --help exits 0, no network needed") {
    std::ostringstream out, err;
    CHECK(run_ctl({"frobnicate"}, {}, out, err) == kCtlExitUsage);
    CHECK(contains(err.str(), "unknown command \"frobnicate\""));
    CHECK(contains(err.str(), "usage: rollbackctl"));
    CHECK(out.str().empty());

    for (CtlCommand command :
         {CtlCommand::none, CtlCommand::record, CtlCommand::deployments, CtlCommand::audit, CtlCommand::pause,
          CtlCommand::resume, CtlCommand::rollback, CtlCommand::verify}) {
        std::ostringstream help_out, help_err;
        Arguments arguments;
        if (command != CtlCommand::none) arguments.emplace_back(to_string(command));
        arguments.emplace_back("--help");
        CAPTURE(to_string(command));
        CHECK(run_ctl(arguments, {}, help_out, help_err) == kCtlExitOk);
        CHECK(help_out.str() == ctl_command_usage(command));
        CHECK(contains(help_out.str(), "usage: rollbackctl"));
        CHECK(contains(help_out.str(), "Exit status: 0"));
        CHECK(help_err.str().empty());
    }

    std::ostringstream token_out, token_err;
    CHECK(run_ctl({"--token-file", "/nonexistent/token", "deployments"}, {}, token_out, token_err) ==
          kCtlExitUsage);
    CHECK(contains(token_err.str(), "cannot read the token file \"/nonexistent/token\""));
}

} // namespace
} // namespace rollback
