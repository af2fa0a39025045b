// The daemon's JSON codecs: Alertmanager's webhook payload, the deployment API, audit events (nlohmann_json).
#pragma once

#include "common/result.hpp"
#include "config/config.hpp"
#include "model/model.hpp"

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace rollback {

// What a webhook body may hold, so that no value from outside grows the receiver's memory or the values it
// puts into actions without bound (the body itself is at most 1 MiB). Past one of them parse_webhook fails,
// naming the field and the limit (the webhook answers 400).
inline constexpr std::size_t kMaxWebhookFingerprint = 64;            // [0-9a-f]; Alertmanager sends 16
inline constexpr std::size_t kMaxWebhookMapEntries = 256;            // labels or annotations of one object
inline constexpr std::size_t kMaxWebhookName = 1024;                 // a label or annotation name, in bytes
inline constexpr std::size_t kMaxWebhookLabelValue = 4 * 1024;       // a label value, in bytes
inline constexpr std::size_t kMaxWebhookAnnotationValue = 16 * 1024; // an annotation value, in bytes
// The alerts of one notification (check_notification_size; the webhook answers 413).
inline constexpr std::size_t kMaxWebhookAlerts = 1000;

// The longest id, service name, version or other short text field of a deployment request, in bytes; the
// API holds a path's {id} (a deployment id, a service name) to it too.
inline constexpr std::size_t kMaxDeploymentFieldBytes = 200;

// Alertmanager webhook payload version "4". Errors name the field: "alerts[1].startsAt: ...".
// A missing fingerprint (hand-written payloads) is computed from the labels, as Alertmanager does.
// Label sets (labels, groupLabels, commonLabels) and annotations (annotations, commonAnnotations) are
// checked against the limits above, and a fingerprint too.
// Reads the body in one pass (read_webhook_streaming); a body that pass does not take goes to
// parse_webhook_document, which gives the notification or the error.
Result<Notification> parse_webhook(std::string_view body);

// The two readers behind parse_webhook, which follow one table of the fields (codec.cpp kWebhookFields);
// tests and the webhook fuzz target check that they agree. parse_webhook_document parses the body into a
// JSON document, then reads it: the reference, with the errors. read_webhook_streaming reads while it
// parses, without a document, and gives up (nullopt) on every body the other rejects or may read otherwise.
Result<Notification> parse_webhook_document(std::string_view body);
std::optional<Notification> read_webhook_streaming(std::string_view body);

// A notification of more than kMaxWebhookAlerts alerts is refused as too large (413); the error names the
// limit and Alertmanager's max_alerts.
Status check_notification_size(const Notification& notification);

// Body of POST /api/v1/deployments. `service` and `version` are required; unknown fields are errors.
Result<DeploymentRequest> parse_deployment_request(std::string_view body);

// A canonical text of the fields a request carried, for telling a retry (same key) from a conflict.
std::string deployment_request_key(const DeploymentRequest& request);

// {"error": message}
std::string encode_error(std::string_view message);

// One deployment as the API shows it; `state` is the effective state (healthy derived by the caller).
std::string encode_deployment(const Deployment& deployment, DeploymentState state);
// {"deployments": [...]}; states[i] is the effective state of deployments[i].
std::string encode_deployment_list(const std::vector<Deployment>& deployments,
                                   const std::vector<DeploymentState>& states);

// One audit event as a JSON object on one line (also the audit.file format).
std::string encode_audit_event(const AuditEvent& event);
// {"events": [...]}
std::string encode_audit_list(const std::vector<AuditEvent>& events);

// The `detail` object of an audit event: the alert (labels, annotations, generatorURL, startsAt) when
// given, then text and number fields in order.
struct AuditDetail {
    const Alert* alert = nullptr;
    std::vector<std::pair<std::string, std::string>> text;
    std::vector<std::pair<std::string, long long>> numbers;
};
std::string encode_detail(const AuditDetail& detail);

// An audit event's `detail` read back for a person (the on-call page): the alert's labels and annotations,
// every other top-level string (generatorURL, compare_url, result, output, ...) and whole number
// (duration_ms, attempts, ...). Values of other types are left out; a detail that is not a JSON object
// reads as empty (the trail is shown as it is, never refused).
struct DetailFields {
    std::map<std::string, std::string> labels;
    std::map<std::string, std::string> annotations;
    std::map<std::string, std::string> text;
    std::map<std::string, long long> numbers;

    std::string text_field(const std::string& name) const {
        auto it = text.find(name);
        return it == text.end() ? std::string() : it->second;
    }
};
DetailFields decode_detail(std::string_view detail);

// Body of POST /api/v1/services/{service}/pause: {"reason"?, "for"? (a duration), "actor"?}.
struct PauseRequest {
    std::string reason;
    std::optional<Duration> duration; // nullopt: until resumed
    std::string actor;
};
Result<PauseRequest> parse_pause_request(std::string_view body);

// Body of POST /api/v1/deployments/{id}/rollback: {"reason" (required), "actor"?}.
struct ManualRollbackRequest {
    std::string reason;
    std::string actor;
};
Result<ManualRollbackRequest> parse_manual_rollback_request(std::string_view body);

// {"service", "paused": true, "reason", "actor", "paused_at", "until" ("" when none)}
std::string encode_pause(const ServicePause& pause);
// {"services": [pause, ...]}
std::string encode_pause_list(const std::vector<ServicePause>& pauses);
// {"status": "started", "deployment": {...}}
std::string encode_rollback_started(const Deployment& deployment, DeploymentState state);

// --- outgoing calls (webhook and github_workflow actions, notifications) ---

// The template as JSON text, every string with its {{placeholders}} replaced by `values`.
std::string encode_template(const TemplateValue& value, const std::map<std::string, std::string>& values);
// GitHub's workflow_dispatch body: {"ref": ref, "inputs": {name: value, ...}}.
std::string encode_workflow_dispatch(std::string_view ref,
                                     const std::vector<std::pair<std::string, std::string>>& inputs);
// A Slack-compatible incoming-webhook message: {"text": text}.
std::string encode_chat_message(std::string_view text);
// The "message" of an error body from the GitHub API ({"message": ..., "documentation_url": ...}), or the
// body itself cut to 300 bytes when it is not such JSON.
std::string github_error_message(std::string_view body);

// --- Prometheus (the deployment page's chart) ---

// One series of a range query's answer: its labels and its samples, (Unix time in seconds, value), with
// NaN and +-Inf as Prometheus sent them.
struct PrometheusRangeSeries {
    std::map<std::string, std::string> metric;
    std::vector<std::pair<double, double>> values;
};
struct PrometheusRange {
    std::vector<PrometheusRangeSeries> series; // the first `max_series` of the answer
    std::size_t total_series = 0;              // how many the answer held
};
// The body of GET /api/v1/query_range: {"status": "success", "data": {"resultType": "matrix", "result":
// [{"metric": {...}, "values": [[<time>, "<value>"], ...]}, ...]}}. An error answer ({"status": "error",
// "errorType", "error"}) or anything else is an error for a person, one line, naming what was wrong.
Result<PrometheusRange> parse_prometheus_range(std::string_view body, std::size_t max_series);

// `text` as a JSON string literal with quotes, invalid UTF-8 replaced (for log lines).
std::string json_quote(std::string_view text);

} // namespace rollback
