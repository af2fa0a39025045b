// rollbackctl's command line: its commands and flags, the parsed arguments, its help and exit statuses.
#pragma once

#include "common/result.hpp"
#include "common/time_util.hpp"
#include "model/model.hpp"

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
    double threshold = 0.01; // HighErrorRate's 5-minute threshold (rules/error-rate.rules.yml)
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

} // namespace rollback
