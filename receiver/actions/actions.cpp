// Builds the command, webhook, GitHub workflow_dispatch and notification calls of a rollback: pure.
#include "actions/actions.hpp"

#include "codec/codec.hpp"
#include "common/mrkdwn.hpp"
#include "common/url.hpp"
#include "config/placeholders.hpp"

#include <algorithm>

namespace rollback {
namespace {

// The target's headers, placeholders replaced and secrets read; an unreadable secret fails the call.
Result<std::vector<std::pair<std::string, std::string>>>
resolve_headers(const HttpTarget& target, const std::map<std::string, std::string>& values,
                const SecretReader& secrets) {
    std::vector<std::pair<std::string, std::string>> headers;
    for (const HeaderSetting& header : target.headers) {
        if (header.file.empty()) {
            headers.emplace_back(header.name, expand_placeholders(header.value, values));
            continue;
        }
        auto secret = secrets(header.file);
        if (!secret) return make_error("header " + header.name + ": " + secret.error());
        headers.emplace_back(header.name, header.prefix + *secret);
    }
    return headers;
}

// The one rule for the headers of every outgoing call, after placeholders were replaced and secrets read:
// no control character but HTAB (a CR or LF would end the header and forge the next one) and at most
// kMaxHeaderLine. The message never quotes the value (it may be a secret).
Status check_headers(const std::vector<std::pair<std::string, std::string>>& headers) {
    for (const auto& [name, value] : headers) {
        if (auto clean = check_no_control_characters(value, true); !clean)
            return make_error("header " + name + ": " + clean.error() +
                              " once its placeholders are replaced; a header value may not hold a control "
                              "character, so the request was not sent");
        if (name.size() + 2 + value.size() > kMaxHeaderLine)
            return make_error("header " + name + ": " + std::to_string(name.size() + 2 + value.size()) +
                              " bytes once its placeholders are replaced, more than the " +
                              std::to_string(kMaxHeaderLine) +
                              " a header line may have; the request was not sent");
    }
    return ok_status();
}

// The CA file a call verifies its server with: the target's own, else the config's default.
const std::string& ca_file_for(const std::string& own, const std::string& default_ca_file) {
    return own.empty() ? default_ca_file : own;
}

Result<HttpCall> post_to(const HttpTarget& target, std::string body,
                         const std::map<std::string, std::string>& values, Duration timeout,
                         const std::string& default_ca_file, const SecretReader& secrets) {
    auto headers = resolve_headers(target, values, secrets);
    if (!headers) return Error{headers.error()};
    if (auto checked = check_headers(*headers); !checked) return Error{checked.error()};
    // Values go into the URL percent-encoded: "{{version}}" may hold '/', '&' or spaces.
    std::map<std::string, std::string> encoded;
    for (const auto& [name, value] : values)
        encoded.emplace(name, percent_encode(value));
    HttpCall call;
    call.url = expand_placeholders(target.url, encoded);
    if (auto url = parse_http_url(call.url); !url) return make_error("url: " + url.error());
    call.headers = std::move(*headers);
    call.body = std::move(body);
    call.ca_file = ca_file_for(target.ca_file, default_ca_file);
    call.timeout = timeout;
    return call;
}

std::string with_environment(const Deployment& target) {
    return target.environment.empty() ? target.service : target.service + " (" + target.environment + ")";
}

} // namespace

std::map<std::string, std::string> placeholder_values(const Deployment& target, const Alert& alert) {
    return {
        {"service", target.service},
        {"environment", target.environment},
        {"deployment_id", target.id},
        {"version", target.version},
        {"previous_version", target.previous_version},
        {"alertname", alert.label("alertname")},
    };
}

Result<CommandSpec> command_spec(const RollbackSettings& rollback, const Deployment& target,
                                 const Alert& alert, Duration kill_grace) {
    const auto values = placeholder_values(target, alert);
    CommandSpec spec;
    std::size_t bytes = 0;
    bool after_end_of_options = false; // a literal "--" came before: what follows is never an option
    for (std::size_t i = 0; i < rollback.command.size(); ++i) {
        const std::string& argument = rollback.command[i];
        std::string expanded = expand_placeholders(argument, values);
        const std::string where = "command[" + std::to_string(i) + "] " + json_quote(argument);
        if (auto clean = check_no_control_characters(expanded); !clean)
            return make_error(
                where + " " + clean.error() +
                " once its placeholders are replaced; an argument may not hold a control character");
        if (!expanded.empty() && expanded.front() == '-' && (argument.empty() || argument.front() != '-') &&
            !after_end_of_options && !rollback.allow_option_values)
            return make_error(where + " becomes " + json_quote(expanded.substr(0, 80)) +
                              ", which the program would read as an option: write \"--\" before it in the "
                              "command (if the program takes it), or set rollback.allow_option_values: true");
        if (i > 0 && argument == "--") after_end_of_options = true;
        bytes += expanded.size() + 1;
        spec.argv.push_back(std::move(expanded));
    }
    spec.environment = {
        {"ROLLBACK_SERVICE", target.service},
        {"ROLLBACK_ENVIRONMENT", target.environment},
        {"ROLLBACK_DEPLOYMENT_ID", target.id},
        {"ROLLBACK_FROM_VERSION", target.version},
        {"ROLLBACK_TO_VERSION", target.previous_version},
        {"ROLLBACK_ALERTNAME", alert.label("alertname")},
        {"ROLLBACK_FINGERPRINT", alert.fingerprint},
    };
    for (const auto& [name, value] : spec.environment) {
        if (auto clean = check_no_control_characters(value); !clean)
            return make_error("environment " + name + " " + clean.error() +
                              "; a variable may not hold a control character");
        bytes += name.size() + 1 + value.size() + 1;
    }
    if (bytes > kMaxCommandBytes)
        return make_error("the command's arguments and ROLLBACK_* variables come to " +
                          std::to_string(bytes) + " bytes, more than the " +
                          std::to_string(kMaxCommandBytes) + " a rollback command is given");
    spec.timeout = rollback.timeout;
    spec.kill_grace = kill_grace;
    return spec;
}

Status check_action_input(const RollbackSettings& rollback, const Deployment& target, const Alert& alert) {
    // Secrets come from the config, never from outside: they are read (and their headers checked) when the
    // request is sent.
    const SecretReader no_secrets = [](const std::string&) -> Result<std::string> { return std::string(); };
    const auto values = placeholder_values(target, alert);
    Status checked = ok_status();
    switch (rollback.action()) {
    case ActionKind::command:
        if (auto spec = command_spec(rollback, target, alert, Duration::zero()); !spec)
            checked = Error{spec.error()};
        break;
    case ActionKind::webhook:
        if (auto call = webhook_call(*rollback.webhook, values, rollback.timeout, "", no_secrets); !call)
            checked = Error{call.error()};
        break;
    case ActionKind::github_workflow:
        if (auto call =
                github_workflow_call(*rollback.github_workflow, values, rollback.timeout, "", no_secrets);
            !call)
            checked = Error{call.error()};
        break;
    case ActionKind::none:
        break;
    }
    return checked;
}

Result<HttpCall> webhook_call(const WebhookAction& action, const std::map<std::string, std::string>& values,
                              Duration timeout, const std::string& default_ca_file,
                              const SecretReader& secrets) {
    const std::string body = action.body.kind == TemplateValue::Kind::null
                                 ? std::string("{}")
                                 : encode_template(action.body, values);
    return post_to(action.target, body, values, timeout, default_ca_file, secrets);
}

Result<HttpCall> github_workflow_call(const GithubWorkflowAction& action,
                                      const std::map<std::string, std::string>& values, Duration timeout,
                                      const std::string& default_ca_file, const SecretReader& secrets) {
    auto token = secrets(action.token_file);
    if (!token) return make_error("token_file: " + token.error());
    std::vector<std::pair<std::string, std::string>> inputs;
    for (const auto& [name, value] : action.inputs)
        inputs.emplace_back(name, expand_placeholders(value, values));
    HttpCall call;
    call.url = action.api_url + "/repos/" + action.repository + "/actions/workflows/" + action.workflow +
               "/dispatches";
    call.headers = {{"Authorization", "Bearer " + *token},
                    {"Accept", "application/vnd.github+json"},
                    {"X-GitHub-Api-Version", "2022-11-28"},
                    {"User-Agent", "rollback-receiver"}};
    if (auto checked = check_headers(call.headers); !checked) return Error{checked.error()};
    call.body = encode_workflow_dispatch(action.ref, inputs);
    call.ca_file = ca_file_for(action.ca_file, default_ca_file);
    call.timeout = timeout;
    return call;
}

Result<HttpCall> notification_call(const NotifyTarget& target, const std::string& text,
                                   const std::map<std::string, std::string>& values, Duration timeout,
                                   const std::string& default_ca_file, const SecretReader& secrets) {
    return post_to(target.target, encode_chat_message(text), values, timeout, default_ca_file, secrets);
}

std::string describe_action(const RollbackSettings& rollback,
                            const std::map<std::string, std::string>& values) {
    if (rollback.webhook)
        return "POST " + redact_url(expand_placeholders(rollback.webhook->target.url, values));
    if (rollback.github_workflow) {
        const GithubWorkflowAction& workflow = *rollback.github_workflow;
        return "workflow_dispatch " + workflow.repository + " " + workflow.workflow + "@" + workflow.ref;
    }
    std::string command_line;
    for (const std::string& argument : rollback.command)
        command_line += (command_line.empty() ? "" : " ") + json_quote(expand_placeholders(argument, values));
    return command_line;
}

std::string describe_http_outcome(const std::string& action_kind, const HttpCallResult& result,
                                  Duration timeout) {
    if (action_kind == to_string(ActionKind::github_workflow) && result.status >= 400 && result.status < 500)
        return "GitHub answered HTTP " + std::to_string(result.status) + ": " +
               github_error_message(result.body);
    return result.describe(timeout);
}

bool http_failure_is_retryable(const HttpCallResult& result) {
    if (result.cancelled || result.certificate_refused) return false; // a certificate does not change
    if (result.status == 0 || result.timed_out) return true;
    return result.status >= 500 || result.status == 408 || result.status == 429;
}

std::string notification_text(const std::string& event, const Deployment& target, const Alert& alert,
                              const std::string& result, const std::string& compare_url) {
    // Every value below comes from outside (the deployment from CI, the alert from Alertmanager, the result
    // from the action's target): escaped, so none of it reads as mrkdwn (<!channel>, <url|label>).
    const std::string versions =
        " from " + escape_mrkdwn(target.version.empty() ? "?" : target.version) + " to " +
        escape_mrkdwn(target.previous_version.empty() ? "?" : target.previous_version);
    const std::string who = escape_mrkdwn(with_environment(target));
    std::string text;
    if (event == "rollback_started")
        text = ":rewind: Rolling back " + who + versions;
    else if (event == "rollback_succeeded")
        text = ":white_check_mark: Rolled back " + who + versions;
    else if (event == "rollback_ineffective")
        text = ":warning: Rollback of " + who + versions + " did not fix it: " + escape_mrkdwn(result);
    else
        text = ":x: Rollback of " + who + versions + " FAILED: " + escape_mrkdwn(result) +
               " (the bad version may still be live)";
    text += " (deployment " + escape_mrkdwn(target.id) + ")";
    const std::string alertname = alert.label("alertname");
    const std::string summary = alert.annotation("summary");
    if (!alertname.empty() || !summary.empty()) {
        text +=
            "\n" + escape_mrkdwn(alertname + (alertname.empty() || summary.empty() ? "" : ": ") + summary);
    }
    if (const std::string link = mrkdwn_link(alert.generator_url, "graph"); !link.empty())
        text += "\n" + link;
    if (const std::string link = mrkdwn_link(compare_url, "what changed"); !link.empty()) text += "\n" + link;
    return text;
}

} // namespace rollback
