// The embedded ledger backend: one SQLite file in WAL mode (the only owner of sqlite3).
#pragma once

#include "ledger/ledger.hpp"

#include <memory>
#include <mutex>
#include <string>

namespace rollback {

class SqliteDatabase; // RAII owner of the sqlite3* (sqlite_ledger.cpp)

// One connection behind a mutex; every write is one BEGIN IMMEDIATE transaction. Several processes may
// share the file (SQLite's locks; the claim stays exactly once).
class SqliteLedger final : public Ledger {
  public:
    // Opens or creates the file (and its folder), enables WAL (synchronous=FULL), runs the schema
    // migrations in order. Throws std::runtime_error naming the path on failure (start-up only). `instance`
    // is written into every audit event appended without one (config `instance`).
    explicit SqliteLedger(const std::string& path, std::string instance = {});
    ~SqliteLedger() override;
    SqliteLedger(const SqliteLedger&) = delete;
    SqliteLedger& operator=(const SqliteLedger&) = delete;

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

  private:
    std::mutex mutex_;
    std::unique_ptr<SqliteDatabase> db_;
    const std::string instance_;
    const std::string claim_token_; // names the claims this object makes (LedgerTransaction::claim_rollback)
};

} // namespace rollback
