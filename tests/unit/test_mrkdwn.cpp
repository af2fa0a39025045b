// Unit tests for Slack mrkdwn text: escaping of the three markup characters and http(s)-only links.
#include "common/mrkdwn.hpp"

#include <doctest/doctest.h>

#include <string>
#include <vector>

namespace rollback {
namespace {

TEST_CASE("escape_mrkdwn: &, < and > become entities; everything else stays") {
    struct Row {
        std::string text;
        std::string escaped;
    };
    const std::vector<Row> rows{
        {"HighErrorRate", "HighErrorRate"},
        {"<!channel>", "&lt;!channel&gt;"},
        {"<https://evil.example|Open dashboard>", "&lt;https://evil.example|Open dashboard&gt;"},
        {"<@U0123>", "&lt;@U0123&gt;"},
        {"a & b", "a &amp; b"},
        {"&amp;", "&amp;amp;"}, // an entity from outside is shown as typed, not read
        {"*bold* _it_ `code` 5.3%", "*bold* _it_ `code` 5.3%"},
        {"caf\xc3\xa9\nline", "caf\xc3\xa9\nline"},
        {"", ""},
    };
    for (const Row& row : rows) {
        CAPTURE(row.text);
        CHECK(escape_mrkdwn(row.text) == row.escaped);
    }
}

TEST_CASE("mrkdwn_link: a link only for http(s) URLs, escaped; any other URL is left out") {
    struct Row {
        std::string url;
        std::string link;
    };
    const std::vector<Row> rows{
        {"http://prometheus:9090/graph?g0.expr=x", "<http://prometheus:9090/graph?g0.expr=x|graph>"},
        {"HTTPS://prometheus.example/graph", "<HTTPS://prometheus.example/graph|graph>"},
        {"http://p/graph?a=1&b=<2>", "<http://p/graph?a=1&amp;b=&lt;2&gt;|graph>"},
        {"https://evil.example|Open dashboard", ""}, // a space: not a URL
        {"https://evil.example/x|Open", "<https://evil.example/x%7COpen|graph>"},
        {"javascript:alert(1)", ""},
        {"slack://channel?id=C0", ""},
        {"<!channel>", ""},
        {"http://", ""},
        {"https:///path", ""},
        {"http://host/a\nb", ""},
        {"", ""},
    };
    for (const Row& row : rows) {
        CAPTURE(row.url);
        CHECK(mrkdwn_link(row.url, "graph") == row.link);
    }
    CHECK(mrkdwn_link("http://p/", "<b>") == "<http://p/|&lt;b&gt;>");
}

} // namespace
} // namespace rollback
