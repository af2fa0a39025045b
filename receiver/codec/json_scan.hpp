// A strict one-pass JSON scanner for hot paths: it reports tokens to a handler and gives up on anything
// outside a plain subset of JSON, so that the caller can fall back to nlohmann_json (codec.cpp).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace rollback {

// What scan_json reports, in document order. Each method returns false to stop the scan (then scan_json
// returns false too). A string or key is passed in a buffer the handler may move from.
class JsonEvents {
  public:
    virtual ~JsonEvents() = default;
    virtual bool null() = 0;
    virtual bool boolean(bool value) = 0;
    virtual bool number_unsigned(std::uint64_t value) = 0;
    virtual bool string(std::string& value) = 0;
    virtual bool start_object() = 0;
    virtual bool key(std::string& name) = 0;
    virtual bool end_object() = 0;
    virtual bool start_array() = 0;
    virtual bool end_array() = 0;
};

// Scans `text` as one JSON value (RFC 8259) and reports it to `events`. Returns true when the whole text
// was scanned and every event was taken. Returns false — gives up, which is not a verdict on the text — on
// malformed JSON, and also on valid JSON outside the subset it reads exactly as nlohmann_json does:
// numbers other than whole numbers from 0 to 18 digits, a byte order mark, nesting deeper than 64.
// Strings are checked as nlohmann_json checks them: well-formed UTF-8, no control characters, escapes
// including surrogate pairs decoded to UTF-8. tests/fuzz/fuzz_parse_webhook.cpp checks that every text
// it takes is one nlohmann_json parses to the same document.
bool scan_json(std::string_view text, JsonEvents& events);

} // namespace rollback
