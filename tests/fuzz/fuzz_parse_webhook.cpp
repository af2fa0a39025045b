// Fuzz target: parse_webhook, the parser of Alertmanager's POST /webhook body (outside input), and its two readers.
#include "core/codec.hpp"
#include "fuzz_check.hpp"

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace rollback::fuzz {
namespace {

void check_webhook(std::string_view body) {
    // parse_webhook's two readers agree: what the one-pass reader takes, the document reader reads to the
    // same notification; what the document reader rejects, the one-pass reader gives up on.
    const auto document = parse_webhook_document(body);
    const auto streamed = read_webhook_streaming(body);
    if (streamed) {
        require(document.ok(), "the document reader accepts what the one-pass reader took", body);
        require(*streamed == *document, "both readers give the same notification", body);
    }
    const auto parsed = parse_webhook(body);
    require(parsed.ok() == document.ok(), "parse_webhook accepts what the document reader accepts", body);
    if (!parsed) {
        require(!parsed.error().empty(), "a rejected webhook body has an error message");
        return;
    }
    // What the engine does next with an accepted notification: log and audit its text fields.
    for (const Alert& alert : parsed->alerts) {
        require(!alert.fingerprint.empty(), "an accepted alert has a fingerprint", body);
        AuditDetail detail;
        detail.alert = &alert;
        const std::string encoded = encode_detail(detail);
        require(!encoded.empty() && encoded.front() == '{', "the audit detail of an alert is an object",
                encoded);
        json_quote(alert.fingerprint);
    }
}

} // namespace
} // namespace rollback::fuzz

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    rollback::fuzz::check_webhook(std::string_view(reinterpret_cast<const char*>(data), size));
    return 0;
}
