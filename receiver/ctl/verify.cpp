// rollbackctl verify's pure part: Prometheus answers to samples, samples to a verdict, progress lines.
#include "ctl/verify.hpp"

#include "common/text.hpp"
#include "ctl/json.hpp"
#include "ctl/tables.hpp"

#include <algorithm>
#include <cmath>

namespace rollback {

VerifySample sample_from_prometheus_answer(int status, std::string_view body, const std::string& error) {
    VerifySample sample;
    if (status == 0) {
        sample.kind = VerifySample::Kind::error;
        sample.error = "no answer from Prometheus: " + error + " error";
        return sample;
    }
    if (status != 200) {
        sample.kind = VerifySample::Kind::error;
        sample.error =
            "Prometheus answered HTTP " + std::to_string(status) + ": " + error_message_from_body(body);
        return sample;
    }
    auto values = parse_prometheus_query_values(body);
    if (!values) {
        sample.kind = VerifySample::Kind::error;
        sample.error = values.error();
        return sample;
    }
    bool any = false;
    double highest = 0;
    for (const double value : *values) {
        if (std::isnan(value)) continue; // 0/0: no requests in the window, no evidence either way
        highest = any ? std::max(highest, value) : value;
        any = true;
    }
    sample.kind = any ? VerifySample::Kind::value : VerifySample::Kind::no_data;
    sample.value = highest;
    return sample;
}

VerifyVerdict judge_verify(const VerifyArgs& args, const std::vector<VerifySample>& samples,
                           bool duration_over) {
    if (samples.empty()) return duration_over ? VerifyVerdict::error : VerifyVerdict::keep_polling;
    const VerifySample& last = samples.back();
    switch (last.kind) {
    case VerifySample::Kind::value:
        if (last.value > args.threshold) return VerifyVerdict::exceeded;
        break;
    case VerifySample::Kind::no_data:
        if (args.no_data == NoDataPolicy::fail) return VerifyVerdict::no_data;
        break;
    case VerifySample::Kind::error:
        if (args.on_error == ErrorPolicy::fail) return VerifyVerdict::error;
        break;
    }
    if (!duration_over) return VerifyVerdict::keep_polling;
    const bool only_errors = std::all_of(samples.begin(), samples.end(), [](const VerifySample& sample) {
        return sample.kind == VerifySample::Kind::error;
    });
    return only_errors ? VerifyVerdict::error : VerifyVerdict::passed;
}

int exit_status_of(VerifyVerdict verdict) {
    switch (verdict) {
    case VerifyVerdict::keep_polling:
    case VerifyVerdict::passed:
        return kCtlExitOk;
    case VerifyVerdict::exceeded:
    case VerifyVerdict::no_data:
        return kCtlExitFailed;
    case VerifyVerdict::error:
        return kCtlExitUsage;
    }
    return kCtlExitUsage;
}

std::string format_verify_progress(const VerifyArgs& args, Duration elapsed, const VerifySample& sample,
                                   VerifyVerdict verdict) {
    const std::string total = format_go_duration(args.duration);
    std::string shown = format_go_duration(elapsed);
    if (shown.size() < total.size()) shown.insert(0, total.size() - shown.size(), ' ');
    std::string line = "[" + shown + "/" + total + "] ";
    const std::string threshold = " threshold=" + format_number_short(args.threshold) + " ";
    switch (sample.kind) {
    case VerifySample::Kind::value:
        line += "value=" + format_number_short(sample.value) + threshold +
                (verdict == VerifyVerdict::exceeded ? "OVER THRESHOLD" : "ok");
        break;
    case VerifySample::Kind::no_data:
        line +=
            "value=none" + threshold +
            (verdict == VerifyVerdict::no_data ? "no data: fail (--no-data fail)" : "no data (--no-data ok)");
        break;
    case VerifySample::Kind::error:
        line += "value=?" + threshold +
                (args.on_error == ErrorPolicy::ignore ? "error, ignored (--on-error ignore): " : "error: ") +
                one_line(sample.error);
        break;
    }
    return line;
}

std::string verify_rollback_reason(const VerifyArgs& args, double value) {
    return "verify: " + args.query + " = " + format_number_short(value) + " > " +
           format_number_short(args.threshold);
}

} // namespace rollback
