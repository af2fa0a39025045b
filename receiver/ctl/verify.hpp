// rollbackctl verify, the post-deploy gate: a poll's sample, the verdict after each poll, the lines it
// prints.
#pragma once

#include "common/time_util.hpp"
#include "ctl/args.hpp"

#include <string>
#include <string_view>
#include <vector>

namespace rollback {

// One poll of Prometheus: the largest value of the answer, no data (empty result, or only NaN), or an
// error (no answer, a non-200 status, an answer that is not a query result).
struct VerifySample {
    enum class Kind { value, no_data, error };
    Kind kind = Kind::no_data;
    double value = 0;
    std::string error;
};
// From the answer to GET /api/v1/query: status 0 means no answer (`error` says why).
VerifySample sample_from_prometheus_answer(int status, std::string_view body, const std::string& error);

enum class VerifyVerdict {
    keep_polling,
    passed,   // the duration passed with every value at or under the threshold (exit 0)
    exceeded, // a value went over the threshold (exit 1)
    no_data,  // no data with --no-data fail (exit 1)
    error,    // an error with --on-error fail, or only errors until the end (exit 2)
};
// The verdict after `samples` (oldest first); `duration_over` once the last poll of the duration is in.
VerifyVerdict judge_verify(const VerifyArgs& args, const std::vector<VerifySample>& samples,
                           bool duration_over);
int exit_status_of(VerifyVerdict verdict);

// "[ 45s/5m0s] value=0.0031 threshold=0.01 ok"
std::string format_verify_progress(const VerifyArgs& args, Duration elapsed, const VerifySample& sample,
                                   VerifyVerdict verdict);
// The reason sent with --rollback: "verify: <query> = <value> > <threshold>".
std::string verify_rollback_reason(const VerifyArgs& args, double value);

} // namespace rollback
