// Durations ("1h30m", "500ms") and RFC 3339 timestamps: parsing and formatting, no clock inside.
#pragma once

#include "common/result.hpp"

#include <chrono>
#include <string>
#include <string_view>

namespace rollback {

using Clock = std::chrono::system_clock;
using TimePoint = std::chrono::system_clock::time_point;
using Duration = std::chrono::milliseconds;

// Prometheus-style duration: one or more <number><unit> with units ms, s, m, h, d, w (e.g. "1h30m",
// "500ms", "0s", "0"). Numbers are whole. The error message quotes the text ("\"15x\" is not a duration").
Result<Duration> parse_duration(std::string_view text);

// The shortest Prometheus form: 90s -> "1m30s", 0 -> "0s", 1500ms -> "1s500ms".
std::string format_duration(Duration duration);

// RFC 3339: "2026-11-26T12:30:47.407202148Z", "2026-11-26T13:30:47+01:00"; a fraction of up to 9 digits;
// 'T' or 't' or ' ' as separator; 'Z' or 'z' or +hh:mm / -hh:mm offset. Result is UTC, nanosecond precision.
Result<TimePoint> parse_rfc3339(std::string_view text);

// UTC with milliseconds: "2026-11-26T12:30:47.407Z".
std::string format_rfc3339_ms(TimePoint time);

// Alertmanager's "zero" time, sent as endsAt of a firing alert: 0001-01-01T00:00:00Z.
bool is_zero_time(TimePoint time);

} // namespace rollback
