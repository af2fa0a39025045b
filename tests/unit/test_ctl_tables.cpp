// Unit tests for rollbackctl's tables: ages, Go durations, alignment, the deployments and audit tables.
#include "ctl/tables.hpp"

#include <doctest/doctest.h>

#include <string>
#include <vector>

namespace rollback {
namespace {

using namespace std::chrono_literals;

bool contains(const std::string& text, const std::string& part) {
    return text.find(part) != std::string::npos;
}

TEST_CASE("ages and durations as people and CI logs read them") {
    struct Row {
        Duration duration;
        std::string age;
        std::string go;
    };
    for (const Row& row : std::vector<Row>{{0ms, "0s", "0s"},
                                           {200ms, "0s", "200ms"},
                                           {1500ms, "1s", "1.5s"},
                                           {45s, "45s", "45s"},
                                           {59s, "59s", "59s"},
                                           {60s, "1m", "1m0s"},
                                           {3min + 20s, "3m", "3m20s"},
                                           {5min, "5m", "5m0s"},
                                           {2h, "2h", "2h0m0s"},
                                           {47h, "47h", "47h0m0s"},
                                           {48h, "2d", "48h0m0s"},
                                           {-5s, "0s", "-5s"}}) {
        CAPTURE(row.duration.count());
        CHECK(format_age(row.duration) == row.age);
        CHECK(format_go_duration(row.duration) == row.go);
    }
}

TEST_CASE("format_table pads every column but the last and keeps rows on one line") {
    const std::string table =
        format_table({"A", "LONG HEADER", "C"}, {{"xx", "y", "last"}, {"x\ny", "", "z"}});
    CHECK(table == "A    LONG HEADER  C\n"
                   "xx   y            last\n"
                   "x y               z\n");
    // UTF-8 counts per character, not per byte.
    CHECK(format_table({"N", "X"}, {{"\xc3\xa9t\xc3\xa9", "1"}, {"abcd", "2"}}) ==
          "N     X\n\xc3\xa9t\xc3\xa9   1\nabcd  2\n");
}

TimePoint at(const std::string& text) {
    auto parsed = parse_rfc3339(text);
    REQUIRE(parsed.ok());
    return *parsed;
}

TEST_CASE("the deployments table: columns, ages, paused marks and the footer") {
    const TimePoint now = at("2026-11-26T12:30:00Z");
    std::vector<DeploymentListing> deployments{
        {"checkout-rb-1", "checkout", "prod", "v1", "v2", at("2026-11-26T12:27:00Z"), "rollback", "watching",
         "deploy-42"},
        {"deploy-42", "checkout", "prod", "v2", "v1", at("2026-11-26T12:20:00Z"), "deploy", "rolled_back",
         ""},
        {"search-7", "search", "", "v9", "", at("2026-11-24T10:00:00Z"), "deploy", "watching", ""},
    };
    const std::string plain = format_deployments_table(deployments, {}, now);
    CHECK(plain == "ID             SERVICE   ENV   VERSION  PREVIOUS  AGE  STATE\n"
                   "checkout-rb-1  checkout  prod  v1       v2        3m   watching (rollback of deploy-42)\n"
                   "deploy-42      checkout  prod  v2       v1        10m  rolled_back\n"
                   "search-7       search    -     v9       -         2d   watching\n");

    const std::vector<PauseListing> paused{
        {"search", true, "incident 42", "2026-11-26T12:00:00.000Z", "2026-11-26T13:00:00.000Z"},
        {"billing", true, "", "2026-11-26T12:00:00.000Z", ""},
    };
    const std::string marked = format_deployments_table(deployments, paused, now);
    CHECK(contains(marked, "search-7       search    -     v9       -         2d   watching (paused)\n"));
    CHECK(contains(marked, "rolled_back\n")); // not watching: no mark
    CHECK(contains(marked, "paused: search \u2014 incident 42 (until 2026-11-26T13:00:00.000Z)\n"));
    CHECK(contains(marked, "paused: billing \u2014 (no reason given) (until resumed)\n"));

    CHECK(format_deployments_table({}, {}, now).empty());
}

TEST_CASE("the deployments table shows a rolled-back deployment's outcome from the trail") {
    const TimePoint now = at("2026-11-26T12:30:00Z");
    std::vector<DeploymentListing> deployments{
        {"deploy-42", "checkout", "prod", "v2", "v1", at("2026-11-26T12:20:00Z"), "deploy", "rolled_back",
         ""},
        {"deploy-43", "checkout", "prod", "v3", "v2", at("2026-11-26T12:25:00Z"), "deploy", "rolled_back",
         ""},
        {"deploy-44", "checkout", "prod", "v4", "v3", at("2026-11-26T12:28:00Z"), "deploy", "watching", ""},
    };
    std::vector<AuditEvent> events(4);
    events[0].event = "rollback_ineffective";
    events[0].deployment_id = "deploy-43";
    events[1].event = "rollback_effective";
    events[1].deployment_id = "deploy-42";
    events[2].event = "rollback_effective"; // a stray one for a watching deployment shows nothing
    events[2].deployment_id = "deploy-44";
    events[3].event = "rollback_succeeded";
    events[3].deployment_id = "deploy-44";
    const auto outcomes = rollback_outcomes(events);
    CHECK(outcomes == std::map<std::string, std::string>{{"deploy-42", "effective"},
                                                         {"deploy-43", "ineffective"},
                                                         {"deploy-44", "effective"}});
    const std::string table = format_deployments_table(deployments, {}, now, outcomes);
    CHECK(contains(table, "deploy-42  checkout  prod  v2       v1        10m  rolled_back (effective)\n"));
    CHECK(contains(table, "deploy-43  checkout  prod  v3       v2        5m   rolled_back (ineffective)\n"));
    CHECK(contains(table, "deploy-44  checkout  prod  v4       v3        2m   watching\n"));
}

// An audit event of checkout's deploy-42, v2 replacing v1.
AuditEvent deploy_42_event(long long sequence, const std::string& time, const std::string& event,
                           const std::string& environment) {
    AuditEvent out;
    out.sequence = sequence;
    out.time = at(time);
    out.event = event;
    out.service = "checkout";
    out.environment = environment;
    out.deployment_id = "deploy-42";
    out.version = "v2";
    out.previous_version = "v1";
    return out;
}

TEST_CASE("the audit table: time, event, service, versions, reason and the alert's summary") {
    std::vector<AuditEvent> events{
        deploy_42_event(1, "2026-11-26T12:20:00.123Z", "deployment_recorded", "prod"),
        deploy_42_event(2, "2026-11-26T12:25:01Z", "alert_ignored", ""),
        deploy_42_event(3, "2026-11-26T12:26:02Z", "rollback_started", "prod"),
    };
    events[1].alertname = "HighErrorRate";
    events[1].reason = "predates_deployment";
    events[1].detail = R"({"labels":{"alertname":"HighErrorRate"},"annotations":{}})";
    events[2].alertname = "HighErrorRate";
    // The summary is the alert's, in the event's detail as the receiver writes it.
    events[2].detail = R"({"annotations":{"summary":"checkout error rate is 3.1%"},"attempt":1})";
    const std::string table = format_audit_table(events, true);
    CHECK(table == "TIME                  EVENT                SERVICE        DEPLOYMENT  VERSIONS  REASON   "
                   "            "
                   "SUMMARY\n"
                   "2026-11-26T12:20:00Z  deployment_recorded  checkout/prod  deploy-42   v2 -> v1  -        "
                   "            -\n"
                   "2026-11-26T12:25:01Z  alert_ignored        checkout       deploy-42   v2 -> v1  "
                   "predates_deployment  "
                   "HighErrorRate\n"
                   "2026-11-26T12:26:02Z  rollback_started     checkout/prod  deploy-42   v2 -> v1  -        "
                   "            "
                   "HighErrorRate: checkout error rate is 3.1%\n");
    const std::string body = format_audit_table(events, false);
    CHECK(body.rfind("2026-11-26T12:20:00Z", 0) == 0); // no header line
    CHECK(table.substr(table.find('\n') + 1) == body);

    AuditEvent service_event;
    service_event.sequence = 4;
    service_event.time = at("2026-11-26T12:30:00Z");
    service_event.event = "service_paused";
    service_event.service = "checkout";
    service_event.reason = "incident";
    CHECK(contains(format_audit_table({service_event}, false), "service_paused  checkout  -           -  "));
}

TEST_CASE("the audit table shows rollback_started's compare_url and the outcome events' reasons") {
    std::vector<AuditEvent> events{
        deploy_42_event(3, "2026-11-26T12:26:02Z", "rollback_started", "prod"),
        deploy_42_event(5, "2026-11-26T12:36:02Z", "rollback_ineffective", "prod"),
    };
    events[0].alertname = "HighErrorRate";
    events[0].detail = R"j({"annotations":{"summary":"3.1%"},)j"
                       R"j("compare_url":"https://github.com/org/checkout/compare/abcdef1...1234567"})j";
    events[1].alertname = "HighErrorRate";
    events[1].reason = "still_firing";
    events[1].detail = R"j({"still_firing":"HighErrorRate (fp1)","confirm_window":"10m"})j";
    const std::string table = format_audit_table(events, false);
    CHECK(contains(
        table, "HighErrorRate: 3.1% (changes: https://github.com/org/checkout/compare/abcdef1...1234567)\n"));
    CHECK(contains(
        table, "rollback_ineffective  checkout/prod  deploy-42   v2 -> v1  still_firing  HighErrorRate\n"));
}

} // namespace
} // namespace rollback
