// Fuzz target: parse_deployment_request, the parser of POST /api/v1/deployments bodies (outside input).
#include "codec/codec.hpp"
#include "ctl/json.hpp"
#include "fuzz_check.hpp"

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace rollback::fuzz {
namespace {

void check_deployment_request(std::string_view body) {
    const auto parsed = parse_deployment_request(body);
    if (!parsed) {
        require(!parsed.error().empty(), "a rejected deployment request has an error message");
        return;
    }
    require(!parsed->service.empty() && !parsed->version.empty(),
            "an accepted request has service and version", body);
    // rollbackctl sends what it encodes, and the receiver tells retries by the key: encoding an accepted
    // request and parsing it again must give a request with the same key.
    const std::string key = deployment_request_key(*parsed);
    const std::string encoded = encode_deployment_request(*parsed);
    const auto again = parse_deployment_request(encoded);
    require(again.ok(), "an encoded accepted request parses again", encoded);
    require(deployment_request_key(*again) == key, "encode then parse keeps the request key", encoded);
}

} // namespace
} // namespace rollback::fuzz

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    rollback::fuzz::check_deployment_request(std::string_view(reinterpret_cast<const char*>(data), size));
    return 0;
}
