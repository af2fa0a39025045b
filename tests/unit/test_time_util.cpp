// Unit tests for Prometheus-style durations and RFC 3339 timestamps (parsing, formatting, round trips).
#include "common/time_util.hpp"

#include <doctest/doctest.h>

#include <chrono>
#include <string>
#include <vector>

namespace rollback {
namespace {

using namespace std::chrono_literals;

// The instant y-mo-d h:mi:s.ns UTC, computed with the standard library's calendar, not with the code
// under test.
TimePoint utc(int y, unsigned mo, unsigned d, int h, int mi, int s, long long ns = 0) {
    const std::chrono::sys_days day{std::chrono::year{y} / std::chrono::month{mo} / std::chrono::day{d}};
    return TimePoint(day.time_since_epoch() + std::chrono::hours(h) + std::chrono::minutes(mi) +
                     std::chrono::seconds(s) + std::chrono::nanoseconds(ns));
}

TEST_CASE("parse_duration accepts whole numbers with units in decreasing order") {
    struct Row {
        std::string text;
        Duration expected;
    };
    const std::vector<Row> rows{
        {"0", 0ms},
        {"0s", 0ms},
        {"0ms", 0ms},
        {"500ms", 500ms},
        {"1ms", 1ms},
        {"30s", 30s},
        {"15m", 15min},
        {"1h", 1h},
        {"1h30m", 90min},
        {"2d", 48h},
        {"1w", 168h},
        {"1h0m5s", 1h + 5s},
        {"1w2d3h4m5s6ms", 168h + 48h + 3h + 4min + 5s + 6ms},
        {"90s", 90s},
        {"1500ms", 1500ms},
        {"007s", 7s},
        {"15000w", 15000 * 168h},  // about 288 years: still fits in the nanosecond clock
        {"106751d", 106751 * 24h}, // just under 2^63 nanoseconds
    };
    for (const auto& row : rows) {
        CAPTURE(row.text);
        const auto parsed = parse_duration(row.text);
        REQUIRE_MESSAGE(parsed.ok(), (parsed.ok() ? "" : parsed.error()));
        CHECK(parsed->count() == row.expected.count());
    }
}

TEST_CASE("parse_duration rejects anything else and quotes the text in the error") {
    const std::vector<std::string> rejected{
        "",
        "15x",
        "1.5h",
        "-1s",
        "+1s",
        "m",
        "s",
        "10",     // a number without a unit (only a bare "0" is allowed)
        "00",     // likewise
        "30s15m", // units out of order
        "1h1h",   // a unit twice
        "1m1h",
        "500ms1s",
        "1 h",
        " 1h",
        "1h ",
        "1H",
        "1y", // Prometheus 2.42 knows y, this receiver does not: watch windows are never years long
        "1hm",
        "1h30",
        "99999999999999999999s", // does not fit in 64 bits
        "1000000000001ms",       // over the per-number limit
        "9223372036854775807ms", // int64 max
        "15300w",                // about 293 years: overflows a nanosecond clock
        "106752d",               // just over 2^63 nanoseconds
        "999999999999w",         // overflows milliseconds too
    };
    for (const auto& text : rejected) {
        CAPTURE(text);
        const auto parsed = parse_duration(text);
        REQUIRE_FALSE(parsed.ok());
        CHECK(parsed.error().find("\"" + text + "\"") != std::string::npos);
        CHECK(parsed.error().find("1h30m") != std::string::npos); // the message shows how to write one
    }
}

TEST_CASE("format_duration writes the shortest Prometheus form") {
    struct Row {
        Duration duration;
        std::string expected;
    };
    const std::vector<Row> rows{
        {0ms, "0s"},       {1ms, "1ms"},   {500ms, "500ms"}, {1500ms, "1s500ms"},
        {30s, "30s"},      {90s, "1m30s"}, {15min, "15m"},   {90min, "1h30m"},
        {1h + 5s, "1h5s"}, {48h, "2d"},    {168h, "1w"},     {168h + 25h + 1ms, "1w1d1h1ms"},
        {-90s, "-1m30s"},
    };
    for (const auto& row : rows) {
        CAPTURE(row.expected);
        CHECK(format_duration(row.duration) == row.expected);
    }
}

TEST_CASE("format_duration and parse_duration round trip") {
    const std::vector<Duration> durations{
        0ms, 1ms,      999ms,     1s,           59s,
        61s, 1h + 1ms, 24h - 1ms, 7 * 24h + 1s, 3 * 7 * 24h + 23h + 59min + 59s + 999ms};
    for (const auto& duration : durations) {
        CAPTURE(duration.count());
        const auto parsed = parse_duration(format_duration(duration));
        REQUIRE(parsed.ok());
        CHECK(parsed->count() == duration.count());
    }
    for (const std::string text : {"1h30m", "500ms", "2w3d", "1m1ms"}) {
        CAPTURE(text);
        const auto parsed = parse_duration(text);
        REQUIRE(parsed.ok());
        CHECK(format_duration(*parsed) == text);
    }
}

TEST_CASE("parse_rfc3339 accepts the forms Alertmanager and people write") {
    struct Row {
        std::string text;
        TimePoint expected;
    };
    const std::vector<Row> rows{
        {"2026-11-26T12:30:47Z", utc(2026, 11, 26, 12, 30, 47)},
        {"2026-11-26t12:30:47z", utc(2026, 11, 26, 12, 30, 47)},
        {"2026-11-26 12:30:47Z", utc(2026, 11, 26, 12, 30, 47)},
        {"2026-11-26T13:30:47+01:00", utc(2026, 11, 26, 12, 30, 47)},
        {"2026-11-26T07:00:47-05:30", utc(2026, 11, 26, 12, 30, 47)},
        {"2026-11-26T12:30:47+00:00", utc(2026, 11, 26, 12, 30, 47)},
        {"2026-11-26T12:30:47-00:00", utc(2026, 11, 26, 12, 30, 47)},
        {"2026-11-27T00:30:47+12:00", utc(2026, 11, 26, 12, 30, 47)}, // the offset moves the date back
        {"2026-12-31T23:30:00-01:00", utc(2027, 1, 1, 0, 30, 0)},     // and forward across a year
        {"2026-11-26T12:30:47.4Z", utc(2026, 11, 26, 12, 30, 47, 400'000'000)},
        {"2026-11-26T12:30:47.40Z", utc(2026, 11, 26, 12, 30, 47, 400'000'000)},
        {"2026-11-26T12:30:47.407Z", utc(2026, 11, 26, 12, 30, 47, 407'000'000)},
        {"2026-11-26T12:30:47.4072Z", utc(2026, 11, 26, 12, 30, 47, 407'200'000)},
        {"2026-11-26T12:30:47.40720Z", utc(2026, 11, 26, 12, 30, 47, 407'200'000)},
        {"2026-11-26T12:30:47.407202Z", utc(2026, 11, 26, 12, 30, 47, 407'202'000)},
        {"2026-11-26T12:30:47.4072021Z", utc(2026, 11, 26, 12, 30, 47, 407'202'100)},
        {"2026-11-26T12:30:47.40720214Z", utc(2026, 11, 26, 12, 30, 47, 407'202'140)},
        {"2026-11-26T12:30:47.407202148Z", utc(2026, 11, 26, 12, 30, 47, 407'202'148)},
        {"2026-11-26T12:30:47.000000001Z", utc(2026, 11, 26, 12, 30, 47, 1)},
        {"2026-11-26T13:30:47.407202148+01:00", utc(2026, 11, 26, 12, 30, 47, 407'202'148)},
        {"2028-02-29T00:00:00Z", utc(2028, 2, 29, 0, 0, 0)}, // leap year
        {"2000-02-29T00:00:00Z", utc(2000, 2, 29, 0, 0, 0)}, // divisible by 400: leap year
        {"1970-01-01T00:00:00Z", TimePoint{}},
        {"2026-01-31T23:59:59Z", utc(2026, 1, 31, 23, 59, 59)},
        {"2016-12-31T23:59:60Z", utc(2016, 12, 31, 23, 59, 59)}, // a leap second: the second before it
        {"2262-04-11T00:00:00Z", utc(2262, 4, 11, 0, 0, 0)},     // near the end of the nanosecond clock
        {"1678-01-01T00:00:00Z", utc(1678, 1, 1, 0, 0, 0)},      // near its start
    };
    for (const auto& row : rows) {
        CAPTURE(row.text);
        const auto parsed = parse_rfc3339(row.text);
        REQUIRE_MESSAGE(parsed.ok(), (parsed.ok() ? "" : parsed.error()));
        CHECK(parsed->time_since_epoch().count() == row.expected.time_since_epoch().count());
    }
}

TEST_CASE("parse_rfc3339 rejects malformed and impossible times and says why") {
    struct Row {
        std::string text;
        std::string why; // part of the error message
    };
    const std::vector<Row> rows{
        {"", "expected a date"},
        {"2026-11-26", "expected 'T'"},
        {"2026-11-26T", "expected a time"},
        {"2026-11-26T12:30Z", "expected a time"},
        {"2026-11-26T12:30:47", "missing the offset"},
        {"2026-11-26T12:30:47.123", "missing the offset"},
        {"2026-11-26T12:30:47.4072021480Z", "more than 9 fraction digits"}, // 10 digits
        {"2026-11-26T12:30:47.Z", "expected digits after '.'"},
        {"2026-11-26T12:30:47ZZ", "unexpected text after the offset"},
        {"2026-11-26T12:30:47Z ", "unexpected text after the offset"},
        {"2026-11-26T12:30:47+01:00junk", "unexpected text after the offset"},
        {"2026-11-26T12:30:47 UTC", "expected Z or +hh:mm"},
        {"2026-11-26T12:30:47+0100", "expected the offset as +hh:mm"},
        {"2026-11-26T12:30:47+1:00", "expected the offset as +hh:mm"},
        {"2026-11-26T12:30:47+01", "expected the offset as +hh:mm"},
        {"2026-11-26T12:30:47+24:00", "expected the offset as +hh:mm"},
        {"2026-11-26T12:30:47+01:60", "expected the offset as +hh:mm"},
        {"2026-13-01T00:00:00Z", "out of range"},
        {"2026-00-01T00:00:00Z", "out of range"},
        {"2026-11-00T00:00:00Z", "out of range"},
        {"2026-11-31T00:00:00Z", "out of range"},
        {"2025-02-29T00:00:00Z", "out of range"}, // not a leap year
        {"2100-02-29T00:00:00Z", "out of range"}, // divisible by 100, not by 400
        {"2026-11-26T24:00:00Z", "out of range"},
        {"2026-11-26T12:60:00Z", "out of range"},
        {"2026-11-26T12:30:61Z", "out of range"},
        {"26-11-26T12:30:47Z", "expected a date"},
        {"2026/11/26T12:30:47Z", "expected a date"},
        {"2026-1-26T12:30:47Z", "expected a date"},
        {"2026-11-26X12:30:47Z", "expected 'T'"},
        {"1764460247", "expected a date"},
        {"9999-12-31T23:59:59Z", "out of range"}, // past 2262: does not fit in the nanosecond clock
        {"2263-01-01T00:00:00Z", "out of range"},
        {"1600-01-01T00:00:00Z", "out of range"}, // before 1678 only Alertmanager's zero time is accepted
        {"0001-01-01T00:00:01Z", "out of range"},
    };
    for (const auto& row : rows) {
        CAPTURE(row.text);
        const auto parsed = parse_rfc3339(row.text);
        REQUIRE_FALSE(parsed.ok());
        CHECK(parsed.error().find("\"" + row.text + "\" is not an RFC 3339 time") != std::string::npos);
        CHECK(parsed.error().find(row.why) != std::string::npos);
    }
}

TEST_CASE("the same instant written with Z and with an offset parses to the same time point") {
    const auto utc_form = parse_rfc3339("2026-11-26T12:30:47.407202148Z");
    const auto plus_one = parse_rfc3339("2026-11-26T13:30:47.407202148+01:00");
    const auto minus_five_thirty = parse_rfc3339("2026-11-26T07:00:47.407202148-05:30");
    REQUIRE(utc_form.ok());
    REQUIRE(plus_one.ok());
    REQUIRE(minus_five_thirty.ok());
    CHECK(*utc_form == *plus_one);
    CHECK(*utc_form == *minus_five_thirty);
    // And a different instant stays different by exactly the difference.
    const auto one_ns_later = parse_rfc3339("2026-11-26T12:30:47.407202149Z");
    REQUIRE(one_ns_later.ok());
    CHECK((*one_ns_later - *utc_form) == std::chrono::nanoseconds(1));
}

TEST_CASE("Alertmanager's zero time parses and is_zero_time recognises it") {
    const auto zero = parse_rfc3339("0001-01-01T00:00:00Z");
    REQUIRE_MESSAGE(zero.ok(), (zero.ok() ? "" : zero.error()));
    CHECK(is_zero_time(*zero));
    // It stays the zero time when written back out (audit details, API documents).
    CHECK(format_rfc3339_ms(*zero) == "0001-01-01T00:00:00.000Z");
    // The zero time must compare before any real time, so "ended before X" logic stays right.
    CHECK(*zero < utc(1970, 1, 1, 0, 0, 0));

    const auto real = parse_rfc3339("2026-11-26T12:30:54Z");
    REQUIRE(real.ok());
    CHECK_FALSE(is_zero_time(*real));
    CHECK_FALSE(is_zero_time(TimePoint{} + std::chrono::hours(1)));
}

TEST_CASE("format_rfc3339_ms writes UTC with exactly three fraction digits, truncating") {
    struct Row {
        TimePoint time;
        std::string expected;
    };
    const std::vector<Row> rows{
        {utc(2026, 11, 26, 12, 30, 47, 407'202'148), "2026-11-26T12:30:47.407Z"},
        {utc(2026, 11, 26, 12, 30, 47, 999'999'999), "2026-11-26T12:30:47.999Z"},
        {utc(2026, 11, 26, 12, 30, 47), "2026-11-26T12:30:47.000Z"},
        {utc(2026, 1, 2, 3, 4, 5, 6'000'000), "2026-01-02T03:04:05.006Z"},
        {TimePoint{}, "1970-01-01T00:00:00.000Z"},
        {utc(1969, 12, 31, 23, 59, 59, 999'000'000), "1969-12-31T23:59:59.999Z"},
        {utc(2028, 2, 29, 23, 59, 59), "2028-02-29T23:59:59.000Z"},
        {utc(2000, 3, 1, 0, 0, 0), "2000-03-01T00:00:00.000Z"},
        {utc(2262, 4, 11, 0, 0, 0), "2262-04-11T00:00:00.000Z"},
    };
    for (const auto& row : rows) {
        CAPTURE(row.expected);
        CHECK(format_rfc3339_ms(row.time) == row.expected);
    }
}

TEST_CASE("format_rfc3339_ms output parses back to the same millisecond") {
    const std::vector<TimePoint> times{utc(2026, 11, 26, 12, 30, 47, 407'000'000), TimePoint{},
                                       utc(1999, 12, 31, 23, 59, 59, 1'000'000), utc(2040, 6, 15, 8, 0, 0)};
    for (const auto& time : times) {
        const std::string text = format_rfc3339_ms(time);
        CAPTURE(text);
        const auto parsed = parse_rfc3339(text);
        REQUIRE(parsed.ok());
        CHECK(*parsed == time);
    }
}

} // namespace
} // namespace rollback
