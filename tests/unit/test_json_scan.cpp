// Unit tests for scan_json: the events it reports, the JSON it gives up on, and agreement with nlohmann_json.
#include "codec/json_scan.hpp"

#include "support/json_document_events.hpp"

#include <doctest/doctest.h>
#include <nlohmann/json.hpp>

#include <string>
#include <vector>

namespace rollback {
namespace {

// Writes every event as a short token: {  }  [  ]  k:name  s:text  n:42  null  true  false.
class TraceEvents final : public JsonEvents {
  public:
    bool null() override { return add("null"); }
    bool boolean(bool value) override { return add(value ? "true" : "false"); }
    bool number_unsigned(std::uint64_t value) override { return add("n:" + std::to_string(value)); }
    bool string(std::string& value) override { return add("s:" + value); }
    bool start_object() override { return add("{"); }
    bool key(std::string& name) override { return add("k:" + name); }
    bool end_object() override { return add("}"); }
    bool start_array() override { return add("["); }
    bool end_array() override { return add("]"); }

    std::string trace;
    int stop_after = -1; // the event at which to return false; -1: never

  private:
    bool add(const std::string& token) {
        trace += (trace.empty() ? "" : " ") + token;
        return stop_after < 0 || --stop_after >= 0;
    }
};

std::string scan(const std::string& text, bool* scanned = nullptr) {
    TraceEvents events;
    const bool done = scan_json(text, events);
    if (scanned != nullptr) *scanned = done;
    return done ? events.trace : "gives up";
}

TEST_CASE("scan_json reports the tokens of plain JSON in document order") {
    struct Row {
        std::string text;
        std::string trace;
    };
    const std::vector<Row> rows{
        {"{}", "{ }"},
        {"[]", "[ ]"},
        {" \t\r\n{ \"a\" : [ 1 , 20 , 0 ] }\n", "{ k:a [ n:1 n:20 n:0 ] }"},
        {R"({"a":{"b":null},"c":true,"d":false,"e":""})", "{ k:a { k:b null } k:c true k:d false k:e s: }"},
        {R"("text")", "s:text"},
        {"999999999999999999", "n:999999999999999999"},
        {R"(["a\"b\\c\/d\b\f\n\r\t"])", "[ s:a\"b\\c/d\b\f\n\r\t ]"},
        {R"(["\u0041\u00e9\u20AC\ud83d\ude00"])", "[ s:A\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80 ]"},
        {"[\"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80 \xed\x9f\xbf \xf4\x8f\xbf\xbf\"]",
         "[ s:caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80 \xed\x9f\xbf \xf4\x8f\xbf\xbf ]"},
        {R"({"a":1,"a":2})", "{ k:a n:1 k:a n:2 }"}, // repeated keys are reported; the handler decides
    };
    for (const auto& row : rows) {
        CAPTURE(row.text);
        CHECK(scan(row.text) == row.trace);
    }
}

TEST_CASE("scan_json gives up on malformed JSON and on JSON outside its subset") {
    const std::vector<std::string> texts{
        // malformed
        "", " ", "{", "}", "[1,]", R"({"a":1,})", R"({"a" 1})", R"({a:1})", "[1 2]", "{}{}", "{} x", "[01]",
        "[1.]", "tru", "nul", "[\"a]", "[\"\\x\"]", "[\"\\u12\"]", "[\"\\u12G4\"]", "[\"a\nb\"]",
        "[\"\x01\"]",
        // not UTF-8, or a surrogate alone
        "[\"\xff\"]", "[\"\xc0\xaf\"]", "[\"\xc3\"]", "[\"\xe0\x80\xaf\"]", "[\"\xed\xa0\x80\"]",
        "[\"\xf4\x90\x80\x80\"]", "[\"\xf8\x88\x80\x80\x80\"]", "[\"\x80\"]", R"(["\ud83d"])",
        R"(["\ude00"])", R"(["\ud83d\u0041"])",
        // valid, but left to nlohmann_json
        "-1", "1.5", "1e3", "1E3", "1234567890123456789", "\xef\xbb\xbf{}",
        std::string(65, '[') + std::string(65, ']')};
    for (const auto& text : texts) {
        CAPTURE(text);
        CHECK(scan(text) == "gives up");
    }
    // 64 levels are read.
    CHECK(scan(std::string(64, '[') + std::string(64, ']')) != "gives up");
}

TEST_CASE("scan_json stops at the first event the handler refuses") {
    TraceEvents events;
    events.stop_after = 2;
    CHECK_FALSE(scan_json(R"({"a":[1,2,3]})", events));
    CHECK(events.trace == "{ k:a [");
}

TEST_CASE("what scan_json reads, nlohmann_json parses to the same document") {
    const std::vector<std::string> texts{
        R"({"version":"4","alerts":[{"labels":{"a":"b","a":"c"},"n":[1,2,{"x":null}]}],"t":true})",
        R"(["\u00e9\ud83d\ude00\u0000", "x\"y", {}, [], 0, false])",
        "{\"k\xc3\xa9y\":\"v\xe2\x82\xac\"}",
    };
    for (const auto& text : texts) {
        CAPTURE(text);
        testing::JsonDocumentEvents events;
        REQUIRE(scan_json(text, events));
        CHECK(events.root == nlohmann::json::parse(text));
    }
}

} // namespace
} // namespace rollback
