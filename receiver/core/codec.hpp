// JSON codecs: Alertmanager's webhook payload, the deployment API, audit events; the only nlohmann_json user.
#pragma once

#include "core/model.hpp"
#include "core/result.hpp"

#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace rollback {

// Alertmanager webhook payload version "4". Errors name the field: "alerts[1].startsAt: ...".
// A missing fingerprint (hand-written payloads) is computed from the labels, as Alertmanager does.
Result<Notification> parse_webhook(std::string_view body);

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

// `text` as a JSON string literal with quotes, invalid UTF-8 replaced (for log lines).
std::string json_quote(std::string_view text);

} // namespace rollback
