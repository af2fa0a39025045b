// Small text helpers shared by every area: whitespace trimming and number formatting.
#include "common/text.hpp"

#include <charconv>
#include <cmath>
#include <cstdio>

namespace rollback {

std::string_view trim(std::string_view text) {
    const std::size_t first = text.find_first_not_of(kWhitespace);
    if (first == std::string_view::npos) return {};
    const std::size_t last = text.find_last_not_of(kWhitespace);
    return text.substr(first, last - first + 1);
}

namespace {

const char* non_finite(double value) {
    if (std::isnan(value)) return "NaN";
    if (std::isinf(value)) return value > 0 ? "+Inf" : "-Inf";
    return nullptr;
}

} // namespace

std::string format_number_exact(double value) {
    if (const char* text = non_finite(value)) return text;
    // le="0.1" and le="0.0005", not le="0.10000000000000001" (PromQL selectors such as {le="0.1"} compare
    // the text).
    const double magnitude = std::fabs(value);
    const bool scientific = magnitude != 0 && (magnitude < 1e-4 || magnitude >= 1e21);
    char buffer[64];
    const auto written = std::to_chars(buffer, buffer + sizeof buffer, value,
                                       scientific ? std::chars_format::scientific : std::chars_format::fixed);
    return std::string(buffer, written.ptr);
}

std::string format_number_short(double value) {
    if (const char* text = non_finite(value)) return text;
    char buffer[32];
    std::snprintf(buffer, sizeof buffer, "%.6g", value);
    return buffer;
}

} // namespace rollback
