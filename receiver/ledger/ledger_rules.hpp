// What every ledger backend decides the same way, apart from its I/O: error labels, generated and rollback
// ids, the deployment a request or a completed rollback makes, the limits and the known names.
#pragma once

#include "common/result.hpp"
#include "ledger/ledger.hpp"
#include "model/model.hpp"

#include <string>
#include <string_view>

namespace rollback::ledger_rules {

// Prefixes an error with what the ledger was doing: "ledger: recording deployment failed: ...".
template <typename T> Result<T> labelled(std::string_view action, Result<T> result) {
    if (result) return result;
    return make_error("ledger: " + std::string(action) + " failed: " + result.error());
}

// The same for an action on one named thing, quoted: "ledger: reading deployment \"d1\" failed: ...". The
// text is built only on failure: look-ups run for every webhook.
template <typename T>
Result<T> labelled(std::string_view action, const std::string& subject, Result<T> result) {
    if (result) return result;
    return make_error("ledger: " + std::string(action) + " \"" + subject + "\" failed: " + result.error());
}

long long to_nanoseconds(TimePoint time);
TimePoint from_nanoseconds(long long nanoseconds);

// "<service>-<yyyymmddThhmmssZ>-": a generated id, before its 4 random hex digits.
std::string generated_id_prefix(const std::string& service, TimePoint now);
// The id a backend tries for attempt `attempt` (0, 1, ...) of a generated id with a random 16-bit suffix.
std::string generated_id(const std::string& prefix, unsigned suffix);
constexpr int kGeneratedIdAttempts = 64;
Error no_free_generated_id(const std::string& prefix);

// The deployment a request makes (`watching`, kind deploy), before previous_version is defaulted and the
// supersede step places it.
Deployment deployment_from_request(const DeploymentRequest& request, std::string id, TimePoint now);

// The id of the deployment a completed rollback of `id` records: "<id>-rollback", then "<id>-rollback-2"...
std::string rollback_id(const std::string& id, int attempt);
// What the rollback of `original` put live (see LedgerTransaction::complete_rollback).
Deployment rollback_deployment(const Deployment& original, std::string id, TimePoint now);

// A fresh random token (32 hex digits) naming one Ledger object's claims (LedgerTransaction::claim_rollback).
std::string new_claim_token();

Error not_in_ledger(const std::string& id);
Error not_rolling_back(const Deployment& deployment);
// ok for rollback_failed and rollback_interrupted, the two ends fail_rollback accepts.
Status check_final_state(DeploymentState final_state);

// Sets kind and state from their stored names; an error for a name this build does not know.
Status set_kind_and_state(Deployment& deployment, const std::string& kind, const std::string& state);

// Listing limits are clamped to 1..1000.
int clamp_limit(int limit);

} // namespace rollback::ledger_rules
