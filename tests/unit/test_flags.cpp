// Unit tests for the daemon's command-line flags (Prometheus style) and its --help and --version texts.
#include "daemon/flags.hpp"

#include <doctest/doctest.h>

#include <functional>
#include <string>
#include <vector>

namespace rollback {
namespace {

using Arguments = std::vector<std::string>;

TEST_CASE("no arguments give the documented defaults") {
    const auto flags = parse_daemon_flags({});
    REQUIRE(flags.ok());
    CHECK(flags->config_file == "config/receiver.yml");
    CHECK_FALSE(flags->listen_address.has_value());
    CHECK_FALSE(flags->ledger_path.has_value());
    CHECK_FALSE(flags->dry_run);
    CHECK(flags->log_level == LogLevel::info);
    CHECK(flags->log_format == LogFormat::logfmt);
    CHECK_FALSE(flags->show_version);
    CHECK_FALSE(flags->show_help);
}

TEST_CASE("each flag is read in both the --flag=value and the --flag value form") {
    struct Row {
        Arguments arguments;
        std::function<void(const DaemonFlags&)> check;
    };
    const std::vector<Row> rows{
        {{"--config.file=/etc/rollback/receiver.yml"},
         [](const DaemonFlags& f) { CHECK(f.config_file == "/etc/rollback/receiver.yml"); }},
        {{"--config.file", "/etc/rollback/receiver.yml"},
         [](const DaemonFlags& f) { CHECK(f.config_file == "/etc/rollback/receiver.yml"); }},
        {{"--config.file=a=b.yml"}, [](const DaemonFlags& f) { CHECK(f.config_file == "a=b.yml"); }},
        {{"--web.listen-address=0.0.0.0:9095"},
         [](const DaemonFlags& f) { CHECK(f.listen_address == std::optional<std::string>("0.0.0.0:9095")); }},
        {{"--web.listen-address", "[::1]:0"},
         [](const DaemonFlags& f) { CHECK(f.listen_address == std::optional<std::string>("[::1]:0")); }},
        {{"--ledger.path=/var/lib/rollback/ledger.db"},
         [](const DaemonFlags& f) {
             CHECK(f.ledger_path == std::optional<std::string>("/var/lib/rollback/ledger.db"));
         }},
        {{"--ledger.path", "data/other.db"},
         [](const DaemonFlags& f) { CHECK(f.ledger_path == std::optional<std::string>("data/other.db")); }},
        {{"--log.level=debug"}, [](const DaemonFlags& f) { CHECK(f.log_level == LogLevel::debug); }},
        {{"--log.level", "info"}, [](const DaemonFlags& f) { CHECK(f.log_level == LogLevel::info); }},
        {{"--log.level=warn"}, [](const DaemonFlags& f) { CHECK(f.log_level == LogLevel::warn); }},
        {{"--log.level", "error"}, [](const DaemonFlags& f) { CHECK(f.log_level == LogLevel::error); }},
        {{"--log.format=json"}, [](const DaemonFlags& f) { CHECK(f.log_format == LogFormat::json); }},
        {{"--log.format", "logfmt"}, [](const DaemonFlags& f) { CHECK(f.log_format == LogFormat::logfmt); }},
        {{"--dry-run"}, [](const DaemonFlags& f) { CHECK(f.dry_run); }},
        {{"--dry-run=true"}, [](const DaemonFlags& f) { CHECK(f.dry_run); }},
        {{"--dry-run=false"}, [](const DaemonFlags& f) { CHECK_FALSE(f.dry_run); }},
        {{"--dry-run", "--dry-run=false"}, [](const DaemonFlags& f) { CHECK_FALSE(f.dry_run); }}, // last wins
        {{"--log.level=debug", "--log.level=error"},
         [](const DaemonFlags& f) { CHECK(f.log_level == LogLevel::error); }},
        {{"--version"},
         [](const DaemonFlags& f) {
             CHECK(f.show_version);
             CHECK_FALSE(f.show_help);
         }},
        {{"--help"},
         [](const DaemonFlags& f) {
             CHECK(f.show_help);
             CHECK_FALSE(f.show_version);
         }},
        {{"--config.file", "c.yml", "--web.listen-address=127.0.0.1:0", "--ledger.path", "l.db", "--dry-run",
          "--log.level", "debug", "--log.format=json"},
         [](const DaemonFlags& f) {
             CHECK(f.config_file == "c.yml");
             CHECK(f.listen_address == std::optional<std::string>("127.0.0.1:0"));
             CHECK(f.ledger_path == std::optional<std::string>("l.db"));
             CHECK(f.dry_run);
             CHECK(f.log_level == LogLevel::debug);
             CHECK(f.log_format == LogFormat::json);
             CHECK_FALSE(f.show_help);
             CHECK_FALSE(f.show_version);
         }},
    };
    for (const auto& row : rows) {
        std::string joined;
        for (const auto& argument : row.arguments)
            joined += argument + " ";
        CAPTURE(joined);
        const auto flags = parse_daemon_flags(row.arguments);
        REQUIRE_MESSAGE(flags.ok(), (flags.ok() ? "" : flags.error()));
        row.check(*flags);
    }
}

TEST_CASE("bad arguments are errors that name the flag and point to --help or the allowed values") {
    struct Row {
        Arguments arguments;
        std::string error_part;
    };
    const std::vector<Row> rows{
        {{"--no-such-flag"}, "unknown flag --no-such-flag"},
        {{"--config-file=x.yml"}, "unknown flag --config-file"},
        {{"--"}, "unknown flag --"},
        {{"--dry-run", "--verbose"}, "unknown flag --verbose"},
        {{"--config.file"}, "--config.file needs a value"},
        {{"--dry-run", "--ledger.path"}, "--ledger.path needs a value"},
        {{"--web.listen-address"}, "--web.listen-address needs a value"},
        {{"--log.level"}, "--log.level needs a value"},
        {{"--log.format"}, "--log.format needs a value"},
        {{"--log.level=verbose"}, "--log.level: \"verbose\" is not a level (use debug, info, warn or error)"},
        {{"--log.level", "INFO"}, "--log.level: \"INFO\" is not a level"},
        {{"--log.format=text"}, "--log.format: \"text\" is not a format (use logfmt or json)"},
        {{"--log.format", "JSON"}, "--log.format: \"JSON\" is not a format"},
        {{"--dry-run=yes"}, "--dry-run: expected true or false, got \"yes\""},
        {{"config/receiver.yml"}, "unexpected argument \"config/receiver.yml\""},
        {{"--dry-run", "extra"}, "unexpected argument \"extra\""},
        {{"-config.file=x.yml"}, "unexpected argument \"-config.file=x.yml\""},
        {{"-h"}, "unexpected argument \"-h\""},
    };
    for (const auto& row : rows) {
        std::string joined;
        for (const auto& argument : row.arguments)
            joined += argument + " ";
        CAPTURE(joined);
        const auto flags = parse_daemon_flags(row.arguments);
        REQUIRE_FALSE(flags.ok());
        CAPTURE(flags.error());
        CHECK(flags.error().find(row.error_part) != std::string::npos);
    }
}

TEST_CASE("the flag-level messages say where to look") {
    for (const Arguments& arguments :
         {Arguments{"--nope"}, Arguments{"--config.file"}, Arguments{"positional"}}) {
        const auto flags = parse_daemon_flags(arguments);
        REQUIRE_FALSE(flags.ok());
        CHECK(flags.error().find("--help") != std::string::npos);
    }
}

TEST_CASE("daemon_usage documents every flag and the config default") {
    const std::string usage = daemon_usage();
    for (const std::string flag : {"--config.file", "--web.listen-address", "--ledger.path", "--dry-run",
                                   "--log.level", "--log.format", "--version", "--help"}) {
        CAPTURE(flag);
        CHECK(usage.find(flag) != std::string::npos);
    }
    CHECK(usage.find("config/receiver.yml") != std::string::npos);
    CHECK(usage.find("logfmt") != std::string::npos);
    CHECK(usage.find("json") != std::string::npos);
    CHECK(usage.rfind("usage: rollback-receiver", 0) == 0);
}

TEST_CASE("version_text names the program and the project version") {
    CHECK(version_text("rollback-receiver") == "rollback-receiver, version " ROLLBACK_RECEIVER_VERSION "\n");
}

} // namespace
} // namespace rollback
