// rollbackctl's JSON: what it reads from the receiver's API and from Prometheus, and the bodies it sends.
#pragma once

#include "common/result.hpp"
#include "common/time_util.hpp"
#include "model/model.hpp"

#include <string>
#include <string_view>
#include <vector>

namespace rollback {

// Readers are lenient about fields they do not need (a missing text field is ""), strict about the shape.

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

// {"events": [...]}, in the order given; each event's `detail` is kept as its JSON text.
Result<std::vector<AuditEvent>> parse_audit_list(std::string_view body);
// {"events": [...]}: each event as one line of JSON, in the order given.
Result<std::vector<std::string>> audit_event_lines(std::string_view body);
// The alert's summary of an audit event (detail.annotations.summary), "" when there is none.
std::string alert_summary(const AuditEvent& event);
// A text field of an audit event's detail (rollback_started's "compare_url"), "" when there is none.
std::string detail_text(const AuditEvent& event, const std::string& key);

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

// Bodies rollbackctl sends. Empty optional fields are left out; object keys are sorted, so the deployment
// request's text is canonical.
std::string encode_deployment_request(const DeploymentRequest& request);
std::string encode_pause_request(std::string_view reason, std::string_view for_duration,
                                 std::string_view actor);
std::string encode_rollback_request(std::string_view reason, std::string_view actor);

// Prometheus GET /api/v1/query answer: the sample values of a "vector" result (one per series) or of a
// "scalar"; NaN and infinities are kept. {"status": "error"} gives an error with Prometheus' message.
Result<std::vector<double>> parse_prometheus_query_values(std::string_view body);

} // namespace rollback
