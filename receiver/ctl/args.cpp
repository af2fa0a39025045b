// rollbackctl's command line: flags per command, checked values, the help texts, base URLs.
#include "ctl/args.hpp"

#include "common/url.hpp"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdlib>
#include <map>

namespace rollback {

std::string_view to_string(CtlCommand command) {
    switch (command) {
    case CtlCommand::none:
        return "";
    case CtlCommand::record:
        return "record";
    case CtlCommand::deployments:
        return "deployments";
    case CtlCommand::audit:
        return "audit";
    case CtlCommand::pause:
        return "pause";
    case CtlCommand::resume:
        return "resume";
    case CtlCommand::rollback:
        return "rollback";
    case CtlCommand::verify:
        return "verify";
    }
    return "";
}

namespace {

constexpr CtlCommand kCommands[] = {CtlCommand::record, CtlCommand::deployments, CtlCommand::audit,
                                    CtlCommand::pause,  CtlCommand::resume,      CtlCommand::rollback,
                                    CtlCommand::verify};

struct FlagSpec {
    std::string_view name;
    bool takes_value;
};

std::vector<FlagSpec> flags_of(CtlCommand command) {
    switch (command) {
    case CtlCommand::record:
        return {{"service", true},     {"version", true}, {"previous-version", true},
                {"environment", true}, {"id", true},      {"commit", true},
                {"url", true},         {"actor", true}};
    case CtlCommand::deployments:
        return {{"service", true}, {"environment", true}, {"limit", true}, {"json", false}};
    case CtlCommand::audit:
        return {{"service", true}, {"deployment", true}, {"limit", true},
                {"follow", false}, {"follow-for", true}, {"json", false}};
    case CtlCommand::pause:
        return {{"reason", true}, {"for", true}, {"actor", true}};
    case CtlCommand::resume:
        return {};
    case CtlCommand::rollback:
        return {{"reason", true}, {"actor", true}};
    case CtlCommand::verify:
        return {{"prometheus", true}, {"query", true},    {"threshold", true},
                {"duration", true},   {"interval", true}, {"no-data", true},
                {"on-error", true},   {"rollback", true}, {"reason", true}};
    case CtlCommand::none:
        return {};
    }
    return {};
}

// How many positional arguments a command takes, and what they are called.
std::string_view positional_name(CtlCommand command) {
    switch (command) {
    case CtlCommand::pause:
    case CtlCommand::resume:
        return "SERVICE";
    case CtlCommand::rollback:
        return "DEPLOYMENT_ID";
    default:
        return "";
    }
}

std::optional<CtlCommand> command_named(std::string_view name) {
    for (CtlCommand command : kCommands)
        if (to_string(command) == name) return command;
    return std::nullopt;
}

std::string command_list() {
    std::string out;
    for (CtlCommand command : kCommands)
        out += (out.empty() ? "" : ", ") + std::string(to_string(command));
    return out;
}

Result<int> parse_limit(const std::string& text) {
    if (text.empty() || text.size() > 6 ||
        !std::all_of(text.begin(), text.end(), [](unsigned char c) { return std::isdigit(c); }))
        return make_error("--limit: expected a whole number from 1 to 1000, got \"" + text + "\"");
    const int limit = std::stoi(text);
    if (limit < 1 || limit > 1000)
        return make_error("--limit: expected a whole number from 1 to 1000, got \"" + text + "\"");
    return limit;
}

Result<Duration> parse_positive_duration(const std::string& flag, const std::string& text, bool allow_zero) {
    auto duration = parse_duration(text);
    if (!duration) return make_error("--" + flag + ": " + duration.error() + " (e.g. 30s, 5m, 1h30m)");
    if (duration->count() < 0 || (!allow_zero && duration->count() == 0))
        return make_error("--" + flag + ": must be more than 0, got \"" + text + "\"");
    return *duration;
}

Result<double> parse_threshold(const std::string& text) {
    char* end = nullptr;
    const double value = std::strtod(text.c_str(), &end);
    if (text.empty() || end != text.c_str() + text.size() || !std::isfinite(value))
        return make_error("--threshold: expected a number like 0.01, got \"" + text + "\"");
    return value;
}

// Fills the member of args.command from the flag values and positional arguments.
Status build_command(CtlArgs& args, std::map<std::string, std::string>& values,
                     const std::vector<std::string>& positionals) {
    const std::string command(to_string(args.command));
    const std::string_view wanted = positional_name(args.command);
    if (wanted.empty() && !positionals.empty())
        return make_error("unexpected argument \"" + positionals.front() + "\" for " + command +
                          " (flags start with --; see rollbackctl " + command + " --help)");
    if (!wanted.empty() && positionals.size() != 1)
        return make_error(
            command + " takes exactly one " + std::string(wanted) +
            (positionals.empty() ? ", none given" : ", got " + std::to_string(positionals.size())) +
            " (see rollbackctl " + command + " --help)");
    auto required = [&](const std::string& flag) -> Result<std::string> {
        auto it = values.find(flag);
        if (it == values.end())
            return make_error(command + " needs --" + flag + " (see rollbackctl " + command + " --help)");
        return it->second;
    };
    auto optional = [&](const std::string& flag) {
        auto it = values.find(flag);
        return it == values.end() ? std::string() : it->second;
    };
    auto flag_set = [&](const std::string& flag) { return optional(flag) == "true"; };

    switch (args.command) {
    case CtlCommand::record: {
        auto service = required("service");
        if (!service) return Error{service.error()};
        auto version = required("version");
        if (!version) return Error{version.error()};
        DeploymentRequest& request = args.record.request;
        request.service = *service;
        request.version = *version;
        request.previous_version = optional("previous-version");
        request.environment = optional("environment");
        request.id = optional("id");
        request.commit = optional("commit");
        request.url = optional("url");
        request.actor = optional("actor");
        break;
    }
    case CtlCommand::deployments: {
        args.deployments.service = optional("service");
        args.deployments.environment = optional("environment");
        args.deployments.json = flag_set("json");
        if (values.count("limit")) {
            auto limit = parse_limit(values["limit"]);
            if (!limit) return Error{limit.error()};
            args.deployments.limit = *limit;
        }
        break;
    }
    case CtlCommand::audit: {
        args.audit.service = optional("service");
        args.audit.deployment_id = optional("deployment");
        args.audit.follow = flag_set("follow");
        args.audit.json = flag_set("json");
        if (values.count("limit")) {
            auto limit = parse_limit(values["limit"]);
            if (!limit) return Error{limit.error()};
            args.audit.limit = *limit;
        }
        if (values.count("follow-for")) {
            auto follow_for = parse_positive_duration("follow-for", values["follow-for"], true);
            if (!follow_for) return Error{follow_for.error()};
            args.audit.follow_for = *follow_for;
            args.audit.follow = true;
        }
        break;
    }
    case CtlCommand::pause: {
        args.pause.service = positionals.front();
        args.pause.reason = optional("reason");
        args.pause.actor = optional("actor");
        if (values.count("for")) {
            auto for_duration = parse_positive_duration("for", values["for"], false);
            if (!for_duration) return Error{for_duration.error()};
            args.pause.for_duration = *for_duration;
        }
        break;
    }
    case CtlCommand::resume:
        args.resume.service = positionals.front();
        break;
    case CtlCommand::rollback: {
        args.rollback.deployment_id = positionals.front();
        auto reason = required("reason");
        if (!reason) return Error{reason.error()};
        args.rollback.reason = *reason;
        args.rollback.actor = optional("actor");
        break;
    }
    case CtlCommand::verify: {
        VerifyArgs& verify = args.verify;
        auto prometheus = required("prometheus");
        if (!prometheus) return Error{prometheus.error()};
        if (auto url = split_base_url(*prometheus); !url) return make_error("--prometheus: " + url.error());
        verify.prometheus_url = *prometheus;
        auto query = required("query");
        if (!query) return Error{query.error()};
        verify.query = *query;
        if (values.count("threshold")) { // default: HighErrorRate's 5-minute threshold (VerifyArgs)
            auto threshold = parse_threshold(values["threshold"]);
            if (!threshold) return Error{threshold.error()};
            verify.threshold = *threshold;
        }
        if (values.count("duration")) {
            auto duration = parse_positive_duration("duration", values["duration"], false);
            if (!duration) return Error{duration.error()};
            verify.duration = *duration;
        }
        if (values.count("interval")) {
            auto interval = parse_positive_duration("interval", values["interval"], false);
            if (!interval) return Error{interval.error()};
            verify.interval = *interval;
        }
        if (values.count("no-data")) {
            const std::string& policy = values["no-data"];
            if (policy == "ok")
                verify.no_data = NoDataPolicy::ok;
            else if (policy == "fail")
                verify.no_data = NoDataPolicy::fail;
            else
                return make_error("--no-data: expected ok or fail, got \"" + policy + "\"");
        }
        if (values.count("on-error")) {
            const std::string& policy = values["on-error"];
            if (policy == "fail")
                verify.on_error = ErrorPolicy::fail;
            else if (policy == "ignore")
                verify.on_error = ErrorPolicy::ignore;
            else
                return make_error("--on-error: expected fail or ignore, got \"" + policy + "\"");
        }
        verify.rollback_deployment_id = optional("rollback");
        verify.reason = optional("reason");
        if (!verify.reason.empty() && verify.rollback_deployment_id.empty())
            return make_error("--reason is only used with --rollback DEPLOYMENT_ID");
        break;
    }
    case CtlCommand::none:
        break;
    }
    return ok_status();
}

} // namespace

Result<CtlArgs> parse_ctl_args(const std::vector<std::string>& arguments, const CtlEnvironment& environment) {
    CtlArgs args;
    args.url = environment.receiver_url.empty() ? kDefaultReceiverUrl : environment.receiver_url;
    args.token_file = environment.token_file;
    std::map<std::string, std::string> values;
    std::vector<std::string> positionals;
    std::vector<FlagSpec> specs;
    for (std::size_t i = 0; i < arguments.size(); ++i) {
        const std::string& argument = arguments[i];
        if (argument == "-h") {
            args.help = true;
            continue;
        }
        if (argument.rfind("--", 0) != 0 || argument == "--") {
            if (argument.size() > 1 && argument[0] == '-')
                return make_error("unknown flag " + argument + " (flags start with --; see --help)");
            if (args.command == CtlCommand::none) {
                auto command = command_named(argument);
                if (!command)
                    return make_error("unknown command \"" + argument + "\" (commands: " + command_list() +
                                      ")");
                args.command = *command;
                specs = flags_of(*command);
            } else {
                positionals.push_back(argument);
            }
            continue;
        }
        std::string name = argument.substr(2);
        std::optional<std::string> value;
        if (const auto equals = name.find('='); equals != std::string::npos) {
            value = name.substr(equals + 1);
            name = name.substr(0, equals);
        }
        const std::string where = args.command == CtlCommand::none
                                      ? "rollbackctl"
                                      : "rollbackctl " + std::string(to_string(args.command));
        auto take_value = [&]() -> Result<std::string> {
            if (!value) {
                if (i + 1 >= arguments.size())
                    return make_error("--" + name + " needs a value (see " + where + " --help)");
                value = arguments[++i];
            }
            if (value->empty())
                return make_error("--" + name + " needs a non-empty value (see " + where + " --help)");
            return *value;
        };
        if (name == "help") {
            args.help = true;
            continue;
        }
        const auto spec =
            std::find_if(specs.begin(), specs.end(), [&](const FlagSpec& s) { return s.name == name; });
        // --url of `record` is the deployment's URL; elsewhere --url is the receiver's.
        const bool command_flag = spec != specs.end();
        if (!command_flag && (name == "url" || name == "token-file")) {
            auto text = take_value();
            if (!text) return Error{text.error()};
            (name == "url" ? args.url : args.token_file) = *text;
            continue;
        }
        if (!command_flag) {
            if (args.command == CtlCommand::none)
                return make_error("unknown flag --" + name +
                                  " (a command's flags go after the command; see " + where + " --help)");
            return make_error("unknown flag --" + name + " for " + std::string(to_string(args.command)) +
                              " (see " + where + " --help)");
        }
        if (spec->takes_value) {
            auto text = take_value();
            if (!text) return Error{text.error()};
            values[name] = *text;
        } else if (!value || *value == "true") {
            values[name] = "true";
        } else if (*value == "false") {
            values[name] = "false";
        } else {
            return make_error("--" + name + ": expected true or false, got \"" + *value + "\"");
        }
    }
    if (args.help) return args;
    if (args.command == CtlCommand::none)
        return make_error("no command given (commands: " + command_list() + ")");
    if (auto built = build_command(args, values, positionals); !built) return Error{built.error()};
    if (auto url = split_base_url(args.url); !url) return make_error("--url: " + url.error());
    return args;
}

std::string ctl_usage_line() {
    return "usage: rollbackctl [--url URL] [--token-file FILE] <command> [<flags>]; see rollbackctl --help";
}

std::string ctl_usage() {
    return R"(usage: rollbackctl [--url URL] [--token-file FILE] <command> [<flags>]

Talks to rollback-receiver's HTTP API: records deployments (CI), shows deployments and the audit trail,
pauses and resumes automatic rollbacks, rolls a deployment back by hand, and gates a deploy on a
Prometheus query (verify).

Commands:
  record       Record a deployment; prints its id. Safe to retry with the same --id.
  deployments  The deployments, newest first, with their state; paused services are marked.
  audit        The audit trail: what happened and why; --follow keeps printing new events.
  pause        Stop automatic rollbacks of a service (alerts are ignored with reason "paused").
  resume       Start them again.
  rollback     Roll a deployment back now, through the receiver's exactly-once path.
  verify       Poll a Prometheus query for a while; fail (and optionally roll back) when it goes over.

Global flags (before or after the command):
  --url URL          The receiver, default $ROLLBACK_RECEIVER_URL, else http://127.0.0.1:9095.
                     https:// is verified against the system's CAs (SSL_CERT_FILE=ca.pem: another bundle).
  --token-file FILE  File holding the API token (auth.api_token_file of the receiver), sent as
                     "Authorization: Bearer"; default $ROLLBACK_RECEIVER_TOKEN_FILE, else no token.
  --help             This help; "rollbackctl <command> --help" for a command's flags.

Exit status: 0 done; 1 the receiver refused (an HTTP error, e.g. 401 wrong token, 409 conflict) or
verify saw the threshold exceeded; 2 usage error, or the receiver / Prometheus could not be reached.
)";
}

std::string ctl_command_usage(CtlCommand command) {
    const std::string exit_status =
        "\nExit status: 0 done; 1 the receiver refused (the message gives its reason: 400 bad input,\n"
        "401 wrong or missing token, 404 unknown, 409 conflict); 2 usage error or receiver not reachable.\n"
        "Global flags --url and --token-file apply (see rollbackctl --help).\n";
    switch (command) {
    case CtlCommand::none:
        return ctl_usage();
    case CtlCommand::record:
        return R"txt(usage: rollbackctl record --service S --version V [<flags>]

Records a deployment with the receiver and prints its id on stdout (the summary goes to stderr).
A retry with the same --id and the same flags is answered with the same deployment (exit 0); the same
--id with other flags is a conflict (exit 1).

  --service S            The service (required).
  --version V            The version now live (required).
  --previous-version P   The version it replaced (default: the service's previous deployment).
  --environment E        e.g. prod; alerts with an environment label must match it.
  --id ID                Your id for the deployment (e.g. the CI run); default: the receiver makes one.
  --commit SHA           The commit deployed.
  --url URL              A link to the CI run or release (here --url is the deployment's, not the
                         receiver's: give the receiver's URL before the command or in the environment).
  --actor A              Who or what deployed.
)txt" + exit_status;
    case CtlCommand::deployments:
        return R"txt(usage: rollbackctl deployments [--service S] [--environment E] [--limit N] [--json]

The deployments, newest first: ID SERVICE ENV VERSION PREVIOUS AGE STATE. States: watching, healthy,
superseded, rolling_back, rolled_back, rollback_failed, rollback_interrupted. "(paused)" marks a
watching deployment of a service whose automatic rollbacks are paused; a footer line gives each
pause's reason and end.

  --service S      Only this service.
  --environment E  Only this environment.
  --limit N        At most N deployments (1-1000; default the receiver's, 100).
  --json           The receiver's JSON answer as it is.
)txt" + exit_status;
    case CtlCommand::audit:
        return R"txt(usage: rollbackctl audit [--service S] [--deployment ID] [--limit N] [--follow] [--json]

The audit trail, oldest first: TIME (UTC) EVENT SERVICE DEPLOYMENT VERSIONS (deployed -> previous)
REASON (why an alert was ignored or a rollback ended) SUMMARY (the alert's name and summary).

  --service S         Only this service.
  --deployment ID     Only this deployment.
  --limit N           The newest N events (1-1000; default the receiver's, 100).
  --follow            Keep printing new events (polls every second) until interrupted.
  --follow-for DUR    With --follow: stop after DUR (e.g. 30s); implies --follow.
  --json              The receiver's JSON answer as it is; with --follow one event per line.
)txt" + exit_status;
    case CtlCommand::pause:
        return R"txt(usage: rollbackctl pause SERVICE [--reason TEXT] [--for DURATION] [--actor A]

Stops automatic rollbacks of SERVICE: alerts are ignored with reason "paused" (and audited) until
`rollbackctl resume SERVICE` or the end of --for. The pause is kept in the receiver's ledger.
Manual rollbacks (rollbackctl rollback) still run.

  --reason TEXT    Why (shown in `deployments` and in the audit trail).
  --for DURATION   Resume by itself after DURATION (e.g. 30m, 2h); default: until resumed.
  --actor A        Who paused (written to the audit trail).
)txt" + exit_status;
    case CtlCommand::resume:
        return R"txt(usage: rollbackctl resume SERVICE

Starts automatic rollbacks of SERVICE again after `rollbackctl pause`.
)txt" + exit_status;
    case CtlCommand::rollback:
        return R"txt(usage: rollbackctl rollback DEPLOYMENT_ID --reason TEXT [--actor A]

Rolls DEPLOYMENT_ID back to its previous version through the receiver, on the same exactly-once path
as an alert: it runs the service's configured rollback action once. Refused (exit 1, with the
receiver's reason) when the deployment is not being watched any more (already rolled back, superseded,
healthy, ...), is itself a rollback, or has no previous version. Follow it with
`rollbackctl audit --deployment DEPLOYMENT_ID --follow`.

  --reason TEXT    Why (required; written to the audit trail).
  --actor A        Who asked (written to the audit trail).
)txt" + exit_status;
    case CtlCommand::verify:
        return R"txt(usage: rollbackctl verify --prometheus URL --query PROMQL [--threshold X] [<flags>]

The post-deploy gate: polls Prometheus' GET /api/v1/query every --interval for --duration (the first
poll at once, the last when the duration ends) and takes the largest value of the answer. Prints one
line per poll, e.g. "[ 45s/5m0s] value=0.0031 threshold=0.01 ok".

  --prometheus URL          Prometheus, e.g. http://prometheus:9090 (a path prefix is kept).
  --query PROMQL            An instant query, e.g.
                            max(endpoint:http_requests:error_rate5m{service="checkout"})
  --threshold X             Fail when a value is over X (a value equal to X passes; default 0.01,
                            the HighErrorRate alert's 5-minute threshold).
  --duration DUR            How long to watch (default 5m, the alert's 5-minute window).
  --interval DUR            Time between polls (default 15s, Prometheus' evaluation interval).
  --no-data ok|fail         An empty answer (or only NaN): keep polling (ok, default) or fail at once.
  --on-error fail|ignore    No answer or an HTTP error from Prometheus: exit 2 at once (fail, default)
                            or keep polling (ignore; exit 2 if no poll succeeded by the end).
  --rollback DEPLOYMENT_ID  When the threshold is exceeded, ask the receiver to roll this deployment
                            back (see rollbackctl rollback) before exiting 1.
  --reason TEXT             With --rollback: the reason sent (default
                            "verify: <query> = <value> > <threshold>").

Exit status: 0 the duration passed with every value at or under the threshold; 1 a value went over
the threshold, or no data with --no-data fail; 2 usage error, or Prometheus could not be read (per
--on-error). Global flags --url and --token-file name the receiver for --rollback.
)txt";
    }
    return ctl_usage();
}

Result<BaseUrl> split_base_url(std::string_view url) {
    auto parsed = parse_http_url(url, "http");
    if (!parsed) return make_error(parsed.error());
    std::string prefix = parsed->path;
    if (prefix.find('?') != std::string::npos)
        return make_error("\"" + std::string(url) + "\": a query is not allowed in the base URL");
    while (!prefix.empty() && prefix.back() == '/')
        prefix.pop_back();
    return BaseUrl{parsed->origin, prefix};
}

} // namespace rollback
