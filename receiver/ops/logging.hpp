// Structured logging in logfmt or JSON; the spdlog adapter. Never pass a token as a field (the message and
// every field are scrubbed with installed_secret_scrubber() all the same).
#pragma once

#include "common/result.hpp"

#include <initializer_list>
#include <span>
#include <string>
#include <string_view>

namespace rollback {

enum class LogLevel { debug, info, warn, error };
enum class LogFormat { logfmt, json };

Result<LogLevel> parse_log_level(std::string_view text);   // debug, info, warn, error
Result<LogFormat> parse_log_format(std::string_view text); // logfmt, json

// Logs go to stderr. Safe to call again (the daemon calls it once at start-up).
void init_logging(LogLevel level, LogFormat format);

struct LogField {
    std::string_view key;
    std::string value;
};

// One line: `ts=... level=info msg="..." key=value ...` or the same as a JSON object.
std::string format_log_line(LogFormat format, std::string_view level, std::string_view time,
                            std::string_view message, std::initializer_list<LogField> fields);
std::string format_log_line(LogFormat format, std::string_view level, std::string_view time,
                            std::string_view message, std::span<const LogField> fields);

void log_debug(std::string_view message, std::initializer_list<LogField> fields = {});
void log_info(std::string_view message, std::initializer_list<LogField> fields = {});
void log_warn(std::string_view message, std::initializer_list<LogField> fields = {});
void log_error(std::string_view message, std::initializer_list<LogField> fields = {});

} // namespace rollback
