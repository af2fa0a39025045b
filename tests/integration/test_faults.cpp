// Fault tests against the real daemon: kill -9 at random moments, a flood of duplicate notifications,
// rollback commands that hang, die, flood or fail, and a ledger whose disk fills up or turns read-only.
#include "support/raw_http.hpp"
#include "support/receiver_fixture.hpp"
#include "support/scratch_mount.hpp"

#include <doctest/doctest.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <mutex>
#include <random>
#include <set>
#include <thread>

using namespace rollback;
using namespace rollback::testing;
using json = nlohmann::json;
using namespace std::chrono_literals;

namespace {

// The contract's latency target for webhooks is "milliseconds" (Alertmanager gives an attempt at least 10 s);
// 2 s is the generous bound a loaded 2-core machine still meets.
constexpr auto kAnswerBound = 2s;

// A seed from ROLLBACK_FAULT_SEED (to replay a failure), otherwise a fresh one.
unsigned fault_seed() {
    if (const char* given = std::getenv("ROLLBACK_FAULT_SEED"))
        return static_cast<unsigned>(std::stoul(given));
    return std::random_device{}();
}

std::string quoted_list(const std::set<std::string>& values) {
    std::string text;
    for (const auto& value : values)
        text += (text.empty() ? "'" : ", '") + value + "'";
    return text;
}

// The ids of the deployments in `state`, read from the ledger file.
std::set<std::string> ids_in_state(const LedgerFile& ledger, const std::string& state) {
    std::set<std::string> ids;
    for (const auto& id : ledger.column("SELECT id FROM deployments WHERE state = '" + state + "'"))
        ids.insert(id);
    return ids;
}

// One keep-alive connection that sends webhook after webhook, opening a new one when the server closes it.
class WebhookConnection {
  public:
    explicit WebhookConnection(int port) : port_(port) {}

    RawHttpResponse post(const std::string& body) {
        const std::string request =
            "POST /webhook HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer " + kFixtureWebhookToken +
            "\r\nContent-Type: application/json\r\nContent-Length: " + std::to_string(body.size()) +
            "\r\n\r\n" + body;
        if (!connection_) connection_ = std::make_unique<RawHttpConnection>(port_);
        RawHttpResponse response;
        if (connection_->send(request)) response = connection_->read_response(10s);
        if (response.status == 0) { // the server closed an idle connection first: one fresh try
            connection_ = std::make_unique<RawHttpConnection>(port_);
            if (connection_->send(request)) response = connection_->read_response(10s);
        }
        // httplib closes after five requests on one connection and says so.
        if (response.status == 0 || response.head.find("Connection: close") != std::string::npos)
            connection_.reset();
        return response;
    }

  private:
    int port_;
    std::unique_ptr<RawHttpConnection> connection_;
};

} // namespace

TEST_CASE("kill -9 at random moments while deployments are recorded and webhooks arrive, 20 rounds") {
    const unsigned seed = fault_seed();
    MESSAGE("kill -9 rounds: seed " << seed << " (replay with ROLLBACK_FAULT_SEED=" << seed << ")");
    std::mt19937 random(seed);
    auto between = [&](int low, int high) { return std::uniform_int_distribution<int>(low, high)(random); };

    // Every service falls back to defaults.rollback: the recording script, which then runs 0.3 s, so kills
    // often land while rollbacks run.
    TestReceiver receiver(ReceiverSetup().with_script("sleep 0.3\n"));
    const std::vector<std::string> services{"svc0", "svc1", "svc2", "svc3"};
    std::mutex answered_mutex;
    std::set<std::string> answered_201; // deployments the API confirmed with 201
    std::set<std::string> cut_off;      // rolling_back when the daemon was killed
    std::size_t rounds_killed_in_startup = 0, webhooks_answered = 0, interrupted_seen = 0;
    std::size_t interrupted_without_event = 0;
    const auto started_at = std::chrono::steady_clock::now();

    for (int round = 0; round < 20; ++round) {
        CAPTURE(round);
        if (between(0, 4) == 0) {
            // A kill during start-up: while the ledger opens or unfinished rollbacks are marked.
            receiver.launch();
            std::this_thread::sleep_for(std::chrono::milliseconds(between(0, 40)));
            receiver.kill9();
            ++rounds_killed_in_startup;
        } else {
            receiver.start();
            // The rollbacks the last kill cut off are rollback_interrupted now, and are never run again.
            for (const std::string& id : cut_off) {
                CAPTURE(id);
                const json found = receiver.deployment(id);
                REQUIRE(found.is_object());
                CHECK(found["state"] == "rollback_interrupted");
                const auto events = receiver.audit(id);
                const std::size_t interrupted_events = count_events(events, "rollback_interrupted");
                CHECK(interrupted_events <= 1);
                // The state change and its event are one transaction (at start-up, and when a rollback
                // ends): no kill can leave one without the other.
                if (interrupted_events == 0) ++interrupted_without_event;
                ++interrupted_seen;
            }
            cut_off.clear();

            std::atomic<bool> stop{false};
            std::atomic<std::size_t> ok_webhooks{0};
            std::vector<std::thread> clients;
            clients.emplace_back([&, round] {
                for (int n = 0; !stop; ++n) {
                    const std::string id = "r" + std::to_string(round) + "-" + std::to_string(n);
                    const auto answer =
                        receiver.record(id, services[static_cast<std::size_t>(n) % 4],
                                        "v" + std::to_string(round) + "." + std::to_string(n), "v0", 5);
                    if (answer.status == 201) {
                        std::lock_guard lock(answered_mutex);
                        answered_201.insert(id);
                    }
                    if (answer.status == 0) std::this_thread::sleep_for(5ms); // killed: do not spin
                }
            });
            for (int sender = 0; sender < 2; ++sender)
                clients.emplace_back([&] {
                    for (std::size_t n = 0; !stop; ++n) {
                        const std::string& service = services[n % 4];
                        const auto answer = receiver.webhook(
                            firing_notification_for(service, Clock::now(), hex_fingerprint("f00d" + service)),
                            5);
                        if (answer.status == 200) ++ok_webhooks;
                        if (answer.status == 0) std::this_thread::sleep_for(5ms);
                    }
                });
            std::this_thread::sleep_for(std::chrono::milliseconds(between(20, 600)));
            receiver.kill9();
            stop = true;
            for (auto& client : clients)
                client.join();
            webhooks_answered += ok_webhooks;
        }

        // The daemon is dead. Opening the file replays its write-ahead log, as the next start will.
        if (!std::filesystem::exists(receiver.ledger_path())) continue; // killed before it created the file
        LedgerFile ledger(receiver.ledger_path());
        if (ledger.column("SELECT name FROM sqlite_master WHERE name = 'deployments'").empty()) {
            CHECK(answered_201.empty()); // killed before the first migration committed: nothing was confirmed
            continue;
        }
        REQUIRE(ledger.integrity() == "ok");
        std::set<std::string> stored;
        for (const auto& id : ledger.column("SELECT id FROM deployments"))
            stored.insert(id);
        std::set<std::string> lost;
        std::set_difference(answered_201.begin(), answered_201.end(), stored.begin(), stored.end(),
                            std::inserter(lost, lost.end()));
        CHECK_MESSAGE(lost.empty(), "answered 201 but not in the ledger: " << quoted_list(lost));
        for (const auto& id : ids_in_state(ledger, "rolling_back"))
            cut_off.insert(id);
    }

    // A last start marks what the last kill cut off; SIGTERM lets running rollbacks finish.
    receiver.start();
    for (const std::string& id : cut_off)
        CHECK(receiver.deployment(id)["state"] == "rollback_interrupted");
    interrupted_seen += cut_off.size();
    CHECK(receiver.stop() == 0);
    std::this_thread::sleep_for(500ms); // scripts orphaned by the last kill finish their 0.3 s

    LedgerFile ledger(receiver.ledger_path());
    CHECK(ledger.integrity() == "ok");
    std::map<std::string, int> runs_per_deployment;
    for (const auto& id : receiver.runs())
        ++runs_per_deployment[id];
    for (const auto& [id, runs] : runs_per_deployment) {
        CAPTURE(id);
        CHECK_MESSAGE(runs == 1, "the rollback of " << id << " ran " << runs << " times");
    }
    // A run belongs to a claimed deployment; a finished rollback ran exactly once.
    const std::set<std::string> claimed_states{"rolled_back", "rollback_failed", "rollback_interrupted"};
    for (const auto& row : ledger.rows("SELECT id, state FROM deployments WHERE kind = 'deploy'")) {
        CAPTURE(row[0]);
        const bool ran = runs_per_deployment.count(row[0]) > 0;
        if (ran) CHECK(claimed_states.count(row[1]) == 1);
        if (row[1] == "rolled_back") CHECK(ran);
        CHECK(row[1] != "rolling_back");
    }
    CHECK(ledger
              .column("SELECT deployment_id FROM audit_events WHERE event = 'rollback_started' "
                      "GROUP BY deployment_id HAVING COUNT(*) > 1")
              .empty());
    const auto rolled_back = ids_in_state(ledger, "rolled_back");
    // A deployment and its deployment_recorded event are one transaction: none may be recorded without it.
    const std::string recorded_without_event =
        ledger
            .column(
                "SELECT COUNT(*) FROM deployments WHERE kind = 'deploy' AND id NOT IN (SELECT deployment_id "
                "FROM audit_events WHERE event = 'deployment_recorded')")
            .at(0);
    const auto elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - started_at).count();
    MESSAGE("kill -9 rounds: " << answered_201.size() << " deployments answered 201, " << webhooks_answered
                               << " webhooks answered 200, " << runs_per_deployment.size()
                               << " rollbacks run, " << rolled_back.size() << " rolled_back, "
                               << interrupted_seen << " interrupted by a kill (" << interrupted_without_event
                               << " without their audit event), " << rounds_killed_in_startup
                               << " kills during start-up, " << recorded_without_event
                               << " deployments without their deployment_recorded event, " << elapsed
                               << " s");
    CHECK(!answered_201.empty());
    CHECK(!runs_per_deployment.empty());
    CHECK(interrupted_seen >= 1); // with 0.3 s rollbacks under constant alerts, kills do cut rollbacks off
    CHECK(interrupted_without_event == 0);
    CHECK(recorded_without_event == "0");
}

// At start-up every rolling_back deployment becomes rollback_interrupted and gets its audit event in one
// transaction (ClaimKeeper::sweep). Before that, the events were appended in
// transactions of their own afterwards, and a kill in between lost them for good (the next start finds
// nothing rolling_back); this case showed it every time.
TEST_CASE("a kill -9 while start-up marks rollbacks interrupted does not lose their audit events") {
    TestReceiver receiver;
    receiver.start(); // creates the ledger
    REQUIRE(receiver.stop() == 0);
    constexpr int kCutOff = 1000;
    {
        // The state 1,000 rollbacks cut off by a kill -9 would leave (written directly: quicker than running
        // them).
        LedgerFile ledger(receiver.ledger_path());
        ledger.rows(
            "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < " +
            std::to_string(kCutOff) +
            ") INSERT INTO deployments (id, service, version, previous_version, deployed_at_ns, "
            "recorded_at_ns, kind, state) SELECT 'cut-' || i, 'svc' || i, 'v2', 'v1', 0, 0, 'deploy', "
            "'rolling_back' FROM n");
    }
    // Start, and kill -9 as soon as the first rollback_interrupted event is in the file.
    receiver.launch();
    LedgerFile ledger(receiver.ledger_path());
    const std::string count_events_sql =
        "SELECT COUNT(*) FROM audit_events WHERE event = 'rollback_interrupted'";
    const auto give_up = std::chrono::steady_clock::now() + 30s;
    std::string events_at_kill = "0";
    while (events_at_kill == "0" && std::chrono::steady_clock::now() < give_up) {
        events_at_kill = ledger.column(count_events_sql).at(0);
        if (events_at_kill == "0") std::this_thread::sleep_for(1ms);
    }
    receiver.kill9();
    const std::string interrupted_at_kill =
        ledger.column("SELECT COUNT(*) FROM deployments WHERE state = 'rollback_interrupted'").at(0);
    MESSAGE("killed during start-up with " << events_at_kill << " rollback_interrupted events and "
                                           << interrupted_at_kill << " deployments marked");
    receiver.start();
    CHECK(ledger.column("SELECT COUNT(*) FROM deployments WHERE state = 'rollback_interrupted'").at(0) ==
          std::to_string(kCutOff));
    // Each interrupted rollback is audited, once.
    CHECK(ledger.column(count_events_sql).at(0) == std::to_string(kCutOff));
    CHECK(ledger
              .column("SELECT COUNT(*) FROM deployments WHERE state = 'rollback_interrupted' AND id NOT IN "
                      "(SELECT deployment_id FROM audit_events WHERE event = 'rollback_interrupted')")
              .at(0) == "0");
    CHECK(receiver.stop() == 0);
}

TEST_CASE("1,000 duplicate firing notifications for one deployment over 16 connections: one execution") {
    TestReceiver receiver(ReceiverSetup().with_script("sleep 0.5\n"));
    receiver.start();
    REQUIRE(receiver.record("dup-1", "checkout", "v2", "v1").status == 201);
    const std::string body = firing_notification_for("checkout", Clock::now() + 1s, "d0d0cafe00000001");
    const int port = port_of(receiver.url());
    constexpr int kConnections = 16;
    constexpr int kNotifications = 1000;
    std::atomic<int> next{0}, answered_200{0};
    std::vector<double> slowest(kConnections, 0.0);
    std::vector<std::string> failures(kConnections);
    std::vector<std::thread> senders;
    const auto started_at = std::chrono::steady_clock::now();
    for (int connection = 0; connection < kConnections; ++connection)
        senders.emplace_back([&, connection] {
            WebhookConnection webhook(port);
            while (next++ < kNotifications) {
                const auto sent_at = std::chrono::steady_clock::now();
                const RawHttpResponse answer = webhook.post(body);
                const double took =
                    std::chrono::duration<double>(std::chrono::steady_clock::now() - sent_at).count();
                auto& slow = slowest[static_cast<std::size_t>(connection)];
                slow = std::max(slow, took);
                if (answer.status == 200)
                    ++answered_200;
                else if (failures[static_cast<std::size_t>(connection)].empty())
                    failures[static_cast<std::size_t>(connection)] =
                        std::to_string(answer.status) + " " + answer.error + " " + answer.body;
            }
        });
    for (auto& sender : senders)
        sender.join();
    const double total = std::chrono::duration<double>(std::chrono::steady_clock::now() - started_at).count();
    const double worst = *std::max_element(slowest.begin(), slowest.end());
    MESSAGE("1,000 duplicates over 16 connections: " << total << " s, slowest answer " << worst << " s");
    CHECK(answered_200 == kNotifications);
    for (const auto& failure : failures)
        CHECK_MESSAGE(failure.empty(), failure);
    CHECK(worst < std::chrono::duration<double>(kAnswerBound).count());

    CHECK(receiver.wait_for_state("dup-1", {"rolled_back", "rollback_failed"}) == "rolled_back");
    std::this_thread::sleep_for(300ms); // a second run, if there were one, would have appended by now
    CHECK(receiver.runs() == std::vector<std::string>{"dup-1"});
    const auto events = receiver.audit("dup-1");
    CHECK(count_events(events, "rollback_started") == 1);
    CHECK(count_events(events, "rollback_succeeded") == 1);
    CHECK(count_events(events, "alert_ignored") <= 1); // the losers' reason, written once (de-duplicated)
    const auto metrics = http_request(receiver.url(), "GET", "/metrics");
    CHECK(metrics.body.find("rollback_receiver_notifications_total{outcome=\"accepted\"} 1000") !=
          std::string::npos);
}

TEST_CASE(
    "rollback commands that hang, ignore SIGTERM, get killed, flood their output, fail or are missing") {
    // Each service's command shows one failure; they all run at once while a prober checks that the
    // daemon keeps answering.
    TestReceiver receiver(ReceiverSetup().with_services(
        "  hang: {rollback: {command: [scripts/hang.sh], timeout: 1s, retries: 1, "
        "retry_backoff: 200ms}}\n"
        "  stubborn: {rollback: {command: [scripts/stubborn.sh], timeout: 1s, retries: 0}}\n"
        "  killed: {rollback: {command: [scripts/killed.sh], retries: 2, retry_backoff: 100ms}}\n"
        "  flood: {rollback: {command: [scripts/flood.sh], retries: 0}}\n"
        "  failing: {rollback: {command: [scripts/failing.sh], retries: 2, "
        "retry_backoff: 100ms}}\n"
        "  missing: {rollback: {command: [scripts/not-there.sh], retries: 1, "
        "retry_backoff: 100ms}}\n"));
    const TempDir& dir = receiver.dir();
    const std::string runs = dir.file("runs.txt");
    const std::string record_run = "echo \"$ROLLBACK_SERVICE\" >> '" + runs + "'\n";
    dir.write("scripts/hang.sh", "#!/bin/sh\n" + record_run + "exec sleep 600\n", true);
    // sh and its sleep both ignore SIGTERM, so only the SIGKILL after the 5 s kill grace ends them.
    dir.write("scripts/stubborn.sh", "#!/bin/sh\n" + record_run + "trap '' TERM\nsleep 600\n", true);
    // Killed (as the OOM killer would) on the first two attempts; the third succeeds.
    dir.write("scripts/killed.sh",
              "#!/bin/sh\n" + record_run + "n=$(grep -c killed '" + runs +
                  "')\nif [ \"$n\" -lt 3 ]; then kill -9 $$; fi\necho restored\n",
              true);
    // 24 MiB on stdout and stderr, then a last line.
    dir.write("scripts/flood.sh",
              "#!/bin/sh\n" + record_run +
                  "head -c 16777216 /dev/zero | tr '\\000' o\nhead -c 8388608 /dev/zero | tr '\\000' e >&2\n"
                  "echo\necho last-line-of-output\n",
              true);
    dir.write("scripts/failing.sh",
              "#!/bin/sh\n" + record_run + "echo 'deploy tool: permission denied' >&2\nexit 3\n", true);
    receiver.start();
    if (!reset_peak_resident(receiver.daemon().pid()))
        MESSAGE("cannot reset VmHWM: the peak counts from the start");
    const std::vector<std::string> services{"hang", "stubborn", "killed", "flood", "failing", "missing"};
    for (const auto& service : services)
        REQUIRE(receiver.record("fault-" + service, service, "v2", "v1").status == 201);

    // The prober: a webhook (an alert for a service without deployments, audited as ignored) and a health
    // check every 50 ms; each one timed on its own.
    std::atomic<bool> probing{true};
    std::atomic<int> probes{0}, probe_failures{0};
    std::mutex slowest_mutex;
    double slowest_probe = 0;
    std::string slowest_probe_what;
    const auto probing_since = std::chrono::steady_clock::now();
    std::thread prober([&] {
        auto timed = [&](const char* what, auto&& call) {
            const auto sent_at = std::chrono::steady_clock::now();
            const HttpClientResponse answer = call();
            const double took =
                std::chrono::duration<double>(std::chrono::steady_clock::now() - sent_at).count();
            std::lock_guard lock(slowest_mutex);
            if (took > slowest_probe) {
                slowest_probe = took;
                slowest_probe_what =
                    std::string(what) + " sent at +" +
                    std::to_string(std::chrono::duration<double>(sent_at - probing_since).count()) + " s";
            }
            return answer.status;
        };
        for (int n = 0; probing; ++n) {
            const int webhook = timed("webhook", [&] {
                return receiver.webhook(
                    firing_notification_for("probe", Clock::now(), "0000" + std::to_string(n)));
            });
            const int healthy =
                timed("/-/healthy", [&] { return http_request(receiver.url(), "GET", "/-/healthy"); });
            ++probes;
            if (webhook != 200 || healthy != 200) ++probe_failures;
            std::this_thread::sleep_for(50ms);
        }
    });
    const auto started_at = std::chrono::steady_clock::now();
    for (const auto& service : services)
        REQUIRE(receiver
                    .webhook(firing_notification_for(service, Clock::now() + 1s,
                                                     hex_fingerprint("fa17" + service)))
                    .status == 200);
    std::map<std::string, std::string> final_state;
    for (const auto& service : services)
        final_state[service] =
            receiver.wait_for_state("fault-" + service, {"rolled_back", "rollback_failed"});
    const double took = std::chrono::duration<double>(std::chrono::steady_clock::now() - started_at).count();
    probing = false;
    prober.join();
    MESSAGE("command faults: all ended after " << took << " s; " << probes.load() << " probes, slowest "
                                               << slowest_probe << " s (" << slowest_probe_what << ")");
    CHECK(probe_failures == 0);
    CHECK(probes >= 5);
    CHECK(slowest_probe < std::chrono::duration<double>(kAnswerBound).count());

    std::map<std::string, int> runs_of;
    for (const auto& service : receiver.runs())
        ++runs_of[service];
    auto attempts_failed = [&](const std::string& service) {
        std::vector<json> failed;
        for (const json& event : receiver.audit("fault-" + service))
            if (event["event"] == "rollback_attempt_failed") failed.push_back(event);
        return failed;
    };
    auto final_event = [&](const std::string& service, const std::string& name) {
        for (const json& event : receiver.audit("fault-" + service))
            if (event["event"] == name) return event;
        return json();
    };

    {
        INFO("hang: ended by SIGTERM at the timeout, retried once, failed");
        CHECK(final_state["hang"] == "rollback_failed");
        CHECK(runs_of["hang"] == 2);
        const auto failed = attempts_failed("hang");
        CHECK(failed.size() == 2);
        for (const json& event : failed)
            CHECK(event["reason"] == "timed out after 1s (ended with SIGTERM)");
        CHECK(final_event("hang", "rollback_failed")["detail"]["attempts"] == 2);
    }
    {
        INFO("stubborn: SIGTERM ignored, SIGKILL after the kill grace; no retries configured");
        CHECK(final_state["stubborn"] == "rollback_failed");
        CHECK(runs_of["stubborn"] == 1);
        const auto failed = attempts_failed("stubborn");
        CHECK(failed.size() == 1);
        for (const json& event : failed)
            CHECK(event["reason"] == "timed out after 1s (ended with SIGKILL)");
    }
    {
        INFO("killed: killed by signal 9 twice, the third attempt succeeds");
        CHECK(final_state["killed"] == "rolled_back");
        CHECK(runs_of["killed"] == 3);
        const auto failed = attempts_failed("killed");
        CHECK(failed.size() == 2);
        for (const json& event : failed)
            CHECK(event["reason"] == "killed by signal 9");
        const json succeeded = final_event("killed", "rollback_succeeded");
        CHECK(succeeded["detail"]["attempts"] == 3);
        CHECK(succeeded["detail"]["output"].get<std::string>().find("restored") != std::string::npos);
    }
    {
        INFO("flood: 24 MiB of output, only its last 64 KiB are kept, the daemon's memory stays small");
        CHECK(final_state["flood"] == "rolled_back");
        CHECK(runs_of["flood"] == 1);
        const std::string output = final_event("flood", "rollback_succeeded")["detail"]["output"];
        CHECK(output.size() <= 64 * 1024);
        CHECK(output.size() >= 60 * 1024);
        CHECK(output.find("last-line-of-output") != std::string::npos);
        const long peak = peak_resident_kib(receiver.daemon().pid());
        const long bound = kSanitizedBuild ? 400 * 1024 : 100 * 1024;
        MESSAGE("the daemon's peak VmRSS over the command faults (the 24 MiB flood included): "
                << peak << " KiB (bound " << bound << " KiB)");
        CHECK(peak > 0);
        CHECK(peak < bound);
    }
    {
        INFO("failing: exit status 3 on each of the 3 attempts, with its message");
        CHECK(final_state["failing"] == "rollback_failed");
        CHECK(runs_of["failing"] == 3);
        const auto failed = attempts_failed("failing");
        CHECK(failed.size() == 3);
        for (const json& event : failed) {
            CHECK(event["reason"] == "exit status 3");
            CHECK(event["detail"]["exit_code"] == 3);
            CHECK(event["detail"]["output"].get<std::string>().find("permission denied") !=
                  std::string::npos);
        }
    }
    {
        INFO("missing: the program is not there; both attempts say so");
        CHECK(final_state["missing"] == "rollback_failed");
        CHECK(runs_of.count("missing") == 0);
        const auto failed = attempts_failed("missing");
        CHECK(failed.size() == 2);
        for (const json& event : failed)
            CHECK(event["reason"].get<std::string>().find("could not start") != std::string::npos);
    }
    CHECK(receiver.stop() == 0);
}

TEST_CASE("disk full: 503 with a clear error, nothing half-written, recovery when space returns") {
    TestReceiver receiver(ReceiverSetup().with_ledger_folder("ledger-fs"));
    std::string why_not;
    const auto disk = ScratchMount::tmpfs(receiver.dir().file("ledger-fs"), 2 * 1024 * 1024, why_not);
    if (!disk) {
        MESSAGE("SKIPPED disk-full test: " << why_not << " (it needs root to mount a 2 MiB tmpfs)");
        return;
    }
    receiver.start();
    REQUIRE(receiver.record("before-full", "checkout", "v2", "v1").status == 201);
    const std::size_t filled = disk->fill_with("filler");
    MESSAGE("disk full: filler of " << filled << " bytes, " << disk->free_bytes() << " bytes left");
    REQUIRE(disk->free_bytes() == 0);

    for (const std::string id : {"while-full-1", "while-full-2", "while-full-3"}) {
        const auto refused = receiver.record(id, "checkout", "v3", "v2");
        CHECK(refused.status == 503);
        const std::string error = json::parse(refused.body)["error"];
        CHECK(error.find("the ledger could not be written") != std::string::npos);
        CHECK(error.find("database or disk is full") != std::string::npos);
        CHECK(error.find("free disk space on the file system holding " + receiver.ledger_path()) !=
              std::string::npos);
    }
    // The firing alert cannot claim the rollback: 503, which Alertmanager retries; nothing runs.
    const auto webhook = receiver.webhook(firing_notification_for("checkout", Clock::now() + 1s, "d15cf011"));
    CHECK(webhook.status == 503);
    CHECK(json::parse(webhook.body)["error"].get<std::string>().find("Alertmanager will retry") !=
          std::string::npos);
    // Reads go on.
    CHECK(http_request(receiver.url(), "GET", "/-/healthy").status == 200);
    CHECK(receiver.deployment("before-full")["state"] == "watching");
    CHECK(receiver.api("GET", "/api/v1/deployments/while-full-1").status == 404);
    std::this_thread::sleep_for(200ms);
    CHECK(receiver.runs().empty());
    {
        // Nothing half-written: the file holds exactly what was confirmed.
        LedgerFile ledger(receiver.ledger_path());
        CHECK(ledger.integrity() == "ok");
        CHECK(ledger.column("SELECT id || ':' || state FROM deployments") ==
              std::vector<std::string>{"before-full:watching"});
        CHECK(ledger
                  .column("SELECT event FROM audit_events WHERE deployment_id LIKE 'while-full%' OR "
                          "event = 'rollback_started'")
                  .empty());
    }

    // Space returns: the same requests succeed, once.
    std::filesystem::remove(disk->dir() + "/filler");
    CHECK(receiver.record("while-full-1", "checkout", "v3", "v2").status == 201);
    CHECK(receiver.record("while-full-1", "checkout", "v3", "v2").status == 200);
    CHECK(receiver.webhook(firing_notification_for("checkout", Clock::now() + 1s, "d15cf011")).status == 200);
    CHECK(receiver.wait_for_state("while-full-1", {"rolled_back", "rollback_failed"}) == "rolled_back");
    CHECK(receiver.runs() == std::vector<std::string>{"while-full-1"});
    CHECK(receiver.stop() == 0);
    LedgerFile ledger(receiver.ledger_path());
    CHECK(ledger.integrity() == "ok");
}

TEST_CASE("read-only ledger: the file system turns read-only under the daemon; 503, reads go on, nothing "
          "half-written; a start on it is refused") {
    TestReceiver receiver(ReceiverSetup().with_ledger_folder("ledger-fs"));
    std::string why_not;
    const std::string image = receiver.dir().file("ledger.ext4");
    auto disk = ScratchMount::ext4(image, receiver.dir().file("ledger-fs"), 16 * 1024 * 1024, why_not);
    if (!disk) {
        MESSAGE("SKIPPED read-only ledger test: " << why_not
                                                  << " (it needs root, mkfs.ext4 and a loop device)");
        return;
    }
    receiver.start();
    REQUIRE(receiver.record("before-ro", "checkout", "v2", "v1").status == 201);
    if (!disk->force_read_only(why_not)) {
        MESSAGE("SKIPPED read-only ledger test: " << why_not);
        receiver.kill9();
        return;
    }
    const auto refused = receiver.record("while-ro", "checkout", "v3", "v2");
    CHECK(refused.status == 503);
    const std::string error = json::parse(refused.body)["error"];
    CHECK(error.find("the ledger could not be written") != std::string::npos);
    CHECK(error.find(receiver.ledger_path()) != std::string::npos);
    INFO("the error: " << error);
    // The cause, not only SQLite's "disk I/O error".
    CHECK(error.find("the file system holding " + receiver.ledger_path() + " is mounted read-only") !=
          std::string::npos);
    const auto webhook = receiver.webhook(firing_notification_for("checkout", Clock::now() + 1s, "0eadf00d"));
    CHECK(webhook.status == 503);
    CHECK(http_request(receiver.url(), "GET", "/-/healthy").status == 200);
    CHECK(receiver.deployment("before-ro")["state"] == "watching");
    const auto listed = receiver.api("GET", "/api/v1/deployments");
    REQUIRE(listed.status == 200);
    CHECK(json::parse(listed.body)["deployments"].size() == 1);
    CHECK(receiver.runs().empty());
    receiver.kill9();

    // A start on the read-only ledger stops with exit status 1 and says what to fix.
    receiver.launch();
    CHECK(receiver.daemon().wait_exit(30s) == 1);
    INFO("its log: " << receiver.daemon().log());
    CHECK(receiver.daemon().log().find("the file system holding " + receiver.ledger_path() +
                                       " is mounted read-only") != std::string::npos);

    // Mounted again (read-write, the journal replayed): the file holds exactly what was confirmed, and the
    // daemon takes writes again.
    disk.reset();
    disk = ScratchMount::ext4_existing(image, receiver.dir().file("ledger-fs"), why_not);
    REQUIRE_MESSAGE(disk, why_not);
    {
        LedgerFile ledger(receiver.ledger_path());
        CHECK(ledger.integrity() == "ok");
        CHECK(ledger.column("SELECT id || ':' || state FROM deployments") ==
              std::vector<std::string>{"before-ro:watching"});
        CHECK(ledger
                  .column("SELECT event FROM audit_events WHERE deployment_id = 'while-ro' OR "
                          "event = 'rollback_started'")
                  .empty());
    }
    receiver.start();
    CHECK(receiver.record("while-ro", "checkout", "v3", "v2").status == 201);
    CHECK(receiver.stop() == 0);
}

namespace {

// A receiver with `rollback_concurrency` whose script counts the runs going on at once: each run holds a
// file in running/ while it sleeps and appends how many it saw there (itself included) to concurrency.txt.
ReceiverSetup concurrency_counting_setup(int rollback_concurrency, const std::string& sleep_seconds) {
    return ReceiverSetup()
        .with_top_level("rollback_concurrency: " + std::to_string(rollback_concurrency) + "\n")
        .with_script("here=$(dirname \"$0\")/..\n"
                     "mkdir -p \"$here/running\"\n"
                     "touch \"$here/running/$ROLLBACK_DEPLOYMENT_ID\"\n"
                     "ls \"$here/running\" | wc -l >> \"$here/concurrency.txt\"\n"
                     "sleep " +
                     sleep_seconds +
                     "\n"
                     "rm \"$here/running/$ROLLBACK_DEPLOYMENT_ID\"\n");
}

// One notification with a firing alert for each service.
std::string firing_notification_for_all(const std::vector<std::string>& services, TimePoint starts_at) {
    json body = json::parse(firing_notification_for(services.front(), starts_at, "a000000000000000"));
    const json first = body["alerts"][0];
    body["alerts"] = json::array();
    for (std::size_t i = 0; i < services.size(); ++i) {
        json alert = first;
        alert["labels"]["service"] = services[i];
        char fingerprint[17];
        std::snprintf(fingerprint, sizeof fingerprint, "%016zx", i + 1);
        alert["fingerprint"] = fingerprint;
        body["alerts"].push_back(alert);
    }
    body["groupLabels"] = json::object();
    return body.dump();
}

// Records deployment "<prefix><i>" of service "svc<i>" for each i below `count`; the services, in order.
std::vector<std::string> record_one_per_service(const TestReceiver& receiver, const std::string& prefix,
                                                int count) {
    std::vector<std::string> services;
    for (int i = 0; i < count; ++i) {
        services.push_back("svc" + std::to_string(i));
        REQUIRE(receiver.record(prefix + std::to_string(i), services.back(), "v2", "v1").status == 201);
    }
    return services;
}

double gauge_value(const std::string& metrics_text, const std::string& name) {
    const std::string prefix = "\n" + name + " ";
    const auto at = metrics_text.find(prefix);
    if (at == std::string::npos) return -1;
    return std::stod(metrics_text.substr(at + prefix.size()));
}

} // namespace

TEST_CASE(
    "one notification for 50 services with rollback_concurrency 4: never more than 4 at once, each once") {
    TestReceiver receiver(concurrency_counting_setup(4, "0.3"));
    receiver.start();
    const std::vector<std::string> services = record_one_per_service(receiver, "bulk-", 50);
    const auto answer = receiver.webhook(firing_notification_for_all(services, Clock::now() + 1s));
    REQUIRE(answer.status == 200);
    // Every rollback was claimed before the answer; with 4 workers and 0.3 s each most of them still wait.
    const auto during = http_request(receiver.url(), "GET", "/metrics");
    CHECK(gauge_value(during.body, "rollback_receiver_rollbacks_queued") > 0);

    for (int i = 0; i < 50; ++i) {
        const std::string id = "bulk-" + std::to_string(i);
        CHECK(receiver.wait_for_state(id, {"rolled_back", "rollback_failed"}, 60s) == "rolled_back");
    }
    const std::vector<std::string> runs = receiver.runs();
    CHECK(runs.size() == 50);
    CHECK(std::set<std::string>(runs.begin(), runs.end()).size() == 50);
    const std::vector<std::string> seen = lines_of(receiver.dir().file("concurrency.txt"));
    REQUIRE(seen.size() == 50);
    int most = 0;
    for (const std::string& line : seen)
        most = std::max(most, std::stoi(line));
    MESSAGE("at most " << most << " rollbacks ran at once");
    CHECK(most <= 4);
    CHECK(most >= 2); // they do run side by side
    const auto after = http_request(receiver.url(), "GET", "/metrics");
    CHECK(gauge_value(after.body, "rollback_receiver_rollbacks_queued") == 0);
    CHECK(after.body.find("rollback_receiver_rollbacks_total{service=\"svc49\",result=\"succeeded\"} 1") !=
          std::string::npos);
}

TEST_CASE("SIGTERM with rollbacks waiting for a worker: the running ones finish, the waiting ones end "
          "interrupted and are never run") {
    TestReceiver receiver(concurrency_counting_setup(2, "1"));
    receiver.start();
    const std::vector<std::string> services = record_one_per_service(receiver, "wait-", 12);
    REQUIRE(receiver.webhook(firing_notification_for_all(services, Clock::now() + 1s)).status == 200);
    for (int i = 0; i < 500 && receiver.runs().empty(); ++i)
        std::this_thread::sleep_for(10ms);
    REQUIRE_FALSE(receiver.runs().empty());
    CHECK(receiver.stop() == 0); // the running ones finish within the 10 s grace

    const std::vector<std::string> runs = receiver.runs();
    const std::set<std::string> ran(runs.begin(), runs.end());
    CHECK(runs.size() == ran.size());
    CHECK(ran.size() <= 4); // 2 at once; the grace does not start waiting ones
    LedgerFile ledger(receiver.ledger_path());
    CHECK(ids_in_state(ledger, "rolling_back").empty());
    CHECK(ids_in_state(ledger, "rolled_back") == ran);
    const std::set<std::string> interrupted = ids_in_state(ledger, "rollback_interrupted");
    CHECK(interrupted.size() == 12 - ran.size());
    const auto shutdown_events =
        ledger.column("SELECT deployment_id FROM audit_events WHERE event = 'rollback_interrupted' AND "
                      "reason = 'shutdown' AND detail LIKE '%\"attempts\":0%'");
    CHECK(std::set<std::string>(shutdown_events.begin(), shutdown_events.end()) == interrupted);
    CHECK(shutdown_events.size() == interrupted.size());
}
