// JSON codecs: Alertmanager's webhook payload, the deployment API, audit events; the only nlohmann_json user.
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

// Alertmanager webhook payload version "4". Errors name the field: "alerts[1].startsAt: ...".
// A missing fingerprint (hand-written payloads) is computed from the labels, as Alertmanager does.
// Reads the body in one pass (read_webhook_streaming); a body that pass does not take goes to
// parse_webhook_document, which gives the notification or the error.
Result<Notification> parse_webhook(std::string_view body);

// The two readers behind parse_webhook, which follow one table of the fields (codec.cpp kWebhookFields);
// tests and the webhook fuzz target check that they agree. parse_webhook_document parses the body into a
// JSON document, then reads it: the reference, with the errors. read_webhook_streaming reads while it
// parses, without a document, and gives up (nullopt) on every body the other rejects or may read otherwise.
Result<Notification> parse_webhook_document(std::string_view body);
std::optional<Notification> read_webhook_streaming(std::string_view body);

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

// `text` as a JSON string literal with quotes, invalid UTF-8 replaced (for log lines).
std::string json_quote(std::string_view text);

// --- rollbackctl ---
// What rollbackctl reads from the receiver's API and from Prometheus, as plain values. Readers are
// lenient about fields they do not need (a missing text field is ""), strict about the shape.

// One deployment as the API shows it (kind and state as the receiver spelled them).
struct DeploymentListing {
    std::string id;
    std::string service;
    std::string environment;
    std::string version;
    std::string previous_version;
    TimePoint deployed_at{};
    std::string kind;
    std::string state;
    std::string rollback_of;
};
// One deployment object.
Result<DeploymentListing> parse_deployment_document(std::string_view body);
// {"deployments": [...]}
Result<std::vector<DeploymentListing>> parse_deployment_list(std::string_view body);
// {"status": "started", "deployment": {...}}: the deployment being rolled back.
Result<DeploymentListing> parse_rollback_started(std::string_view body);

// One audit event; `summary` is detail.annotations.summary (the alert's summary) when there is one.
struct AuditListing {
    long long sequence = 0;
    TimePoint time{};
    std::string event;
    std::string service;
    std::string environment;
    std::string deployment_id;
    std::string version;
    std::string previous_version;
    std::string alertname;
    std::string reason;
    std::string summary;
};
// {"events": [...]}
Result<std::vector<AuditListing>> parse_audit_list(std::string_view body);
// {"events": [...]}: each event as one line of JSON, in the order given.
Result<std::vector<std::string>> audit_event_lines(std::string_view body);

// A service's pause, as POST /api/v1/services/{service}/pause|resume and GET /api/v1/services show it.
struct PauseListing {
    std::string service;
    bool paused = false;
    std::string reason;
    std::string paused_at; // RFC 3339
    std::string until;     // RFC 3339, "" for no end
};
Result<PauseListing> parse_service_pause(std::string_view body);
// {"services": [...]}
Result<std::vector<PauseListing>> parse_service_list(std::string_view body);

// The "error" text of an error body; for a body that is not {"error": "..."}, the body itself, shortened.
std::string error_message_from_body(std::string_view body);

// Bodies rollbackctl sends. Empty optional fields are left out.
std::string encode_deployment_request(const DeploymentRequest& request);
std::string encode_pause_request(std::string_view reason, std::string_view for_duration,
                                 std::string_view actor);
std::string encode_rollback_request(std::string_view reason, std::string_view actor);

// Prometheus GET /api/v1/query answer: the sample values of a "vector" result (one per series) or of a
// "scalar"; NaN and infinities are kept. {"status": "error"} gives an error with Prometheus' message.
Result<std::vector<double>> parse_prometheus_query_values(std::string_view body);

} // namespace rollback
