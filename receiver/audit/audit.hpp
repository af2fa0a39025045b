// The audit trail writer: every decision goes to the ledger, a log line and, if configured, a JSON-lines
// file.
#pragma once

#include "audit/recent_keys.hpp"
#include "common/result.hpp"
#include "common/unique_fd.hpp"
#include "ledger/ledger.hpp"
#include "model/model.hpp"
#include "ops/metrics.hpp"

#include <mutex>
#include <string>
#include <string_view>

namespace rollback {

class AuditTrail {
  public:
    AuditTrail(Ledger& ledger, Metrics& metrics);
    AuditTrail(const AuditTrail&) = delete;
    AuditTrail& operator=(const AuditTrail&) = delete;

    // The JSON-lines copy: "" for none. Opens (creating the folder and file) for appending; on failure the
    // previous file stays in use and the error says why.
    Status set_file(const std::string& path);

    // Writes the event. With a dedupe_key, an event already written under that key is not written again
    // (counted in rollback_receiver_audit_repeats_total); returns false then. An error means the ledger
    // could not write it (disk full, read-only): the caller answers 503 so the sender retries.
    Result<bool> record(const AuditEvent& event, const std::string& dedupe_key = {});

    // True, and counted as a repeat, when an event under `dedupe_key` is known to be in the ledger: one
    // this process wrote or found there, among the last ones within kRecentKeysBudget bytes. Answered from
    // memory, so the caller can skip building the event; false means "not known", and record() then asks the
    // ledger.
    bool is_known_repeat(std::string_view event, std::string_view reason, const std::string& dedupe_key);

    // The log line and the JSON-lines copy of an event the ledger already holds (written with a state change
    // in that change's Ledger::write); `stored.sequence` is set. Pass the event as appended: the daemon's
    // ScrubbingLedger scrubbed its secrets then, in place (and the logger scrubs every line again).
    void publish(const AuditEvent& stored);

    // The de-duplication memory's budget: about 12,000 keys of the usual 200 to 250 bytes.
    static constexpr std::size_t kRecentKeysBudget = 4 * 1024 * 1024;

  private:
    Ledger& ledger_;
    Metrics& metrics_;
    RecentKeys recent_keys_{kRecentKeysBudget};
    std::mutex file_mutex_;
    UniqueFd file_;
    std::string file_path_;
};

} // namespace rollback
