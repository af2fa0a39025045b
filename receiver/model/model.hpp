// The domain types shared by every module: deployments, alerts, notifications, audit events.
#pragma once

#include "common/time_util.hpp"

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace rollback {

// What the ledger stores for a deployment. `healthy` is never stored: it is derived when a `watching`
// deployment is older than its service's watch window (see effective_state in decision.hpp).
enum class DeploymentState {
    watching,
    healthy,
    superseded,
    rolling_back,
    rolled_back,
    rollback_failed,
    rollback_interrupted,
};
std::string_view to_string(DeploymentState state);
std::optional<DeploymentState> parse_deployment_state(std::string_view text);

// `deploy`: recorded by CI. `rollback`: recorded by the receiver when a rollback put previous_version live.
enum class DeploymentKind { deploy, rollback };
std::string_view to_string(DeploymentKind kind);
std::optional<DeploymentKind> parse_deployment_kind(std::string_view text);

// A deployment as CI sends it to POST /api/v1/deployments, already validated. Optional fields that
// were left out are empty strings / nullopt, so that a retry can be compared with the original.
struct DeploymentRequest {
    std::string id; // empty: the ledger assigns one
    std::string service;
    std::string version;
    std::string previous_version;         // empty: the ledger fills in the service's previous version
    std::string environment;              // empty: none
    std::optional<TimePoint> deployed_at; // nullopt: the time the request arrived
    std::string commit;
    std::string url;
    std::string actor;
};

struct Deployment {
    std::string id;
    std::string service;
    std::string environment; // empty: none
    std::string version;
    std::string previous_version; // empty: unknown
    TimePoint deployed_at{};
    TimePoint recorded_at{};
    std::string commit;
    std::string url;
    std::string actor;
    DeploymentKind kind = DeploymentKind::deploy;
    DeploymentState state = DeploymentState::watching;
    std::string rollback_of; // kind rollback: the id of the deployment that was rolled back
};

// One alert of an Alertmanager notification (payload version 4).
struct Alert {
    std::string status; // "firing" or "resolved"
    std::map<std::string, std::string> labels;
    std::map<std::string, std::string> annotations;
    TimePoint starts_at{};
    TimePoint ends_at{};
    std::string generator_url;
    std::string fingerprint;

    bool firing() const { return status == "firing"; }
    std::string label(const std::string& name) const {
        auto it = labels.find(name);
        return it == labels.end() ? std::string() : it->second;
    }
    std::string annotation(const std::string& name) const {
        auto it = annotations.find(name);
        return it == annotations.end() ? std::string() : it->second;
    }
    bool operator==(const Alert&) const = default;
};

struct Notification {
    std::string receiver;
    std::string status;
    std::vector<Alert> alerts;
    std::map<std::string, std::string> group_labels;
    std::map<std::string, std::string> common_labels;
    std::map<std::string, std::string> common_annotations;
    std::string external_url;
    std::string version;
    std::string group_key;
    long truncated_alerts = 0;

    bool operator==(const Notification&) const = default;
};

// A freeze of automatic rollbacks for one service (rollbackctl pause). Manual rollbacks still run.
struct ServicePause {
    std::string service;
    std::string reason;
    std::string actor;
    TimePoint paused_at{};
    std::optional<TimePoint> until; // nullopt: until resumed

    bool active_at(TimePoint now) const { return !until || now < *until; }
};

// The audit trail's event names: one table (model.cpp), used by everything that writes an event.
enum class AuditEventKind {
    deployment_recorded,
    deployment_superseded,
    alert_ignored,
    rollback_pending,
    rollback_cancelled,
    rollback_dry_run,
    rollback_started,
    rollback_attempt_failed,
    rollback_succeeded,
    rollback_failed,
    rollback_interrupted,
    rollback_effective,   // closing the loop: every alert that caused the rollback resolved in confirm_window
    rollback_ineffective, // closing the loop: an alert that caused it still fired when confirm_window ended
    service_paused,
    service_resumed,
};
std::string_view to_string(AuditEventKind kind);

// One line of the audit trail. `detail` is a JSON object as text ("{}" when there is nothing more):
// the alert's labels and annotations, the command's exit status and output, and so on.
struct AuditEvent {
    long long sequence = 0; // assigned by the ledger, increasing
    TimePoint time{};
    std::string event;
    std::string service;
    std::string environment;
    std::string deployment_id;
    std::string version;
    std::string previous_version;
    std::string alertname;
    std::string fingerprint;
    std::string reason;
    std::string detail = "{}";
    std::string instance; // the receiver that wrote it (config `instance`); the ledger fills it in
};

// An event of `kind` at `time` about `deployment`: its service, environment, id and versions filled in.
AuditEvent audit_event_about(AuditEventKind kind, const Deployment& deployment, TimePoint time);

} // namespace rollback
