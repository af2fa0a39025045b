// The ledger on PostgreSQL: RAII owners for the connection and results, migrations under an advisory lock,
// one transaction per write, every value bound as a parameter ($1), never put into SQL text.
#include "ledger/postgres_ledger.hpp"

#include "ledger/ledger_rules.hpp"

#include <libpq-fe.h>
#include <poll.h>

#include <array>
#include <cerrno>
#include <cstdlib>
#include <set>
#include <stdexcept>
#include <string_view>
#include <unordered_map>
#include <utility>

namespace rollback {

// How long a statement waits for the server's answer before its connection is given up: the contract's 503
// within 2 s while PostgreSQL cannot be reached holds for a server that hangs with its connections open too.
constexpr std::chrono::milliseconds kStatementDeadline{1500};

// RAII owner of one libpq connection and the names of the statements prepared on it.
class PostgresConnection {
  public:
    explicit PostgresConnection(PGconn* handle) : handle_(handle) {
        // Notices ("relation already exists, skipping") are not errors: libpq would print them on stderr.
        if (handle_ != nullptr)
            PQsetNoticeProcessor(
                handle_, [](void*, const char*) {}, nullptr);
    }
    ~PostgresConnection() { PQfinish(handle_); }
    PostgresConnection(const PostgresConnection&) = delete;
    PostgresConnection& operator=(const PostgresConnection&) = delete;

    PGconn* handle() const { return handle_; }
    bool lost() const {
        return handle_ == nullptr || !abandoned_.empty() || PQstatus(handle_) != CONNECTION_OK;
    }

    // How long a statement may wait for the server's answer (await_answer).
    std::chrono::milliseconds deadline = kStatementDeadline;
    // Gives the connection up (its server stopped answering mid-statement): lost() from now on, so the next
    // call connects again; `why` is the error of the statement and of any call on it until then.
    void abandon(std::string why) { abandoned_ = std::move(why); }
    const std::string& abandoned() const { return abandoned_; }

    // Statement names by SQL text: each statement is parsed and planned once per connection.
    std::unordered_map<std::string, std::string> prepared;
    // PostgresLedger's generation when this connection was made (PostgresLedger::usable).
    std::uint64_t generation = 0;

  private:
    PGconn* handle_;
    std::string abandoned_;
};

namespace {

using namespace ledger_rules;

// Transaction-scoped advisory lock keys ("rb" + a number): the schema migration, and every write.
constexpr long long kMigrationLock = 0x7262'0000'0001LL;
constexpr long long kWriteLock = 0x7262'0000'0002LL;
// After a failed connect, how long calls get that error again without trying (PostgresLedger::connect).
constexpr auto kConnectBackoff = std::chrono::milliseconds(500);
// The read connections of one PostgresLedger at most (the write connection is one more): reads wait only
// for each other beyond this many at once.
constexpr int kReadConnections = 2;
// The database server's clock in nanoseconds since the epoch: claims are claimed, renewed and found lost by
// one clock, whatever the receivers' clocks say.
constexpr const char* kDatabaseNowNs = "(extract(epoch FROM clock_timestamp()) * 1000000000)::bigint";

struct ResultDeleter {
    void operator()(PGresult* result) const { PQclear(result); }
};
using ResultHandle = std::unique_ptr<PGresult, ResultDeleter>; // RAII owner of one PGresult

// libpq's multi-line messages as one line.
std::string one_line(std::string_view text) {
    std::string line;
    for (const char c : text) {
        const bool space = c == '\n' || c == '\t' || c == '\r' || c == ' ';
        if (space && (line.empty() || line.back() == ' ')) continue;
        line += space ? ' ' : c;
    }
    while (!line.empty() && line.back() == ' ')
        line.pop_back();
    return line;
}

std::string describe_failure(const PostgresConnection& connection, const PGresult* result) {
    if (!connection.abandoned().empty()) return connection.abandoned();
    std::string message;
    if (result != nullptr)
        if (const char* primary = PQresultErrorField(result, PG_DIAG_MESSAGE_PRIMARY)) message = primary;
    if (message.empty()) message = one_line(PQerrorMessage(connection.handle()));
    if (connection.lost())
        message += " (the connection to PostgreSQL was lost: the next call connects again)";
    return message;
}

bool succeeded(const PGresult* result) {
    const auto status = PQresultStatus(result); // PGRES_FATAL_ERROR for a null result
    return result != nullptr && (status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK);
}

// The answer to what was just sent on `connection` (sent: what PQsend* returned), waiting at most the
// connection's deadline: a server that stops answering (stopped, or behind a partition that still lets the
// connection stand) gets the connection abandoned, and the caller a null answer whose error says so. Of
// several answers (several statements in one text) the first failure, else the last.
ResultHandle await_answer(PostgresConnection& connection, int sent) {
    if (sent != 1) return nullptr; // PQerrorMessage says why
    PGconn* handle = connection.handle();
    const auto give_up = std::chrono::steady_clock::now() + connection.deadline;
    ResultHandle answer;
    while (true) {
        while (PQisBusy(handle) == 1) {
            const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                give_up - std::chrono::steady_clock::now());
            if (left.count() <= 0) {
                connection.abandon("PostgreSQL did not answer within " +
                                   std::to_string(connection.deadline.count()) +
                                   " ms (the connection was given up: the next call connects again)");
                return nullptr;
            }
            pollfd socket{PQsocket(handle), POLLIN, 0};
            const int ready = ::poll(&socket, 1, static_cast<int>(left.count()));
            if (ready < 0 && errno != EINTR) break;
            if (ready > 0 && PQconsumeInput(handle) == 0) break; // the connection failed: PQgetResult says so
        }
        ResultHandle next(PQgetResult(handle));
        if (!next) return answer;
        if (!answer || succeeded(answer.get())) answer = std::move(next);
    }
}

// The values of one statement's $1, $2, ... in order, as text; NULL where none.
class Parameters {
  public:
    Parameters& text(std::string_view value) {
        values_.emplace_back(std::string(value));
        return *this;
    }
    // NULL for an empty value (columns where "none" must not collide with UNIQUE or REFERENCES).
    Parameters& text_or_null(std::string_view value) {
        if (value.empty()) return null();
        return text(value);
    }
    Parameters& int64(long long value) { return text(std::to_string(value)); }
    Parameters& null() {
        values_.emplace_back(std::nullopt);
        return *this;
    }
    int size() const { return static_cast<int>(values_.size()); }
    std::vector<const char*> pointers() const {
        std::vector<const char*> pointers;
        for (const auto& value : values_)
            pointers.push_back(value ? value->c_str() : nullptr);
        return pointers;
    }

  private:
    std::vector<std::optional<std::string>> values_;
};

// The rows of one statement's answer (every value arrives as text).
class Rows {
  public:
    explicit Rows(ResultHandle result) : result_(std::move(result)) {}
    int count() const { return PQntuples(result_.get()); }
    bool is_null(int row, int column) const { return PQgetisnull(result_.get(), row, column) == 1; }
    std::string text(int row, int column) const {
        if (is_null(row, column)) return {};
        return std::string(PQgetvalue(result_.get(), row, column),
                           static_cast<std::size_t>(PQgetlength(result_.get(), row, column)));
    }
    long long int64(int row, int column) const {
        return std::strtoll(PQgetvalue(result_.get(), row, column), nullptr, 10);
    }
    // The rows an INSERT, UPDATE or DELETE changed.
    long long affected() const { return std::strtoll(PQcmdTuples(result_.get()), nullptr, 10); }

  private:
    ResultHandle result_;
};

// Runs one statement with `parameters` bound to $1, $2, ...; prepared on first use on this connection.
Result<Rows> query(PostgresConnection& connection, const std::string& sql,
                   const Parameters& parameters = Parameters()) {
    auto [found, inserted] = connection.prepared.try_emplace(sql);
    if (inserted) {
        std::string name = "s" + std::to_string(connection.prepared.size());
        const ResultHandle prepared =
            await_answer(connection, PQsendPrepare(connection.handle(), name.c_str(), sql.c_str(),
                                                   parameters.size(), nullptr));
        if (!succeeded(prepared.get())) {
            connection.prepared.erase(found);
            return make_error(describe_failure(connection, prepared.get()));
        }
        found->second = std::move(name);
    }
    const auto values = parameters.pointers();
    ResultHandle result =
        await_answer(connection, PQsendQueryPrepared(connection.handle(), found->second.c_str(),
                                                     parameters.size(), values.data(), nullptr, nullptr, 0));
    if (!succeeded(result.get())) return make_error(describe_failure(connection, result.get()));
    return Rows(std::move(result));
}

// Runs constant SQL without parameters (transaction control, the migrations' DDL, several statements).
Status execute(PostgresConnection& connection, const char* sql) {
    const ResultHandle result = await_answer(connection, PQsendQuery(connection.handle(), sql));
    if (!succeeded(result.get())) return make_error(describe_failure(connection, result.get()));
    return ok_status();
}

// RAII owner of one transaction: ROLLBACK unless committed (and the connection still stands).
class Transaction {
  public:
    static Result<Transaction> begin(PostgresConnection& connection) {
        if (auto begun = execute(connection, "BEGIN"); !begun) return make_error(begun.error());
        return Transaction(connection);
    }
    Transaction(Transaction&& other) noexcept : connection_(std::exchange(other.connection_, nullptr)) {}
    Transaction& operator=(Transaction&&) = delete;
    Transaction(const Transaction&) = delete;
    Transaction& operator=(const Transaction&) = delete;
    ~Transaction() {
        if (connection_ != nullptr && !connection_->lost() &&
            PQtransactionStatus(connection_->handle()) != PQTRANS_IDLE)
            (void)execute(*connection_, "ROLLBACK");
    }

    Status commit() {
        const ResultHandle result = await_answer(*connection_, PQsendQuery(connection_->handle(), "COMMIT"));
        if (!succeeded(result.get()))
            return make_error(describe_failure(*connection_, result.get()) +
                              " (whether the transaction was committed is unknown)");
        // COMMIT of a transaction in which a statement failed answers ROLLBACK: nothing was written.
        if (std::string_view(PQcmdStatus(result.get())) != "COMMIT")
            return make_error("the transaction was rolled back: a statement in it failed");
        connection_ = nullptr;
        return ok_status();
    }

  private:
    explicit Transaction(PostgresConnection& connection) : connection_(&connection) {}
    PostgresConnection* connection_;
};

// Runs `body` (returning Result<T>) in one transaction: committed when it succeeds, rolled back otherwise.
template <typename T, typename Body> Result<T> in_transaction(PostgresConnection& connection, Body&& body) {
    auto transaction = Transaction::begin(connection);
    if (!transaction) return make_error(transaction.error());
    Result<T> result = body();
    if (!result) return result;
    if (auto committed = transaction->commit(); !committed) return make_error(committed.error());
    return result;
}

struct Migration {
    int version;
    const char* name;
    const char* sql;
};

// The same tables, keys and states as the SQLite ledger's (sqlite_ledger.cpp), times as nanoseconds since
// the epoch. Applied in order, in the transaction that holds kMigrationLock; never edit a migration that has
// shipped: add a new one.
constexpr std::array<Migration, 6> kMigrations{{
    {1, "deployments and audit_events", R"sql(
CREATE TABLE deployments (
    seq BIGINT GENERATED ALWAYS AS IDENTITY UNIQUE,
    id TEXT PRIMARY KEY,
    service TEXT NOT NULL,
    environment TEXT NOT NULL DEFAULT '',
    version TEXT NOT NULL,
    previous_version TEXT NOT NULL DEFAULT '',
    deployed_at_ns BIGINT NOT NULL,
    recorded_at_ns BIGINT NOT NULL,
    commit_sha TEXT NOT NULL DEFAULT '',
    url TEXT NOT NULL DEFAULT '',
    actor TEXT NOT NULL DEFAULT '',
    kind TEXT NOT NULL,
    state TEXT NOT NULL,
    rollback_of TEXT REFERENCES deployments (id),
    request_key TEXT NOT NULL DEFAULT ''
);
CREATE INDEX deployments_by_service_environment_time ON deployments (service, environment, deployed_at_ns);
CREATE TABLE audit_events (
    seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    time_ns BIGINT NOT NULL,
    event TEXT NOT NULL,
    service TEXT NOT NULL DEFAULT '',
    environment TEXT NOT NULL DEFAULT '',
    deployment_id TEXT NOT NULL DEFAULT '',
    version TEXT NOT NULL DEFAULT '',
    previous_version TEXT NOT NULL DEFAULT '',
    alertname TEXT NOT NULL DEFAULT '',
    fingerprint TEXT NOT NULL DEFAULT '',
    reason TEXT NOT NULL DEFAULT '',
    detail TEXT NOT NULL DEFAULT '{}',
    dedupe_key TEXT UNIQUE
);
CREATE INDEX audit_events_by_service ON audit_events (service);
CREATE INDEX audit_events_by_deployment ON audit_events (deployment_id);
)sql"},
    {2, "service_pauses", R"sql(
CREATE TABLE service_pauses (
    service TEXT PRIMARY KEY,
    reason TEXT NOT NULL DEFAULT '',
    actor TEXT NOT NULL DEFAULT '',
    paused_at_ns BIGINT NOT NULL,
    until_ns BIGINT
);
)sql"},
    {3, "look-up indexes", R"sql(
CREATE INDEX deployments_by_service_time ON deployments (service, deployed_at_ns);
CREATE INDEX deployments_watching ON deployments (service, environment, deployed_at_ns) WHERE state = 'watching';
CREATE INDEX deployments_rolling_back ON deployments (state) WHERE state = 'rolling_back';
)sql"},
    {4, "the instance of each audit event", R"sql(
ALTER TABLE audit_events ADD COLUMN instance TEXT NOT NULL DEFAULT '';
)sql"},
    {5, "the holder of each rollback claim and its renewal", R"sql(
ALTER TABLE deployments ADD COLUMN claimed_by TEXT NOT NULL DEFAULT '';
ALTER TABLE deployments ADD COLUMN claim_token TEXT NOT NULL DEFAULT '';
ALTER TABLE deployments ADD COLUMN claim_renewed_at_ns BIGINT NOT NULL DEFAULT 0;
)sql"},
    {6, "the shared start of each debounced rollback", R"sql(
CREATE TABLE pending_rollbacks (
    deployment_id TEXT PRIMARY KEY,
    started_at_ns BIGINT NOT NULL,
    instance TEXT NOT NULL DEFAULT ''
);
)sql"},
}};

// Every migration this database lacks, in one transaction under kMigrationLock: receivers starting at the
// same moment wait for the first one, then find the schema in place. Returns the schema version.
Result<int> migrate(PostgresConnection& db) {
    return in_transaction<int>(db, [&]() -> Result<int> {
        if (auto locked =
                query(db, "SELECT pg_advisory_xact_lock($1::bigint)", Parameters().int64(kMigrationLock));
            !locked)
            return make_error(locked.error());
        if (auto created =
                execute(db, "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY "
                            "KEY, name TEXT NOT NULL, applied_at_ns BIGINT NOT NULL)");
            !created)
            return make_error(created.error());
        auto applied = query(db, "SELECT version FROM schema_migrations ORDER BY version");
        if (!applied) return make_error(applied.error());
        std::set<long long> versions;
        for (int row = 0; row < applied->count(); ++row)
            versions.insert(applied->int64(row, 0));
        if (!versions.empty() && *versions.rbegin() > static_cast<long long>(kMigrations.size()))
            return make_error("the database has schema version " + std::to_string(*versions.rbegin()) +
                              ", newer than the " + std::to_string(kMigrations.size()) +
                              " this build knows: run a newer rollback-receiver or point "
                              "ledger.postgres.dsn_file at another database");
        for (const auto& migration : kMigrations) {
            if (versions.count(migration.version) != 0) continue;
            if (auto created = execute(db, migration.sql); !created)
                return make_error("migration " + std::to_string(migration.version) + " (" + migration.name +
                                  "): " + created.error());
            auto recorded = query(db,
                                  "INSERT INTO schema_migrations (version, name, applied_at_ns) VALUES "
                                  "($1::integer, $2, $3::bigint)",
                                  Parameters()
                                      .int64(migration.version)
                                      .text(migration.name)
                                      .int64(to_nanoseconds(Clock::now())));
            if (!recorded) return make_error(recorded.error());
            versions.insert(migration.version);
        }
        return static_cast<int>(versions.size());
    });
}

constexpr const char* kDeploymentColumns =
    "id, service, environment, version, previous_version, deployed_at_ns, "
    "recorded_at_ns, commit_sha, url, actor, kind, state, rollback_of";
constexpr int kDeploymentColumnCount = 13;

// "SELECT <deployment columns><extra columns> FROM deployments <rest>"; every part is constant SQL.
std::string select_deployments(std::string_view rest, std::string_view extra_columns = {}) {
    return std::string("SELECT ") + kDeploymentColumns + std::string(extra_columns) + " FROM deployments " +
           std::string(rest);
}

Result<Deployment> read_deployment(const Rows& rows, int row) {
    Deployment deployment;
    deployment.id = rows.text(row, 0);
    deployment.service = rows.text(row, 1);
    deployment.environment = rows.text(row, 2);
    deployment.version = rows.text(row, 3);
    deployment.previous_version = rows.text(row, 4);
    deployment.deployed_at = from_nanoseconds(rows.int64(row, 5));
    deployment.recorded_at = from_nanoseconds(rows.int64(row, 6));
    deployment.commit = rows.text(row, 7);
    deployment.url = rows.text(row, 8);
    deployment.actor = rows.text(row, 9);
    deployment.rollback_of = rows.text(row, 12);
    if (auto known = set_kind_and_state(deployment, rows.text(row, 10), rows.text(row, 11)); !known)
        return make_error(known.error());
    return deployment;
}

Result<std::vector<Deployment>> read_all_deployments(const Result<Rows>& rows) {
    if (!rows) return make_error(rows.error());
    std::vector<Deployment> deployments;
    for (int row = 0; row < rows->count(); ++row) {
        auto deployment = read_deployment(*rows, row);
        if (!deployment) return make_error(deployment.error());
        deployments.push_back(std::move(*deployment));
    }
    return deployments;
}

Result<std::optional<Deployment>> first_deployment(const Result<Rows>& rows) {
    auto deployments = read_all_deployments(rows);
    if (!deployments) return make_error(deployments.error());
    if (deployments->empty()) return std::optional<Deployment>();
    return std::optional<Deployment>(std::move(deployments->front()));
}

Result<std::optional<Deployment>> find_deployment(PostgresConnection& db, const std::string& id) {
    static const std::string sql = select_deployments("WHERE id = $1");
    return first_deployment(query(db, sql, Parameters().text(id)));
}

// The condition of Ledger::latest_deployment on $1 (service) and $2 (environment), when there is one.
std::string latest_of(bool with_environment) {
    return select_deployments(with_environment
                                  ? "WHERE service = $1 AND (environment = $2 OR environment = '') "
                                    "ORDER BY deployed_at_ns DESC, seq DESC LIMIT 1"
                                  : "WHERE service = $1 ORDER BY deployed_at_ns DESC, seq DESC LIMIT 1");
}

Parameters service_and_environment(const std::string& service, const std::string& environment) {
    Parameters parameters;
    parameters.text(service);
    if (!environment.empty()) parameters.text(environment);
    return parameters;
}

Result<bool> deployment_exists(PostgresConnection& db, const std::string& id) {
    auto rows = query(db, "SELECT 1 FROM deployments WHERE id = $1", Parameters().text(id));
    if (!rows) return make_error(rows.error());
    return rows->count() > 0;
}

// Places a deployment about to be inserted in its service's history (as the SQLite ledger does): every
// `watching` deployment of the same service and environment deployed at or before it becomes `superseded`
// (their ids are returned, in recording order), and the new one is `superseded` itself when a later one is
// already recorded.
Result<std::vector<std::string>> supersede_around(PostgresConnection& db, Deployment& incoming) {
    const auto parameters = Parameters()
                                .text(incoming.service)
                                .text(incoming.environment)
                                .int64(to_nanoseconds(incoming.deployed_at));
    auto later = query(db,
                       "SELECT 1 FROM deployments WHERE service = $1 AND environment = $2 AND "
                       "deployed_at_ns > $3::bigint LIMIT 1",
                       parameters);
    if (!later) return make_error(later.error());
    if (later->count() > 0) incoming.state = DeploymentState::superseded;
    auto superseded = query(db,
                            "WITH changed AS (UPDATE deployments SET state = 'superseded' WHERE service = $1 "
                            "AND environment = $2 AND state = 'watching' AND deployed_at_ns <= $3::bigint "
                            "RETURNING id, seq) SELECT id FROM changed ORDER BY seq",
                            parameters);
    if (!superseded) return make_error(superseded.error());
    std::vector<std::string> ids;
    for (int row = 0; row < superseded->count(); ++row)
        ids.push_back(superseded->text(row, 0));
    return ids;
}

Status insert_deployment(PostgresConnection& db, const Deployment& deployment,
                         const std::string& request_key) {
    auto inserted = query(
        db,
        "INSERT INTO deployments (id, service, environment, version, previous_version, deployed_at_ns, "
        "recorded_at_ns, commit_sha, url, actor, kind, state, rollback_of, request_key) VALUES ($1, $2, "
        "$3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)",
        Parameters()
            .text(deployment.id)
            .text(deployment.service)
            .text(deployment.environment)
            .text(deployment.version)
            .text(deployment.previous_version)
            .int64(to_nanoseconds(deployment.deployed_at))
            .int64(to_nanoseconds(deployment.recorded_at))
            .text(deployment.commit)
            .text(deployment.url)
            .text(deployment.actor)
            .text(to_string(deployment.kind))
            .text(to_string(deployment.state))
            .text_or_null(deployment.rollback_of)
            .text(request_key));
    if (!inserted) return make_error(inserted.error());
    return ok_status();
}

// The writes of one PostgresLedger::write, on its connection inside its transaction (which holds
// kWriteLock: each statement sees every write committed before this one began).
class PostgresTransaction final : public LedgerTransaction {
  public:
    PostgresTransaction(PostgresConnection& db, std::mt19937_64& random, const std::string& instance,
                        const std::string& claim_token)
        : db_(db), random_(random), instance_(instance), claim_token_(claim_token) {}

    Result<RecordResult> record_deployment(const DeploymentRequest& request, const std::string& request_key,
                                           TimePoint now) override {
        std::string id = request.id;
        if (!id.empty()) {
            static const std::string sql = select_deployments("WHERE id = $1", ", request_key");
            auto stored = query(db_, sql, Parameters().text(id));
            if (!stored) return make_error(stored.error());
            if (stored->count() > 0) {
                auto deployment = read_deployment(*stored, 0);
                if (!deployment) return make_error(deployment.error());
                const bool same_request = stored->text(0, kDeploymentColumnCount) == request_key;
                return RecordResult{same_request ? RecordOutcome::repeated : RecordOutcome::conflict,
                                    std::move(*deployment),
                                    {}};
            }
        } else {
            auto generated = generate_id(request.service, now);
            if (!generated) return make_error(generated.error());
            id = std::move(*generated);
        }
        Deployment deployment = deployment_from_request(request, std::move(id), now);
        if (deployment.previous_version.empty()) {
            auto before = query(db_,
                                "SELECT version FROM deployments WHERE service = $1 AND environment = $2 AND "
                                "deployed_at_ns <= $3::bigint ORDER BY deployed_at_ns DESC, seq DESC LIMIT 1",
                                Parameters()
                                    .text(deployment.service)
                                    .text(deployment.environment)
                                    .int64(to_nanoseconds(deployment.deployed_at)));
            if (!before) return make_error(before.error());
            if (before->count() > 0) deployment.previous_version = before->text(0, 0);
        }
        auto superseded_ids = supersede_around(db_, deployment);
        if (!superseded_ids) return make_error(superseded_ids.error());
        if (auto inserted = insert_deployment(db_, deployment, request_key); !inserted)
            return make_error(inserted.error());
        return RecordResult{RecordOutcome::created, std::move(deployment), std::move(*superseded_ids)};
    }

    // One statement: when two receivers send it at once, the second waits for the first's row lock, then
    // finds the state no longer `watching` and changes nothing.
    Result<bool> claim_rollback(const std::string& id) override {
        static const std::string sql =
            std::string("UPDATE deployments SET state = 'rolling_back', claimed_by = "
                        "$2, claim_token = $3, claim_renewed_at_ns = ") +
            kDatabaseNowNs + " WHERE id = $1 AND state = 'watching' RETURNING id";
        auto claimed = query(db_, sql, Parameters().text(id).text(instance_).text(claim_token_));
        if (!claimed) return make_error(claimed.error());
        return claimed->count() == 1;
    }

    Result<bool> holds_claim(const std::string& id) override {
        auto held = query(
            db_, "SELECT 1 FROM deployments WHERE id = $1 AND state = 'rolling_back' AND claim_token = $2",
            Parameters().text(id).text(claim_token_));
        if (!held) return make_error(held.error());
        return held->count() == 1;
    }

    Result<int> renew_claims() override {
        static const std::string sql = std::string("UPDATE deployments SET claim_renewed_at_ns = ") +
                                       kDatabaseNowNs + " WHERE state = 'rolling_back' AND claim_token = $1";
        auto renewed = query(db_, sql, Parameters().text(claim_token_));
        if (!renewed) return make_error(renewed.error());
        return static_cast<int>(renewed->affected());
    }

    Result<Deployment> complete_rollback(const std::string& id, TimePoint now) override {
        static const std::string sql = select_deployments("WHERE id = $1 FOR UPDATE");
        auto found = first_deployment(query(db_, sql, Parameters().text(id)));
        if (!found) return make_error(found.error());
        if (!found->has_value()) return not_in_ledger(id);
        const Deployment& original = **found;
        if (original.state != DeploymentState::rolling_back) return not_rolling_back(original);
        if (auto finished = query(db_, "UPDATE deployments SET state = 'rolled_back' WHERE id = $1",
                                  Parameters().text(id));
            !finished)
            return make_error(finished.error());
        std::string free_id;
        for (int attempt = 0;; ++attempt) {
            free_id = rollback_id(id, attempt);
            auto taken = deployment_exists(db_, free_id);
            if (!taken) return make_error(taken.error());
            if (!*taken) break;
        }
        Deployment rollback = rollback_deployment(original, std::move(free_id), now);
        // What the rollback put live replaces whatever was deployed meanwhile, as a CI deployment would.
        if (auto superseded = supersede_around(db_, rollback); !superseded)
            return make_error(superseded.error());
        if (auto inserted = insert_deployment(db_, rollback, ""); !inserted)
            return make_error(inserted.error());
        return rollback;
    }

    Status fail_rollback(const std::string& id, DeploymentState final_state) override {
        if (auto allowed = check_final_state(final_state); !allowed) return allowed;
        auto updated =
            query(db_, "UPDATE deployments SET state = $1 WHERE id = $2 AND state = 'rolling_back'",
                  Parameters().text(to_string(final_state)).text(id));
        if (!updated) return make_error(updated.error());
        if (updated->affected() == 1) return ok_status();
        auto found = find_deployment(db_, id);
        if (!found) return make_error(found.error());
        if (!found->has_value()) return not_in_ledger(id);
        return not_rolling_back(**found);
    }

    Result<std::vector<LostClaim>> interrupt_lost_claims(std::optional<Duration> lease) override {
        static const std::string sql =
            std::string(
                "WITH changed AS (UPDATE deployments SET state = 'rollback_interrupted' WHERE state = "
                "'rolling_back' AND claim_token <> $1 AND ($2::bigint IS NULL OR claim_renewed_at_ns < ") +
            kDatabaseNowNs + " - $2::bigint) RETURNING seq, claimed_by, claim_renewed_at_ns, " +
            kDeploymentColumns + ") SELECT " + kDeploymentColumns +
            ", claimed_by, claim_renewed_at_ns FROM changed ORDER BY seq";
        Parameters parameters;
        parameters.text(claim_token_);
        if (lease)
            parameters.int64(std::chrono::duration_cast<std::chrono::nanoseconds>(*lease).count());
        else
            parameters.null();
        auto rows = query(db_, sql, parameters);
        if (!rows) return make_error(rows.error());
        std::vector<LostClaim> lost;
        for (int row = 0; row < rows->count(); ++row) {
            auto deployment = read_deployment(*rows, row);
            if (!deployment) return make_error(deployment.error());
            lost.push_back({std::move(*deployment), rows->text(row, kDeploymentColumnCount),
                            from_nanoseconds(rows->int64(row, kDeploymentColumnCount + 1))});
        }
        return lost;
    }

    // Under the write lock, so the INSERT either stores the start or finds the one stored first.
    Result<PendingStart> begin_pending(const std::string& deployment_id, TimePoint now) override {
        auto inserted =
            query(db_,
                  "INSERT INTO pending_rollbacks (deployment_id, started_at_ns, instance) VALUES ($1, "
                  "$2::bigint, $3) ON CONFLICT (deployment_id) DO NOTHING RETURNING started_at_ns",
                  Parameters().text(deployment_id).int64(to_nanoseconds(now)).text(instance_));
        if (!inserted) return make_error(inserted.error());
        if (inserted->count() == 1) return PendingStart{now, true};
        auto stored = query(db_, "SELECT started_at_ns FROM pending_rollbacks WHERE deployment_id = $1",
                            Parameters().text(deployment_id));
        if (!stored) return make_error(stored.error());
        if (stored->count() != 1)
            return make_error("the debounce start of \"" + deployment_id + "\" vanished");
        return PendingStart{from_nanoseconds(stored->int64(0, 0)), false};
    }

    Result<bool> end_pending(const std::string& deployment_id) override {
        auto deleted = query(db_, "DELETE FROM pending_rollbacks WHERE deployment_id = $1",
                             Parameters().text(deployment_id));
        if (!deleted) return make_error(deleted.error());
        return deleted->affected() == 1;
    }

    Status pause_service(const ServicePause& pause) override {
        Parameters parameters;
        parameters.text(pause.service)
            .text(pause.reason)
            .text(pause.actor)
            .int64(to_nanoseconds(pause.paused_at));
        if (pause.until)
            parameters.int64(to_nanoseconds(*pause.until));
        else
            parameters.null();
        auto upserted = query(
            db_,
            "INSERT INTO service_pauses (service, reason, actor, paused_at_ns, until_ns) VALUES ($1, $2, "
            "$3, $4, $5) ON CONFLICT (service) DO UPDATE SET reason = excluded.reason, actor = "
            "excluded.actor, paused_at_ns = excluded.paused_at_ns, until_ns = excluded.until_ns",
            parameters);
        if (!upserted) return make_error(upserted.error());
        return ok_status();
    }

    Result<bool> resume_service(const std::string& service) override {
        auto deleted =
            query(db_, "DELETE FROM service_pauses WHERE service = $1", Parameters().text(service));
        if (!deleted) return make_error(deleted.error());
        return deleted->affected() == 1;
    }

    // A repeated key writes nothing (no row, no sequence number taken): the NOT EXISTS is checked first.
    Result<bool> append_audit(AuditEvent& event, const std::string& dedupe_key) override {
        if (event.instance.empty()) event.instance = instance_;
        auto inserted = query(
            db_,
            "INSERT INTO audit_events (time_ns, event, service, environment, deployment_id, version, "
            "previous_version, alertname, fingerprint, reason, detail, instance, dedupe_key) SELECT "
            "$1::bigint, $2::text, $3::text, $4::text, $5::text, $6::text, $7::text, $8::text, $9::text, "
            "$10::text, $11::text, $12::text, $13::text WHERE $13::text IS NULL OR NOT EXISTS (SELECT 1 FROM "
            "audit_events WHERE dedupe_key = $13::text) ON CONFLICT (dedupe_key) DO NOTHING RETURNING seq",
            Parameters()
                .int64(to_nanoseconds(event.time))
                .text(event.event)
                .text(event.service)
                .text(event.environment)
                .text(event.deployment_id)
                .text(event.version)
                .text(event.previous_version)
                .text(event.alertname)
                .text(event.fingerprint)
                .text(event.reason)
                .text(event.detail)
                .text(event.instance)
                .text_or_null(dedupe_key)); // NULLs never collide: no key, no de-duplication
        if (!inserted) return make_error(inserted.error());
        if (inserted->count() == 0) return false;
        event.sequence = inserted->int64(0, 0);
        return true;
    }

  private:
    Result<std::string> generate_id(const std::string& service, TimePoint now) {
        const std::string prefix = generated_id_prefix(service, now);
        for (int attempt = 0; attempt < kGeneratedIdAttempts; ++attempt) {
            std::string id = generated_id(prefix, static_cast<unsigned>(random_() & 0xffffU));
            auto taken = deployment_exists(db_, id);
            if (!taken) return make_error(taken.error());
            if (!*taken) return id;
        }
        return no_free_generated_id(prefix);
    }

    PostgresConnection& db_;
    std::mt19937_64& random_;
    const std::string& instance_;
    const std::string& claim_token_;
};

constexpr const char* kPauseColumns = "service, reason, actor, paused_at_ns, until_ns";

ServicePause read_pause(const Rows& rows, int row, int first_column) {
    ServicePause pause;
    pause.service = rows.text(row, first_column);
    pause.reason = rows.text(row, first_column + 1);
    pause.actor = rows.text(row, first_column + 2);
    pause.paused_at = from_nanoseconds(rows.int64(row, first_column + 3));
    if (!rows.is_null(row, first_column + 4))
        pause.until = from_nanoseconds(rows.int64(row, first_column + 4));
    return pause;
}

} // namespace

// A read connection lent out of the pool; it goes back (or, lost, is dropped) when the lease ends.
class PostgresLedger::ReadLease {
  public:
    ReadLease(PostgresLedger& ledger, std::unique_ptr<PostgresConnection> connection)
        : ledger_(&ledger), connection_(std::move(connection)) {}
    ReadLease(ReadLease&& other) noexcept = default;
    ReadLease& operator=(ReadLease&&) = delete;
    ReadLease(const ReadLease&) = delete;
    ReadLease& operator=(const ReadLease&) = delete;
    ~ReadLease() {
        if (connection_) ledger_->give_back(std::move(connection_));
    }

    PostgresConnection& operator*() const { return *connection_; }

  private:
    PostgresLedger* ledger_;
    std::unique_ptr<PostgresConnection> connection_;
};

PostgresLedger::PostgresLedger(std::string dsn, std::string instance)
    : dsn_(std::move(dsn)), instance_(std::move(instance)), claim_token_(new_claim_token()) {
    if (dsn_.empty())
        throw std::runtime_error(
            "ledger: the PostgreSQL connection string is empty (ledger.postgres.dsn_file)");
    auto connected = write_connection();
    if (!connected) throw std::runtime_error("ledger: " + connected.error());
    // Migrating may take long (an index on a large table), and so may waiting for another receiver's.
    (*connected)->deadline = std::chrono::minutes(5);
    auto migrated = migrate(**connected);
    (*connected)->deadline = kStatementDeadline;
    if (!migrated)
        throw std::runtime_error("ledger: cannot migrate the PostgreSQL schema: " + migrated.error());
    schema_version_ = *migrated;
    // The first read connection now, so a server that takes no more connections (max_connections) is found
    // at start-up, not at the first look-up.
    if (auto reader = read_connection(); !reader) throw std::runtime_error("ledger: " + reader.error());
}

PostgresLedger::~PostgresLedger() = default;

Result<std::unique_ptr<PostgresConnection>> PostgresLedger::connect() {
    std::lock_guard lock(connect_mutex_);
    if (!last_connect_error_.empty() &&
        std::chrono::steady_clock::now() - last_failed_connect_ < kConnectBackoff)
        return make_error(last_connect_error_);
    // The DSN's own settings come after ours and win (expand_dbname: the dbname value is the whole DSN).
    // connect_timeout 2 is libpq's least; keepalives and tcp_user_timeout notice a peer that went away
    // while data waits for its acknowledgement.
    const std::array<const char*, 9> keywords{"connect_timeout",
                                              "application_name",
                                              "keepalives",
                                              "keepalives_idle",
                                              "keepalives_interval",
                                              "keepalives_count",
                                              "tcp_user_timeout",
                                              "dbname",
                                              nullptr};
    const std::array<const char*, 9> values{"2",    "rollback-receiver", "1",    "5", "1", "3",
                                            "1500", dsn_.c_str(),        nullptr};
    auto made = std::make_unique<PostgresConnection>(PQconnectdbParams(keywords.data(), values.data(), 1));
    if (made->lost()) {
        // From the failure, not the attempt's start: calls that waited out a 2 s connect timeout answer too.
        last_failed_connect_ = std::chrono::steady_clock::now();
        last_connect_error_ = "cannot connect to PostgreSQL: " + one_line(PQerrorMessage(made->handle()));
        return make_error(last_connect_error_);
    }
    last_connect_error_.clear();
    made->generation = generation_.load();
    return made;
}

bool PostgresLedger::usable(const PostgresConnection& connection) const {
    return !connection.lost() && connection.generation == generation_.load();
}

void PostgresLedger::note_if_lost(const PostgresConnection& connection) {
    if (!connection.lost()) return;
    // Only the first loss of a generation counts: an older connection found lost later changes nothing.
    std::uint64_t lost_generation = connection.generation;
    generation_.compare_exchange_strong(lost_generation, lost_generation + 1);
}

Result<PostgresConnection*> PostgresLedger::write_connection() {
    if (write_connection_ && usable(*write_connection_)) return write_connection_.get();
    write_connection_.reset();
    auto made = connect();
    if (!made) return make_error(made.error());
    write_connection_ = std::move(*made);
    return write_connection_.get();
}

Result<PostgresLedger::ReadLease> PostgresLedger::read_connection() {
    std::vector<std::unique_ptr<PostgresConnection>> dropped; // closed after the lock is released
    std::unique_lock lock(read_mutex_);
    for (;;) {
        while (!idle_readers_.empty()) {
            auto connection = std::move(idle_readers_.back());
            idle_readers_.pop_back();
            if (usable(*connection)) return ReadLease(*this, std::move(connection));
            --open_readers_;
            dropped.push_back(std::move(connection));
        }
        if (open_readers_ < kReadConnections) break;
        read_given_back_.wait(lock);
    }
    ++open_readers_;
    lock.unlock();
    auto made = connect();
    if (!made) {
        lock.lock();
        --open_readers_;
        lock.unlock();
        read_given_back_.notify_one(); // a caller waiting for a connection may now try (or get the back-off)
        return make_error(made.error());
    }
    return ReadLease(*this, std::move(*made));
}

void PostgresLedger::give_back(std::unique_ptr<PostgresConnection> connection) {
    note_if_lost(*connection);
    {
        std::lock_guard lock(read_mutex_);
        if (usable(*connection))
            idle_readers_.push_back(std::move(connection));
        else
            --open_readers_;
    }
    read_given_back_.notify_one();
}

Status PostgresLedger::check_reachable() {
    auto db = read_connection();
    if (!db) return labelled("checking the connection", Status(Error{db.error()}));
    return labelled("checking the connection", Status(execute(**db, "SELECT 1")));
}

Status PostgresLedger::write(std::string_view what, const WriteBody& body) {
    std::lock_guard lock(write_mutex_);
    auto run = [&]() -> Status {
        auto db = write_connection();
        if (!db) return make_error(db.error());
        return in_transaction<Done>(**db, [&]() -> Status {
            // One writer at a time across receivers, as SQLite's BEGIN IMMEDIATE has it across processes:
            // audit sequences are then in commit order (a reader paging with after_sequence never skips one),
            // and the id and supersede checks see every deployment committed before.
            if (auto locked =
                    query(**db, "SELECT pg_advisory_xact_lock($1::bigint)", Parameters().int64(kWriteLock));
                !locked)
                return make_error(locked.error());
            PostgresTransaction transaction(**db, random_, instance_, claim_token_);
            return body(transaction);
        });
    };
    auto written = run();
    if (write_connection_) note_if_lost(*write_connection_);
    return labelled(what, std::move(written));
}

Result<std::optional<Deployment>> PostgresLedger::get_deployment(const std::string& id) {
    auto read = [&]() -> Result<std::optional<Deployment>> {
        auto db = read_connection();
        if (!db) return make_error(db.error());
        return find_deployment(**db, id);
    };
    return labelled("reading deployment", id, read());
}

Result<std::optional<Deployment>> PostgresLedger::latest_deployment(const std::string& service,
                                                                    const std::string& environment) {
    auto read = [&]() -> Result<std::optional<Deployment>> {
        auto db = read_connection();
        if (!db) return make_error(db.error());
        static const std::string any_environment = latest_of(false);
        static const std::string one_environment = latest_of(true);
        return first_deployment(query(**db, environment.empty() ? any_environment : one_environment,
                                      service_and_environment(service, environment)));
    };
    return labelled("finding the latest deployment of", service, read());
}

// One statement, so one snapshot: the latest deployment and its service's pause.
Result<AlertTarget> PostgresLedger::alert_target(const std::string& service, const std::string& environment) {
    auto read = [&]() -> Result<AlertTarget> {
        auto db = read_connection();
        if (!db) return make_error(db.error());
        static const auto with_pause = [](bool with_environment) {
            return "WITH latest AS (" + latest_of(with_environment) +
                   ") SELECT latest.*, p.service, p.reason, " +
                   "p.actor, p.paused_at_ns, p.until_ns FROM latest LEFT JOIN service_pauses p ON p.service "
                   "= " +
                   "latest.service";
        };
        static const std::string any_environment = with_pause(false);
        static const std::string one_environment = with_pause(true);
        auto rows = query(**db, environment.empty() ? any_environment : one_environment,
                          service_and_environment(service, environment));
        if (!rows) return make_error(rows.error());
        AlertTarget found;
        if (rows->count() == 0) return found;
        auto deployment = read_deployment(*rows, 0);
        if (!deployment) return make_error(deployment.error());
        found.deployment = std::move(*deployment);
        if (!rows->is_null(0, kDeploymentColumnCount))
            found.pause = read_pause(*rows, 0, kDeploymentColumnCount);
        return found;
    };
    return labelled("finding the latest deployment and pause of", service, read());
}

Result<std::vector<Deployment>> PostgresLedger::list_deployments(const DeploymentFilter& filter) {
    auto list = [&]() -> Result<std::vector<Deployment>> {
        auto db = read_connection();
        if (!db) return make_error(db.error());
        Parameters parameters;
        std::string conditions = "WHERE 1 = 1";
        if (!filter.service.empty()) {
            parameters.text(filter.service);
            conditions += " AND service = $" + std::to_string(parameters.size());
        }
        if (!filter.environment.empty()) {
            parameters.text(filter.environment);
            conditions += " AND environment = $" + std::to_string(parameters.size());
        }
        parameters.int64(clamp_limit(filter.limit));
        return read_all_deployments(
            query(**db,
                  select_deployments(conditions + " ORDER BY deployed_at_ns DESC, seq DESC LIMIT $" +
                                     std::to_string(parameters.size()) + "::bigint"),
                  parameters));
    };
    return labelled("listing deployments", list());
}

Result<std::vector<AuditEvent>> PostgresLedger::list_audit(const AuditFilter& filter) {
    auto list = [&]() -> Result<std::vector<AuditEvent>> {
        auto db = read_connection();
        if (!db) return make_error(db.error());
        Parameters parameters;
        parameters.int64(filter.after_sequence);
        std::string sql =
            "SELECT seq, time_ns, event, service, environment, deployment_id, version, "
            "previous_version, alertname, fingerprint, reason, detail, instance FROM audit_events "
            "WHERE seq > $1::bigint";
        if (!filter.service.empty()) {
            parameters.text(filter.service);
            sql += " AND service = $" + std::to_string(parameters.size());
        }
        if (!filter.deployment_id.empty()) {
            parameters.text(filter.deployment_id);
            sql += " AND deployment_id = $" + std::to_string(parameters.size());
        }
        parameters.int64(clamp_limit(filter.limit));
        sql += " ORDER BY seq DESC LIMIT $" + std::to_string(parameters.size()) + "::bigint";
        auto rows = query(**db, sql, parameters);
        if (!rows) return make_error(rows.error());
        std::vector<AuditEvent> events;
        for (int row = 0; row < rows->count(); ++row) {
            AuditEvent event;
            event.sequence = rows->int64(row, 0);
            event.time = from_nanoseconds(rows->int64(row, 1));
            event.event = rows->text(row, 2);
            event.service = rows->text(row, 3);
            event.environment = rows->text(row, 4);
            event.deployment_id = rows->text(row, 5);
            event.version = rows->text(row, 6);
            event.previous_version = rows->text(row, 7);
            event.alertname = rows->text(row, 8);
            event.fingerprint = rows->text(row, 9);
            event.reason = rows->text(row, 10);
            event.detail = rows->text(row, 11);
            event.instance = rows->text(row, 12);
            events.push_back(std::move(event));
        }
        return events;
    };
    return labelled("listing the audit trail", list());
}

Result<std::optional<ServicePause>> PostgresLedger::service_pause(const std::string& service) {
    auto read = [&]() -> Result<std::optional<ServicePause>> {
        auto db = read_connection();
        if (!db) return make_error(db.error());
        static const std::string sql =
            std::string("SELECT ") + kPauseColumns + " FROM service_pauses WHERE service = $1";
        auto rows = query(**db, sql, Parameters().text(service));
        if (!rows) return make_error(rows.error());
        if (rows->count() == 0) return std::optional<ServicePause>();
        return std::optional<ServicePause>(read_pause(*rows, 0, 0));
    };
    return labelled("reading the pause of", service, read());
}

Result<std::vector<ServicePause>> PostgresLedger::list_service_pauses() {
    auto read = [&]() -> Result<std::vector<ServicePause>> {
        auto db = read_connection();
        if (!db) return make_error(db.error());
        static const std::string sql =
            std::string("SELECT ") + kPauseColumns + " FROM service_pauses ORDER BY service";
        auto rows = query(**db, sql);
        if (!rows) return make_error(rows.error());
        std::vector<ServicePause> pauses;
        for (int row = 0; row < rows->count(); ++row)
            pauses.push_back(read_pause(*rows, row, 0));
        return pauses;
    };
    return labelled("listing pauses", read());
}

int PostgresLedger::schema_version() {
    return schema_version_;
}

} // namespace rollback
