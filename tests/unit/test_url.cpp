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

TEST_CASE("query_parameter: a generatorURL's g0.expr, decoded as a form value, bounded") {
    using rollback::query_parameter;
    const std::string url = "http://prometheus:9090/graph?g0.expr=sum%28rate%28errors%5B5m%5D%29%29+%3E+0.05"
                            "&g0.tab=1#frag";
    CHECK(query_parameter(url, "g0.expr", 4096) ==
          std::optional<std::string>("sum(rate(errors[5m])) > 0.05"));
    CHECK(query_parameter(url, "g0.tab", 4096) == std::optional<std::string>("1"));
    CHECK(query_parameter(url, "g0", 4096) == std::nullopt);
    CHECK(query_parameter("http://p/graph", "g0.expr", 4096) == std::nullopt);
    CHECK(query_parameter("http://p/graph?g0.expr=", "g0.expr", 4096) == std::optional<std::string>(""));
    CHECK(query_parameter("http://p/graph?g0.expr=a%2", "g0.expr", 4096) == std::nullopt);
    CHECK(query_parameter("http://p/graph?g0.expr=a%zz", "g0.expr", 4096) == std::nullopt);
    CHECK(query_parameter("http://p/graph?g0.expr=up&g0.expr=down", "g0.expr", 4096) ==
          std::optional<std::string>("up"));
    CHECK(query_parameter("http://p/graph?g0.expr=" + std::string(4097, 'a'), "g0.expr", 4096) ==
          std::nullopt);
    CHECK(query_parameter("http://p/graph?g0.expr=" + std::string(4096, 'a'), "g0.expr", 4096)->size() ==
          4096);
}
