// Names of deployment states, kinds and audit events, as in the API, the ledger and the audit trail.
#include "model/model.hpp"

#include <array>
#include <utility>

namespace rollback {
namespace {

constexpr std::array<std::pair<DeploymentState, std::string_view>, 7> kStateNames{{
    {DeploymentState::watching, "watching"},
    {DeploymentState::healthy, "healthy"},
    {DeploymentState::superseded, "superseded"},
    {DeploymentState::rolling_back, "rolling_back"},
    {DeploymentState::rolled_back, "rolled_back"},
    {DeploymentState::rollback_failed, "rollback_failed"},
    {DeploymentState::rollback_interrupted, "rollback_interrupted"},
}};

constexpr std::array<std::pair<AuditEventKind, std::string_view>, 15> kEventNames{{
    {AuditEventKind::deployment_recorded, "deployment_recorded"},
    {AuditEventKind::deployment_superseded, "deployment_superseded"},
    {AuditEventKind::alert_ignored, "alert_ignored"},
    {AuditEventKind::rollback_pending, "rollback_pending"},
    {AuditEventKind::rollback_cancelled, "rollback_cancelled"},
    {AuditEventKind::rollback_dry_run, "rollback_dry_run"},
    {AuditEventKind::rollback_started, "rollback_started"},
    {AuditEventKind::rollback_attempt_failed, "rollback_attempt_failed"},
    {AuditEventKind::rollback_succeeded, "rollback_succeeded"},
    {AuditEventKind::rollback_failed, "rollback_failed"},
    {AuditEventKind::rollback_interrupted, "rollback_interrupted"},
    {AuditEventKind::rollback_effective, "rollback_effective"},
    {AuditEventKind::rollback_ineffective, "rollback_ineffective"},
    {AuditEventKind::service_paused, "service_paused"},
    {AuditEventKind::service_resumed, "service_resumed"},
}};

} // namespace

std::string_view to_string(DeploymentState state) {
    for (const auto& [value, name] : kStateNames)
        if (value == state) return name;
    return "unknown";
}

std::optional<DeploymentState> parse_deployment_state(std::string_view text) {
    for (const auto& [value, name] : kStateNames)
        if (name == text) return value;
    return std::nullopt;
}

std::string_view to_string(AuditEventKind kind) {
    for (const auto& [value, name] : kEventNames)
        if (value == kind) return name;
    return "unknown";
}

AuditEvent audit_event_about(AuditEventKind kind, const Deployment& deployment, TimePoint time) {
    AuditEvent event;
    event.time = time;
    event.event = std::string(to_string(kind));
    event.service = deployment.service;
    event.environment = deployment.environment;
    event.deployment_id = deployment.id;
    event.version = deployment.version;
    event.previous_version = deployment.previous_version;
    return event;
}

std::string_view to_string(DeploymentKind kind) {
    return kind == DeploymentKind::rollback ? "rollback" : "deploy";
}

std::optional<DeploymentKind> parse_deployment_kind(std::string_view text) {
    if (text == "deploy") return DeploymentKind::deploy;
    if (text == "rollback") return DeploymentKind::rollback;
    return std::nullopt;
}

} // namespace rollback
