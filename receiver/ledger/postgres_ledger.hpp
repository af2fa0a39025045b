// The shared ledger backend: one PostgreSQL database for one or more receivers (the only owner of libpq).
#pragma once

#include "ledger/ledger.hpp"

#include <chrono>
#include <memory>
#include <mutex>
#include <random>
#include <string>

namespace rollback {

class PostgresConnection; // RAII owner of the PGconn* (postgres_ledger.cpp)

// One connection behind a mutex; every write is one transaction. Several receivers may share the database:
// the claim is one UPDATE only one of them can win, and the schema is migrated by whichever starts first
// while the others wait. A lost connection is an error value; the next call connects again.
class PostgresLedger final : public Ledger {
  public:
    // Connects with `dsn` (a libpq connection string or postgresql:// URI) and runs the schema migrations.
    // Throws std::runtime_error on failure (start-up only); the message never holds the DSN (it may hold a
    // password). `instance` is written into every audit event appended without one (config `instance`).
    explicit PostgresLedger(std::string dsn, std::string instance = {});
    ~PostgresLedger() override;
    PostgresLedger(const PostgresLedger&) = delete;
    PostgresLedger& operator=(const PostgresLedger&) = delete;

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
    // SELECT 1 on the connection (connecting again if it was lost).
    Status check_reachable() override;

  private:
    // The open connection, made again when there is none or the last one was lost; callers hold mutex_.
    // After a failed attempt, calls within kConnectBackoff get the same error without trying again, so
    // requests queued behind the mutex while the server is away each answer at once, not after their own
    // connect timeout.
    Result<PostgresConnection*> connection();

    std::mutex mutex_;
    std::string dsn_;
    const std::string instance_;
    const std::string claim_token_; // names the claims this object makes (LedgerTransaction::claim_rollback)
    std::unique_ptr<PostgresConnection> connection_;
    std::chrono::steady_clock::time_point last_failed_connect_{};
    std::string last_connect_error_;
    std::mt19937_64 random_{std::random_device{}()};
    int schema_version_ = 0;
};

} // namespace rollback
