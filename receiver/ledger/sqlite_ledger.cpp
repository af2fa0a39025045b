// The ledger on SQLite: RAII owners for the connection and statements, migrations, one transaction per write.
#include "ledger/sqlite_ledger.hpp"

#include "common/files.hpp"
#include "common/unique_fd.hpp"
#include "ledger/ledger_rules.hpp"

#include <fcntl.h>
#include <sqlite3.h>
#include <sys/statvfs.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <limits>
#include <random>
#include <stdexcept>
#include <string_view>
#include <system_error>
#include <unordered_map>
#include <utility>

namespace rollback {

// RAII owner of one SQLite connection. Opening only: the pragmas and migrations run in SqliteLedger's
// constructor, once this object owns the handle and will close it whatever happens.
class SqliteDatabase {
  public:
    explicit SqliteDatabase(const std::string& path) : path_(path) {
        sqlite3* handle = nullptr;
        // NOMUTEX: the Ledger's own mutex serialises every use of this connection.
        const int rc = sqlite3_open_v2(
            path.c_str(), &handle, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, nullptr);
        handle_ = handle; // sqlite3_open_v2 may hand back a handle even when it fails: close it either way
        if (rc != SQLITE_OK) {
            const std::string message = describe_failure(rc);
            sqlite3_close_v2(handle_);
            handle_ = nullptr;
            throw std::runtime_error("ledger: cannot open " + path + ": " + message);
        }
    }
    ~SqliteDatabase() {
        for (auto& [sql, entry] : statement_cache_)
            sqlite3_finalize(entry.first);
        sqlite3_close_v2(handle_);
    }
    // Prepared statements kept for reuse, by SQL text, with whether one is in use now (a Statement holds
    // it): preparing was 38% of the receiver's CPU under load (docs/benchmark.md). Owned here, finalized
    // with the connection.
    std::unordered_map<std::string, std::pair<sqlite3_stmt*, bool>> statement_cache_;
    SqliteDatabase(const SqliteDatabase&) = delete;
    SqliteDatabase& operator=(const SqliteDatabase&) = delete;

    sqlite3* handle() const { return handle_; }
    const std::string& path() const { return path_; }

    // The message of the call that just failed with `rc`, and what the operator can do about it.
    std::string describe_failure(int rc) const {
        std::string message = handle_ != nullptr ? sqlite3_errmsg(handle_) : sqlite3_errstr(rc);
        switch (rc & 0xff) {
        case SQLITE_READONLY:
        case SQLITE_PERM:
        case SQLITE_CANTOPEN:
        case SQLITE_IOERR:
            // SQLite says "disk I/O error" when the file system turned read-only under it (ext4 does so
            // after an error): name the cause, which has its own fix.
            if (on_read_only_file_system())
                return message + " (the file system holding " + path_ +
                       " is mounted read-only: check it, then remount it read-write)";
            break;
        default:
            break;
        }
        switch (rc & 0xff) {
        case SQLITE_FULL:
            return message + " (free disk space on the file system holding " + path_ + ")";
        case SQLITE_READONLY:
        case SQLITE_PERM:
        case SQLITE_CANTOPEN:
            return message + " (make " + path_ +
                   ", its -wal and -shm files and its folder writable by this user)";
        case SQLITE_BUSY:
        case SQLITE_LOCKED:
            return message + " (another process kept " + path_ + " locked for more than 5 s)";
        case SQLITE_IOERR:
            return message + " (check the disk holding " + path_ + ")";
        case SQLITE_CORRUPT:
        case SQLITE_NOTADB:
            return message + " (" + path_ + " is damaged or not a ledger: move it away and restart)";
        default:
            return message;
        }
    }

    // True when the ledger's folder is on a read-only file system: mounted so, or turned so by the kernel
    // after an error (ext4 then still shows "rw" in statvfs and the mount options, so a new unnamed file
    // is the test that tells).
    bool on_read_only_file_system() const {
        if (path_ == ":memory:") return false;
        const std::string parent = std::filesystem::path(path_).parent_path().string();
        const std::string folder = parent.empty() ? "." : parent;
        struct statvfs file_system {};
        if (::statvfs(folder.c_str(), &file_system) == 0 && (file_system.f_flag & ST_RDONLY) != 0)
            return true;
        const UniqueFd probe(::open(folder.c_str(), O_TMPFILE | O_WRONLY | O_CLOEXEC, 0600));
        return !probe.valid() && errno == EROFS;
    }

    std::uint32_t random_suffix() { return static_cast<std::uint32_t>(random_() & 0xffffU); }

    int schema_version() const { return schema_version_; }
    void set_schema_version(int version) { schema_version_ = version; }

  private:
    std::string path_;
    sqlite3* handle_ = nullptr;
    std::mt19937_64 random_{std::random_device{}()};
    int schema_version_ = 0;
};

namespace {

using namespace ledger_rules;

// RAII owner of one prepared statement. Values are bound by parameter name (":id"), never put into SQL text.
class Statement {
  public:
    static Result<Statement> prepare(SqliteDatabase& db, std::string_view sql) {
        auto& cache = db.statement_cache_;
        auto found = cache.find(std::string(sql));
        if (found != cache.end() && !found->second.second) {
            found->second.second = true;
            Statement statement(db, found->second.first);
            statement.cached_ = &found->second.second;
            return statement;
        }
        sqlite3_stmt* handle = nullptr;
        const int rc = sqlite3_prepare_v3(db.handle(), sql.data(), static_cast<int>(sql.size()),
                                          SQLITE_PREPARE_PERSISTENT, &handle, nullptr);
        if (rc != SQLITE_OK) {
            sqlite3_finalize(handle);
            return make_error(db.describe_failure(rc));
        }
        if (found == cache.end() && handle != nullptr) {
            auto [inserted, ok] = cache.emplace(std::string(sql), std::make_pair(handle, true));
            Statement statement(db, handle);
            statement.cached_ = &inserted->second.second;
            return statement;
        }
        return Statement(db, handle);
    }

    Statement(Statement&& other) noexcept
        : db_(other.db_), handle_(std::exchange(other.handle_, nullptr)),
          bind_failure_(std::move(other.bind_failure_)), cached_(std::exchange(other.cached_, nullptr)) {}
    Statement& operator=(Statement&&) = delete;
    Statement(const Statement&) = delete;
    Statement& operator=(const Statement&) = delete;
    ~Statement() {
        if (cached_ != nullptr) {
            sqlite3_reset(handle_);
            sqlite3_clear_bindings(handle_);
            *cached_ = false;
        } else {
            sqlite3_finalize(handle_);
        }
    }

    void bind_text(const char* name, std::string_view value) {
        const int index = parameter_index(name);
        if (index == 0) return;
        check_bind(name, sqlite3_bind_text64(handle_, index, value.data(), value.size(), SQLITE_TRANSIENT,
                                             SQLITE_UTF8));
    }
    // NULL for an empty value (columns where "none" must not collide with UNIQUE or REFERENCES).
    void bind_text_or_null(const char* name, std::string_view value) {
        if (!value.empty()) return bind_text(name, value);
        const int index = parameter_index(name);
        if (index != 0) check_bind(name, sqlite3_bind_null(handle_, index));
    }
    void bind_int64(const char* name, long long value) {
        const int index = parameter_index(name);
        if (index != 0) check_bind(name, sqlite3_bind_int64(handle_, index, value));
    }

    // True when a row is ready to read, false when the statement has finished.
    Result<bool> step() {
        if (!bind_failure_.empty()) return make_error(bind_failure_);
        const int rc = sqlite3_step(handle_);
        if (rc == SQLITE_ROW) return true;
        if (rc == SQLITE_DONE) return false;
        return make_error(db_->describe_failure(rc));
    }

    // Runs a statement that returns no rows.
    Status run() {
        auto stepped = step();
        if (!stepped) return make_error(stepped.error());
        return ok_status();
    }

    std::string column_text(int column) const {
        const auto* text = reinterpret_cast<const char*>(sqlite3_column_text(handle_, column));
        if (text == nullptr) return {};
        return std::string(text, static_cast<std::size_t>(sqlite3_column_bytes(handle_, column)));
    }
    long long column_int64(int column) const { return sqlite3_column_int64(handle_, column); }
    bool column_is_null(int column) const { return sqlite3_column_type(handle_, column) == SQLITE_NULL; }

  private:
    Statement(SqliteDatabase& db, sqlite3_stmt* handle) : db_(&db), handle_(handle) {}

    int parameter_index(const char* name) {
        const int index = sqlite3_bind_parameter_index(handle_, name);
        if (index == 0 && bind_failure_.empty())
            bind_failure_ = std::string("internal error: the statement has no parameter ") + name;
        return index;
    }
    void check_bind(const char* name, int rc) {
        if (rc != SQLITE_OK && bind_failure_.empty())
            bind_failure_ = std::string("binding ") + name + ": " + db_->describe_failure(rc);
    }

    SqliteDatabase* db_;
    sqlite3_stmt* handle_;
    std::string bind_failure_; // the first bind that failed, reported by step()
    bool* cached_ =
        nullptr; // the cache's in-use flag when the handle belongs to the cache: reset, not finalized
};

// Runs constant SQL (pragmas, DDL, transaction control); never used with values from outside.
Status execute(SqliteDatabase& db, const char* sql) {
    const std::string_view text(sql);
    if (text == "BEGIN IMMEDIATE" || text == "BEGIN" || text == "COMMIT") {
        auto statement = Statement::prepare(db, text);
        if (!statement) return make_error(statement.error());
        return statement->run();
    }
    const int rc = sqlite3_exec(db.handle(), sql, nullptr, nullptr, nullptr);
    if (rc != SQLITE_OK) return make_error(db.describe_failure(rc));
    return ok_status();
}

// RAII owner of one write transaction: BEGIN IMMEDIATE takes the write lock at once (waiting up to the
// busy timeout), so a statement inside never fails with a stale snapshot; ROLLBACK unless committed.
class WriteTransaction {
  public:
    static Result<WriteTransaction> begin(SqliteDatabase& db) {
        if (auto begun = execute(db, "BEGIN IMMEDIATE"); !begun) return make_error(begun.error());
        return WriteTransaction(db);
    }
    WriteTransaction(WriteTransaction&& other) noexcept : db_(std::exchange(other.db_, nullptr)) {}
    WriteTransaction& operator=(WriteTransaction&&) = delete;
    WriteTransaction(const WriteTransaction&) = delete;
    WriteTransaction& operator=(const WriteTransaction&) = delete;
    ~WriteTransaction() {
        // SQLite may already have rolled back by itself (e.g. after SQLITE_FULL): then autocommit is on.
        if (db_ != nullptr && sqlite3_get_autocommit(db_->handle()) == 0)
            sqlite3_exec(db_->handle(), "ROLLBACK", nullptr, nullptr, nullptr);
    }

    Status commit() {
        auto committed = execute(*db_, "COMMIT");
        if (committed) db_ = nullptr;
        return committed;
    }

  private:
    explicit WriteTransaction(SqliteDatabase& db) : db_(&db) {}
    SqliteDatabase* db_;
};

// Runs `body` (returning Result<T>) inside one write transaction: committed when it succeeds, rolled back
// when it or the commit fails, so nothing is half-written.
template <typename T, typename Body> Result<T> in_write_transaction(SqliteDatabase& db, Body&& body) {
    auto transaction = WriteTransaction::begin(db);
    if (!transaction) return make_error(transaction.error());
    Result<T> result = body();
    if (!result) return result;
    if (auto committed = transaction->commit(); !committed) return make_error(committed.error());
    return result;
}

// Runs `body` (returning Result<T>) inside one read transaction: its statements see one snapshot and take
// SQLite's file locks once, not once each.
template <typename T, typename Body> Result<T> in_read_transaction(SqliteDatabase& db, Body&& body) {
    if (auto begun = execute(db, "BEGIN"); !begun) return make_error(begun.error());
    Result<T> result = body();
    if (auto ended = execute(db, "COMMIT"); !ended) {
        sqlite3_exec(db.handle(), "ROLLBACK", nullptr, nullptr, nullptr);
        if (result) return make_error(ended.error());
    }
    return result;
}

struct Migration {
    int version;
    const char* name;
    const char* sql;
};

// Applied in order, each in its own transaction; a file records the versions it has in schema_migrations.
// Never edit a migration that has shipped: add a new one.
constexpr std::array<Migration, 6> kMigrations{{
    {1, "deployments and audit_events", R"sql(
CREATE TABLE deployments (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    service TEXT NOT NULL,
    environment TEXT NOT NULL DEFAULT '',
    version TEXT NOT NULL,
    previous_version TEXT NOT NULL DEFAULT '',
    deployed_at_ns INTEGER NOT NULL,
    recorded_at_ns INTEGER NOT NULL,
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
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    time_ns INTEGER NOT NULL,
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
    paused_at_ns INTEGER NOT NULL,
    until_ns INTEGER
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
ALTER TABLE deployments ADD COLUMN claim_renewed_at_ns INTEGER NOT NULL DEFAULT 0;
)sql"},
    {6, "the shared start of each debounced rollback", R"sql(
CREATE TABLE pending_rollbacks (
    deployment_id TEXT PRIMARY KEY,
    started_at_ns INTEGER NOT NULL,
    instance TEXT NOT NULL DEFAULT ''
);
)sql"},
}};

Result<int> applied_migration_count(SqliteDatabase& db) {
    auto statement =
        Statement::prepare(db, "SELECT COUNT(*), COALESCE(MAX(version), 0) FROM schema_migrations");
    if (!statement) return make_error(statement.error());
    auto row = statement->step();
    if (!row) return make_error(row.error());
    const auto count = static_cast<int>(statement->column_int64(0));
    const auto highest = static_cast<int>(statement->column_int64(1));
    if (highest > static_cast<int>(kMigrations.size()))
        return make_error("the file has schema version " + std::to_string(highest) + ", newer than the " +
                          std::to_string(kMigrations.size()) +
                          " this build knows: run a newer rollback-receiver or point ledger.path elsewhere");
    return count;
}

Status apply_migration(SqliteDatabase& db, const Migration& migration) {
    auto applied = Statement::prepare(db, "SELECT 1 FROM schema_migrations WHERE version = :version");
    if (!applied) return make_error(applied.error());
    applied->bind_int64(":version", migration.version);
    auto already = applied->step();
    if (!already) return make_error(already.error());
    if (*already) return ok_status(); // another process applied it while we waited for the lock

    if (auto created = execute(db, migration.sql); !created)
        return make_error("migration " + std::to_string(migration.version) + " (" + migration.name +
                          "): " + created.error());
    auto record = Statement::prepare(db, "INSERT INTO schema_migrations (version, name, applied_at_ns) "
                                         "VALUES (:version, :name, :applied_at_ns)");
    if (!record) return make_error(record.error());
    record->bind_int64(":version", migration.version);
    record->bind_text(":name", migration.name);
    record->bind_int64(":applied_at_ns", to_nanoseconds(Clock::now()));
    return record->run();
}

Status migrate(SqliteDatabase& db) {
    auto created = in_write_transaction<Done>(db, [&]() -> Status {
        return execute(db, "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, "
                           "name TEXT NOT NULL, applied_at_ns INTEGER NOT NULL)");
    });
    if (!created) return created;
    if (auto before = applied_migration_count(db); !before) return make_error(before.error());
    for (const auto& migration : kMigrations) {
        auto applied = in_write_transaction<Done>(db, [&] { return apply_migration(db, migration); });
        if (!applied) return applied;
    }
    auto after = applied_migration_count(db);
    if (!after) return make_error(after.error());
    db.set_schema_version(*after);
    return ok_status();
}

// Busy timeout first, so that the journal-mode switch waits for another process opening the same file.
Status configure_connection(SqliteDatabase& db) {
    if (const int rc = sqlite3_busy_timeout(db.handle(), 5000); rc != SQLITE_OK)
        return make_error(db.describe_failure(rc));
    auto journal = Statement::prepare(db, "PRAGMA journal_mode = WAL");
    if (!journal) return make_error(journal.error());
    auto row = journal->step();
    if (!row) return make_error(row.error());
    const std::string mode = *row ? journal->column_text(0) : std::string();
    if (mode != "wal" && db.path() != ":memory:")
        return make_error("the file system refused write-ahead logging (journal mode is \"" + mode +
                          "\"): put the ledger on a local disk");
    if (auto synchronous = execute(db, "PRAGMA synchronous = FULL"); !synchronous) return synchronous;
    // 16 MiB of page cache (SQLite's default is 2 MiB): the look-up indexes of a ledger with a million
    // deployments stay in memory (docs/benchmark.md).
    if (auto cache = execute(db, "PRAGMA cache_size = -16384"); !cache) return cache;
    return execute(db, "PRAGMA foreign_keys = ON");
}

constexpr const char* kDeploymentColumns =
    "id, service, environment, version, previous_version, deployed_at_ns, "
    "recorded_at_ns, commit_sha, url, actor, kind, state, rollback_of";
constexpr int kFirstExtraColumn = 13; // the first column a query selects after kDeploymentColumns
constexpr int kRequestKeyColumn = kFirstExtraColumn; // when request_key follows kDeploymentColumns

// "SELECT <deployment columns><extra columns> FROM deployments <rest>"; every part is constant SQL.
std::string select_deployments(std::string_view rest, std::string_view extra_columns = {}) {
    return std::string("SELECT ") + kDeploymentColumns + std::string(extra_columns) + " FROM deployments " +
           std::string(rest);
}

Result<Deployment> read_deployment(const Statement& statement) {
    Deployment deployment;
    deployment.id = statement.column_text(0);
    deployment.service = statement.column_text(1);
    deployment.environment = statement.column_text(2);
    deployment.version = statement.column_text(3);
    deployment.previous_version = statement.column_text(4);
    deployment.deployed_at = from_nanoseconds(statement.column_int64(5));
    deployment.recorded_at = from_nanoseconds(statement.column_int64(6));
    deployment.commit = statement.column_text(7);
    deployment.url = statement.column_text(8);
    deployment.actor = statement.column_text(9);
    const std::string kind = statement.column_text(10);
    const std::string state = statement.column_text(11);
    deployment.rollback_of = statement.column_text(12);
    if (auto known = set_kind_and_state(deployment, kind, state); !known) return make_error(known.error());
    return deployment;
}

Result<std::vector<Deployment>> read_all_deployments(Statement& statement) {
    std::vector<Deployment> deployments;
    while (true) {
        auto row = statement.step();
        if (!row) return make_error(row.error());
        if (!*row) return deployments;
        auto deployment = read_deployment(statement);
        if (!deployment) return make_error(deployment.error());
        deployments.push_back(std::move(*deployment));
    }
}

// The latest deployment of a service (see Ledger::latest_deployment).
Result<std::optional<Deployment>> find_latest(SqliteDatabase& db, const std::string& service,
                                              const std::string& environment) {
    static const std::string any_environment =
        select_deployments("WHERE service = :service ORDER BY deployed_at_ns DESC, seq DESC LIMIT 1");
    static const std::string one_environment =
        select_deployments("WHERE service = :service AND (environment = :environment OR environment = '') "
                           "ORDER BY deployed_at_ns DESC, seq DESC LIMIT 1");
    auto statement = Statement::prepare(db, environment.empty() ? any_environment : one_environment);
    if (!statement) return make_error(statement.error());
    statement->bind_text(":service", service);
    if (!environment.empty()) statement->bind_text(":environment", environment);
    auto found = read_all_deployments(*statement);
    if (!found) return make_error(found.error());
    if (found->empty()) return std::optional<Deployment>();
    return std::optional<Deployment>(std::move(found->front()));
}

Result<std::optional<Deployment>> find_deployment(SqliteDatabase& db, const std::string& id) {
    auto statement = Statement::prepare(db, select_deployments("WHERE id = :id"));
    if (!statement) return make_error(statement.error());
    statement->bind_text(":id", id);
    auto found = read_all_deployments(*statement);
    if (!found) return make_error(found.error());
    if (found->empty()) return std::optional<Deployment>();
    return std::optional<Deployment>(std::move(found->front()));
}

Result<bool> deployment_exists(SqliteDatabase& db, const std::string& id) {
    auto statement = Statement::prepare(db, "SELECT 1 FROM deployments WHERE id = :id");
    if (!statement) return make_error(statement.error());
    statement->bind_text(":id", id);
    return statement->step();
}

// A fresh id "<service>-<yyyymmddThhmmssZ>-<4 hex digits>", drawing another suffix while one is taken.
Result<std::string> generate_deployment_id(SqliteDatabase& db, const std::string& service, TimePoint now) {
    const std::string prefix = generated_id_prefix(service, now);
    for (int attempt = 0; attempt < kGeneratedIdAttempts; ++attempt) {
        std::string id = generated_id(prefix, db.random_suffix());
        auto taken = deployment_exists(db, id);
        if (!taken) return make_error(taken.error());
        if (!*taken) return id;
    }
    return no_free_generated_id(prefix);
}

// The version of the latest deployment of the same service and environment deployed at or before
// `deployed_at_ns` (at the same time: recorded earlier), or "" when there is none.
Result<std::string> version_before(SqliteDatabase& db, const std::string& service,
                                   const std::string& environment, long long deployed_at_ns) {
    auto statement =
        Statement::prepare(db, "SELECT version FROM deployments WHERE service = :service AND "
                               "environment = :environment AND deployed_at_ns <= :deployed_at_ns "
                               "ORDER BY deployed_at_ns DESC, seq DESC LIMIT 1");
    if (!statement) return make_error(statement.error());
    statement->bind_text(":service", service);
    statement->bind_text(":environment", environment);
    statement->bind_int64(":deployed_at_ns", deployed_at_ns);
    auto row = statement->step();
    if (!row) return make_error(row.error());
    return *row ? statement->column_text(0) : std::string();
}

// Places a deployment about to be inserted in its service's history: every `watching` deployment of the
// same service and environment deployed at or before it becomes `superseded` (their ids are returned),
// and the new one is stored `superseded` itself when a later one is already recorded.
Result<std::vector<std::string>> supersede_around(SqliteDatabase& db, Deployment& incoming) {
    const long long deployed_at_ns = to_nanoseconds(incoming.deployed_at);
    auto later =
        Statement::prepare(db, "SELECT 1 FROM deployments WHERE service = :service AND "
                               "environment = :environment AND deployed_at_ns > :deployed_at_ns LIMIT 1");
    if (!later) return make_error(later.error());
    later->bind_text(":service", incoming.service);
    later->bind_text(":environment", incoming.environment);
    later->bind_int64(":deployed_at_ns", deployed_at_ns);
    auto later_exists = later->step();
    if (!later_exists) return make_error(later_exists.error());
    if (*later_exists) incoming.state = DeploymentState::superseded;

    constexpr const char* kEarlierWatching = "FROM deployments WHERE service = :service AND environment = "
                                             ":environment AND state = 'watching' AND deployed_at_ns <= "
                                             ":deployed_at_ns";
    auto earlier = Statement::prepare(db, std::string("SELECT id ") + kEarlierWatching + " ORDER BY seq");
    if (!earlier) return make_error(earlier.error());
    earlier->bind_text(":service", incoming.service);
    earlier->bind_text(":environment", incoming.environment);
    earlier->bind_int64(":deployed_at_ns", deployed_at_ns);
    std::vector<std::string> superseded_ids;
    while (true) {
        auto row = earlier->step();
        if (!row) return make_error(row.error());
        if (!*row) break;
        superseded_ids.push_back(earlier->column_text(0));
    }
    if (superseded_ids.empty()) return superseded_ids;

    auto update =
        Statement::prepare(db, std::string("UPDATE deployments SET state = 'superseded' WHERE id IN "
                                           "(SELECT id ") +
                                   kEarlierWatching + ")");
    if (!update) return make_error(update.error());
    update->bind_text(":service", incoming.service);
    update->bind_text(":environment", incoming.environment);
    update->bind_int64(":deployed_at_ns", deployed_at_ns);
    if (auto updated = update->run(); !updated) return make_error(updated.error());
    return superseded_ids;
}

Status insert_deployment(SqliteDatabase& db, const Deployment& deployment, const std::string& request_key) {
    auto insert = Statement::prepare(
        db,
        "INSERT INTO deployments (id, service, environment, version, previous_version, deployed_at_ns, "
        "recorded_at_ns, commit_sha, url, actor, kind, state, rollback_of, request_key) VALUES (:id, "
        ":service, :environment, :version, :previous_version, :deployed_at_ns, :recorded_at_ns, :commit_sha, "
        ":url, :actor, :kind, :state, :rollback_of, :request_key)");
    if (!insert) return make_error(insert.error());
    insert->bind_text(":id", deployment.id);
    insert->bind_text(":service", deployment.service);
    insert->bind_text(":environment", deployment.environment);
    insert->bind_text(":version", deployment.version);
    insert->bind_text(":previous_version", deployment.previous_version);
    insert->bind_int64(":deployed_at_ns", to_nanoseconds(deployment.deployed_at));
    insert->bind_int64(":recorded_at_ns", to_nanoseconds(deployment.recorded_at));
    insert->bind_text(":commit_sha", deployment.commit);
    insert->bind_text(":url", deployment.url);
    insert->bind_text(":actor", deployment.actor);
    insert->bind_text(":kind", to_string(deployment.kind));
    insert->bind_text(":state", to_string(deployment.state));
    insert->bind_text_or_null(":rollback_of", deployment.rollback_of);
    insert->bind_text(":request_key", request_key);
    return insert->run();
}

Result<RecordResult> record(SqliteDatabase& db, const DeploymentRequest& request,
                            const std::string& request_key, TimePoint now) {
    std::string id = request.id;
    if (!id.empty()) {
        auto stored = Statement::prepare(db, select_deployments("WHERE id = :id", ", request_key"));
        if (!stored) return make_error(stored.error());
        stored->bind_text(":id", id);
        auto row = stored->step();
        if (!row) return make_error(row.error());
        if (*row) {
            auto deployment = read_deployment(*stored);
            if (!deployment) return make_error(deployment.error());
            const bool same_request = stored->column_text(kRequestKeyColumn) == request_key;
            return RecordResult{
                same_request ? RecordOutcome::repeated : RecordOutcome::conflict, std::move(*deployment), {}};
        }
    } else {
        auto generated = generate_deployment_id(db, request.service, now);
        if (!generated) return make_error(generated.error());
        id = std::move(*generated);
    }

    Deployment deployment = deployment_from_request(request, std::move(id), now);
    if (deployment.previous_version.empty()) {
        auto before = version_before(db, deployment.service, deployment.environment,
                                     to_nanoseconds(deployment.deployed_at));
        if (!before) return make_error(before.error());
        deployment.previous_version = std::move(*before);
    }
    auto superseded_ids = supersede_around(db, deployment);
    if (!superseded_ids) return make_error(superseded_ids.error());
    if (auto inserted = insert_deployment(db, deployment, request_key); !inserted)
        return make_error(inserted.error());
    return RecordResult{RecordOutcome::created, std::move(deployment), std::move(*superseded_ids)};
}

Result<Deployment> complete(SqliteDatabase& db, const std::string& id, TimePoint now) {
    auto found = find_deployment(db, id);
    if (!found) return make_error(found.error());
    if (!found->has_value()) return not_in_ledger(id);
    const Deployment& original = **found;
    if (original.state != DeploymentState::rolling_back) return not_rolling_back(original);

    auto finish = Statement::prepare(db, "UPDATE deployments SET state = 'rolled_back' WHERE id = :id");
    if (!finish) return make_error(finish.error());
    finish->bind_text(":id", id);
    if (auto finished = finish->run(); !finished) return make_error(finished.error());

    std::string rollback_id_free;
    for (int attempt = 0;; ++attempt) {
        rollback_id_free = rollback_id(id, attempt);
        auto taken = deployment_exists(db, rollback_id_free);
        if (!taken) return make_error(taken.error());
        if (!*taken) break;
    }
    Deployment rollback = rollback_deployment(original, std::move(rollback_id_free), now);
    // What the rollback put live replaces whatever was deployed meanwhile, as a CI deployment would.
    if (auto superseded = supersede_around(db, rollback); !superseded) return make_error(superseded.error());
    if (auto inserted = insert_deployment(db, rollback, ""); !inserted) return make_error(inserted.error());
    return rollback;
}

Status fail(SqliteDatabase& db, const std::string& id, DeploymentState final_state) {
    if (auto allowed = check_final_state(final_state); !allowed) return allowed;
    auto update = Statement::prepare(
        db, "UPDATE deployments SET state = :state WHERE id = :id AND state = 'rolling_back'");
    if (!update) return make_error(update.error());
    update->bind_text(":state", to_string(final_state));
    update->bind_text(":id", id);
    if (auto updated = update->run(); !updated) return updated;
    if (sqlite3_changes(db.handle()) == 1) return ok_status();
    auto found = find_deployment(db, id);
    if (!found) return make_error(found.error());
    if (!found->has_value()) return not_in_ledger(id);
    return not_rolling_back(**found);
}

Result<long long> append(SqliteDatabase& db, const AuditEvent& event, const std::string& dedupe_key) {
    auto insert = Statement::prepare(
        db,
        "INSERT INTO audit_events (time_ns, event, service, environment, deployment_id, version, "
        "previous_version, alertname, fingerprint, reason, detail, instance, dedupe_key) SELECT :time_ns, "
        ":event, :service, :environment, :deployment_id, :version, :previous_version, :alertname, "
        ":fingerprint, :reason, :detail, :instance, :dedupe_key WHERE :dedupe_key IS NULL OR NOT EXISTS "
        "(SELECT 1 FROM audit_events "
        "WHERE dedupe_key = :dedupe_key) ON CONFLICT (dedupe_key) DO NOTHING");
    if (!insert) return make_error(insert.error());
    insert->bind_int64(":time_ns", to_nanoseconds(event.time));
    insert->bind_text(":event", event.event);
    insert->bind_text(":service", event.service);
    insert->bind_text(":environment", event.environment);
    insert->bind_text(":deployment_id", event.deployment_id);
    insert->bind_text(":version", event.version);
    insert->bind_text(":previous_version", event.previous_version);
    insert->bind_text(":alertname", event.alertname);
    insert->bind_text(":fingerprint", event.fingerprint);
    insert->bind_text(":reason", event.reason);
    insert->bind_text(":detail", event.detail);
    insert->bind_text(":instance", event.instance);
    insert->bind_text_or_null(":dedupe_key", dedupe_key); // NULLs never collide: no key, no de-duplication
    if (auto inserted = insert->run(); !inserted) return make_error(inserted.error());
    if (sqlite3_changes(db.handle()) == 0) return 0LL;
    return static_cast<long long>(sqlite3_last_insert_rowid(db.handle()));
}

// The exactly-once step: `watching` -> `rolling_back` in one statement; true when this call changed it.
// Who holds a claim: the instance name for the trail, the token for the checks (claim_rollback).
struct ClaimHolder {
    const std::string& instance;
    const std::string& token;
};

Result<bool> claim(SqliteDatabase& db, const std::string& id, const ClaimHolder& holder) {
    auto update = Statement::prepare(
        db, "UPDATE deployments SET state = 'rolling_back', claimed_by = :instance, claim_token = :token, "
            "claim_renewed_at_ns = :now WHERE id = :id AND state = 'watching'");
    if (!update) return make_error(update.error());
    update->bind_text(":id", id);
    update->bind_text(":instance", holder.instance);
    update->bind_text(":token", holder.token);
    update->bind_int64(":now", to_nanoseconds(Clock::now()));
    if (auto updated = update->run(); !updated) return make_error(updated.error());
    return sqlite3_changes(db.handle()) == 1;
}

Result<bool> holds(SqliteDatabase& db, const std::string& id, const std::string& token) {
    auto select = Statement::prepare(
        db, "SELECT 1 FROM deployments WHERE id = :id AND state = 'rolling_back' AND claim_token = :token");
    if (!select) return make_error(select.error());
    select->bind_text(":id", id);
    select->bind_text(":token", token);
    auto row = select->step();
    if (!row) return make_error(row.error());
    return *row;
}

Result<int> renew(SqliteDatabase& db, const std::string& token) {
    auto update = Statement::prepare(db, "UPDATE deployments SET claim_renewed_at_ns = :now WHERE state = "
                                         "'rolling_back' AND claim_token = :token");
    if (!update) return make_error(update.error());
    update->bind_int64(":now", to_nanoseconds(Clock::now()));
    update->bind_text(":token", token);
    if (auto updated = update->run(); !updated) return make_error(updated.error());
    return sqlite3_changes(db.handle());
}

Result<std::vector<LostClaim>> interrupt_lost(SqliteDatabase& db, const std::string& token,
                                              std::optional<Duration> lease) {
    constexpr const char* kLost =
        "state = 'rolling_back' AND claim_token <> :token AND claim_renewed_at_ns < :before";
    const long long before =
        lease ? to_nanoseconds(Clock::now() - *lease) : std::numeric_limits<long long>::max();
    static const std::string sql = select_deployments(std::string("WHERE ") + kLost + " ORDER BY seq",
                                                      ", claimed_by, claim_renewed_at_ns");
    auto select = Statement::prepare(db, sql);
    if (!select) return make_error(select.error());
    select->bind_text(":token", token);
    select->bind_int64(":before", before);
    std::vector<LostClaim> lost;
    while (true) {
        auto row = select->step();
        if (!row) return make_error(row.error());
        if (!*row) break;
        auto deployment = read_deployment(*select);
        if (!deployment) return make_error(deployment.error());
        deployment->state = DeploymentState::rollback_interrupted;
        lost.push_back({std::move(*deployment), select->column_text(kFirstExtraColumn),
                        from_nanoseconds(select->column_int64(kFirstExtraColumn + 1))});
    }
    static const std::string update_sql =
        std::string("UPDATE deployments SET state = 'rollback_interrupted' WHERE ") + kLost;
    auto update = Statement::prepare(db, update_sql);
    if (!update) return make_error(update.error());
    update->bind_text(":token", token);
    update->bind_int64(":before", before);
    if (auto updated = update->run(); !updated) return make_error(updated.error());
    return lost;
}

Result<PendingStart> begin_pending_start(SqliteDatabase& db, const std::string& deployment_id, TimePoint now,
                                         const std::string& instance) {
    auto insert =
        Statement::prepare(db, "INSERT INTO pending_rollbacks (deployment_id, started_at_ns, instance) "
                               "VALUES (:id, :now, :instance) ON CONFLICT (deployment_id) DO NOTHING");
    if (!insert) return make_error(insert.error());
    insert->bind_text(":id", deployment_id);
    insert->bind_int64(":now", to_nanoseconds(now));
    insert->bind_text(":instance", instance);
    if (auto inserted = insert->run(); !inserted) return make_error(inserted.error());
    if (sqlite3_changes(db.handle()) == 1) return PendingStart{now, true};
    auto select =
        Statement::prepare(db, "SELECT started_at_ns FROM pending_rollbacks WHERE deployment_id = :id");
    if (!select) return make_error(select.error());
    select->bind_text(":id", deployment_id);
    auto row = select->step();
    if (!row) return make_error(row.error());
    if (!*row) return make_error("the debounce start of \"" + deployment_id + "\" vanished");
    return PendingStart{from_nanoseconds(select->column_int64(0)), false};
}

Result<bool> end_pending_start(SqliteDatabase& db, const std::string& deployment_id) {
    auto remove = Statement::prepare(db, "DELETE FROM pending_rollbacks WHERE deployment_id = :id");
    if (!remove) return make_error(remove.error());
    remove->bind_text(":id", deployment_id);
    if (auto removed = remove->run(); !removed) return make_error(removed.error());
    return sqlite3_changes(db.handle()) == 1;
}

Status upsert_pause(SqliteDatabase& db, const ServicePause& pause) {
    auto upsert = Statement::prepare(
        db, "INSERT INTO service_pauses (service, reason, actor, paused_at_ns, until_ns) VALUES (:service, "
            ":reason, :actor, :paused_at_ns, :until_ns) ON CONFLICT (service) DO UPDATE SET reason = "
            "excluded.reason, actor = excluded.actor, paused_at_ns = excluded.paused_at_ns, until_ns = "
            "excluded.until_ns");
    if (!upsert) return make_error(upsert.error());
    upsert->bind_text(":service", pause.service);
    upsert->bind_text(":reason", pause.reason);
    upsert->bind_text(":actor", pause.actor);
    upsert->bind_int64(":paused_at_ns", to_nanoseconds(pause.paused_at));
    if (pause.until)
        upsert->bind_int64(":until_ns", to_nanoseconds(*pause.until));
    else
        upsert->bind_text_or_null(":until_ns", "");
    return upsert->run();
}

Result<bool> delete_pause(SqliteDatabase& db, const std::string& service) {
    auto statement = Statement::prepare(db, "DELETE FROM service_pauses WHERE service = :service");
    if (!statement) return make_error(statement.error());
    statement->bind_text(":service", service);
    if (auto ran = statement->run(); !ran) return make_error(ran.error());
    return sqlite3_changes(db.handle()) == 1;
}

Result<std::vector<ServicePause>> read_pauses(Statement& statement) {
    std::vector<ServicePause> pauses;
    while (true) {
        auto row = statement.step();
        if (!row) return make_error(row.error());
        if (!*row) return pauses;
        ServicePause pause;
        pause.service = statement.column_text(0);
        pause.reason = statement.column_text(1);
        pause.actor = statement.column_text(2);
        pause.paused_at = from_nanoseconds(statement.column_int64(3));
        if (!statement.column_is_null(4)) pause.until = from_nanoseconds(statement.column_int64(4));
        pauses.push_back(std::move(pause));
    }
}

constexpr const char* kSelectPauses =
    "SELECT service, reason, actor, paused_at_ns, until_ns FROM service_pauses";

Result<std::optional<ServicePause>> find_pause(SqliteDatabase& db, const std::string& service) {
    static const std::string sql = std::string(kSelectPauses) + " WHERE service = :service";
    auto statement = Statement::prepare(db, sql);
    if (!statement) return make_error(statement.error());
    statement->bind_text(":service", service);
    auto pauses = read_pauses(*statement);
    if (!pauses) return make_error(pauses.error());
    if (pauses->empty()) return std::optional<ServicePause>();
    return std::optional<ServicePause>(std::move(pauses->front()));
}

// The writes of one SqliteLedger::write, on its connection inside its BEGIN IMMEDIATE transaction.
class SqliteTransaction final : public LedgerTransaction {
  public:
    SqliteTransaction(SqliteDatabase& db, const std::string& instance, const std::string& claim_token)
        : db_(db), instance_(instance), claim_token_(claim_token) {}

    Result<RecordResult> record_deployment(const DeploymentRequest& request, const std::string& request_key,
                                           TimePoint now) override {
        return record(db_, request, request_key, now);
    }
    Result<bool> claim_rollback(const std::string& id) override {
        return claim(db_, id, {instance_, claim_token_});
    }
    Result<bool> holds_claim(const std::string& id) override { return holds(db_, id, claim_token_); }
    Result<int> renew_claims() override { return renew(db_, claim_token_); }
    Result<Deployment> complete_rollback(const std::string& id, TimePoint now) override {
        return complete(db_, id, now);
    }
    Status fail_rollback(const std::string& id, DeploymentState final_state) override {
        return fail(db_, id, final_state);
    }
    Result<std::vector<LostClaim>> interrupt_lost_claims(std::optional<Duration> lease) override {
        return interrupt_lost(db_, claim_token_, lease);
    }
    Result<PendingStart> begin_pending(const std::string& deployment_id, TimePoint now) override {
        return begin_pending_start(db_, deployment_id, now, instance_);
    }
    Result<bool> end_pending(const std::string& deployment_id) override {
        return end_pending_start(db_, deployment_id);
    }
    Status pause_service(const ServicePause& pause) override { return upsert_pause(db_, pause); }
    Result<bool> resume_service(const std::string& service) override { return delete_pause(db_, service); }
    Result<bool> append_audit(AuditEvent& event, const std::string& dedupe_key) override {
        if (event.instance.empty()) event.instance = instance_;
        auto sequence = append(db_, event, dedupe_key);
        if (!sequence) return make_error(sequence.error());
        event.sequence = *sequence;
        return *sequence != 0;
    }

  private:
    SqliteDatabase& db_;
    const std::string& instance_;
    const std::string& claim_token_;
};

} // namespace

SqliteLedger::SqliteLedger(const std::string& path, std::string instance)
    : instance_(std::move(instance)), claim_token_(new_claim_token()) {
    if (path.empty())
        throw std::runtime_error(
            "ledger: the ledger path is empty: set ledger.path in the config or --ledger.path");
    if (path != ":memory:") {
        // The folder (0700) and the file (0600) are created private whatever the umask; SQLite gives the
        // -wal and -shm files the mode of the database file. Existing ones keep the mode they have.
        const std::string folder = std::filesystem::path(path).parent_path().string();
        if (auto created = create_private_folders(folder); !created)
            throw std::runtime_error("ledger: " + created.error() + " for " + path +
                                     " (create it or choose another ledger.path)");
        (void)open_private_file(path, O_RDONLY); // if it cannot, SQLite's open below says why
    }
    db_ = std::make_unique<SqliteDatabase>(path);
    if (auto configured = configure_connection(*db_); !configured)
        throw std::runtime_error("ledger: cannot set up " + path + ": " + configured.error());
    if (auto migrated = migrate(*db_); !migrated)
        throw std::runtime_error("ledger: cannot migrate the schema of " + path + ": " + migrated.error());
}

SqliteLedger::~SqliteLedger() = default;

Status SqliteLedger::write(std::string_view what, const WriteBody& body) {
    std::lock_guard lock(mutex_);
    return labelled(what, in_write_transaction<Done>(*db_, [&] {
                        SqliteTransaction transaction(*db_, instance_, claim_token_);
                        return body(transaction);
                    }));
}

Result<std::optional<Deployment>> SqliteLedger::get_deployment(const std::string& id) {
    std::lock_guard lock(mutex_);
    return labelled("reading deployment", id, find_deployment(*db_, id));
}

Result<std::optional<Deployment>> SqliteLedger::latest_deployment(const std::string& service,
                                                                  const std::string& environment) {
    std::lock_guard lock(mutex_);
    return labelled("finding the latest deployment of", service, find_latest(*db_, service, environment));
}

Result<std::vector<Deployment>> SqliteLedger::list_deployments(const DeploymentFilter& filter) {
    std::lock_guard lock(mutex_);
    auto list = [&]() -> Result<std::vector<Deployment>> {
        std::string conditions = "WHERE 1 = 1";
        if (!filter.service.empty()) conditions += " AND service = :service";
        if (!filter.environment.empty()) conditions += " AND environment = :environment";
        auto statement = Statement::prepare(
            *db_, select_deployments(conditions + " ORDER BY deployed_at_ns DESC, seq DESC "
                                                  "LIMIT :limit"));
        if (!statement) return make_error(statement.error());
        if (!filter.service.empty()) statement->bind_text(":service", filter.service);
        if (!filter.environment.empty()) statement->bind_text(":environment", filter.environment);
        statement->bind_int64(":limit", clamp_limit(filter.limit));
        return read_all_deployments(*statement);
    };
    return labelled("listing deployments", list());
}

Result<std::vector<AuditEvent>> SqliteLedger::list_audit(const AuditFilter& filter) {
    std::lock_guard lock(mutex_);
    auto list = [&]() -> Result<std::vector<AuditEvent>> {
        std::string sql =
            "SELECT seq, time_ns, event, service, environment, deployment_id, version, "
            "previous_version, alertname, fingerprint, reason, detail, instance FROM audit_events "
            "WHERE seq > :after_sequence";
        if (!filter.service.empty()) sql += " AND service = :service";
        if (!filter.deployment_id.empty()) sql += " AND deployment_id = :deployment_id";
        sql += " ORDER BY seq DESC LIMIT :limit";
        auto statement = Statement::prepare(*db_, sql);
        if (!statement) return make_error(statement.error());
        statement->bind_int64(":after_sequence", filter.after_sequence);
        if (!filter.service.empty()) statement->bind_text(":service", filter.service);
        if (!filter.deployment_id.empty()) statement->bind_text(":deployment_id", filter.deployment_id);
        statement->bind_int64(":limit", clamp_limit(filter.limit));
        std::vector<AuditEvent> events;
        while (true) {
            auto row = statement->step();
            if (!row) return make_error(row.error());
            if (!*row) return events;
            AuditEvent event;
            event.sequence = statement->column_int64(0);
            event.time = from_nanoseconds(statement->column_int64(1));
            event.event = statement->column_text(2);
            event.service = statement->column_text(3);
            event.environment = statement->column_text(4);
            event.deployment_id = statement->column_text(5);
            event.version = statement->column_text(6);
            event.previous_version = statement->column_text(7);
            event.alertname = statement->column_text(8);
            event.fingerprint = statement->column_text(9);
            event.reason = statement->column_text(10);
            event.detail = statement->column_text(11);
            event.instance = statement->column_text(12);
            events.push_back(std::move(event));
        }
    };
    return labelled("listing the audit trail", list());
}

Result<std::optional<ServicePause>> SqliteLedger::service_pause(const std::string& service) {
    std::lock_guard lock(mutex_);
    return labelled("reading the pause of", service, find_pause(*db_, service));
}

Result<AlertTarget> SqliteLedger::alert_target(const std::string& service, const std::string& environment) {
    std::lock_guard lock(mutex_);
    auto read = [&]() -> Result<AlertTarget> {
        AlertTarget found;
        auto latest = find_latest(*db_, service, environment);
        if (!latest) return make_error(latest.error());
        found.deployment = std::move(*latest);
        if (!found.deployment) return found;
        auto pause = find_pause(*db_, service);
        if (!pause) return make_error(pause.error());
        found.pause = std::move(*pause);
        return found;
    };
    return labelled("finding the latest deployment and pause of", service,
                    in_read_transaction<AlertTarget>(*db_, read));
}

Result<std::vector<ServicePause>> SqliteLedger::list_service_pauses() {
    std::lock_guard lock(mutex_);
    auto read = [&]() -> Result<std::vector<ServicePause>> {
        auto statement = Statement::prepare(*db_, std::string(kSelectPauses) + " ORDER BY service");
        if (!statement) return make_error(statement.error());
        return read_pauses(*statement);
    };
    return labelled("listing pauses", read());
}

int SqliteLedger::schema_version() {
    return db_->schema_version();
}

} // namespace rollback
