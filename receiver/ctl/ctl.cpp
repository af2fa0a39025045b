// rollbackctl: argument parsing, the receiver and Prometheus calls, the tables and verify's polling loop.
#include "ctl/ctl.hpp"

#include "common/files.hpp"
#include "common/text.hpp"
#include "common/url.hpp"
#include "ctl/json.hpp"
#include "http/client.hpp"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <map>
#include <thread>

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

using namespace std::chrono_literals;

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
        auto threshold_text = required("threshold");
        if (!threshold_text) return Error{threshold_text.error()};
        auto threshold = parse_threshold(*threshold_text);
        if (!threshold) return Error{threshold.error()};
        verify.threshold = *threshold;
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

// Number of characters on a terminal: UTF-8 continuation bytes do not count.
std::size_t display_width(std::string_view text) {
    return static_cast<std::size_t>(std::count_if(
        text.begin(), text.end(), [](char c) { return (static_cast<unsigned char>(c) & 0xC0) != 0x80; }));
}

std::string one_line(std::string text) {
    for (char& c : text)
        if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) c = ' ';
    return text;
}

std::string or_dash(const std::string& text) {
    return text.empty() ? "-" : text;
}

std::string versions_text(const std::string& version, const std::string& previous) {
    if (version.empty() && previous.empty()) return "-";
    if (previous.empty()) return version;
    return (version.empty() ? "?" : version) + " -> " + previous;
}

std::string seconds_text(TimePoint time) {
    std::string text = format_rfc3339_ms(time); // 2026-11-26T12:30:47.407Z
    return text.size() == 24 ? text.substr(0, 19) + "Z" : text;
}

// The receiver's HTTP API with the token attached; prints what went wrong and gives the exit status.
class ReceiverClient {
  public:
    ReceiverClient(BaseUrl base, std::string shown_url, std::string token)
        : base_(std::move(base)), shown_url_(std::move(shown_url)), token_(std::move(token)) {}

    HttpClientResponse call(const std::string& method, const std::string& path,
                            const std::string& body = {}) const {
        std::vector<std::pair<std::string, std::string>> headers;
        if (!token_.empty()) headers.emplace_back("Authorization", "Bearer " + token_);
        return http_request(base_.origin, method, base_.prefix + path, body, headers);
    }

    // nullopt when the answer is a 2xx; otherwise prints why to `err` and returns the exit status.
    std::optional<int> failure(const HttpClientResponse& answer, const std::string& doing,
                               std::ostream& err) const {
        if (answer.status == 0) {
            err << "rollbackctl: cannot reach the receiver at " << shown_url_ << " to " << doing << ": "
                << answer.error << " error (check --url or ROLLBACK_RECEIVER_URL)\n";
            return kCtlExitUsage;
        }
        if (answer.status >= 200 && answer.status < 300) return std::nullopt;
        const std::string message = error_message_from_body(answer.body);
        if (answer.status == 401) {
            err << "rollbackctl: the receiver refused the API token (HTTP 401): " << message << "; "
                << (token_.empty() ? "no token was sent: pass" : "check") << " the API token file with "
                << "--token-file or ROLLBACK_RECEIVER_TOKEN_FILE\n";
        } else {
            err << "rollbackctl: the receiver refused to " << doing << " (HTTP " << answer.status
                << "): " << message << "\n";
        }
        return kCtlExitFailed;
    }

  private:
    BaseUrl base_;
    std::string shown_url_;
    std::string token_;
};

std::string query_string(const std::vector<std::pair<std::string, std::string>>& parameters) {
    std::string out;
    for (const auto& [name, value] : parameters) {
        if (value.empty()) continue;
        out += (out.empty() ? "?" : "&") + name + "=" + percent_encode(value);
    }
    return out;
}

int run_record(const RecordArgs& args, const ReceiverClient& client, std::ostream& out, std::ostream& err) {
    const auto answer = client.call("POST", "/api/v1/deployments", encode_deployment_request(args.request));
    if (auto failed = client.failure(answer, "record the deployment", err)) return *failed;
    auto deployment = parse_deployment_document(answer.body);
    if (!deployment) {
        err << "rollbackctl: the receiver's answer is not a deployment: " << deployment.error() << "\n";
        return kCtlExitFailed;
    }
    out << deployment->id << "\n";
    err << (answer.status == 201 ? "recorded " : "already recorded (a retry) ") << deployment->service << " "
        << deployment->version << " (previous " << or_dash(deployment->previous_version) << ") as "
        << deployment->id << "\n";
    return kCtlExitOk;
}

int run_deployments(const DeploymentsArgs& args, const ReceiverClient& client, std::ostream& out,
                    std::ostream& err) {
    const std::string query =
        query_string({{"service", args.service},
                      {"environment", args.environment},
                      {"limit", args.limit > 0 ? std::to_string(args.limit) : std::string()}});
    const auto answer = client.call("GET", "/api/v1/deployments" + query);
    if (auto failed = client.failure(answer, "list deployments", err)) return *failed;
    if (args.json) {
        out << answer.body << (answer.body.empty() || answer.body.back() != '\n' ? "\n" : "");
        return kCtlExitOk;
    }
    auto deployments = parse_deployment_list(answer.body);
    if (!deployments) {
        err << "rollbackctl: cannot read the deployments: " << deployments.error() << "\n";
        return kCtlExitFailed;
    }
    // Paused services are marked; a receiver without the services route just shows no marks.
    std::vector<PauseListing> paused;
    const auto services = client.call("GET", "/api/v1/services");
    if (services.status == 200) {
        if (auto list = parse_service_list(services.body)) {
            for (auto& service : *list)
                if (service.paused && (args.service.empty() || service.service == args.service))
                    paused.push_back(std::move(service));
        }
    }
    if (deployments->empty())
        out << "no deployments recorded" << (args.service.empty() ? "" : " for " + args.service) << "\n";
    out << format_deployments_table(*deployments, paused, Clock::now());
    return kCtlExitOk;
}

// Newest-first events from the API, printed oldest first; returns the highest sequence seen.
long long print_events(const std::string& body, bool json, bool with_header, long long after,
                       std::ostream& out, std::ostream& err, bool& ok) {
    ok = true;
    auto events = parse_audit_list(body);
    if (!events) {
        err << "rollbackctl: cannot read the audit trail: " << events.error() << "\n";
        ok = false;
        return after;
    }
    std::vector<AuditEvent> fresh;
    std::vector<std::string> lines;
    auto json_lines =
        json ? audit_event_lines(body) : Result<std::vector<std::string>>(std::vector<std::string>{});
    for (std::size_t i = events->size(); i-- > 0;) {
        if ((*events)[i].sequence <= after) continue;
        fresh.push_back((*events)[i]);
        if (json && json_lines && i < json_lines->size()) lines.push_back((*json_lines)[i]);
    }
    long long highest = after;
    for (const auto& event : fresh)
        highest = std::max(highest, event.sequence);
    if (json) {
        for (const auto& line : lines)
            out << line << "\n";
    } else if (!fresh.empty()) {
        out << format_audit_table(fresh, with_header);
    }
    out.flush();
    return highest;
}

int run_audit(const AuditArgs& args, const ReceiverClient& client, std::ostream& out, std::ostream& err) {
    auto path_for = [&](long long after, int limit) {
        return "/api/v1/audit" + query_string({{"service", args.service},
                                               {"deployment_id", args.deployment_id},
                                               {"limit", limit > 0 ? std::to_string(limit) : std::string()},
                                               {"after", after > 0 ? std::to_string(after) : std::string()}});
    };
    const auto answer = client.call("GET", path_for(0, args.limit));
    if (auto failed = client.failure(answer, "read the audit trail", err)) return *failed;
    if (args.json && !args.follow) {
        out << answer.body << (answer.body.empty() || answer.body.back() != '\n' ? "\n" : "");
        return kCtlExitOk;
    }
    bool ok = true;
    long long last = print_events(answer.body, args.json, true, 0, out, err, ok);
    if (!ok) return kCtlExitFailed;
    if (!args.follow) {
        if (last == 0) out << "no audit events found\n";
        return kCtlExitOk;
    }
    bool header_printed = last > 0;
    const auto deadline = args.follow_for ? std::chrono::steady_clock::now() + *args.follow_for
                                          : std::chrono::steady_clock::time_point::max();
    while (std::chrono::steady_clock::now() < deadline) {
        std::this_thread::sleep_until(std::min(std::chrono::steady_clock::now() + 1s, deadline));
        const auto next = client.call("GET", path_for(last, 1000));
        if (auto failed = client.failure(next, "read the audit trail", err)) return *failed;
        const long long before = last;
        last = print_events(next.body, args.json, !header_printed, last, out, err, ok);
        if (!ok) return kCtlExitFailed;
        header_printed = header_printed || last > before;
    }
    return kCtlExitOk;
}

int run_pause(const PauseArgs& args, const ReceiverClient& client, std::ostream& out, std::ostream& err) {
    const std::string for_text = args.for_duration ? format_duration(*args.for_duration) : std::string();
    const auto answer = client.call("POST", "/api/v1/services/" + percent_encode(args.service) + "/pause",
                                    encode_pause_request(args.reason, for_text, args.actor));
    if (auto failed = client.failure(answer, "pause " + args.service, err)) return *failed;
    auto pause = parse_service_pause(answer.body);
    out << "paused automatic rollbacks of " << args.service;
    if (pause && !pause->reason.empty()) out << ": " << pause->reason;
    out << " (" << (pause && !pause->until.empty() ? "until " + pause->until : std::string("until resumed"))
        << ")\n";
    return kCtlExitOk;
}

int run_resume(const ResumeArgs& args, const ReceiverClient& client, std::ostream& out, std::ostream& err) {
    const auto answer =
        client.call("POST", "/api/v1/services/" + percent_encode(args.service) + "/resume", "{}");
    if (auto failed = client.failure(answer, "resume " + args.service, err)) return *failed;
    out << "resumed automatic rollbacks of " << args.service << "\n";
    return kCtlExitOk;
}

// Asks the receiver to roll a deployment back; prints the outcome.
int request_rollback(const std::string& deployment_id, const std::string& reason, const std::string& actor,
                     const ReceiverClient& client, std::ostream& out, std::ostream& err) {
    const auto answer =
        client.call("POST", "/api/v1/deployments/" + percent_encode(deployment_id) + "/rollback",
                    encode_rollback_request(reason, actor));
    if (auto failed = client.failure(answer, "roll back " + deployment_id, err)) return *failed;
    auto deployment = parse_rollback_started(answer.body);
    out << "rollback of " << deployment_id << " started";
    if (deployment)
        out << ": " << deployment->service << " "
            << versions_text(deployment->version, deployment->previous_version);
    out << "\nfollow it with: rollbackctl audit --deployment " << deployment_id << " --follow\n";
    return kCtlExitOk;
}

Duration rounded_elapsed(Duration elapsed, Duration interval) {
    const long long unit = interval.count() % 1000 == 0 ? 1000 : 100;
    return Duration((elapsed.count() + unit / 2) / unit * unit);
}

int run_verify(const VerifyArgs& args, const ReceiverClient& client, std::ostream& out, std::ostream& err) {
    auto prometheus = split_base_url(args.prometheus_url);
    if (!prometheus) {
        err << "rollbackctl: --prometheus: " << prometheus.error() << "\n";
        return kCtlExitUsage;
    }
    const std::string path = prometheus->prefix + "/api/v1/query?query=" + percent_encode(args.query);
    const int timeout_seconds =
        static_cast<int>(std::clamp<long long>((args.interval.count() + 999) / 1000, 1, 10));
    using Steady = std::chrono::steady_clock;
    const auto start = Steady::now();
    const auto end = start + args.duration;
    auto planned = start;
    std::vector<VerifySample> samples;
    VerifyVerdict verdict = VerifyVerdict::keep_polling;
    while (verdict == VerifyVerdict::keep_polling) {
        std::this_thread::sleep_until(planned);
        const auto answer = http_request(prometheus->origin, "GET", path, {}, {}, timeout_seconds);
        samples.push_back(sample_from_prometheus_answer(answer.status, answer.body, answer.error));
        const bool duration_over = planned >= end;
        verdict = judge_verify(args, samples, duration_over);
        const auto elapsed = std::chrono::duration_cast<Duration>(Steady::now() - start);
        out << format_verify_progress(args, rounded_elapsed(elapsed, args.interval), samples.back(), verdict)
            << std::endl;
        planned = std::min(std::max(planned + args.interval, Steady::now()), end);
    }
    const VerifySample& last = samples.back();
    switch (verdict) {
    case VerifyVerdict::passed: {
        const bool all_no_data = std::all_of(samples.begin(), samples.end(), [](const VerifySample& s) {
            return s.kind != VerifySample::Kind::value;
        });
        out << "verify: passed: " << args.query << " stayed at or under "
            << format_number_short(args.threshold) << " for " << format_go_duration(args.duration) << " ("
            << samples.size() << " polls)\n";
        if (all_no_data)
            err << "rollbackctl: warning: no poll returned a value (no data or errors only); check the "
                   "query, "
                   "or use --no-data fail to make this a failure\n";
        break;
    }
    case VerifyVerdict::exceeded:
        out << "verify: FAILED: " << args.query << " = " << format_number_short(last.value) << " > threshold "
            << format_number_short(args.threshold) << "\n";
        if (!args.rollback_deployment_id.empty()) {
            const std::string reason =
                args.reason.empty() ? verify_rollback_reason(args, last.value) : args.reason;
            if (request_rollback(args.rollback_deployment_id, reason, "rollbackctl verify", client, out,
                                 err) != kCtlExitOk)
                err << "rollbackctl: the rollback of " << args.rollback_deployment_id
                    << " was not started (see above)\n";
        }
        break;
    case VerifyVerdict::no_data:
        out << "verify: FAILED: " << args.query << " returned no data (--no-data fail)\n";
        break;
    case VerifyVerdict::error:
        err << "rollbackctl: verify could not read " << args.prometheus_url << ": " << last.error
            << (args.on_error == ErrorPolicy::ignore ? " (every poll failed)" : " (--on-error fail)") << "\n";
        break;
    case VerifyVerdict::keep_polling:
        break;
    }
    return exit_status_of(verdict);
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
        return R"txt(usage: rollbackctl verify --prometheus URL --query PROMQL --threshold X [<flags>]

The post-deploy gate: polls Prometheus' GET /api/v1/query every --interval for --duration (the first
poll at once, the last when the duration ends) and takes the largest value of the answer. Prints one
line per poll, e.g. "[ 45s/5m0s] value=0.0031 threshold=0.01 ok".

  --prometheus URL          Prometheus, e.g. http://prometheus:9090 (a path prefix is kept).
  --query PROMQL            An instant query, e.g.
                            max(endpoint:http_requests:error_rate5m{service="checkout"})
  --threshold X             Fail when a value is over X (a value equal to X passes).
  --duration DUR            How long to watch (default 5m).
  --interval DUR            Time between polls (default 15s).
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

Result<std::string> read_token_file(const std::string& path) {
    auto token = read_secret_file(path);
    if (!token)
        return make_error(
            "cannot read the token file \"" + path + "\" (" + token.error() +
            "); pass the receiver's API token file with --token-file or ROLLBACK_RECEIVER_TOKEN_FILE");
    return token;
}

std::string format_age(Duration age) {
    const long long seconds = std::max<long long>(0, age.count() / 1000);
    if (seconds < 60) return std::to_string(seconds) + "s";
    if (seconds < 3600) return std::to_string(seconds / 60) + "m";
    if (seconds < 48 * 3600) return std::to_string(seconds / 3600) + "h";
    return std::to_string(seconds / 86400) + "d";
}

std::string format_go_duration(Duration duration) {
    long long ms = duration.count();
    if (ms == 0) return "0s";
    std::string out;
    if (ms < 0) {
        out = "-";
        ms = -ms;
    }
    if (ms < 1000) return out + std::to_string(ms) + "ms";
    const long long hours = ms / 3'600'000;
    const long long minutes = ms / 60'000 % 60;
    const long long seconds = ms / 1000 % 60;
    const long long millis = ms % 1000;
    if (hours > 0) out += std::to_string(hours) + "h";
    if (hours > 0 || minutes > 0) out += std::to_string(minutes) + "m";
    out += std::to_string(seconds);
    if (millis > 0) {
        char fraction[8];
        std::snprintf(fraction, sizeof fraction, ".%03lld", millis);
        std::string text = fraction;
        while (text.back() == '0')
            text.pop_back();
        out += text;
    }
    return out + "s";
}

std::string format_table(const std::vector<std::string>& header,
                         const std::vector<std::vector<std::string>>& rows) {
    std::vector<std::size_t> widths(header.size(), 0);
    auto measure = [&](const std::vector<std::string>& row) {
        for (std::size_t i = 0; i < row.size() && i < widths.size(); ++i)
            widths[i] = std::max(widths[i], display_width(one_line(row[i])));
    };
    measure(header);
    for (const auto& row : rows)
        measure(row);
    std::string out;
    auto write = [&](const std::vector<std::string>& row) {
        std::string line;
        for (std::size_t i = 0; i < widths.size(); ++i) {
            const std::string cell = i < row.size() ? one_line(row[i]) : std::string();
            line += cell;
            if (i + 1 < widths.size()) line += std::string(widths[i] - display_width(cell) + 2, ' ');
        }
        while (!line.empty() && line.back() == ' ')
            line.pop_back();
        out += line + "\n";
    };
    if (!header.empty()) write(header);
    for (const auto& row : rows)
        write(row);
    return out;
}

std::string format_deployments_table(const std::vector<DeploymentListing>& deployments,
                                     const std::vector<PauseListing>& paused, TimePoint now) {
    auto is_paused = [&](const std::string& service) {
        return std::any_of(paused.begin(), paused.end(),
                           [&](const PauseListing& p) { return p.paused && p.service == service; });
    };
    std::vector<std::vector<std::string>> rows;
    for (const auto& d : deployments) {
        std::string state = or_dash(d.state);
        if (d.state == "watching" && is_paused(d.service)) state += " (paused)";
        if (d.kind == "rollback")
            state += " (rollback" + (d.rollback_of.empty() ? "" : " of " + d.rollback_of) + ")";
        rows.push_back({d.id, d.service, or_dash(d.environment), or_dash(d.version),
                        or_dash(d.previous_version),
                        format_age(std::chrono::duration_cast<Duration>(now - d.deployed_at)), state});
    }
    std::string out =
        deployments.empty()
            ? std::string()
            : format_table({"ID", "SERVICE", "ENV", "VERSION", "PREVIOUS", "AGE", "STATE"}, rows);
    for (const auto& p : paused) {
        if (!p.paused) continue;
        out += one_line("paused: " + p.service + " \u2014 " +
                        (p.reason.empty() ? "(no reason given)" : p.reason) + " (" +
                        (p.until.empty() ? "until resumed" : "until " + p.until) + ")") +
               "\n";
    }
    return out;
}

std::string format_audit_table(const std::vector<AuditEvent>& events, bool with_header) {
    std::vector<std::vector<std::string>> rows;
    for (const auto& e : events) {
        std::string summary = e.alertname;
        if (const std::string alert = alert_summary(e); !alert.empty())
            summary += (summary.empty() ? "" : ": ") + alert;
        rows.push_back({seconds_text(e.time), or_dash(e.event),
                        or_dash(e.service) + (e.environment.empty() ? "" : "/" + e.environment),
                        or_dash(e.deployment_id), versions_text(e.version, e.previous_version),
                        or_dash(e.reason), or_dash(summary)});
    }
    const std::vector<std::string> header{"TIME",     "EVENT",  "SERVICE", "DEPLOYMENT",
                                          "VERSIONS", "REASON", "SUMMARY"};
    if (with_header) return format_table(header, rows);
    // Without the header line, still align as if it were there, so batches of --follow line up better.
    std::string table = format_table(header, rows);
    return table.substr(table.find('\n') + 1);
}

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

int run_ctl(const std::vector<std::string>& arguments, const CtlEnvironment& environment, std::ostream& out,
            std::ostream& err) {
    auto args = parse_ctl_args(arguments, environment);
    if (!args) {
        err << "rollbackctl: " << args.error() << "\n" << ctl_usage_line() << "\n";
        return kCtlExitUsage;
    }
    if (args->help || args->command == CtlCommand::none) {
        out << ctl_command_usage(args->command);
        return kCtlExitOk;
    }
    std::string token;
    if (!args->token_file.empty()) {
        auto read = read_token_file(args->token_file);
        if (!read) {
            err << "rollbackctl: " << read.error() << "\n";
            return kCtlExitUsage;
        }
        token = *read;
    }
    auto base = split_base_url(args->url);
    if (!base) { // checked by parse_ctl_args already; kept for callers that build CtlArgs themselves
        err << "rollbackctl: --url: " << base.error() << "\n";
        return kCtlExitUsage;
    }
    const ReceiverClient client(*base, args->url, token);
    switch (args->command) {
    case CtlCommand::record:
        return run_record(args->record, client, out, err);
    case CtlCommand::deployments:
        return run_deployments(args->deployments, client, out, err);
    case CtlCommand::audit:
        return run_audit(args->audit, client, out, err);
    case CtlCommand::pause:
        return run_pause(args->pause, client, out, err);
    case CtlCommand::resume:
        return run_resume(args->resume, client, out, err);
    case CtlCommand::rollback:
        return request_rollback(args->rollback.deployment_id, args->rollback.reason, args->rollback.actor,
                                client, out, err);
    case CtlCommand::verify:
        return run_verify(args->verify, client, out, err);
    case CtlCommand::none:
        break;
    }
    return kCtlExitUsage;
}

int run_ctl(int argc, char** argv) {
    std::vector<std::string> arguments(argv + (argc > 0 ? 1 : 0), argv + argc);
    CtlEnvironment environment;
    if (const char* url = std::getenv("ROLLBACK_RECEIVER_URL")) environment.receiver_url = url;
    if (const char* token_file = std::getenv("ROLLBACK_RECEIVER_TOKEN_FILE"))
        environment.token_file = token_file;
    return run_ctl(arguments, environment, std::cout, std::cerr);
}

} // namespace rollback
