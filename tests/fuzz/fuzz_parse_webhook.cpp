// Fuzz target: parse_webhook, the parser of Alertmanager's POST /webhook body (outside input), its two
// readers and scan_json.
#include "../support/json_document_events.hpp"
#include "codec/codec.hpp"
#include "codec/json_scan.hpp"
#include "fuzz_check.hpp"

#include <nlohmann/json.hpp>

#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>

namespace rollback::fuzz {
namespace {

// What scan_json reads, nlohmann_json parses to the same document.
void check_scan(std::string_view body) {
    testing::JsonDocumentEvents events;
    if (!scan_json(body, events)) return;
    const auto document = nlohmann::json::parse(body.begin(), body.end(), nullptr, false);
    require(!document.is_discarded(), "nlohmann_json accepts what scan_json read", body);
    require(document == events.root, "scan_json's events build nlohmann_json's document", body);
}

void check_webhook(std::string_view body) {
    check_scan(body);
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
    // The caps hold for whatever was accepted (codec.hpp kMaxWebhook*).
    auto within_caps = [](const std::map<std::string, std::string>& entries, std::size_t max_value) {
        if (entries.size() > kMaxWebhookMapEntries) return false;
        for (const auto& [name, value] : entries)
            if (name.size() > kMaxWebhookName || value.size() > max_value) return false;
        return true;
    };
    require(within_caps(parsed->group_labels, kMaxWebhookLabelValue) &&
                within_caps(parsed->common_labels, kMaxWebhookLabelValue) &&
                within_caps(parsed->common_annotations, kMaxWebhookAnnotationValue),
            "an accepted notification's labels and annotations are within their caps", body);
    // What the engine does next with an accepted notification: log and audit its text fields.
    for (const Alert& alert : parsed->alerts) {
        require(!alert.fingerprint.empty(), "an accepted alert has a fingerprint", body);
        require(alert.fingerprint.size() <= kMaxWebhookFingerprint &&
                    alert.fingerprint.find_first_not_of("0123456789abcdef") == std::string::npos,
                "an accepted fingerprint is at most 64 lowercase hex digits", body);
        require(within_caps(alert.labels, kMaxWebhookLabelValue) &&
                    within_caps(alert.annotations, kMaxWebhookAnnotationValue),
                "an accepted alert's labels and annotations are within their caps", body);
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
