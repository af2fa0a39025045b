// Unit tests for rollbackctl: argument parsing, URLs, tables, verify's verdict and progress lines.
#include "ctl/ctl.hpp"

#include <doctest/doctest.h>

#include <cmath>
#include <functional>
#include <limits>
#include <sstream>
#include <string>
#include <vector>

namespace rollback {
namespace {

using namespace std::chrono_literals;
using Arguments = std::vector<std::string>;

bool contains(const std::string& text, const std::string& part) {
    return text.find(part) != std::string::npos;
}

TEST_CASE("arguments that parse: one row per flag and form") {
    const CtlEnvironment environment{"http://receiver:9095", "/run/secrets/api-token"};
    struct Row {
        Arguments arguments;
        std::function<void(const CtlArgs&)> check;
    };
    const std::vector<Row> rows{
        {{"record", "--service", "checkout", "--version=v2"},
         [](const CtlArgs& a) {
             CHECK(a.command == CtlCommand::record);
             CHECK(a.record.request.service == "checkout");
             CHECK(a.record.request.version == "v2");
             CHECK(a.record.request.previous_version.empty());
             CHECK_FALSE(a.record.request.deployed_at.has_value());
             CHECK(a.url == "http://receiver:9095");
             CHECK(a.token_file == "/run/secrets/api-token");
         }},
        {{"record", "--service=checkout", "--version", "v2", "--previous-version", "v1", "--environment",
          "prod", "--id", "deploy-42", "--commit", "abc123", "--url", "https://ci/run/7", "--actor", "ci"},
         [](const CtlArgs& a) {
             const DeploymentRequest& r = a.record.request;
             CHECK(r.previous_version == "v1");
             CHECK(r.environment == "prod");
             CHECK(r.id == "deploy-42");
             CHECK(r.commit == "abc123");
             CHECK(r.url == "https://ci/run/7");     // after record, --url is the deployment's
             CHECK(a.url == "http://receiver:9095"); // the receiver's stays
             CHECK(r.actor == "ci");
         }},
        {{"--url", "http://other:1", "--token-file=/tmp/t", "record", "--service", "s", "--version", "v"},
         [](const CtlArgs& a) {
             CHECK(a.url == "http://other:1");
             CHECK(a.token_file == "/tmp/t");
         }},
        {{"deployments"},
         [](const CtlArgs& a) {
             CHECK(a.command == CtlCommand::deployments);
             CHECK(a.deployments.limit == 0);
             CHECK_FALSE(a.deployments.json);
         }},
        {{"deployments", "--service", "checkout", "--environment=prod", "--limit", "5", "--json"},
         [](const CtlArgs& a) {
             CHECK(a.deployments.service == "checkout");
             CHECK(a.deployments.environment == "prod");
             CHECK(a.deployments.limit == 5);
             CHECK(a.deployments.json);
         }},
        {{"deployments", "--url", "http://x:2"}, [](const CtlArgs& a) { CHECK(a.url == "http://x:2"); }},
        {{"audit", "--service", "checkout", "--deployment", "deploy-42", "--follow", "--json=false"},
         [](const CtlArgs& a) {
             CHECK(a.command == CtlCommand::audit);
             CHECK(a.audit.service == "checkout");
             CHECK(a.audit.deployment_id == "deploy-42");
             CHECK(a.audit.follow);
             CHECK_FALSE(a.audit.json);
             CHECK_FALSE(a.audit.follow_for.has_value());
         }},
        {{"audit", "--follow-for", "2s"},
         [](const CtlArgs& a) {
             CHECK(a.audit.follow); // implied
             CHECK(a.audit.follow_for == std::optional<Duration>(2s));
         }},
        {{"pause", "checkout"},
         [](const CtlArgs& a) {
             CHECK(a.command == CtlCommand::pause);
             CHECK(a.pause.service == "checkout");
             CHECK(a.pause.reason.empty());
             CHECK_FALSE(a.pause.for_duration.has_value());
         }},
        {{"pause", "--reason", "incident 42", "checkout", "--for=30m", "--actor", "alice"},
         [](const CtlArgs& a) {
             CHECK(a.pause.service == "checkout");
             CHECK(a.pause.reason == "incident 42");
             CHECK(a.pause.for_duration == std::optional<Duration>(30min));
             CHECK(a.pause.actor == "alice");
         }},
        {{"resume", "checkout"}, [](const CtlArgs& a) { CHECK(a.resume.service == "checkout"); }},
        {{"rollback", "deploy-42", "--reason", "error rate 3%", "--actor", "bob"},
         [](const CtlArgs& a) {
             CHECK(a.command == CtlCommand::rollback);
             CHECK(a.rollback.deployment_id == "deploy-42");
             CHECK(a.rollback.reason == "error rate 3%");
             CHECK(a.rollback.actor == "bob");
         }},
        {{"verify", "--prometheus", "http://prom:9090", "--query", "up", "--threshold", "0.01"},
         [](const CtlArgs& a) {
             const VerifyArgs& v = a.verify;
             CHECK(v.prometheus_url == "http://prom:9090");
             CHECK(v.query == "up");
             CHECK(v.threshold == doctest::Approx(0.01));
             CHECK(v.duration == Duration(5min));
             CHECK(v.interval == Duration(15s));
             CHECK(v.no_data == NoDataPolicy::ok);
             CHECK(v.on_error == ErrorPolicy::fail);
             CHECK(v.rollback_deployment_id.empty());
         }},
        {{"verify", "--prometheus=http://prom:9090/prefix/", "--query=sum(rate(x[5m])) > 0",
          "--threshold=1e-3", "--duration", "2s", "--interval", "200ms", "--no-data", "fail", "--on-error",
          "ignore", "--rollback", "deploy-42", "--reason", "gate"},
         [](const CtlArgs& a) {
             const VerifyArgs& v = a.verify;
             CHECK(v.query == "sum(rate(x[5m])) > 0");
             CHECK(v.threshold == doctest::Approx(0.001));
             CHECK(v.duration == Duration(2s));
             CHECK(v.interval == Duration(200ms));
             CHECK(v.no_data == NoDataPolicy::fail);
             CHECK(v.on_error == ErrorPolicy::ignore);
             CHECK(v.rollback_deployment_id == "deploy-42");
             CHECK(v.reason == "gate");
         }},
        {{"--help"},
         [](const CtlArgs& a) {
             CHECK(a.help);
             CHECK(a.command == CtlCommand::none);
         }},
        {{"verify", "--help"}, // --help needs none of the required flags
         [](const CtlArgs& a) {
             CHECK(a.help);
             CHECK(a.command == CtlCommand::verify);
         }},
        {{"-h", "rollback"}, [](const CtlArgs& a) { CHECK((a.help && a.command == CtlCommand::rollback)); }},
    };
    for (const Row& row : rows) {
        std::string joined;
        for (const auto& argument : row.arguments)
            joined += argument + " ";
        CAPTURE(joined);
        const auto parsed = parse_ctl_args(row.arguments, environment);
        REQUIRE_MESSAGE(parsed.ok(), parsed.error());
        row.check(*parsed);
    }
}

TEST_CASE("the receiver URL: flag, else environment, else the default") {
    CHECK(parse_ctl_args({"deployments"}, {})->url == kDefaultReceiverUrl);
    CHECK(parse_ctl_args({"deployments"}, {"http://env:1", ""})->url == "http://env:1");
    CHECK(parse_ctl_args({"--url=http://flag:2", "deployments"}, {"http://env:1", ""})->url ==
          "http://flag:2");
    CHECK(parse_ctl_args({"deployments"}, {})->token_file.empty());
}

TEST_CASE("arguments that do not parse: the message names the problem") {
    struct Row {
        Arguments arguments;
        std::string message_part;
    };
    const std::vector<Row> rows{
        {{}, "no command given"},
        {{"deploy"}, "unknown command \"deploy\""},
        {{"--service", "x", "record"}, "unknown flag --service (a command's flags go after the command"},
        {{"record", "--version", "v2"}, "record needs --service"},
        {{"record", "--service", "s"}, "record needs --version"},
        {{"record", "--service", "s", "--version", "v", "--bogus", "1"}, "unknown flag --bogus for record"},
        {{"record", "--service"}, "--service needs a value"},
        {{"record", "--service=", "--version", "v"}, "--service needs a non-empty value"},
        {{"record", "--service", "s", "--version", "v", "extra"}, "unexpected argument \"extra\" for record"},
        {{"record", "-s", "x"}, "unknown flag -s"},
        {{"deployments", "--limit", "0"}, "--limit: expected a whole number from 1 to 1000"},
        {{"deployments", "--limit", "ten"}, "--limit: expected a whole number"},
        {{"deployments", "--json=yes"}, "--json: expected true or false"},
        {{"audit", "--follow-for", "soon"}, "--follow-for:"},
        {{"pause"}, "pause takes exactly one SERVICE, none given"},
        {{"pause", "a", "b"}, "pause takes exactly one SERVICE, got 2"},
        {{"pause", "checkout", "--for", "0s"}, "--for: must be more than 0"},
        {{"pause", "checkout", "--for", "15x"}, "--for:"},
        {{"resume"}, "resume takes exactly one SERVICE"},
        {{"rollback", "deploy-42"}, "rollback needs --reason"},
        {{"rollback", "--reason", "x"}, "rollback takes exactly one DEPLOYMENT_ID"},
        {{"verify", "--query", "up", "--threshold", "1"}, "verify needs --prometheus"},
        {{"verify", "--prometheus", "http://p", "--threshold", "1"}, "verify needs --query"},
        {{"verify", "--prometheus", "http://p", "--query", "up"}, "verify needs --threshold"},
        {{"verify", "--prometheus", "http://p", "--query", "up", "--threshold", "1%"},
         "--threshold: expected a number"},
        {{"verify", "--prometheus", "http://p", "--query", "up", "--threshold", "nan"}, "--threshold"},
        {{"verify", "--prometheus", "ftp://p", "--query", "up", "--threshold", "1"}, "--prometheus:"},
        {{"verify", "--prometheus", "http://p", "--query", "up", "--threshold", "1", "--interval", "0s"},
         "--interval: must be more than 0"},
        {{"verify", "--prometheus", "http://p", "--query", "up", "--threshold", "1", "--duration", "5"},
         "--duration:"},
        {{"verify", "--prometheus", "http://p", "--query", "up", "--threshold", "1", "--no-data", "maybe"},
         "--no-data: expected ok or fail"},
        {{"verify", "--prometheus", "http://p", "--query", "up", "--threshold", "1", "--on-error", "retry"},
         "--on-error: expected fail or ignore"},
        {{"verify", "--prometheus", "http://p", "--query", "up", "--threshold", "1", "--reason", "x"},
         "--reason is only used with --rollback"},
        {{"--url", "https://receiver#top", "deployments"}, "--url:"},
    };
    for (const Row& row : rows) {
        std::string joined;
        for (const auto& argument : row.arguments)
            joined += argument + " ";
        CAPTURE(joined);
        const auto parsed = parse_ctl_args(row.arguments, {});
        REQUIRE_FALSE(parsed.ok());
        CHECK_MESSAGE(contains(parsed.error(), row.message_part), parsed.error());
    }
}

TEST_CASE("run_ctl: usage errors exit 2 with a usage line, --help exits 0, no network needed") {
    std::ostringstream out, err;
    CHECK(run_ctl({"frobnicate"}, {}, out, err) == kCtlExitUsage);
    CHECK(contains(err.str(), "unknown command \"frobnicate\""));
    CHECK(contains(err.str(), "usage: rollbackctl"));
    CHECK(out.str().empty());

    for (CtlCommand command :
         {CtlCommand::none, CtlCommand::record, CtlCommand::deployments, CtlCommand::audit, CtlCommand::pause,
          CtlCommand::resume, CtlCommand::rollback, CtlCommand::verify}) {
        std::ostringstream help_out, help_err;
        Arguments arguments;
        if (command != CtlCommand::none) arguments.emplace_back(to_string(command));
        arguments.emplace_back("--help");
        CAPTURE(to_string(command));
        CHECK(run_ctl(arguments, {}, help_out, help_err) == kCtlExitOk);
        CHECK(help_out.str() == ctl_command_usage(command));
        CHECK(contains(help_out.str(), "usage: rollbackctl"));
        CHECK(contains(help_out.str(), "Exit status: 0"));
        CHECK(help_err.str().empty());
    }

    std::ostringstream token_out, token_err;
    CHECK(run_ctl({"--token-file", "/nonexistent/token", "deployments"}, {}, token_out, token_err) ==
          kCtlExitUsage);
    CHECK(contains(token_err.str(), "cannot read the token file \"/nonexistent/token\""));
}

TEST_CASE("base URLs and percent-encoding") {
    struct Row {
        std::string url;
        std::string origin;
        std::string prefix;
    };
    for (const Row& row :
         std::vector<Row>{{"http://127.0.0.1:9095", "http://127.0.0.1:9095", ""},
                          {"http://127.0.0.1:9095/", "http://127.0.0.1:9095", ""},
                          {"127.0.0.1:9095", "http://127.0.0.1:9095", ""},
                          {"HTTP://prom:9090/prometheus/", "http://prom:9090", "/prometheus"},
                          {"http://[::1]:9090", "http://[::1]:9090", ""},
                          {"https://prom.example/p/", "https://prom.example", "/p"}}) {
        CAPTURE(row.url);
        const auto split = split_base_url(row.url);
        REQUIRE_MESSAGE(split.ok(), split.error());
        CHECK(split->origin == row.origin);
        CHECK(split->prefix == row.prefix);
    }
    for (const std::string bad :
         {"", "http://", "https://x#top", "ftp://x", "http://x/?a=b", "http:///path", "http://x:"}) {
        CAPTURE(bad);
        CHECK_FALSE(split_base_url(bad).ok());
    }
    CHECK(percent_encode("max(rate(x{service=\"checkout\"}[5m])) > 0.01") ==
          "max%28rate%28x%7Bservice%3D%22checkout%22%7D%5B5m%5D%29%29%20%3E%200.01");
    CHECK(percent_encode("a-b_c.d~e") == "a-b_c.d~e");
    CHECK(percent_encode("a/b&c") == "a%2Fb%26c");
    CHECK(percent_encode("\xc3\xa9") == "%C3%A9");
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

VerifySample value(double v) {
    return {VerifySample::Kind::value, v, ""};
}
VerifySample no_data() {
    return {VerifySample::Kind::no_data, 0, ""};
}
VerifySample failure() {
    return {VerifySample::Kind::error, 0, "no answer from Prometheus: Connection error"};
}

TEST_CASE("verify's verdict as a table of samples, policies and the end of the duration") {
    struct Row {
        std::string name;
        NoDataPolicy no_data_policy;
        ErrorPolicy error_policy;
        std::vector<VerifySample> samples;
        bool duration_over;
        VerifyVerdict verdict;
    };
    const auto ok = NoDataPolicy::ok;
    const auto fail = NoDataPolicy::fail;
    const auto stop = ErrorPolicy::fail;
    const auto ignore = ErrorPolicy::ignore;
    const double inf = std::numeric_limits<double>::infinity();
    const std::vector<Row> rows{
        {"under the threshold, duration running",
         ok,
         stop,
         {value(0.005)},
         false,
         VerifyVerdict::keep_polling},
        {"equal to the threshold passes", ok, stop, {value(0.01)}, true, VerifyVerdict::passed},
        {"under all the way", ok, stop, {value(0.001), value(0.009), value(0)}, true, VerifyVerdict::passed},
        {"over at once", ok, stop, {value(0.02)}, false, VerifyVerdict::exceeded},
        {"over at the last poll", ok, stop, {value(0.001), value(0.0101)}, true, VerifyVerdict::exceeded},
        {"+Inf is over", ok, stop, {value(inf)}, false, VerifyVerdict::exceeded},
        {"no data, ok: keep polling", ok, stop, {no_data()}, false, VerifyVerdict::keep_polling},
        {"no data all along, ok: passes", ok, stop, {no_data(), no_data()}, true, VerifyVerdict::passed},
        {"no data, fail: fails at once",
         fail,
         stop,
         {value(0.001), no_data()},
         false,
         VerifyVerdict::no_data},
        {"error, fail: error at once", ok, stop, {value(0.001), failure()}, false, VerifyVerdict::error},
        {"error, ignore: keep polling", ok, ignore, {failure()}, false, VerifyVerdict::keep_polling},
        {"errors then a good value, ignore: passes",
         ok,
         ignore,
         {failure(), value(0.001)},
         true,
         VerifyVerdict::passed},
        {"a good value then errors, ignore: passes",
         ok,
         ignore,
         {value(0.001), failure(), failure()},
         true,
         VerifyVerdict::passed},
        {"only errors to the end, ignore: error",
         ok,
         ignore,
         {failure(), failure()},
         true,
         VerifyVerdict::error},
        {"no data then errors, ignore: passes (Prometheus answered)",
         ok,
         ignore,
         {no_data(), failure()},
         true,
         VerifyVerdict::passed},
        {"over after ignored errors", ok, ignore, {failure(), value(0.5)}, false, VerifyVerdict::exceeded},
        {"no samples yet", ok, stop, {}, false, VerifyVerdict::keep_polling},
        {"no samples at the end", ok, stop, {}, true, VerifyVerdict::error},
    };
    for (const Row& row : rows) {
        CAPTURE(row.name);
        VerifyArgs args;
        args.threshold = 0.01;
        args.no_data = row.no_data_policy;
        args.on_error = row.error_policy;
        CHECK(judge_verify(args, row.samples, row.duration_over) == row.verdict);
    }
    CHECK(exit_status_of(VerifyVerdict::passed) == 0);
    CHECK(exit_status_of(VerifyVerdict::exceeded) == 1);
    CHECK(exit_status_of(VerifyVerdict::no_data) == 1);
    CHECK(exit_status_of(VerifyVerdict::error) == 2);
}

TEST_CASE("a Prometheus answer becomes one sample: the largest value, NaN is no data") {
    const std::string vector_answer = R"({"status":"success","data":{"resultType":"vector","result":[)"
                                      R"({"metric":{"endpoint":"/a"},"value":[1764160000.123,"0.0031"]},)"
                                      R"({"metric":{"endpoint":"/b"},"value":[1764160000.123,"0.02"]},)"
                                      R"({"metric":{"endpoint":"/c"},"value":[1764160000.123,"NaN"]}]}})";
    struct Row {
        std::string name;
        int status;
        std::string body;
        VerifySample::Kind kind;
        double value;
        std::string error_part;
    };
    const std::vector<Row> rows{
        {"the largest of a vector", 200, vector_answer, VerifySample::Kind::value, 0.02, ""},
        {"a scalar", 200, R"({"status":"success","data":{"resultType":"scalar","result":[1,"0.5"]}})",
         VerifySample::Kind::value, 0.5, ""},
        {"+Inf", 200,
         R"({"status":"success","data":{"resultType":"vector","result":[{"metric":{},"value":[1,"+Inf"]}]}})",
         VerifySample::Kind::value, std::numeric_limits<double>::infinity(), ""},
        {"an empty vector", 200, R"({"status":"success","data":{"resultType":"vector","result":[]}})",
         VerifySample::Kind::no_data, 0, ""},
        {"only NaN", 200,
         R"({"status":"success","data":{"resultType":"vector","result":[{"metric":{},"value":[1,"NaN"]}]}})",
         VerifySample::Kind::no_data, 0, ""},
        {"a bad query", 400, R"({"status":"error","errorType":"bad_data","error":"parse error at char 4"})",
         VerifySample::Kind::error, 0, "HTTP 400: parse error at char 4"},
        {"HTTP 500 with text", 500, "internal error\n", VerifySample::Kind::error, 0,
         "HTTP 500: internal error"},
        {"no answer", 0, "", VerifySample::Kind::error, 0, "no answer from Prometheus"},
        {"a range result", 200, R"({"status":"success","data":{"resultType":"matrix","result":[]}})",
         VerifySample::Kind::error, 0, "instant vector or a scalar"},
        {"not JSON", 200, "<html>", VerifySample::Kind::error, 0, "malformed JSON"},
        {"not a number", 200,
         R"({"status":"success","data":{"resultType":"vector","result":[{"metric":{},"value":[1,"high"]}]}})",
         VerifySample::Kind::error, 0, "\"high\" is not a number"},
    };
    for (const Row& row : rows) {
        CAPTURE(row.name);
        const VerifySample sample = sample_from_prometheus_answer(row.status, row.body, "Connection");
        CHECK(sample.kind == row.kind);
        if (row.kind == VerifySample::Kind::value)
            CHECK((std::isinf(row.value) ? sample.value == row.value
                                         : sample.value == doctest::Approx(row.value)));
        CHECK_MESSAGE(contains(sample.error, row.error_part), sample.error);
    }
}

TEST_CASE("verify's progress lines and rollback reason") {
    VerifyArgs args;
    args.query = "max(endpoint:http_requests:error_rate5m)";
    args.threshold = 0.01;
    args.duration = 5min;
    CHECK(format_verify_progress(args, 45s, value(0.0031), VerifyVerdict::keep_polling) ==
          "[ 45s/5m0s] value=0.0031 threshold=0.01 ok");
    CHECK(format_verify_progress(args, 75s, value(0.02), VerifyVerdict::exceeded) ==
          "[1m15s/5m0s] value=0.02 threshold=0.01 OVER THRESHOLD");
    CHECK(format_verify_progress(args, 0s, no_data(), VerifyVerdict::keep_polling) ==
          "[  0s/5m0s] value=none threshold=0.01 no data (--no-data ok)");
    CHECK(format_verify_progress(args, 0s, no_data(), VerifyVerdict::no_data) ==
          "[  0s/5m0s] value=none threshold=0.01 no data: fail (--no-data fail)");
    CHECK(format_verify_progress(args, 15s, failure(), VerifyVerdict::error) ==
          "[ 15s/5m0s] value=? threshold=0.01 error: no answer from Prometheus: Connection error");
    args.on_error = ErrorPolicy::ignore;
    CHECK(format_verify_progress(args, 15s, failure(), VerifyVerdict::keep_polling) ==
          "[ 15s/5m0s] value=? threshold=0.01 error, ignored (--on-error ignore): no answer from Prometheus: "
          "Connection error");
    CHECK(verify_rollback_reason(args, 0.02) ==
          "verify: max(endpoint:http_requests:error_rate5m) = 0.02 > 0.01");
}

} // namespace
} // namespace rollback
