// The rollback decision rules, in the order an on-call engineer reads them in the README.
#include "engine/decision.hpp"

namespace rollback {

std::string_view to_string(Verdict verdict) {
    switch (verdict) {
    case Verdict::act:
        return "act";
    case Verdict::dry_run:
        return "dry_run";
    case Verdict::ignore:
        return "ignore";
    }
    return "ignore";
}

Decision decide(const DecisionInput& input) {
    auto ignore = [](std::string_view why) { return Decision{Verdict::ignore, why}; };
    if (!input.alert.firing()) return ignore(reason::resolved);
    if (input.service.empty()) return ignore(reason::no_service_label);
    if (!input.target) return ignore(reason::no_deployment);
    const Deployment& target = *input.target;
    if (input.now - target.deployed_at > input.settings.watch_window) return ignore(reason::outside_window);
    if (input.alert.starts_at < target.deployed_at) return ignore(reason::predates_deployment);
    switch (target.state) {
    case DeploymentState::rolling_back:
    case DeploymentState::rolled_back:
    case DeploymentState::rollback_failed:
    case DeploymentState::rollback_interrupted:
        return ignore(reason::already_handled);
    case DeploymentState::superseded:
        return ignore(reason::superseded);
    case DeploymentState::watching:
    case DeploymentState::healthy:
        break;
    }
    if (target.kind == DeploymentKind::rollback) return ignore(reason::rollback_of_rollback);
    if (input.paused) return ignore(reason::paused);
    if (target.previous_version.empty()) return ignore(reason::no_previous_version);
    if (!input.settings.rollback.has_action()) return ignore(reason::no_action);
    if (input.dry_run) return Decision{Verdict::dry_run, {}};
    return Decision{Verdict::act, {}};
}

DeploymentState effective_state(const Deployment& deployment, Duration watch_window, TimePoint now) {
    if (deployment.state == DeploymentState::watching && now - deployment.deployed_at > watch_window)
        return DeploymentState::healthy;
    return deployment.state;
}

} // namespace rollback
