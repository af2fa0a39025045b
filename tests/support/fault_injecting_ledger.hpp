// A Ledger decorator for tests: passes everything to a real ledger, and fails chosen writes on request.
#pragma once

#include "ledger/ledger.hpp"

#include <mutex>
#include <string>

namespace rollback::testing {

// Like leveldb's fault-injection Env: the real backend does the work; a test arms a fault, and the next
// writes whose `what` starts with `prefix` fail (before the real transaction begins) until `count` ran out.
class FaultInjectingLedger final : public Ledger {
  public:
    explicit FaultInjectingLedger(Ledger& real) : real_(real) {}

    void fail_writes(std::string prefix, int count, std::string error = "injected fault: disk I/O error") {
        std::lock_guard lock(mutex_);
        prefix_ = std::move(prefix);
        remaining_ = count;
        error_ = std::move(error);
    }
    int failed_writes() const {
        std::lock_guard lock(mutex_);
        return failed_;
    }

    Status write(std::string_view what, const WriteBody& body) override {
        {
            std::lock_guard lock(mutex_);
            if (remaining_ > 0 && what.substr(0, prefix_.size()) == prefix_) {
                --remaining_;
                ++failed_;
                return make_error("ledger: " + std::string(what) + " failed: " + error_);
            }
        }
        return real_.write(what, body);
    }
    Result<std::optional<Deployment>> get_deployment(const std::string& id) override {
        return real_.get_deployment(id);
    }
    Result<std::optional<Deployment>> latest_deployment(const std::string& service,
                                                        const std::string& environment) override {
        return real_.latest_deployment(service, environment);
    }
    Result<AlertTarget> alert_target(const std::string& service, const std::string& environment) override {
        return real_.alert_target(service, environment);
    }
    Result<std::vector<Deployment>> list_deployments(const DeploymentFilter& filter) override {
        return real_.list_deployments(filter);
    }
    Result<std::vector<AuditEvent>> list_audit(const AuditFilter& filter) override {
        return real_.list_audit(filter);
    }
    Result<std::optional<ServicePause>> service_pause(const std::string& service) override {
        return real_.service_pause(service);
    }
    Result<std::vector<ServicePause>> list_service_pauses() override { return real_.list_service_pauses(); }
    int schema_version() override { return real_.schema_version(); }
    Status check_reachable() override { return real_.check_reachable(); }

  private:
    Ledger& real_;
    mutable std::mutex mutex_;
    std::string prefix_;
    int remaining_ = 0;
    int failed_ = 0;
    std::string error_;
};

} // namespace rollback::testing
