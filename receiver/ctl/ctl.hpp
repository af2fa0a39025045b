// rollbackctl: the command line for CI and the on-call engineer: parsing, commands, tables, verify's verdict.
#pragma once

#include "common/result.hpp"
#include "common/time_util.hpp"
#include "common/url.hpp"
#include "ctl/json.hpp"
#include "model/model.hpp"

#include <iosfwd>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace rollback {

// Exit statuses of rollbackctl.
inline constexpr int kCtlExitOk = 0;
inline constexpr int kCtlExitFailed = 1; // the receiver refused, or verify saw the threshold exceeded
inline constexpr int kCtlExitUsage = 2;  // bad usage, or the receiver / Prometheus could not be reached

enum class CtlCommand { none, record, deployments, audit, pause, resume, rollback, verify };
std::string_view to_string(CtlCommand command);

struct RecordArgs {
    DeploymentRequest request; // deployed_at stays nullopt: the receiver dates it, so retries compare equal
};

struct DeploymentsArgs {
    std::string service;
    std::string environment;
    int limit = 0; // 0: the receiver's default
    bool json = false;
};

struct AuditArgs {
    std::string service;
    std::string deployment_id;
    int limit = 0; // 0: the receiver's default
    bool follow = false;
    std::optional<Duration> follow_for; // --follow stops after this long (scripts and tests)
    bool json = false;
};

struct PauseArgs {
    std::string service;
    std::string reason;
    std::optional<Duration> for_duration; // nullopt: until resumed
    std::string actor;
};

struct ResumeArgs {
    std::string service;
};

struct RollbackArgs {
    std::string deployment_id;
    std::string reason;
    std::string actor;
};

enum class NoDataPolicy { ok, fail };
enum class ErrorPolicy { fail, ignore };

struct VerifyArgs {
    std::string prometheus_url;
    std::string query;
    double threshold = 0;
    Duration duration = std::chrono::minutes(5);
    Duration interval = std::chrono::seconds(15);
    NoDataPolicy no_data = NoDataPolicy::ok;
    ErrorPolicy on_error = ErrorPolicy::fail;
    std::string rollback_deployment_id; // "": do not ask the receiver to roll back
    std::string reason;                 // "": "verify: <query> = <value> > <threshold>"
};

// Where rollbackctl's defaults come from outside the command line.
struct CtlEnvironment {
    std::string receiver_url; // ROLLBACK_RECEIVER_URL
    std::string token_file;   // ROLLBACK_RECEIVER_TOKEN_FILE
};

inline constexpr const char* kDefaultReceiverUrl = "http://127.0.0.1:9095";

// The parsed command line. Only the member of `command` is filled in.
struct CtlArgs {
    std::string url;        // --url, else the environment, else kDefaultReceiverUrl
    std::string token_file; // --token-file, else the environment; "" sends no token
    bool help = false;      // --help: the usage of `command` (of rollbackctl when none)
    CtlCommand command = CtlCommand::none;
    RecordArgs record;
    DeploymentsArgs deployments;
    AuditArgs audit;
    PauseArgs pause;
    ResumeArgs resume;
    RollbackArgs rollback;
    VerifyArgs verify;
};

// `arguments` excludes the program name. Global flags go before or after the subcommand; flags take
// --flag=value or --flag value. Errors name the flag and what it expects.
Result<CtlArgs> parse_ctl_args(const std::vector<std::string>& arguments, const CtlEnvironment& environment);

// The one-line usage, the whole --help, and a subcommand's --help (flags and exit statuses).
std::string ctl_usage_line();
std::string ctl_usage();
std::string ctl_command_usage(CtlCommand command);

// A base URL split for the HTTP client: "http://host:9090/prom/" -> {"http://host:9090", "/prom"}.
// A URL without a scheme gets http://; https:// is verified against the system's trusted CAs.
struct BaseUrl {
    std::string origin; // scheme://host[:port]
    std::string prefix; // "" or "/path" without a trailing slash
};
Result<BaseUrl> split_base_url(std::string_view url);

// The token file's content without surrounding white space; errors name the file.
Result<std::string> read_token_file(const std::string& path);

// Ages for tables: "45s", "3m", "5h", "2d" (the largest whole unit; under 0 is "0s").
std::string format_age(Duration age);
// Go's time.Duration form that CI logs know: "5m0s", "45s", "1.5s", "200ms", "1h0m0s".
std::string format_go_duration(Duration duration);

// Columns separated by two spaces, every column but the last padded; control characters become spaces.
std::string format_table(const std::vector<std::string>& header,
                         const std::vector<std::vector<std::string>>& rows);

// The deployments table: ID SERVICE ENV VERSION PREVIOUS AGE STATE. A watching deployment of a paused
// service reads "watching (paused)"; a rollback deployment "... (rollback of <id>)". A footer line per
// paused service: "paused: checkout — <reason> (until <time>)".
std::string format_deployments_table(const std::vector<DeploymentListing>& deployments,
                                     const std::vector<PauseListing>& paused, TimePoint now);

// The audit table for a person, in the order given: TIME EVENT SERVICE DEPLOYMENT VERSIONS REASON SUMMARY.
// VERSIONS reads "v2 -> v1"; SUMMARY is "<alertname>: <summary>" when the event came from an alert (the
// summary is detail.annotations.summary).
std::string format_audit_table(const std::vector<AuditEvent>& events, bool with_header);

// --- verify ---
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

// Runs rollbackctl: parses, talks to the receiver / Prometheus, prints to `out` and `err`; returns the
// exit status.
int run_ctl(const std::vector<std::string>& arguments, const CtlEnvironment& environment, std::ostream& out,
            std::ostream& err);
// main(): reads the environment and uses std::cout / std::cerr.
int run_ctl(int argc, char** argv);

} // namespace rollback
