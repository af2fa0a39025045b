// The claims of one receiver over time: lost claims swept at start, and on a shared ledger its own claims
// renewed while their actions run and the claims of receivers that stopped renewing theirs taken over.
#pragma once

#include "audit/audit.hpp"
#include "ledger/ledger.hpp"
#include "ops/metrics.hpp"

#include <condition_variable>
#include <mutex>
#include <optional>
#include <thread>

namespace rollback {

class ClaimKeeper {
  public:
    // `lease` (ledger.postgres.claim_lease): set for a ledger shared with other receivers; nullopt for a
    // ledger this receiver has alone (SQLite), where every claim found at start was lost with the process
    // before, and nothing needs renewing.
    ClaimKeeper(Ledger& ledger, AuditTrail& audit, Metrics& metrics, std::optional<Duration> lease);
    ~ClaimKeeper(); // stop()
    ClaimKeeper(const ClaimKeeper&) = delete;
    ClaimKeeper& operator=(const ClaimKeeper&) = delete;

    // Marks the lost claims rollback_interrupted, each with its audit event in the same write: without a
    // lease every claim this receiver did not make (reason receiver_restarted), with one those not renewed
    // for the lease (reason claim_lease_expired, the detail naming the lost instance). Never runs them again.
    // Returns the events written.
    Result<std::vector<AuditEvent>> sweep() { return renew_and_sweep(false); }

    // With a lease: a thread that, every lease/3 (at least every 100 ms), renews every claim this receiver
    // holds (the rollbacks it runs or has queued) and then sweeps, in one write. Without a lease it does
    // nothing.
    void start();
    void stop();

  private:
    // sweep(), after renewing this receiver's own claims in the same write when `renew_first`.
    Result<std::vector<AuditEvent>> renew_and_sweep(bool renew_first);
    void run();

    Ledger& ledger_;
    AuditTrail& audit_;
    Metrics& metrics_;
    const std::optional<Duration> lease_;
    std::mutex mutex_;
    std::condition_variable wake_;
    bool stopping_ = false;
    std::thread thread_;
};

} // namespace rollback
