// The requests a rollback action and a notification send: URLs, headers, JSON bodies, descriptions, retries.
#include "actions/actions.hpp"

#include <doctest/doctest.h>
#include <nlohmann/json.hpp>

using namespace rollback;
using namespace std::chrono_literals;
using json = nlohmann::json;

namespace {

Deployment deployment() {
    Deployment target;
    target.id = "deploy-42";
    target.service = "checkout";
    target.environment = "production";
    target.version = "v2.1.0";
    target.previous_version = "v2.0.9";
    return target;
}

Alert alert() {
    Alert firing;
    firing.status = "firing";
    firing.labels = {{"alertname", "HighErrorRate"}, {"service", "checkout"}};
    firing.annotations = {{"summary", "checkout error rate is 5.3%"}};
    firing.generator_url = "http://prometheus:9090/graph?g0.expr=x";
    firing.fingerprint = "f00d";
    return firing;
}

TemplateValue string_value(const std::string& text) {
    TemplateValue value;
    value.kind = TemplateValue::Kind::string;
    value.text = text;
    return value;
}

// Secrets from a map, as the daemon reads them from files.
SecretReader secrets_from(std::map<std::string, std::string> files) {
    return [files](const std::string& path) -> Result<std::string> {
        auto found = files.find(path);
        if (found == files.end()) return make_error("cannot read " + path + ": No such file or directory");
        return found->second;
    };
}

} // namespace

TEST_CASE("placeholder values and the command's argv and environment") {
    const auto values = placeholder_values(deployment(), alert());
    CHECK(values == std::map<std::string, std::string>{{"service", "checkout"},
                                                       {"environment", "production"},
                                                       {"deployment_id", "deploy-42"},
                                                       {"version", "v2.1.0"},
                                                       {"previous_version", "v2.0.9"},
                                                       {"alertname", "HighErrorRate"}});
    RollbackSettings rollback;
    rollback.command = {"/bin/rollback", "{{service}}", "--to={{previous_version}}"};
    rollback.timeout = 3min;
    const auto built = command_spec(rollback, deployment(), alert(), 2s);
    REQUIRE_MESSAGE(built.ok(), built.error());
    const CommandSpec& spec = *built;
    CHECK(spec.argv == std::vector<std::string>{"/bin/rollback", "checkout", "--to=v2.0.9"});
    CHECK(spec.timeout == 3min);
    CHECK(spec.kill_grace == 2s);
    const std::vector<std::pair<std::string, std::string>> environment{
        {"ROLLBACK_SERVICE", "checkout"},        {"ROLLBACK_ENVIRONMENT", "production"},
        {"ROLLBACK_DEPLOYMENT_ID", "deploy-42"}, {"ROLLBACK_FROM_VERSION", "v2.1.0"},
        {"ROLLBACK_TO_VERSION", "v2.0.9"},       {"ROLLBACK_ALERTNAME", "HighErrorRate"},
        {"ROLLBACK_FINGERPRINT", "f00d"}};
    CHECK(spec.environment == environment);
}

TEST_CASE("webhook_call: URL, headers (literal and from a file) and body with placeholders replaced") {
    WebhookAction action;
    action.target.url = "https://deploy.example/api/rollback?service={{service}}";
    action.target.headers = {{"Authorization", "", "/secrets/deploy-token", "Bearer "},
                             {"X-Source", "rollback-receiver {{environment}}", "", ""}};
    action.body.kind = TemplateValue::Kind::object;
    action.body.fields = {{"service", string_value("{{service}}")},
                          {"to", string_value("{{previous_version}}")},
                          {"why", string_value("{{alertname}} on {{deployment_id}}")}};
    TemplateValue flag;
    flag.kind = TemplateValue::Kind::boolean;
    flag.text = "true";
    action.body.fields.push_back(TemplateField{"force", flag});

    const auto call = webhook_call(action, placeholder_values(deployment(), alert()), 30s, "/etc/ca.pem",
                                   secrets_from({{"/secrets/deploy-token", "s3cret"}}));
    REQUIRE_MESSAGE(call.ok(), call.error());
    CHECK(call->method == "POST");
    CHECK(call->url == "https://deploy.example/api/rollback?service=checkout");
    CHECK(call->headers ==
          std::vector<std::pair<std::string, std::string>>{{"Authorization", "Bearer s3cret"},
                                                           {"X-Source", "rollback-receiver production"}});
    CHECK(call->content_type == "application/json");
    CHECK(call->ca_file == "/etc/ca.pem"); // tls.ca_file when the target names none
    CHECK(call->timeout == 30s);
    CHECK(json::parse(call->body) == json{{"service", "checkout"},
                                          {"to", "v2.0.9"},
                                          {"why", "HighErrorRate on deploy-42"},
                                          {"force", true}});

    action.target.ca_file = "/etc/deploy-ca.pem";
    action.body = TemplateValue{}; // no body: {}
    const auto own_ca = webhook_call(action, placeholder_values(deployment(), alert()), 30s, "/etc/ca.pem",
                                     secrets_from({{"/secrets/deploy-token", "s3cret"}}));
    REQUIRE(own_ca.ok());
    CHECK(own_ca->ca_file == "/etc/deploy-ca.pem");
    CHECK(own_ca->body == "{}");

    const auto no_secret =
        webhook_call(action, placeholder_values(deployment(), alert()), 30s, "", secrets_from({}));
    REQUIRE_FALSE(no_secret.ok());
    CHECK(no_secret.error() ==
          "header Authorization: cannot read /secrets/deploy-token: No such file or directory");
}

TEST_CASE("values with quotes, line breaks or invalid UTF-8 stay inside their JSON strings") {
    WebhookAction action;
    action.target.url = "http://127.0.0.1:1/{{version}}";
    action.body.kind = TemplateValue::Kind::object;
    action.body.fields = {{"version", string_value("{{version}}")}};
    Deployment hostile = deployment();
    hostile.version = "v\"2\n\\\x01\xff";
    const auto call = webhook_call(action, placeholder_values(hostile, alert()), 1s, "", secrets_from({}));
    REQUIRE(call.ok());
    const json body = json::parse(call->body);                               // still valid JSON
    CHECK(body["version"].get<std::string>() == "v\"2\n\\\x01\xef\xbf\xbd"); // the bad byte becomes U+FFFD
}

TEST_CASE("github_workflow_call: the workflow_dispatch request GitHub documents") {
    GithubWorkflowAction action;
    action.repository = "my-org/checkout";
    action.workflow = "rollback.yml";
    action.ref = "main";
    action.inputs = {{"version", "{{previous_version}}"}, {"reason", "{{alertname}} ({{deployment_id}})"}};
    action.token_file = "/secrets/github-token";
    const auto values = placeholder_values(deployment(), alert());
    const auto call =
        github_workflow_call(action, values, 20s, "", secrets_from({{"/secrets/github-token", "ghp_x"}}));
    REQUIRE_MESSAGE(call.ok(), call.error());
    CHECK(call->method == "POST");
    CHECK(call->url ==
          "https://api.github.com/repos/my-org/checkout/actions/workflows/rollback.yml/dispatches");
    CHECK(call->headers ==
          std::vector<std::pair<std::string, std::string>>{{"Authorization", "Bearer ghp_x"},
                                                           {"Accept", "application/vnd.github+json"},
                                                           {"X-GitHub-Api-Version", "2022-11-28"},
                                                           {"User-Agent", "rollback-receiver"}});
    CHECK(
        json::parse(call->body) ==
        json{{"ref", "main"}, {"inputs", {{"version", "v2.0.9"}, {"reason", "HighErrorRate (deploy-42)"}}}});

    action.api_url = "https://github.example.com/api/v3";
    const auto enterprise =
        github_workflow_call(action, values, 20s, "", secrets_from({{"/secrets/github-token", "t"}}));
    REQUIRE(enterprise.ok());
    CHECK(
        enterprise->url ==
        "https://github.example.com/api/v3/repos/my-org/checkout/actions/workflows/rollback.yml/dispatches");

    const auto no_token = github_workflow_call(action, values, 20s, "", secrets_from({}));
    REQUIRE_FALSE(no_token.ok());
    CHECK(no_token.error().find("token_file: cannot read /secrets/github-token") == 0);
}

TEST_CASE("describe_action names what will run, for the audit trail") {
    const auto values = placeholder_values(deployment(), alert());
    RollbackSettings command;
    command.command = {"/bin/rollback", "{{service}}", "a b"};
    CHECK(describe_action(command, values) == R"("/bin/rollback" "checkout" "a b")");
    RollbackSettings webhook;
    webhook.webhook = WebhookAction{};
    webhook.webhook->target.url = "https://deploy.example/{{service}}";
    CHECK(describe_action(webhook, values) ==
          "POST https://deploy.example/<redacted>"); // path and query: redact_url
    RollbackSettings workflow;
    workflow.github_workflow = GithubWorkflowAction{};
    workflow.github_workflow->repository = "o/r";
    workflow.github_workflow->workflow = "rollback.yml";
    workflow.github_workflow->ref = "main";
    CHECK(describe_action(workflow, values) == "workflow_dispatch o/r rollback.yml@main");
}

TEST_CASE("HTTP outcomes: what the trail says and whether another attempt is worth it") {
    struct Row {
        std::string kind;
        HttpCallResult result;
        std::string described;
        bool retryable;
    };
    auto answer = [](int status, std::string body) {
        HttpCallResult result;
        result.status = status;
        result.body = std::move(body);
        return result;
    };
    HttpCallResult refused;
    refused.error = "Could not establish connection";
    HttpCallResult timed_out;
    timed_out.timed_out = true;
    HttpCallResult cancelled;
    cancelled.cancelled = true;
    HttpCallResult untrusted;
    untrusted.error = "SSLServerVerification (unable to get local issuer certificate)";
    untrusted.certificate_refused = true;
    const Row rows[] = {
        {"webhook", answer(204, ""), "HTTP 204", false},
        {"webhook", answer(500, "oops\nline two"), "HTTP 500: oops line two", true},
        {"webhook", answer(502, ""), "HTTP 502", true},
        {"webhook", answer(429, "slow down"), "HTTP 429: slow down", true},
        {"webhook", answer(408, ""), "HTTP 408", true},
        {"webhook", answer(404, "no such service"), "HTTP 404: no such service", false},
        {"webhook", answer(301, ""), "HTTP 301", false},
        {"github_workflow",
         answer(401, R"({"message":"Bad credentials","documentation_url":"https://docs"})"),
         "GitHub answered HTTP 401: Bad credentials", false},
        {"github_workflow", answer(404, "<html>Not Found</html>"),
         "GitHub answered HTTP 404: <html>Not Found</html>", false},
        {"github_workflow", answer(503, "unicorn"), "HTTP 503: unicorn", true},
        {"webhook", refused, "no answer: Could not establish connection", true},
        {"webhook", timed_out, "timed out after 30s", true},
        {"webhook", cancelled, "cancelled", false},
        {"webhook", untrusted, "no answer: SSLServerVerification (unable to get local issuer certificate)",
         false},
    };
    for (const Row& row : rows) {
        CAPTURE(row.described);
        CHECK(describe_http_outcome(row.kind, row.result, 30s) == row.described);
        if (!row.result.succeeded()) CHECK(http_failure_is_retryable(row.result) == row.retryable);
    }
}

TEST_CASE("notification text: service, versions, the alert's summary and a link") {
    const std::string started = notification_text("rollback_started", deployment(), alert(), "");
    CHECK(started ==
          ":rewind: Rolling back checkout (production) from v2.1.0 to v2.0.9 (deployment deploy-42)\n"
          "HighErrorRate: checkout error rate is 5.3%\n<http://prometheus:9090/graph?g0.expr=x|graph>");
    const std::string succeeded = notification_text("rollback_succeeded", deployment(), alert(), "HTTP 204");
    CHECK(succeeded.rfind(":white_check_mark: Rolled back checkout (production) from v2.1.0 to v2.0.9", 0) ==
          0);
    const std::string failed = notification_text("rollback_failed", deployment(), alert(), "exit status 3");
    CHECK(failed.find("FAILED: exit status 3 (the bad version may still be live)") != std::string::npos);

    const std::string ineffective = notification_text("rollback_ineffective", deployment(), alert(),
                                                      "still firing 10m after: <!here> (fp1)");
    CHECK(
        ineffective.rfind(":warning: Rollback of checkout (production) from v2.1.0 to v2.0.9 did not fix it: "
                          "still firing 10m after: &lt;!here&gt; (fp1) (deployment deploy-42)\n",
                          0) == 0);
    // A compare link on its own line; anything but an http(s) URL is left out.
    const std::string compare = "https://github.com/org/checkout/compare/abcdef1...1234567";
    CHECK(notification_text("rollback_started", deployment(), alert(), "", compare) ==
          started + "\n<" + compare + "|what changed>");
    CHECK(notification_text("rollback_started", deployment(), alert(), "", "javascript:alert(1)") == started);

    Deployment bare = deployment();
    bare.environment.clear();
    Alert manual;
    manual.labels = {{"alertname", "ManualRollback"}};
    CHECK(notification_text("rollback_started", bare, manual, "") ==
          ":rewind: Rolling back checkout from v2.1.0 to v2.0.9 (deployment deploy-42)\nManualRollback");

    NotifyTarget chat;
    chat.target.url = "https://hooks.slack.example/{{service}}";
    const auto call = notification_call(chat, started, placeholder_values(deployment(), alert()), 10s, "",
                                        secrets_from({}));
    REQUIRE(call.ok());
    CHECK(call->url == "https://hooks.slack.example/checkout");
    CHECK(json::parse(call->body) == json{{"text", started}});
}

namespace {

// A webhook action whose header carries {{alertname}}, next to the deploy token.
WebhookAction webhook_with_alertname_header() {
    WebhookAction action;
    action.target.url = "https://deploy.example/rollback";
    action.target.headers = {{"Authorization", "", "/secrets/deploy-token", "Bearer "},
                             {"X-Alert", "alert {{alertname}}", "", ""}};
    return action;
}

Alert alert_named(const std::string& alertname) {
    Alert firing = alert();
    firing.labels["alertname"] = alertname;
    return firing;
}

} // namespace

TEST_CASE("a header that holds a control character once its placeholders are replaced is never sent") {
    const auto secrets = secrets_from({{"/secrets/deploy-token", "s3cret"}});
    struct Row {
        const char* name;
        std::string alertname;
        std::string error; // "" : the call is built
    };
    const std::vector<Row> rows{
        {"plain", "HighErrorRate", ""},
        {"a tab is allowed in a header value", "High\tErrorRate", ""},
        {"CR LF forging a header", "x\r\nX-Injected: yes\r\nContent-Length: 0\r\n\r\nGET /smuggled HTTP/1.1",
         "header X-Alert: holds CR (U+000D) at byte 7"},
        {"a bare LF", "x\ny", "header X-Alert: holds LF (U+000A) at byte 7"},
        {"NUL", std::string("x\0y", 3), "header X-Alert: holds NUL (U+0000) at byte 7"},
        {"ESC", "x\x1b[2J", "header X-Alert: holds ESC (U+001B) at byte 7"},
        {"DEL", "x\x7f", "header X-Alert: holds DEL (U+007F) at byte 7"},
        {"a C1 control in UTF-8", "x\xc2\x85y",
         "header X-Alert: holds the control character U+0085 at byte 7"},
        {"a header line over 8 KiB", std::string(9000, 'a'), "header X-Alert: 9015 bytes"},
    };
    for (const Row& row : rows) {
        CAPTURE(row.name);
        const auto values = placeholder_values(deployment(), alert_named(row.alertname));
        const auto call = webhook_call(webhook_with_alertname_header(), values, 30s, "", secrets);
        NotifyTarget chat;
        chat.target = webhook_with_alertname_header().target;
        const auto notification = notification_call(chat, "text", values, 10s, "", secrets);
        if (row.error.empty()) {
            CHECK(call.ok());
            CHECK(notification.ok());
            continue;
        }
        REQUIRE_FALSE(call.ok());
        CHECK(call.error().rfind(row.error, 0) == 0);
        CHECK(call.error().find("s3cret") == std::string::npos); // the message never quotes a value
        REQUIRE_FALSE(notification.ok());
        CHECK(notification.error() == call.error()); // one rule for actions and notify targets
    }
    // A secret header is checked the same way (a token file holding a line break).
    const auto broken_secret =
        webhook_call(webhook_with_alertname_header(), placeholder_values(deployment(), alert()), 30s, "",
                     secrets_from({{"/secrets/deploy-token", "s3cret\r\nX-Evil: 1"}}));
    REQUIRE_FALSE(broken_secret.ok());
    CHECK(broken_secret.error().rfind("header Authorization: holds CR (U+000D) at byte 13", 0) == 0);
    CHECK(broken_secret.error().find("s3cret") == std::string::npos);
    // The GitHub workflow call's headers too.
    GithubWorkflowAction workflow;
    workflow.repository = "org/app";
    workflow.workflow = "rollback.yml";
    workflow.ref = "main";
    workflow.token_file = "/secrets/github-token";
    const auto github = github_workflow_call(workflow, placeholder_values(deployment(), alert()), 20s, "",
                                             secrets_from({{"/secrets/github-token", "ghp\nx"}}));
    REQUIRE_FALSE(github.ok());
    CHECK(github.error().rfind("header Authorization: holds LF (U+000A)", 0) == 0);
}

TEST_CASE("command_spec refuses values that would become options or carry control characters") {
    struct Row {
        const char* name;
        std::vector<std::string> command;
        std::string previous_version;
        std::string alertname;
        std::string fingerprint;
        bool allow_option_values;
        std::string error; // "": built
    };
    const std::vector<Row> rows{
        {"plain values", {"/bin/rb", "{{previous_version}}"}, "v1", "HighErrorRate", "f00d", false, ""},
        {"a dash from previous_version",
         {"/bin/rb", "{{previous_version}}"},
         "--force",
         "A",
         "f00d",
         false,
         "command[1] \"{{previous_version}}\" becomes \"--force\", which the program would read as an "
         "option"},
        {"a dash from alertname",
         {"/bin/rb", "{{alertname}}"},
         "v1",
         "-rf",
         "f00d",
         false,
         "command[1] \"{{alertname}}\" becomes \"-rf\""},
        {"the dash is the template's own",
         {"/bin/rb", "--to={{previous_version}}"},
         "--force",
         "A",
         "f00d",
         false,
         ""},
        {"the value inside an argument",
         {"/bin/rb", "to-{{previous_version}}"},
         "--force",
         "A",
         "f00d",
         false,
         ""},
        {"after a literal --", {"/bin/rb", "--", "{{previous_version}}"}, "--force", "A", "f00d", false, ""},
        {"-- as the program is not an end of options",
         {"{{previous_version}}", "--"},
         "--force",
         "A",
         "f00d",
         false,
         "command[0]"},
        {"the service opts in", {"/bin/rb", "{{previous_version}}"}, "--force", "A", "f00d", true, ""},
        {"LF in an argument",
         {"/bin/rb", "{{alertname}}"},
         "v1",
         "a\nb",
         "f00d",
         false,
         "command[1] \"{{alertname}}\" holds LF (U+000A) at byte 1"},
        {"ESC in an argument, even opted in",
         {"/bin/rb", "{{alertname}}"},
         "v1",
         "a\x1b[31m",
         "f00d",
         true,
         "command[1] \"{{alertname}}\" holds ESC (U+001B) at byte 1"},
        {"a tab in an argument",
         {"/bin/rb", "{{alertname}}"},
         "v1",
         "a\tb",
         "f00d",
         false,
         "command[1] \"{{alertname}}\" holds HTAB (U+0009)"},
        {"NUL only in the environment",
         {"/bin/rb"},
         "v1",
         std::string("a\0b", 3),
         "f00d",
         false,
         "environment ROLLBACK_ALERTNAME holds NUL (U+0000) at byte 1"},
        {"CR in the fingerprint",
         {"/bin/rb"},
         "v1",
         "A",
         "f0\r",
         false,
         "environment ROLLBACK_FINGERPRINT holds CR (U+000D) at byte 2"},
        {"a 200 KB fingerprint (E2BIG)",
         {"/bin/rb"},
         "v1",
         "A",
         std::string(200 * 1024, 'f'),
         false,
         "the command's arguments and ROLLBACK_* variables come to"},
    };
    for (const Row& row : rows) {
        CAPTURE(row.name);
        RollbackSettings rollback;
        rollback.command = row.command;
        rollback.allow_option_values = row.allow_option_values;
        Deployment target = deployment();
        target.previous_version = row.previous_version;
        Alert firing = alert_named(row.alertname);
        firing.fingerprint = row.fingerprint;
        const auto spec = command_spec(rollback, target, firing, 1s);
        const Status checked = check_action_input(rollback, target, firing);
        if (row.error.empty()) {
            CHECK_MESSAGE(spec.ok(), spec.error());
            CHECK(checked.ok());
            continue;
        }
        REQUIRE_FALSE(spec.ok());
        CHECK(spec.error().rfind(row.error, 0) == 0);
        REQUIRE_FALSE(checked.ok());
        CHECK(checked.error() == spec.error()); // the check before the claim is the builder's own
    }
}

TEST_CASE("check_action_input: the webhook's and GitHub's values, without reading a secret") {
    RollbackSettings rollback;
    CHECK(check_action_input(rollback, deployment(), alert()).ok()); // no action
    rollback.webhook = webhook_with_alertname_header();              // its token file is never read
    CHECK(check_action_input(rollback, deployment(), alert()).ok());
    const Status injected = check_action_input(rollback, deployment(), alert_named("x\r\nX-Injected: yes"));
    REQUIRE_FALSE(injected.ok());
    CHECK(injected.error().rfind("header X-Alert: holds CR (U+000D) at byte 7", 0) == 0);

    rollback.webhook.reset();
    GithubWorkflowAction workflow;
    workflow.repository = "org/app";
    workflow.workflow = "rollback.yml";
    workflow.ref = "main";
    workflow.token_file = "/secrets/github-token";
    workflow.inputs = {{"why", "{{alertname}}"}}; // in the JSON body: any value is safe there
    rollback.github_workflow = workflow;
    CHECK(check_action_input(rollback, deployment(), alert_named("x\r\ny")).ok());
}
