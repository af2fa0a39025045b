// Unit tests for the URL helpers: what follows the host, the redacted form of a URL, and messages that
// never quote a URL's path or query.
#include "common/url.hpp"

#include <doctest/doctest.h>

#include <string>
#include <vector>

namespace rollback {
namespace {

TEST_CASE("redact_url keeps scheme, host and port; the path, query and user info become <redacted>") {
    struct Row {
        std::string url;
        std::string redacted;
        std::string path_and_query;
    };
    const std::vector<Row> rows{
        {"https://hooks.slack.com/services/T0/B0/XYZ", "https://hooks.slack.com/<redacted>",
         "/services/T0/B0/XYZ"},
        {"http://127.0.0.1:8080/hooks/rollback?token=s3cret", "http://127.0.0.1:8080/<redacted>",
         "/hooks/rollback?token=s3cret"},
        {"https://deploy.example?token=abc", "https://deploy.example/<redacted>", "?token=abc"},
        {"https://chat.example", "https://chat.example", ""},
        {"https://chat.example/", "https://chat.example/", "/"},
        {"https://user:pass@chat.example/x", "https://<redacted>@chat.example/<redacted>", "/x"},
        {"https://hooks.example/{{service}}", "https://hooks.example/<redacted>", "/{{service}}"},
        {"127.0.0.1:9095/api", "127.0.0.1:9095/<redacted>", "/api"}, // no scheme: the host comes first
        {"", "", ""},
    };
    for (const Row& row : rows) {
        CAPTURE(row.url);
        CHECK(redact_url(row.url) == row.redacted);
        CHECK(url_path_and_query(row.url) == row.path_and_query);
    }
}

TEST_CASE("parse_http_url's messages quote the URL redacted: a secret path or query never shows") {
    for (const std::string url : {"https://hooks.slack.com/services/T0/B0/XYZ#frag",
                                  "https://hooks.slack.com/services/T0/B0/XYZ with space",
                                  "ftp://hooks.slack.com/services/T0/B0/XYZ"}) {
        CAPTURE(url);
        const auto parsed = parse_http_url(url);
        REQUIRE_FALSE(parsed.ok());
        CHECK(parsed.error().find("XYZ") == std::string::npos);
        CHECK(parsed.error().find("hooks.slack.com/<redacted>") != std::string::npos);
    }
}

} // namespace
} // namespace rollback
