// Parsing of the daemon's flags and its --help text.
#include "daemon/flags.hpp"

namespace rollback {

Result<DaemonFlags> parse_daemon_flags(const std::vector<std::string>& arguments) {
    DaemonFlags flags;
    for (std::size_t i = 0; i < arguments.size(); ++i) {
        const std::string& argument = arguments[i];
        if (argument.rfind("--", 0) != 0)
            return make_error("unexpected argument \"" + argument + "\" (flags start with --; see --help)");
        std::string name = argument.substr(2);
        std::optional<std::string> value;
        if (const auto equals = name.find('='); equals != std::string::npos) {
            value = name.substr(equals + 1);
            name = name.substr(0, equals);
        }
        auto take_value = [&]() -> Result<std::string> {
            if (value) return *value;
            if (i + 1 >= arguments.size()) return make_error("--" + name + " needs a value (see --help)");
            return arguments[++i];
        };
        auto boolean = [&](bool& out) -> Status {
            if (!value || *value == "true")
                out = true;
            else if (*value == "false")
                out = false;
            else
                return make_error("--" + name + ": expected true or false, got \"" + *value + "\"");
            return ok_status();
        };
        if (name == "config.file" || name == "web.listen-address" || name == "ledger.path" ||
            name == "log.level" || name == "log.format") {
            auto text = take_value();
            if (!text) return Error{text.error()};
            if (name == "config.file")
                flags.config_file = *text;
            else if (name == "web.listen-address")
                flags.listen_address = *text;
            else if (name == "ledger.path")
                flags.ledger_path = *text;
            else if (name == "log.level") {
                auto level = parse_log_level(*text);
                if (!level) return Error{level.error()};
                flags.log_level = *level;
            } else {
                auto format = parse_log_format(*text);
                if (!format) return Error{format.error()};
                flags.log_format = *format;
            }
        } else if (name == "dry-run") {
            if (auto s = boolean(flags.dry_run); !s) return Error{s.error()};
        } else if (name == "version") {
            flags.show_version = true;
        } else if (name == "help") {
            flags.show_help = true;
        } else {
            return make_error("unknown flag --" + name + " (see --help)");
        }
    }
    return flags;
}

std::string daemon_usage() {
    return R"(usage: rollback-receiver [<flags>]

Receives Alertmanager webhooks and rolls back the recent deployment of the alerting service, once.

Flags:
  --config.file=config/receiver.yml  Configuration file (YAML). SIGHUP or POST /-/reload re-reads it.
  --web.listen-address=HOST:PORT     Address to listen on; overrides listen_address of the config.
                                     Port 0 picks a free port (the log line "listening" names it).
  --ledger.path=PATH                 SQLite ledger file; overrides ledger.path of the config.
  --dry-run                          Decide and audit (rollback_dry_run), never run an action.
  --log.level=info                   debug, info, warn or error.
  --log.format=logfmt                logfmt or json.
  --version                          Print the version and exit.
  --help                             Print this help and exit.

Exit status: 0 after SIGTERM/SIGINT (graceful stop), 1 when start-up fails (bad config, ledger or
address; the message says which), 2 for a usage error.
)";
}

std::string version_text(const std::string& program) {
    return program + ", version " + ROLLBACK_RECEIVER_VERSION + "\n";
}

} // namespace rollback
