// Unit tests for rollbackctl's command line: every flag and form, the errors, base URLs and percent-encoding.
#include "ctl/args.hpp"

#include "common/url.hpp"

#include <doctest/doctest.h>

#include <functional>
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

} // namespace
} // namespace rollback

TEST_CASE("verify's threshold defaults to the alert's: 0.01 over the 5-minute window, polled every 15s") {
    auto parsed = rollback::parse_ctl_args({"verify", "--prometheus", "http://p", "--query", "up"}, {});
    REQUIRE(parsed.ok());
    CHECK(parsed->verify.threshold == 0.01);
    CHECK(parsed->verify.duration == std::chrono::minutes(5));
    CHECK(parsed->verify.interval == std::chrono::seconds(15));
}
