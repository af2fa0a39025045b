// Small text helpers shared by every area: whitespace trimming and number formatting.
#pragma once

#include <string>
#include <string_view>

namespace rollback {

// Spaces, tabs, CR, LF, vertical tab and form feed.
inline constexpr std::string_view kWhitespace = " \t\r\n\v\f";

// `text` without the leading and trailing whitespace.
std::string_view trim(std::string_view text);

// The shortest text that reads back as the same double, in the Prometheus Go client's form ("0.1", "5e-05",
// "+Inf", "NaN"): what /metrics and PromQL selectors compare.
std::string format_number_exact(double value);

// Six significant digits ("0.0123457", "1e+06", "+Inf"): numbers shown to a person.
std::string format_number_short(double value);

} // namespace rollback
