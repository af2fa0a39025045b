// One-write steps over Ledger::write for tests: each runs one change in a transaction of its own.
#pragma once

#include "ledger/ledger.hpp"

#include <optional>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

namespace rollback::testing {

inline std::string quoted(const std::string& name) {
    return "\"" + name + "\"";
}

// Runs `step` (LedgerTransaction& -> Result<T>) in a write of its own; its value once committed, else the
// error of the step or of the write.
template <typename Step>
auto in_own_write(Ledger& ledger, const std::string& what, Step step)
    -> decltype(step(std::declval<LedgerTransaction&>())) {
    using Value = std::decay_t<decltype(*step(std::declval<LedgerTransaction&>()))>;
    std::optional<Value> value;
    auto written = ledger.write(what, [&](LedgerTransaction& transaction) -> Status {
        auto result = step(transaction);
        if (!result) return Error{result.error()};
        value = std::move(*result);
        return ok_status();
    });
    if (!written) return Error{written.error()};
    return std::move(*value);
}

inline Result<RecordResult> record_deployment(Ledger& ledger, const DeploymentRequest& request,
                                              const std::string& request_key, TimePoint now) {
    return in_own_write(ledger, "recording deployment", [&](LedgerTransaction& transaction) {
        return transaction.record_deployment(request, request_key, now);
    });
}

inline Result<bool> claim_rollback(Ledger& ledger, const std::string& id) {
    return in_own_write(ledger, "claiming the rollback of " + quoted(id),
                        [&](LedgerTransaction& transaction) { return transaction.claim_rollback(id); });
}

inline Result<Deployment> complete_rollback(Ledger& ledger, const std::string& id, TimePoint now) {
    return in_own_write(
        ledger, "completing the rollback of " + quoted(id),
        [&](LedgerTransaction& transaction) { return transaction.complete_rollback(id, now); });
}

inline Status fail_rollback(Ledger& ledger, const std::string& id, DeploymentState final_state) {
    return ledger.write("ending the rollback of " + quoted(id), [&](LedgerTransaction& transaction) {
        return transaction.fail_rollback(id, final_state);
    });
}

// Without a lease: every claim this Ledger object did not make (as at the start of a receiver alone).
inline Result<std::vector<LostClaim>> interrupt_lost_claims(Ledger& ledger,
                                                            std::optional<Duration> lease = std::nullopt) {
    return in_own_write(ledger, "interrupting lost claims", [&](LedgerTransaction& transaction) {
        return transaction.interrupt_lost_claims(lease);
    });
}

inline Result<int> renew_claims(Ledger& ledger) {
    return in_own_write(ledger, "renewing claims",
                        [](LedgerTransaction& transaction) { return transaction.renew_claims(); });
}

inline Result<bool> holds_claim(Ledger& ledger, const std::string& id) {
    return in_own_write(ledger, "checking the claim of " + quoted(id),
                        [&](LedgerTransaction& transaction) { return transaction.holds_claim(id); });
}

inline Result<PendingStart> begin_pending(Ledger& ledger, const std::string& deployment_id, TimePoint now) {
    return in_own_write(
        ledger, "starting the debounce of " + quoted(deployment_id),
        [&](LedgerTransaction& transaction) { return transaction.begin_pending(deployment_id, now); });
}

inline Result<bool> end_pending(Ledger& ledger, const std::string& deployment_id) {
    return in_own_write(
        ledger, "ending the debounce of " + quoted(deployment_id),
        [&](LedgerTransaction& transaction) { return transaction.end_pending(deployment_id); });
}

// The event's sequence, or 0 when an event with the same dedupe_key was already written.
inline Result<long long> append_audit(Ledger& ledger, const AuditEvent& event,
                                      const std::string& dedupe_key = {}) {
    AuditEvent stored = event;
    auto written = ledger.write("appending audit event " + quoted(event.event),
                                [&](LedgerTransaction& transaction) -> Status {
                                    auto appended = transaction.append_audit(stored, dedupe_key);
                                    if (!appended) return Error{appended.error()};
                                    return ok_status();
                                });
    if (!written) return Error{written.error()};
    return stored.sequence;
}

inline Status pause_service(Ledger& ledger, const ServicePause& pause) {
    return ledger.write("pausing " + quoted(pause.service),
                        [&](LedgerTransaction& transaction) { return transaction.pause_service(pause); });
}

inline Result<bool> resume_service(Ledger& ledger, const std::string& service) {
    return in_own_write(ledger, "resuming " + quoted(service),
                        [&](LedgerTransaction& transaction) { return transaction.resume_service(service); });
}

} // namespace rollback::testing
