// Unit tests for {{placeholder}} checking and literal, single-pass expansion inside one argument.
#include "config/placeholders.hpp"

#include <doctest/doctest.h>

#include <string>
#include <vector>

namespace rollback {
namespace {

const std::map<std::string, std::string> kValues{
    {"service", "checkout"}, {"environment", "prod"},    {"deployment_id", "dep-42"},
    {"version", "v2"},       {"previous_version", "v1"}, {"alertname", "HighErrorRate"},
};

TEST_CASE("known_placeholders lists the six names of the contract") {
    CHECK(known_placeholders() == std::vector<std::string>{"service", "environment", "deployment_id",
                                                           "version", "previous_version", "alertname"});
}

TEST_CASE("check_placeholders accepts known names, spaces inside the braces and plain text") {
    const std::vector<std::string> accepted{
        "",
        "scripts/rollback.sh",
        "{{service}}",
        "{{ service }}",
        "{{\tversion\t}}",
        "{{  previous_version}}",
        "--to={{previous_version}}",
        "{{service}}-{{environment}}/{{deployment_id}}:{{version}}<-{{previous_version}} {{alertname}}",
        "a single { brace and a } closing one",
        "closing braces alone }} are text",
        "{{service}}}",
    };
    for (const auto& text : accepted) {
        CAPTURE(text);
        const Status status = check_placeholders(text);
        CHECK_MESSAGE(status.ok(), (status.ok() ? "" : status.error()));
    }
}

TEST_CASE("check_placeholders names the unknown or unclosed placeholder and lists the known ones") {
    struct Row {
        std::string text;
        std::string error_part; // must appear in the error message
    };
    const std::vector<Row> rows{
        {"{{servce}}", "unknown placeholder {{servce}}"},
        {"--to={{ previos_version }}", "unknown placeholder {{ previos_version }}"},
        {"{{SERVICE}}", "unknown placeholder {{SERVICE}}"},
        {"{{}}", "unknown placeholder {{}}"},
        {"{{ }}", "unknown placeholder {{ }}"},
        {"{{ser vice}}", "unknown placeholder {{ser vice}}"},
        {"{{{service}}}", "unknown placeholder {{{service}}"},
        {"{{service}}-{{env}}", "unknown placeholder {{env}}"},
        {"{{.Name}}", "unknown placeholder {{.Name}}"},
        {"{{service", "unclosed {{ in \"{{service\""},
        {"--to={{previous_version}", "unclosed {{ in \"--to={{previous_version}\""},
        {"{{service}} {{", "unclosed {{"},
    };
    for (const auto& row : rows) {
        CAPTURE(row.text);
        const Status status = check_placeholders(row.text);
        REQUIRE_FALSE(status.ok());
        CHECK(status.error().find(row.error_part) != std::string::npos);
        CHECK(status.error().find("{{service}}, {{environment}}, {{deployment_id}}, {{version}}, "
                                  "{{previous_version}}, {{alertname}}") != std::string::npos);
    }
}

TEST_CASE("check_placeholders quotes the whole argument so the person can find it") {
    const Status status = check_placeholders("--to={{servce}}");
    REQUIRE_FALSE(status.ok());
    CHECK(status.error() == "unknown placeholder {{servce}} in \"--to={{servce}}\" (known: {{service}}, "
                            "{{environment}}, {{deployment_id}}, {{version}}, {{previous_version}}, "
                            "{{alertname}})");
}

TEST_CASE("expand_placeholders replaces each placeholder inside the argument") {
    struct Row {
        std::string text;
        std::string expected;
    };
    const std::vector<Row> rows{
        {"", ""},
        {"scripts/rollback.sh", "scripts/rollback.sh"},
        {"{{service}}", "checkout"},
        {"{{ service }}", "checkout"},
        {"{{\tservice }}", "checkout"},
        {"--to={{previous_version}}", "--to=v1"},
        {"{{service}}{{version}}", "checkoutv2"},
        {"{{service}}-{{environment}}/{{deployment_id}}:{{version}}<-{{previous_version}} {{alertname}}",
         "checkout-prod/dep-42:v2<-v1 HighErrorRate"},
        {"{{service}}}", "checkout}"},
        {"a { b } c }}", "a { b } c }}"},
        {"unclosed {{service", "unclosed {{service"},
        {"{{version}} then {{", "v2 then {{"},
    };
    for (const auto& row : rows) {
        CAPTURE(row.text);
        CHECK(expand_placeholders(row.text, kValues) == row.expected);
    }
}

TEST_CASE("expand_placeholders inserts values literally and never re-expands them") {
    struct Row {
        std::string value;
        std::string text;
        std::string expected;
    };
    const std::vector<Row> rows{
        {"{{version}}", "{{service}}", "{{version}}"},
        {"{{ previous_version }}", "x{{service}}y", "x{{ previous_version }}y"},
        {"; rm -rf /", "--name={{service}}", "--name=; rm -rf /"},
        {"$(whoami) `id` *", "{{service}}", "$(whoami) `id` *"},
        {"two words\nand a line", "{{service}}", "two words\nand a line"},
        {"{{", "{{service}}}}", "{{}}"},
        {"{{serv", "{{service}}ice}}", "{{service}}"},
    };
    for (const auto& row : rows) {
        CAPTURE(row.value);
        std::map<std::string, std::string> values = kValues;
        values["service"] = row.value;
        CHECK(expand_placeholders(row.text, values) == row.expected);
    }
}

TEST_CASE("expand_placeholders turns a name without a value into an empty string") {
    const std::map<std::string, std::string> only_service{{"service", "checkout"}};
    CHECK(expand_placeholders("{{service}}:{{environment}}:{{alertname}}", only_service) == "checkout::");
    CHECK(expand_placeholders("{{unknown}}", only_service).empty());
}

TEST_CASE("check_no_control_characters: Unicode's Cc (C0, DEL, C1 in UTF-8) is refused; HTAB when allowed") {
    struct Row {
        std::string value;
        bool tab_allowed;
        std::string error; // "": accepted
    };
    const std::vector<Row> rows{
        {"v1.2.3 with spaces, quotes \" and UTF-8 \xc3\xa9 \xe2\x80\x8f", false, ""},
        {"", false, ""},
        {"a\tb", true, ""},
        {"a\tb", false, "holds HTAB (U+0009) at byte 1"},
        {"a\rb", true, "holds CR (U+000D) at byte 1"},
        {"\nb", true, "holds LF (U+000A) at byte 0"},
        {std::string("ab\0", 3), false, "holds NUL (U+0000) at byte 2"},
        {"\x1b[2J", false, "holds ESC (U+001B) at byte 0"},
        {"\x01", false, "holds the control character U+0001 at byte 0"},
        {"\x1f", false, "holds the control character U+001F at byte 0"},
        {"ok\x7f", false, "holds DEL (U+007F) at byte 2"},
        {"a\xc2\x80", false, "holds the control character U+0080 at byte 1"},
        {"a\xc2\x9f", false, "holds the control character U+009F at byte 1"},
        {"\xc2\xa0 no-break space is not a control", false, ""},
        {"a lone \xc2", false, ""}, // not a control character (invalid UTF-8 is another matter)
    };
    for (const Row& row : rows) {
        CAPTURE(row.value);
        const Status checked = check_no_control_characters(row.value, row.tab_allowed);
        if (row.error.empty()) {
            CHECK(checked.ok());
        } else {
            REQUIRE_FALSE(checked.ok());
            CHECK(checked.error() == row.error);
        }
    }
}

} // namespace
} // namespace rollback
