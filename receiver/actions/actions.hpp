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

// The command action's child process: argv with placeholders replaced and the ROLLBACK_* environment.
CommandSpec command_spec(const std::vector<std::string>& command, const Deployment& target,
                         const Alert& alert, Duration timeout, Duration kill_grace);

// Reads a secret file (config.hpp's read_secret_file in the daemon; a map in tests).
using SecretReader = std::function<Result<std::string>(const std::string& path)>;

// The `webhook` action's POST. `default_ca_file` is tls.ca_file, used when the target names none.
// Placeholders in the URL are replaced percent-encoded; in headers and the body as they are.
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
std::string notification_text(const std::string& event, const Deployment& target, const Alert& alert,
                              const std::string& result);

} // namespace rollback
