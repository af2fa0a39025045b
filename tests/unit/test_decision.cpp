// Every rule of decide() as a table row, plus effective_state.
#include "engine/decision.hpp"

#include <doctest/doctest.h>

#include <vector>

using namespace rollback;
using namespace std::chrono_literals;

namespace {

const TimePoint kDeployedAt = TimePoint{} + std::chrono::hours(24 * 20000);

Alert firing_alert(TimePoint starts_at) {
    Alert alert;
    alert.status = "firing";
    alert.labels = {{"alertname", "HighErrorRate"}, {"service", "checkout"}};
    alert.starts_at = starts_at;
    alert.fingerprint = "abc";
    return alert;
}

Deployment deployment(DeploymentState state = DeploymentState::watching,
                      DeploymentKind kind = DeploymentKind::deploy, std::string previous_version = "v1") {
    Deployment d;
    d.id = "d1";
    d.service = "checkout";
    d.version = "v2";
    d.previous_version = std::move(previous_version);
    d.deployed_at = kDeployedAt;
    d.state = state;
    d.kind = kind;
    return d;
}

ServiceSettings settings_with_action(bool with_action = true) {
    ServiceSettings settings;
    settings.watch_window = 30min;
    if (with_action) settings.rollback.command = {"/bin/true"};
    return settings;
}

struct Row {
    const char* name;
    std::string status = "firing";
    std::string service = "checkout";
    std::optional<Deployment> target = deployment();
    Duration alert_after_deploy = 2min; // startsAt - deployed_at
    Duration now_after_deploy = 3min;   // now - deployed_at
    bool with_action = true;
    bool dry_run = false;
    bool paused = false;
    Verdict verdict = Verdict::act;
    std::string_view reason = {};
};

} // namespace

TEST_CASE("decide: one row per rule, first match wins") {
    using S = DeploymentState;
    using K = DeploymentKind;
    const std::vector<Row> rows{
        {.name = "fresh deployment, alert after it: act"},
        {.name = "resolved alert never acts",
         .status = "resolved",
         .verdict = Verdict::ignore,
         .reason = reason::resolved},
        {.name = "no service label",
         .service = "",
         .verdict = Verdict::ignore,
         .reason = reason::no_service_label},
        {.name = "no deployment",
         .target = std::nullopt,
         .verdict = Verdict::ignore,
         .reason = reason::no_deployment},
        {.name = "older than the watch window",
         .now_after_deploy = 31min,
         .verdict = Verdict::ignore,
         .reason = reason::outside_window},
        {.name = "exactly at the end of the window still counts", .now_after_deploy = 30min},
        {.name = "alert started before the deployment",
         .alert_after_deploy = -1s,
         .verdict = Verdict::ignore,
         .reason = reason::predates_deployment},
        {.name = "alert started at the deployment instant counts", .alert_after_deploy = 0s},
        {.name = "rolling back",
         .target = deployment(S::rolling_back),
         .verdict = Verdict::ignore,
         .reason = reason::already_handled},
        {.name = "rolled back",
         .target = deployment(S::rolled_back),
         .verdict = Verdict::ignore,
         .reason = reason::already_handled},
        {.name = "rollback failed",
         .target = deployment(S::rollback_failed),
         .verdict = Verdict::ignore,
         .reason = reason::already_handled},
        {.name = "rollback interrupted",
         .target = deployment(S::rollback_interrupted),
         .verdict = Verdict::ignore,
         .reason = reason::already_handled},
        {.name = "superseded",
         .target = deployment(S::superseded),
         .verdict = Verdict::ignore,
         .reason = reason::superseded},
        {.name = "never roll back a rollback",
         .target = deployment(S::watching, K::rollback),
         .verdict = Verdict::ignore,
         .reason = reason::rollback_of_rollback},
        {.name = "paused service", .paused = true, .verdict = Verdict::ignore, .reason = reason::paused},
        {.name = "no previous version",
         .target = deployment(S::watching, K::deploy, ""),
         .verdict = Verdict::ignore,
         .reason = reason::no_previous_version},
        {.name = "no action configured",
         .with_action = false,
         .verdict = Verdict::ignore,
         .reason = reason::no_action},
        {.name = "dry run", .dry_run = true, .verdict = Verdict::dry_run},
        {.name = "already handled wins over dry run",
         .target = deployment(S::rolled_back),
         .dry_run = true,
         .verdict = Verdict::ignore,
         .reason = reason::already_handled},
        {.name = "outside window wins over predates",
         .alert_after_deploy = -1s,
         .now_after_deploy = 31min,
         .verdict = Verdict::ignore,
         .reason = reason::outside_window},
        {.name = "predates wins over rollback of rollback",
         .target = deployment(S::watching, K::rollback),
         .alert_after_deploy = -1s,
         .verdict = Verdict::ignore,
         .reason = reason::predates_deployment},
    };
    for (const Row& row : rows) {
        CAPTURE(row.name);
        Alert alert = firing_alert(kDeployedAt + row.alert_after_deploy);
        alert.status = row.status;
        const ServiceSettings settings = settings_with_action(row.with_action);
        const Decision decision = decide({alert, row.service, row.target, settings,
                                          kDeployedAt + row.now_after_deploy, row.dry_run, row.paused});
        CHECK(to_string(decision.verdict) == to_string(row.verdict));
        CHECK(decision.reason == row.reason);
    }
}

TEST_CASE("effective_state: watching turns healthy after the window, other states stay") {
    const Duration window = 15min;
    CHECK(effective_state(deployment(), window, kDeployedAt + 14min) == DeploymentState::watching);
    CHECK(effective_state(deployment(), window, kDeployedAt + 16min) == DeploymentState::healthy);
    CHECK(effective_state(deployment(DeploymentState::rolled_back), window, kDeployedAt + 16min) ==
          DeploymentState::rolled_back);
    CHECK(effective_state(deployment(DeploymentState::superseded), window, kDeployedAt + 1min) ==
          DeploymentState::superseded);
}
