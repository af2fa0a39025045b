// Command-line flags of the daemon, Prometheus style (--flag=value and --flag value).
#pragma once

#include "common/result.hpp"
#include "ops/logging.hpp"

#include <optional>
#include <string>
#include <vector>

namespace rollback {

struct DaemonFlags {
    std::string config_file = "config/receiver.yml";
    std::optional<std::string> listen_address; // overrides listen_address of the config
    std::optional<std::string> ledger_path;    // overrides ledger.path of the config
    bool dry_run = false;
    LogLevel log_level = LogLevel::info;
    LogFormat log_format = LogFormat::logfmt;
    bool show_version = false;
    bool show_help = false;
};

// `arguments` excludes the program name. Errors name the flag and what it expects.
Result<DaemonFlags> parse_daemon_flags(const std::vector<std::string>& arguments);

std::string daemon_usage();
std::string version_text(const std::string& program);

} // namespace rollback
