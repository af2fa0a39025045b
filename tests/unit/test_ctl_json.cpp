// Unit tests for rollbackctl's JSON: the receiver's answers as values, the bodies it sends, Prometheus
// answers.
#include "ctl/json.hpp"

#include "codec/codec.hpp"

#include <doctest/doctest.h>

#include <string>
#include <vector>

namespace rollback {
namespace {

bool contains(const std::string& text, const std::string& part) {
    return text.find(part) != std::string::npos;
}

TEST_CASE("the audit list becomes model's AuditEvents, each detail kept as its JSON text") {
    const std::string body =
        R"({"events":[{"sequence":7,"time":"2026-11-26T12:26:02.407Z","event":"rollback_started",)"
        R"("service":"checkout","environment":"prod","deployment_id":"deploy-42","version":"v2",)"
        R"("previous_version":"v1","alertname":"HighErrorRate","fingerprint":"a1b2","reason":"",)"
        R"("detail":{"annotations":{"summary":"error rate 3.1%"},"attempt":1}},)"
        R"({"sequence":6,"time":"2026-11-26T12:20:00Z","event":"deployment_recorded","version":2}]})";
    const auto events = parse_audit_list(body);
    REQUIRE_MESSAGE(events.ok(), events.error());
    REQUIRE(events->size() == 2);
    const AuditEvent& rollback = (*events)[0];
    CHECK(rollback.sequence == 7);
    CHECK(format_rfc3339_ms(rollback.time) == "2026-11-26T12:26:02.407Z");
    CHECK(rollback.event == "rollback_started");
    CHECK(rollback.service == "checkout");
    CHECK(rollback.environment == "prod");
    CHECK(rollback.deployment_id == "deploy-42");
    CHECK(rollback.version == "v2");
    CHECK(rollback.previous_version == "v1");
    CHECK(rollback.alertname == "HighErrorRate");
    CHECK(rollback.fingerprint == "a1b2");
    CHECK(rollback.reason.empty());
    CHECK(rollback.detail == R"({"annotations":{"summary":"error rate 3.1%"},"attempt":1})");
    CHECK(alert_summary(rollback) == "error rate 3.1%");

    const AuditEvent& recorded = (*events)[1];
    CHECK(recorded.version == "2"); // a number in a text field reads as its JSON text
    CHECK(recorded.detail == "{}"); // no detail: model's empty one
    CHECK(alert_summary(recorded).empty());

    AuditEvent odd;
    for (const std::string detail : {"[]", R"({"annotations":"x"})", "not json", R"({"annotations":{}})"}) {
        CAPTURE(detail);
        odd.detail = detail;
        CHECK(alert_summary(odd).empty());
    }
}

TEST_CASE("audit lists that do not read: the message names the place") {
    struct Row {
        std::string body;
        std::string message_part;
    };
    for (const Row& row : std::vector<Row>{
             {"<html>", "malformed JSON"},
             {"[]", "the body must be a JSON object, not array"},
             {R"({"deployments":[]})", "the answer has no \"events\" list; is the URL a rollback-receiver?"},
             {R"({"events":["x"]})", "events[0]: expected an object, got string"},
             {R"({"events":[{"time":"2026-11-26T12:20:00Z"}]})",
              "events[0].sequence: missing or not a whole"},
             {R"({"events":[{"sequence":1,"time":"noon"}]})", "events[0].time: "},
         }) {
        CAPTURE(row.body);
        const auto events = parse_audit_list(row.body);
        REQUIRE_FALSE(events.ok());
        CHECK_MESSAGE(contains(events.error(), row.message_part), events.error());
    }
}

TEST_CASE("audit events as JSON lines, in the order given") {
    const auto lines = audit_event_lines(R"({"events":[{"sequence":2,"x":[1, 2]},{"sequence":1}]})");
    REQUIRE_MESSAGE(lines.ok(), lines.error());
    CHECK(*lines == std::vector<std::string>{R"({"sequence":2,"x":[1,2]})", R"({"sequence":1})"});
    CHECK_FALSE(audit_event_lines(R"({"services":[]})").ok());
}

TEST_CASE("deployments: one, a list, the one a rollback started for") {
    const std::string deployment =
        R"({"id":"deploy-42","service":"checkout","environment":"prod","version":"v2",)"
        R"("previous_version":"v1","deployed_at":"2026-11-26T12:20:00Z","kind":"deploy",)"
        R"("state":"watching","commit":"abc"})";
    const auto one = parse_deployment_document(deployment);
    REQUIRE_MESSAGE(one.ok(), one.error());
    CHECK(one->id == "deploy-42");
    CHECK(one->service == "checkout");
    CHECK(one->environment == "prod");
    CHECK(one->version == "v2");
    CHECK(one->previous_version == "v1");
    CHECK(format_rfc3339_ms(one->deployed_at) == "2026-11-26T12:20:00.000Z");
    CHECK(one->kind == "deploy");
    CHECK(one->state == "watching");
    CHECK(one->rollback_of.empty());

    const auto list =
        parse_deployment_list(R"({"deployments":[)" + deployment +
                              R"(,{"id":"checkout-rb-1","kind":"rollback","rollback_of":"deploy-42"}]})");
    REQUIRE_MESSAGE(list.ok(), list.error());
    REQUIRE(list->size() == 2);
    CHECK((*list)[1].rollback_of == "deploy-42");
    CHECK((*list)[1].deployed_at == TimePoint{});

    const auto started = parse_rollback_started(R"({"status":"started","deployment":)" + deployment + "}");
    REQUIRE_MESSAGE(started.ok(), started.error());
    CHECK(started->id == "deploy-42");

    CHECK(parse_deployment_document(R"({"service":"checkout"})").error() ==
          "deployment.id: missing; the answer is not a deployment");
    CHECK(parse_deployment_list(R"({"deployments":[{"id":"a"},3]})").error() ==
          "deployments[1]: expected an object, got number");
    CHECK(contains(parse_deployment_list(R"({"deployments":[{"id":"a","deployed_at":"soon"}]})").error(),
                   "deployments[0].deployed_at: "));
    CHECK(parse_rollback_started(R"({"status":"started"})").error() ==
          "the answer has no \"deployment\"; is the URL a rollback-receiver?");
}

TEST_CASE("pauses: one service's, and the list") {
    const auto pause =
        parse_service_pause(R"({"service":"checkout","paused":true,"reason":"incident","actor":"alice",)"
                            R"("paused_at":"2026-11-26T12:00:00.000Z","until":""})");
    REQUIRE_MESSAGE(pause.ok(), pause.error());
    CHECK(pause->service == "checkout");
    CHECK(pause->paused);
    CHECK(pause->reason == "incident");
    CHECK(pause->paused_at == "2026-11-26T12:00:00.000Z");
    CHECK(pause->until.empty());
    CHECK(parse_service_pause(R"({"paused":true})").error() ==
          "the answer has no \"service\"; is the URL a rollback-receiver?");

    const auto list = parse_service_list(R"({"services":[{"service":"a","paused":"yes"},{"service":"b"}]})");
    REQUIRE_MESSAGE(list.ok(), list.error());
    REQUIRE(list->size() == 2);
    CHECK_FALSE((*list)[0].paused); // only a JSON true is paused
    CHECK(parse_service_list(R"({"services":[null]})").error() ==
          "services[0]: expected an object, got null");
}

TEST_CASE("the error of an error body, or the body itself shortened") {
    CHECK(error_message_from_body(R"({"error":"unknown deployment \"x\""})") == "unknown deployment \"x\"");
    CHECK(error_message_from_body("bad gateway\r\n") == "bad gateway");
    CHECK(error_message_from_body(R"({"message":"no"})") == R"({"message":"no"})");
    CHECK(error_message_from_body("") == "(empty body)");
    const std::string long_body(400, 'x');
    CHECK(error_message_from_body(long_body) == std::string(300, 'x') + "...");
}

TEST_CASE("the bodies rollbackctl sends") {
    DeploymentRequest request;
    request.service = "checkout";
    request.version = "v2";
    request.actor = "ci";
    CHECK(encode_deployment_request(request) == R"({"actor":"ci","service":"checkout","version":"v2"})");
    request.id = "deploy-42";
    request.previous_version = "v1";
    request.environment = "prod";
    request.commit = "abc123";
    request.url = "https://ci/run/7";
    request.deployed_at = parse_rfc3339("2026-11-26T12:20:00Z").value();
    // What rollbackctl sends is the receiver's own key for telling a retry from a conflict.
    const std::string encoded = encode_deployment_request(request);
    CHECK(encoded == deployment_request_key(request));
    const auto parsed = parse_deployment_request(encoded);
    REQUIRE_MESSAGE(parsed.ok(), parsed.error());
    CHECK(deployment_request_key(*parsed) == encoded);

    CHECK(encode_pause_request("", "", "") == "{}");
    CHECK(encode_pause_request("incident 42", "30m", "alice") ==
          R"({"actor":"alice","for":"30m","reason":"incident 42"})");
    CHECK(encode_rollback_request("error rate", "") == R"({"reason":"error rate"})");
    CHECK(encode_rollback_request("error rate", "bob") == R"({"actor":"bob","reason":"error rate"})");
}

TEST_CASE("Prometheus query answers: the values, or what Prometheus said") {
    const auto values = parse_prometheus_query_values(
        R"({"status":"success","data":{"resultType":"vector","result":[{"metric":{},"value":[1,"0.5"]},)"
        R"({"metric":{"a":"b"},"value":[1,"2"]}]}})");
    REQUIRE_MESSAGE(values.ok(), values.error());
    CHECK(*values == std::vector<double>{0.5, 2});
    CHECK(parse_prometheus_query_values(R"({"status":"error","errorType":"bad_data","error":"parse error"})")
              .error() == "Prometheus answered status \"error\" (bad_data): parse error");
    CHECK(parse_prometheus_query_values(R"({"status":"success"})").error() ==
          "Prometheus answer has no \"data\" object");
    CHECK(parse_prometheus_query_values(R"({"status":"success","data":{"resultType":"vector"}})").error() ==
          "Prometheus answer has no \"data.result\"");
    CHECK(parse_prometheus_query_values(R"({"status":"success","data":{"resultType":"vector","result":[1]}})")
              .error() == "data.result[0]: expected {metric, value}, got number");
    CHECK(parse_prometheus_query_values(R"({"status":"success","data":{"resultType":"scalar","result":1}})")
              .error() == "data.result: expected [<time>, \"<value>\"], got number");
    CHECK(contains(parse_prometheus_query_values("nope").error(), "Prometheus answer: malformed JSON"));
}

} // namespace
} // namespace rollback
