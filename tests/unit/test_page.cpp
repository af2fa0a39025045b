// Unit tests for the on-call page: the one escaping, links only for http(s), relative times and durations,
// each section, the rollback summary (fixed / NOT fixed in red / checking), and hostile values as text.
#include "page/page.hpp"

#include <doctest/doctest.h>

#include <limits>
#include <map>
#include <string>
#include <vector>

namespace rollback {
namespace {

const TimePoint kNow = parse_rfc3339("2026-12-02T12:00:00Z").value();

bool contains(const std::string& html, const std::string& part) {
    return html.find(part) != std::string::npos;
}

Deployment deployment_of(std::string id, std::string service, DeploymentState state, Duration age) {
    Deployment deployment;
    deployment.id = std::move(id);
    deployment.service = std::move(service);
    deployment.version = "v2";
    deployment.previous_version = "v1";
    deployment.deployed_at = kNow - age;
    deployment.recorded_at = deployment.deployed_at;
    deployment.state = state;
    return deployment;
}

AuditEvent event_of(long long sequence, AuditEventKind kind, const Deployment& deployment, Duration age,
                    std::string detail = "{}") {
    AuditEvent event = audit_event_about(kind, deployment, kNow - age);
    event.sequence = sequence;
    event.detail = std::move(detail);
    return event;
}

DeploymentPage page_of(TimePoint now, PageDeployment deployment, std::vector<AuditEvent> events) {
    DeploymentPage page;
    page.now = now;
    page.deployment = std::move(deployment);
    page.events = std::move(events);
    return page;
}

const std::string kStartedDetail =
    R"({"status":"firing","labels":{"alertname":"HighErrorRate","service":"checkout"},)"
    R"("annotations":{"summary":"checkout: 12% of requests failed","value":"0.12"},)"
    R"("generatorURL":"http://prometheus:9090/graph?g0.expr=x","compare_url":"https://github.com/o/r/compare/a...b"})";

// A rolled-back deployment: started 5 min ago, succeeded 4 min 30 s ago, then `verdict` (if any).
PageRollback rolled_back(std::vector<AuditEventKind> verdict = {}) {
    PageRollback rollback;
    rollback.deployment.deployment =
        deployment_of("checkout-7", "checkout", DeploymentState::rolled_back, std::chrono::minutes(6));
    rollback.deployment.state = DeploymentState::rolled_back;
    const Deployment& deployment = rollback.deployment.deployment;
    AuditEvent started =
        event_of(2, AuditEventKind::rollback_started, deployment, std::chrono::minutes(5), kStartedDetail);
    started.alertname = "HighErrorRate";
    rollback.events = {
        event_of(1, AuditEventKind::deployment_recorded, deployment, std::chrono::minutes(6)), started,
        event_of(3, AuditEventKind::rollback_succeeded, deployment, std::chrono::seconds(270))};
    long long sequence = 4;
    for (AuditEventKind kind : verdict)
        rollback.events.push_back(event_of(sequence++, kind, deployment, std::chrono::minutes(1)));
    return rollback;
}

TEST_CASE("html_escape: the five characters of HTML become entities, everything else stays") {
    struct Row {
        std::string text, escaped;
    };
    const std::vector<Row> rows{
        {"", ""},
        {"checkout v2", "checkout v2"},
        {"<script>alert(1)</script>", "&lt;script&gt;alert(1)&lt;/script&gt;"},
        {"a & b", "a &amp; b"},
        {"&amp;", "&amp;amp;"},
        {R"(" onmouseover="x)", "&quot; onmouseover=&quot;x"},
        {"it's", "it&#39;s"},
        {"ünïcode ✓", "ünïcode ✓"},
    };
    for (const Row& row : rows) {
        CAPTURE(row.text);
        CHECK(html_escape(row.text) == row.escaped);
    }
}

TEST_CASE("is_http_link: only http:// and https:// URLs with a host are linked") {
    struct Row {
        std::string url;
        bool link;
    };
    const std::vector<Row> rows{
        {"http://prometheus:9090/graph?g0.expr=rate(x%5B5m%5D)", true},
        {"https://github.com/org/repo/compare/a...b", true},
        {"javascript:alert(1)", false},
        {"JavaScript:alert(1)", false},
        {"data:text/html,<script>alert(1)</script>", false},
        {"/relative/path", false},
        {"//evil.example/x", false},
        {"ftp://files.example/x", false},
        {"http://", false},
        {"http://host/with space", false},
        {"http://host/\"onclick=\"x", true}, // linked, and escaped in the attribute (below)
        {"", false},
    };
    for (const Row& row : rows) {
        CAPTURE(row.url);
        CHECK(is_http_link(row.url) == row.link);
    }
}

TEST_CASE("relative_time and human_duration read as a person says them") {
    struct Row {
        Duration ago;
        std::string relative;
    };
    using std::chrono::hours, std::chrono::minutes, std::chrono::seconds;
    const std::vector<Row> rows{
        {seconds(0), "just now"},
        {seconds(4), "just now"},
        {seconds(40), "40 s ago"},
        {minutes(4), "4 min ago"},
        {minutes(4) + seconds(59), "4 min ago"},
        {hours(3), "3 h ago"},
        {hours(1) + minutes(59), "1 h 59 min ago"},
        {hours(14), "14 h ago"},
        {hours(47), "47 h ago"},
        {hours(72), "3 d ago"},
        {-minutes(12), "in 12 min"},
        {-seconds(30), "in 30 s"},
    };
    for (const Row& row : rows) {
        CAPTURE(row.relative);
        CHECK(relative_time(kNow - row.ago, kNow) == row.relative);
    }
    CHECK(human_duration(Duration(850)) == "850 ms");
    CHECK(human_duration(seconds(12)) == "12 s");
    CHECK(human_duration(minutes(4) + seconds(5)) == "4 min 5 s");
    CHECK(human_duration(minutes(15)) == "15 min");
    CHECK(human_duration(hours(2) + minutes(10)) == "2 h 10 min");
    CHECK(human_duration(hours(76)) == "3 d 4 h");
}

TEST_CASE("summarize_rollback: the alert from rollback_started, the duration, and whether it fixed it") {
    struct Row {
        std::string name;
        std::vector<AuditEventKind> verdict;
        Duration confirm_window;
        RollbackVerdict expected;
    };
    const std::vector<Row> rows{
        {"effective", {AuditEventKind::rollback_effective}, kDefaultConfirmWindow, RollbackVerdict::fixed},
        {"ineffective",
         {AuditEventKind::rollback_ineffective},
         kDefaultConfirmWindow,
         RollbackVerdict::not_fixed},
        {"no verdict, inside confirm_window", {}, kDefaultConfirmWindow, RollbackVerdict::checking},
        {"no verdict, confirm_window over", {}, std::chrono::minutes(2), RollbackVerdict::none},
        {"confirm_window 0s: never checked", {}, Duration(0), RollbackVerdict::none},
    };
    for (const Row& row : rows) {
        CAPTURE(row.name);
        PageRollback rollback = rolled_back(row.verdict);
        rollback.deployment.confirm_window = row.confirm_window;
        const RollbackSummary summary = summarize_rollback(rollback.deployment, rollback.events, kNow);
        CHECK(summary.verdict == row.expected);
        CHECK(summary.alertname == "HighErrorRate");
        CHECK(summary.summary == "checkout: 12% of requests failed");
        CHECK(summary.value == "0.12");
        CHECK(summary.labels == std::map<std::string, std::string>{{"service", "checkout"}});
        CHECK(summary.generator_url == "http://prometheus:9090/graph?g0.expr=x");
        CHECK(summary.compare_url == "https://github.com/o/r/compare/a...b");
        REQUIRE(summary.started);
        REQUIRE(summary.ended);
        CHECK(*summary.ended - *summary.started == std::chrono::seconds(30));
    }
    // A failed rollback has no verdict, whatever the window.
    PageRollback failed = rolled_back();
    failed.deployment.state = DeploymentState::rollback_failed;
    failed.events.back().event = std::string(to_string(AuditEventKind::rollback_failed));
    CHECK(summarize_rollback(failed.deployment, failed.events, kNow).verdict == RollbackVerdict::none);
}

StatusPage full_page() {
    StatusPage page;
    page.now = kNow;
    page.services = {"checkout", "search"};
    PageDeployment watching;
    watching.deployment =
        deployment_of("search-3", "search", DeploymentState::watching, std::chrono::minutes(10));
    watching.watch_window = std::chrono::minutes(30);
    page.watching = {watching};
    page.rollbacks = {rolled_back({AuditEventKind::rollback_ineffective})};
    ServicePause pause;
    pause.service = "payments";
    pause.actor = "alice";
    pause.reason = "incident 42";
    pause.paused_at = kNow - std::chrono::minutes(3);
    pause.until = kNow + std::chrono::hours(1);
    page.pauses = {pause};
    page.trail = page.rollbacks.front().events;
    return page;
}

TEST_CASE("the status page has each section with what a person reads") {
    const std::string html = render_status_page(full_page());
    struct Row {
        std::string what, part;
    };
    const std::vector<Row> rows{
        {"a phone's viewport", R"(<meta name="viewport" content="width=device-width, initial-scale=1">)"},
        {"the refresh, without a script", R"(<meta http-equiv="refresh" content="30">)"},
        {"the time of the page", "at 2026-12-02T12:00:00.000Z (UTC)"},
        {"under watch", "<h2>Under watch (1)</h2>"},
        {"the watched deployment, linked", R"(<a href="/deployments/search-3">search-3</a>)"},
        {"its time left", "20 min left"},
        {"the window's end", "until 2026-12-02T12:20:00.000Z"},
        {"recent rollbacks", "<h2>Recent rollbacks</h2>"},
        {"the versions from and to", "<td data-label=\"from &rarr; to\">v2 &rarr; v1</td>"},
        {"the watched version and the one before", "v2 <span class=\"muted\">(was v1)</span>"},
        {"a phone's card labels", "td::before{content:attr(data-label)"},
        {"the alert, linked to its source",
         R"(<a href="http://prometheus:9090/graph?g0.expr=x" rel="noreferrer noopener">HighErrorRate</a>)"},
        {"the summary", "checkout: 12% of requests failed"},
        {"the value", "<td data-label=\"value\">0.12</td>"},
        {"the alert's labels", "<code>service=&quot;checkout&quot;</code>"},
        {"the outcome", R"(<span class="state state-rolled_back">rolled_back</span>)"},
        {"the duration", "<td data-label=\"took\">30 s</td>"},
        {"the red verdict", R"(<span class="ineffective">NOT fixed</span>)"},
        {"the compare link",
         R"(<a href="https://github.com/o/r/compare/a...b" rel="noreferrer noopener">compare</a>)"},
        {"paused services", "<h2>Paused services (1)</h2>"},
        {"who paused, why", "<td data-label=\"paused by\">alice</td><td data-label=\"why\">incident 42</td>"},
        {"until when", "2026-12-02T13:00:00.000Z"},
        {"relative times", "5 min ago"},
        {"the trail", "<h2>Recent trail</h2>"},
        {"the trail's ineffective event in red", R"(<span class="ineffective">rollback_ineffective</span>)"},
        {"the filter form", R"(<form method="get" action="/">)"},
        {"the filter's choices", R"(<option value="search">search</option>)"},
        {"red is in the style", ".ineffective{color:#c00000"},
    };
    for (const Row& row : rows) {
        CAPTURE(row.what);
        CHECK_MESSAGE(contains(html, row.part), row.part);
    }
    CHECK_FALSE(contains(html, "<script"));
    CHECK_FALSE(contains(html, "src=")); // nothing is loaded from anywhere
}

TEST_CASE("an empty ledger: each section says so; a filter shows its service selected") {
    StatusPage page;
    page.now = kNow;
    page.service_filter = "checkout";
    page.services = {"checkout", "search"};
    const std::string html = render_status_page(page);
    CHECK(contains(html, "No deployment is under watch."));
    CHECK(contains(html, "No rollback yet."));
    CHECK(contains(html, "No service is paused"));
    CHECK(contains(html, "The trail is empty."));
    CHECK(contains(html, R"(<option value="checkout" selected>checkout</option>)"));
    CHECK(contains(html, "Only service <strong>checkout</strong>"));
    CHECK(contains(html, R"(<a href="/">show all</a>)"));
}

TEST_CASE("hostile values from outside are text: labels, annotations, versions, ids, reasons, links") {
    const std::string hostile = "<script>alert(1)</script>";
    StatusPage page = full_page();
    page.service_filter = hostile;
    PageDeployment& watching = page.watching.front();
    watching.deployment.id = hostile;
    watching.deployment.version = hostile;
    watching.deployment.actor = hostile;
    page.pauses.front().reason = hostile;
    PageRollback& rollback = page.rollbacks.front();
    for (AuditEvent& event : rollback.events) {
        event.reason = hostile;
        if (event.event == "rollback_started") {
            event.alertname = hostile;
            event.detail = R"x({"labels":{"service":"<script>alert(1)</script>"},)x"
                           R"x("annotations":{"summary":"<img src=x onerror=alert(1)>","value":"<b>1</b>"},)x"
                           R"x("generatorURL":"javascript:alert(1)",)x"
                           R"x("compare_url":"http://x/\"><script>alert(1)</script>"})x";
        }
    }
    page.trail = rollback.events;
    const std::string html = render_status_page(page);
    CHECK_FALSE(contains(html, "<script"));
    CHECK_FALSE(contains(html, "<img"));
    CHECK_FALSE(contains(html, "<b>1</b>"));
    CHECK(contains(html, "&lt;script&gt;alert(1)&lt;/script&gt;"));
    CHECK(contains(html, "&lt;img src=x onerror=alert(1)&gt;"));
    CHECK_FALSE(contains(html, "href=\"javascript:"));
    CHECK(contains(html, "&quot;&gt;&lt;script&gt;")); // the compare URL closes no attribute
    CHECK(contains(html, "/deployments/%3Cscript%3Ealert%281%29%3C%2Fscript%3E")); // an id in a path
    const std::string detail_page =
        render_deployment_page(page_of(kNow, rollback.deployment, rollback.events));
    CHECK_FALSE(contains(detail_page, "<script"));
    CHECK(contains(detail_page, "&lt;script&gt;"));
}

TEST_CASE("the deployment page: its fields, its rollback, and its whole trail oldest first with details") {
    const PageRollback rollback = rolled_back({AuditEventKind::rollback_effective});
    PageDeployment deployment = rollback.deployment;
    deployment.deployment.commit = "abc123";
    deployment.deployment.url = "https://ci.example/run/7";
    const std::string html = render_deployment_page(page_of(kNow, deployment, rollback.events));
    CHECK(contains(html, "<h2>Deployment <code>checkout-7</code></h2>"));
    CHECK(contains(html, R"(<a href="/?service=checkout">checkout</a>)"));
    CHECK(contains(html, "<code>abc123</code>"));
    CHECK(contains(html, R"(<a href="https://ci.example/run/7" rel="noreferrer noopener">)"));
    CHECK(contains(html, R"(<span class="fixed">fixed</span>)"));
    CHECK(contains(html, "<dt>version</dt><dd>v2 <span class=\"muted\">(was v1)</span></dd>"));
    CHECK(contains(html, "Trail (4 events, oldest first)"));
    CHECK(html.find("deployment_recorded") < html.find("rollback_effective"));
    CHECK(contains(html, "<details><summary>detail</summary><pre>{&quot;status&quot;"));
    // A URL that is not http(s) is shown, never linked.
    deployment.deployment.url = "javascript:alert(1)";
    const std::string unlinked = render_deployment_page(page_of(kNow, deployment, {}));
    CHECK(contains(unlinked, "<dd>javascript:alert(1)</dd>"));
    CHECK(contains(unlinked, "No event yet."));
}

ChartData chart_of(std::vector<ChartSeries> series) {
    ChartData chart;
    chart.expression = "sum(rate(errors[5m])) > 0.05";
    chart.start = kNow - std::chrono::minutes(30);
    chart.end = kNow;
    chart.step = std::chrono::seconds(6);
    chart.series = std::move(series);
    chart.total_series = chart.series.size();
    chart.markers = {{"deployed", kNow - std::chrono::minutes(20)},
                     {"alert fired", kNow - std::chrono::minutes(15)},
                     {"outside", kNow - std::chrono::hours(2)}};
    return chart;
}

std::size_t count_of(const std::string& text, const std::string& part) {
    std::size_t count = 0;
    for (auto at = text.find(part); at != std::string::npos; at = text.find(part, at + 1))
        ++count;
    return count;
}

TEST_CASE("render_chart: a polyline per series, the markers in the window, y min and max, UTC times") {
    const auto minute = [](int m) { return kNow - std::chrono::minutes(30 - m); };
    ChartData chart =
        chart_of({{"errors{job=\"checkout\"}", {{minute(0), 0.01}, {minute(10), 0.2}, {minute(20), 0.05}}},
                  {"<b>two</b>", {{minute(0), 1}, {minute(30), 3}}}});
    const std::string html = render_chart(chart);
    CHECK(contains(html, "<svg xmlns=\"http://www.w3.org/2000/svg\""));
    CHECK(count_of(html, "<polyline class=\"series\"") == 2);
    CHECK(contains(html, "points=\"64.0,"));
    CHECK(count_of(html, "<g class=\"marker\">") == 2); // the one outside the window is left out
    CHECK(contains(html, ">deployed 11:40:00</text>"));
    CHECK(contains(html, ">alert fired 11:45:00</text>"));
    CHECK_FALSE(contains(html, "outside"));
    CHECK(contains(html, "<text class=\"y-max\""));
    CHECK(contains(html, ">3</text>"));
    CHECK(contains(html, ">0.01</text>"));
    CHECK(contains(html, ">11:30:00</text>"));
    CHECK(contains(html, ">12:00:00</text>"));
    // The legend: names escaped; the expression too.
    CHECK(contains(html, "<code>errors{job=&quot;checkout&quot;}</code>"));
    CHECK(contains(html, "<code>&lt;b&gt;two&lt;/b&gt;</code>"));
    CHECK_FALSE(contains(html, "<b>"));
    CHECK(contains(html, "<code>sum(rate(errors[5m])) &gt; 0.05</code>"));
    CHECK_FALSE(contains(html, "<script"));
    // More series than drawn: the legend says how many were left out.
    chart.total_series = 9;
    CHECK(contains(render_chart(chart), "and 7 more series, not drawn"));
}

TEST_CASE("render_chart: NaN breaks a line, a lone sample is a dot, no finite sample says so") {
    const auto minute = [](int m) { return kNow - std::chrono::minutes(30 - m); };
    const double nan = std::numeric_limits<double>::quiet_NaN();
    const std::string broken = render_chart(chart_of({{"a",
                                                       {{minute(0), 1},
                                                        {minute(1), 2},
                                                        {minute(2), nan},
                                                        {minute(3), 2},
                                                        {minute(4), 4},
                                                        {minute(5), nan},
                                                        {minute(6), 5}}}}));
    CHECK(count_of(broken, "<polyline") == 2);
    CHECK(count_of(broken, "<circle") == 1);
    CHECK_FALSE(contains(broken, "nan"));
    CHECK_FALSE(contains(broken, "no samples"));
    const std::string flat = render_chart(chart_of({{"flat", {{minute(0), 0}, {minute(1), 0}}}}));
    CHECK(count_of(flat, "<polyline") == 1);
    CHECK_FALSE(contains(flat, "nan"));
    for (const ChartData& empty :
         {chart_of({}), chart_of({{"only-nan", {{minute(0), nan}}}}), chart_of({{"none", {}}})}) {
        const std::string html = render_chart(empty);
        CHECK(contains(html, "Prometheus has no samples of this expression in this window"));
        CHECK_FALSE(contains(html, "<polyline"));
        CHECK(count_of(html, "<g class=\"marker\">") == 2);
    }
}

TEST_CASE("chart_series_name and chart_step") {
    CHECK(chart_series_name({}) == "{}");
    CHECK(chart_series_name({{"__name__", "up"}}) == "up");
    CHECK(chart_series_name({{"__name__", "up"}, {"job", "a\"b"}, {"env", "prod"}}) ==
          "up{env=\"prod\", job=\"a\\\"b\"}");
    CHECK(chart_step(kNow, kNow) == std::chrono::seconds(1));
    CHECK(chart_step(kNow - std::chrono::minutes(5), kNow) == std::chrono::seconds(1));
    CHECK(chart_step(kNow - std::chrono::minutes(30), kNow) == std::chrono::seconds(6));
    CHECK(chart_step(kNow - std::chrono::hours(2) - std::chrono::seconds(1), kNow) ==
          std::chrono::seconds(25));
}

TEST_CASE("plan_deployment_chart: g0.expr of the first rollback_started, the window and the markers") {
    PageRollback rollback = rolled_back();
    const std::string detail =
        R"({"labels":{"alertname":"HighErrorRate"},"startsAt":"2026-12-02T11:54:30.000Z",)"
        R"("generatorURL":"http://evil.example/graph?g0.expr=rate%28errors%5B5m%5D%29+%3E+0.05&g0.tab=1"})";
    rollback.events[1].detail = detail;
    auto query = plan_deployment_chart(rollback.deployment, rollback.events, kNow);
    REQUIRE(query);
    CHECK(query->expression == "rate(errors[5m]) > 0.05");
    CHECK(query->start == kNow - std::chrono::minutes(16)); // deployed 6 min ago, minus 10 min
    CHECK(query->end == kNow);                              // ended 4.5 min ago + 10 min: capped at now
    CHECK(query->step == std::chrono::seconds(4));
    REQUIRE(query->markers.size() == 4);
    CHECK(query->markers[0].label == "deployed");
    CHECK(query->markers[1].label == "alert fired");
    CHECK(query->markers[1].time == parse_rfc3339("2026-12-02T11:54:30Z").value());
    CHECK(query->markers[2].time == kNow - std::chrono::minutes(5));
    CHECK(query->markers[3].time == kNow - std::chrono::seconds(270));
    // Ended long enough ago: 10 minutes after the end.
    auto later = plan_deployment_chart(rollback.deployment, rollback.events, kNow + std::chrono::hours(1));
    REQUIRE(later);
    CHECK(later->end == kNow - std::chrono::seconds(270) + std::chrono::minutes(10));
    // Nothing to chart: no generatorURL (kStartedDetail's g0.expr is "x": charted), too long, no rollback.
    rollback.events[1].detail = R"({"generatorURL":"http://p/graph?g0.tab=1"})";
    CHECK_FALSE(plan_deployment_chart(rollback.deployment, rollback.events, kNow));
    rollback.events[1].detail = R"({"generatorURL":"http://p/graph?g0.expr=)" +
                                std::string(kMaxChartExpressionBytes + 1, 'a') + "\"}";
    CHECK_FALSE(plan_deployment_chart(rollback.deployment, rollback.events, kNow));
    CHECK_FALSE(plan_deployment_chart(rollback.deployment, {rollback.events[0]}, kNow));
}

TEST_CASE("the deployment page shows the chart, or the one line saying why there is none") {
    const PageRollback rollback = rolled_back();
    DeploymentPage page = page_of(kNow, rollback.deployment, rollback.events);
    CHECK_FALSE(contains(render_deployment_page(page), "chart-section"));
    page.chart = chart_of({{"s", {{kNow - std::chrono::minutes(5), 1}, {kNow, 2}}}});
    const std::string html = render_deployment_page(page);
    CHECK(contains(html, "<section id=\"chart-section\">"));
    CHECK(contains(html, "<polyline"));
    page.chart.reset();
    page.chart_problem = "Prometheus at http://p:9090 could not be reached: <refused>";
    const std::string problem = render_deployment_page(page);
    CHECK(contains(problem, "<p id=\"chart-problem\">Prometheus at http://p:9090 could not be reached: "
                            "&lt;refused&gt;</p>"));
    CHECK_FALSE(contains(problem, "<svg"));
}

TEST_CASE("a message page escapes its title and message") {
    const std::string html = render_message_page("Unknown deployment", "no deployment with id \"<x>\"");
    CHECK(contains(html, "<h2>Unknown deployment</h2>"));
    CHECK(contains(html, "no deployment with id &quot;&lt;x&gt;&quot;"));
}

} // namespace
} // namespace rollback
