// The shared ledger backend: one PostgreSQL database for one or more receivers (the only owner of libpq).
#pragma once

#include "ledger/ledger.hpp"

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <random>
#include <string>
#include <vector>

namespace rollback {

class PostgresConnection; // RAII owner of the PGconn* (postgres_ledger.cpp)

// Writes on one connection behind a mutex, each one transaction under an advisory lock; reads on a small pool
// of connections of their own (kReadConnections), outside a transaction: each read is one statement, so one
// snapshot, and a look-up never waits behind a write, only for a free read connection. Several receivers may
// share the database: the claim is one UPDATE only one of them can win, and the schema is migrated by
// whichever starts first while the others wait. A lost connection is an error value; the next call connects
// again (and every connection made before the lost one is made again when next used: a server that went
// away lost them all).
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
    // SELECT 1 on a read connection (connecting again if it was lost).
    Status check_reachable() override;

  private:
    class ReadLease; // a read connection taken from the pool, given back when the lease ends

    // A new connection with the receiver's settings, one attempt at a time. After a failed attempt, calls
    // within kConnectBackoff of its failure get the same error without trying again (the writer and the
    // readers alike), so requests queued while the server is away each answer at once, not after their own
    // connect timeout.
    Result<std::unique_ptr<PostgresConnection>> connect();
    // Not lost, and made since the last connection found lost (note_if_lost).
    bool usable(const PostgresConnection& connection) const;
    // After a call on `connection`: when it was lost, every connection made before it is dropped when next
    // taken, instead of failing one call each.
    void note_if_lost(const PostgresConnection& connection);
    // The write connection, made again when there is none or it is not usable; callers hold write_mutex_.
    Result<PostgresConnection*> write_connection();
    // An idle read connection, else a new one while fewer than kReadConnections are open, else the next one
    // given back.
    Result<ReadLease> read_connection();
    void give_back(std::unique_ptr<PostgresConnection> connection);

    std::string dsn_;
    const std::string instance_;
    const std::string claim_token_; // names the claims this object makes (LedgerTransaction::claim_rollback)
    int schema_version_ = 0;        // set by the constructor, read only after

    std::mutex write_mutex_; // one write at a time on this object's write connection
    std::unique_ptr<PostgresConnection> write_connection_;
    std::mt19937_64 random_{std::random_device{}()}; // under write_mutex_ (generated ids)

    std::mutex read_mutex_; // the read pool
    std::condition_variable read_given_back_;
    std::vector<std::unique_ptr<PostgresConnection>> idle_readers_;
    int open_readers_ = 0; // idle, lent out, or being made

    std::mutex connect_mutex_; // one connect at a time, and its back-off
    std::chrono::steady_clock::time_point last_failed_connect_{};
    std::string last_connect_error_;
    std::atomic<std::uint64_t> generation_{0}; // one more each time a connection is found lost
};

} // namespace rollback
