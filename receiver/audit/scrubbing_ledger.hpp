// A Ledger in front of the real one that scrubs configured secrets from every audit event it stores.
#pragma once

#include "ledger/ledger.hpp"
#include "ops/secret_scrubber.hpp"

#include <memory>
#include <mutex>

namespace rollback {

// Every audit event reaches the ledger through LedgerTransaction::append_audit, whoever writes it (the audit
// trail, the engine's claim and outcome, the API's records and pauses, the start-up sweep): this decorator
// scrubs the event there, in place, so the caller's copy — the one it then publishes to the log and the
// JSON-lines file — is the scrubbed one too. Everything else is passed through.
class ScrubbingLedger final : public Ledger {
  public:
    explicit ScrubbingLedger(Ledger& inner, std::shared_ptr<const SecretScrubber> scrubber = nullptr);

    // The scrubber for writes that start from now on (the daemon sets one per loaded config).
    void set_scrubber(std::shared_ptr<const SecretScrubber> scrubber);

    Status write(std::string_view what, const WriteBody& body) override;
    Result<std::optional<Deployment>> get_deployment(const std::string& id) override;
    Result<std::optional<Deployment>> latest_deployment(const std::string& service,
                                                        const std::string& environment) override;
    Result<AlertTarget> alert_target(const std::string& service, const std::string& environment) override;
    Result<std::vector<Deployment>> list_deployments(const DeploymentFilter& filter) override;
    Result<std::vector<AuditEvent>> list_audit(const AuditFilter& filter) override;
    Result<std::optional<ServicePause>> service_pause(const std::string& service) override;
    Result<std::vector<ServicePause>> list_service_pauses() override;
    int schema_version() override;
    Status check_reachable() override;

  private:
    Ledger& inner_;
    std::mutex mutex_;
    std::shared_ptr<const SecretScrubber> scrubber_; // guarded by mutex_
};

// The text fields of `event` scrubbed: versions, alertname, fingerprint, reason and detail. Not the keys the
// trail is found by (service, environment, deployment_id): the deployment's own record holds them as given,
// and an event must stay joined to it.
void scrub_event(const SecretScrubber& scrubber, AuditEvent& event);

} // namespace rollback
