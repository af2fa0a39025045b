// The ledger: deployments and the audit trail in one SQLite file (WAL), the only owner of sqlite3.
#pragma once

#include "common/result.hpp"
#include "model/model.hpp"

#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

namespace rollback {

enum class RecordOutcome {
    created,  // new deployment: HTTP 201
    repeated, // same id, same fields: HTTP 200, nothing written
    conflict, // same id, other fields: HTTP 409, nothing written
};

struct RecordResult {
    RecordOutcome outcome;
    Deployment deployment;                   // as stored (for conflict: the one already stored)
    std::vector<std::string> superseded_ids; // deployments this one superseded (created only)
};

// The audit events a write adds in its own transaction, built from what the write did: a kill or a full
// disk can then lose neither the change nor its trail, and a reader never sees one without the other.
template <typename T> using AuditFor = std::function<std::vector<AuditEvent>(const T&)>;

// A write's result and the audit events written with it, with their sequences.
template <typename T> struct WithAudit {
    T result;
    std::vector<AuditEvent> events;
};

// What an alert is decided against (Ledger::alert_target).
struct AlertTarget {
    std::optional<Deployment> deployment; // the latest deployment of the service and environment
    std::optional<ServicePause> pause;    // the service's pause; read only when there is a deployment
};

struct DeploymentFilter {
    std::string service;     // empty: any
    std::string environment; // empty: any
    int limit = 100;
};

struct AuditFilter {
    std::string service;          // empty: any
    std::string deployment_id;    // empty: any
    long long after_sequence = 0; // only events with a greater sequence
    int limit = 100;
};

class SqliteDatabase; // RAII owner of the sqlite3* (ledger.cpp)

// Every method is safe to call from several threads at once (one connection behind a mutex).
// Errors from SQLite (disk full, read-only file) come back as values; nothing is half-written because
// every write is one transaction.
class Ledger {
  public:
    // Opens or creates the file, enables WAL (synchronous=FULL), runs the schema migrations in order.
    // Creates the parent folder when missing. Throws std::runtime_error on failure (start-up only).
    explicit Ledger(const std::string& path);
    ~Ledger();
    Ledger(const Ledger&) = delete;
    Ledger& operator=(const Ledger&) = delete;

    // Records a deployment, idempotent on id. `request_key` is a canonical text of the fields the request
    // carried (see deployment_request_key in codec.hpp); a retry with the same id and the same key is
    // `repeated`, another key is `conflict`. An empty request id gets a generated one ("<service>-<n>").
    // previous_version left empty is filled with the version of the latest deployment of the same
    // service and environment. In the same transaction: every `watching` deployment of the same service
    // and environment deployed earlier becomes `superseded`; if a later one is already recorded, the new
    // one is stored as `superseded` itself. `now` is used when the request has no deployed_at.
    Result<RecordResult> record_deployment(const DeploymentRequest& request, const std::string& request_key,
                                           TimePoint now);
    // The same, and the events `audit` builds from the result, in the same transaction.
    Result<WithAudit<RecordResult>> record_deployment_with_audit(const DeploymentRequest& request,
                                                                 const std::string& request_key,
                                                                 TimePoint now,
                                                                 const AuditFor<RecordResult>& audit);

    Result<std::optional<Deployment>> get_deployment(const std::string& id);

    // The latest deployment (by deployed_at, then by insertion order) of `service`, any kind and state.
    // With an environment: only deployments of that environment or of none; without: any environment.
    Result<std::optional<Deployment>> latest_deployment(const std::string& service,
                                                        const std::string& environment);

    // latest_deployment and, when there is one, service_pause, in one read transaction: one snapshot, and
    // SQLite's file locks taken once. What the engine reads for the alerts of a notification.
    Result<AlertTarget> alert_target(const std::string& service, const std::string& environment);

    // Newest first.
    Result<std::vector<Deployment>> list_deployments(const DeploymentFilter& filter);

    // Exactly-once claim: `watching` -> `rolling_back` in one statement. True when this call made the
    // change, false when the deployment is unknown or in any other state.
    Result<bool> claim_rollback(const std::string& id);

    // The same claim, and in the same transaction the `started` audit event: the trail can never miss the
    // start of a rollback that was claimed. nullopt when not claimed (nothing written); else the event's
    // sequence.
    Result<std::optional<long long>> claim_rollback_with_audit(const std::string& id,
                                                               const AuditEvent& started);

    // `rolling_back` -> `rolled_back`, and in the same transaction a deployment of kind `rollback`
    // (version = the old previous_version, previous_version = the old version, rollback_of = id,
    // deployed_at = now, same service/environment). Returns that new deployment.
    Result<Deployment> complete_rollback(const std::string& id, TimePoint now);
    // The same, and the events `audit` builds from the new deployment, in the same transaction.
    Result<WithAudit<Deployment>> complete_rollback_with_audit(const std::string& id, TimePoint now,
                                                               const AuditFor<Deployment>& audit);

    // `rolling_back` -> `rollback_failed` or `rollback_interrupted`.
    Status fail_rollback(const std::string& id, DeploymentState final_state);
    // The same, and `event` in the same transaction; returns it with its sequence.
    Result<AuditEvent> fail_rollback_with_audit(const std::string& id, DeploymentState final_state,
                                                const AuditEvent& event);

    // At start-up: every `rolling_back` deployment becomes `rollback_interrupted`; returns them
    // (with the new state).
    Result<std::vector<Deployment>> interrupt_unfinished_rollbacks();

    // The same, and in the same transaction the audit event `make_event` builds for each deployment: a kill
    // in between can lose neither (the next start would find nothing rolling_back). Returns the events as
    // written, with their sequences.
    Result<std::vector<AuditEvent>>
    interrupt_unfinished_rollbacks_with_audit(const std::function<AuditEvent(const Deployment&)>& make_event);

    // Appends an event; assigns and returns its sequence. With a non-empty dedupe_key, an event whose key
    // was already written is not written again, and the result is 0.
    Result<long long> append_audit(const AuditEvent& event, const std::string& dedupe_key = {});

    // Newest first.
    Result<std::vector<AuditEvent>> list_audit(const AuditFilter& filter);

    // Pauses: one row per service, replaced by a newer pause, removed by resume. Expired pauses are
    // kept until resumed or replaced; callers check ServicePause::active_at(now).
    Status pause_service(const ServicePause& pause);
    Result<bool> resume_service(const std::string& service); // false: it was not paused
    Result<std::optional<ServicePause>> service_pause(const std::string& service);
    Result<std::vector<ServicePause>> list_service_pauses();

    // The schema version after migrations (for tests and /metrics).
    int schema_version();

    // Tests only: caps the file at `pages` pages (PRAGMA max_page_count on this connection; SQLite never
    // goes below the current size, so 1 means "no growth") to make writes fail with "database or disk is
    // full". Returns the cap in effect.
    Result<long long> set_max_page_count_for_test(long long pages);

  private:
    std::mutex mutex_;
    std::unique_ptr<SqliteDatabase> db_;
};

} // namespace rollback
