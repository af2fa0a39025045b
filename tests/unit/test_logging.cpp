// Unit tests for log line formatting (logfmt and JSON), level and format parsing, the stderr output and the
// scrubbing of secrets from it.
#include "ops/logging.hpp"

#include "ops/secret_scrubber.hpp"

#include "support/temp_dir.hpp"

#include <doctest/doctest.h>
#include <nlohmann/json.hpp>

#include <fcntl.h>
#include <unistd.h>

#include <cstdio>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

namespace rollback {
namespace {

using json = nlohmann::json;

const char* const kTime = "2026-11-26T12:30:47.407Z";

TEST_CASE("logfmt: plain values stay bare, the message is quoted when it has spaces") {
    CHECK(format_log_line(LogFormat::logfmt, "info", kTime, "listening", {{"address", "127.0.0.1:9095"}}) ==
          "ts=2026-11-26T12:30:47.407Z level=info msg=listening address=127.0.0.1:9095");
    CHECK(format_log_line(LogFormat::logfmt, "warn", kTime, "rollback started", {}) ==
          "ts=2026-11-26T12:30:47.407Z level=warn msg=\"rollback started\"");
}

TEST_CASE("logfmt quotes values with spaces, quotes, '=', backslashes and control characters") {
    struct Row {
        std::string value;
        std::string written;
    };
    const std::vector<Row> rows{
        {"checkout", "checkout"},
        {"v2.3.1", "v2.3.1"},
        {"/api/v1/deployments?limit=5", "\"/api/v1/deployments?limit=5\""},
        {"has space", "\"has space\""},
        {"say \"hi\"", "\"say \\\"hi\\\"\""},
        {"a=b", "\"a=b\""},
        {"line1\nline2", "\"line1\\nline2\""},
        {"tab\there", "\"tab\\there\""},
        {"back\\slash", "\"back\\\\slash\""},
        {"caf\xc3\xa9", "caf\xc3\xa9"}, // UTF-8 letters need no quotes
    };
    for (const auto& row : rows) {
        CAPTURE(row.value);
        CHECK(format_log_line(LogFormat::logfmt, "info", kTime, "m", {{"key", row.value}}) ==
              "ts=2026-11-26T12:30:47.407Z level=info msg=m key=" + row.written);
    }
}

TEST_CASE("logfmt leaves out empty fields and keeps the order of the others") {
    CHECK(format_log_line(LogFormat::logfmt, "error", kTime, "rollback failed",
                          {{"service", "checkout"}, {"environment", ""}, {"deployment_id", "dep-42"}}) ==
          "ts=2026-11-26T12:30:47.407Z level=error msg=\"rollback failed\" service=checkout "
          "deployment_id=dep-42");
    CHECK(format_log_line(LogFormat::logfmt, "info", kTime, "", {}) ==
          "ts=2026-11-26T12:30:47.407Z level=info msg=\"\"");
}

TEST_CASE("a log line is always one line, whatever the values hold") {
    for (const auto format : {LogFormat::logfmt, LogFormat::json}) {
        const std::string line =
            format_log_line(format, "info", kTime, "multi\nline\r\nmessage", {{"output", "a\nb\nc"}});
        CAPTURE(line);
        CHECK(line.find('\n') == std::string::npos);
        CHECK(line.find('\r') == std::string::npos);
    }
}

TEST_CASE("json: the line is a JSON object with ts, level, msg and the non-empty fields") {
    const std::string line = format_log_line(LogFormat::json, "warn", kTime, "alert \"ignored\"",
                                             {{"service", "checkout"},
                                              {"environment", ""},
                                              {"reason", "no deployment in the watch window"},
                                              {"detail", "a=b \\ c\nd"}});
    CAPTURE(line);
    CHECK(line.rfind("{\"ts\":", 0) == 0); // the time first, as in the logfmt form
    const json parsed = json::parse(line);
    CHECK(parsed == json{{"ts", kTime},
                         {"level", "warn"},
                         {"msg", "alert \"ignored\""},
                         {"service", "checkout"},
                         {"reason", "no deployment in the watch window"},
                         {"detail", "a=b \\ c\nd"}});
    CHECK_FALSE(parsed.contains("environment"));
}

TEST_CASE("both formats stay valid when a value is not UTF-8") {
    const std::string bad = "output \xff\xfe bytes";
    std::string json_line;
    REQUIRE_NOTHROW(json_line = format_log_line(LogFormat::json, "info", kTime, bad, {{"output", bad}}));
    const json parsed = json::parse(json_line);
    CHECK(parsed["output"].is_string());
    std::string logfmt_line;
    REQUIRE_NOTHROW(logfmt_line = format_log_line(LogFormat::logfmt, "info", kTime, bad, {{"output", bad}}));
    CHECK(logfmt_line.rfind("ts=2026-11-26T12:30:47.407Z level=info msg=\"output ", 0) == 0);
}

TEST_CASE("parse_log_level and parse_log_format accept exactly the documented names") {
    CHECK(parse_log_level("debug").value() == LogLevel::debug);
    CHECK(parse_log_level("info").value() == LogLevel::info);
    CHECK(parse_log_level("warn").value() == LogLevel::warn);
    CHECK(parse_log_level("error").value() == LogLevel::error);
    for (const char* bad : {"", "Info", "warning", "trace", "fatal"}) {
        CAPTURE(bad);
        const auto level = parse_log_level(bad);
        REQUIRE_FALSE(level.ok());
        CHECK(level.error().find("use debug, info, warn or error") != std::string::npos);
    }
    CHECK(parse_log_format("logfmt").value() == LogFormat::logfmt);
    CHECK(parse_log_format("json").value() == LogFormat::json);
    for (const char* bad : {"", "JSON", "text", "console"}) {
        CAPTURE(bad);
        const auto format = parse_log_format(bad);
        REQUIRE_FALSE(format.ok());
        CHECK(format.error().find("use logfmt or json") != std::string::npos);
    }
}

// Sends file descriptor 2 to a file for the lifetime of the object.
class StderrCapture {
  public:
    explicit StderrCapture(const std::string& path) {
        std::fflush(stderr);
        saved_ = ::dup(STDERR_FILENO);
        const int file = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
        if (saved_ < 0 || file < 0) throw std::runtime_error("cannot redirect stderr to " + path);
        ::dup2(file, STDERR_FILENO);
        ::close(file);
    }
    ~StderrCapture() {
        std::fflush(stderr);
        ::dup2(saved_, STDERR_FILENO);
        ::close(saved_);
    }
    StderrCapture(const StderrCapture&) = delete;
    StderrCapture& operator=(const StderrCapture&) = delete;

  private:
    int saved_ = -1;
};

std::vector<std::string> lines_of(const std::string& text) {
    std::vector<std::string> lines;
    std::istringstream in(text);
    std::string line;
    while (std::getline(in, line))
        lines.push_back(line);
    return lines;
}

TEST_CASE("log_* write one line per call to stderr, in the chosen format, above the chosen level") {
    testing::TempDir dir;
    const std::string path = dir.file("stderr.log");
    {
        StderrCapture capture(path);
        init_logging(LogLevel::warn, LogFormat::json);
        log_debug("hidden debug");
        log_info("hidden info", {{"service", "checkout"}});
        log_warn("shown warn", {{"service", "checkout"}});
        log_error("shown error", {{"reason", "exit status 3"}});
        init_logging(LogLevel::debug, LogFormat::logfmt);
        log_debug("shown debug", {{"key", "two words"}});
    }
    init_logging(LogLevel::info, LogFormat::logfmt); // back to the defaults for the other tests
    const auto lines = lines_of(testing::TempDir::read(path));
    REQUIRE(lines.size() == 3);

    const json warn = json::parse(lines[0]);
    CHECK(warn["level"] == "warn");
    CHECK(warn["msg"] == "shown warn");
    CHECK(warn["service"] == "checkout");
    CHECK(warn["ts"].get<std::string>().size() == std::string(kTime).size());

    const json error = json::parse(lines[1]);
    CHECK(error["level"] == "error");
    CHECK(error["reason"] == "exit status 3");

    CHECK(lines[2].rfind("ts=", 0) == 0);
    CHECK(lines[2].find(" level=debug msg=\"shown debug\" key=\"two words\"") != std::string::npos);
}

TEST_CASE("log_* scrub the installed secrets from the message and every field, cut values included") {
    const std::string token = "tok-0123456789abcdef";
    testing::TempDir dir;
    const std::string path = dir.file("stderr.log");
    {
        StderrCapture capture(path);
        init_logging(LogLevel::info, LogFormat::logfmt);
        install_secret_scrubber(
            std::make_shared<const SecretScrubber>(std::vector<SecretValue>{{"auth.api_token_file", token}}));
        log_warn("notification failed for " + token,
                 {{"err", "HTTP 500: {\"authorization\":\"Bearer " + token + "\"}"},
                  {"cut", "HTTP 500: Bearer " + token.substr(0, 12)}});
        install_secret_scrubber(nullptr);
        log_warn("unscrubbed", {{"value", token}});
    }
    const auto lines = lines_of(testing::TempDir::read(path));
    REQUIRE(lines.size() == 2);
    CHECK(lines[0].find(token.substr(0, 8)) == std::string::npos);
    CHECK(lines[0].find("msg=\"notification failed for <redacted>\"") != std::string::npos);
    CHECK(lines[0].find("Bearer <redacted>") != std::string::npos);
    CHECK(lines[0].find("cut=\"HTTP 500: Bearer <redacted>\"") != std::string::npos);
    CHECK(lines[1].find(token) != std::string::npos); // nothing installed: nothing scrubbed
}

} // namespace
} // namespace rollback
