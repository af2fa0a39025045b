// Unit tests for ScrubbingLedger: every audit event reaches the ledger scrubbed, and the caller's copy (which
// the audit trail then logs and writes to its file) is the scrubbed one.
#include "audit/scrubbing_ledger.hpp"

#include "audit/audit.hpp"
#include "ledger/sqlite_ledger.hpp"
#include "support/temp_dir.hpp"

#include <doctest/doctest.h>

#include <string>

namespace rollback {
namespace {

const std::string kToken = "deploy-token-0123456789";

std::shared_ptr<const SecretScrubber> scrubber_of(const std::string& secret) {
    return std::make_shared<const SecretScrubber>(std::vector<SecretValue>{{"k", secret}});
}

AuditEvent leaky_event() {
    AuditEvent event;
    event.event = "rollback_failed";
    event.service = "checkout";
    event.deployment_id = "deploy-42";
    event.alertname = "HighErrorRate";
    event.reason = "HTTP 500: Authorization: Bearer " + kToken;
    event.detail = "{\"output\":\"Bearer " + kToken + "\"}";
    return event;
}

TEST_CASE("events appended in a write are stored and handed back scrubbed; the rest passes through") {
    testing::TempDir dir;
    SqliteLedger sqlite(dir.file("ledger.db"));
    ScrubbingLedger ledger(sqlite, scrubber_of(kToken));
    AuditEvent event = leaky_event();
    REQUIRE(ledger.write("test", [&](LedgerTransaction& transaction) -> Status {
        auto appended = transaction.append_audit(event);
        if (!appended) return Error{appended.error()};
        return ok_status();
    }));
    CHECK(event.reason == "HTTP 500: Authorization: Bearer <redacted>");
    CHECK(event.detail == "{\"output\":\"Bearer <redacted>\"}");
    CHECK(event.sequence > 0);
    const auto stored = ledger.list_audit({});
    REQUIRE(stored.ok());
    REQUIRE(stored->size() == 1);
    CHECK(stored->front().reason == event.reason);
    CHECK(stored->front().detail == event.detail);
    CHECK(stored->front().deployment_id == "deploy-42");
    CHECK(ledger.schema_version() == sqlite.schema_version());
}

TEST_CASE("AuditTrail over a ScrubbingLedger: the ledger row and the JSON-lines file hold no secret") {
    testing::TempDir dir;
    SqliteLedger sqlite(dir.file("ledger.db"));
    ScrubbingLedger ledger(sqlite);
    Metrics metrics;
    AuditTrail audit(ledger, metrics);
    REQUIRE(audit.set_file(dir.file("audit.jsonl")));
    REQUIRE(audit.record(leaky_event()).ok()); // no scrubber yet: stored as it is
    ledger.set_scrubber(scrubber_of(kToken));  // a reload installs one
    REQUIRE(audit.record(leaky_event()).ok());
    const auto stored = ledger.list_audit({});
    REQUIRE(stored.ok());
    REQUIRE(stored->size() == 2);
    CHECK(stored->front().reason.find(kToken) == std::string::npos); // newest first
    CHECK(stored->back().reason.find(kToken) != std::string::npos);
    const std::string file = testing::TempDir::read(dir.file("audit.jsonl"));
    const std::string second_line = file.substr(file.find('\n') + 1);
    CHECK(second_line.find(kToken) == std::string::npos);
    CHECK(second_line.find("<redacted>") != std::string::npos);
}

} // namespace
} // namespace rollback
