// What one rollback attempt and one notification send, built from the settings, the deployment and the
// alert: pure functions (secrets come through a reader the caller passes in).
#pragma once

#include "actions/command_runner.hpp"
#include "common/result.hpp"
#include "config/config.hpp"
#include "http/client.hpp"
#include "model/model.hpp"

#include <functional>
#include <map>
#include <string>
#include <utility>
#include <vector>

namespace rollback {

// The {{placeholder}} values for a rollback of `target` triggered by `alert`.
std::map<std::string, std::string> placeholder_values(const Deployment& target, const Alert& alert);

// What the command action adds to the child's argv and environment at most, in bytes (each string counted
// with its terminating NUL, each variable as NAME=value): far below Linux's limits (128 KiB a string, about
// 2 MiB in all), so that no value can make the command fail to start with E2BIG.
inline constexpr std::size_t kMaxCommandBytes = 128 * 1024;
// The longest header line (name, ": " and value) an HTTP action or notification sends: the receiver's own
// limit for a header line it reads, and what common servers accept.
inline constexpr std::size_t kMaxHeaderLine = 8 * 1024;

// The command action's child process: argv with placeholders replaced and the ROLLBACK_* environment.
// Refused (an error naming the argument or variable and what is wrong) when a value from outside would
// change what the command reads:
//  - a control character (placeholders.hpp check_no_control_characters) in an argument or variable;
//  - an argument that starts with '-' only because of a placeholder's value ("{{previous_version}}" =
//    "--force"), unless a literal "--" argument comes before it in the command or the service sets
//    rollback.allow_option_values: true;
//  - more than kMaxCommandBytes of argv and ROLLBACK_* variables.
Result<CommandSpec> command_spec(const RollbackSettings& rollback, const Deployment& target,
                                 const Alert& alert, Duration kill_grace);

// Reads a secret file (config.hpp's read_secret_file in the daemon; a map in tests).
using SecretReader = std::function<Result<std::string>(const std::string& path)>;

// Whether the service's action takes the values a rollback of `target` for `alert` would put into it,
// checked before the deployment is claimed so that no value from outside can fail the rollback after it:
// the action is built as it will be sent (command_spec, or the URL and headers of webhook_call and
// github_workflow_call) but without reading a secret (no secret comes from outside). The error names the
// argument, variable or header. OK when the service has no action.
Status check_action_input(const RollbackSettings& rollback, const Deployment& target, const Alert& alert);

// The `webhook` action's POST. `default_ca_file` is tls.ca_file, used when the target names none.
// Placeholders in the URL are replaced percent-encoded; in headers and the body as they are. A header that
// holds a control character (HTAB allowed) or is longer than kMaxHeaderLine once its placeholders are
// replaced fails the call: it is never sent. The same holds for github_workflow_call and
// notification_call.
Result<HttpCall> webhook_call(const WebhookAction& action, const std::map<std::string, std::string>& values,
                              Duration timeout, const std::string& default_ca_file,
                              const SecretReader& secrets);

// The `github_workflow` action's POST {api_url}/repos/{owner}/{repo}/actions/workflows/{workflow}/dispatches.
Result<HttpCall> github_workflow_call(const GithubWorkflowAction& action,
                                      const std::map<std::string, std::string>& values, Duration timeout,
                                      const std::string& default_ca_file, const SecretReader& secrets);

// A notify: target's POST of a Slack-compatible {"text": text}.
Result<HttpCall> notification_call(const NotifyTarget& target, const std::string& text,
                                   const std::map<std::string, std::string>& values, Duration timeout,
                                   const std::string& default_ca_file, const SecretReader& secrets);

// The action in one line for the rollback_started audit detail: the command line with quoted arguments,
// "POST https://host/<redacted>" (redact_url: a URL's path or query may hold a secret) or
// "workflow_dispatch my-org/app rollback.yml@main".
std::string describe_action(const RollbackSettings& rollback,
                            const std::map<std::string, std::string>& values);

// How an HTTP action's answer reads in the trail; GitHub's own error message for a github_workflow 4xx.
std::string describe_http_outcome(const std::string& action_kind, const HttpCallResult& result,
                                  Duration timeout);

// Whether a failed HTTP attempt is worth another try: no answer, a timeout, 5xx, 408 or 429. Any other 4xx
// (bad token, unknown workflow, invalid inputs) and a refused certificate fail the same way every time.
bool http_failure_is_retryable(const HttpCallResult& result);

// The notification's text for a person in a chat channel, in Slack's mrkdwn: every value from outside
// escaped (escape_mrkdwn), the graph a link only for an http(s) generatorURL (mrkdwn_link), e.g.
//   ":rewind: Rolling back checkout (production) from v2 to v1 — HighErrorRate: error ratio 5.3% ...
//    <http://prometheus/graph?...>"
// rollback_ineffective reads ":warning: Rollback of ... did not fix it: <result>". A `compare_url` (the
// changes the rollback undid) becomes a "what changed" link on its own line.
std::string notification_text(const std::string& event, const Deployment& target, const Alert& alert,
                              const std::string& result, const std::string& compare_url = "");

} // namespace rollback
