// The rules every ledger backend shares (ledger_rules.hpp): pure functions, no I/O.
#include "ledger/ledger_rules.hpp"

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdio>
#include <random>

namespace rollback::ledger_rules {

long long to_nanoseconds(TimePoint time) {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(time.time_since_epoch()).count();
}

TimePoint from_nanoseconds(long long nanoseconds) {
    return TimePoint(std::chrono::duration_cast<TimePoint::duration>(std::chrono::nanoseconds(nanoseconds)));
}

namespace {

// "20261126T123047Z": the UTC second of `time`, for generated ids.
std::string compact_utc(TimePoint time) {
    using namespace std::chrono;
    const auto seconds = floor<std::chrono::seconds>(time);
    const auto day = floor<days>(seconds);
    const year_month_day date(day);
    const hh_mm_ss clock(seconds - day);
    std::array<char, 32> text{};
    std::snprintf(text.data(), text.size(), "%04d%02u%02uT%02d%02d%02dZ", static_cast<int>(date.year()),
                  static_cast<unsigned>(date.month()), static_cast<unsigned>(date.day()),
                  static_cast<int>(clock.hours().count()), static_cast<int>(clock.minutes().count()),
                  static_cast<int>(clock.seconds().count()));
    return text.data();
}

} // namespace

std::string generated_id_prefix(const std::string& service, TimePoint now) {
    return service + "-" + compact_utc(now) + "-";
}

std::string generated_id(const std::string& prefix, unsigned suffix) {
    std::array<char, 8> hex{};
    std::snprintf(hex.data(), hex.size(), "%04x", suffix & 0xffffU);
    return prefix + hex.data();
}

Error no_free_generated_id(const std::string& prefix) {
    return make_error("no free id of the form " + prefix + "XXXX after " +
                      std::to_string(kGeneratedIdAttempts) + " attempts: send an explicit id");
}

Deployment deployment_from_request(const DeploymentRequest& request, std::string id, TimePoint now) {
    Deployment deployment;
    deployment.id = std::move(id);
    deployment.service = request.service;
    deployment.environment = request.environment;
    deployment.version = request.version;
    deployment.previous_version = request.previous_version;
    deployment.deployed_at = request.deployed_at.value_or(now);
    deployment.recorded_at = now;
    deployment.commit = request.commit;
    deployment.url = request.url;
    deployment.actor = request.actor;
    deployment.kind = DeploymentKind::deploy;
    deployment.state = DeploymentState::watching;
    return deployment;
}

std::string rollback_id(const std::string& id, int attempt) {
    return attempt == 0 ? id + "-rollback" : id + "-rollback-" + std::to_string(attempt + 1);
}

Deployment rollback_deployment(const Deployment& original, std::string id, TimePoint now) {
    Deployment rollback;
    rollback.id = std::move(id);
    rollback.service = original.service;
    rollback.environment = original.environment;
    rollback.version = original.previous_version;
    rollback.previous_version = original.version;
    rollback.deployed_at = now;
    rollback.recorded_at = now;
    rollback.actor = "rollback-receiver";
    rollback.kind = DeploymentKind::rollback;
    rollback.state = DeploymentState::watching;
    rollback.rollback_of = original.id;
    return rollback;
}

std::string new_claim_token() {
    std::random_device random;
    std::string token;
    constexpr std::string_view kHex = "0123456789abcdef";
    for (int i = 0; i < 32; ++i)
        token += kHex[random() & 0xfU];
    return token;
}

Error not_in_ledger(const std::string& id) {
    return make_error("deployment \"" + id + "\" is not in the ledger");
}

Error not_rolling_back(const Deployment& deployment) {
    return make_error("deployment \"" + deployment.id + "\" is " + std::string(to_string(deployment.state)) +
                      ", not rolling_back (only a claimed rollback can be finished)");
}

Status check_final_state(DeploymentState final_state) {
    if (final_state == DeploymentState::rollback_failed ||
        final_state == DeploymentState::rollback_interrupted)
        return ok_status();
    return make_error("a rollback ends as rollback_failed or rollback_interrupted, not " +
                      std::string(to_string(final_state)));
}

Status set_kind_and_state(Deployment& deployment, const std::string& kind, const std::string& state) {
    const auto parsed_kind = parse_deployment_kind(kind);
    const auto parsed_state = parse_deployment_state(state);
    if (!parsed_kind || !parsed_state)
        return make_error("deployment \"" + deployment.id + "\" has kind \"" + kind + "\" and state \"" +
                          state +
                          "\" in the ledger, which this build does not know: run a newer rollback-receiver");
    deployment.kind = *parsed_kind;
    deployment.state = *parsed_state;
    return ok_status();
}

int clamp_limit(int limit) {
    return std::clamp(limit, 1, 1000);
}

} // namespace rollback::ledger_rules
