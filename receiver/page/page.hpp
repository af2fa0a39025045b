// The on-call page as pure functions: plain data (deployments, the trail, pauses, now) in, HTML out.
#pragma once

#include "common/time_util.hpp"
#include "model/model.hpp"
#include "page/chart.hpp"

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace rollback {

// The closing-the-loop window the page assumes when it is not told one (the contract's default): a
// succeeded rollback without a verdict is "checking" this long after it succeeded, then "—".
inline constexpr Duration kDefaultConfirmWindow = std::chrono::minutes(10);

// The one escaping of the page: text and attribute values alike (& < > " '), so that anything from outside
// (labels, annotations, versions, reasons, ids, details) reads as the text it is.
std::string html_escape(std::string_view text);

// Whether `url` may be a link's href: an http:// or https:// URL with a host and no space, control
// character or fragment (common/url's parse_http_url). Anything else (javascript:, data:, relative paths)
// is shown as text, never linked.
bool is_http_link(std::string_view url);

// How long ago (or ahead) `time` is, for a person: "just now", "40 s ago", "4 min ago", "1 h 59 min ago"
// (minutes shown below 10 h), "14 h ago", "2 d ago"; "in 12 min" for a time after now.
std::string relative_time(TimePoint time, TimePoint now);

// A span of time for a person: "850 ms", "12 s", "4 min 5 s", "2 h 10 min", "3 d 4 h".
std::string human_duration(Duration duration);

// One deployment with what the page needs from the config and the clock.
struct PageDeployment {
    Deployment deployment;
    DeploymentState state = DeploymentState::watching; // the effective state (healthy derived)
    Duration watch_window{};                           // the service's watch_window
    Duration confirm_window = kDefaultConfirmWindow;   // the service's confirm_window
};

// Whether a rollback fixed what it was for (the closing-the-loop events).
enum class RollbackVerdict {
    fixed,     // rollback_effective
    not_fixed, // rollback_ineffective
    checking,  // succeeded, no verdict yet, within confirm_window
    none,      // failed, interrupted, still running, or no verdict came
};

// One rollback as the page shows it, read from the deployment and its events.
struct RollbackSummary {
    std::string alertname;
    std::string summary;                       // annotation summary (else description)
    std::string value;                         // annotation value
    std::map<std::string, std::string> labels; // the alert's labels but alertname
    std::string generator_url;
    std::string compare_url;
    std::string outcome; // the deployment's state: rolling_back, rolled_back, rollback_failed, ...
    std::optional<TimePoint> started;
    std::optional<TimePoint> ended;
    RollbackVerdict verdict = RollbackVerdict::none;
};
// `events`: the deployment's audit events, in any order.
RollbackSummary summarize_rollback(const PageDeployment& deployment, const std::vector<AuditEvent>& events,
                                   TimePoint now);

// A rolled-back (or failed, interrupted, rolling back) deployment with its events.
struct PageRollback {
    PageDeployment deployment;
    std::vector<AuditEvent> events;
};

struct StatusPage {
    TimePoint now{};
    std::string service_filter;           // "" : every service
    std::vector<std::string> services;    // the filter's choices, sorted
    std::vector<PageDeployment> watching; // state watching, newest first
    std::vector<PageRollback> rollbacks;  // newest first
    std::vector<ServicePause> pauses;     // active at `now`
    std::vector<AuditEvent> trail;        // newest first
};
// GET /: under watch, recent rollbacks, paused services, the recent trail.
std::string render_status_page(const StatusPage& page);

// What the deployment page's chart asks Prometheus: the expression of the alert of the deployment's first
// rollback_started (g0.expr of its generatorURL, at most kMaxChartExpressionBytes), from kChartMargin
// before the deployment to kChartMargin after the rollback's end (now while it runs; never past now), and
// the markers: deployed, the alert's startsAt, the rollback's start and end.
struct ChartQuery {
    std::string expression;
    TimePoint start{};
    TimePoint end{};
    Duration step{};
    std::vector<ChartMarker> markers;
};
// nullopt: nothing to chart (no rollback_started, no g0.expr in its generatorURL, or an empty window).
std::optional<ChartQuery> plan_deployment_chart(const PageDeployment& deployment,
                                                const std::vector<AuditEvent>& events, TimePoint now);

struct DeploymentPage {
    TimePoint now{};
    PageDeployment deployment;
    std::vector<AuditEvent> events; // the deployment's whole trail, in any order (shown oldest first)
    std::optional<ChartData> chart; // drawn under the rollback
    std::string chart_problem;      // one line instead of the chart: why there is none (text)
};
// GET /deployments/{id}: the deployment's fields, its rollback when it had one, and its whole trail.
std::string render_deployment_page(const DeploymentPage& page);

// A page that only says what is wrong (404 unknown deployment, 401, 503): `title` and `message` are text.
std::string render_message_page(std::string_view title, std::string_view message);

} // namespace rollback
