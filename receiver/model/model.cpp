// Names of deployment states and kinds as they appear in the API, the ledger and the audit trail.
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

std::string_view to_string(DeploymentKind kind) {
    return kind == DeploymentKind::rollback ? "rollback" : "deploy";
}

std::optional<DeploymentKind> parse_deployment_kind(std::string_view text) {
    if (text == "deploy") return DeploymentKind::deploy;
    if (text == "rollback") return DeploymentKind::rollback;
    return std::nullopt;
}

} // namespace rollback
