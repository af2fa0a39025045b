// Duration and RFC 3339 parsing and formatting (hand-written: no library does both the Prometheus way).
#include "common/time_util.hpp"

#include <array>
#include <cstdint>
#include <cstdio>

namespace rollback {
namespace {

bool is_digit(char c) {
    return c >= '0' && c <= '9';
}

// Reads exactly `count` digits at text[pos]; false if any is not a digit.
bool read_fixed(std::string_view text, std::size_t pos, std::size_t count, int& out) {
    if (pos + count > text.size()) return false;
    int value = 0;
    for (std::size_t i = 0; i < count; ++i) {
        if (!is_digit(text[pos + i])) return false;
        value = value * 10 + (text[pos + i] - '0');
    }
    out = value;
    return true;
}

// Days since 1970-01-01 for a proleptic Gregorian date (Howard Hinnant's algorithm).
std::int64_t days_from_civil(std::int64_t y, unsigned m, unsigned d) {
    y -= m <= 2;
    const std::int64_t era = (y >= 0 ? y : y - 399) / 400;
    const unsigned yoe = static_cast<unsigned>(y - era * 400);
    const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + static_cast<std::int64_t>(doe) - 719468;
}

bool is_leap(int y) {
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

int days_in_month(int y, int m) {
    static constexpr std::array<int, 12> days{31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    return m == 2 && is_leap(y) ? 29 : days[static_cast<std::size_t>(m - 1)];
}

// Clock::duration is nanoseconds in 64 bits: about 1677-09-21 to 2262-04-11 (whole seconds on both sides).
constexpr std::int64_t kMaxClockSeconds =
    std::chrono::duration_cast<std::chrono::seconds>(Clock::duration::max()).count() - 1;
constexpr std::int64_t kMaxDurationMs =
    std::chrono::duration_cast<std::chrono::milliseconds>(Clock::duration::max()).count();
// 0001-01-01T00:00:00Z in seconds since 1970: Alertmanager's zero time, held as TimePoint::min().
constexpr std::int64_t kZeroTimeSeconds = -62135596800LL;

Error not_rfc3339(std::string_view text, std::string_view why) {
    return make_error("\"" + std::string(text) + "\" is not an RFC 3339 time (" + std::string(why) +
                      "; use e.g. 2026-11-26T12:30:47Z)");
}

} // namespace

Result<Duration> parse_duration(std::string_view text) {
    auto bad = [&] {
        return make_error("\"" + std::string(text) +
                          "\" is not a duration (use e.g. 500ms, 30s, 15m, 1h30m)");
    };
    if (text.empty()) return bad();
    if (text == "0") return Duration(0);
    std::int64_t total_ms = 0;
    std::size_t pos = 0;
    // Units must appear in decreasing order, each once (as Prometheus requires).
    int last_rank = 100;
    while (pos < text.size()) {
        if (!is_digit(text[pos])) return bad();
        std::int64_t number = 0;
        while (pos < text.size() && is_digit(text[pos])) {
            number = number * 10 + (text[pos] - '0');
            if (number > 1'000'000'000'000LL) return bad();
            ++pos;
        }
        std::size_t unit_end = pos;
        while (unit_end < text.size() && !is_digit(text[unit_end]))
            ++unit_end;
        const std::string_view unit = text.substr(pos, unit_end - pos);
        std::int64_t unit_ms = 0;
        int rank = 0;
        if (unit == "w")
            unit_ms = 7LL * 24 * 3600 * 1000, rank = 6;
        else if (unit == "d")
            unit_ms = 24LL * 3600 * 1000, rank = 5;
        else if (unit == "h")
            unit_ms = 3600LL * 1000, rank = 4;
        else if (unit == "m")
            unit_ms = 60LL * 1000, rank = 3;
        else if (unit == "s")
            unit_ms = 1000, rank = 2;
        else if (unit == "ms")
            unit_ms = 1, rank = 1;
        else
            return bad();
        if (rank >= last_rank) return bad();
        last_rank = rank;
        // The total must fit in the nanosecond clock (as in Prometheus: "duration out of range").
        if (number > kMaxDurationMs / unit_ms || number * unit_ms > kMaxDurationMs - total_ms) return bad();
        total_ms += number * unit_ms;
        pos = unit_end;
    }
    return Duration(total_ms);
}

std::string format_duration(Duration duration) {
    std::int64_t ms = duration.count();
    if (ms == 0) return "0s";
    std::string out;
    if (ms < 0) {
        out = "-";
        ms = -ms;
    }
    struct Unit {
        const char* name;
        std::int64_t ms;
    };
    static constexpr std::array<Unit, 6> units{{{"w", 7LL * 24 * 3600 * 1000},
                                                {"d", 24LL * 3600 * 1000},
                                                {"h", 3600LL * 1000},
                                                {"m", 60LL * 1000},
                                                {"s", 1000},
                                                {"ms", 1}}};
    for (const auto& unit : units) {
        if (ms >= unit.ms) {
            out += std::to_string(ms / unit.ms) + unit.name;
            ms %= unit.ms;
        }
    }
    return out;
}

Result<TimePoint> parse_rfc3339(std::string_view text) {
    int year = 0, month = 0, day = 0, hour = 0, minute = 0, second = 0;
    if (!read_fixed(text, 0, 4, year) || text.size() < 5 || text[4] != '-' ||
        !read_fixed(text, 5, 2, month) || text.size() < 8 || text[7] != '-' || !read_fixed(text, 8, 2, day))
        return not_rfc3339(text, "expected a date YYYY-MM-DD");
    if (text.size() < 11 || (text[10] != 'T' && text[10] != 't' && text[10] != ' '))
        return not_rfc3339(text, "expected 'T' after the date");
    if (!read_fixed(text, 11, 2, hour) || text.size() < 14 || text[13] != ':' ||
        !read_fixed(text, 14, 2, minute) || text.size() < 17 || text[16] != ':' ||
        !read_fixed(text, 17, 2, second))
        return not_rfc3339(text, "expected a time hh:mm:ss");
    if (month < 1 || month > 12 || day < 1 || day > days_in_month(year, month) || hour > 23 || minute > 59 ||
        second > 60)
        return not_rfc3339(text, "a field is out of range");
    std::size_t pos = 19;
    std::int64_t nanos = 0;
    if (pos < text.size() && text[pos] == '.') {
        ++pos;
        int digits = 0;
        while (pos < text.size() && is_digit(text[pos])) {
            if (digits == 9) return not_rfc3339(text, "more than 9 fraction digits");
            nanos = nanos * 10 + (text[pos] - '0');
            ++digits;
            ++pos;
        }
        if (digits == 0) return not_rfc3339(text, "expected digits after '.'");
        for (int i = digits; i < 9; ++i)
            nanos *= 10;
    }
    if (pos >= text.size()) return not_rfc3339(text, "missing the offset (Z or +hh:mm)");
    std::int64_t offset_seconds = 0;
    if (text[pos] == 'Z' || text[pos] == 'z') {
        ++pos;
    } else if (text[pos] == '+' || text[pos] == '-') {
        int off_h = 0, off_m = 0;
        if (!read_fixed(text, pos + 1, 2, off_h) || text.size() < pos + 4 || text[pos + 3] != ':' ||
            !read_fixed(text, pos + 4, 2, off_m) || off_h > 23 || off_m > 59)
            return not_rfc3339(text, "expected the offset as +hh:mm or -hh:mm");
        offset_seconds = (off_h * 3600 + off_m * 60) * (text[pos] == '-' ? -1 : 1);
        pos += 6;
    } else {
        return not_rfc3339(text, "expected Z or +hh:mm after the time");
    }
    if (pos != text.size()) return not_rfc3339(text, "unexpected text after the offset");
    if (second == 60) second = 59; // a leap second maps onto the second before it
    const std::int64_t days = days_from_civil(year, static_cast<unsigned>(month), static_cast<unsigned>(day));
    const std::int64_t seconds = days * 86400 + hour * 3600 + minute * 60 + second - offset_seconds;
    if (seconds == kZeroTimeSeconds && nanos == 0) return TimePoint::min();
    if (seconds < -kMaxClockSeconds || seconds > kMaxClockSeconds)
        return not_rfc3339(text, "out of range: only times from 1677-09-22 to 2262-04-11 and "
                                 "0001-01-01T00:00:00Z are accepted");
    const auto since_epoch = std::chrono::seconds(seconds) + std::chrono::nanoseconds(nanos);
    return TimePoint(std::chrono::duration_cast<Clock::duration>(since_epoch));
}

std::string format_rfc3339_ms(TimePoint time) {
    // The zero time, as parse_rfc3339 reads it.
    if (time == TimePoint::min()) return "0001-01-01T00:00:00.000Z";
    const auto ms_total = std::chrono::floor<std::chrono::milliseconds>(time.time_since_epoch()).count();
    std::int64_t days = ms_total >= 0 ? ms_total / 86'400'000 : (ms_total - 86'399'999) / 86'400'000;
    std::int64_t ms_of_day = ms_total - days * 86'400'000;
    // civil_from_days (Howard Hinnant's algorithm).
    days += 719468;
    const std::int64_t era = (days >= 0 ? days : days - 146096) / 146097;
    const unsigned doe = static_cast<unsigned>(days - era * 146097);
    const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    std::int64_t year = static_cast<std::int64_t>(yoe) + era * 400;
    const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    const unsigned mp = (5 * doy + 2) / 153;
    const unsigned day = doy - (153 * mp + 2) / 5 + 1;
    const unsigned month = mp < 10 ? mp + 3 : mp - 9;
    year += month <= 2;
    char buffer[96];
    std::snprintf(buffer, sizeof buffer, "%04lld-%02u-%02uT%02lld:%02lld:%02lld.%03lldZ",
                  static_cast<long long>(year), month, day, static_cast<long long>(ms_of_day / 3'600'000),
                  static_cast<long long>(ms_of_day / 60'000 % 60),
                  static_cast<long long>(ms_of_day / 1000 % 60), static_cast<long long>(ms_of_day % 1000));
    return buffer;
}

bool is_zero_time(TimePoint time) {
    // 0001-01-01T00:00:00Z; anything before 1970 counts as "no time" for Alertmanager's purposes.
    return time < TimePoint{};
}

} // namespace rollback
