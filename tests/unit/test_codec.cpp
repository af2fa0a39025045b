// Unit tests for the JSON codecs: real Alertmanager 0.25 bodies, bad bodies, deployment requests, encoders.
#include "codec/codec.hpp"

#include <doctest/doctest.h>
#include <nlohmann/json.hpp>

#include <chrono>
#include <cmath>
#include <fstream>
#include <functional>
#include <iterator>
#include <map>
#include <optional>
#include <set>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace rollback {
namespace {

using json = nlohmann::json;

std::string read_fixture(const std::string& name) {
    const std::string path = std::string(ROLLBACK_SOURCE_DIR) + "/tests/fixtures/alertmanager-0.25/" + name;
    std::ifstream in(path, std::ios::binary);
    if (!in) throw std::runtime_error("cannot open fixture " + path);
    return std::string(std::istreambuf_iterator<char>(in), {});
}

TimePoint utc(int y, unsigned mo, unsigned d, int h, int mi, int s, long long ns = 0) {
    const std::chrono::sys_days day{std::chrono::year{y} / std::chrono::month{mo} / std::chrono::day{d}};
    return TimePoint(day.time_since_epoch() + std::chrono::hours(h) + std::chrono::minutes(mi) +
                     std::chrono::seconds(s) + std::chrono::nanoseconds(ns));
}

using Labels = std::map<std::string, std::string>;

const Labels kFirstAlertLabels{{"alertname", "HighErrorRate"},
                               {"environment", "prod"},
                               {"rollback", "true"},
                               {"service", "checkout"},
                               {"severity", "page"}};
const Labels kSecondAlertLabels{{"alertname", "HighErrorRate"}, {"endpoint", "/pay"},
                                {"environment", "prod"},        {"rollback", "true"},
                                {"service", "checkout"},        {"severity", "page"}};
const std::string kGroupKey = "{}:{environment=\"prod\", service=\"checkout\"}";
const std::string kGeneratorUrl =
    "http://prometheus:9090/graph?g0.expr=endpoint%3Ahttp_requests%3Aerror_rate5m+%3E+0.01";

// What every one of the three captured notifications has in common.
void check_group_fields(const Notification& notification) {
    CHECK(notification.receiver == "rollback");
    CHECK(notification.status == "firing");
    CHECK(notification.version == "4");
    CHECK(notification.external_url == "http://vm:19193");
    CHECK(notification.group_key == kGroupKey);
    CHECK(notification.truncated_alerts == 0);
    CHECK(notification.group_labels == Labels{{"environment", "prod"}, {"service", "checkout"}});
    CHECK(notification.common_labels == kFirstAlertLabels);
}

TEST_CASE("parse_webhook reads Alertmanager 0.25's first notification of a group") {
    const auto parsed = parse_webhook(read_fixture("01-firing-one-alert.json"));
    REQUIRE_MESSAGE(parsed.ok(), (parsed.ok() ? "" : parsed.error()));
    const Notification& notification = *parsed;
    check_group_fields(notification);
    CHECK(notification.common_annotations ==
          Labels{{"summary", "checkout error rate is 3.1%"}, {"value", "0.031"}});
    REQUIRE(notification.alerts.size() == 1);
    const Alert& alert = notification.alerts[0];
    CHECK(alert.status == "firing");
    CHECK(alert.firing());
    CHECK(alert.labels == kFirstAlertLabels);
    CHECK(alert.label("service") == "checkout");
    CHECK(alert.label("no_such_label").empty());
    CHECK(alert.annotations == Labels{{"summary", "checkout error rate is 3.1%"}, {"value", "0.031"}});
    CHECK(alert.annotation("value") == "0.031");
    CHECK(alert.starts_at == utc(2026, 11, 26, 12, 30, 47, 407'202'148));
    CHECK(is_zero_time(alert.ends_at));
    CHECK(alert.generator_url == kGeneratorUrl);
    CHECK(alert.fingerprint == "3a218f5b4e107d69");
}

TEST_CASE("parse_webhook reads the whole group again when a second alert joins") {
    const auto parsed = parse_webhook(read_fixture("02-group-grows-two-firing.json"));
    REQUIRE_MESSAGE(parsed.ok(), (parsed.ok() ? "" : parsed.error()));
    const Notification& notification = *parsed;
    check_group_fields(notification);
    CHECK(notification.common_annotations.empty());
    REQUIRE(notification.alerts.size() == 2);

    const Alert& first = notification.alerts[0];
    CHECK(first.status == "firing");
    CHECK(first.labels == kFirstAlertLabels);
    CHECK(first.annotations == Labels{{"summary", "checkout error rate is 3.1%"}, {"value", "0.031"}});
    CHECK(first.starts_at == utc(2026, 11, 26, 12, 30, 47, 407'202'148));
    CHECK(is_zero_time(first.ends_at));
    CHECK(first.generator_url == kGeneratorUrl);
    CHECK(first.fingerprint == "3a218f5b4e107d69");

    const Alert& second = notification.alerts[1];
    CHECK(second.status == "firing");
    CHECK(second.labels == kSecondAlertLabels);
    CHECK(second.annotations == Labels{{"summary", "checkout /pay error rate is 7.5%"}});
    CHECK(second.starts_at == utc(2026, 11, 26, 12, 30, 50, 422'908'854));
    CHECK(is_zero_time(second.ends_at));
    CHECK(second.generator_url.empty());
    CHECK(second.fingerprint == "4f7d586a50ba8f09");
}

TEST_CASE("parse_webhook reads a notification mixing a resolved and a firing alert") {
    const auto parsed = parse_webhook(read_fixture("03-mixed-resolved-and-firing.json"));
    REQUIRE_MESSAGE(parsed.ok(), (parsed.ok() ? "" : parsed.error()));
    const Notification& notification = *parsed;
    check_group_fields(notification);
    CHECK(notification.common_annotations.empty());
    REQUIRE(notification.alerts.size() == 2);

    const Alert& resolved = notification.alerts[0];
    CHECK(resolved.status == "resolved");
    CHECK_FALSE(resolved.firing());
    CHECK(resolved.labels == kFirstAlertLabels);
    CHECK(resolved.annotations == Labels{{"summary", "checkout error rate is 3.1%"}});
    CHECK(resolved.starts_at == utc(2026, 11, 26, 12, 30, 47, 407'202'148));
    CHECK_FALSE(is_zero_time(resolved.ends_at));
    CHECK(resolved.ends_at == utc(2026, 11, 26, 12, 30, 54));
    CHECK(resolved.generator_url.empty());
    CHECK(resolved.fingerprint == "3a218f5b4e107d69");

    const Alert& firing = notification.alerts[1];
    CHECK(firing.status == "firing");
    CHECK(firing.firing());
    CHECK(firing.labels == kSecondAlertLabels);
    CHECK(firing.starts_at == utc(2026, 11, 26, 12, 30, 50, 422'908'854));
    CHECK(is_zero_time(firing.ends_at));
    CHECK(firing.fingerprint == "4f7d586a50ba8f09");
}

TEST_CASE("a missing fingerprint is computed from the labels exactly as Alertmanager does") {
    // Take the real bodies, drop the fingerprints Alertmanager sent, and compare ours with them.
    json body = json::parse(read_fixture("02-group-grows-two-firing.json"));
    for (auto& alert : body["alerts"])
        alert.erase("fingerprint");
    const auto parsed = parse_webhook(body.dump());
    REQUIRE_MESSAGE(parsed.ok(), (parsed.ok() ? "" : parsed.error()));
    REQUIRE(parsed->alerts.size() == 2);
    CHECK(parsed->alerts[0].fingerprint == "3a218f5b4e107d69");
    CHECK(parsed->alerts[1].fingerprint == "4f7d586a50ba8f09");

    // Stable: the same labels in another order give the same fingerprint.
    const std::string reordered =
        R"({"version":"4","alerts":[{"status":"firing","startsAt":"2026-11-26T12:30:47Z",
        "labels":{"severity":"page","service":"checkout","rollback":"true","environment":"prod",
                  "alertname":"HighErrorRate"}}]})";
    const auto again = parse_webhook(reordered);
    REQUIRE_MESSAGE(again.ok(), (again.ok() ? "" : again.error()));
    CHECK(again->alerts[0].fingerprint == "3a218f5b4e107d69");

    // Sixteen lower-case hex digits, and different labels give a different fingerprint.
    std::set<std::string> seen;
    for (const std::string labels : {R"({})", R"({"service":"checkout"})", R"({"service":"payments"})",
                                     R"({"service":"checkout","environment":"prod"})",
                                     R"({"servicecheckout":""})", R"({"service":"","checkout":""})"}) {
        CAPTURE(labels);
        const auto one = parse_webhook(R"({"version":"4","alerts":[{"status":"firing",)"
                                       R"("startsAt":"2026-11-26T12:30:47Z","labels":)" +
                                       labels + "}]}");
        REQUIRE_MESSAGE(one.ok(), (one.ok() ? "" : one.error()));
        const std::string& fingerprint = one->alerts[0].fingerprint;
        CHECK(fingerprint.size() == 16);
        CHECK(fingerprint.find_first_not_of("0123456789abcdef") == std::string::npos);
        CHECK(seen.insert(fingerprint).second);
    }
}

TEST_CASE("parse_webhook accepts a minimal hand-written body and leaves optional fields empty") {
    const auto parsed = parse_webhook(
        R"({"version":"4","alerts":[{"status":"firing","startsAt":"2026-11-26T13:30:47+01:00"}]})");
    REQUIRE_MESSAGE(parsed.ok(), (parsed.ok() ? "" : parsed.error()));
    CHECK(parsed->receiver.empty());
    CHECK(parsed->group_key.empty());
    CHECK(parsed->truncated_alerts == 0);
    REQUIRE(parsed->alerts.size() == 1);
    CHECK(parsed->alerts[0].labels.empty());
    CHECK(parsed->alerts[0].starts_at == utc(2026, 11, 26, 12, 30, 47));
    CHECK(parsed->alerts[0].ends_at == TimePoint{});

    const auto empty = parse_webhook(R"({"version":"4","alerts":[],"truncatedAlerts":3})");
    REQUIRE(empty.ok());
    CHECK(empty->alerts.empty());
    CHECK(empty->truncated_alerts == 3);
}

TEST_CASE("parse_webhook rejects bad bodies with a message naming the field") {
    struct Row {
        std::string body;
        std::string error_part;
    };
    const std::string good_alert = R"({"status":"firing","startsAt":"2026-11-26T12:30:47Z"})";
    const std::vector<Row> rows{
        {"", "malformed JSON"},
        {"{", "malformed JSON"},
        {R"({"version":"4","alerts":[})", "malformed JSON"},
        {R"({"version":"4","alerts":[]} trailing)", "malformed JSON"},
        {"{\"version\":\"4\",\"alerts\":[],\"receiver\":\"\xff\xfe\"}", "malformed JSON"}, // not UTF-8
        {"[]", "the body must be a JSON object, not array"},
        {R"("text")", "the body must be a JSON object, not string"},
        {"null", "the body must be a JSON object, not null"},
        {R"({"version":"4"})", "alerts: missing"},
        {R"({"version":"4","alerts":{}})", "alerts: expected a list of alerts, got object"},
        {R"({"version":"4","alerts":null})", "alerts: expected a list of alerts, got null"},
        {R"({"version":"3","alerts":[]})", "version: \"3\" is not supported"},
        {R"({"alerts":[]})", "version: missing"},
        {R"({"version":4,"alerts":[]})", "version: expected a string, got number"},
        {R"({"version":"4","alerts":[1]})", "alerts[0]: expected an alert object, got number"},
        {R"({"version":"4","alerts":[)" + good_alert + R"(,"x"]})",
         "alerts[1]: expected an alert object, got string"},
        {R"({"version":"4","alerts":[{"status":"pending","startsAt":"2026-11-26T12:30:47Z"}]})",
         "alerts[0].status: expected \"firing\" or \"resolved\", got \"pending\""},
        {R"({"version":"4","alerts":[{"startsAt":"2026-11-26T12:30:47Z"}]})",
         "alerts[0].status: expected \"firing\" or \"resolved\", got \"\""},
        {R"({"version":"4","alerts":[{"status":1,"startsAt":"2026-11-26T12:30:47Z"}]})",
         "alerts[0].status: expected a string, got number"},
        {R"({"version":"4","alerts":[{"status":"firing","startsAt":"2026-11-26T12:30:47Z",)"
         R"("labels":{"service":"checkout","replicas":3}}]})",
         "alerts[0].labels.replicas: expected a string, got number"},
        {R"({"version":"4","alerts":[{"status":"firing","startsAt":"2026-11-26T12:30:47Z","labels":["a"]}]})",
         "alerts[0].labels: expected an object of strings, got array"},
        {R"({"version":"4","alerts":[{"status":"firing","startsAt":"2026-11-26T12:30:47Z",)"
         R"("annotations":"summary"}]})",
         "alerts[0].annotations: expected an object of strings, got string"},
        {R"({"version":"4","alerts":[{"status":"firing","startsAt":"2026-11-26T12:30:47Z",)"
         R"("annotations":{"value":0.031}}]})",
         "alerts[0].annotations.value: expected a string, got number"},
        {R"({"version":"4","alerts":[{"status":"firing"}]})", "alerts[0].startsAt: missing"},
        {R"({"version":"4","alerts":[)" + good_alert + R"(,{"status":"firing"}]})",
         "alerts[1].startsAt: missing"},
        {R"({"version":"4","alerts":[{"status":"firing","startsAt":"yesterday"}]})",
         "alerts[0].startsAt: \"yesterday\" is not an RFC 3339 time"},
        {R"({"version":"4","alerts":[{"status":"firing","startsAt":1764160247}]})",
         "alerts[0].startsAt: expected an RFC 3339 time string, got number"},
        {R"({"version":"4","alerts":[{"status":"firing","startsAt":"2026-11-26T12:30:47"}]})",
         "alerts[0].startsAt: \"2026-11-26T12:30:47\" is not an RFC 3339 time"},
        {R"({"version":"4","alerts":[{"status":"resolved","startsAt":"2026-11-26T12:30:47Z",)"
         R"("endsAt":"2026-02-30T00:00:00Z"}]})",
         "alerts[0].endsAt: \"2026-02-30T00:00:00Z\" is not an RFC 3339 time"},
        {R"({"version":"4","alerts":[{"status":"firing","startsAt":"2026-11-26T12:30:47Z",)"
         R"("fingerprint":7}]})",
         "alerts[0].fingerprint: expected a string, got number"},
        {R"({"version":"4","alerts":[{"status":"firing","startsAt":"2026-11-26T12:30:47Z",)"
         R"("generatorURL":{}}]})",
         "alerts[0].generatorURL: expected a string, got object"},
        {R"({"version":"4","alerts":[],"groupLabels":{"service":1}})",
         "groupLabels.service: expected a string"},
        {R"({"version":"4","alerts":[],"commonLabels":[]})", "commonLabels: expected an object of strings"},
        {R"({"version":"4","alerts":[],"commonAnnotations":{"a":true}})",
         "commonAnnotations.a: expected a string"},
        {R"({"version":"4","alerts":[],"receiver":5})", "receiver: expected a string"},
        {R"({"version":"4","alerts":[],"status":[]})", "status: expected a string"},
        {R"({"version":"4","alerts":[],"groupKey":1})", "groupKey: expected a string"},
        {R"({"version":"4","alerts":[],"externalURL":false})", "externalURL: expected a string"},
        {R"({"version":"4","alerts":[],"truncatedAlerts":"0"})", "truncatedAlerts: expected a whole number"},
        {R"({"version":"4","alerts":[],"truncatedAlerts":1.5})", "truncatedAlerts: expected a whole number"},
        {R"({"version":"4","alerts":[],"truncatedAlerts":-1})", "truncatedAlerts: expected a whole number"},
        {R"({"version":"4","alerts":[],"truncatedAlerts":18446744073709551615})",
         "truncatedAlerts: expected a whole number"},
        // A number too large for a double is a bad body, not an exception (nlohmann's out_of_range.406).
        {R"({"version":"4","alerts":[],"extra":1e400})", "malformed JSON"},
    };
    for (const auto& row : rows) {
        CAPTURE(row.body);
        std::optional<Result<Notification>> parsed;
        REQUIRE_NOTHROW(parsed.emplace(parse_webhook(row.body)));
        REQUIRE_FALSE(parsed->ok());
        CAPTURE(parsed->error());
        CHECK(parsed->error().find(row.error_part) != std::string::npos);
        CHECK_FALSE(read_webhook_streaming(row.body).has_value()); // the one-pass reader gives up on it
    }
}

TEST_CASE("the one-pass webhook reader gives the document reader's notification, or gives up") {
    struct Row {
        const char* what;
        std::string body;
        bool read_in_one_pass; // false: read_webhook_streaming gives up, parse_webhook_document decides
    };
    const std::string alert = R"("status":"firing","startsAt":"2026-11-26T12:30:47Z")";
    const std::vector<Row> rows{
        {"first notification", read_fixture("01-firing-one-alert.json"), true},
        {"second notification", read_fixture("02-group-grows-two-firing.json"), true},
        {"resolved and firing", read_fixture("03-mixed-resolved-and-firing.json"), true},
        {"minimal", R"({"version":"4","alerts":[{)" + alert + "}]}", true},
        {"no alerts, fields in another order",
         R"({"truncatedAlerts":999999999999999999,"alerts":[],"receiver":"r","version":"4"})", true},
        {"null optional fields",
         R"({"version":"4","receiver":null,"status":null,"groupLabels":null,"commonLabels":null,)"
         R"("commonAnnotations":null,"externalURL":null,"groupKey":null,"truncatedAlerts":null,)"
         R"("alerts":[{)" +
             alert +
             R"(,"labels":null,"annotations":null,"endsAt":null,)"
             R"("generatorURL":null,"fingerprint":null}]})",
         true},
        {"unknown fields of every shape",
         R"({"new":{"a":[1,{"b":[[],{}]},null,true,0,"x"]},"version":"4","n":30,"alerts":[{"x":[{"y":{}}],)" +
             alert + R"(,"silencedBy":[],"z":false}],"last":"text"})",
         true},
        {"escapes and UTF-8",
         R"({"version":"4","alerts":[{)" + alert +
             R"(,"labels":{"service":"caf\u00e9 \"q\" \n","s\u00fc":"\ud83d\ude00"},"annotations":{"k":"Ã©"}}]})",
         true},
        {"an empty fingerprint is computed",
         R"({"version":"4","alerts":[{)" + alert + R"(,"fingerprint":"","labels":{"a":"b"}}]})", true},
        {"a repeated label keeps the last value",
         R"({"version":"4","alerts":[{)" + alert + R"(,"labels":{"service":"a","service":"b"}}]})", true},
        {"endsAt",
         R"({"version":"4","alerts":[{"status":"resolved","startsAt":"2026-11-26T12:30:47Z",)"
         R"("endsAt":"2026-11-26T12:35:00.123+01:00"}]})",
         true},
        // Numbers other than whole ones of up to 18 digits are left to nlohmann_json (scan_json).
        {"a 19-digit number", R"({"truncatedAlerts":9223372036854775807,"alerts":[],"version":"4"})", false},
        {"a negative number", R"({"version":"4","alerts":[],"n":-3})", false},
        {"a fraction", R"({"version":"4","alerts":[],"n":1.5e3})", false},
        // The document keeps the last of repeated fields: the one-pass reader leaves those to it.
        {"a repeated root field", R"({"version":"3","version":"4","alerts":[]})", false},
        {"a repeated alert field", R"({"version":"4","alerts":[{)" + alert + R"(,"status":"resolved"}]})",
         false},
        {"a repeated alert field whose first value is wrong",
         R"({"version":"4","alerts":[{"status":7,)" + alert + "}]}", false},
        {"a repeated label whose first value is not a string",
         R"({"version":"4","alerts":[{)" + alert + R"(,"labels":{"a":1,"a":"b"}}]})", false},
        {"a repeated list of alerts", R"({"version":"4","alerts":[1],"alerts":[]})", false},
    };
    for (const auto& row : rows) {
        const std::string what = row.what;
        CAPTURE(what);
        const auto document = parse_webhook_document(row.body);
        REQUIRE_MESSAGE(document.ok(), (document.ok() ? "" : document.error()));
        const auto streamed = read_webhook_streaming(row.body);
        CHECK(streamed.has_value() == row.read_in_one_pass);
        if (streamed) CHECK(*streamed == *document);
        const auto parsed = parse_webhook(row.body);
        REQUIRE(parsed.ok());
        CHECK(*parsed == *document);
    }
}

TEST_CASE("parse_webhook caps fingerprints, label and annotation sizes; both readers follow one rule") {
    // One alert with `extra` fields added to it, or a notification with `root` fields added.
    auto alert_with = [](const std::string& extra) {
        return R"({"version":"4","alerts":[{"status":"firing","startsAt":"2026-11-26T12:30:47Z")" + extra +
               "}]}";
    };
    auto root_with = [](const std::string& extra) { return R"({"version":"4","alerts":[])" + extra + "}"; };
    auto quoted = [](std::size_t length, char c) { return "\"" + std::string(length, c) + "\""; };
    auto entries = [](std::size_t count) {
        std::string object = "{";
        for (std::size_t i = 0; i < count; ++i)
            object += (i == 0 ? "\"l" : ",\"l") + std::to_string(i) + "\":\"v\"";
        return object + "}";
    };
    struct Row {
        const char* what;
        std::string body;
        std::string error; // "": accepted
    };
    const std::vector<Row> rows{
        {"Alertmanager's 16 hex digits", alert_with(R"(,"fingerprint":"3a218f5b4e107d69")"), ""},
        {"64 hex digits", alert_with(",\"fingerprint\":" + quoted(64, 'a')), ""},
        {"65 hex digits", alert_with(",\"fingerprint\":" + quoted(65, 'a')),
         "alerts[0].fingerprint: expected at most 64 lowercase hexadecimal digits (Alertmanager sends 16), "
         "got "
         "65 characters"},
        {"a 200 KB fingerprint", alert_with(",\"fingerprint\":" + quoted(200 * 1024, 'f')),
         "alerts[0].fingerprint: expected at most 64 lowercase hexadecimal digits (Alertmanager sends 16), "
         "got "
         "204800 characters"},
        {"uppercase hex", alert_with(R"(,"fingerprint":"3A218F5B4E107D69")"),
         "got 16 characters that are not all [0-9a-f]"},
        {"a line break", alert_with(R"(,"fingerprint":"3a21\r\n")"),
         "alerts[0].fingerprint: expected at most"},
        {"a label value of 4 KiB", alert_with(",\"labels\":{\"pod\":" + quoted(4096, 'p') + "}"), ""},
        {"a label value over 4 KiB", alert_with(",\"labels\":{\"pod\":" + quoted(4097, 'p') + "}"),
         "alerts[0].labels.pod: 4097 bytes, longer than the 4096 a label value may have"},
        {"an annotation value of 16 KiB",
         alert_with(",\"annotations\":{\"description\":" + quoted(16384, 'd') + "}"), ""},
        {"an annotation value over 16 KiB",
         alert_with(",\"annotations\":{\"description\":" + quoted(16385, 'd') + "}"),
         "alerts[0].annotations.description: 16385 bytes, longer than the 16384 an annotation value may "
         "have"},
        {"a label name of 1 KiB", alert_with(",\"labels\":{" + quoted(1024, 'n') + ":\"v\"}"), ""},
        {"a label name over 1 KiB", alert_with(",\"labels\":{" + quoted(1025, 'n') + ":\"v\"}"),
         "alerts[0].labels: a name of 1025 bytes, longer than the 1024 this receiver takes"},
        {"256 labels", alert_with(",\"labels\":" + entries(256)), ""},
        {"257 labels", alert_with(",\"labels\":" + entries(257)),
         "alerts[0].labels: 257 entries, more than the 256 this receiver takes"},
        {"257 annotations", alert_with(",\"annotations\":" + entries(257)),
         "alerts[0].annotations: 257 entries, more than the 256"},
        {"groupLabels", root_with(",\"groupLabels\":{\"service\":" + quoted(4097, 's') + "}"),
         "groupLabels.service: 4097 bytes, longer than the 4096 a label value may have"},
        {"commonLabels", root_with(",\"commonLabels\":" + entries(257)), "commonLabels: 257 entries"},
        {"commonAnnotations", root_with(",\"commonAnnotations\":{\"summary\":" + quoted(16385, 's') + "}"),
         "commonAnnotations.summary: 16385 bytes, longer than the 16384 an annotation value may have"},
    };
    for (const Row& row : rows) {
        const std::string what = row.what;
        CAPTURE(what);
        const auto document = parse_webhook_document(row.body);
        const auto streamed = read_webhook_streaming(row.body);
        const auto parsed = parse_webhook(row.body);
        if (row.error.empty()) {
            REQUIRE_MESSAGE(document.ok(), (document.ok() ? "" : document.error()));
            REQUIRE(streamed.has_value());
            CHECK(*streamed == *document);
            CHECK(parsed.ok());
            continue;
        }
        CHECK_FALSE(streamed.has_value()); // the one-pass reader gives up; the document reader names it
        REQUIRE_FALSE(document.ok());
        CHECK(document.error().find(row.error) != std::string::npos);
        REQUIRE_FALSE(parsed.ok());
        CHECK(parsed.error() == document.error());
    }
}

TEST_CASE("check_notification_size: up to 1000 alerts; more is refused naming the limit and max_alerts") {
    Notification notification;
    notification.alerts.resize(kMaxWebhookAlerts);
    CHECK(check_notification_size(notification).ok());
    notification.alerts.emplace_back();
    const Status refused = check_notification_size(notification);
    REQUIRE_FALSE(refused.ok());
    CHECK(refused.error().rfind("alerts: 1001 alerts in one notification, more than the 1000 this receiver "
                                "takes; set max_alerts: 1000 in Alertmanager's webhook_config",
                                0) == 0);
}

TEST_CASE("parse_webhook ignores fields it does not know (Alertmanager may add some)") {
    const auto parsed =
        parse_webhook(R"({"version":"4","alerts":[{"status":"firing",)"
                      R"("startsAt":"2026-11-26T12:30:47Z","silencedBy":[]}],"newField":{}})");
    REQUIRE_MESSAGE(parsed.ok(), (parsed.ok() ? "" : parsed.error()));
    CHECK(parsed->alerts.size() == 1);
}

// ---- POST /api/v1/deployments ----

TEST_CASE("parse_deployment_request reads a minimal body") {
    const auto parsed = parse_deployment_request(R"({"service":"checkout","version":"v2"})");
    REQUIRE_MESSAGE(parsed.ok(), (parsed.ok() ? "" : parsed.error()));
    CHECK(parsed->service == "checkout");
    CHECK(parsed->version == "v2");
    CHECK(parsed->id.empty());
    CHECK(parsed->previous_version.empty());
    CHECK(parsed->environment.empty());
    CHECK_FALSE(parsed->deployed_at.has_value());
    CHECK(parsed->commit.empty());
    CHECK(parsed->url.empty());
    CHECK(parsed->actor.empty());
}

TEST_CASE("parse_deployment_request reads every field of a full body") {
    const auto parsed = parse_deployment_request(R"({
        "id": "ci-run-4242",
        "service": "checkout",
        "version": "v2.3.1",
        "previous_version": "v2.3.0",
        "environment": "prod",
        "deployed_at": "2026-11-26T13:25:00.5+01:00",
        "commit": "0f3c2ab",
        "url": "https://ci.example.com/runs/4242",
        "actor": "jdoe"
    })");
    REQUIRE_MESSAGE(parsed.ok(), (parsed.ok() ? "" : parsed.error()));
    CHECK(parsed->id == "ci-run-4242");
    CHECK(parsed->service == "checkout");
    CHECK(parsed->version == "v2.3.1");
    CHECK(parsed->previous_version == "v2.3.0");
    CHECK(parsed->environment == "prod");
    REQUIRE(parsed->deployed_at.has_value());
    CHECK(*parsed->deployed_at == utc(2026, 11, 26, 12, 25, 0, 500'000'000));
    CHECK(parsed->commit == "0f3c2ab");
    CHECK(parsed->url == "https://ci.example.com/runs/4242");
    CHECK(parsed->actor == "jdoe");
}

TEST_CASE("parse_deployment_request treats null optional fields as left out and keeps UTF-8 text") {
    const auto parsed = parse_deployment_request(
        R"({"service":"caf\u00e9","version":"v2","previous_version":null,"deployed_at":null,)"
        R"("actor":"Zoë"})");
    REQUIRE_MESSAGE(parsed.ok(), (parsed.ok() ? "" : parsed.error()));
    CHECK(parsed->service == "caf\xc3\xa9");
    CHECK(parsed->actor == "Zo\xc3\xab");
    CHECK(parsed->previous_version.empty());
    CHECK_FALSE(parsed->deployed_at.has_value());
}

TEST_CASE("parse_deployment_request rejects bad bodies with a message naming the field") {
    struct Row {
        std::string body;
        std::string error_part;
    };
    const std::string long_name(201, 'a');
    const std::vector<Row> rows{
        {"", "malformed JSON"},
        {R"({"service":"checkout","version":"v2")", "malformed JSON"},
        {R"([{"service":"checkout","version":"v2"}])", "the body must be a JSON object, not array"},
        {R"({"version":"v2"})", "service: required"},
        {R"({"service":"","version":"v2"})", "service: required"},
        {R"({"service":"checkout"})", "version: required"},
        {R"({"service":"checkout","version":""})", "version: required"},
        {R"({"service":42,"version":"v2"})", "service: expected a string, got number"},
        {R"({"service":"checkout","version":2})", "version: expected a string, got number"},
        {R"({"service":"checkout","version":"v2","environment":["prod"]})",
         "environment: expected a string, got array"},
        {R"({"service":"checkout","version":"v2","id":7})", "id: expected a string, got number"},
        {R"({"service":"checkout","version":"v2","deployed_at":"yesterday"})",
         "deployed_at: \"yesterday\" is not an RFC 3339 time"},
        {R"({"service":"checkout","version":"v2","deployed_at":"2026-11-26T12:30:47"})",
         "deployed_at: \"2026-11-26T12:30:47\" is not an RFC 3339 time"},
        {R"({"service":"checkout","version":"v2","deployed_at":1764160247})",
         "deployed_at: expected an RFC 3339 time string, got number"},
        {R"({"service":"checkout","version":"v2","previous_verison":"v1"})",
         "previous_verison: unknown field"},
        {R"({"service":"checkout","version":"v2","Service":"x"})", "Service: unknown field"},
        {R"({"service":"check\nout","version":"v2"})", "service: contains control characters"},
        {R"({"service":"checkout","version":"v2\u0000"})", "version: contains control characters"},
        {R"({"service":"checkout","version":"v2","actor":"a\tb"})", "actor: contains control characters"},
        {R"({"service":")" + long_name + R"(","version":"v2"})", "service: longer than 200 characters"},
        {R"({"service":"checkout","version":"v2","url":"https://x/)" + std::string(2048, 'u') + R"("})",
         "url: longer than 2048 characters"},
        {"{\"service\":\"check\xff\xfeout\",\"version\":\"v2\"}", "malformed JSON"}, // invalid UTF-8
        {"{\"service\":\"checkout\",\"version\":\"\xc3\"}", "malformed JSON"},       // truncated sequence
        {R"({"service":"checkout","version":"v2","id":1e400})", "malformed JSON"},
    };
    for (const auto& row : rows) {
        CAPTURE(row.body);
        std::optional<Result<DeploymentRequest>> parsed;
        REQUIRE_NOTHROW(parsed.emplace(parse_deployment_request(row.body)));
        REQUIRE_FALSE(parsed->ok());
        CAPTURE(parsed->error());
        CHECK(parsed->error().find(row.error_part) != std::string::npos);
    }
    // The unknown-field message lists the known ones, so the typo is easy to fix.
    const auto typo =
        parse_deployment_request(R"({"service":"checkout","version":"v2","previous_verison":"v1"})");
    REQUIRE_FALSE(typo.ok());
    CHECK(typo.error().find("previous_version") != std::string::npos);
}

TEST_CASE("parse_deployment_request accepts fields exactly at their length limits") {
    const auto parsed =
        parse_deployment_request(R"({"service":")" + std::string(200, 's') + R"(","version":"v2","url":")" +
                                 std::string(2048, 'u') + R"("})");
    REQUIRE_MESSAGE(parsed.ok(), (parsed.ok() ? "" : parsed.error()));
    CHECK(parsed->service.size() == 200);
    CHECK(parsed->url.size() == 2048);
}

DeploymentRequest full_request() {
    DeploymentRequest request;
    request.id = "ci-run-4242";
    request.service = "checkout";
    request.version = "v2";
    request.previous_version = "v1";
    request.environment = "prod";
    request.deployed_at = utc(2026, 11, 26, 12, 25, 0);
    request.commit = "0f3c2ab";
    request.url = "https://ci.example.com/runs/4242";
    request.actor = "jdoe";
    return request;
}

TEST_CASE("deployment_request_key tells a retry from a conflict") {
    const DeploymentRequest original = full_request();
    CHECK(deployment_request_key(original) == deployment_request_key(full_request()));

    // Any field that differs makes a different key.
    const std::vector<std::pair<std::string, std::function<void(DeploymentRequest&)>>> changes{
        {"id", [](DeploymentRequest& r) { r.id = "ci-run-4243"; }},
        {"service", [](DeploymentRequest& r) { r.service = "payments"; }},
        {"version", [](DeploymentRequest& r) { r.version = "v3"; }},
        {"previous_version", [](DeploymentRequest& r) { r.previous_version = "v0"; }},
        {"previous_version left out", [](DeploymentRequest& r) { r.previous_version.clear(); }},
        {"environment", [](DeploymentRequest& r) { r.environment = "staging"; }},
        {"deployed_at", [](DeploymentRequest& r) { *r.deployed_at += std::chrono::seconds(1); }},
        {"deployed_at left out", [](DeploymentRequest& r) { r.deployed_at.reset(); }},
        {"commit", [](DeploymentRequest& r) { r.commit = "1a2b3c4"; }},
        {"url", [](DeploymentRequest& r) { r.url = "https://ci.example.com/runs/4243"; }},
        {"actor", [](DeploymentRequest& r) { r.actor = "someone-else"; }},
        // A value moved to another field is a different request, not the same text.
        {"version moved to commit", [](DeploymentRequest& r) { std::swap(r.version, r.commit); }},
    };
    std::set<std::string> keys{deployment_request_key(original)};
    for (const auto& [what, change] : changes) {
        CAPTURE(what);
        DeploymentRequest changed = full_request();
        change(changed);
        CHECK(deployment_request_key(changed) != deployment_request_key(original));
        CHECK(keys.insert(deployment_request_key(changed)).second);
    }
}

TEST_CASE("deployment_request_key is equal for the same body sent twice, deployed_at left out both times") {
    const std::string body = R"({"id":"ci-1","service":"checkout","version":"v2","commit":"abc"})";
    const std::string same_fields_other_order =
        R"({"commit":"abc","version":"v2","service":"checkout","id":"ci-1"})";
    const auto first = parse_deployment_request(body);
    const auto retry = parse_deployment_request(same_fields_other_order);
    REQUIRE(first.ok());
    REQUIRE(retry.ok());
    CHECK(deployment_request_key(*first) == deployment_request_key(*retry));

    // The same instant written in two forms is the same deployment time.
    const auto utc_form = parse_deployment_request(
        R"({"service":"checkout","version":"v2","deployed_at":"2026-11-26T12:25:00Z"})");
    const auto offset_form = parse_deployment_request(
        R"({"service":"checkout","version":"v2","deployed_at":"2026-11-26T13:25:00+01:00"})");
    REQUIRE(utc_form.ok());
    REQUIRE(offset_form.ok());
    CHECK(deployment_request_key(*utc_form) == deployment_request_key(*offset_form));

    const auto without_time = parse_deployment_request(R"({"service":"checkout","version":"v2"})");
    REQUIRE(without_time.ok());
    CHECK(deployment_request_key(*utc_form) != deployment_request_key(*without_time));
}

// ---- encoders ----

TEST_CASE("encode_error writes {\"error\": message} as valid JSON, whatever the message holds") {
    for (const std::string& message :
         {std::string("service: required"), std::string("quote \" backslash \\ newline \n tab \t"),
          std::string("invalid UTF-8 \xff\xfe here"), std::string()}) {
        CAPTURE(message);
        std::string encoded;
        REQUIRE_NOTHROW(encoded = encode_error(message));
        const json parsed = json::parse(encoded);
        REQUIRE(parsed.is_object());
        CHECK(parsed.size() == 1);
        REQUIRE(parsed.contains("error"));
        CHECK(parsed["error"].is_string());
        if (message.find('\xff') == std::string::npos) CHECK(parsed["error"] == message);
    }
    CHECK(encode_error("service: required") == R"({"error":"service: required"})");
}

TEST_CASE("json_quote writes a JSON string literal and never throws on invalid UTF-8") {
    CHECK(json_quote("plain") == "\"plain\"");
    CHECK(json_quote("a \"b\" \\ c\n") == R"("a \"b\" \\ c\n")");
    CHECK(json_quote("") == "\"\"");
    CHECK(json_quote("caf\xc3\xa9") == "\"caf\xc3\xa9\"");
    for (const std::string& bad : {std::string("\xff"), std::string("ab\xc3"), std::string("\xed\xa0\x80"),
                                   std::string("x\xfe\xfey")}) {
        std::string quoted;
        REQUIRE_NOTHROW(quoted = json_quote(bad));
        const json parsed = json::parse(quoted); // the replacement keeps it valid JSON
        CHECK(parsed.is_string());
        CHECK(parsed.get<std::string>().find("\xef\xbf\xbd") != std::string::npos); // U+FFFD
    }
}

AuditEvent sample_event() {
    AuditEvent event;
    event.sequence = 17;
    event.time = utc(2026, 11, 26, 12, 30, 47, 407'202'148);
    event.event = "rollback_started";
    event.service = "checkout";
    event.environment = "prod";
    event.deployment_id = "dep-42";
    event.version = "v2";
    event.previous_version = "v1";
    event.alertname = "HighErrorRate";
    event.fingerprint = "3a218f5b4e107d69";
    event.reason = "error rate above threshold";
    event.detail = R"({"exit_status":0,"output":"ok"})";
    return event;
}

void check_audit_fields(const json& object, const AuditEvent& event) {
    REQUIRE(object.is_object());
    CHECK(object["time"] == format_rfc3339_ms(event.time));
    CHECK(object["event"] == event.event);
    CHECK(object["service"] == event.service);
    CHECK(object["environment"] == event.environment);
    CHECK(object["deployment_id"] == event.deployment_id);
    CHECK(object["version"] == event.version);
    CHECK(object["previous_version"] == event.previous_version);
    CHECK(object["alertname"] == event.alertname);
    CHECK(object["fingerprint"] == event.fingerprint);
    CHECK(object["reason"] == event.reason);
    CHECK(object["detail"].is_object()); // an object, not a string holding JSON
}

TEST_CASE("encode_audit_event writes one line with every field of the contract") {
    const AuditEvent event = sample_event();
    const std::string line = encode_audit_event(event);
    CHECK(line.find('\n') == std::string::npos);
    const json parsed = json::parse(line);
    check_audit_fields(parsed, event);
    CHECK(parsed["time"] == "2026-11-26T12:30:47.407Z"); // RFC 3339, UTC, milliseconds
    CHECK(parsed["detail"] == json{{"exit_status", 0}, {"output", "ok"}});
    CHECK(parsed["sequence"] == 17);
    for (const char* key : {"time", "event", "service", "environment", "deployment_id", "version",
                            "previous_version", "alertname", "fingerprint", "reason", "detail"}) {
        CAPTURE(key);
        CHECK(parsed.contains(key));
    }
}

TEST_CASE("encode_audit_event keeps a line valid when detail is not JSON or text is not UTF-8") {
    AuditEvent event = sample_event();
    event.detail = "not json {";
    event.reason = "output had \xff bytes";
    std::string line;
    REQUIRE_NOTHROW(line = encode_audit_event(event));
    const json parsed = json::parse(line);
    CHECK(parsed["detail"] == json::object());
    CHECK(parsed["reason"].is_string());
}

TEST_CASE("encode_audit_list wraps the events in {\"events\": [...]} in the given order") {
    AuditEvent second = sample_event();
    second.sequence = 18;
    second.event = "rollback_succeeded";
    const json parsed = json::parse(encode_audit_list({sample_event(), second}));
    REQUIRE(parsed.is_object());
    REQUIRE(parsed["events"].is_array());
    REQUIRE(parsed["events"].size() == 2);
    check_audit_fields(parsed["events"][0], sample_event());
    check_audit_fields(parsed["events"][1], second);
    CHECK(json::parse(encode_audit_list({})) == json{{"events", json::array()}});
}

Deployment sample_deployment() {
    Deployment deployment;
    deployment.id = "dep-42";
    deployment.service = "checkout";
    deployment.environment = "prod";
    deployment.version = "v2";
    deployment.previous_version = "v1";
    deployment.deployed_at = utc(2026, 11, 26, 12, 25, 0, 123'456'789);
    deployment.recorded_at = utc(2026, 11, 26, 12, 25, 1);
    deployment.commit = "0f3c2ab";
    deployment.url = "https://ci.example.com/runs/4242";
    deployment.actor = "jdoe";
    return deployment;
}

TEST_CASE("encode_deployment writes the deployment with its effective state") {
    const json parsed = json::parse(encode_deployment(sample_deployment(), DeploymentState::healthy));
    CHECK(parsed == json{{"id", "dep-42"},
                         {"service", "checkout"},
                         {"environment", "prod"},
                         {"version", "v2"},
                         {"previous_version", "v1"},
                         {"deployed_at", "2026-11-26T12:25:00.123Z"},
                         {"recorded_at", "2026-11-26T12:25:01.000Z"},
                         {"commit", "0f3c2ab"},
                         {"url", "https://ci.example.com/runs/4242"},
                         {"actor", "jdoe"},
                         {"kind", "deploy"},
                         {"state", "healthy"}});

    Deployment rollback = sample_deployment();
    rollback.kind = DeploymentKind::rollback;
    rollback.rollback_of = "dep-41";
    const json rolled = json::parse(encode_deployment(rollback, DeploymentState::watching));
    CHECK(rolled["kind"] == "rollback");
    CHECK(rolled["rollback_of"] == "dep-41");
    CHECK(rolled["state"] == "watching");
}

TEST_CASE("encode_deployment_list pairs each deployment with its state") {
    Deployment second = sample_deployment();
    second.id = "dep-41";
    second.state = DeploymentState::superseded;
    const json parsed = json::parse(encode_deployment_list(
        {sample_deployment(), second}, {DeploymentState::rolled_back, DeploymentState::superseded}));
    REQUIRE(parsed["deployments"].is_array());
    REQUIRE(parsed["deployments"].size() == 2);
    CHECK(parsed["deployments"][0]["id"] == "dep-42");
    CHECK(parsed["deployments"][0]["state"] == "rolled_back");
    CHECK(parsed["deployments"][1]["id"] == "dep-41");
    CHECK(parsed["deployments"][1]["state"] == "superseded");
    CHECK(json::parse(encode_deployment_list({}, {})) == json{{"deployments", json::array()}});
}

TEST_CASE("encode_detail holds the alert, then the text and number fields") {
    Alert alert;
    alert.status = "firing";
    alert.labels = {{"service", "checkout"}, {"alertname", "HighErrorRate"}};
    alert.annotations = {{"summary", "error rate is 3.1%"}};
    alert.starts_at = utc(2026, 11, 26, 12, 30, 47, 407'202'148);
    alert.generator_url = "http://prometheus:9090/graph";
    const json parsed =
        json::parse(encode_detail({&alert, {{"command", "scripts/rollback.sh"}}, {{"exit_status", 3}}}));
    CHECK(parsed["status"] == "firing");
    CHECK(parsed["labels"] == json{{"service", "checkout"}, {"alertname", "HighErrorRate"}});
    CHECK(parsed["annotations"] == json{{"summary", "error rate is 3.1%"}});
    CHECK(parsed["startsAt"] == "2026-11-26T12:30:47.407Z");
    CHECK(parsed["generatorURL"] == "http://prometheus:9090/graph");
    CHECK(parsed["command"] == "scripts/rollback.sh");
    CHECK(parsed["exit_status"] == 3);

    CHECK(json::parse(encode_detail({})) == json::object());
    const json no_alert = json::parse(encode_detail({nullptr, {{"superseded_by", "dep-43"}}, {}}));
    CHECK(no_alert == json{{"superseded_by", "dep-43"}});
    // Command output is outside input: bytes that are not UTF-8 must not break the audit line.
    std::string encoded;
    REQUIRE_NOTHROW(encoded = encode_detail({nullptr, {{"output", "bad \xff byte"}}, {}}));
    CHECK(json::parse(encoded)["output"].is_string());
}

TEST_CASE("encode_template: JSON types from YAML, placeholders only inside strings") {
    using Kind = TemplateValue::Kind;
    auto value = [](Kind kind, std::string text) {
        TemplateValue made;
        made.kind = kind;
        made.text = std::move(text);
        return made;
    };
    TemplateValue list;
    list.kind = Kind::list;
    list.items = {value(Kind::number, "1"), value(Kind::number, "-2.5e3"), value(Kind::null, ""),
                  value(Kind::string, "{{service}}/{{unknown}}")};
    TemplateValue root;
    root.kind = Kind::object;
    root.fields = {{"b", value(Kind::boolean, "false")},
                   {"big", value(Kind::number, "1e400")}, // beyond a double: kept as text
                   {"items", list}};
    CHECK(encode_template(root, {{"service", "checkout"}}) ==
          R"({"b":false,"big":"1e400","items":[1,-2500.0,null,"checkout/"]})");
}

TEST_CASE("github_error_message: GitHub's message, or the start of any other body") {
    CHECK(github_error_message(R"({"message":"Not Found","documentation_url":"https://docs.github.com"})") ==
          "Not Found");
    CHECK(github_error_message("<html>\nbad gateway</html>") == "<html> bad gateway</html>");
    CHECK(github_error_message(std::string(1000, 'x')).size() == 300);
    CHECK(encode_chat_message("a \"b\"\n") == R"({"text":"a \"b\"\n"})");
    CHECK(encode_workflow_dispatch("main", {{"v", "1"}}) == R"({"inputs":{"v":"1"},"ref":"main"})");
}

TEST_CASE(
    "decode_detail reads back what encode_detail wrote; a detail that is not an object reads as empty") {
    Alert alert;
    alert.status = "firing";
    alert.labels = {{"alertname", "HighErrorRate"}, {"endpoint", "<script>alert(1)</script>"}};
    alert.annotations = {{"summary", "12% failed"}, {"value", "0.12"}};
    alert.generator_url = "http://prometheus:9090/graph";
    const DetailFields fields = decode_detail(encode_detail(
        {&alert, {{"compare_url", "https://github.com/o/r/compare/a...b"}}, {{"duration_ms", 42}}}));
    CHECK(fields.labels == alert.labels);
    CHECK(fields.annotations == alert.annotations);
    CHECK(fields.text_field("generatorURL") == "http://prometheus:9090/graph");
    CHECK(fields.text_field("compare_url") == "https://github.com/o/r/compare/a...b");
    CHECK(fields.text_field("status") == "firing");
    CHECK(fields.numbers == std::map<std::string, long long>{{"duration_ms", 42}});
    for (const std::string detail : {"", "{", "[]", "\"text\"", "null"}) {
        CAPTURE(detail);
        const DetailFields empty = decode_detail(detail);
        CHECK(empty.labels.empty());
        CHECK(empty.text.empty());
        CHECK(empty.numbers.empty());
    }
    // Values of other types are left out: a label that is not a string, an annotations array.
    const DetailFields mixed = decode_detail(R"({"labels":{"a":1,"b":"x"},"annotations":[1],"ok":true})");
    CHECK(mixed.labels == std::map<std::string, std::string>{{"b", "x"}});
    CHECK(mixed.annotations.empty());
    CHECK(mixed.text.empty());
}

} // namespace
} // namespace rollback

TEST_CASE("parse_prometheus_range: a matrix answer, an error answer, and malformed ones") {
    using namespace rollback;
    const std::string good = R"({"status":"success","data":{"resultType":"matrix","result":[
        {"metric":{"__name__":"up","job":"checkout"},"values":[[1700000000,"1"],[1700000015.5,"NaN"],
            [1700000030,"+Inf"]]},
        {"metric":{},"values":[]},
        {"metric":{"job":"third"},"values":[[1700000000,"0.25"]]}]}})";
    auto range = parse_prometheus_range(good, 2);
    REQUIRE(range.ok());
    CHECK(range->total_series == 3);
    REQUIRE(range->series.size() == 2);
    CHECK(range->series[0].metric ==
          std::map<std::string, std::string>{{"__name__", "up"}, {"job", "checkout"}});
    REQUIRE(range->series[0].values.size() == 3);
    CHECK(range->series[0].values[0] == std::pair<double, double>{1700000000, 1});
    CHECK(range->series[0].values[1].first == 1700000015.5);
    CHECK(std::isnan(range->series[0].values[1].second));
    CHECK(std::isinf(range->series[0].values[2].second));
    CHECK(range->series[1].values.empty());

    const auto error = parse_prometheus_range(
        R"({"status":"error","errorType":"bad_data","error":"1:5: parse error: unexpected <EOF>"})", 5);
    REQUIRE_FALSE(error.ok());
    CHECK(error.error() ==
          "Prometheus answered status \"error\" (bad_data): 1:5: parse error: unexpected <EOF>");

    const std::vector<std::pair<std::string, std::string>> bad = {
        {"<html>502</html>", "Prometheus answer: malformed JSON"},
        {"[1]", "Prometheus answer: the body must be a JSON object"},
        {R"({"status":"success"})", "Prometheus answer has no \"data\" object"},
        {R"({"status":"success","data":{"resultType":"vector","result":[]}})",
         "Prometheus answered a \"vector\" result to a range query, not a matrix"},
        {R"({"status":"success","data":{"resultType":"matrix","result":{}}})",
         "Prometheus answer: data.result: expected a list"},
        {R"({"status":"success","data":{"resultType":"matrix","result":[{"metric":{}}]}})",
         "Prometheus answer: data.result[0].values: expected a list"},
        {R"({"status":"success","data":{"resultType":"matrix","result":[{"values":[[1,2]]}]}})",
         "Prometheus answer: data.result[0].values[0]: expected [<time>, \"<value>\"]"},
        {R"({"status":"success","data":{"resultType":"matrix","result":[{"values":[[1,"x1"]]}]}})",
         "Prometheus answer: data.result[0].values[0][1]: \"x1\" is not a number"},
        {R"({"status":"success","data":{"resultType":"matrix","result":[{"values":[[1,"1)", "malformed JSON"},
    };
    for (const auto& [body, message] : bad) {
        CAPTURE(body);
        const auto parsed = parse_prometheus_range(body, 5);
        REQUIRE_FALSE(parsed.ok());
        CHECK_MESSAGE(parsed.error().find(message) != std::string::npos, parsed.error());
    }
}
