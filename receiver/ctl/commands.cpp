// rollbackctl's commands over HTTP: the receiver's API with the token, Prometheus for verify, run_ctl.
#include "ctl/commands.hpp"

#include "common/files.hpp"
#include "common/text.hpp"
#include "common/url.hpp"
#include "ctl/json.hpp"
#include "ctl/tables.hpp"
#include "ctl/verify.hpp"
#include "http/client.hpp"

#include <algorithm>
#include <cstdlib>
#include <iostream>
#include <thread>

namespace rollback {
namespace {

using namespace std::chrono_literals;

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
    // Whether a rollback fixed it: one more request, the newest 1000 events (of the service, when filtered);
    // older verdicts, or a receiver that cannot answer, just show no outcome.
    std::map<std::string, std::string> outcomes;
    if (std::any_of(deployments->begin(), deployments->end(),
                    [](const DeploymentListing& d) { return d.state == "rolled_back"; })) {
        const auto trail = client.call(
            "GET", "/api/v1/audit" + query_string({{"service", args.service}, {"limit", "1000"}}));
        if (trail.status == 200) {
            if (auto events = parse_audit_list(trail.body)) outcomes = rollback_outcomes(*events);
        }
    }
    if (deployments->empty())
        out << "no deployments recorded" << (args.service.empty() ? "" : " for " + args.service) << "\n";
    out << format_deployments_table(*deployments, paused, Clock::now(), outcomes);
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

Result<std::string> read_token_file(const std::string& path) {
    auto token = read_secret_file(path);
    if (!token)
        return make_error(
            "cannot read the token file \"" + path + "\" (" + token.error() +
            "); pass the receiver's API token file with --token-file or ROLLBACK_RECEIVER_TOKEN_FILE");
    return token;
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
