// spdlog behind a logfmt/JSON line formatter: we format the whole line, spdlog writes it (pattern "%v").
#include "ops/logging.hpp"

#include "codec/codec.hpp"
#include "common/time_util.hpp"
#include "ops/secret_scrubber.hpp"

#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include <atomic>
#include <vector>

namespace rollback {
namespace {

std::atomic<LogFormat> g_format{LogFormat::logfmt};

std::shared_ptr<spdlog::logger> logger() {
    static std::shared_ptr<spdlog::logger> instance = [] {
        auto created = spdlog::stderr_logger_mt("rollback-receiver");
        created->set_pattern("%v");
        created->set_level(spdlog::level::info);
        created->flush_on(spdlog::level::debug);
        return created;
    }();
    return instance;
}

bool needs_quotes(std::string_view value) {
    if (value.empty()) return true;
    for (char c : value)
        if (c == ' ' || c == '"' || c == '=' || c == '\\' || static_cast<unsigned char>(c) < 0x20)
            return true;
    return false;
}

void append_logfmt_value(std::string& out, std::string_view value) {
    if (!needs_quotes(value)) {
        out += value;
        return;
    }
    out += json_quote(value); // a JSON string literal is a valid logfmt quoted value
}

void write(spdlog::level::level_enum level, std::string_view level_name, std::string_view message,
           std::initializer_list<LogField> fields) {
    auto& instance = *logger();
    if (!instance.should_log(level)) return;
    const std::string time = format_rfc3339_ms(Clock::now());
    const auto scrubber = installed_secret_scrubber();
    if (!scrubber || scrubber->empty()) {
        instance.log(level, "{}", format_log_line(g_format.load(), level_name, time, message, fields));
        return;
    }
    // Field by field, so that a value cut at a limit (an answer's first 200 bytes) loses a secret's part too.
    std::vector<LogField> scrubbed;
    scrubbed.reserve(fields.size());
    for (const LogField& field : fields)
        scrubbed.push_back({field.key, scrubber->scrub(field.value)});
    instance.log(level, "{}",
                 format_log_line(g_format.load(), level_name, time, scrubber->scrub(message), scrubbed));
}

} // namespace

Result<LogLevel> parse_log_level(std::string_view text) {
    if (text == "debug") return LogLevel::debug;
    if (text == "info") return LogLevel::info;
    if (text == "warn") return LogLevel::warn;
    if (text == "error") return LogLevel::error;
    return make_error("--log.level: \"" + std::string(text) +
                      "\" is not a level (use debug, info, warn or error)");
}

Result<LogFormat> parse_log_format(std::string_view text) {
    if (text == "logfmt") return LogFormat::logfmt;
    if (text == "json") return LogFormat::json;
    return make_error("--log.format: \"" + std::string(text) + "\" is not a format (use logfmt or json)");
}

void init_logging(LogLevel level, LogFormat format) {
    g_format = format;
    static constexpr spdlog::level::level_enum levels[] = {spdlog::level::debug, spdlog::level::info,
                                                           spdlog::level::warn, spdlog::level::err};
    logger()->set_level(levels[static_cast<int>(level)]);
}

std::string format_log_line(LogFormat format, std::string_view level, std::string_view time,
                            std::string_view message, std::initializer_list<LogField> fields) {
    return format_log_line(format, level, time, message,
                           std::span<const LogField>(fields.begin(), fields.size()));
}

std::string format_log_line(LogFormat format, std::string_view level, std::string_view time,
                            std::string_view message, std::span<const LogField> fields) {
    std::string line;
    if (format == LogFormat::json) {
        line = "{\"ts\":" + json_quote(time) + ",\"level\":" + json_quote(level) +
               ",\"msg\":" + json_quote(message);
        for (const auto& field : fields) {
            if (field.value.empty()) continue;
            line += "," + json_quote(field.key) + ":" + json_quote(field.value);
        }
        line += "}";
        return line;
    }
    line = "ts=" + std::string(time) + " level=" + std::string(level) + " msg=";
    append_logfmt_value(line, message);
    for (const auto& field : fields) {
        if (field.value.empty()) continue;
        line += " ";
        line += field.key;
        line += "=";
        append_logfmt_value(line, field.value);
    }
    return line;
}

void log_debug(std::string_view message, std::initializer_list<LogField> fields) {
    write(spdlog::level::debug, "debug", message, fields);
}
void log_info(std::string_view message, std::initializer_list<LogField> fields) {
    write(spdlog::level::info, "info", message, fields);
}
void log_warn(std::string_view message, std::initializer_list<LogField> fields) {
    write(spdlog::level::warn, "warn", message, fields);
}
void log_error(std::string_view message, std::initializer_list<LogField> fields) {
    write(spdlog::level::err, "error", message, fields);
}

} // namespace rollback
