// The on-call page's HTML: every value from outside through html_escape, every href through is_http_link.
#include "page/page.hpp"

#include "codec/codec.hpp"
#include "common/text.hpp"
#include "common/url.hpp"

#include <algorithm>
#include <cstdlib>

namespace rollback {
namespace {

// Phone-first: one column, tables scroll sideways on their own, nothing fetched from elsewhere.
constexpr std::string_view kStyle = R"css(
*{box-sizing:border-box}
body{font:15px/1.4 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0;padding:12px;color:#1b1b1b;background:#f6f6f4}
header{display:flex;flex-wrap:wrap;align-items:baseline;gap:4px 16px;margin-bottom:8px}
h1{font-size:1.3em;margin:0}
h1 a{color:inherit;text-decoration:none}
h2{font-size:1.1em;margin:20px 0 6px}
.muted{color:#666;font-size:.9em}
.scroll{overflow-x:auto;background:#fff;border:1px solid #ddd;border-radius:6px}
table{border-collapse:collapse;width:100%}
th,td{text-align:left;padding:6px 8px;border-bottom:1px solid #eee;vertical-align:top}
th{background:#fafafa;font-weight:600;white-space:nowrap}
tr:last-child td{border-bottom:0}
td.time{white-space:nowrap}
.empty{padding:8px;color:#666;background:#fff;border:1px solid #ddd;border-radius:6px}
.state{display:inline-block;padding:0 6px;border-radius:4px;background:#eee;white-space:nowrap}
.state-watching,.state-rolling_back{background:#fff3cd}
.state-rolled_back{background:#d9ecff}
.state-rollback_failed,.state-rollback_interrupted{background:#ffd6d6;color:#8b0000}
.state-healthy{background:#dff5e1}
.fixed{color:#1e7b34;font-weight:600}
.ineffective{color:#c00000;font-weight:700}
tr.ineffective-row{background:#fff0f0}
.checking{color:#8a6d00}
form{display:flex;flex-wrap:wrap;gap:6px;align-items:center;margin:4px 0 0}
select,button{font:inherit;padding:4px 8px}
dl{display:grid;grid-template-columns:max-content 1fr;gap:4px 12px;background:#fff;border:1px solid #ddd;border-radius:6px;padding:8px;margin:0}
dt{font-weight:600}
dd{margin:0;overflow-wrap:anywhere}
pre{white-space:pre-wrap;overflow-wrap:anywhere;margin:4px 0 0;font-size:.85em}
code{overflow-wrap:anywhere}
.labels{font-size:.8em;color:#555}
@media (max-width:640px){
body{padding:8px;font-size:14px}
.scroll{overflow:visible;border:0;background:none}
table,tbody,tr,td{display:block;width:100%}
thead{display:none}
tr{background:#fff;border:1px solid #ddd;border-radius:6px;margin-bottom:8px;padding:4px 0}
tr.ineffective-row{border-color:#e3a0a0}
td{border:0;padding:3px 10px 3px 7.8em;position:relative;min-height:1.6em}
td::before{content:attr(data-label);position:absolute;left:10px;width:7.2em;font-weight:600;color:#555}
}
)css";

std::string state_badge(DeploymentState state) {
    const std::string name(to_string(state));
    return "<span class=\"state state-" + name + "\">" + name + "</span>";
}

// A time as a person reads it: relative, with the RFC 3339 UTC time in the element (and its title).
std::string time_cell(TimePoint time, TimePoint now) {
    const std::string exact = format_rfc3339_ms(time);
    return "<time datetime=\"" + exact + "\" title=\"" + exact + "\">" +
           html_escape(relative_time(time, now)) + "</time><br><span class=\"muted\">" + exact + "</span>";
}

// A link when `url` is http(s), else the escaped text ("" stays "").
std::string link_or_text(std::string_view url, std::string_view text) {
    if (url.empty()) return "";
    if (!is_http_link(url)) return html_escape(url);
    return "<a href=\"" + html_escape(url) + "\" rel=\"noreferrer noopener\">" + html_escape(text) + "</a>";
}

std::string deployment_href(const std::string& id) {
    return "/deployments/" + html_escape(percent_encode(id));
}

std::string deployment_link(const std::string& id) {
    if (id.empty()) return "";
    return "<a href=\"" + deployment_href(id) + "\">" + html_escape(id) + "</a>";
}

std::string service_cell(const Deployment& deployment) {
    std::string cell = html_escape(deployment.service);
    if (!deployment.environment.empty())
        cell += " <span class=\"muted\">(" + html_escape(deployment.environment) + ")</span>";
    return cell;
}

std::string page_head(std::string_view title, bool refresh) {
    std::string html = "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
                       "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n";
    // Refreshed by the browser itself every 30 s: no script on the page at all.
    if (refresh) html += "<meta http-equiv=\"refresh\" content=\"30\">\n";
    html +=
        "<title>" + html_escape(title) + "</title>\n<style>" + std::string(kStyle) + "</style>\n</head>\n";
    return html;
}

std::string table(std::string_view id, const std::vector<std::string>& headings, const std::string& rows,
                  std::string_view empty_text) {
    if (rows.empty())
        return "<p class=\"empty\" id=\"" + std::string(id) + "-empty\">" + std::string(empty_text) +
               "</p>\n";
    std::string html = "<div class=\"scroll\"><table id=\"" + std::string(id) + "\">\n<thead><tr>";
    for (const std::string& heading : headings)
        html += "<th>" + heading + "</th>";
    return html + "</tr></thead>\n<tbody>\n" + rows + "</tbody></table></div>\n";
}

std::string verdict_cell(RollbackVerdict verdict) {
    switch (verdict) {
    case RollbackVerdict::fixed:
        return "<span class=\"fixed\">fixed</span>";
    case RollbackVerdict::not_fixed:
        return "<span class=\"ineffective\">NOT fixed</span>";
    case RollbackVerdict::checking:
        return "<span class=\"checking\">checking</span>";
    case RollbackVerdict::none:
        break;
    }
    return "<span class=\"muted\">&mdash;</span>";
}

std::string duration_cell(const RollbackSummary& summary, TimePoint now) {
    if (!summary.started) return "&mdash;";
    if (!summary.ended)
        return "running for " +
               html_escape(human_duration(std::chrono::duration_cast<Duration>(now - *summary.started)));
    return html_escape(
        human_duration(std::chrono::duration_cast<Duration>(*summary.ended - *summary.started)));
}

std::string alert_cell(const RollbackSummary& summary) {
    if (summary.alertname.empty() && summary.summary.empty()) return "&mdash;";
    std::string cell = summary.generator_url.empty() || !is_http_link(summary.generator_url)
                           ? "<strong>" + html_escape(summary.alertname) + "</strong>"
                           : "<strong>" +
                                 link_or_text(summary.generator_url,
                                              summary.alertname.empty() ? "source" : summary.alertname) +
                                 "</strong>";
    if (!summary.summary.empty()) cell += "<br>" + html_escape(summary.summary);
    if (!summary.labels.empty()) {
        cell += "<br><span class=\"labels\">";
        for (const auto& [name, value] : summary.labels)
            cell += "<code>" + html_escape(name) + "=&quot;" + html_escape(value) + "&quot;</code> ";
        cell += "</span>";
    }
    return cell;
}

// One cell, labelled with its column: a phone shows each row as a card of "label: value" lines.
std::string td(std::string_view label, const std::string& html, std::string_view css_class = {}) {
    std::string cell = "<td data-label=\"" + std::string(label) + "\"";
    if (!css_class.empty()) cell += " class=\"" + std::string(css_class) + "\"";
    return cell + ">" + html + "</td>";
}

// A version and what it replaced: "v2 (was v1)".
std::string version_was(const std::string& version, const std::string& previous) {
    if (version.empty() && previous.empty()) return "";
    std::string html = html_escape(version);
    if (!previous.empty()) html += " <span class=\"muted\">(was " + html_escape(previous) + ")</span>";
    return html;
}

const std::vector<std::string> kRollbackHeadings{"service", "from &rarr; to", "outcome", "fixed it?", "alert",
                                                 "value",   "started",        "took",    "diff"};

std::string rollback_row(const PageRollback& rollback, TimePoint now) {
    const RollbackSummary summary = summarize_rollback(rollback.deployment, rollback.events, now);
    const Deployment& deployment = rollback.deployment.deployment;
    std::string row =
        summary.verdict == RollbackVerdict::not_fixed ? "<tr class=\"ineffective-row\">" : "<tr>";
    row += td("service", service_cell(deployment) + "<br>" + deployment_link(deployment.id));
    row += td("from &rarr; to",
              html_escape(deployment.version) + " &rarr; " +
                  html_escape(deployment.previous_version.empty() ? "?" : deployment.previous_version));
    row += td("outcome", state_badge(rollback.deployment.state));
    row += td("fixed it?", verdict_cell(summary.verdict));
    row += td("alert", alert_cell(summary));
    row += td("value", summary.value.empty() ? std::string("&mdash;") : html_escape(summary.value));
    row += td("started", summary.started ? time_cell(*summary.started, now) : "&mdash;", "time");
    row += td("took", duration_cell(summary, now));
    row += td("diff", summary.compare_url.empty() ? std::string("&mdash;")
                                                  : link_or_text(summary.compare_url, "compare"));
    return row + "</tr>\n";
}

const std::vector<std::string> kTrailHeadings{"time",    "event", "service", "deployment",
                                              "version", "alert", "reason",  "receiver"};

std::string trail_rows(const std::vector<AuditEvent>& events, TimePoint now, bool with_detail) {
    std::string rows;
    for (const AuditEvent& event : events) {
        const bool ineffective = event.event == to_string(AuditEventKind::rollback_ineffective);
        rows += ineffective ? "<tr class=\"ineffective-row\">" : "<tr>";
        rows += td("time", time_cell(event.time, now), "time");
        rows +=
            td("event", ineffective ? "<span class=\"ineffective\">" + html_escape(event.event) + "</span>"
                                    : html_escape(event.event));
        rows += td("service",
                   html_escape(event.service) +
                       (event.environment.empty()
                            ? ""
                            : " <span class=\"muted\">(" + html_escape(event.environment) + ")</span>"));
        rows += td("deployment", deployment_link(event.deployment_id));
        rows += td("version", version_was(event.version, event.previous_version));
        rows += td("alert", html_escape(event.alertname));
        std::string reason = html_escape(event.reason);
        if (with_detail && event.detail != "{}" && !event.detail.empty())
            reason +=
                "<details><summary>detail</summary><pre>" + html_escape(event.detail) + "</pre></details>";
        rows += td("reason", reason);
        rows += td("receiver", html_escape(event.instance), "muted");
        rows += "</tr>\n";
    }
    return rows;
}

const std::vector<std::string> kWatchingHeadings{"service",    "version",  "window",
                                                 "deployment", "deployed", "by"};

std::string watching_rows(const std::vector<PageDeployment>& watching, TimePoint now) {
    std::string rows;
    for (const PageDeployment& entry : watching) {
        const Deployment& deployment = entry.deployment;
        const TimePoint window_end = deployment.deployed_at + entry.watch_window;
        const auto left = std::chrono::duration_cast<Duration>(window_end - now);
        rows += "<tr>" + td("service", service_cell(deployment));
        rows += td("version", version_was(deployment.version, deployment.previous_version));
        rows +=
            td("window",
               "<strong>" +
                   (left.count() > 0 ? html_escape(human_duration(left)) + " left" : std::string("ending")) +
                   "</strong><br><span class=\"muted\">until " + format_rfc3339_ms(window_end) + "</span>",
               "time");
        rows += td("deployment", deployment_link(deployment.id));
        rows += td("deployed", time_cell(deployment.deployed_at, now), "time");
        rows += td("by", html_escape(deployment.actor)) + "</tr>\n";
    }
    return rows;
}

const std::vector<std::string> kPauseHeadings{"service", "paused by", "why", "until", "since"};

std::string pause_rows(const std::vector<ServicePause>& pauses, TimePoint now) {
    std::string rows;
    for (const ServicePause& pause : pauses) {
        rows += "<tr>" + td("service", "<strong>" + html_escape(pause.service) + "</strong>");
        rows += td("paused by", pause.actor.empty() ? std::string("<span class=\"muted\">unknown</span>")
                                                    : html_escape(pause.actor));
        rows += td("why", html_escape(pause.reason));
        rows += td("until", pause.until ? time_cell(*pause.until, now) : "until resumed", "time");
        rows += td("since", time_cell(pause.paused_at, now), "time") + "</tr>\n";
    }
    return rows;
}

std::string filter_form(const StatusPage& page) {
    std::string html = "<form method=\"get\" action=\"/\"><label for=\"service\">Service</label> "
                       "<select id=\"service\" name=\"service\"><option value=\"\">all services</option>";
    std::vector<std::string> services = page.services;
    if (!page.service_filter.empty() &&
        std::find(services.begin(), services.end(), page.service_filter) == services.end())
        services.push_back(page.service_filter);
    for (const std::string& service : services)
        html += "<option value=\"" + html_escape(service) + "\"" +
                (service == page.service_filter ? " selected" : "") + ">" + html_escape(service) +
                "</option>";
    html += "</select> <button type=\"submit\">Show</button>";
    if (!page.service_filter.empty()) html += " <a href=\"/\">show all</a>";
    return html + "</form>\n";
}

std::string header(TimePoint now) {
    return "<header><h1><a href=\"/\">rollback-receiver</a></h1><span class=\"muted\">at " +
           format_rfc3339_ms(now) + " (UTC), refreshed every 30 s</span></header>\n";
}

} // namespace

std::string html_escape(std::string_view text) {
    std::string out;
    out.reserve(text.size());
    for (const char c : text) {
        switch (c) {
        case '&':
            out += "&amp;";
            break;
        case '<':
            out += "&lt;";
            break;
        case '>':
            out += "&gt;";
            break;
        case '"':
            out += "&quot;";
            break;
        case '\'':
            out += "&#39;";
            break;
        default:
            out += c;
        }
    }
    return out;
}

bool is_http_link(std::string_view url) {
    if (url.find(' ') != std::string_view::npos) return false;
    return static_cast<bool>(parse_http_url(url));
}

std::string human_duration(Duration duration) {
    long long ms = std::llabs(duration.count());
    if (ms < 1000) return std::to_string(ms) + " ms";
    const long long s = ms / 1000;
    if (s < 60) return std::to_string(s) + " s";
    const long long m = s / 60;
    if (m < 60) return std::to_string(m) + " min" + (s % 60 ? " " + std::to_string(s % 60) + " s" : "");
    const long long h = m / 60;
    if (h < 24) return std::to_string(h) + " h" + (m % 60 ? " " + std::to_string(m % 60) + " min" : "");
    const long long d = h / 24;
    return std::to_string(d) + " d" + (h % 24 ? " " + std::to_string(h % 24) + " h" : "");
}

std::string relative_time(TimePoint time, TimePoint now) {
    const long long ms = std::chrono::duration_cast<Duration>(now - time).count();
    const long long s = std::llabs(ms) / 1000;
    if (s < 5) return "just now";
    std::string amount;
    if (s < 60)
        amount = std::to_string(s) + " s";
    else if (s < 3600)
        amount = std::to_string(s / 60) + " min";
    else if (s < 10 * 3600)
        amount = std::to_string(s / 3600) + " h" +
                 (s % 3600 >= 60 ? " " + std::to_string(s % 3600 / 60) + " min" : "");
    else if (s < 48 * 3600)
        amount = std::to_string(s / 3600) + " h";
    else
        amount = std::to_string(s / 86400) + " d";
    return ms > 0 ? amount + " ago" : "in " + amount;
}

RollbackSummary summarize_rollback(const PageDeployment& deployment, const std::vector<AuditEvent>& events,
                                   TimePoint now) {
    RollbackSummary summary;
    summary.outcome = std::string(to_string(deployment.state));
    std::vector<const AuditEvent*> ordered;
    for (const AuditEvent& event : events)
        ordered.push_back(&event);
    std::stable_sort(ordered.begin(), ordered.end(),
                     [](const AuditEvent* a, const AuditEvent* b) { return a->sequence < b->sequence; });
    bool succeeded = false; // (a plain flag: GCC 12 sees an optional<TimePoint> as maybe uninitialized)
    TimePoint succeeded_at{};
    bool effective = false, ineffective = false;
    for (const AuditEvent* event : ordered) {
        if (event->event == to_string(AuditEventKind::rollback_started)) {
            summary.started = event->time;
            summary.ended.reset();
            succeeded = false;
            summary.alertname = event->alertname;
            const DetailFields detail = decode_detail(event->detail);
            auto annotation = [&](const char* name) {
                auto it = detail.annotations.find(name);
                return it == detail.annotations.end() ? std::string() : it->second;
            };
            summary.summary = annotation("summary");
            if (summary.summary.empty()) summary.summary = annotation("description");
            summary.value = annotation("value");
            summary.labels = detail.labels;
            summary.labels.erase("alertname");
            summary.generator_url = detail.text_field("generatorURL");
            summary.compare_url = detail.text_field("compare_url");
            if (summary.alertname.empty()) {
                auto it = detail.labels.find("alertname");
                if (it != detail.labels.end()) summary.alertname = it->second;
            }
        } else if (event->event == to_string(AuditEventKind::rollback_succeeded)) {
            summary.ended = event->time;
            succeeded = true;
            succeeded_at = event->time;
        } else if (event->event == to_string(AuditEventKind::rollback_failed) ||
                   event->event == to_string(AuditEventKind::rollback_interrupted)) {
            summary.ended = event->time;
        } else if (event->event == to_string(AuditEventKind::rollback_effective)) {
            effective = true;
        } else if (event->event == to_string(AuditEventKind::rollback_ineffective)) {
            ineffective = true;
        }
    }
    if (ineffective)
        summary.verdict = RollbackVerdict::not_fixed;
    else if (effective)
        summary.verdict = RollbackVerdict::fixed;
    else if (succeeded && deployment.confirm_window.count() > 0 &&
             now < succeeded_at + deployment.confirm_window)
        summary.verdict = RollbackVerdict::checking;
    return summary;
}

std::string render_status_page(const StatusPage& page) {
    const std::string title =
        page.service_filter.empty() ? "rollback-receiver" : page.service_filter + " — rollback-receiver";
    std::string html = page_head(title, true) + "<body>\n" + header(page.now) + filter_form(page);
    if (!page.service_filter.empty())
        html += "<p class=\"muted\" id=\"filter\">Only service <strong>" + html_escape(page.service_filter) +
                "</strong>.</p>\n";

    html += "<section id=\"watching-section\"><h2>Under watch (" + std::to_string(page.watching.size()) +
            ")</h2>\n";
    html += table("watching", kWatchingHeadings, watching_rows(page.watching, page.now),
                  "No deployment is under watch.");
    html += "</section>\n";

    std::string rollback_rows;
    for (const PageRollback& rollback : page.rollbacks)
        rollback_rows += rollback_row(rollback, page.now);
    html += "<section id=\"rollbacks-section\"><h2>Recent rollbacks</h2>\n";
    html += table("rollbacks", kRollbackHeadings, rollback_rows, "No rollback yet.");
    html += "</section>\n";

    html += "<section id=\"pauses-section\"><h2>Paused services (" + std::to_string(page.pauses.size()) +
            ")</h2>\n";
    html += table("pauses", kPauseHeadings, pause_rows(page.pauses, page.now),
                  "No service is paused: rollbacks are automatic.");
    html += "</section>\n";

    html += "<section id=\"trail-section\"><h2>Recent trail</h2>\n";
    html += table("trail", kTrailHeadings, trail_rows(page.trail, page.now, false), "The trail is empty.");
    html += "</section>\n</body>\n</html>\n";
    return html;
}

std::optional<ChartQuery> plan_deployment_chart(const PageDeployment& deployment,
                                                const std::vector<AuditEvent>& events, TimePoint now) {
    const AuditEvent* first = nullptr;
    for (const AuditEvent& event : events)
        if (event.event == to_string(AuditEventKind::rollback_started) &&
            (first == nullptr || event.sequence < first->sequence))
            first = &event;
    if (first == nullptr) return std::nullopt;
    const DetailFields detail = decode_detail(first->detail);
    auto expression = query_parameter(detail.text_field("generatorURL"), "g0.expr", kMaxChartExpressionBytes);
    if (!expression || trim(*expression).empty()) return std::nullopt;
    const RollbackSummary summary = summarize_rollback(deployment, events, now);
    ChartQuery query;
    query.expression = std::move(*expression);
    query.start = deployment.deployment.deployed_at - kChartMargin;
    query.end = std::min(summary.ended ? *summary.ended + kChartMargin : now, now);
    if (query.end <= query.start) return std::nullopt;
    query.step = chart_step(query.start, query.end);
    query.markers.push_back({"deployed", deployment.deployment.deployed_at});
    if (auto starts = parse_rfc3339(detail.text_field("startsAt")); starts && !is_zero_time(*starts))
        query.markers.push_back({"alert fired", *starts});
    if (summary.started) query.markers.push_back({"rollback started", *summary.started});
    if (summary.ended) query.markers.push_back({"rollback ended", *summary.ended});
    return query;
}

std::string render_deployment_page(const DeploymentPage& page) {
    const Deployment& deployment = page.deployment.deployment;
    std::string html =
        page_head(deployment.id + " — rollback-receiver", true) + "<body>\n" + header(page.now);
    html += "<h2>Deployment <code>" + html_escape(deployment.id) + "</code></h2>\n<dl id=\"deployment\">\n";
    auto field = [&](std::string_view name, const std::string& value_html) {
        if (!value_html.empty()) html += "<dt>" + std::string(name) + "</dt><dd>" + value_html + "</dd>\n";
    };
    field("service", "<a href=\"/?service=" + html_escape(percent_encode(deployment.service)) + "\">" +
                         html_escape(deployment.service) + "</a>");
    field("environment", html_escape(deployment.environment));
    field("state", state_badge(page.deployment.state));
    field("version", version_was(deployment.version, deployment.previous_version));
    field("kind", std::string(to_string(deployment.kind)));
    if (!deployment.rollback_of.empty()) field("rollback of", deployment_link(deployment.rollback_of));
    for (const AuditEvent& event : page.events) // the deployment that put previous_version live again
        if (event.event == to_string(AuditEventKind::rollback_succeeded))
            field("restored by",
                  deployment_link(decode_detail(event.detail).text_field("rollback_deployment_id")));
    field("deployed", time_cell(deployment.deployed_at, page.now));
    field("recorded", time_cell(deployment.recorded_at, page.now));
    if (page.deployment.state == DeploymentState::watching) {
        const TimePoint end = deployment.deployed_at + page.deployment.watch_window;
        const auto left = std::chrono::duration_cast<Duration>(end - page.now);
        field("window",
              (left.count() > 0 ? html_escape(human_duration(left)) + " left" : std::string("ending")) +
                  ", until " + format_rfc3339_ms(end));
    }
    field("commit", deployment.commit.empty() ? "" : "<code>" + html_escape(deployment.commit) + "</code>");
    field("url", link_or_text(deployment.url, deployment.url));
    field("by", html_escape(deployment.actor));
    html += "</dl>\n";

    const bool rolled = std::any_of(page.events.begin(), page.events.end(), [](const AuditEvent& event) {
        return event.event == to_string(AuditEventKind::rollback_started);
    });
    if (rolled) {
        html += "<h2>Rollback</h2>\n";
        html +=
            table("rollbacks", kRollbackHeadings, rollback_row({page.deployment, page.events}, page.now), "");
    }
    if (page.chart || !page.chart_problem.empty()) {
        html += "<section id=\"chart-section\"><h2>The alert's expression</h2>\n";
        if (page.chart) html += render_chart(*page.chart);
        if (!page.chart_problem.empty())
            html += "<p id=\"chart-problem\">" + html_escape(page.chart_problem) + "</p>\n";
        html += "</section>\n";
    }

    std::vector<AuditEvent> oldest_first = page.events;
    std::stable_sort(oldest_first.begin(), oldest_first.end(),
                     [](const AuditEvent& a, const AuditEvent& b) { return a.sequence < b.sequence; });
    html += "<h2>Trail (" + std::to_string(oldest_first.size()) + " events, oldest first)</h2>\n";
    html += table("trail", kTrailHeadings, trail_rows(oldest_first, page.now, true), "No event yet.");
    html += "</body>\n</html>\n";
    return html;
}

std::string render_message_page(std::string_view title, std::string_view message) {
    return page_head(std::string(title) + " — rollback-receiver", false) +
           "<body>\n<header><h1><a href=\"/\">rollback-receiver</a></h1></header>\n<h2>" +
           html_escape(title) + "</h2>\n<p id=\"message\">" + html_escape(message) +
           "</p>\n</body>\n</html>\n";
}

} // namespace rollback
