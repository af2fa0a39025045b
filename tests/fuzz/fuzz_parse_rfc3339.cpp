// Fuzz target: parse_rfc3339 (alert startsAt/endsAt, deployed_at) and the millisecond text it is shown as.
#include "common/time_util.hpp"
#include "fuzz_check.hpp"

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace rollback::fuzz {
namespace {

void check_rfc3339(std::string_view text) {
    const auto parsed = parse_rfc3339(text);
    if (!parsed) {
        require(!parsed.error().empty(), "a rejected time has an error message");
        return;
    }
    is_zero_time(*parsed);
    // The API and the audit trail show times as format_rfc3339_ms; that text must parse back to itself.
    const std::string formatted = format_rfc3339_ms(*parsed);
    const auto again = parse_rfc3339(formatted);
    require(again.ok(), "a formatted time parses again", formatted);
    require(format_rfc3339_ms(*again) == formatted, "format, parse, format gives the same text", formatted);
}

} // namespace
} // namespace rollback::fuzz

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    rollback::fuzz::check_rfc3339(std::string_view(reinterpret_cast<const char*>(data), size));
    return 0;
}
