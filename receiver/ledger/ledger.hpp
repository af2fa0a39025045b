// The ledger's seam: what every backend stores (deployments, claims, pauses, the audit trail) and how it is
// written.
#pragma once

#include "common/result.hpp"
#include "model/model.hpp"

#include <functional>
#include <optional>
#include <string>
#include <string_view>
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

// What an alert is decided against (Ledger::alert_target).
struct AlertTarget {
    std::optional<Deployment> deployment; // the latest deployment of the service and environment
    std::optional<ServicePause> pause;    // the service's pause; read only when there is a deployment
};

// A rollback claim whose receiver stopped renewing it (LedgerTransaction::interrupt_lost_claims).
struct LostClaim {
    Deployment deployment;  // with its new state, rollback_interrupted
    std::string claimed_by; // the instance that held it; "" for a claim made before schema version 5
    TimePoint renewed_at{}; // when it was last claimed or renewed; the epoch for a claim before version 5
};

// When a debounced rollback's wait began (LedgerTransaction::begin_pending).
struct PendingStart {
    TimePoint started_at{}; // the first firing notification any receiver got for the deployment
    bool created = false;   // true: this call stored it (so this receiver audits rollback_pending)
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

// The writes of one transaction, handed to the body of Ledger::write and valid only inside it. A state change
// and the audit events that tell of it go into the same transaction: a kill or a full disk then loses
// neither alone, and a reader never sees one without the other.
class LedgerTransaction {
  public:
    virtual ~LedgerTransaction() = default;

    // Records a deployment, idempotent on id. `request_key` is a canonical text of the fields the request
    // carried (deployment_request_key in codec.hpp); a retry with the same id and key is `repeated`, another
    // key is `conflict` (nothing written for either). An empty request id gets a generated one
    // ("<service>-<UTC second>"). previous_version left empty is filled with the version of the latest
    // deployment of the same service and environment. Every `watching` deployment of the same service and
    // environment deployed earlier becomes `superseded`; if a later one is already recorded, the new one is
    // stored as `superseded` itself. `now` is used when the request has no deployed_at.
    virtual Result<RecordResult> record_deployment(const DeploymentRequest& request,
                                                   const std::string& request_key, TimePoint now) = 0;

    // The exactly-once claim: `watching` -> `rolling_back` in one statement. True when this call made the
    // change; false when the deployment is unknown or in any other state. The claim records its holder: this
    // Ledger object (a token of its own, so a restarted receiver of the same name holds none of its old
    // claims), its instance name, and the time, renewed by renew_claims while the action runs.
    virtual Result<bool> claim_rollback(const std::string& id) = 0;

    // Whether `id` is still `rolling_back` under a claim this Ledger object made: false once a survivor
    // marked it interrupted (interrupt_lost_claims) after this receiver stopped renewing it.
    virtual Result<bool> holds_claim(const std::string& id) = 0;

    // Sets the renewal time of every `rolling_back` claim this Ledger object holds to now; returns how many.
    virtual Result<int> renew_claims() = 0;

    // Every `rolling_back` claim that this Ledger object did not make becomes `rollback_interrupted`: with a
    // lease, only those last claimed or renewed longer than `lease` ago (by the database's clock on
    // PostgreSQL, so receivers' clocks need not agree); without, every one (the start of a receiver alone on
    // its ledger). Returns them, with the new state, oldest first.
    virtual Result<std::vector<LostClaim>> interrupt_lost_claims(std::optional<Duration> lease) = 0;

    // `rolling_back` -> `rolled_back`, and a deployment of kind `rollback` (version = the old
    // previous_version, previous_version = the old version, rollback_of = id, deployed_at = now, same service
    // and environment) that supersedes what was deployed meanwhile. Returns that new deployment.
    virtual Result<Deployment> complete_rollback(const std::string& id, TimePoint now) = 0;

    // `rolling_back` -> `rollback_failed` or `rollback_interrupted`; an error for any other state.
    virtual Status fail_rollback(const std::string& id, DeploymentState final_state) = 0;

    // The start of a debounced rollback's wait, one per deployment, shared by every receiver on the ledger:
    // stored at `now` when there is none, else the one stored first is returned. The debounce counts from
    // it, whichever receiver the later notifications reach, and across a restart.
    virtual Result<PendingStart> begin_pending(const std::string& deployment_id, TimePoint now) = 0;
    // Removes the deployment's wait (its alerts resolved, or the wait ended in a claim or a cancel). False:
    // there was none (another receiver ended it first).
    virtual Result<bool> end_pending(const std::string& deployment_id) = 0;

    // One pause per service, replaced by a newer pause; expired pauses are kept until resumed or replaced
    // (callers check ServicePause::active_at(now)).
    virtual Status pause_service(const ServicePause& pause) = 0;
    // False: the service was not paused.
    virtual Result<bool> resume_service(const std::string& service) = 0;

    // Appends an event and sets its `sequence`. With a non-empty dedupe_key, an event whose key was already
    // written is not written again: then false, and the sequence stays 0.
    virtual Result<bool> append_audit(AuditEvent& event, const std::string& dedupe_key = {}) = 0;
};

// Every method is safe to call from several threads at once. Errors (a full disk, a read-only file, a lost
// connection) come back as values, labelled "ledger: <what> failed: <why>".
class Ledger {
  public:
    virtual ~Ledger() = default;

    using WriteBody = std::function<Status(LedgerTransaction&)>;
    // Runs `body` in one write transaction: everything it wrote is committed together when it returns ok,
    // nothing when it (or the commit) fails. `what` names the change in the error ("recording deployment").
    virtual Status write(std::string_view what, const WriteBody& body) = 0;

    virtual Result<std::optional<Deployment>> get_deployment(const std::string& id) = 0;
    // The latest deployment (by deployed_at, then by insertion order) of `service`, any kind and state.
    // With an environment: only deployments of that environment or of none; without: any environment.
    virtual Result<std::optional<Deployment>> latest_deployment(const std::string& service,
                                                                const std::string& environment) = 0;
    // latest_deployment and, when there is one, the service's pause, from one snapshot: what the engine
    // reads for the alerts of a notification.
    virtual Result<AlertTarget> alert_target(const std::string& service, const std::string& environment) = 0;
    // Newest first; the limit is clamped to 1..1000.
    virtual Result<std::vector<Deployment>> list_deployments(const DeploymentFilter& filter) = 0;
    // Newest first; the limit is clamped to 1..1000.
    virtual Result<std::vector<AuditEvent>> list_audit(const AuditFilter& filter) = 0;
    virtual Result<std::optional<ServicePause>> service_pause(const std::string& service) = 0;
    // Ordered by service.
    virtual Result<std::vector<ServicePause>> list_service_pauses() = 0;
    // The schema version after migrations (/metrics, tests).
    virtual int schema_version() = 0;
    // Whether the ledger can be used now (GET /-/ready): a round trip to a database server, fast; ok for a
    // local file, which fails on its own calls.
    virtual Status check_reachable() { return ok_status(); }
};

} // namespace rollback
