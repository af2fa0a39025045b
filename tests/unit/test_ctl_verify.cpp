// Unit tests for rollbackctl verify: the verdict table, Prometheus answers as samples, the progress lines.
#include "ctl/verify.hpp"

#include <doctest/doctest.h>

#include <cmath>
#include <limits>
#include <string>
#include <vector>

namespace rollback {
namespace {

using namespace std::chrono_literals;

bool contains(const std::string& text, const std::string& part) {
    return text.find(part) != std::string::npos;
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
