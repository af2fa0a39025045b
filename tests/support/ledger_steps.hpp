// One-write steps over Ledger::write for tests: each runs one change in a transaction of its own.
#pragma once

#include "ledger/ledger.hpp"

#include <string>
#include <vector>

namespace rollback::testing {

inline std::string quoted(const std::string& name) {
    return "\"" + name + "\"";
}

inline Result<RecordResult> record_deployment(Ledger& ledger, const DeploymentRequest& request,
                                              const std::string& request_key, TimePoint now) {
    std::optional<RecordResult> recorded;
    auto written = ledger.write("recording deployment", [&](LedgerTransaction& transaction) -> Status {
        auto result = transaction.record_deployment(request, request_key, now);
        if (!result) return Error{result.error()};
        recorded = std::move(*result);
        return ok_status();
    });
    if (!written) return Error{written.error()};
    return std::move(*recorded);
}

inline Result<bool> claim_rollback(Ledger& ledger, const std::string& id) {
    bool claimed = false;
    auto written =
        ledger.write("claiming the rollback of " + quoted(id), [&](LedgerTransaction& transaction) -> Status {
            auto won = transaction.claim_rollback(id);
            if (!won) return Error{won.error()};
            claimed = *won;
            return ok_status();
        });
    if (!written) return Error{written.error()};
    return claimed;
}

inline Result<Deployment> complete_rollback(Ledger& ledger, const std::string& id, TimePoint now) {
    std::optional<Deployment> live;
    auto written = ledger.write("completing the rollback of " + quoted(id),
                                [&](LedgerTransaction& transaction) -> Status {
                                    auto result = transaction.complete_rollback(id, now);
                                    if (!result) return Error{result.error()};
                                    live = std::move(*result);
                                    return ok_status();
                                });
    if (!written) return Error{written.error()};
    return std::move(*live);
}

inline Status fail_rollback(Ledger& ledger, const std::string& id, DeploymentState final_state) {
    return ledger.write("ending the rollback of " + quoted(id), [&](LedgerTransaction& transaction) {
        return transaction.fail_rollback(id, final_state);
    });
}

// Without a lease: every claim this Ledger object did not make (as at the start of a receiver alone).
inline Result<std::vector<LostClaim>> interrupt_lost_claims(Ledger& ledger,
                                                            std::optional<Duration> lease = std::nullopt) {
    std::vector<LostClaim> interrupted;
    auto written = ledger.write("interrupting lost claims", [&](LedgerTransaction& transaction) -> Status {
        auto result = transaction.interrupt_lost_claims(lease);
        if (!result) return Error{result.error()};
        interrupted = std::move(*result);
        return ok_status();
    });
    if (!written) return Error{written.error()};
    return interrupted;
}

inline Result<int> renew_claims(Ledger& ledger) {
    int renewed = 0;
    auto written = ledger.write("renewing claims", [&](LedgerTransaction& transaction) -> Status {
        auto result = transaction.renew_claims();
        if (!result) return Error{result.error()};
        renewed = *result;
        return ok_status();
    });
    if (!written) return Error{written.error()};
    return renewed;
}

inline Result<bool> holds_claim(Ledger& ledger, const std::string& id) {
    bool held = false;
    auto written =
        ledger.write("checking the claim of " + quoted(id), [&](LedgerTransaction& transaction) -> Status {
            auto result = transaction.holds_claim(id);
            if (!result) return Error{result.error()};
            held = *result;
            return ok_status();
        });
    if (!written) return Error{written.error()};
    return held;
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
    bool resumed = false;
    auto written = ledger.write("resuming " + quoted(service), [&](LedgerTransaction& transaction) -> Status {
        auto removed = transaction.resume_service(service);
        if (!removed) return Error{removed.error()};
        resumed = *removed;
        return ok_status();
    });
    if (!written) return Error{written.error()};
    return resumed;
}

} // namespace rollback::testing
