// The rollback decision: a pure function of alert, target deployment, settings and time (no I/O).
#pragma once

#include "config/config.hpp"
#include "model/model.hpp"

#include <optional>
#include <string>
#include <string_view>

namespace rollback {

enum class Verdict {
    act,     // start (or, with a debounce, schedule) the rollback of the target
    dry_run, // would act, but the daemon runs with --dry-run
    ignore,  // do nothing; `reason` says why
};
std::string_view to_string(Verdict verdict);

// Reasons, as they appear in the audit trail and in metrics.
namespace reason {
inline constexpr std::string_view resolved = "resolved";
inline constexpr std::string_view no_service_label = "no_service_label";
inline constexpr std::string_view no_deployment = "no_deployment";
inline constexpr std::string_view outside_window = "outside_window";
inline constexpr std::string_view predates_deployment = "predates_deployment";
inline constexpr std::string_view already_handled = "already_handled";
inline constexpr std::string_view superseded = "superseded";
inline constexpr std::string_view rollback_of_rollback = "rollback_of_rollback";
inline constexpr std::string_view paused = "paused";
inline constexpr std::string_view no_previous_version = "no_previous_version";
inline constexpr std::string_view no_action = "no_action";
// Not decide()'s: the engine's check before the claim (actions.hpp check_action_input) refused a value the
// alert or the deployment would put into the action.
inline constexpr std::string_view unsafe_input = "unsafe_input";
} // namespace reason

struct Decision {
    Verdict verdict = Verdict::ignore;
    std::string_view reason; // empty for act and dry_run
};

struct DecisionInput {
    const Alert& alert;
    const std::string& service;              // the value of the configured service label ("" if absent)
    const std::optional<Deployment>& target; // the latest deployment of that service (and environment)
    const ServiceSettings& settings;
    TimePoint now;
    bool dry_run = false;
    bool paused = false;
};

// The rules, first match wins: resolved, no_service_label, no_deployment, outside_window,
// predates_deployment, already_handled, superseded, rollback_of_rollback, paused, no_previous_version,
// no_action; then dry_run or act.
Decision decide(const DecisionInput& input);

// The state the API shows: a `watching` deployment past its watch window is `healthy`.
DeploymentState effective_state(const Deployment& deployment, Duration watch_window, TimePoint now);

} // namespace rollback
