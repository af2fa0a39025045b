// ClaimKeeper: the start-up sweep, the renewal of this receiver's claims and the take-over of lost ones.
#include "engine/claim_keeper.hpp"

#include "codec/codec.hpp"
#include "ops/logging.hpp"

#include <algorithm>

namespace rollback {
namespace {

// What a survivor writes about a claim it found lost: which receiver held it and when it last renewed.
AuditEvent lost_claim_event(const LostClaim& claim, const std::optional<Duration>& lease) {
    AuditEvent event =
        audit_event_about(AuditEventKind::rollback_interrupted, claim.deployment, Clock::now());
    AuditDetail detail;
    if (!claim.claimed_by.empty()) detail.text.emplace_back("lost_instance", claim.claimed_by);
    if (!lease) {
        event.reason = "receiver_restarted";
        detail.text.emplace_back("note", "the receiver stopped while this rollback ran; it is not run again "
                                         "on its own");
    } else {
        event.reason = "claim_lease_expired";
        detail.text.emplace_back("last_renewed", format_rfc3339_ms(claim.renewed_at));
        detail.text.emplace_back("claim_lease", format_duration(*lease));
        const std::string holder = claim.claimed_by.empty() ? "a receiver" : claim.claimed_by;
        detail.text.emplace_back("note", holder + " stopped renewing its claim while the rollback ran (it "
                                                  "stopped or lost the database); the rollback is not run "
                                                  "again on its own: check what its action did");
    }
    event.detail = encode_detail(detail);
    return event;
}

} // namespace

ClaimKeeper::ClaimKeeper(Ledger& ledger, AuditTrail& audit, Metrics& metrics, std::optional<Duration> lease)
    : ledger_(ledger), audit_(audit), metrics_(metrics), lease_(lease) {}

ClaimKeeper::~ClaimKeeper() {
    stop();
}

Result<std::vector<AuditEvent>> ClaimKeeper::renew_and_sweep(bool renew_first) {
    std::vector<AuditEvent> events;
    const std::string what = renew_first ? "renewing this receiver's claims and interrupting lost ones"
                                         : "interrupting lost claims";
    auto swept = ledger_.write(what, [&](LedgerTransaction& transaction) -> Status {
        events.clear(); // a body may run again only after a failed try; start clean
        // Renewal first: a receiver that was away from the database for a moment keeps its claims.
        if (renew_first)
            if (auto renewed = transaction.renew_claims(); !renewed) return Error{renewed.error()};
        auto lost = transaction.interrupt_lost_claims(lease_);
        if (!lost) return Error{lost.error()};
        for (const LostClaim& claim : *lost) {
            AuditEvent event = lost_claim_event(claim, lease_);
            if (auto appended = transaction.append_audit(event); !appended) return Error{appended.error()};
            events.push_back(std::move(event));
        }
        return ok_status();
    });
    if (!swept) return Error{swept.error()}; // the ledger labels its own errors
    for (const AuditEvent& event : events) {
        audit_.publish(event);
        metrics_.rollbacks.add({event.service, "interrupted"});
        log_warn(
            lease_ ? "a rollback claim was lost with its receiver; not running it again"
                   : "rollback was interrupted by a restart; not running it again",
            {{"deployment_id", event.deployment_id}, {"service", event.service}, {"reason", event.reason}});
    }
    return events;
}

void ClaimKeeper::start() {
    if (!lease_ || thread_.joinable()) return;
    thread_ = std::thread([this] { run(); });
}

void ClaimKeeper::stop() {
    {
        std::lock_guard lock(mutex_);
        stopping_ = true;
    }
    wake_.notify_all();
    if (thread_.joinable()) thread_.join();
}

void ClaimKeeper::run() {
    const Duration interval = std::max<Duration>(*lease_ / 3, std::chrono::milliseconds(100));
    std::unique_lock lock(mutex_);
    while (!wake_.wait_for(lock, interval, [this] { return stopping_; })) {
        lock.unlock();
        if (auto swept = renew_and_sweep(true); !swept)
            log_error("rollback claims could not be renewed and swept; trying again",
                      {{"err", swept.error()}});
        lock.lock();
    }
}

} // namespace rollback
