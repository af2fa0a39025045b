// rollbackctl's output for a person: aligned tables of deployments and audit events, ages and durations.
#pragma once

#include "common/time_util.hpp"
#include "ctl/json.hpp"
#include "model/model.hpp"

#include <map>
#include <string>
#include <vector>

namespace rollback {

// Ages for tables: "45s", "3m", "5h", "2d" (the largest whole unit; under 0 is "0s").
std::string format_age(Duration age);
// Go's time.Duration form that CI logs know: "5m0s", "45s", "1.5s", "200ms", "1h0m0s".
std::string format_go_duration(Duration duration);

// Columns separated by two spaces, every column but the last padded; control characters become spaces.
std::string format_table(const std::vector<std::string>& header,
                         const std::vector<std::vector<std::string>>& rows);

// The deployments table: ID SERVICE ENV VERSION PREVIOUS AGE STATE. A watching deployment of a paused
// service reads "watching (paused)"; a rollback deployment "... (rollback of <id>)"; a rolled-back one
// with a verdict in `outcomes` (deployment id -> "effective" or "ineffective", from the audit trail)
// "rolled_back (effective)". A footer line per paused service: "paused: checkout — <reason> (until <time>)".
std::string format_deployments_table(const std::vector<DeploymentListing>& deployments,
                                     const std::vector<PauseListing>& paused, TimePoint now,
                                     const std::map<std::string, std::string>& outcomes = {});

// Deployment id -> "effective" / "ineffective" from rollback_effective and rollback_ineffective events.
std::map<std::string, std::string> rollback_outcomes(const std::vector<AuditEvent>& events);

// The audit table for a person, in the order given: TIME EVENT SERVICE DEPLOYMENT VERSIONS REASON SUMMARY.
// VERSIONS reads "v2 -> v1"; SUMMARY is "<alertname>: <summary>" when the event came from an alert (the
// summary is detail.annotations.summary); a rollback_started with a compare_url adds "(changes: <url>)".
std::string format_audit_table(const std::vector<AuditEvent>& events, bool with_header);

// Cells: control characters become spaces; "" reads "-"; versions read "v2 -> v1" (deployed -> previous).
std::string one_line(std::string text);
std::string or_dash(const std::string& text);
std::string versions_text(const std::string& version, const std::string& previous);

} // namespace rollback
