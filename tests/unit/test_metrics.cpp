// Unit tests for metric families and the Prometheus text format, checked with the real `promtool`.
#include "ops/metrics.hpp"

#include "support/temp_dir.hpp"

#include <doctest/doctest.h>

#include <sys/wait.h>

#include <cstdio>
#include <filesystem>
#include <limits>
#include <set>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace rollback {
namespace {

using Type = MetricFamily::Type;

std::string render(const MetricFamily& family) {
    std::string out;
    family.render(out);
    return out;
}

struct PromtoolResult {
    int exit_status = -1;
    std::string output;
};

// Runs `promtool check metrics` with `text` on its standard input.
PromtoolResult promtool_check_metrics(const std::string& text) {
    const std::string promtool = "/usr/bin/promtool";
    REQUIRE_MESSAGE(
        std::filesystem::exists(promtool),
        "promtool is missing: install the Debian package `prometheus` (apt-get install prometheus) "
        "so that /metrics can be checked against the real exposition-format linter");
    testing::TempDir dir;
    const std::string input = dir.write("metrics.txt", text);
    const std::string command = promtool + " check metrics < '" + input + "' 2>&1";
    FILE* pipe = ::popen(command.c_str(), "r");
    REQUIRE_MESSAGE(pipe != nullptr, "popen failed for: " << command);
    PromtoolResult result;
    char buffer[4096];
    std::size_t read = 0;
    while ((read = std::fread(buffer, 1, sizeof buffer, pipe)) > 0)
        result.output.append(buffer, read);
    const int status = ::pclose(pipe);
    result.exit_status = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    return result;
}

TEST_CASE("a counter family renders HELP, TYPE and one line per series, sorted by label values") {
    MetricFamily family("demo_requests_total", "Requests answered.", Type::counter, {"handler", "code"});
    family.add({"/webhook", "200"});
    family.add({"/webhook", "200"}, 2);
    family.add({"/api", "401"});
    CHECK(render(family) == "# HELP demo_requests_total Requests answered.\n"
                            "# TYPE demo_requests_total counter\n"
                            "demo_requests_total{handler=\"/api\",code=\"401\"} 1\n"
                            "demo_requests_total{handler=\"/webhook\",code=\"200\"} 3\n");
    CHECK(family.value({"/webhook", "200"}) == 3);
    CHECK(family.value({"/api", "401"}) == 1);
    CHECK(family.value({"/never", "500"}) == 0);
}

TEST_CASE("a family without series renders only its HELP and TYPE lines") {
    MetricFamily family("demo_events_total", "Events.", Type::counter, {"kind"});
    CHECK(render(family) == "# HELP demo_events_total Events.\n# TYPE demo_events_total counter\n");
}

TEST_CASE("a gauge without labels renders a bare name; set replaces and add moves it") {
    MetricFamily family("demo_pending", "Pending things.", Type::gauge, {});
    family.set({}, 5);
    family.add({}, -2);
    CHECK(render(family) ==
          "# HELP demo_pending Pending things.\n# TYPE demo_pending gauge\ndemo_pending 3\n");
    family.set({}, 0.25);
    CHECK(family.value({}) == 0.25);
    CHECK(render(family).find("\ndemo_pending 0.25\n") != std::string::npos);
}

TEST_CASE("label values escape backslash, double quote and newline") {
    MetricFamily family("demo_total", "Escaping.", Type::counter, {"path"});
    family.add({"C:\\dir \"quoted\"\nnext"});
    CHECK(render(family) == "# HELP demo_total Escaping.\n"
                            "# TYPE demo_total counter\n"
                            "demo_total{path=\"C:\\\\dir \\\"quoted\\\"\\nnext\"} 1\n");
}

TEST_CASE("a histogram renders cumulative buckets, +Inf, _sum and _count") {
    // Values that are exact in binary, so the sum is exact; 0.125 sits on a bound and counts in its bucket.
    MetricFamily family("demo_duration_seconds", "Durations.", Type::histogram, {"service"}, {0.125, 0.5, 1});
    for (double value : {0.0625, 0.125, 0.25, 0.75, 2.0})
        family.observe({"checkout"}, value);
    CHECK(render(family) == "# HELP demo_duration_seconds Durations.\n"
                            "# TYPE demo_duration_seconds histogram\n"
                            "demo_duration_seconds_bucket{service=\"checkout\",le=\"0.125\"} 2\n"
                            "demo_duration_seconds_bucket{service=\"checkout\",le=\"0.5\"} 3\n"
                            "demo_duration_seconds_bucket{service=\"checkout\",le=\"1\"} 4\n"
                            "demo_duration_seconds_bucket{service=\"checkout\",le=\"+Inf\"} 5\n"
                            "demo_duration_seconds_sum{service=\"checkout\"} 3.1875\n"
                            "demo_duration_seconds_count{service=\"checkout\"} 5\n");
    CHECK(family.value({"checkout"}) == 5); // a histogram's value is its count
}

TEST_CASE("histogram bucket bounds are written in their shortest form, as PromQL selectors expect") {
    // {le="0.1"} in a query or a recording rule must match: 0.1 must not come out as 0.10000000000000001.
    MetricFamily family("demo_seconds", "Latency.", Type::histogram, {},
                        {0.0005, 0.001, 0.0025, 0.1, 2.5, 600});
    family.observe({}, 0.2);
    const std::string text = render(family);
    for (const std::string bound : {"0.0005", "0.001", "0.0025", "0.1", "2.5", "600"}) {
        CAPTURE(bound);
        CHECK(text.find("demo_seconds_bucket{le=\"" + bound + "\"}") != std::string::npos);
    }
    CHECK(text.find("demo_seconds_sum 0.2\n") != std::string::npos);
}

TEST_CASE("sample values are written as the Prometheus Go client writes them") {
    struct Row {
        double value;
        std::string text;
    };
    const std::vector<Row> rows{
        {0, "0"},
        {1, "1"},
        {-2.5, "-2.5"},
        {1234567, "1234567"},
        {0.0001, "0.0001"},
        {0.00001, "1e-05"},
        {1e20, "100000000000000000000"},
        {1e21, "1e+21"},
        {1.0 / 3, "0.3333333333333333"},
        {std::numeric_limits<double>::infinity(), "+Inf"},
        {-std::numeric_limits<double>::infinity(), "-Inf"},
        {std::numeric_limits<double>::quiet_NaN(), "NaN"},
    };
    for (const auto& row : rows) {
        CAPTURE(row.text);
        MetricFamily family("demo_value", "Value.", Type::gauge, {});
        family.set({}, row.value);
        CHECK(render(family) ==
              "# HELP demo_value Value.\n# TYPE demo_value gauge\ndemo_value " + row.text + "\n");
    }
}

TEST_CASE("a histogram without labels and one observation above every bucket") {
    MetricFamily family("demo_seconds", "Latency.", Type::histogram, {}, {1, 2});
    family.observe({}, 5);
    CHECK(render(family) == "# HELP demo_seconds Latency.\n"
                            "# TYPE demo_seconds histogram\n"
                            "demo_seconds_bucket{le=\"1\"} 0\n"
                            "demo_seconds_bucket{le=\"2\"} 0\n"
                            "demo_seconds_bucket{le=\"+Inf\"} 1\n"
                            "demo_seconds_sum 5\n"
                            "demo_seconds_count 1\n");
}

TEST_CASE("using a family with the wrong number of label values is a programming error") {
    MetricFamily family("demo_total", "Demo.", Type::counter, {"a", "b"});
    CHECK_THROWS_AS(family.add({"only-one"}), std::logic_error);
    CHECK_THROWS_AS(family.set({"x", "y", "z"}, 1), std::logic_error);
    CHECK_THROWS_AS(family.observe({}, 1), std::logic_error);
}

TEST_CASE("counters are safe to increment from several threads at once") {
    MetricFamily family("demo_total", "Demo.", Type::counter, {"thread"});
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; ++t)
        threads.emplace_back([&family] {
            for (int i = 0; i < 10000; ++i)
                family.add({"shared"});
        });
    for (auto& thread : threads)
        thread.join();
    CHECK(family.value({"shared"}) == 40000);
}

// Every family the daemon exposes, so that a new one cannot be left out of render().
const std::set<std::string> kFamilies{
    "rollback_receiver_build_info",
    "rollback_receiver_notifications_total",
    "rollback_receiver_alerts_total",
    "rollback_receiver_audit_repeats_total",
    "rollback_receiver_deployments_recorded_total",
    "rollback_receiver_rollbacks_total",
    "rollback_receiver_rollback_duration_seconds",
    "rollback_receiver_rollback_attempts_total",
    "rollback_receiver_http_request_duration_seconds",
    "rollback_receiver_http_requests_total",
    "rollback_receiver_pending_rollbacks",
    "rollback_receiver_rollbacks_queued",
    "rollback_receiver_config_last_reload_successful",
    "rollback_receiver_config_reloads_total",
    "rollback_receiver_notifications_sent_total",
    "rollback_receiver_audit_write_failures_total",
    "rollback_receiver_ledger_write_retries_total",
    "rollback_receiver_rollback_outcomes_total",
};

void fill_every_family(Metrics& metrics) {
    metrics.notifications.add({"accepted"});
    metrics.notifications.add({"invalid"}, 2);
    metrics.alerts.add({"ignore", "no deployment in the watch window"});
    metrics.alerts.add({"act", ""});
    metrics.audit_repeats.add({"alert_ignored", "deployment \"dep-1\" is healthy"});
    metrics.deployments_recorded.add({"created"});
    metrics.deployments_recorded.add({"conflict"});
    metrics.rollbacks.add({"checkout", "success"});
    metrics.rollback_duration.observe({"checkout"}, 12.5);
    metrics.rollback_duration.observe({"checkout"}, 0.05);
    metrics.rollback_attempts.add({"checkout", "failure"}, 2);
    metrics.rollback_attempts.add({"checkout", "success"});
    metrics.http_request_duration.observe({"/webhook"}, 0.0004);
    metrics.http_request_duration.observe({"/api/v1/deployments"}, 0.3);
    metrics.http_requests.add({"/webhook", "200"});
    metrics.http_requests.add({"/webhook", "401"});
    metrics.pending_rollbacks.set({}, 2);
    metrics.rollbacks_queued.set({}, 3);
    metrics.config_reload_success.set({}, 0);
    metrics.config_reloads.add({"failure"});
    metrics.notifications_sent.add({"rollback_started", "success"});
    metrics.rollback_outcomes.add({"ineffective"});
}

TEST_CASE("rollback_outcomes starts with both outcomes at 0, so a rate() over them works from the start") {
    Metrics metrics;
    const std::string text = metrics.render();
    CHECK(text.find("rollback_receiver_rollback_outcomes_total{outcome=\"effective\"} 0\n") !=
          std::string::npos);
    CHECK(text.find("rollback_receiver_rollback_outcomes_total{outcome=\"ineffective\"} 0\n") !=
          std::string::npos);
    metrics.rollback_outcomes.add({"ineffective"});
    CHECK(metrics.rollback_outcomes.value({"ineffective"}) == 1);
}

TEST_CASE("Metrics renders every family with the rollback_receiver_ prefix") {
    Metrics metrics;
    fill_every_family(metrics);
    const std::string text = metrics.render();
    std::set<std::string> typed;
    std::istringstream lines(text);
    std::string line;
    while (std::getline(lines, line)) {
        CAPTURE(line);
        if (line.rfind("# TYPE ", 0) == 0) {
            const std::string rest = line.substr(7);
            typed.insert(rest.substr(0, rest.find(' ')));
            continue;
        }
        if (line.rfind("# HELP ", 0) == 0) {
            CHECK(line.rfind("# HELP rollback_receiver_", 0) == 0);
            continue;
        }
        CHECK(line.rfind("rollback_receiver_", 0) == 0);
    }
    CHECK(typed == kFamilies);
    CHECK(text.find("rollback_receiver_build_info{version=\"" ROLLBACK_RECEIVER_VERSION "\"} 1\n") !=
          std::string::npos);
    CHECK(text.find("\nrollback_receiver_pending_rollbacks 2\n") != std::string::npos);
    CHECK(text.find("\nrollback_receiver_rollbacks_queued 3\n") != std::string::npos);
    CHECK(text.find("\nrollback_receiver_config_last_reload_successful 0\n") != std::string::npos);
    CHECK(text.find("\nrollback_receiver_rollback_duration_seconds_count{service=\"checkout\"} 2\n") !=
          std::string::npos);
}

TEST_CASE("a fresh Metrics object starts with build_info, no pending rollbacks and a good config") {
    Metrics metrics;
    CHECK(metrics.build_info.value({ROLLBACK_RECEIVER_VERSION}) == 1);
    CHECK(metrics.pending_rollbacks.value({}) == 0);
    CHECK(metrics.rollbacks_queued.value({}) == 0);
    CHECK(metrics.config_reload_success.value({}) == 1);
    const std::string text = metrics.render();
    CHECK(text.find("\nrollback_receiver_pending_rollbacks 0\n") != std::string::npos);
    CHECK(text.find("\nrollback_receiver_rollbacks_queued 0\n") != std::string::npos);
    CHECK(text.find("\nrollback_receiver_config_last_reload_successful 1\n") != std::string::npos);
}

TEST_CASE("promtool check metrics accepts the rendered text of a fresh and of a busy Metrics object") {
    Metrics fresh;
    const auto fresh_check = promtool_check_metrics(fresh.render());
    CHECK_MESSAGE(fresh_check.exit_status == 0, "promtool said:\n" << fresh_check.output);

    Metrics busy;
    fill_every_family(busy);
    const std::string text = busy.render();
    const auto busy_check = promtool_check_metrics(text);
    CHECK_MESSAGE(busy_check.exit_status == 0, "promtool said:\n" << busy_check.output << "\nfor:\n" << text);
}

TEST_CASE("promtool really rejects bad text, so the check above can fail") {
    const auto check = promtool_check_metrics("demo_total{a=\"unterminated} 1\n");
    CHECK(check.exit_status != 0);
}

} // namespace
} // namespace rollback
