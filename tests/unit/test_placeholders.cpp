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

} // namespace
} // namespace rollback
