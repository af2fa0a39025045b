// The engine with a real ledger, a fake clock and a fake command runner: exactly once, debounce, retries.
#include "engine/engine.hpp"
#include "ledger/sqlite_ledger.hpp"

#include "support/child_process.hpp"
#include "support/eventually.hpp"
#include "support/fakes.hpp"
#include "support/fault_injecting_ledger.hpp"
#include "support/ledger_steps.hpp"
#include "support/temp_dir.hpp"

#include <doctest/doctest.h>

#include <deque>
#include <functional>
#include <map>
#include <set>
#include <thread>

using namespace rollback;
using namespace std::chrono_literals;
using rollback::testing::eventually;
using rollback::testing::FakeHttp;
using rollback::testing::FakeRunner;
using rollback::testing::pause_service;
using rollback::testing::record_deployment;

namespace {

HttpCallResult http_answer(int status, std::string body = {}) {
    HttpCallResult result;
    result.status = status;
    result.body = std::move(body);
    return result;
}

CommandResult failure(int exit_code) {
    CommandResult result;
    result.started = true;
    result.exit_code = exit_code;
    result.output = "boom\n";
    return result;
}

struct Fixture {
    testing::TempDir dir;
    SqliteLedger sqlite{dir.file("ledger.db")};
    testing::FaultInjectingLedger ledger{sqlite}; // passes everything through until a test arms a fault
    Metrics metrics;
    AuditTrail audit{ledger, metrics};
    FakeRunner runner;
    FakeHttp http;
    std::atomic<Clock::rep> now_ticks{
        (TimePoint{} + std::chrono::hours(24 * 20000)).time_since_epoch().count()};
    std::unique_ptr<Engine> engine;

    explicit Fixture(Duration debounce = 0s, bool dry_run = false, int retries = 2,
                     const std::function<void(Config&)>& adjust = {}) {
        auto config = std::make_shared<Config>();
        config->defaults.debounce = debounce;
        config->defaults.rollback.command = {"/usr/bin/rollback", "{{service}}", "--to={{previous_version}}"};
        config->defaults.rollback.retries = retries;
        config->defaults.rollback.retry_backoff = 1ms;
        if (adjust) adjust(*config);
        engine = std::make_unique<Engine>(EngineDependencies{ledger, audit, runner, metrics,
                                                             [this] { return now(); }, dry_run, 100ms, &http},
                                          config);
    }
    TimePoint now() const { return TimePoint(Clock::duration(now_ticks.load())); }
    void advance(Duration by) { now_ticks += std::chrono::duration_cast<Clock::duration>(by).count(); }

    Deployment record(const std::string& id, const std::string& version, const std::string& previous,
                      const std::string& service = "checkout") {
        DeploymentRequest request;
        request.id = id;
        request.service = service;
        request.environment = "prod";
        request.version = version;
        request.previous_version = previous;
        request.deployed_at = now();
        auto recorded = record_deployment(ledger, request, id + version, now());
        REQUIRE(recorded.ok());
        return recorded->deployment;
    }

    Notification notification(const std::string& status = "firing", const std::string& fingerprint = "fp1") {
        Alert alert;
        alert.status = status;
        alert.labels = {{"alertname", "HighErrorRate"}, {"service", "checkout"}, {"environment", "prod"}};
        alert.annotations = {{"summary", "checkout error rate is 3.1%"}};
        alert.starts_at = now();
        alert.fingerprint = fingerprint;
        alert.generator_url = "http://prometheus/graph";
        Notification n;
        n.version = "4";
        n.alerts.push_back(alert);
        return n;
    }

    DeploymentState state_of(const std::string& id) {
        auto found = ledger.get_deployment(id);
        REQUIRE(found.ok());
        REQUIRE(found->has_value());
        return (*found)->state;
    }

    std::vector<std::string> events(const std::string& deployment_id = {}) {
        AuditFilter filter;
        filter.deployment_id = deployment_id;
        filter.limit = 1000;
        auto listed = ledger.list_audit(filter);
        REQUIRE(listed.ok());
        std::vector<std::string> names;
        for (auto it = listed->rbegin(); it != listed->rend(); ++it)
            names.push_back(it->event);
        return names;
    }
};

std::size_t count(const std::vector<std::string>& names, const std::string& name) {
    return static_cast<std::size_t>(std::count(names.begin(), names.end(), name));
}

} // namespace

TEST_CASE("a firing alert after a deployment runs the rollback once, with placeholders and environment") {
    Fixture f;
    f.record("d1", "v2", "v1");
    f.advance(2min);
    REQUIRE(f.engine->handle_notification(f.notification()).ok());
    f.engine->wait_idle();

    REQUIRE(f.runner.call_count() == 1);
    const CommandSpec& spec = f.runner.calls[0];
    CHECK(spec.argv == std::vector<std::string>{"/usr/bin/rollback", "checkout", "--to=v1"});
    auto env = [&](const std::string& name) {
        for (const auto& [key, value] : spec.environment)
            if (key == name) return value;
        return std::string("<missing>");
    };
    CHECK(env("ROLLBACK_SERVICE") == "checkout");
    CHECK(env("ROLLBACK_ENVIRONMENT") == "prod");
    CHECK(env("ROLLBACK_DEPLOYMENT_ID") == "d1");
    CHECK(env("ROLLBACK_FROM_VERSION") == "v2");
    CHECK(env("ROLLBACK_TO_VERSION") == "v1");
    CHECK(env("ROLLBACK_ALERTNAME") == "HighErrorRate");
    CHECK(env("ROLLBACK_FINGERPRINT") == "fp1");

    CHECK(f.state_of("d1") == DeploymentState::rolled_back);
    auto latest = f.ledger.latest_deployment("checkout", "prod");
    REQUIRE(latest.ok());
    REQUIRE(latest->has_value());
    CHECK((*latest)->kind == DeploymentKind::rollback);
    CHECK((*latest)->version == "v1");
    CHECK((*latest)->rollback_of == "d1");
    const auto names = f.events("d1");
    CHECK(count(names, "rollback_started") == 1);
    CHECK(count(names, "rollback_succeeded") == 1);
    CHECK(f.metrics.rollbacks.value({"checkout", "succeeded"}) == 1);

    SUBCASE("the same alert again, after the rollback, runs nothing") {
        REQUIRE(f.engine->handle_notification(f.notification()).ok());
        f.engine->wait_idle();
        CHECK(f.runner.call_count() == 1);
    }
}

TEST_CASE("50 duplicate notifications from 8 threads give one execution") {
    Fixture f;
    f.record("d1", "v2", "v1");
    f.advance(1min);
    const Notification n = f.notification();
    std::vector<std::thread> threads;
    std::atomic<int> failures{0};
    for (int t = 0; t < 8; ++t)
        threads.emplace_back([&] {
            for (int i = 0; i < 50; ++i)
                if (!f.engine->handle_notification(n).ok()) ++failures;
        });
    for (auto& thread : threads)
        thread.join();
    f.engine->wait_idle();
    CHECK(failures == 0);
    CHECK(f.runner.call_count() == 1);
    CHECK(f.state_of("d1") == DeploymentState::rolled_back);
    CHECK(count(f.events("d1"), "rollback_started") == 1);
}

TEST_CASE(
    "an alert that started before the deployment is ignored and audited once however often it repeats") {
    Fixture f;
    const Notification early = f.notification(); // startsAt = before the deployment
    f.advance(1min);
    f.record("d1", "v2", "v1");
    f.advance(1min);
    for (int i = 0; i < 20; ++i)
        REQUIRE(f.engine->handle_notification(early).ok());
    f.engine->wait_idle();
    CHECK(f.runner.call_count() == 0);
    CHECK(f.state_of("d1") == DeploymentState::watching);
    CHECK(count(f.events("d1"), "alert_ignored") == 1);
    CHECK(f.metrics.alerts.value({"ignore", "predates_deployment"}) == 20);
    CHECK(f.metrics.audit_repeats.value({"alert_ignored", "predates_deployment"}) == 19);
}

TEST_CASE("dry run audits rollback_dry_run and runs nothing") {
    Fixture f(0s, true);
    f.record("d1", "v2", "v1");
    f.advance(1min);
    REQUIRE(f.engine->handle_notification(f.notification()).ok());
    REQUIRE(f.engine->handle_notification(f.notification()).ok());
    f.engine->wait_idle();
    CHECK(f.runner.call_count() == 0);
    CHECK(f.state_of("d1") == DeploymentState::watching);
    CHECK(count(f.events("d1"), "rollback_dry_run") == 1);
}

TEST_CASE(
    "debounce: the rollback starts when the alert kept firing for the debounce, without a new notification") {
    Fixture f(60s);
    f.record("d1", "v2", "v1");
    f.advance(1min);
    REQUIRE(f.engine->handle_notification(f.notification()).ok());
    CHECK(f.engine->pending_count() == 1);
    f.advance(30s);
    REQUIRE(f.engine->handle_notification(f.notification()).ok()); // a repeat does not restart the timer
    f.engine->fire_due_timers();
    CHECK(f.runner.call_count() == 0);
    f.advance(29s);
    f.engine->fire_due_timers();
    CHECK(f.runner.call_count() == 0);
    f.advance(1s);
    f.engine->fire_due_timers();
    f.engine->wait_idle();
    CHECK(f.runner.call_count() == 1);
    CHECK(f.engine->pending_count() == 0);
    CHECK(f.state_of("d1") == DeploymentState::rolled_back);
    const auto names = f.events("d1");
    CHECK(count(names, "rollback_pending") == 1);
    CHECK(count(names, "rollback_started") == 1);
}

TEST_CASE("debounce: when every alert resolves first, the pending rollback is cancelled and audited") {
    Fixture f(60s);
    f.record("d1", "v2", "v1");
    f.advance(1min);
    REQUIRE(f.engine->handle_notification(f.notification("firing", "fp1")).ok());
    REQUIRE(f.engine->handle_notification(f.notification("firing", "fp2")).ok());
    f.advance(10s);
    REQUIRE(f.engine->handle_notification(f.notification("resolved", "fp1")).ok());
    CHECK(f.engine->pending_count() == 1); // fp2 still fires
    REQUIRE(f.engine->handle_notification(f.notification("resolved", "fp2")).ok());
    CHECK(f.engine->pending_count() == 0);
    f.advance(2min);
    f.engine->fire_due_timers();
    f.engine->wait_idle();
    CHECK(f.runner.call_count() == 0);
    CHECK(f.state_of("d1") == DeploymentState::watching);
    CHECK(count(f.events("d1"), "rollback_cancelled") == 1);
}

// A second receiver's engine on the fixture's ledger file and clock (the HA pair on one ledger).
struct SecondReceiver {
    SqliteLedger sqlite;
    Metrics metrics;
    AuditTrail audit{sqlite, metrics};
    FakeRunner runner;
    FakeHttp http;
    std::unique_ptr<Engine> engine;
    explicit SecondReceiver(Fixture& f, Duration debounce) : sqlite(f.dir.file("ledger.db"), "receiver-b") {
        auto config = std::make_shared<Config>();
        config->defaults.debounce = debounce;
        config->defaults.rollback.command = {"/usr/bin/rollback", "{{service}}"};
        engine = std::make_unique<Engine>(
            EngineDependencies{sqlite, audit, runner, metrics, [&f] { return f.now(); }, false, 100ms, &http},
            config);
    }
};

TEST_CASE("debounce: the wait counts from the first notification any receiver on the ledger got") {
    Fixture f(60s);
    SecondReceiver second(f, 60s);
    f.record("d1", "v2", "v1");
    f.advance(1min);
    REQUIRE(f.engine->handle_notification(f.notification()).ok()); // the first receiver, at t0
    f.advance(30s);
    REQUIRE(second.engine->handle_notification(f.notification()).ok()); // the second, at t0 + 30 s
    // The first receiver stops (its timer never fires); the second starts the rollback at t0 + 60 s.
    f.advance(29s);
    second.engine->fire_due_timers();
    CHECK(second.runner.call_count() == 0);
    f.advance(1s);
    second.engine->fire_due_timers();
    second.engine->wait_idle();
    CHECK(second.runner.call_count() == 1);
    // Were the first one alive, its timer finds the rollback claimed and the wait ended: no second run,
    // no cancel event.
    f.engine->fire_due_timers();
    f.engine->wait_idle();
    CHECK(f.runner.call_count() == 0);
    const auto names = f.events("d1");
    CHECK(count(names, "rollback_pending") == 1); // written by the receiver that stored the start
    CHECK(count(names, "rollback_started") == 1);
    CHECK(count(names, "rollback_cancelled") == 0);
    CHECK(f.state_of("d1") == DeploymentState::rolled_back);
}

TEST_CASE("debounce: both receivers get the resolution; the wait ends once, audited once, and a new firing "
          "starts a new wait") {
    Fixture f(60s);
    SecondReceiver second(f, 60s);
    f.record("d1", "v2", "v1");
    f.advance(1min);
    REQUIRE(f.engine->handle_notification(f.notification()).ok());
    REQUIRE(second.engine->handle_notification(f.notification()).ok());
    f.advance(10s);
    REQUIRE(f.engine->handle_notification(f.notification("resolved")).ok());
    REQUIRE(second.engine->handle_notification(f.notification("resolved")).ok());
    CHECK(count(f.events("d1"), "rollback_cancelled") == 1);
    f.advance(5min);
    REQUIRE(second.engine->handle_notification(f.notification()).ok()); // fires again: a fresh 60 s
    f.advance(59s);
    second.engine->fire_due_timers();
    CHECK(second.runner.call_count() == 0);
    f.advance(1s);
    second.engine->fire_due_timers();
    second.engine->wait_idle();
    CHECK(second.runner.call_count() == 1);
    CHECK(f.runner.call_count() == 0);
}

TEST_CASE("debounce: a deployment superseded while pending is not rolled back") {
    Fixture f(60s);
    f.record("d1", "v2", "v1");
    f.advance(1min);
    REQUIRE(f.engine->handle_notification(f.notification()).ok());
    f.advance(10s);
    f.record("d2", "v3", "v2");
    f.advance(60s);
    f.engine->fire_due_timers();
    f.engine->wait_idle();
    CHECK(f.runner.call_count() == 0);
    CHECK(f.state_of("d1") == DeploymentState::superseded);
    CHECK(count(f.events("d1"), "rollback_cancelled") == 1);
}

TEST_CASE("the timer thread starts a debounced rollback on its own") {
    Fixture f(50ms);
    f.record("d1", "v2", "v1");
    f.engine->start_timer_thread();
    f.advance(1s);
    REQUIRE(f.engine->handle_notification(f.notification()).ok());
    f.advance(1s); // the fake clock is past the debounce: the thread fires within its wait
    for (int i = 0; i < 300 && f.runner.call_count() == 0; ++i)
        std::this_thread::sleep_for(10ms);
    f.engine->wait_idle();
    CHECK(f.runner.call_count() == 1);
}

TEST_CASE("retries: two failures then success; all failures end in rollback_failed") {
    SUBCASE("recovers on the third attempt") {
        Fixture f;
        f.runner.results = {failure(1), failure(2)};
        f.record("d1", "v2", "v1");
        f.advance(1min);
        REQUIRE(f.engine->handle_notification(f.notification()).ok());
        f.engine->wait_idle();
        CHECK(f.runner.call_count() == 3);
        CHECK(f.state_of("d1") == DeploymentState::rolled_back);
        CHECK(count(f.events("d1"), "rollback_attempt_failed") == 2);
    }
    SUBCASE("gives up after retries + 1 attempts and is never run again") {
        Fixture f(0s, false, 1);
        f.runner.results = {failure(3), failure(3), failure(3)};
        f.record("d1", "v2", "v1");
        f.advance(1min);
        REQUIRE(f.engine->handle_notification(f.notification()).ok());
        f.engine->wait_idle();
        CHECK(f.runner.call_count() == 2);
        CHECK(f.state_of("d1") == DeploymentState::rollback_failed);
        const auto names = f.events("d1");
        CHECK(count(names, "rollback_failed") == 1);
        REQUIRE(f.engine->handle_notification(f.notification()).ok());
        f.engine->wait_idle();
        CHECK(f.runner.call_count() == 2);
        CHECK(f.metrics.rollbacks.value({"checkout", "failed"}) == 1);
    }
}

TEST_CASE("shutdown cancels a running rollback: the deployment becomes rollback_interrupted") {
    Fixture f;
    f.runner.block_until_cancel = true;
    f.record("d1", "v2", "v1");
    f.advance(1min);
    REQUIRE(f.engine->handle_notification(f.notification()).ok());
    for (int i = 0; i < 300 && f.runner.call_count() == 0; ++i)
        std::this_thread::sleep_for(10ms);
    CHECK(f.engine->running_count() == 1);
    f.engine->shutdown();
    CHECK(f.state_of("d1") == DeploymentState::rollback_interrupted);
    CHECK(count(f.events("d1"), "rollback_interrupted") == 1);
}

TEST_CASE("a second bad deployment after a rollback is rolled back again, once") {
    Fixture f;
    f.record("d1", "v2", "v1");
    f.advance(1min);
    REQUIRE(f.engine->handle_notification(f.notification("firing", "fp1")).ok());
    f.engine->wait_idle();
    f.advance(5min);
    f.record("d2", "v3", "");
    auto d2 = f.ledger.get_deployment("d2");
    REQUIRE(d2.ok());
    CHECK((*d2)->previous_version == "v1"); // what the rollback put live
    f.advance(1min);
    REQUIRE(f.engine->handle_notification(f.notification("firing", "fp1")).ok());
    REQUIRE(f.engine->handle_notification(f.notification("firing", "fp1")).ok());
    f.engine->wait_idle();
    REQUIRE(f.runner.call_count() == 2);
    CHECK(f.runner.calls[1].argv[2] == "--to=v1");
    CHECK(f.state_of("d2") == DeploymentState::rolled_back);
}

TEST_CASE("one notification with alerts of several services decides each against its own deployment") {
    // The engine looks each (service, environment) up once per notification; alerts of other services,
    // environments without a deployment, and repeats after a rollback started must still come out right.
    Fixture f;
    f.record("d1", "v2", "v1");
    f.record("s1", "w2", "w1", "search");
    f.advance(1min);

    Notification n = f.notification("firing", "fp1");
    auto add_alert = [&](const std::string& service, const std::string& environment, const std::string& fp) {
        Alert alert = n.alerts.front();
        alert.labels["service"] = service;
        alert.labels["environment"] = environment;
        alert.fingerprint = fp;
        n.alerts.push_back(alert);
    };
    add_alert("search", "prod", "fp2");
    add_alert("checkout", "prod", "fp3");    // a repeat for d1, after its rollback started
    add_alert("checkout", "staging", "fp4"); // no deployment in staging
    add_alert("search", "prod", "fp5");
    add_alert("payments", "prod", "fp6"); // no deployment at all
    REQUIRE(f.engine->handle_notification(n).ok());
    f.engine->wait_idle();

    REQUIRE(f.runner.call_count() == 2);
    std::set<std::vector<std::string>> argvs;
    for (const CommandSpec& spec : f.runner.calls)
        argvs.insert(spec.argv);
    CHECK(argvs == std::set<std::vector<std::string>>{{"/usr/bin/rollback", "checkout", "--to=v1"},
                                                      {"/usr/bin/rollback", "search", "--to=w1"}});
    CHECK(f.state_of("d1") == DeploymentState::rolled_back);
    CHECK(f.state_of("s1") == DeploymentState::rolled_back);

    AuditFilter filter;
    filter.limit = 1000;
    auto trail = f.ledger.list_audit(filter);
    REQUIRE(trail.ok());
    std::map<std::string, std::string> ignored; // fingerprint -> reason
    for (const AuditEvent& event : *trail)
        if (event.event == "alert_ignored") ignored[event.fingerprint] = event.reason;
    // A repeat reads the ledger again after the rollback started: the deployment is rolling back, or
    // already rolled back, and then the latest deployment is the rollback itself.
    const std::set<std::string> repeat_reasons{"already_handled", "rollback_of_rollback"};
    CHECK(ignored.size() == 4);
    CHECK(repeat_reasons.count(ignored["fp3"]) == 1);
    CHECK(repeat_reasons.count(ignored["fp5"]) == 1);
    CHECK(ignored["fp4"] == "no_deployment");
    CHECK(ignored["fp6"] == "no_deployment");
}

TEST_CASE("pause: alerts are ignored with reason paused until resumed or the pause expires") {
    Fixture f;
    f.record("d1", "v2", "v1");
    ServicePause pause;
    pause.service = "checkout";
    pause.reason = "incident";
    pause.paused_at = f.now();
    pause.until = f.now() + 10min;
    REQUIRE(pause_service(f.ledger, pause).ok());
    f.advance(1min);
    REQUIRE(f.engine->handle_notification(f.notification()).ok());
    f.engine->wait_idle();
    CHECK(f.runner.call_count() == 0);
    CHECK(f.metrics.alerts.value({"ignore", "paused"}) == 1);
    f.advance(10min); // the pause has expired
    REQUIRE(f.engine->handle_notification(f.notification("firing", "fp2")).ok());
    f.engine->wait_idle();
    CHECK(f.runner.call_count() == 1);
}

TEST_CASE("pause: a debounced rollback whose service is paused meanwhile is cancelled") {
    Fixture f(60s);
    f.record("d1", "v2", "v1");
    f.advance(1min);
    REQUIRE(f.engine->handle_notification(f.notification()).ok());
    ServicePause pause;
    pause.service = "checkout";
    pause.paused_at = f.now();
    REQUIRE(pause_service(f.ledger, pause).ok());
    f.advance(61s);
    f.engine->fire_due_timers();
    f.engine->wait_idle();
    CHECK(f.runner.call_count() == 0);
    CHECK(count(f.events("d1"), "rollback_cancelled") == 1);
}

TEST_CASE("manual rollback: the same exactly-once path, refused when it cannot or must not run") {
    using Outcome = ManualRollbackResult::Outcome;
    Fixture f;
    f.record("d1", "v2", "v1");
    ServicePause pause; // a pause freezes automatic rollbacks only
    pause.service = "checkout";
    pause.paused_at = f.now();
    REQUIRE(pause_service(f.ledger, pause).ok());

    std::vector<std::thread> threads;
    std::atomic<int> started{0}, refused{0};
    for (int t = 0; t < 16; ++t)
        threads.emplace_back([&] {
            auto result = f.engine->manual_rollback("d1", "error budget burning", "bob");
            REQUIRE(result.ok());
            if (result->outcome == Outcome::started) ++started;
            if (result->outcome == Outcome::refused) ++refused;
        });
    for (auto& thread : threads)
        thread.join();
    f.engine->wait_idle();
    CHECK(started == 1);
    CHECK(refused == 15);
    REQUIRE(f.runner.call_count() == 1);
    CHECK(f.state_of("d1") == DeploymentState::rolled_back);
    const auto events = f.events("d1");
    CHECK(count(events, "rollback_started") == 1);

    auto again = f.engine->manual_rollback("d1", "again", "bob");
    REQUIRE(again.ok());
    CHECK(again->outcome == Outcome::refused);
    CHECK(again->message.find("rolled_back") != std::string::npos);

    auto rollback_kind = f.engine->manual_rollback("d1-rollback", "undo the undo", "bob");
    REQUIRE(rollback_kind.ok());
    CHECK(rollback_kind->outcome == Outcome::refused);
    CHECK(rollback_kind->message.find("itself a rollback") != std::string::npos);

    auto unknown = f.engine->manual_rollback("nope", "x", "bob");
    REQUIRE(unknown.ok());
    CHECK(unknown->outcome == Outcome::not_found);

    f.record("first-of-other", "v1", "");
    DeploymentRequest request;
    request.id = "lonely";
    request.service = "lonely-service";
    request.version = "v1";
    REQUIRE(record_deployment(f.ledger, request, "k", f.now()).ok());
    auto no_previous = f.engine->manual_rollback("lonely", "x", "bob");
    REQUIRE(no_previous.ok());
    CHECK(no_previous->outcome == Outcome::refused);
    CHECK(no_previous->message.find("no previous version") != std::string::npos);
}

TEST_CASE("a resolved alert is audited once as alert_ignored / resolved and runs nothing") {
    Fixture f;
    f.record("d1", "v2", "v1");
    f.advance(1min);
    for (int i = 0; i < 5; ++i)
        REQUIRE(f.engine->handle_notification(f.notification("resolved")).ok());
    f.engine->wait_idle();
    CHECK(f.runner.call_count() == 0);
    const auto names = f.events("d1");
    CHECK(count(names, "alert_ignored") == 1);
    CHECK(f.metrics.alerts.value({"ignore", "resolved"}) == 5);
}

namespace {

constexpr const char* kHookUrl = "https://deploy.example/rollback/checkout";
constexpr const char* kChatUrl = "https://chat.example/hook";
constexpr const char* kSlowChatUrl = "https://slow-chat.example/hook";

// The checkout service rolls back through a webhook; notify: posts to the chat URLs.
std::function<void(Config&)> webhook_service(std::vector<std::string> chat_urls = {kChatUrl}) {
    return [chat_urls](Config& config) {
        RollbackSettings& rollback = config.defaults.rollback;
        rollback.command.clear();
        WebhookAction webhook;
        webhook.target.url = "https://deploy.example/rollback/{{service}}";
        TemplateValue to;
        to.kind = TemplateValue::Kind::string;
        to.text = "{{previous_version}}";
        webhook.body.kind = TemplateValue::Kind::object;
        webhook.body.fields.push_back(TemplateField{"to", to});
        rollback.webhook = webhook;
        for (const std::string& url : chat_urls) {
            NotifyTarget target;
            target.target.url = url;
            config.defaults.notify.push_back(target);
        }
    };
}

std::string detail_of(Fixture& f, const std::string& deployment_id, const std::string& event) {
    AuditFilter filter;
    filter.deployment_id = deployment_id;
    auto listed = f.ledger.list_audit(filter);
    REQUIRE(listed.ok());
    for (const AuditEvent& found : *listed)
        if (found.event == event) return found.reason + " " + found.detail;
    return "";
}

} // namespace

TEST_CASE("webhook action: one POST with placeholders replaced; success is any 2xx") {
    Fixture f(0s, false, 2, webhook_service({}));
    f.http.results[kHookUrl] = {http_answer(202)};
    f.record("d1", "v2", "v1");
    REQUIRE(f.engine->handle_notification(f.notification()).ok());
    f.engine->wait_idle();
    const auto calls = f.http.calls_to(kHookUrl);
    REQUIRE(calls.size() == 1);
    CHECK(calls[0].method == "POST");
    CHECK(calls[0].body == R"({"to":"v1"})");
    CHECK(f.runner.call_count() == 0);
    CHECK(f.state_of("d1") == DeploymentState::rolled_back);
    CHECK(detail_of(f, "d1", "rollback_started").find(R"("action":"webhook")") != std::string::npos);
    CHECK(detail_of(f, "d1", "rollback_started").find("POST https://deploy.example/<redacted>") !=
          std::string::npos); // the path and query may hold a secret: redact_url
    CHECK(detail_of(f, "d1", "rollback_succeeded").find("HTTP 202") != std::string::npos);
}

TEST_CASE("webhook action: 5xx and no answer are retried as configured, then rollback_failed") {
    Fixture f(0s, false, 2, webhook_service({}));
    HttpCallResult refused;
    refused.error = "Connection";
    f.http.results[kHookUrl] = {http_answer(503, "busy"), refused, http_answer(500, "still down")};
    f.record("d1", "v2", "v1");
    REQUIRE(f.engine->handle_notification(f.notification()).ok());
    f.engine->wait_idle();
    CHECK(f.http.calls_to(kHookUrl).size() == 3);
    CHECK(f.state_of("d1") == DeploymentState::rollback_failed);
    const auto names = f.events("d1");
    CHECK(count(names, "rollback_attempt_failed") == 3);
    CHECK(count(names, "rollback_failed") == 1);
    CHECK(detail_of(f, "d1", "rollback_failed").find("HTTP 500: still down") != std::string::npos);
}

TEST_CASE("github_workflow action: a 4xx is not retried and the trail carries GitHub's message") {
    Fixture f(0s, false, 2, [](Config& config) {
        config.defaults.rollback.command.clear();
        GithubWorkflowAction workflow;
        workflow.repository = "my-org/checkout";
        workflow.workflow = "rollback.yml";
        workflow.ref = "main";
        workflow.token_file = "/nonexistent/token"; // read on every call: the attempt fails before HTTP
        config.defaults.rollback.github_workflow = workflow;
    });
    f.record("d1", "v2", "v1");
    REQUIRE(f.engine->handle_notification(f.notification()).ok());
    f.engine->wait_idle();
    CHECK(f.http.calls.empty()); // no token, no request: three attempts, each failing to read the file
    CHECK(count(f.events("d1"), "rollback_attempt_failed") == 3);
    CHECK(detail_of(f, "d1", "rollback_failed").find("token_file: cannot read /nonexistent/token") !=
          std::string::npos);

    testing::TempDir secrets;
    const std::string token_file = secrets.file("token");
    {
        std::FILE* file = std::fopen(token_file.c_str(), "w");
        REQUIRE(file != nullptr);
        std::fputs("ghp_test\n", file);
        std::fclose(file);
    }
    auto config = std::make_shared<Config>(*f.engine->config());
    config->defaults.rollback.github_workflow->token_file = token_file;
    f.engine->set_config(config);
    const std::string dispatch_url =
        "https://api.github.com/repos/my-org/checkout/actions/workflows/rollback.yml/dispatches";
    f.http.results[dispatch_url] = {
        http_answer(422, R"({"message":"Unexpected inputs provided: [\"to\"]","documentation_url":"x"})")};
    f.advance(1min);
    f.record("d2", "v3", "v2");
    REQUIRE(f.engine->handle_notification(f.notification("firing", "fp2")).ok());
    f.engine->wait_idle();
    const auto calls = f.http.calls_to(dispatch_url);
    REQUIRE(calls.size() == 1); // 422 fails the same way every time: no retry
    CHECK(calls[0].body == R"({"inputs":{},"ref":"main"})");
    CHECK(f.state_of("d2") == DeploymentState::rollback_failed);
    CHECK(
        detail_of(f, "d2", "rollback_failed").find("GitHub answered HTTP 422: Unexpected inputs provided") !=
        std::string::npos);
}

TEST_CASE("notify: started and succeeded messages are sent; a failed rollback sends failed") {
    Fixture f(0s, false, 0, webhook_service());
    f.record("d1", "v2", "v1");
    REQUIRE(f.engine->handle_notification(f.notification()).ok());
    f.engine->wait_idle();
    f.engine->wait_notifications_sent();
    auto messages = f.http.calls_to(kChatUrl);
    REQUIRE(messages.size() == 2);
    CHECK(messages[0].body.find("Rolling back checkout (prod) from v2 to v1") != std::string::npos);
    CHECK(messages[0].body.find("HighErrorRate: checkout error rate is 3.1%") != std::string::npos);
    CHECK(messages[0].body.find("http://prometheus/graph") != std::string::npos);
    CHECK(messages[1].body.find("Rolled back checkout (prod) from v2 to v1") != std::string::npos);

    f.http.results[kHookUrl] = {http_answer(500, "down")};
    f.advance(1min);
    f.record("d2", "v3", "v2");
    REQUIRE(f.engine->handle_notification(f.notification("firing", "fp2")).ok());
    f.engine->wait_idle();
    f.engine->wait_notifications_sent();
    messages = f.http.calls_to(kChatUrl);
    REQUIRE(messages.size() == 4);
    CHECK(messages[3].body.find("FAILED: HTTP 500: down") != std::string::npos);
}

TEST_CASE(
    "notify: a chat target that hangs delays neither the rollback nor other targets; shutdown cancels it") {
    Fixture f(0s, false, 0, webhook_service({kSlowChatUrl, kChatUrl}));
    f.http.hang_urls.insert(kSlowChatUrl);
    f.record("d1", "v2", "v1");
    REQUIRE(f.engine->handle_notification(f.notification()).ok());
    f.engine->wait_idle(); // returns although the first notification is stuck
    CHECK(f.state_of("d1") == DeploymentState::rolled_back);
    CHECK(f.http.calls_to(kHookUrl).size() == 1);
    // The other chat gets both its messages (started, succeeded) while the slow one hangs.
    for (int i = 0; i < 1000 && f.http.calls_to(kChatUrl).size() < 2; ++i)
        std::this_thread::sleep_for(2ms);
    CHECK(f.http.calls_to(kChatUrl).size() == 2);
    const auto started = std::chrono::steady_clock::now();
    f.engine->shutdown(10s);
    CHECK(std::chrono::steady_clock::now() - started < 5s); // the notifier waits at most 2 s, then cancels
    CHECK(f.http.calls_to(kSlowChatUrl).size() == 1);
}

TEST_CASE("shutdown during a hanging webhook action interrupts it; it is not retried") {
    Fixture f(0s, false, 2, webhook_service({}));
    f.http.hang_urls.insert(kHookUrl);
    f.record("d1", "v2", "v1");
    REQUIRE(f.engine->handle_notification(f.notification()).ok());
    for (int i = 0; i < 200 && f.http.calls_to(kHookUrl).empty(); ++i)
        std::this_thread::sleep_for(10ms);
    f.engine->shutdown(0s);
    CHECK(f.http.calls_to(kHookUrl).size() == 1);
    CHECK(f.state_of("d1") == DeploymentState::rollback_interrupted);
}

// Alertmanager re-sends every firing group each group_interval: a repeat of an ignored alert is answered
// from the audit trail's memory, without a ledger transaction. Shown by a second process (the sqlite3 CLI)
// holding the ledger's write lock: a write would wait out the 5 s busy timeout and fail.
TEST_CASE("a repeated ignored alert needs no ledger write: it is answered while another process holds the "
          "write lock") {
    Fixture f;
    Notification unknown = f.notification("firing", "fp-search");
    unknown.alerts[0].labels["service"] = "search"; // no deployment: ignored as no_deployment
    REQUIRE(f.engine->handle_notification(unknown).ok());
    REQUIRE(count(f.events(), "alert_ignored") == 1);

    const std::string ledger_path = f.dir.file("ledger.db");
    // The holder waits for the lock (a probe below may hold it for a moment); without a timeout its
    // BEGIN would fail at such a moment and it would sleep without the lock.
    testing::ChildProcess holder({"/usr/bin/sqlite3", "-cmd", ".timeout 10000", ledger_path,
                                  "BEGIN IMMEDIATE;", ".shell sleep 20", "COMMIT;"});
    bool locked = false;
    for (int i = 0; i < 100 && !locked; ++i) {
        testing::ChildProcess probe(
            {"/usr/bin/sqlite3", "-cmd", ".timeout 0", ledger_path, "BEGIN IMMEDIATE;"},
            testing::output_files(f.dir.file("probe.out"), f.dir.file("probe.err")));
        locked = probe.wait(5s) != 0;
        if (!locked) std::this_thread::sleep_for(50ms);
    }
    REQUIRE_MESSAGE(locked, "the sqlite3 CLI never took the write lock");

    // Through the ledger this would fail with "database is locked" after the busy timeout.
    const Status repeated = f.engine->handle_notification(unknown);
    CHECK_MESSAGE(repeated.ok(), (repeated.ok() ? "" : repeated.error()));
    CHECK(f.metrics.render().find(
              "rollback_receiver_audit_repeats_total{event=\"alert_ignored\",reason=\"no_deployment\"} 1") !=
          std::string::npos);
    holder.signal(SIGKILL);
    holder.wait(5s);
    CHECK(count(f.events(), "alert_ignored") == 1);
}

TEST_CASE("a rollback whose outcome cannot be stored is written again until it is, and counted only then") {
    Fixture f;
    f.record("d1", "v2", "v1");
    f.advance(1min);
    f.ledger.fail_writes("completing the rollback", 3);
    REQUIRE(f.engine->handle_notification(f.notification()).ok());
    f.engine->wait_idle();
    CHECK(f.runner.call_count() == 1); // the action ran once; only its outcome's write was tried again
    CHECK(f.ledger.failed_writes() == 3);
    CHECK(f.state_of("d1") == DeploymentState::rolled_back);
    CHECK(count(f.events("d1"), "rollback_succeeded") == 1);
    CHECK(f.metrics.rollbacks.value({"checkout", "succeeded"}) == 1);
    CHECK(f.metrics.ledger_write_retries.value({}) == 3);
}

TEST_CASE(
    "a rollback outcome never stored is never counted; the deployment stays rolling_back for the sweep") {
    Fixture f;
    f.record("d1", "v2", "v1");
    f.advance(1min);
    f.ledger.fail_writes("completing the rollback", 1'000'000);
    REQUIRE(f.engine->handle_notification(f.notification()).ok());
    REQUIRE(eventually([&] { return f.ledger.failed_writes() >= 2; }));
    CHECK(f.metrics.rollbacks.value({"checkout", "succeeded"}) == 0);
    CHECK(f.state_of("d1") == DeploymentState::rolling_back);
    f.engine->shutdown(); // gives up writing; the next start marks it rollback_interrupted
    CHECK(f.metrics.rollbacks.value({"checkout", "succeeded"}) == 0);
    CHECK(f.state_of("d1") == DeploymentState::rolling_back);
    CHECK(count(f.events("d1"), "rollback_succeeded") == 0);
}

TEST_CASE("a transient ledger error when a debounce ends does not cancel the rollback: it is tried again") {
    Fixture f(30s);
    f.record("d1", "v2", "v1");
    f.advance(1min);
    REQUIRE(f.engine->handle_notification(f.notification()).ok());
    CHECK(f.engine->pending_count() == 1);
    f.advance(31s);
    f.ledger.fail_writes("claiming the rollback", 1);
    f.engine->fire_due_timers();
    CHECK(f.ledger.failed_writes() == 1);
    CHECK(f.engine->pending_count() == 1); // still due, not cancelled
    CHECK(count(f.events("d1"), "rollback_cancelled") == 0);
    CHECK(f.runner.call_count() == 0);
    f.advance(2s); // past EngineDependencies::debounce_retry
    f.engine->fire_due_timers();
    f.engine->wait_idle();
    CHECK(f.runner.call_count() == 1);
    CHECK(f.state_of("d1") == DeploymentState::rolled_back);
    CHECK(count(f.events("d1"), "rollback_cancelled") == 0);
}

TEST_CASE("during shutdown an alert is refused for a retry, never audited as already_handled") {
    using Outcome = ManualRollbackResult::Outcome;
    Fixture f;
    f.record("d1", "v2", "v1");
    f.advance(1min);
    f.engine->shutdown();
    auto handled = f.engine->handle_notification(f.notification());
    REQUIRE_FALSE(handled.ok());
    CHECK(handled.error() == "the receiver is shutting down");
    CHECK(count(f.events("d1"), "alert_ignored") == 0);
    CHECK(f.state_of("d1") == DeploymentState::watching); // rollbackable after the restart
    auto manual = f.engine->manual_rollback("d1", "by hand", "bob");
    REQUIRE(manual.ok());
    CHECK(manual->outcome == Outcome::shutting_down);
    CHECK(f.runner.call_count() == 0);
}

namespace {

std::function<void(Config&)> concurrency(int workers) {
    return [workers](Config& config) { config.rollback_concurrency = workers; };
}

// Records deployment "d<i>" of service "svc<i>" for each i, and one notification with a firing alert for
// each of them, in that order.
Notification deploy_services(Fixture& f, int count, std::vector<std::string>& services) {
    for (int i = 0; i < count; ++i) {
        services.push_back("svc" + std::to_string(i));
        f.record("d" + std::to_string(i), "v2", "v1", services.back());
    }
    f.advance(1min);
    Notification n = f.notification();
    const Alert first = n.alerts.front();
    n.alerts.clear();
    for (int i = 0; i < count; ++i) {
        Alert alert = first;
        alert.labels["service"] = services[static_cast<std::size_t>(i)];
        alert.fingerprint = "fp" + std::to_string(i);
        n.alerts.push_back(alert);
    }
    return n;
}

} // namespace

TEST_CASE(
    "rollback_concurrency: at most that many rollbacks run at once; the rest wait in order, each once") {
    using Outcome = ManualRollbackResult::Outcome;
    Fixture f(0s, false, 2, concurrency(2));
    f.runner.hold_until_released = true;
    std::vector<std::string> services;
    const Notification n = deploy_services(f, 10, services);
    REQUIRE(f.engine->handle_notification(n).ok());
    REQUIRE(eventually([&] { return f.runner.call_count() == 2; }));
    CHECK(f.engine->running_count() == 2);
    CHECK(f.engine->queued_count() == 8);
    CHECK(f.metrics.rollbacks_queued.value({}) == 8);
    for (int i = 0; i < 10; ++i) // claimed at once, whether running or waiting for a worker
        CHECK(f.state_of("d" + std::to_string(i)) == DeploymentState::rolling_back);

    // The same alerts again, and a manual rollback, while 8 wait: each deployment is already claimed.
    REQUIRE(f.engine->handle_notification(n).ok());
    CHECK(f.metrics.alerts.value({"ignore", "already_handled"}) == 10);
    auto manual = f.engine->manual_rollback("d9", "by hand", "bob");
    REQUIRE(manual.ok());
    CHECK(manual->outcome == Outcome::refused);
    CHECK(f.runner.call_count() == 2);

    // One run ends at a time: exactly one waiting rollback starts each time, the oldest first.
    for (std::size_t started = 3; started <= 10; ++started) {
        f.runner.release(1);
        REQUIRE(eventually([&] { return f.runner.call_count() == started; }));
        CHECK(f.runner.running_now() <= 2);
        CHECK(f.engine->queued_count() == 10 - started);
    }
    f.runner.release(2);
    f.engine->wait_idle();

    CHECK(f.runner.most_running_at_once() == 2);
    const std::vector<std::string> order = f.runner.services_run();
    REQUIRE(order.size() == 10);
    CHECK(std::set<std::string>(order.begin(), order.begin() + 2) ==
          std::set<std::string>{services[0], services[1]}); // started together
    CHECK(std::vector<std::string>(order.begin() + 2, order.end()) ==
          std::vector<std::string>(services.begin() + 2, services.end()));
    for (int i = 0; i < 10; ++i) {
        const std::string id = "d" + std::to_string(i);
        CHECK(f.state_of(id) == DeploymentState::rolled_back);
        CHECK(count(f.events(id), "rollback_started") == 1);
        CHECK(count(f.events(id), "rollback_succeeded") == 1);
    }
    CHECK(f.metrics.rollbacks_queued.value({}) == 0);
    CHECK(f.engine->running_count() == 0);
}

TEST_CASE("shutdown with rollbacks waiting for a worker: they never start and end interrupted, audited") {
    Fixture f(0s, false, 2, concurrency(2));
    f.runner.block_until_cancel = true;
    std::vector<std::string> services;
    REQUIRE(f.engine->handle_notification(deploy_services(f, 6, services)).ok());
    REQUIRE(eventually([&] { return f.runner.call_count() == 2; }));
    CHECK(f.engine->queued_count() == 4);
    f.engine->shutdown();

    CHECK(f.runner.call_count() == 2); // none started after shutdown began
    CHECK(f.runner.most_running_at_once() == 2);
    CHECK(f.metrics.rollbacks_queued.value({}) == 0);
    const std::vector<std::string> ran = f.runner.services_run();
    const std::set<std::string> running(ran.begin(), ran.end());
    for (int i = 0; i < 6; ++i) {
        const std::string id = "d" + std::to_string(i);
        CAPTURE(id);
        CHECK(f.state_of(id) == DeploymentState::rollback_interrupted);
        CHECK(f.metrics.rollbacks.value({services[static_cast<std::size_t>(i)], "interrupted"}) == 1);
        AuditFilter filter;
        filter.deployment_id = id;
        auto trail = f.ledger.list_audit(filter);
        REQUIRE(trail.ok());
        std::vector<AuditEvent> interrupted;
        for (const AuditEvent& event : *trail)
            if (event.event == "rollback_interrupted") interrupted.push_back(event);
        REQUIRE(interrupted.size() == 1);
        CHECK(interrupted[0].reason == "shutdown");
        if (running.count(services[static_cast<std::size_t>(i)]) == 0) {
            CHECK(interrupted[0].detail.find("\"attempts\":0") != std::string::npos);
            CHECK(interrupted[0].detail.find("waited for a free worker") != std::string::npos);
        }
    }
}

TEST_CASE("unsafe input: a previous_version that would become an option is refused before the claim; the "
          "deployment stays watching and a manual rollback says why") {
    using Outcome = ManualRollbackResult::Outcome;
    Fixture f(0s, false, 2, [](Config& config) {
        config.defaults.rollback.command = {"/usr/bin/rollback", "{{service}}", "{{previous_version}}"};
    });
    f.record("d1", "v2", "--force");
    REQUIRE(f.engine->handle_notification(f.notification()).ok());
    f.engine->wait_idle();
    CHECK(f.runner.call_count() == 0);
    CHECK(f.state_of("d1") == DeploymentState::watching); // not claimed: not burned
    const auto names = f.events("d1");
    CHECK(count(names, "rollback_started") == 0);
    REQUIRE(count(names, "alert_ignored") == 1);
    const std::string ignored = detail_of(f, "d1", "alert_ignored");
    CHECK(ignored.rfind("unsafe_input ", 0) == 0);
    CHECK(ignored.find(R"("input_error":"command[2] \"{{previous_version}}\" becomes \"--force\")") !=
          std::string::npos);
    // The same alert again: known from memory, audited once.
    REQUIRE(f.engine->handle_notification(f.notification()).ok());
    CHECK(count(f.events("d1"), "alert_ignored") == 1);

    auto manual = f.engine->manual_rollback("d1", "by hand", "bob");
    REQUIRE(manual.ok());
    CHECK(manual->outcome == Outcome::refused);
    CHECK(manual->message.find("would read as an option") != std::string::npos);
    CHECK(f.state_of("d1") == DeploymentState::watching);

    // The operator opts in (or writes "--" before the argument): the deployment is still rollbackable.
    auto opted_in = std::make_shared<Config>(*f.engine->config());
    opted_in->defaults.rollback.allow_option_values = true;
    f.engine->set_config(opted_in);
    manual = f.engine->manual_rollback("d1", "by hand", "bob");
    REQUIRE(manual.ok());
    CHECK(manual->outcome == Outcome::started);
    f.engine->wait_idle();
    REQUIRE(f.runner.call_count() == 1);
    CHECK(f.runner.calls[0].argv == std::vector<std::string>{"/usr/bin/rollback", "checkout", "--force"});
    CHECK(f.state_of("d1") == DeploymentState::rolled_back);
}

TEST_CASE("unsafe input: an alertname that would forge a webhook header is refused before the claim; a "
          "manual rollback still runs") {
    using Outcome = ManualRollbackResult::Outcome;
    Fixture f(0s, false, 2, [](Config& config) {
        webhook_service({})(config);
        config.defaults.rollback.webhook->target.headers = {{"X-Alert", "{{alertname}}", "", ""}};
    });
    f.http.results[kHookUrl] = {http_answer(202)};
    f.record("d1", "v2", "v1");
    Notification hostile = f.notification();
    hostile.alerts[0].labels["alertname"] = "x\r\nX-Injected: yes";
    REQUIRE(f.engine->handle_notification(hostile).ok());
    f.engine->wait_idle();
    CHECK(f.http.calls_to(kHookUrl).empty());
    CHECK(f.state_of("d1") == DeploymentState::watching);
    CHECK(detail_of(f, "d1", "alert_ignored").find("header X-Alert: holds CR (U+000D) at byte 1") !=
          std::string::npos);

    auto manual = f.engine->manual_rollback("d1", "by hand", "bob");
    REQUIRE(manual.ok());
    CHECK(manual->outcome == Outcome::started);
    f.engine->wait_idle();
    const auto calls = f.http.calls_to(kHookUrl);
    REQUIRE(calls.size() == 1);
    CHECK(calls[0].headers ==
          std::vector<std::pair<std::string, std::string>>{{"X-Alert", "ManualRollback"}});
    CHECK(f.state_of("d1") == DeploymentState::rolled_back);
}

TEST_CASE(
    "unsafe input: a debounced rollback whose action became unsafe by a reload is cancelled, not claimed") {
    Fixture f(30s);
    f.record("d1", "v2", "-v1");
    REQUIRE(f.engine->handle_notification(f.notification()).ok()); // "--to=-v1": the dash is the template's
    CHECK(f.engine->pending_count() == 1);
    auto reloaded = std::make_shared<Config>(*f.engine->config());
    reloaded->defaults.rollback.command = {"/usr/bin/rollback", "{{previous_version}}"};
    f.engine->set_config(reloaded);
    f.advance(31s);
    f.engine->fire_due_timers();
    f.engine->wait_idle();
    CHECK(f.runner.call_count() == 0);
    CHECK(f.state_of("d1") == DeploymentState::watching);
    const std::string cancelled = detail_of(f, "d1", "rollback_cancelled");
    CHECK(cancelled.rfind("unsafe_input ", 0) == 0);
    CHECK(cancelled.find("would read as an option") != std::string::npos);
}

TEST_CASE("a command that could not start says so in the trail: started no, no exit code") {
    Fixture f(0s, false, 0);
    CommandResult not_started;
    not_started.spawn_error = "/usr/bin/rollback: Argument list too long";
    f.runner.results = {not_started};
    f.record("d1", "v2", "v1");
    REQUIRE(f.engine->handle_notification(f.notification()).ok());
    f.engine->wait_idle();
    CHECK(f.state_of("d1") == DeploymentState::rollback_failed);
    for (const char* event : {"rollback_attempt_failed", "rollback_failed"}) {
        CAPTURE(event);
        const std::string detail = detail_of(f, "d1", event);
        CHECK(detail.rfind("could not start: /usr/bin/rollback: Argument list too long", 0) == 0);
        CHECK(detail.find(R"("started":"no")") != std::string::npos);
        CHECK(detail.find("exit_code") == std::string::npos);
    }
    // A command that ran and failed carries its exit code and no "started".
    Fixture ran(0s, false, 0);
    ran.runner.results = {failure(3)};
    ran.record("d1", "v2", "v1");
    REQUIRE(ran.engine->handle_notification(ran.notification()).ok());
    ran.engine->wait_idle();
    CHECK(detail_of(ran, "d1", "rollback_failed").find(R"("exit_code":3)") != std::string::npos);
    CHECK(detail_of(ran, "d1", "rollback_failed").find("started") == std::string::npos);
}

// Closing the loop: confirm_window after rollback_succeeded, and compare_url in rollback_started.
namespace {

Notification alerts_of(Fixture& f, const std::string& status,
                       const std::vector<std::pair<std::string, std::string>>& fingerprints_and_names) {
    Notification n = f.notification(status);
    const Alert model = n.alerts[0];
    n.alerts.clear();
    for (const auto& [fingerprint, alertname] : fingerprints_and_names) {
        Alert alert = model;
        alert.fingerprint = fingerprint;
        alert.labels["alertname"] = alertname;
        n.alerts.push_back(alert);
    }
    return n;
}

AuditEvent only_event(Fixture& f, const std::string& deployment_id, const std::string& name) {
    AuditFilter filter;
    filter.deployment_id = deployment_id;
    auto listed = f.ledger.list_audit(filter);
    REQUIRE(listed.ok());
    std::vector<AuditEvent> found;
    for (const AuditEvent& event : *listed)
        if (event.event == name) found.push_back(event);
    REQUIRE(found.size() == 1);
    return found[0];
}

std::size_t outcome_events(Fixture& f, const std::string& deployment_id) {
    const auto names = f.events(deployment_id);
    return count(names, "rollback_effective") + count(names, "rollback_ineffective");
}

} // namespace

TEST_CASE("confirm_window: the causing alert resolved within the window gives rollback_effective once") {
    Fixture f; // confirm_window: the default 10m
    f.record("d1", "v2", "v1");
    f.advance(1min);
    REQUIRE(f.engine->handle_notification(f.notification()).ok());
    f.engine->wait_idle();
    CHECK(f.state_of("d1") == DeploymentState::rolled_back);
    CHECK(f.engine->confirming_count() == 1);
    CHECK(outcome_events(f, "d1") == 0);

    f.advance(3min);
    f.engine->fire_due_timers(); // inside the window: nothing yet
    CHECK(outcome_events(f, "d1") == 0);
    for (int i = 0; i < 3; ++i) // Alertmanager repeats, and an HA pair sends each twice
        REQUIRE(f.engine->handle_notification(f.notification("resolved")).ok());
    CHECK(f.engine->confirming_count() == 0);
    const AuditEvent effective = only_event(f, "d1", "rollback_effective");
    CHECK(effective.reason == "alerts_resolved");
    CHECK(effective.alertname == "HighErrorRate");
    CHECK(effective.fingerprint == "fp1");
    CHECK(effective.detail.find(R"j("confirm_window":"10m")j") != std::string::npos);
    CHECK(effective.detail.find(R"j("resolved":"HighErrorRate (fp1)")j") != std::string::npos);
    CHECK(effective.detail.find(R"j("still_firing":"")j") != std::string::npos);
    CHECK(effective.detail.find(R"j("waited_ms":180000)j") != std::string::npos);
    CHECK(f.metrics.rollback_outcomes.value({"effective"}) == 1);
    CHECK(f.metrics.rollback_outcomes.value({"ineffective"}) == 0);

    f.advance(20min);
    f.engine->fire_due_timers();
    REQUIRE(f.engine->handle_notification(f.notification("resolved")).ok());
    CHECK(count(f.events("d1"), "rollback_effective") == 1);
    CHECK(count(f.events("d1"), "rollback_ineffective") == 0);
    CHECK(f.state_of("d1") == DeploymentState::rolled_back);
}

TEST_CASE("confirm_window: an alert still firing when the window ends gives rollback_ineffective, notified "
          "and counted") {
    Fixture f(0s, false, 0, [](Config& config) {
        webhook_service()(config);
        config.defaults.confirm_window = 5min;
    });
    f.record("d1", "v2", "v1");
    f.advance(1min);
    REQUIRE(f.engine->handle_notification(f.notification()).ok());
    f.engine->wait_idle();
    f.advance(4min);
    REQUIRE(f.engine->handle_notification(f.notification()).ok()); // still firing: a repeat
    f.engine->fire_due_timers();
    CHECK(outcome_events(f, "d1") == 0);
    f.advance(1min + 1s);
    f.engine->fire_due_timers();
    const AuditEvent ineffective = only_event(f, "d1", "rollback_ineffective");
    CHECK(ineffective.reason == "still_firing");
    CHECK(ineffective.detail.find(R"j("still_firing":"HighErrorRate (fp1)")j") != std::string::npos);
    CHECK(ineffective.detail.find(R"j("confirm_window":"5m")j") != std::string::npos);
    CHECK(ineffective.detail.find(R"j("still_firing_count":1)j") != std::string::npos);
    CHECK(f.metrics.rollback_outcomes.value({"ineffective"}) == 1);
    CHECK(f.metrics.rollback_outcomes.value({"effective"}) == 0);
    f.engine->wait_notifications_sent();
    const auto messages = f.http.calls_to(kChatUrl);
    REQUIRE(messages.size() == 3); // started, succeeded, ineffective
    CHECK(messages[2].body.find("Rollback of checkout (prod) from v2 to v1 did not fix it") !=
          std::string::npos);
    CHECK(messages[2].body.find("still firing 5m after the rollback: HighErrorRate (fp1)") !=
          std::string::npos);

    // Resolving afterwards changes nothing: one verdict per rollback.
    REQUIRE(f.engine->handle_notification(f.notification("resolved")).ok());
    f.advance(1h);
    f.engine->fire_due_timers();
    CHECK(outcome_events(f, "d1") == 1);
    CHECK(f.engine->confirming_count() == 0);
}

TEST_CASE("confirm_window 0s: neither rollback_effective nor rollback_ineffective") {
    Fixture f(0s, false, 2, [](Config& config) { config.defaults.confirm_window = 0s; });
    f.record("d1", "v2", "v1");
    f.advance(1min);
    REQUIRE(f.engine->handle_notification(f.notification()).ok());
    f.engine->wait_idle();
    CHECK(f.engine->confirming_count() == 0);
    f.advance(1min);
    REQUIRE(f.engine->handle_notification(f.notification("resolved")).ok());
    f.advance(1h);
    f.engine->fire_due_timers();
    CHECK(outcome_events(f, "d1") == 0);
    CHECK(f.metrics.rollback_outcomes.value({"effective"}) == 0);
    CHECK(f.metrics.rollback_outcomes.value({"ineffective"}) == 0);
}

TEST_CASE(
    "confirm_window: of two alerts, one resolved and one still firing gives rollback_ineffective naming "
    "the one still firing") {
    Fixture f;
    f.runner.hold_until_released = true;
    f.record("d1", "v2", "v1");
    f.advance(1min);
    REQUIRE(f.engine->handle_notification(alerts_of(f, "firing", {{"fp1", "HighErrorRate"}})).ok());
    // While it rolls back, a second alert fires for the deployment: it joins the alerts to confirm.
    for (int i = 0; i < 100 && f.runner.call_count() == 0; ++i)
        std::this_thread::sleep_for(10ms);
    REQUIRE(
        f.engine
            ->handle_notification(alerts_of(f, "firing", {{"fp1", "HighErrorRate"}, {"fp2", "HighLatency"}}))
            .ok());
    f.runner.release(1);
    f.engine->wait_idle();
    REQUIRE(f.state_of("d1") == DeploymentState::rolled_back);
    f.advance(2min);
    REQUIRE(f.engine->handle_notification(alerts_of(f, "resolved", {{"fp1", "HighErrorRate"}})).ok());
    CHECK(outcome_events(f, "d1") == 0); // fp2 still fires
    f.advance(10min);
    f.engine->fire_due_timers();
    const AuditEvent ineffective = only_event(f, "d1", "rollback_ineffective");
    CHECK(ineffective.detail.find(R"j("still_firing":"HighLatency (fp2)")j") != std::string::npos);
    CHECK(ineffective.detail.find(R"j("resolved":"HighErrorRate (fp1)")j") != std::string::npos);
    CHECK(ineffective.detail.find(R"j("alerts":2)j") != std::string::npos);
    CHECK(f.metrics.rollback_outcomes.value({"ineffective"}) == 1);
}

TEST_CASE("confirm_window: a debounced rollback waits for every alert its debounce saw") {
    Fixture f(30s);
    f.record("d1", "v2", "v1");
    f.advance(1min);
    REQUIRE(
        f.engine
            ->handle_notification(alerts_of(f, "firing", {{"fp1", "HighErrorRate"}, {"fp2", "HighLatency"}}))
            .ok());
    f.advance(31s);
    f.engine->fire_due_timers();
    f.engine->wait_idle();
    REQUIRE(f.state_of("d1") == DeploymentState::rolled_back);
    REQUIRE(f.engine->handle_notification(alerts_of(f, "resolved", {{"fp1", "HighErrorRate"}})).ok());
    CHECK(outcome_events(f, "d1") == 0);
    REQUIRE(f.engine->handle_notification(alerts_of(f, "resolved", {{"fp2", "HighLatency"}})).ok());
    const AuditEvent effective = only_event(f, "d1", "rollback_effective");
    CHECK(effective.detail.find(R"j("resolved":"HighErrorRate (fp1), HighLatency (fp2)")j") !=
          std::string::npos);
}

TEST_CASE("confirm_window: an alert that resolves while the rollback runs and fires again counts as firing") {
    Fixture f(0s, false, 2, [](Config& config) { config.defaults.confirm_window = 1min; });
    f.runner.hold_until_released = true;
    f.record("d1", "v2", "v1");
    f.advance(1min);
    REQUIRE(f.engine->handle_notification(f.notification()).ok());
    for (int i = 0; i < 100 && f.runner.call_count() == 0; ++i)
        std::this_thread::sleep_for(10ms);
    REQUIRE(f.engine->handle_notification(f.notification("resolved")).ok());
    REQUIRE(f.engine->handle_notification(f.notification("firing")).ok());
    f.runner.release(1);
    f.engine->wait_idle();
    CHECK(outcome_events(f, "d1") == 0);
    f.advance(2min);
    f.engine->fire_due_timers();
    CHECK(count(f.events("d1"), "rollback_ineffective") == 1);
}

TEST_CASE(
    "confirm_window: all resolved before the rollback succeeded gives rollback_effective at its success") {
    Fixture f;
    f.runner.hold_until_released = true;
    f.record("d1", "v2", "v1");
    f.advance(1min);
    REQUIRE(f.engine->handle_notification(f.notification()).ok());
    for (int i = 0; i < 100 && f.runner.call_count() == 0; ++i)
        std::this_thread::sleep_for(10ms);
    REQUIRE(f.engine->handle_notification(f.notification("resolved")).ok());
    CHECK(outcome_events(f, "d1") == 0); // no verdict before rollback_succeeded
    f.runner.release(1);
    f.engine->wait_idle();
    CHECK(only_event(f, "d1", "rollback_effective").detail.find(R"j("waited_ms":0)j") != std::string::npos);
}

TEST_CASE("confirm_window: nothing to confirm for a failed rollback, a manual one, a dry run; shutdown drops "
          "the open windows without a verdict") {
    SUBCASE("failed") {
        Fixture f(0s, false, 0);
        f.runner.results = {failure(1)};
        f.record("d1", "v2", "v1");
        REQUIRE(f.engine->handle_notification(f.notification()).ok());
        f.engine->wait_idle();
        CHECK(f.state_of("d1") == DeploymentState::rollback_failed);
        CHECK(f.engine->confirming_count() == 0);
    }
    SUBCASE("manual") {
        Fixture f;
        f.record("d1", "v2", "v1");
        auto started = f.engine->manual_rollback("d1", "bad release", "alice");
        REQUIRE(started.ok());
        f.engine->wait_idle();
        CHECK(f.state_of("d1") == DeploymentState::rolled_back);
        CHECK(f.engine->confirming_count() == 0);
    }
    SUBCASE("dry run") {
        Fixture f(0s, true);
        f.record("d1", "v2", "v1");
        REQUIRE(f.engine->handle_notification(f.notification()).ok());
        f.engine->wait_idle();
        CHECK(f.engine->confirming_count() == 0);
        f.advance(1h);
        f.engine->fire_due_timers();
        CHECK(outcome_events(f, "d1") == 0);
    }
    SUBCASE("shutdown") {
        Fixture f;
        f.record("d1", "v2", "v1");
        REQUIRE(f.engine->handle_notification(f.notification()).ok());
        f.engine->wait_idle();
        REQUIRE(f.engine->confirming_count() == 1);
        f.engine->shutdown();
        CHECK(f.engine->confirming_count() == 0);
        f.advance(1h);
        f.engine->fire_due_timers();
        CHECK(outcome_events(f, "d1") == 0);
        CHECK(f.state_of("d1") == DeploymentState::rolled_back);
    }
}

TEST_CASE("confirm_window: the timer thread ends a window on its own") {
    Fixture f(0s, false, 2, [](Config& config) { config.defaults.confirm_window = 1s; });
    f.engine->start_timer_thread();
    f.record("d1", "v2", "v1");
    REQUIRE(f.engine->handle_notification(f.notification()).ok());
    f.engine->wait_idle();
    f.advance(2s);
    CHECK(eventually([&] { return count(f.events("d1"), "rollback_ineffective") == 1; }));
}

namespace {

Deployment record_commit(Fixture& f, const std::string& id, const std::string& version,
                         const std::string& previous, const std::string& commit) {
    DeploymentRequest request;
    request.id = id;
    request.service = "checkout";
    request.environment = "prod";
    request.version = version;
    request.previous_version = previous;
    request.deployed_at = f.now();
    request.commit = commit;
    auto recorded = record_deployment(f.ledger, request, id + version, f.now());
    REQUIRE(recorded.ok());
    return recorded->deployment;
}

constexpr const char* kRepository = "https://github.com/my-org/checkout";
constexpr const char* kOldCommit = "0123456789abcdef0123456789abcdef01234567";
constexpr const char* kNewCommit = "fedcba9";

std::string started_detail_after(Fixture& f) {
    f.advance(1min);
    REQUIRE(f.engine->handle_notification(f.notification()).ok());
    f.engine->wait_idle();
    return detail_of(f, "d2", "rollback_started");
}

} // namespace

TEST_CASE("compare_url: in rollback_started and its notification when both deployments carry a commit") {
    Fixture f(0s, false, 0, [](Config& config) {
        webhook_service()(config);
        config.defaults.repository = kRepository;
    });
    record_commit(f, "d0", "v1", "v0", "1111111"); // an older v1: the latest earlier one is restored
    f.advance(1min);
    record_commit(f, "d1", "v1", "v0", kOldCommit);
    f.advance(1min);
    record_commit(f, "d2", "v2", "v1", kNewCommit);
    const std::string detail = started_detail_after(f);
    const std::string url = std::string(kRepository) + "/compare/" + kOldCommit + "..." + kNewCommit;
    CHECK(detail.find("\"compare_url\":\"" + url + "\"") != std::string::npos);
    f.engine->wait_notifications_sent();
    const auto messages = f.http.calls_to(kChatUrl);
    REQUIRE(messages.size() >= 1);
    CHECK(messages[0].body.find("<" + url + "|what changed>") != std::string::npos);
}

TEST_CASE("compare_url: absent when a commit is missing or unsafe, or the service has no repository") {
    struct Row {
        const char* name;
        std::string restored_commit;
        std::string rolled_back_commit;
        std::string repository = kRepository;
    };
    const std::vector<Row> rows{
        {"restored has no commit", "", kNewCommit},
        {"rolled back has no commit", kOldCommit, ""},
        {"no repository", kOldCommit, kNewCommit, ""},
        {"hostile rolled-back commit", kOldCommit, "abc1234/../../evil"},
        {"hostile restored commit", "<!channel>abcdef", kNewCommit},
        {"a branch name", "main", kNewCommit},
        {"too short", "abc12", kNewCommit},
        {"too long", kOldCommit, std::string(65, 'a')},
        {"query in the commit", kOldCommit, "abcdef1?x=1"},
    };
    for (const Row& row : rows) {
        CAPTURE(row.name);
        Fixture f(0s, false, 0,
                  [repository = row.repository](Config& config) { config.defaults.repository = repository; });
        record_commit(f, "d1", "v1", "v0", row.restored_commit);
        f.advance(1min);
        record_commit(f, "d2", "v2", "v1", row.rolled_back_commit);
        const std::string detail = started_detail_after(f);
        CHECK(detail.find("\"action\":\"command\"") != std::string::npos);
        CHECK(detail.find("compare_url") == std::string::npos);
    }
}
