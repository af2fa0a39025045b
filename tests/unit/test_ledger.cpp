// Tests of the ledger seam: the backend-neutral cases run on every backend (SQLite on real files, PostgreSQL
// on a real server); then what only one backend has (WAL, a full disk, ...).
#include "ledger/postgres_ledger.hpp"
#include "ledger/sqlite_ledger.hpp"

#include "support/ledger_steps.hpp"
#include "support/postgres_server.hpp"
#include "support/scratch_mount.hpp"
#include "support/temp_dir.hpp"

#include <doctest/doctest.h>
#include <sqlite3.h>
#include <sys/stat.h>

#include <array>
#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <future>
#include <latch>
#include <memory>
#include <regex>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

using namespace rollback;
using namespace rollback::testing;

namespace {

using TempFolder = rollback::testing::TempDir;

// A second, independent connection to a ledger file, to look at what the ledger really wrote.
class RawConnection {
  public:
    explicit RawConnection(const std::string& path) {
        if (sqlite3_open_v2(path.c_str(), &handle_, SQLITE_OPEN_READWRITE, nullptr) != SQLITE_OK)
            throw std::runtime_error("cannot open " + path);
    }
    ~RawConnection() { sqlite3_close_v2(handle_); }
    RawConnection(const RawConnection&) = delete;
    RawConnection& operator=(const RawConnection&) = delete;

    // The rows of a constant query, every column as text ("" for NULL).
    std::vector<std::vector<std::string>> rows(const std::string& sql) {
        sqlite3_stmt* statement = nullptr;
        REQUIRE(sqlite3_prepare_v2(handle_, sql.c_str(), -1, &statement, nullptr) == SQLITE_OK);
        std::vector<std::vector<std::string>> result;
        int rc = 0;
        while ((rc = sqlite3_step(statement)) == SQLITE_ROW) {
            std::vector<std::string> row;
            for (int column = 0; column < sqlite3_column_count(statement); ++column) {
                const auto* text = reinterpret_cast<const char*>(sqlite3_column_text(statement, column));
                row.emplace_back(text == nullptr ? "" : text);
            }
            result.push_back(std::move(row));
        }
        sqlite3_finalize(statement);
        REQUIRE(rc == SQLITE_DONE);
        return result;
    }
    std::string value(const std::string& sql) {
        const auto result = rows(sql);
        REQUIRE(result.size() == 1);
        return result.front().front();
    }

  private:
    sqlite3* handle_ = nullptr;
};

TimePoint at(long long seconds) {
    return TimePoint(std::chrono::seconds(1'790'000'000 + seconds));
}

DeploymentRequest deploy(const std::string& id, const std::string& service, const std::string& environment,
                         const std::string& version, long long deployed_at_seconds) {
    DeploymentRequest request;
    request.id = id;
    request.service = service;
    request.environment = environment;
    request.version = version;
    request.deployed_at = at(deployed_at_seconds);
    return request;
}

// Records a request that must be created; its key is the id (tests of conflicts pass their own keys).
Deployment record_new(Ledger& ledger, const DeploymentRequest& request, TimePoint now = at(1000)) {
    auto recorded = record_deployment(ledger, request, "key-" + request.id, now);
    REQUIRE_MESSAGE(recorded.ok(), (recorded.ok() ? std::string() : recorded.error()));
    REQUIRE(recorded->outcome == RecordOutcome::created);
    return recorded->deployment;
}

Deployment stored(Ledger& ledger, const std::string& id) {
    auto found = ledger.get_deployment(id);
    REQUIRE(found.ok());
    REQUIRE_MESSAGE(found->has_value(), "deployment " << id << " is missing");
    return **found;
}

DeploymentState state_of(Ledger& ledger, const std::string& id) {
    return stored(ledger, id).state;
}

void check_same(const Deployment& actual, const Deployment& expected) {
    CHECK(actual.id == expected.id);
    CHECK(actual.service == expected.service);
    CHECK(actual.environment == expected.environment);
    CHECK(actual.version == expected.version);
    CHECK(actual.previous_version == expected.previous_version);
    CHECK(actual.deployed_at == expected.deployed_at);
    CHECK(actual.recorded_at == expected.recorded_at);
    CHECK(actual.commit == expected.commit);
    CHECK(actual.url == expected.url);
    CHECK(actual.actor == expected.actor);
    CHECK(actual.kind == expected.kind);
    CHECK(actual.state == expected.state);
    CHECK(actual.rollback_of == expected.rollback_of);
}

std::vector<std::string> ids_of(const std::vector<Deployment>& deployments) {
    std::vector<std::string> ids;
    for (const auto& deployment : deployments)
        ids.push_back(deployment.id);
    return ids;
}

// The stores the backend-neutral cases (TEST_CASE_TEMPLATE over LEDGER_STORES) run on: each is one fresh,
// empty store, and open() makes one more Ledger on it (a restart, or another receiver).
struct SqliteStore {
    TempFolder folder;
    std::string path = folder.file("ledger.db");
    std::unique_ptr<Ledger> open(const std::string& instance = {}) const {
        return std::make_unique<SqliteLedger>(path, instance);
    }
};
// A fresh database on the binary's one PostgreSQL server (tests/support/postgres_server.hpp).
struct PostgresStore {
    std::string dsn = shared_postgres_server().create_database();
    std::unique_ptr<Ledger> open(const std::string& instance = {}) const {
        return std::make_unique<PostgresLedger>(dsn, instance);
    }
};
#define LEDGER_STORES SqliteStore, PostgresStore

constexpr int kSchemaVersion = 6; // the migrations both backends have

AuditEvent audit_event(const std::string& event, const std::string& service,
                       const std::string& deployment_id) {
    AuditEvent audit;
    audit.time = at(2000);
    audit.event = event;
    audit.service = service;
    audit.deployment_id = deployment_id;
    return audit;
}

} // namespace

TEST_CASE_TEMPLATE("reopening a ledger keeps every field, to the nanosecond, and the schema version", Store,
                   LEDGER_STORES) {
    Store store;
    DeploymentRequest request = deploy("d1", "checkout", "production", "v2", 0);
    request.deployed_at = at(100) + std::chrono::nanoseconds(123'456'789);
    request.previous_version = "v1";
    request.commit = "0123abcd";
    request.url = "https://ci.example.com/runs/7";
    request.actor = "ci-bot";
    AuditEvent event = audit_event("deployment_recorded", "checkout", "d1");
    event.time = at(101) + std::chrono::nanoseconds(987'654'321);
    event.environment = "production";
    event.version = "v2";
    event.previous_version = "v1";
    event.alertname = "HighErrorRate";
    event.fingerprint = "abc123";
    event.reason = "because";
    event.detail = R"({"labels":{"service":"checkout"}})";

    Deployment original;
    long long event_sequence = 0;
    {
        const auto ledger = store.open();
        CHECK(ledger->schema_version() == kSchemaVersion);
        original = record_new(*ledger, request, at(200));
        auto appended = append_audit(*ledger, event);
        REQUIRE(appended.ok());
        event_sequence = *appended;
        CHECK(event_sequence > 0);
    }
    const auto reopened_owner = store.open();
    Ledger& reopened = *reopened_owner;
    CHECK(reopened.schema_version() == kSchemaVersion);
    check_same(stored(reopened, "d1"), original);
    CHECK(original.deployed_at == *request.deployed_at); // nanoseconds survive
    CHECK(original.recorded_at == at(200));
    auto events = reopened.list_audit({});
    REQUIRE(events.ok());
    REQUIRE(events->size() == 1);
    const AuditEvent& read = events->front();
    CHECK(read.sequence == event_sequence);
    CHECK(read.time == event.time);
    CHECK(read.event == event.event);
    CHECK(read.service == event.service);
    CHECK(read.environment == event.environment);
    CHECK(read.deployment_id == event.deployment_id);
    CHECK(read.version == event.version);
    CHECK(read.previous_version == event.previous_version);
    CHECK(read.alertname == event.alertname);
    CHECK(read.fingerprint == event.fingerprint);
    CHECK(read.reason == event.reason);
    CHECK(read.detail == event.detail);
    record_new(reopened, deploy("d2", "checkout", "production", "v3", 300));
}

TEST_CASE("a new SQLite ledger creates its folder and schema; reopening does not re-migrate") {
    TempFolder folder;
    const std::string path = folder.file("nested/deeper/ledger.db");
    {
        SqliteLedger ledger(path);
        CHECK(ledger.schema_version() == kSchemaVersion);
        record_new(ledger, deploy("d1", "checkout", "production", "v2", 0));
    }
    RawConnection raw_before(path);
    const auto migrations_before =
        raw_before.rows("SELECT version, name, applied_at_ns FROM schema_migrations");
    REQUIRE(migrations_before.size() == static_cast<std::size_t>(kSchemaVersion));
    CHECK(migrations_before[0][0] == "1");
    CHECK(migrations_before[1][0] == "2");
    CHECK(migrations_before[2][0] == "3");
    CHECK(migrations_before[3][0] == "4");
    CHECK(migrations_before[4][0] == "5");
    CHECK(migrations_before[5][0] == "6");
    {
        SqliteLedger reopened(path);
        CHECK(reopened.schema_version() == kSchemaVersion);
        record_new(reopened, deploy("d2", "checkout", "production", "v3", 300));
    }
    RawConnection raw_after(path);
    CHECK(raw_after.rows("SELECT version, name, applied_at_ns FROM schema_migrations") == migrations_before);
    const auto indexes =
        raw_after.rows("SELECT name FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL "
                       "ORDER BY name");
    CHECK(indexes == std::vector<std::vector<std::string>>{{"audit_events_by_deployment"},
                                                           {"audit_events_by_service"},
                                                           {"deployments_by_service_environment_time"},
                                                           {"deployments_by_service_time"},
                                                           {"deployments_rolling_back"},
                                                           {"deployments_watching"}});
}

TEST_CASE("the ledger file is in WAL mode") {
    TempFolder folder;
    const std::string path = folder.file("ledger.db");
    SqliteLedger ledger(path);
    record_new(ledger, deploy("d1", "checkout", "", "v1", 0));
    CHECK(std::filesystem::exists(path + "-wal"));
    RawConnection raw(path);
    CHECK(raw.value("PRAGMA journal_mode") == "wal");
}

TEST_CASE("a ledger file from a newer build is refused at start-up") {
    TempFolder folder;
    const std::string path = folder.file("ledger.db");
    { SqliteLedger ledger(path); }
    {
        RawConnection raw(path);
        raw.rows("INSERT INTO schema_migrations (version, name, applied_at_ns) VALUES (99, 'future', 0)");
    }
    try {
        SqliteLedger ledger(path);
        FAIL("opening a file with schema version 99 should throw");
    } catch (const std::runtime_error& error) {
        const std::string message = error.what();
        CHECK(message.find(path) != std::string::npos);
        CHECK(message.find("schema version 99, newer") != std::string::npos);
    }
}

TEST_CASE("the constructor throws a message naming the path when the ledger cannot be opened") {
    TempFolder folder;
    const std::string plain_file = folder.file("plain-file");
    std::ofstream(plain_file) << "not a folder\n";
    const std::string not_a_database = folder.file("garbage.db");
    std::ofstream(not_a_database) << std::string(4096, 'x');

    struct Case {
        std::string path;
        std::string expected;
    };
    const std::vector<Case> cases{
        {plain_file + "/ledger.db", "ledger: cannot create the folder " + plain_file},
        {folder.file(""), "unable to open database file"},
        {not_a_database, "file is not a database"},
        {"", "the ledger path is empty"},
    };
    for (const auto& test : cases) {
        CAPTURE(test.path);
        try {
            SqliteLedger ledger(test.path);
            FAIL("the constructor should throw");
        } catch (const std::runtime_error& error) {
            const std::string message = error.what();
            CHECK(message.find(test.expected) != std::string::npos);
            CHECK(message.find(test.path) != std::string::npos);
        }
    }
}

TEST_CASE("a new ledger, its -wal and -shm are 0600 and the folders it creates 0700, whatever the umask") {
    TempFolder folder;
    const mode_t previous_umask = ::umask(0); // the widest: every mode below is the receiver's own doing
    const std::string path = folder.file("data/ledgers/ledger.db");
    auto mode_of = [](const std::string& file) {
        struct stat status {};
        REQUIRE_MESSAGE(::stat(file.c_str(), &status) == 0, file);
        return status.st_mode & 07777;
    };
    {
        SqliteLedger ledger(path);
        REQUIRE(
            record_deployment(ledger, deploy("deploy-1", "checkout", "production", "v1", 0), "key-1", at(1))
                .ok());
        CHECK(mode_of(folder.file("data")) == 0700);
        CHECK(mode_of(folder.file("data/ledgers")) == 0700);
        CHECK(mode_of(path) == 0600);
        CHECK(mode_of(path + "-wal") == 0600);
        CHECK(mode_of(path + "-shm") == 0600);
    }
    ::umask(previous_umask);
}

TEST_CASE_TEMPLATE("every audit event names the receiver that wrote it", Store, LEDGER_STORES) {
    Store store;
    const auto receiver_a = store.open("receiver-a");
    const auto receiver_b = store.open("receiver-b");
    AuditEvent from_a = audit_event("deployment_recorded", "checkout", "d1");
    REQUIRE(append_audit(*receiver_a, from_a).ok());
    AuditEvent from_b = audit_event("alert_ignored", "checkout", "d1");
    REQUIRE(append_audit(*receiver_b, from_b).ok());
    AuditEvent named = audit_event("rollback_interrupted", "checkout", "d1");
    named.instance = "receiver-c"; // an event that already names its instance keeps it
    REQUIRE(append_audit(*receiver_a, named).ok());
    const auto reopened = store.open("receiver-d");
    auto events = reopened->list_audit({});
    REQUIRE(events.ok());
    REQUIRE(events->size() == 3);
    CHECK((*events)[0].instance == "receiver-c"); // newest first
    CHECK((*events)[1].instance == "receiver-b");
    CHECK((*events)[2].instance == "receiver-a");
}

TEST_CASE_TEMPLATE("record_deployment is idempotent on the id: created, repeated, conflict", Store,
                   LEDGER_STORES) {
    Store store;
    const auto opened = store.open();
    Ledger& ledger = *opened;
    DeploymentRequest request = deploy("deploy-1", "checkout", "production", "v1", 0);
    request.deployed_at.reset(); // CI left it out: `now` is used

    auto created = record_deployment(ledger, request, "key-1", at(10));
    REQUIRE(created.ok());
    CHECK(created->outcome == RecordOutcome::created);
    CHECK(created->deployment.id == "deploy-1");
    CHECK(created->deployment.deployed_at == at(10));
    CHECK(created->deployment.recorded_at == at(10));
    CHECK(created->deployment.kind == DeploymentKind::deploy);
    CHECK(created->deployment.state == DeploymentState::watching);
    CHECK(created->superseded_ids.empty());

    auto repeated = record_deployment(ledger, request, "key-1", at(20));
    REQUIRE(repeated.ok());
    CHECK(repeated->outcome == RecordOutcome::repeated);
    check_same(repeated->deployment, created->deployment);

    DeploymentRequest changed = request;
    changed.version = "v2";
    auto conflict = record_deployment(ledger, changed, "key-2", at(30));
    REQUIRE(conflict.ok());
    CHECK(conflict->outcome == RecordOutcome::conflict);
    check_same(conflict->deployment, created->deployment);
    check_same(stored(ledger, "deploy-1"), created->deployment);
    auto all = ledger.list_deployments({});
    REQUIRE(all.ok());
    CHECK(all->size() == 1);

    // The answer reflects the stored state, e.g. after a claim.
    REQUIRE(*claim_rollback(ledger, "deploy-1"));
    auto after_claim = record_deployment(ledger, request, "key-1", at(40));
    REQUIRE(after_claim.ok());
    CHECK(after_claim->outcome == RecordOutcome::repeated);
    CHECK(after_claim->deployment.state == DeploymentState::rolling_back);
}

TEST_CASE_TEMPLATE("generated ids name the service and the UTC second, and are unique", Store,
                   LEDGER_STORES) {
    Store store;
    const auto opened = store.open();
    Ledger& ledger = *opened;
    auto now = parse_rfc3339("2026-11-26T12:30:47.5Z");
    REQUIRE(now.ok());
    const std::regex shape("checkout-20261126T123047Z-[0-9a-f]{4}");
    std::set<std::string> ids;
    constexpr int kCount = 150;
    for (int i = 0; i < kCount; ++i) {
        DeploymentRequest request = deploy("", "checkout", "", "v" + std::to_string(i), 0);
        request.deployed_at.reset();
        auto recorded = record_deployment(ledger, request, "key", *now);
        REQUIRE(recorded.ok());
        CHECK(recorded->outcome == RecordOutcome::created);
        CHECK(std::regex_match(recorded->deployment.id, shape));
        ids.insert(recorded->deployment.id);
    }
    CHECK(ids.size() == kCount);
}

TEST_CASE_TEMPLATE("previous_version defaults to the version deployed before, per service and environment",
                   Store, LEDGER_STORES) {
    Store store;
    const auto opened = store.open();
    Ledger& ledger = *opened;
    struct Row {
        std::string id, service, environment, version;
        long long deployed_at;
        std::string given_previous, expected_previous;
    };
    const std::vector<Row> rows{
        {"a1", "api", "prod", "v1", 100, "", ""},                 // first of its kind
        {"a2", "api", "prod", "v2", 200, "", "v1"},               // the one before
        {"s1", "api", "staging", "v9", 300, "", ""},              // other environment: separate history
        {"n1", "api", "", "v7", 400, "", ""},                     // no environment is its own history
        {"a3", "api", "prod", "v3", 500, "v0-given", "v0-given"}, // a given value is kept
        {"a4", "api", "prod", "v4", 150, "", "v1"},               // recorded late: the one before in time
        {"a5", "api", "prod", "v5", 500, "", "v3"},               // same time as a3, recorded after it
        {"b1", "web", "prod", "w1", 600, "", ""},                 // other service
        {"n2", "api", "", "v8", 700, "", "v7"},
    };
    for (const auto& row : rows) {
        CAPTURE(row.id);
        DeploymentRequest request =
            deploy(row.id, row.service, row.environment, row.version, row.deployed_at);
        request.previous_version = row.given_previous;
        CHECK(record_new(ledger, request).previous_version == row.expected_previous);
        CHECK(stored(ledger, row.id).previous_version == row.expected_previous);
    }
}

TEST_CASE_TEMPLATE("a newer deployment supersedes the watching ones of its service and environment", Store,
                   LEDGER_STORES) {
    Store store;
    const auto opened = store.open();
    Ledger& ledger = *opened;

    auto a = record_deployment(ledger, deploy("A", "api", "prod", "v1", 100), "A", at(1000));
    REQUIRE(a.ok());
    CHECK(a->superseded_ids.empty());

    auto b = record_deployment(ledger, deploy("B", "api", "prod", "v2", 200), "B", at(1000));
    REQUIRE(b.ok());
    CHECK(b->superseded_ids == std::vector<std::string>{"A"});
    CHECK(b->deployment.state == DeploymentState::watching);
    CHECK(state_of(ledger, "A") == DeploymentState::superseded);

    // Recorded after B but deployed before it: stored superseded, B untouched.
    auto late = record_deployment(ledger, deploy("C", "api", "prod", "v0", 50), "C", at(1000));
    REQUIRE(late.ok());
    CHECK(late->superseded_ids.empty());
    CHECK(late->deployment.state == DeploymentState::superseded);
    CHECK(state_of(ledger, "C") == DeploymentState::superseded);
    CHECK(state_of(ledger, "B") == DeploymentState::watching);

    // Other environments (and none) are separate.
    for (const std::string environment : {"staging", ""}) {
        auto other = record_deployment(ledger, deploy("other-" + environment, "api", environment, "v9", 300),
                                       "O", at(1000));
        REQUIRE(other.ok());
        CHECK(other->superseded_ids.empty());
        CHECK(other->deployment.state == DeploymentState::watching);
    }
    CHECK(state_of(ledger, "B") == DeploymentState::watching);

    // Only `watching` deployments are superseded: a rollback in flight keeps its state.
    REQUIRE(*claim_rollback(ledger, "B"));
    auto d = record_deployment(ledger, deploy("D", "api", "prod", "v3", 400), "D", at(1000));
    REQUIRE(d.ok());
    CHECK(d->superseded_ids.empty());
    CHECK(state_of(ledger, "B") == DeploymentState::rolling_back);

    // The same deployed_at, recorded later, is the newer one.
    auto e = record_deployment(ledger, deploy("E", "api", "prod", "v4", 400), "E", at(1000));
    REQUIRE(e.ok());
    CHECK(e->superseded_ids == std::vector<std::string>{"D"});
    CHECK(e->deployment.state == DeploymentState::watching);
    CHECK(state_of(ledger, "D") == DeploymentState::superseded);
}

TEST_CASE_TEMPLATE(
    "latest_deployment and alert_target: an environment matches itself and deployments without one", Store,
    LEDGER_STORES) {
    Store store;
    const auto opened = store.open();
    Ledger& ledger = *opened;
    record_new(ledger, deploy("g1", "api", "", "v1", 100));
    record_new(ledger, deploy("p1", "api", "prod", "v2", 200));
    record_new(ledger, deploy("g2", "api", "", "v3", 250));
    record_new(ledger, deploy("s1", "api", "staging", "v4", 300));
    record_new(ledger, deploy("w1", "web", "prod", "w1", 100));
    record_new(ledger, deploy("t1", "tie", "prod", "t1", 100));
    record_new(ledger, deploy("t2", "tie", "prod", "t2", 100));
    record_new(ledger, deploy("o2", "order", "prod", "o2", 200));
    record_new(ledger, deploy("o1", "order", "prod", "o1", 100)); // recorded last, deployed first

    struct Case {
        std::string service, environment, expected_id; // "" expected: none
    };
    const std::vector<Case> cases{
        {"api", "prod", "g2"},    // a newer deployment without environment counts for prod
        {"api", "staging", "s1"}, // newest of staging + none
        {"api", "dev", "g2"},     // only deployments without environment
        {"api", "", "s1"},        // any environment
        {"web", "staging", ""},   // prod only: nothing for staging
        {"web", "prod", "w1"},    {"web", "", "w1"},
        {"nobody", "", ""},       {"tie", "prod", "t2"}, // same deployed_at: the one recorded last
        {"order", "prod", "o2"},                         // by deployed_at, not by recording order
    };
    for (const auto& test : cases) {
        CAPTURE(test.service);
        CAPTURE(test.environment);
        auto latest = ledger.latest_deployment(test.service, test.environment);
        REQUIRE(latest.ok());
        CHECK((latest->has_value() ? (*latest)->id : std::string()) == test.expected_id);
        // alert_target reads the same deployment (and, with nothing paused, no pause).
        auto target = ledger.alert_target(test.service, test.environment);
        REQUIRE(target.ok());
        CHECK((target->deployment ? target->deployment->id : std::string()) == test.expected_id);
        CHECK_FALSE(target->pause.has_value());
    }

    SUBCASE("alert_target reads the service's pause with its deployment, and no pause without one") {
        for (const char* service : {"api", "nobody"}) {
            ServicePause pause;
            pause.service = service;
            pause.reason = "incident";
            pause.paused_at = at(400);
            REQUIRE(pause_service(ledger, pause).ok());
        }
        auto api = ledger.alert_target("api", "prod");
        REQUIRE(api.ok());
        REQUIRE(api->deployment.has_value());
        CHECK(api->deployment->id == "g2");
        REQUIRE(api->pause.has_value());
        CHECK(api->pause->reason == "incident");
        auto web = ledger.alert_target("web", "prod");
        REQUIRE(web.ok());
        CHECK_FALSE(web->pause.has_value());
        auto nobody = ledger.alert_target("nobody", "prod");
        REQUIRE(nobody.ok());
        CHECK_FALSE(nobody->deployment.has_value());
        CHECK_FALSE(nobody->pause.has_value()); // not read: an alert without a deployment is ignored anyway
    }
}

TEST_CASE_TEMPLATE("list_deployments filters, orders newest first and clamps the limit", Store,
                   LEDGER_STORES) {
    Store store;
    const auto opened = store.open();
    Ledger& ledger = *opened;
    record_new(ledger, deploy("a1", "api", "prod", "v1", 100));
    record_new(ledger, deploy("a2", "api", "staging", "v2", 300));
    record_new(ledger, deploy("w1", "web", "prod", "w1", 200));
    record_new(ledger, deploy("a3", "api", "", "v3", 200)); // same time as w1, recorded after it
    record_new(ledger, deploy("a0", "api", "prod", "v0", 50));

    struct Case {
        DeploymentFilter filter;
        std::vector<std::string> expected;
    };
    const std::vector<Case> cases{
        {{"", "", 100}, {"a2", "a3", "w1", "a1", "a0"}},
        {{"api", "", 100}, {"a2", "a3", "a1", "a0"}},
        {{"", "prod", 100}, {"w1", "a1", "a0"}},
        {{"api", "prod", 100}, {"a1", "a0"}},
        {{"api", "dev", 100}, {}},
        {{"nobody", "", 100}, {}},
        {{"", "", 2}, {"a2", "a3"}},
        {{"", "", 0}, {"a2"}},  // clamped to 1
        {{"", "", -7}, {"a2"}}, // clamped to 1
        {{"", "", 1'000'000}, {"a2", "a3", "w1", "a1", "a0"}},
    };
    for (const auto& test : cases) {
        CAPTURE(test.filter.service);
        CAPTURE(test.filter.environment);
        CAPTURE(test.filter.limit);
        auto listed = ledger.list_deployments(test.filter);
        REQUIRE(listed.ok());
        CHECK(ids_of(*listed) == test.expected);
    }
}

TEST_CASE_TEMPLATE("listing returns at most 1000 deployments or audit events", Store, LEDGER_STORES) {
    Store store;
    const auto ledger_owner = store.open();
    Ledger& ledger = *ledger_owner;
    // 1001 deployments and events in one write: one transaction, much faster than 1001 synced writes.
    auto bulk = ledger.write("recording in bulk", [](LedgerTransaction& transaction) -> Status {
        for (int x = 1; x <= 1001; ++x) {
            const std::string id = "bulk-" + std::to_string(x);
            if (auto recorded = transaction.record_deployment(deploy(id, "bulk", "", "v", x), id, at(x));
                !recorded)
                return Error{recorded.error()};
            AuditEvent event = audit_event(id, "", "");
            if (auto appended = transaction.append_audit(event); !appended) return Error{appended.error()};
        }
        return ok_status();
    });
    REQUIRE_MESSAGE(bulk.ok(), (bulk.ok() ? std::string() : bulk.error()));
    for (const int limit : {1000, 1001, 1'000'000}) {
        CAPTURE(limit);
        auto deployments = ledger.list_deployments({"", "", limit});
        REQUIRE(deployments.ok());
        REQUIRE(deployments->size() == 1000);
        CHECK(deployments->front().id == "bulk-1001");
        CHECK(deployments->back().id == "bulk-2");
        auto events = ledger.list_audit({"", "", 0, limit});
        REQUIRE(events.ok());
        REQUIRE(events->size() == 1000);
        CHECK(events->front().event == "bulk-1001");
        CHECK(events->back().event == "bulk-2");
    }
    auto one_less = ledger.list_deployments({"bulk", "", 999});
    REQUIRE(one_less.ok());
    CHECK(one_less->size() == 999);
}

TEST_CASE_TEMPLATE("claim_rollback succeeds once, only from watching", Store, LEDGER_STORES) {
    Store store;
    const auto opened = store.open();
    Ledger& ledger = *opened;
    record_new(ledger, deploy("old", "api", "prod", "v1", 100));
    record_new(ledger, deploy("new", "api", "prod", "v2", 200)); // supersedes "old"

    auto first = claim_rollback(ledger, "new");
    REQUIRE(first.ok());
    CHECK(*first);
    CHECK(state_of(ledger, "new") == DeploymentState::rolling_back);
    for (const std::string id : {"new", "old", "unknown"}) {
        CAPTURE(id);
        auto again = claim_rollback(ledger, id);
        REQUIRE(again.ok());
        CHECK_FALSE(*again);
    }
    CHECK(state_of(ledger, "old") == DeploymentState::superseded);
}

TEST_CASE_TEMPLATE("claim_rollback is exactly-once across 16 threads sharing one ledger", Store,
                   LEDGER_STORES) {
    Store store;
    const auto opened = store.open();
    Ledger& ledger = *opened;
    constexpr int kThreads = 16;
    constexpr int kRounds = 10;
    for (int round = 0; round < kRounds; ++round) {
        const std::string id = "race-" + std::to_string(round);
        record_new(ledger, deploy(id, "svc-" + std::to_string(round), "", "v1", round));
        std::latch start(kThreads);
        std::atomic<int> wins{0};
        std::atomic<int> failures{0};
        std::vector<std::thread> threads;
        for (int t = 0; t < kThreads; ++t) {
            threads.emplace_back([&] {
                start.arrive_and_wait();
                auto claimed = claim_rollback(ledger, id);
                if (!claimed.ok())
                    ++failures;
                else if (*claimed)
                    ++wins;
            });
        }
        for (auto& thread : threads)
            thread.join();
        CAPTURE(round);
        CHECK(failures.load() == 0);
        CHECK(wins.load() == 1);
        CHECK(state_of(ledger, id) == DeploymentState::rolling_back);
    }
}

TEST_CASE_TEMPLATE("claim_rollback is exactly-once across two Ledger objects on the same store", Store,
                   LEDGER_STORES) {
    Store store;
    const auto first_owner = store.open();
    Ledger& first = *first_owner;
    const auto second_owner = store.open();
    Ledger& second = *second_owner;
    constexpr int kRounds = 25;
    for (int round = 0; round < kRounds; ++round) {
        const std::string id = "race-" + std::to_string(round);
        record_new(round % 2 == 0 ? first : second,
                   deploy(id, "svc-" + std::to_string(round), "", "v1", round));
        std::latch start(2);
        std::array<Result<bool>, 2> results{Result<bool>(false), Result<bool>(false)};
        std::thread one([&] {
            start.arrive_and_wait();
            results[0] = claim_rollback(first, id);
        });
        std::thread two([&] {
            start.arrive_and_wait();
            results[1] = claim_rollback(second, id);
        });
        one.join();
        two.join();
        CAPTURE(round);
        REQUIRE_MESSAGE(results[0].ok(), (results[0].ok() ? std::string() : results[0].error()));
        REQUIRE_MESSAGE(results[1].ok(), (results[1].ok() ? std::string() : results[1].error()));
        CHECK((*results[0] ? 1 : 0) + (*results[1] ? 1 : 0) == 1);
        CHECK(state_of(first, id) == DeploymentState::rolling_back);
        CHECK(state_of(second, id) == DeploymentState::rolling_back);
    }
}

TEST_CASE_TEMPLATE("complete_rollback records what the rollback put live", Store, LEDGER_STORES) {
    Store store;
    const auto opened = store.open();
    Ledger& ledger = *opened;
    DeploymentRequest request = deploy("d1", "checkout", "production", "v2", 100);
    request.previous_version = "v1";
    request.commit = "abc";
    request.url = "https://ci/1";
    request.actor = "ci-bot";
    record_new(ledger, request);

    SUBCASE("from rolling_back: rolled_back plus a watching rollback-kind deployment") {
        REQUIRE(*claim_rollback(ledger, "d1"));
        auto completed = complete_rollback(ledger, "d1", at(500));
        REQUIRE_MESSAGE(completed.ok(), (completed.ok() ? std::string() : completed.error()));
        Deployment expected;
        expected.id = "d1-rollback";
        expected.service = "checkout";
        expected.environment = "production";
        expected.version = "v1";
        expected.previous_version = "v2";
        expected.deployed_at = at(500);
        expected.recorded_at = at(500);
        expected.actor = "rollback-receiver";
        expected.kind = DeploymentKind::rollback;
        expected.state = DeploymentState::watching;
        expected.rollback_of = "d1";
        check_same(*completed, expected);
        check_same(stored(ledger, "d1-rollback"), expected);
        CHECK(state_of(ledger, "d1") == DeploymentState::rolled_back);
        auto latest = ledger.latest_deployment("checkout", "production");
        REQUIRE(latest.ok());
        REQUIRE(latest->has_value());
        CHECK((*latest)->id == "d1-rollback");

        auto again = complete_rollback(ledger, "d1", at(600));
        REQUIRE_FALSE(again.ok());
        CHECK(again.error() == "ledger: completing the rollback of \"d1\" failed: deployment \"d1\" is "
                               "rolled_back, not rolling_back (only a claimed rollback can be finished)");
        // The rollback-kind deployment is itself watched and can be rolled back.
        CHECK(*claim_rollback(ledger, "d1-rollback"));
    }
    SUBCASE("not claimed, or unknown: an error and nothing written") {
        auto unclaimed = complete_rollback(ledger, "d1", at(500));
        REQUIRE_FALSE(unclaimed.ok());
        CHECK(unclaimed.error().find("is watching, not rolling_back") != std::string::npos);
        CHECK(state_of(ledger, "d1") == DeploymentState::watching);
        auto unknown = complete_rollback(ledger, "nope", at(500));
        REQUIRE_FALSE(unknown.ok());
        CHECK(unknown.error().find("deployment \"nope\" is not in the ledger") != std::string::npos);
        auto all = ledger.list_deployments({});
        REQUIRE(all.ok());
        CHECK(all->size() == 1);
    }
    SUBCASE("a taken rollback id gets a number") {
        record_new(ledger, deploy("d1-rollback", "other", "", "x", 0));
        record_new(ledger, deploy("d1-rollback-2", "other", "", "y", 1));
        REQUIRE(*claim_rollback(ledger, "d1"));
        auto completed = complete_rollback(ledger, "d1", at(500));
        REQUIRE(completed.ok());
        CHECK(completed->id == "d1-rollback-3");
        CHECK(stored(ledger, "d1-rollback-3").rollback_of == "d1");
    }
    SUBCASE("a deployment recorded while the rollback ran is superseded by it") {
        REQUIRE(*claim_rollback(ledger, "d1"));
        record_new(ledger, deploy("d2", "checkout", "production", "v3", 200));
        CHECK(state_of(ledger, "d1") == DeploymentState::rolling_back);
        auto completed = complete_rollback(ledger, "d1", at(500));
        REQUIRE(completed.ok());
        CHECK(completed->state == DeploymentState::watching);
        CHECK(state_of(ledger, "d2") == DeploymentState::superseded);
    }
}

TEST_CASE_TEMPLATE("fail_rollback ends only a rollback in progress, only as failed or interrupted", Store,
                   LEDGER_STORES) {
    struct Case {
        std::string name;
        bool claim;
        std::string id;
        DeploymentState final_state;
        std::string expected_error; // "" for success
        DeploymentState expected_state;
    };
    const std::vector<Case> cases{
        {"failed", true, "d1", DeploymentState::rollback_failed, "", DeploymentState::rollback_failed},
        {"interrupted", true, "d1", DeploymentState::rollback_interrupted, "",
         DeploymentState::rollback_interrupted},
        {"to rolled_back", true, "d1", DeploymentState::rolled_back,
         "rollback_failed or rollback_interrupted, not rolled_back", DeploymentState::rolling_back},
        {"to watching", true, "d1", DeploymentState::watching,
         "rollback_failed or rollback_interrupted, not watching", DeploymentState::rolling_back},
        {"not claimed", false, "d1", DeploymentState::rollback_failed, "is watching, not rolling_back",
         DeploymentState::watching},
        {"unknown", true, "nope", DeploymentState::rollback_failed,
         "deployment \"nope\" is not in the ledger", DeploymentState::rolling_back},
    };
    for (const auto& test : cases) {
        CAPTURE(test.name);
        Store store;
        const auto opened = store.open();
        Ledger& ledger = *opened;
        record_new(ledger, deploy("d1", "api", "prod", "v1", 0));
        if (test.claim) REQUIRE(*claim_rollback(ledger, "d1"));
        auto failed = fail_rollback(ledger, test.id, test.final_state);
        if (test.expected_error.empty()) {
            CHECK(failed.ok());
        } else {
            REQUIRE_FALSE(failed.ok());
            CHECK(failed.error().rfind("ledger: ending the rollback of \"" + test.id + "\" failed: ", 0) ==
                  0);
            CHECK(failed.error().find(test.expected_error) != std::string::npos);
        }
        CHECK(state_of(ledger, "d1") == test.expected_state);
        if (test.expected_error.empty()) {
            auto twice = fail_rollback(ledger, "d1", test.final_state);
            REQUIRE_FALSE(twice.ok());
            CHECK(twice.error().find("not rolling_back") != std::string::npos);
            CHECK_FALSE(*claim_rollback(ledger, "d1"));
        }
    }
}

std::vector<std::string> ids_of_claims(const std::vector<LostClaim>& claims) {
    std::vector<std::string> ids;
    for (const LostClaim& claim : claims)
        ids.push_back(claim.deployment.id);
    return ids;
}

TEST_CASE_TEMPLATE("without a lease, every claim another Ledger object made is interrupted, once", Store,
                   LEDGER_STORES) {
    Store store;
    const auto before_restart = store.open("receiver-a");
    Ledger& ledger = *before_restart;
    record_new(ledger, deploy("r1", "api", "prod", "v1", 0));
    record_new(ledger, deploy("r2", "web", "prod", "w1", 0));
    record_new(ledger, deploy("w", "db", "prod", "d1", 0));
    record_new(ledger, deploy("f", "queue", "prod", "q1", 0));
    REQUIRE(*claim_rollback(ledger, "r1"));
    REQUIRE(*claim_rollback(ledger, "r2"));
    REQUIRE(*claim_rollback(ledger, "f"));
    REQUIRE(fail_rollback(ledger, "f", DeploymentState::rollback_failed).ok());

    // The claims' own Ledger object never interrupts them: they are its running rollbacks.
    auto own = interrupt_lost_claims(ledger);
    REQUIRE(own.ok());
    CHECK(own->empty());
    CHECK(*holds_claim(ledger, "r1"));

    // The same receiver started again (same instance name, a new Ledger object) finds both lost.
    const auto restarted = store.open("receiver-a");
    auto interrupted = interrupt_lost_claims(*restarted);
    REQUIRE(interrupted.ok());
    CHECK(ids_of_claims(*interrupted) == std::vector<std::string>{"r1", "r2"});
    for (const LostClaim& claim : *interrupted) {
        CHECK(claim.deployment.state == DeploymentState::rollback_interrupted);
        CHECK(claim.claimed_by == "receiver-a");
        CHECK(claim.renewed_at > TimePoint{});
    }
    CHECK(state_of(*restarted, "r1") == DeploymentState::rollback_interrupted);
    CHECK(state_of(*restarted, "r2") == DeploymentState::rollback_interrupted);
    CHECK(state_of(*restarted, "w") == DeploymentState::watching);
    CHECK(state_of(*restarted, "f") == DeploymentState::rollback_failed);
    CHECK_FALSE(*claim_rollback(*restarted, "r1"));
    CHECK_FALSE(*holds_claim(ledger, "r1")); // the old object's claim is gone

    auto again = interrupt_lost_claims(*restarted);
    REQUIRE(again.ok());
    CHECK(again->empty());
}

TEST_CASE_TEMPLATE("with a lease, only claims not renewed for the lease are lost; renewal keeps a claim",
                   Store, LEDGER_STORES) {
    using namespace std::chrono_literals;
    Store store;
    const auto receiver_a = store.open("receiver-a");
    const auto receiver_b = store.open("receiver-b");
    record_new(*receiver_a, deploy("kept", "api", "prod", "v1", 0));
    record_new(*receiver_a, deploy("lost", "web", "prod", "w1", 0));
    REQUIRE(*claim_rollback(*receiver_a, "kept"));
    REQUIRE(*claim_rollback(*receiver_b, "lost"));
    CHECK(*holds_claim(*receiver_a, "kept"));
    CHECK_FALSE(*holds_claim(*receiver_a, "lost"));
    CHECK_FALSE(*holds_claim(*receiver_b, "kept"));

    // Within the lease nothing is lost, whoever sweeps.
    auto early = interrupt_lost_claims(*receiver_a, 60s);
    REQUIRE(early.ok());
    CHECK(early->empty());

    // receiver-a renews its claim while receiver-b has stopped; after the lease only b's claim is lost.
    const auto lease = 300ms;
    for (int round = 0; round < 4; ++round) {
        std::this_thread::sleep_for(100ms);
        auto renewed = renew_claims(*receiver_a);
        REQUIRE(renewed.ok());
        CHECK(*renewed == 1);
    }
    auto swept = interrupt_lost_claims(*receiver_a, lease);
    REQUIRE(swept.ok());
    REQUIRE(swept->size() == 1);
    CHECK(swept->front().deployment.id == "lost");
    CHECK(swept->front().claimed_by == "receiver-b");
    CHECK(state_of(*receiver_a, "lost") == DeploymentState::rollback_interrupted);
    CHECK(state_of(*receiver_a, "kept") == DeploymentState::rolling_back);
    CHECK(*holds_claim(*receiver_a, "kept"));
    CHECK_FALSE(*holds_claim(*receiver_b, "lost"));

    // A claim is never lost to its own holder's sweep, however old its renewal.
    std::this_thread::sleep_for(lease + 100ms);
    auto own = interrupt_lost_claims(*receiver_a, lease);
    REQUIRE(own.ok());
    CHECK(own->empty());
    // b's receiver sweeps a's claim now that a stopped renewing it; renewal of a lost claim renews nothing.
    auto taken = interrupt_lost_claims(*receiver_b, lease);
    REQUIRE(taken.ok());
    CHECK(ids_of_claims(*taken) == std::vector<std::string>{"kept"});
    CHECK(*renew_claims(*receiver_a) == 0);
}

TEST_CASE_TEMPLATE("a debounce's start is stored once for every receiver on the ledger, until it ends", Store,
                   LEDGER_STORES) {
    Store store;
    const auto receiver_a = store.open("receiver-a");
    const auto receiver_b = store.open("receiver-b");
    auto begin = [](Ledger& ledger, const std::string& id, TimePoint now) {
        auto begun = begin_pending(ledger, id, now);
        REQUIRE(begun.ok());
        return *begun;
    };
    auto end = [](Ledger& ledger, const std::string& id) {
        auto ended = end_pending(ledger, id);
        REQUIRE(ended.ok());
        return *ended;
    };
    const PendingStart first = begin(*receiver_a, "d1", at(100));
    CHECK(first.created);
    CHECK(first.started_at == at(100));
    const PendingStart later = begin(*receiver_b, "d1", at(130)); // the other receiver, 30 s later
    CHECK_FALSE(later.created);
    CHECK(later.started_at == at(100));
    CHECK(begin(*receiver_b, "d2", at(130)).created); // another deployment has its own
    CHECK(end(*receiver_b, "d1"));
    CHECK_FALSE(end(*receiver_a, "d1")); // ended already
    const PendingStart again = begin(*receiver_a, "d1", at(200));
    CHECK(again.created);
    CHECK(again.started_at == at(200));
}

// The start-up sweep as the daemon writes it (ClaimKeeper::sweep): every lost claim with its event, in one
// write.
Result<std::vector<AuditEvent>> interrupt_with_events(Ledger& ledger) {
    std::vector<AuditEvent> events;
    auto written = ledger.write("interrupting lost claims", [&](LedgerTransaction& transaction) -> Status {
        auto interrupted = transaction.interrupt_lost_claims(std::nullopt);
        if (!interrupted) return Error{interrupted.error()};
        for (const LostClaim& claim : *interrupted) {
            AuditEvent event =
                audit_event("rollback_interrupted", claim.deployment.service, claim.deployment.id);
            event.reason = "receiver_restarted";
            if (auto appended = transaction.append_audit(event); !appended) return Error{appended.error()};
            events.push_back(event);
        }
        return ok_status();
    });
    if (!written) return Error{written.error()};
    return events;
}

TEST_CASE_TEMPLATE("interrupting lost claims writes each state change with its event in one write", Store,
                   LEDGER_STORES) {
    Store store;
    const auto before_restart = store.open();
    record_new(*before_restart, deploy("r1", "api", "prod", "v1", 0));
    record_new(*before_restart, deploy("w", "db", "prod", "d1", 0));
    REQUIRE(*claim_rollback(*before_restart, "r1"));
    const auto opened = store.open();
    Ledger& ledger = *opened;
    auto events = interrupt_with_events(ledger);
    REQUIRE(events.ok());
    REQUIRE(events->size() == 1);
    CHECK(events->front().deployment_id == "r1");
    CHECK(events->front().sequence > 0);
    CHECK(state_of(ledger, "r1") == DeploymentState::rollback_interrupted);
    CHECK(state_of(ledger, "w") == DeploymentState::watching);
    AuditFilter filter;
    filter.deployment_id = "r1";
    auto listed = ledger.list_audit(filter);
    REQUIRE(listed.ok());
    REQUIRE(listed->size() == 1);
    CHECK(listed->front().sequence == events->front().sequence);
    CHECK(listed->front().reason == "receiver_restarted");
    auto again = interrupt_with_events(ledger);
    REQUIRE(again.ok());
    CHECK(again->empty());
}

TEST_CASE_TEMPLATE("the audit trail: sequences, de-duplication, filters, newest first", Store,
                   LEDGER_STORES) {
    Store store;
    std::vector<long long> sequences;
    {
        const auto ledger_owner = store.open();
        Ledger& ledger = *ledger_owner;
        const std::vector<std::pair<AuditEvent, std::string>> appends{
            {audit_event("e1", "api", "d1"), ""},   {audit_event("e2", "web", "d2"), ""},
            {audit_event("e3", "api", "d3"), "k1"}, {audit_event("e4", "api", "d3"), "k2"},
            {audit_event("e5", "api", "d1"), ""},   {audit_event("e6", "api", "d1"), ""},
        };
        for (const auto& [event, key] : appends) {
            auto appended = append_audit(ledger, event, key);
            REQUIRE(appended.ok());
            CHECK(*appended > (sequences.empty() ? 0 : sequences.back()));
            sequences.push_back(*appended);
        }
        auto duplicate = append_audit(ledger, audit_event("e3-again", "api", "d3"), "k1");
        REQUIRE(duplicate.ok());
        CHECK(*duplicate == 0);
    }

    const auto ledger_owner = store.open(); // de-duplication survives a restart
    Ledger& ledger = *ledger_owner;
    auto duplicate = append_audit(ledger, audit_event("e4-again", "api", "d3"), "k2");
    REQUIRE(duplicate.ok());
    CHECK(*duplicate == 0);

    auto names = [&](const AuditFilter& filter) {
        auto events = ledger.list_audit(filter);
        REQUIRE(events.ok());
        std::vector<std::string> result;
        for (const auto& event : *events)
            result.push_back(event.event);
        return result;
    };
    using Names = std::vector<std::string>;
    CHECK(names({}) == Names{"e6", "e5", "e4", "e3", "e2", "e1"});
    CHECK(names({"api", "", 0, 100}) == Names{"e6", "e5", "e4", "e3", "e1"});
    CHECK(names({"", "d1", 0, 100}) == Names{"e6", "e5", "e1"});
    CHECK(names({"web", "d1", 0, 100}) == Names{});
    CHECK(names({"", "", sequences[2], 100}) == Names{"e6", "e5", "e4"});
    CHECK(names({"api", "", sequences[1], 2}) == Names{"e6", "e5"});
    CHECK(names({"", "", 0, 0}) == Names{"e6"});
    CHECK(names({"", "", 0, -1}) == Names{"e6"});
    CHECK(names({"", "", 0, 1'000'000}).size() == 6);
}

TEST_CASE_TEMPLATE("one Ledger serves many threads writing and reading at once", Store, LEDGER_STORES) {
    Store store;
    const auto opened = store.open();
    Ledger& ledger = *opened;
    constexpr int kThreads = 4;
    constexpr int kPerThread = 10;
    std::atomic<int> failures{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) {
        threads.emplace_back([&, t] {
            const std::string service = "svc-" + std::to_string(t);
            for (int i = 0; i < kPerThread; ++i) {
                DeploymentRequest request = deploy(service + "-" + std::to_string(i), service, "", "v", i);
                if (!record_deployment(ledger, request, "k", at(i)).ok()) ++failures;
                if (!append_audit(ledger, audit_event("recorded", service, request.id)).ok()) ++failures;
                if (!ledger.latest_deployment(service, "").ok()) ++failures;
            }
        });
    }
    for (auto& thread : threads)
        thread.join();
    CHECK(failures.load() == 0);
    auto deployments = ledger.list_deployments({});
    REQUIRE(deployments.ok());
    CHECK(deployments->size() == kThreads * kPerThread);
    auto events = ledger.list_audit({});
    REQUIRE(events.ok());
    CHECK(events->size() == kThreads * kPerThread);
    for (int t = 0; t < kThreads; ++t) {
        auto watching = ledger.list_deployments({"svc-" + std::to_string(t), "", 100});
        REQUIRE(watching.ok());
        int watching_count = 0;
        for (const auto& deployment : *watching)
            watching_count += deployment.state == DeploymentState::watching;
        CHECK(watching_count == 1);
    }
}

TEST_CASE("a full disk is an error value, and nothing is half-written (SQLite on a 1 MiB tmpfs)") {
    TempFolder folder;
    std::string why_not;
    const auto disk = ScratchMount::tmpfs(folder.file("fs"), 1024 * 1024, why_not);
    if (!disk) {
        MESSAGE("SKIPPED full-disk ledger test: " << why_not << " (it needs root to mount a 1 MiB tmpfs)");
        return;
    }
    const std::string path = disk->dir() + "/ledger.db";
    SqliteLedger ledger(path);
    record_new(ledger, deploy("base", "api", "prod", "v0", 0));
    disk->fill_with("filler");

    // Fill until SQLite refuses: each deployment carries a large url that needs new pages.
    std::string last_recorded = "base";
    std::string failure;
    std::string failed_id;
    for (int i = 0; i < 100 && failure.empty(); ++i) {
        DeploymentRequest request = deploy("big-" + std::to_string(i), "api", "prod", "v1", 10 + i);
        request.url = std::string(64 * 1024, 'u');
        auto recorded = record_deployment(ledger, request, "k", at(1000));
        if (recorded.ok()) {
            last_recorded = request.id;
        } else {
            failure = recorded.error();
            failed_id = request.id;
        }
    }
    REQUIRE_FALSE(failure.empty());
    INFO("the error: " << failure);
    CHECK(failure.rfind("ledger: recording deployment failed: ", 0) == 0);
    CHECK(failure.find(path) != std::string::npos);
    auto missing = ledger.get_deployment(failed_id);
    REQUIRE(missing.ok());
    CHECK_FALSE(missing->has_value());
    // The supersede step ran before the insert failed: it must have been rolled back with it.
    CHECK(state_of(ledger, last_recorded) == DeploymentState::watching);

    // With room again, the same ledger (and connection) writes normally.
    std::filesystem::remove(disk->dir() + "/filler");
    DeploymentRequest retry = deploy(failed_id, "api", "prod", "v1", 500);
    retry.url = std::string(64 * 1024, 'u');
    auto recorded = record_deployment(ledger, retry, "k", at(1000));
    REQUIRE(recorded.ok());
    CHECK(recorded->outcome == RecordOutcome::created);
    CHECK(recorded->superseded_ids == std::vector<std::string>{last_recorded});
}

TEST_CASE_TEMPLATE("service pauses: pause, replace, read, list, resume; they survive reopening", Store,
                   LEDGER_STORES) {
    Store store;
    {
        const auto ledger_owner = store.open();
        Ledger& ledger = *ledger_owner;
        ServicePause pause;
        pause.service = "checkout";
        pause.reason = "incident 123";
        pause.actor = "alice";
        pause.paused_at = at(10);
        REQUIRE(pause_service(ledger, pause).ok());
        auto read = ledger.service_pause("checkout");
        REQUIRE(read.ok());
        REQUIRE(read->has_value());
        CHECK((*read)->reason == "incident 123");
        CHECK(!(*read)->until.has_value());
        CHECK((*read)->active_at(at(1000000)));

        pause.reason = "extended";
        pause.until = at(20);
        REQUIRE(pause_service(ledger, pause).ok()); // replaces, one row per service
        ServicePause other = pause;
        other.service = "search";
        REQUIRE(pause_service(ledger, other).ok());
        auto all = ledger.list_service_pauses();
        REQUIRE(all.ok());
        REQUIRE(all->size() == 2);
        CHECK(all->at(0).service == "checkout");
        CHECK(all->at(0).reason == "extended");
        CHECK(all->at(0).until == at(20));
        CHECK(all->at(0).active_at(at(19)));
        CHECK(!all->at(0).active_at(at(20)));
    }
    const auto reopened_owner = store.open();
    Ledger& reopened = *reopened_owner;
    auto read = reopened.service_pause("checkout");
    REQUIRE(read.ok());
    REQUIRE(read->has_value());
    CHECK((*read)->actor == "alice");
    auto resumed = resume_service(reopened, "checkout");
    REQUIRE(resumed.ok());
    CHECK(*resumed);
    auto again = resume_service(reopened, "checkout");
    REQUIRE(again.ok());
    CHECK(!*again);
    auto gone = reopened.service_pause("checkout");
    REQUIRE(gone.ok());
    CHECK(!gone->has_value());
}

TEST_CASE("a repeated audit event (same de-duplication key) writes nothing: no WAL frame, no fsync") {
    // Alertmanager repeats every alert of a group; each repeat used to cost a write and an fsync because
    // INSERT ... ON CONFLICT DO NOTHING still updated sqlite_sequence (docs/benchmark.md).
    TempFolder dir;
    const std::string path = dir.file("ledger.db");
    SqliteLedger ledger(path);
    REQUIRE(append_audit(ledger, audit_event("first", "api", "d1"), "repeat-key").ok());
    const auto wal_size = [&] { return std::filesystem::file_size(path + "-wal"); };
    const auto before = wal_size();
    for (int i = 0; i < 20; ++i) {
        auto repeated = append_audit(ledger, audit_event("first", "api", "d1"), "repeat-key");
        REQUIRE(repeated.ok());
        CHECK(*repeated == 0);
    }
    CHECK(wal_size() == before);
    REQUIRE(append_audit(ledger, audit_event("second", "api", "d1"), "other-key").ok());
    CHECK(wal_size() > before); // a new event does write: the measure can fail
}

std::size_t events_of(Ledger& ledger, const std::string& deployment_id) {
    AuditFilter filter;
    filter.deployment_id = deployment_id;
    auto events = ledger.list_audit(filter);
    REQUIRE(events.ok());
    return events->size();
}

// One write: `change` on the transaction, then an event about `deployment_id`; when `fail_after` is set the
// body fails after both, so the whole write must leave nothing behind.
Status change_with_event(Ledger& ledger, const std::string& deployment_id, bool fail_after,
                         const std::function<Status(LedgerTransaction&)>& change,
                         long long* sequence = nullptr) {
    return ledger.write("a change with its event", [&](LedgerTransaction& transaction) -> Status {
        if (auto changed = change(transaction); !changed) return changed;
        AuditEvent event = audit_event("changed", "api", deployment_id);
        if (auto appended = transaction.append_audit(event); !appended) return Error{appended.error()};
        if (sequence != nullptr) *sequence = event.sequence;
        if (fail_after) return make_error("a later step of the same change failed");
        return ok_status();
    });
}

TEST_CASE_TEMPLATE("a change and its events are written together, or neither (every write of the seam)",
                   Store, LEDGER_STORES) {
    Store store;
    const auto opened = store.open();
    Ledger& ledger = *opened;
    record_new(ledger, deploy("old", "api", "prod", "v1", 0));
    auto as_status = [](auto result) { return result ? ok_status() : Status(Error{result.error()}); };

    SUBCASE("record_deployment") {
        const DeploymentRequest request = deploy("new", "api", "prod", "v2", 10);
        auto record = [&](LedgerTransaction& transaction) {
            return as_status(transaction.record_deployment(request, "k", at(100)));
        };
        auto refused = change_with_event(ledger, "new", true, record);
        REQUIRE_FALSE(refused.ok());
        CHECK(refused.error() ==
              "ledger: a change with its event failed: a later step of the same change failed");
        auto missing = ledger.get_deployment("new");
        REQUIRE(missing.ok());
        CHECK_FALSE(missing->has_value());
        CHECK(state_of(ledger, "old") == DeploymentState::watching); // the supersede rolled back too
        CHECK(events_of(ledger, "new") == 0);
        long long sequence = 0;
        REQUIRE(change_with_event(ledger, "new", false, record, &sequence).ok());
        CHECK(sequence > 0);
        CHECK(state_of(ledger, "old") == DeploymentState::superseded);
        CHECK(events_of(ledger, "new") == 1);
    }
    SUBCASE("claim_rollback") {
        auto claim = [&](LedgerTransaction& transaction) {
            return as_status(transaction.claim_rollback("old"));
        };
        REQUIRE_FALSE(change_with_event(ledger, "old", true, claim).ok());
        CHECK(state_of(ledger, "old") == DeploymentState::watching);
        CHECK(events_of(ledger, "old") == 0);
        REQUIRE(change_with_event(ledger, "old", false, claim).ok());
        CHECK(state_of(ledger, "old") == DeploymentState::rolling_back);
        CHECK(events_of(ledger, "old") == 1);
    }
    SUBCASE("complete_rollback") {
        REQUIRE(*claim_rollback(ledger, "old"));
        auto complete = [&](LedgerTransaction& transaction) {
            return as_status(transaction.complete_rollback("old", at(100)));
        };
        REQUIRE_FALSE(change_with_event(ledger, "old", true, complete).ok());
        CHECK(state_of(ledger, "old") == DeploymentState::rolling_back);
        CHECK(events_of(ledger, "old") == 0);
        REQUIRE(change_with_event(ledger, "old", false, complete).ok());
        CHECK(state_of(ledger, "old") == DeploymentState::rolled_back);
        CHECK(events_of(ledger, "old") == 1);
    }
    SUBCASE("fail_rollback") {
        REQUIRE(*claim_rollback(ledger, "old"));
        auto fail = [&](LedgerTransaction& transaction) {
            return transaction.fail_rollback("old", DeploymentState::rollback_failed);
        };
        REQUIRE_FALSE(change_with_event(ledger, "old", true, fail).ok());
        CHECK(state_of(ledger, "old") == DeploymentState::rolling_back);
        CHECK(events_of(ledger, "old") == 0);
        REQUIRE(change_with_event(ledger, "old", false, fail).ok());
        CHECK(state_of(ledger, "old") == DeploymentState::rollback_failed);
        CHECK(events_of(ledger, "old") == 1);
        // Not rolling back any more: an error, and no event.
        REQUIRE_FALSE(change_with_event(ledger, "old", false, fail).ok());
        CHECK(events_of(ledger, "old") == 1);
    }
    SUBCASE("pause_service and resume_service") {
        ServicePause pause;
        pause.service = "api";
        pause.paused_at = at(5);
        auto do_pause = [&](LedgerTransaction& transaction) { return transaction.pause_service(pause); };
        REQUIRE_FALSE(change_with_event(ledger, "api-pause", true, do_pause).ok());
        auto none = ledger.service_pause("api");
        REQUIRE(none.ok());
        CHECK_FALSE(none->has_value());
        REQUIRE(change_with_event(ledger, "api-pause", false, do_pause).ok());
        auto resume = [&](LedgerTransaction& transaction) {
            return as_status(transaction.resume_service("api"));
        };
        REQUIRE_FALSE(change_with_event(ledger, "api-resume", true, resume).ok());
        auto still = ledger.service_pause("api");
        REQUIRE(still.ok());
        CHECK(still->has_value());
        CHECK(events_of(ledger, "api-pause") == 1);
        CHECK(events_of(ledger, "api-resume") == 0);
    }
}

// The owner of a process by its /proc status ("Uid:\t<real>\t<effective>..."): -1 when it is gone.
long process_uid(pid_t pid) {
    std::ifstream status("/proc/" + std::to_string(pid) + "/status");
    std::string line;
    while (std::getline(status, line))
        if (line.rfind("Uid:", 0) == 0) return std::stol(line.substr(4));
    return -1;
}

TEST_CASE(
    "the tests' PostgreSQL runs unprivileged on loopback, serves fresh databases and stops by its PID") {
    PostgresServer server;
    CHECK(server.port() >= 10000);
    const std::string first = server.create_database();
    const std::string second = server.create_database();
    CHECK(first != second);
    for (const auto& dsn : {first, second}) {
        CAPTURE(dsn);
        CHECK(PQping(dsn.c_str()) == PQPING_OK);
    }
    const std::string pid_file = TempDir::read(server.data_folder() + "/postmaster.pid");
    const pid_t pid = std::stoi(pid_file.substr(0, pid_file.find('\n')));
    if (::geteuid() == 0)
        CHECK(process_uid(pid) == static_cast<long>(::getpwnam("postgres")->pw_uid));
    else
        CHECK(process_uid(pid) == static_cast<long>(::geteuid()));

    server.stop();
    CHECK(process_uid(pid) == -1);
    CHECK(PQping(first.c_str()) == PQPING_NO_RESPONSE);
    server.start(); // the same port and data: the databases are still there
    CHECK(PQping(first.c_str()) == PQPING_OK);
    CHECK(PQping(second.c_str()) == PQPING_OK);
}

TEST_CASE_TEMPLATE("values with quotes and SQL in them are stored as they are (always bound, never SQL text)",
                   Store, LEDGER_STORES) {
    Store store;
    const auto opened = store.open();
    Ledger& ledger = *opened;
    const std::string hostile = "it's'); DROP TABLE deployments; -- $1 :id \"\\ ü";
    DeploymentRequest request = deploy(hostile, hostile, hostile, hostile, 0);
    request.actor = hostile;
    record_new(ledger, request);
    CHECK(stored(ledger, hostile).actor == hostile);
    CHECK(stored(ledger, hostile).environment == hostile);
    AuditEvent event = audit_event(hostile, hostile, hostile);
    event.detail = hostile;
    REQUIRE(append_audit(ledger, event, hostile).ok());
    auto events = ledger.list_audit({hostile, hostile, 0, 10});
    REQUIRE(events.ok());
    REQUIRE(events->size() == 1);
    CHECK(events->front().detail == hostile);
    CHECK(*append_audit(ledger, event, hostile) == 0);
}

TEST_CASE("PostgreSQL: receivers starting at once on a new database migrate it once, the others wait") {
    const std::string dsn = shared_postgres_server().create_database();
    constexpr int kReceivers = 6;
    std::latch start(kReceivers);
    std::vector<std::string> failures(kReceivers);
    std::vector<int> versions(kReceivers, 0);
    std::vector<std::thread> receivers;
    for (int r = 0; r < kReceivers; ++r)
        receivers.emplace_back([&, r] {
            start.arrive_and_wait();
            try {
                PostgresLedger ledger(dsn);
                versions[r] = ledger.schema_version();
            } catch (const std::exception& error) {
                failures[r] = error.what();
            }
        });
    for (auto& receiver : receivers)
        receiver.join();
    for (int r = 0; r < kReceivers; ++r) {
        CAPTURE(r);
        CHECK(failures[r] == "");
        CHECK(versions[r] == kSchemaVersion);
    }
    CHECK(PostgresServer::rows(dsn, "SELECT version FROM schema_migrations ORDER BY version") ==
          std::vector<std::vector<std::string>>{{"1"}, {"2"}, {"3"}, {"4"}, {"5"}, {"6"}});
    PostgresLedger reopened(dsn); // and a later start migrates nothing
    CHECK(PostgresServer::rows(dsn, "SELECT count(*) FROM schema_migrations") ==
          std::vector<std::vector<std::string>>{{std::to_string(kSchemaVersion)}});
}

TEST_CASE("PostgreSQL: a database from a newer build is refused at start-up") {
    const std::string dsn = shared_postgres_server().create_database();
    { PostgresLedger ledger(dsn); }
    PostgresServer::rows(
        dsn, "INSERT INTO schema_migrations (version, name, applied_at_ns) VALUES (99, 'future', 0)");
    try {
        PostgresLedger ledger(dsn);
        FAIL("opening a database with schema version 99 should throw");
    } catch (const std::runtime_error& error) {
        CHECK(std::string(error.what()).find("schema version 99, newer") != std::string::npos);
    }
}

TEST_CASE("PostgreSQL: a server that cannot be reached is an error that never shows the connection string") {
    PostgresServer& server = shared_postgres_server();
    const std::string secret = "password=do-not-log-me";
    const std::string unreachable = "host=127.0.0.1 port=1 user=postgres " + secret;
    try {
        PostgresLedger ledger(unreachable);
        FAIL("connecting to a closed port should throw");
    } catch (const std::runtime_error& error) {
        const std::string message = error.what();
        CHECK(message.rfind("ledger: cannot connect to PostgreSQL: ", 0) == 0);
        CHECK(message.find("do-not-log-me") == std::string::npos);
    }
    try {
        PostgresLedger ledger("");
        FAIL("an empty connection string should throw");
    } catch (const std::runtime_error& error) {
        CHECK(std::string(error.what()).find("connection string is empty") != std::string::npos);
    }
    CHECK(server.running());
}

TEST_CASE("PostgreSQL: a server that stops answering with the connection open: each call fails within 2 s, "
          "then the ledger connects again by itself") {
    PostgresServer& server = shared_postgres_server();
    const std::string dsn = server.create_database();
    PostgresLedger ledger(dsn);
    record_new(ledger, deploy("before", "api", "prod", "v1", 0));
    // The server processes of this ledger's sessions (its write connection and its reads) stop (SIGSTOP):
    // the kernel still acknowledges what is sent, so only a deadline of the client's own notices it.
    const auto backends =
        PostgresServer::rows(dsn, "SELECT pid FROM pg_stat_activity WHERE datname = "
                                  "current_database() AND application_name = 'rollback-receiver'");
    REQUIRE_FALSE(backends.empty());
    std::vector<pid_t> stopped;
    for (const auto& row : backends) {
        stopped.push_back(static_cast<pid_t>(std::stol(row[0])));
        REQUIRE(::kill(stopped.back(), SIGSTOP) == 0);
    }
    const auto asked = std::chrono::steady_clock::now();
    auto read = ledger.get_deployment("before");
    const auto read_took = std::chrono::steady_clock::now() - asked;
    const auto write_asked = std::chrono::steady_clock::now();
    auto written = record_deployment(ledger, deploy("other", "web", "prod", "w1", 5), "k", at(5));
    const auto write_took = std::chrono::steady_clock::now() - write_asked;
    for (const pid_t pid : stopped)
        ::kill(pid, SIGCONT);
    MESSAGE("a read answered after " << std::chrono::duration<double>(read_took).count()
                                     << " s, the next write after "
                                     << std::chrono::duration<double>(write_took).count() << " s");
    REQUIRE_FALSE(read.ok());
    CHECK(read.error().find("did not answer within 1500 ms") != std::string::npos);
    CHECK(read_took < std::chrono::seconds(2));
    // The write went to a new connection (a new session: the lost read retired every older connection).
    CHECK(written.ok());
    CHECK(write_took < std::chrono::seconds(2));
    CHECK(stored(ledger, "before").version == "v1");
    CHECK(stored(ledger, "other").version == "w1");
}

TEST_CASE("PostgreSQL: a lost connection is an error value, and the next call connects again") {
    PostgresServer& server = shared_postgres_server();
    const std::string dsn = server.create_database();
    PostgresLedger ledger(dsn);
    record_new(ledger, deploy("before", "api", "prod", "v1", 0));

    SUBCASE("the server ends the session") {
        PostgresServer::rows(dsn, "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = "
                                  "current_database() AND application_name = 'rollback-receiver'");
        auto lost = ledger.get_deployment("before");
        REQUIRE_FALSE(lost.ok());
        CHECK(lost.error().rfind("ledger: reading deployment \"before\" failed: ", 0) == 0);
        CHECK(lost.error().find("the next call connects again") != std::string::npos);
    }
    SUBCASE("the server stops and starts again") {
        server.stop();
        const auto asked = std::chrono::steady_clock::now();
        auto refused = record_deployment(ledger, deploy("while-down", "api", "prod", "v2", 10), "k", at(10));
        CHECK(std::chrono::steady_clock::now() - asked < std::chrono::seconds(10)); // connect_timeout is 2 s
        REQUIRE_FALSE(refused.ok());
        CHECK(refused.error().rfind("ledger: recording deployment failed: ", 0) == 0);
        auto still_down = ledger.get_deployment("before");
        REQUIRE_FALSE(still_down.ok());
        CHECK(still_down.error().find("cannot connect to PostgreSQL") != std::string::npos);
        // A failed connect is not tried again for 500 ms (the calls queued behind it answer at once).
        const auto third_asked = std::chrono::steady_clock::now();
        auto backing_off = ledger.get_deployment("before");
        CHECK(std::chrono::steady_clock::now() - third_asked < std::chrono::milliseconds(100));
        REQUIRE_FALSE(backing_off.ok());
        CHECK(backing_off.error().find("cannot connect to PostgreSQL") != std::string::npos);
        server.start();
        std::this_thread::sleep_for(std::chrono::milliseconds(600)); // past the back-off of the last attempt
    }
    // The same Ledger object, no restart: it connects again by itself and lost nothing it had written.
    CHECK(stored(ledger, "before").version == "v1");
    record_new(ledger, deploy("after", "api", "prod", "v3", 20));
    CHECK(state_of(ledger, "before") == DeploymentState::superseded);
    auto missing = ledger.get_deployment("while-down");
    REQUIRE(missing.ok());
    CHECK_FALSE(missing->has_value());
}

// PostgreSQL only: reads have connections of their own. On SQLite's one connection a read waits for the
// write, so there this test would fail by design.
TEST_CASE("PostgreSQL: reads answer while a write is in progress, and see only what was committed") {
    const std::string dsn = shared_postgres_server().create_database();
    PostgresLedger ledger(dsn);
    record_new(ledger, deploy("live", "api", "prod", "v1", 0));
    constexpr int kReaders = 8; // more than the read connections: the others wait for one, not for the write
    std::vector<std::promise<Result<AlertTarget>>> answers(kReaders);
    std::vector<std::future<Result<AlertTarget>>> answered;
    for (auto& answer : answers)
        answered.push_back(answer.get_future());
    std::vector<std::thread> readers;
    std::vector<bool> answered_in_time(kReaders, false);
    std::vector<std::optional<Deployment>> seen(kReaders);
    auto written = ledger.write("holding the write lock", [&](LedgerTransaction& transaction) -> Status {
        // The write is under way: this transaction holds the write lock and has changed the deployment.
        auto claimed = transaction.claim_rollback("live");
        if (!claimed || !*claimed) return make_error("the claim failed");
        for (int r = 0; r < kReaders; ++r)
            readers.emplace_back([&, r] {
                auto found = ledger.get_deployment("live");
                if (found.ok()) seen[r] = *found;
                answers[r].set_value(ledger.alert_target("api", "prod"));
            });
        const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(2);
        for (int r = 0; r < kReaders; ++r)
            answered_in_time[r] = answered[r].wait_until(deadline) == std::future_status::ready;
        return ok_status(); // the body ends only now: every read above ran while it was in progress
    });
    for (auto& reader : readers)
        reader.join();
    REQUIRE(written.ok());
    for (int r = 0; r < kReaders; ++r) {
        CAPTURE(r);
        CHECK(answered_in_time[r]);
        auto target = answered[r].get();
        REQUIRE(target.ok());
        REQUIRE(target->deployment.has_value());
        CHECK(target->deployment->id == "live");
        CHECK(target->deployment->state == DeploymentState::watching);
        REQUIRE(seen[r].has_value());
        CHECK(seen[r]->state == DeploymentState::watching); // the claim was not committed yet
    }
    CHECK(state_of(ledger, "live") == DeploymentState::rolling_back); // and is, once the write returned
}
