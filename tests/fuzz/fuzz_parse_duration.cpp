// Fuzz target: parse_duration (config values, the "for" of a pause request) and its round trip.
#include "common/time_util.hpp"
#include "fuzz_check.hpp"

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace rollback::fuzz {
namespace {

void check_duration(std::string_view text) {
    const auto parsed = parse_duration(text);
    if (!parsed) {
        require(!parsed.error().empty(), "a rejected duration has an error message");
        return;
    }
    require(parsed->count() >= 0, "a parsed duration is not negative", text);
    // The daemon writes durations back in logs and audit events: the text must read back the same.
    const std::string formatted = format_duration(*parsed);
    const auto again = parse_duration(formatted);
    require(again.ok(), "a formatted duration parses again", formatted);
    require(*again == *parsed, "format then parse gives the same duration", formatted);
}

} // namespace
} // namespace rollback::fuzz

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    rollback::fuzz::check_duration(std::string_view(reinterpret_cast<const char*>(data), size));
    return 0;
}
