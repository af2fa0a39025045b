// The scrubbing ledger decorator: audit events scrubbed on their way in; every other call passed through.
#include "audit/scrubbing_ledger.hpp"

namespace rollback {
namespace {

// One transaction of the inner ledger, with append_audit scrubbing the event first.
class ScrubbingTransaction final : public LedgerTransaction {
  public:
    ScrubbingTransaction(LedgerTransaction& inner, const SecretScrubber* scrubber)
        : inner_(inner), scrubber_(scrubber) {}

    Result<RecordResult> record_deployment(const DeploymentRequest& request, const std::string& request_key,
                                           TimePoint now) override {
        return inner_.record_deployment(request, request_key, now);
    }
    Result<bool> claim_rollback(const std::string& id) override { return inner_.claim_rollback(id); }
    Result<bool> holds_claim(const std::string& id) override { return inner_.holds_claim(id); }
    Result<int> renew_claims() override { return inner_.renew_claims(); }
    Result<Deployment> complete_rollback(const std::string& id, TimePoint now) override {
        return inner_.complete_rollback(id, now);
    }
    Status fail_rollback(const std::string& id, DeploymentState final_state) override {
        return inner_.fail_rollback(id, final_state);
    }
    Result<std::vector<LostClaim>> interrupt_lost_claims(std::optional<Duration> lease) override {
        return inner_.interrupt_lost_claims(lease);
    }
    Result<PendingStart> begin_pending(const std::string& deployment_id, TimePoint now) override {
        return inner_.begin_pending(deployment_id, now);
    }
    Result<bool> end_pending(const std::string& deployment_id) override {
        return inner_.end_pending(deployment_id);
    }
    Status pause_service(const ServicePause& pause) override { return inner_.pause_service(pause); }
    Result<bool> resume_service(const std::string& service) override {
        return inner_.resume_service(service);
    }
    Result<bool> append_audit(AuditEvent& event, const std::string& dedupe_key) override {
        if (scrubber_ != nullptr) scrub_event(*scrubber_, event);
        return inner_.append_audit(event, dedupe_key);
    }

  private:
    LedgerTransaction& inner_;
    const SecretScrubber* scrubber_;
};

} // namespace

void scrub_event(const SecretScrubber& scrubber, AuditEvent& event) {
    if (scrubber.empty()) return;
    for (std::string* field : {&event.version, &event.previous_version, &event.alertname, &event.fingerprint,
                               &event.reason, &event.detail})
        *field = scrubber.scrub(*field);
}

ScrubbingLedger::ScrubbingLedger(Ledger& inner, std::shared_ptr<const SecretScrubber> scrubber)
    : inner_(inner), scrubber_(std::move(scrubber)) {}

void ScrubbingLedger::set_scrubber(std::shared_ptr<const SecretScrubber> scrubber) {
    std::lock_guard lock(mutex_);
    scrubber_ = std::move(scrubber);
}

Status ScrubbingLedger::write(std::string_view what, const WriteBody& body) {
    std::shared_ptr<const SecretScrubber> scrubber;
    {
        std::lock_guard lock(mutex_);
        scrubber = scrubber_;
    }
    return inner_.write(what, [&](LedgerTransaction& transaction) {
        ScrubbingTransaction scrubbing(transaction, scrubber.get());
        return body(scrubbing);
    });
}

Result<std::optional<Deployment>> ScrubbingLedger::get_deployment(const std::string& id) {
    return inner_.get_deployment(id);
}
Result<std::optional<Deployment>> ScrubbingLedger::latest_deployment(const std::string& service,
                                                                     const std::string& environment) {
    return inner_.latest_deployment(service, environment);
}
Result<AlertTarget> ScrubbingLedger::alert_target(const std::string& service,
                                                  const std::string& environment) {
    return inner_.alert_target(service, environment);
}
Result<std::vector<Deployment>> ScrubbingLedger::list_deployments(const DeploymentFilter& filter) {
    return inner_.list_deployments(filter);
}
Result<std::vector<AuditEvent>> ScrubbingLedger::list_audit(const AuditFilter& filter) {
    return inner_.list_audit(filter);
}
Result<std::optional<ServicePause>> ScrubbingLedger::service_pause(const std::string& service) {
    return inner_.service_pause(service);
}
Result<std::vector<ServicePause>> ScrubbingLedger::list_service_pauses() {
    return inner_.list_service_pauses();
}
int ScrubbingLedger::schema_version() {
    return inner_.schema_version();
}

Status ScrubbingLedger::check_reachable() {
    return inner_.check_reachable();
}

} // namespace rollback
