// HTTP routing and handlers: authentication, validation, and the JSON answers of the contract.
#include "api/api.hpp"

#include "api/auth.hpp"
#include "codec/codec.hpp"
#include "common/url.hpp"
#include "config/placeholders.hpp"
#include "ops/logging.hpp"
#include "page/page.hpp"

#include <charconv>
#include <optional>
#include <set>

namespace rollback {
namespace {

// A deployed_at further ahead than this is refused: a deployment dated in the future would supersede every
// later one at birth and make every alert predate it (clocks of CI runners drift by seconds, not minutes).
constexpr Duration kMaxDeployedAtAhead = std::chrono::minutes(5);

HttpResponse json_response(int status, std::string body) {
    HttpResponse response;
    response.status = status;
    response.body = std::move(body);
    return response;
}

HttpResponse error_response(int status, std::string_view message) {
    return json_response(status, encode_error(message));
}

// 503 for a ledger that failed (PostgreSQL away, a full disk): the client retries. Logged, so that an
// outage shows in the log and not only in the metrics.
HttpResponse ledger_unavailable(std::string_view read_or_written, const std::string& error) {
    log_warn("request answered 503: the ledger could not be " + std::string(read_or_written),
             {{"err", error}});
    const std::string retry = read_or_written == "written" ? "; retry later" : "";
    return error_response(503, "the ledger could not be " + std::string(read_or_written) + " (" + error +
                                   ")" + retry);
}

HttpResponse text_response(int status, std::string body,
                           std::string content_type = "text/plain; charset=utf-8") {
    HttpResponse response;
    response.status = status;
    response.body = std::move(body);
    response.content_type = std::move(content_type);
    return response;
}

HttpResponse unauthorized(std::string_view what) {
    HttpResponse response = error_response(
        401, "missing or wrong bearer token; send 'Authorization: Bearer <token>' with the token from " +
                 std::string(what));
    response.headers.emplace_back("WWW-Authenticate", "Bearer");
    return response;
}

// The on-call page's answers: HTML that may load nothing from anywhere (inline style only, no script, no
// frame around it), never cached (it shows the trail), never sniffed as anything else.
HttpResponse html_response(int status, std::string body) {
    HttpResponse response;
    response.status = status;
    response.body = std::move(body);
    response.content_type = "text/html; charset=utf-8";
    response.headers = {
        {"Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; "
                                    "form-action 'self'; base-uri 'none'; frame-ancestors 'none'"},
        {"X-Content-Type-Options", "nosniff"},
        {"Cache-Control", "no-store"},
        {"Referrer-Policy", "no-referrer"},
        {"X-Frame-Options", "DENY"},
    };
    return response;
}

// A browser asks for the token on this answer (basic auth: any user name, the token as the password).
HttpResponse page_unauthorized() {
    HttpResponse response = html_response(
        401, render_message_page("Token needed",
                                 "This page needs the API token (auth.api_token_file) or the read "
                                 "token (auth.read_token_file): sign in with any user name and the "
                                 "token as the password, or send 'Authorization: Bearer <token>'."));
    response.headers.emplace_back("WWW-Authenticate", "Basic realm=\"rollback-receiver\"");
    return response;
}

HttpResponse read_only_token() {
    return error_response(403,
                          "this is the read token (auth.read_token_file): it may only read (GET /api/v1/*); "
                          "recording, pausing, resuming, rolling back and reloading need the API token "
                          "(auth.api_token_file)");
}

// Percent-decodes one path segment ("a%2Fb" -> "a/b"); nullopt for a malformed escape.
std::optional<std::string> decode_path_segment(std::string_view segment) {
    auto hex_value = [](char c) -> int {
        if (c >= '0' && c <= '9') return c - '0';
        if (c >= 'a' && c <= 'f') return c - 'a' + 10;
        if (c >= 'A' && c <= 'F') return c - 'A' + 10;
        return -1;
    };
    std::string decoded;
    for (std::size_t i = 0; i < segment.size(); ++i) {
        if (segment[i] != '%') {
            decoded += segment[i];
            continue;
        }
        if (i + 2 >= segment.size()) return std::nullopt;
        const int high = hex_value(segment[i + 1]), low = hex_value(segment[i + 2]);
        if (high < 0 || low < 0) return std::nullopt;
        decoded += static_cast<char>(high * 16 + low);
        i += 2;
    }
    return decoded;
}

// `limit` query parameter: 1..1000, default 100.
Result<int> read_limit(const HttpRequest& request) {
    auto it = request.query.find("limit");
    if (it == request.query.end() || it->second.empty()) return 100;
    int value = 0;
    const auto [end, error] =
        std::from_chars(it->second.data(), it->second.data() + it->second.size(), value);
    if (error != std::errc() || end != it->second.data() + it->second.size() || value < 1 || value > 1000)
        return make_error("limit: \"" + it->second + "\" is not a whole number from 1 to 1000");
    return value;
}

std::string query_value(const HttpRequest& request, const std::string& name) {
    auto it = request.query.find(name);
    return it == request.query.end() ? std::string() : it->second;
}

// Matches the path as sent against a route pattern segment by segment: a literal segment only as written
// ("/%2D/reload" is not "/-/reload"); "{id}" matches one non-empty segment, percent-decoded into `id`.
bool matches(std::string_view pattern, std::string_view path, std::string& id) {
    while (!pattern.empty() && !path.empty()) {
        const auto pattern_end = pattern.find('/', 1);
        const auto path_end = path.find('/', 1);
        const std::string_view pattern_segment = pattern.substr(0, pattern_end);
        const std::string_view path_segment = path.substr(0, path_end);
        if (pattern_segment == "/{id}") {
            if (path_segment.size() < 2) return false;
            auto decoded = decode_path_segment(path_segment.substr(1));
            if (!decoded || decoded->empty()) return false;
            id = std::move(*decoded);
        } else if (pattern_segment != path_segment) {
            return false;
        }
        pattern = pattern_end == std::string_view::npos ? std::string_view() : pattern.substr(pattern_end);
        path = path_end == std::string_view::npos ? std::string_view() : path.substr(path_end);
    }
    return pattern.empty() && path.empty();
}

// A path's {id} (a deployment id or a service name) gets the checks of the same field in a JSON body: at
// most kMaxDeploymentFieldBytes, no control characters (an empty path has no id and passes).
Status check_path_id(std::string_view id) {
    if (id.size() > kMaxDeploymentFieldBytes)
        return make_error("the id in the path: " + std::to_string(id.size()) + " bytes, longer than the " +
                          std::to_string(kMaxDeploymentFieldBytes) +
                          " a deployment id or service name may have");
    if (auto clean = check_no_control_characters(id); !clean)
        return make_error("the id in the path: " + clean.error() +
                          "; a deployment id or service name may not hold one");
    return ok_status();
}

} // namespace

Api::Api(ApiDependencies dependencies, Secrets secrets)
    : deps_(std::move(dependencies)), secrets_(std::move(secrets)) {
    if (deps_.http == nullptr) own_http_ = std::make_unique<NetworkHttpCaller>();
}

void Api::set_secrets(Secrets secrets) {
    std::lock_guard lock(secrets_mutex_);
    secrets_ = std::move(secrets);
}

HttpResponse Api::handle(const HttpRequest& request) {
    const auto started = std::chrono::steady_clock::now();
    std::string handler_name = "other";
    HttpResponse response;
    try {
        response = route(request, handler_name);
    } catch (const std::exception& error) {
        log_error("request failed", {{"path", request.path}, {"err", error.what()}});
        response = error_response(500, std::string("internal error: ") + error.what());
    }
    deps_.metrics.http_requests.add({handler_name, std::to_string(response.status)});
    deps_.metrics.http_request_duration.observe(
        {handler_name}, std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count());
    return response;
}

struct Api::Route {
    // The handler of one method; `id` is what "{id}" matched ("" for a pattern without one).
    using Handler = HttpResponse (*)(Api& api, const HttpRequest& request, const std::string& id);
    struct Method {
        const char* name;
        Handler handler;
    };
    const char* pattern; // "{id}" matches one path segment; also the handler label of the metrics
    RouteToken token;
    std::vector<Method> methods; // in the order the Allow header of a 405 lists them
};

const std::vector<Api::Route>& Api::routes() {
    using Request = const HttpRequest&;
    using Id = const std::string&;
    // /webhook needs the webhook token; /api/v1/* and /-/reload the API token (GET: or the read token).
    constexpr RouteToken webhook = RouteToken::webhook, api_token = RouteToken::api, none = RouteToken::none;
    constexpr RouteToken page = RouteToken::page;
    static const std::vector<Route> table{
        {"/", page, {{"GET", [](Api& api, Request request, Id) { return api.status_page(request); }}}},
        {"/deployments/{id}",
         page,
         {{"GET", [](Api& api, Request, Id id) { return api.deployment_page(id); }}}},
        {"/webhook", webhook, {{"POST", [](Api& api, Request request, Id) { return api.webhook(request); }}}},
        {"/api/v1/deployments",
         api_token,
         {{"GET", [](Api& api, Request request, Id) { return api.list_deployments(request); }},
          {"POST", [](Api& api, Request request, Id) { return api.record_deployment(request); }}}},
        {"/api/v1/deployments/{id}",
         api_token,
         {{"GET", [](Api& api, Request, Id id) { return api.get_deployment(id); }}}},
        {"/api/v1/deployments/{id}/rollback",
         api_token,
         {{"POST", [](Api& api, Request request, Id id) { return api.manual_rollback(id, request); }}}},
        {"/api/v1/services", api_token, {{"GET", [](Api& api, Request, Id) { return api.list_pauses(); }}}},
        {"/api/v1/services/{id}/pause",
         api_token,
         {{"POST", [](Api& api, Request request, Id id) { return api.pause(id, request); }}}},
        {"/api/v1/services/{id}/resume",
         api_token,
         {{"POST", [](Api& api, Request, Id id) { return api.resume(id); }}}},
        {"/api/v1/audit",
         api_token,
         {{"GET", [](Api& api, Request request, Id) { return api.list_audit(request); }}}},
        {"/metrics",
         none,
         {{"GET",
           [](Api& api, Request, Id) {
               return text_response(200, api.deps_.metrics.render(),
                                    "text/plain; version=0.0.4; charset=utf-8");
           }}}},
        {"/-/healthy",
         none,
         {{"GET", [](Api&, Request, Id) { return text_response(200, "rollback-receiver is Healthy.\n"); }}}},
        {"/-/ready",
         none,
         {{"GET",
           [](Api& api, Request, Id) {
               if (!api.ready_) return text_response(503, "rollback-receiver is not ready.\n");
               // Ready means the ledger can take writes now: a shared database may be away. The answer names
               // no host (anyone may ask); the writes' own 503s say more to those with a token.
               if (!api.deps_.ledger.check_reachable())
                   return text_response(503,
                                        "rollback-receiver is not ready: the ledger cannot be reached.\n");
               return text_response(200, "rollback-receiver is Ready.\n");
           }}}},
        {"/-/reload",
         api_token,
         {{"POST", [](Api& api, Request, Id) { return api.reload(); }},
          {"PUT", [](Api& api, Request, Id) { return api.reload(); }}}},
    };
    return table;
}

HttpResponse Api::route(const HttpRequest& request, std::string& handler_name) {
    for (const Route& candidate : routes()) {
        std::string id;
        if (!matches(candidate.pattern, request.path, id)) continue;
        handler_name = candidate.pattern;
        Route::Handler handler = nullptr;
        std::string allow;
        for (const Route::Method& method : candidate.methods) {
            if (request.method == method.name) handler = method.handler;
            allow += (allow.empty() ? "" : ", ") + std::string(method.name);
        }
        if (handler == nullptr) {
            HttpResponse response = error_response(405, "method " + request.method + " is not allowed on " +
                                                            request.path + "; use " + allow);
            response.headers.emplace_back("Allow", allow);
            return response;
        }
        if (auto refused = guard(candidate.token, request)) return std::move(*refused);
        if (auto checked = check_path_id(id); !checked)
            return candidate.token == RouteToken::page
                       ? html_response(400, render_message_page("Bad request", checked.error()))
                       : error_response(400, checked.error());
        return handler(*this, request, id);
    }
    return error_response(
        404, "no route " + request.path +
                 "; see the README for the routes (/, /deployments/{id}, /webhook, /api/v1/deployments, "
                 "/api/v1/audit, /metrics, /-/healthy, /-/ready, /-/reload)");
}

std::optional<HttpResponse> Api::guard(RouteToken token, const HttpRequest& request) {
    if (token == RouteToken::none) return std::nullopt;
    std::string webhook_token;
    ApiTokens api_tokens;
    {
        std::lock_guard lock(secrets_mutex_);
        webhook_token = secrets_.webhook_token;
        api_tokens = {secrets_.api_token, secrets_.read_token};
    }
    const bool write = is_write_method(request.method);
    const bool credential_free =
        token == RouteToken::webhook ? webhook_token.empty() : api_tokens.api.empty();
    if (write) {
        const std::string refusal = cross_site_refusal(
            {request.header("origin"), request.header("host"), request.header("sec-fetch-site")},
            credential_free);
        if (!refusal.empty()) return error_response(403, refusal);
    }
    const std::string authorization = request.header("authorization");
    if (token == RouteToken::webhook && !is_authorized(authorization, webhook_token)) {
        deps_.metrics.notifications.add({"unauthorized"});
        return unauthorized(
            "auth.webhook_token_file (Alertmanager: http_config.authorization.credentials_file)");
    }
    if (token == RouteToken::api || token == RouteToken::page) {
        switch (check_api_access(authorization, api_tokens, write)) {
        case ApiAccess::allowed:
            break;
        case ApiAccess::unauthorized:
            if (token == RouteToken::page) return page_unauthorized();
            return unauthorized(api_tokens.read.empty()
                                    ? "auth.api_token_file"
                                    : "auth.api_token_file (or, to read, auth.read_token_file)");
        case ApiAccess::read_only:
            return read_only_token();
        }
    }
    if (write && credential_free && !request.body.empty() &&
        !has_json_content_type(request.header("content-type")))
        return error_response(415, "Content-Type: \"" + request.header("content-type") +
                                       "\": send the body as Content-Type: application/json (without tokens "
                                       "configured, a write must say so: a page of another site cannot)");
    return std::nullopt;
}

HttpResponse Api::webhook(const HttpRequest& request) {
    auto notification = parse_webhook(request.body);
    if (!notification) {
        deps_.metrics.notifications.add({"invalid"});
        log_warn("webhook rejected", {{"err", notification.error()}});
        return error_response(400, notification.error());
    }
    if (auto size = check_notification_size(*notification); !size) {
        deps_.metrics.notifications.add({"invalid"});
        log_warn("webhook rejected", {{"err", size.error()}});
        return error_response(413, size.error());
    }
    auto handled = deps_.engine.handle_notification(*notification);
    if (!handled) {
        deps_.metrics.notifications.add({"ledger_error"});
        log_warn("webhook answered 503; Alertmanager retries it", {{"err", handled.error()}});
        return error_response(503, "the notification could not be handled now (" + handled.error() +
                                       "); Alertmanager will retry it");
    }
    deps_.metrics.notifications.add({"accepted"});
    return json_response(
        200, "{\"status\":\"accepted\",\"alerts\":" + std::to_string(notification->alerts.size()) + "}");
}

HttpResponse Api::record_deployment(const HttpRequest& request) {
    auto parsed = parse_deployment_request(request.body);
    if (!parsed) {
        deps_.metrics.deployments_recorded.add({"invalid"});
        return error_response(400, parsed.error());
    }
    const TimePoint now = deps_.now();
    if (parsed->deployed_at && *parsed->deployed_at > now + kMaxDeployedAtAhead) {
        deps_.metrics.deployments_recorded.add({"invalid"});
        return error_response(400, "deployed_at: " + format_rfc3339_ms(*parsed->deployed_at) +
                                       " is more than " + format_duration(kMaxDeployedAtAhead) +
                                       " in the future; send the time the deployment happened, or leave "
                                       "deployed_at out to use the time the request arrives");
    }
    // The deployment and its deployment_recorded / deployment_superseded events in one transaction.
    const bool previous_from_ledger = parsed->previous_version.empty();
    RecordResult recorded;
    std::vector<AuditEvent> events;
    auto written = deps_.ledger.write("recording deployment", [&](LedgerTransaction& transaction) -> Status {
        auto result = transaction.record_deployment(*parsed, deployment_request_key(*parsed), now);
        if (!result) return Error{result.error()};
        recorded = std::move(*result);
        events = recording_events(recorded, previous_from_ledger, now);
        for (AuditEvent& event : events)
            if (auto appended = transaction.append_audit(event); !appended) return Error{appended.error()};
        return ok_status();
    });
    if (!written) {
        deps_.metrics.deployments_recorded.add({"ledger_error"});
        return ledger_unavailable("written", written.error());
    }
    const auto config = deps_.engine.config();
    const Deployment& deployment = recorded.deployment;
    const std::string body = encode_deployment(deployment, state_for(deployment, *config, now));
    switch (recorded.outcome) {
    case RecordOutcome::repeated:
        deps_.metrics.deployments_recorded.add({"repeated"});
        return json_response(200, body);
    case RecordOutcome::conflict:
        deps_.metrics.deployments_recorded.add({"conflict"});
        return error_response(
            409, "id: a deployment with id \"" + deployment.id +
                     "\" is already recorded with other fields; use a new id for a new deployment");
    case RecordOutcome::created:
        break;
    }
    deps_.metrics.deployments_recorded.add({"created"});
    for (const AuditEvent& event : events)
        deps_.audit.publish(event);
    return json_response(201, body);
}

std::vector<AuditEvent> Api::recording_events(const RecordResult& recorded, bool previous_from_ledger,
                                              TimePoint now) {
    if (recorded.outcome != RecordOutcome::created) return {};
    const Deployment& deployment = recorded.deployment;
    AuditEvent event = audit_event_about(AuditEventKind::deployment_recorded, deployment, now);
    event.reason = previous_from_ledger ? "previous_version_from_ledger" : "";
    event.detail = encode_detail({nullptr,
                                  {{"commit", deployment.commit},
                                   {"url", deployment.url},
                                   {"actor", deployment.actor},
                                   {"state", std::string(to_string(deployment.state))}},
                                  {}});
    std::vector<AuditEvent> events{event};
    for (const std::string& old_id : recorded.superseded_ids) {
        AuditEvent superseded = event;
        superseded.event = std::string(to_string(AuditEventKind::deployment_superseded));
        superseded.deployment_id = old_id;
        superseded.reason = "newer_deployment";
        superseded.detail = encode_detail({nullptr, {{"superseded_by", deployment.id}}, {}});
        events.push_back(std::move(superseded));
    }
    return events;
}

DeploymentState Api::state_for(const Deployment& deployment, const Config& config, TimePoint now) const {
    return effective_state(deployment, config.settings_for(deployment.service).watch_window, now);
}

HttpResponse Api::list_deployments(const HttpRequest& request) {
    auto limit = read_limit(request);
    if (!limit) return error_response(400, limit.error());
    DeploymentFilter filter;
    filter.service = query_value(request, "service");
    filter.environment = query_value(request, "environment");
    filter.limit = *limit;
    auto listed = deps_.ledger.list_deployments(filter);
    if (!listed) return ledger_unavailable("read", listed.error());
    const auto config = deps_.engine.config();
    const TimePoint now = deps_.now();
    std::vector<DeploymentState> states;
    for (const Deployment& deployment : *listed)
        states.push_back(state_for(deployment, *config, now));
    return json_response(200, encode_deployment_list(*listed, states));
}

HttpResponse Api::get_deployment(const std::string& id) {
    auto found = deps_.ledger.get_deployment(id);
    if (!found) return ledger_unavailable("read", found.error());
    if (!*found) return error_response(404, "no deployment with id \"" + id + "\"");
    const auto config = deps_.engine.config();
    return json_response(200, encode_deployment(**found, state_for(**found, *config, deps_.now())));
}

HttpResponse Api::list_audit(const HttpRequest& request) {
    auto limit = read_limit(request);
    if (!limit) return error_response(400, limit.error());
    AuditFilter filter;
    filter.service = query_value(request, "service");
    filter.deployment_id = query_value(request, "deployment_id");
    filter.limit = *limit;
    const std::string after = query_value(request, "after");
    if (!after.empty()) {
        const auto [end, error] =
            std::from_chars(after.data(), after.data() + after.size(), filter.after_sequence);
        if (error != std::errc() || end != after.data() + after.size() || filter.after_sequence < 0)
            return error_response(400, "after: \"" + after + "\" is not an event sequence number");
    }
    auto listed = deps_.ledger.list_audit(filter);
    if (!listed) return ledger_unavailable("read", listed.error());
    return json_response(200, encode_audit_list(*listed));
}

HttpResponse Api::manual_rollback(const std::string& id, const HttpRequest& request) {
    auto parsed = parse_manual_rollback_request(request.body);
    if (!parsed) return error_response(400, parsed.error());
    auto result = deps_.engine.manual_rollback(id, parsed->reason, parsed->actor);
    if (!result) return ledger_unavailable("written", result.error());
    switch (result->outcome) {
    case ManualRollbackResult::Outcome::not_found:
        return error_response(404, result->message);
    case ManualRollbackResult::Outcome::refused:
        return error_response(409, result->message);
    case ManualRollbackResult::Outcome::shutting_down:
        return error_response(503, result->message);
    case ManualRollbackResult::Outcome::started:
        break;
    }
    return json_response(202, encode_rollback_started(result->deployment, result->deployment.state));
}

AuditEvent Api::service_event(AuditEventKind kind, const std::string& service, std::string reason) const {
    AuditEvent event;
    event.time = deps_.now();
    event.event = std::string(to_string(kind));
    event.service = service;
    event.reason = std::move(reason);
    return event;
}

HttpResponse Api::pause(const std::string& service, const HttpRequest& request) {
    auto parsed = parse_pause_request(request.body);
    if (!parsed) return error_response(400, parsed.error());
    ServicePause pause;
    pause.service = service;
    pause.reason = parsed->reason;
    pause.actor = parsed->actor;
    pause.paused_at = deps_.now();
    if (parsed->duration) pause.until = pause.paused_at + *parsed->duration;
    AuditEvent event = service_event(AuditEventKind::service_paused, service, pause.reason);
    event.detail = encode_detail(
        {nullptr,
         {{"actor", pause.actor}, {"until", pause.until ? format_rfc3339_ms(*pause.until) : ""}},
         {}});
    // The pause and its event in one transaction.
    auto written = deps_.ledger.write("pausing \"" + service + "\"", [&](LedgerTransaction& transaction) {
        if (auto stored = transaction.pause_service(pause); !stored) return stored;
        if (auto appended = transaction.append_audit(event); !appended)
            return Status(Error{appended.error()});
        return ok_status();
    });
    if (!written) return ledger_unavailable("written", written.error());
    deps_.audit.publish(event);
    return json_response(200, encode_pause(pause));
}

HttpResponse Api::resume(const std::string& service) {
    AuditEvent event = service_event(AuditEventKind::service_resumed, service, "");
    bool resumed = false;
    // The resume and its event in one transaction; resuming a service that is not paused writes nothing.
    auto written = deps_.ledger.write("resuming \"" + service + "\"", [&](LedgerTransaction& transaction) {
        auto removed = transaction.resume_service(service);
        if (!removed) return Status(Error{removed.error()});
        resumed = *removed;
        if (!resumed) return ok_status();
        if (auto appended = transaction.append_audit(event); !appended)
            return Status(Error{appended.error()});
        return ok_status();
    });
    if (!written) return ledger_unavailable("written", written.error());
    if (resumed) deps_.audit.publish(event);
    return json_response(200, "{\"service\":" + json_quote(service) + ",\"paused\":false}");
}

HttpResponse Api::list_pauses() {
    auto pauses = deps_.ledger.list_service_pauses();
    if (!pauses) return ledger_unavailable("read", pauses.error());
    const TimePoint now = deps_.now();
    std::vector<ServicePause> active;
    for (const ServicePause& pause : *pauses)
        if (pause.active_at(now)) active.push_back(pause);
    return json_response(200, encode_pause_list(active));
}

HttpResponse Api::reload() {
    if (!deps_.reload) return error_response(500, "reload is not available");
    // The reason goes to the log only: a config error may quote a secret (a notify URL is one).
    if (!deps_.reload())
        return error_response(500, "the new configuration was rejected; the old one stays in force; see the "
                                   "receiver's log for why");
    return json_response(200, "{\"status\":\"reloaded\"}");
}

namespace {

bool is_rollback_state(DeploymentState state) {
    return state == DeploymentState::rolling_back || state == DeploymentState::rolled_back ||
           state == DeploymentState::rollback_failed || state == DeploymentState::rollback_interrupted;
}

HttpResponse page_ledger_error(const std::string& error) {
    log_warn("page answered 503: the ledger could not be read", {{"err", error}});
    return html_response(
        503, render_message_page("The ledger could not be read", error + "; the page tries again in 30 s"));
}

// The chart's query: short, so that the page answers fast with Prometheus away; a large answer is cut here
// (and then reads as malformed).
constexpr Duration kChartQueryTimeout = std::chrono::seconds(2);
constexpr std::size_t kChartAnswerBytes = 2 * 1024 * 1024;

std::string unix_seconds(TimePoint time) {
    return std::to_string(std::chrono::duration_cast<std::chrono::seconds>(time.time_since_epoch()).count());
}

// One line, for the page.
std::string flattened(std::string text) {
    for (char& c : text)
        if (c == '\n' || c == '\r' || c == '\t') c = ' ';
    return text;
}

// How many deployments the page looks through, rollbacks it shows and trail events it lists.
constexpr int kPageDeploymentScan = 200;
constexpr std::size_t kPageRollbacks = 10;
constexpr int kPageTrailEvents = 50;

} // namespace

PageDeployment Api::page_deployment(const Deployment& deployment, const Config& config, TimePoint now) const {
    const ServiceSettings& settings = config.settings_for(deployment.service);
    return {deployment, state_for(deployment, config, now), settings.watch_window, settings.confirm_window};
}

HttpResponse Api::status_page(const HttpRequest& request) {
    StatusPage page;
    page.service_filter = query_value(request, "service");
    if (auto checked = check_path_id(page.service_filter); !checked)
        return html_response(400, render_message_page("Bad request", "service: " + checked.error()));
    const auto config = deps_.engine.config();
    page.now = deps_.now();

    DeploymentFilter filter;
    filter.service = page.service_filter;
    filter.limit = kPageDeploymentScan;
    auto listed = deps_.ledger.list_deployments(filter);
    if (!listed) return page_ledger_error(listed.error());
    std::set<std::string> services;
    for (const auto& [name, settings] : config->services)
        services.insert(name);
    for (const Deployment& deployment : *listed) {
        services.insert(deployment.service);
        const PageDeployment entry = page_deployment(deployment, *config, page.now);
        // Under watch: what an alert would roll back (a rollback's own deployment never is).
        if (entry.state == DeploymentState::watching && deployment.kind == DeploymentKind::deploy)
            page.watching.push_back(entry);
        if (is_rollback_state(entry.state) && page.rollbacks.size() < kPageRollbacks) {
            AuditFilter events_of;
            events_of.deployment_id = deployment.id;
            events_of.limit = 1000;
            auto events = deps_.ledger.list_audit(events_of);
            if (!events) return page_ledger_error(events.error());
            page.rollbacks.push_back({entry, std::move(*events)});
        }
    }

    auto pauses = deps_.ledger.list_service_pauses();
    if (!pauses) return page_ledger_error(pauses.error());
    for (const ServicePause& pause : *pauses) {
        services.insert(pause.service);
        if (pause.active_at(page.now) &&
            (page.service_filter.empty() || pause.service == page.service_filter))
            page.pauses.push_back(pause);
    }
    if (!page.service_filter.empty()) { // the filter's choices: every service, not only the one shown
        auto every = deps_.ledger.list_deployments({"", "", kPageDeploymentScan});
        if (!every) return page_ledger_error(every.error());
        for (const Deployment& deployment : *every)
            services.insert(deployment.service);
    }
    page.services.assign(services.begin(), services.end());

    AuditFilter trail;
    trail.service = page.service_filter;
    trail.limit = kPageTrailEvents;
    auto events = deps_.ledger.list_audit(trail);
    if (!events) return page_ledger_error(events.error());
    page.trail = std::move(*events);
    return html_response(200, render_status_page(page));
}

HttpResponse Api::deployment_page(const std::string& id) {
    auto found = deps_.ledger.get_deployment(id);
    if (!found) return page_ledger_error(found.error());
    if (!*found)
        return html_response(404, render_message_page("Unknown deployment",
                                                      "no deployment with id \"" + id + "\" in the ledger"));
    const auto config = deps_.engine.config();
    DeploymentPage page;
    page.now = deps_.now();
    const Deployment& deployment = **found;
    page.deployment = page_deployment(deployment, *config, page.now);
    AuditFilter events_of;
    events_of.deployment_id = id;
    events_of.limit = 1000;
    auto events = deps_.ledger.list_audit(events_of);
    if (!events) return page_ledger_error(events.error());
    page.events = std::move(*events);
    if (!config->prometheus_url.empty()) {
        if (auto query = plan_deployment_chart(page.deployment, page.events, page.now))
            fetch_chart(config->prometheus_url, *query, page);
    }
    return html_response(200, render_deployment_page(page));
}

void Api::fetch_chart(const std::string& prometheus_url, const ChartQuery& query, DeploymentPage& page) {
    // The expression comes from the alert's generatorURL: it only ever travels as an encoded query value to
    // the configured Prometheus, never to the generatorURL's own host.
    HttpCall call;
    call.method = "GET";
    call.url = prometheus_url + "/api/v1/query_range?query=" + percent_encode(query.expression) +
               "&start=" + unix_seconds(query.start) + "&end=" + unix_seconds(query.end) + "&step=" +
               std::to_string(std::chrono::duration_cast<std::chrono::seconds>(query.step).count());
    call.timeout = kChartQueryTimeout;
    call.max_body = kChartAnswerBytes;
    const std::atomic<bool> never{false};
    const HttpCallResult answer = (deps_.http ? *deps_.http : *own_http_).call(call, never);
    const std::string at = "Prometheus at " + prometheus_url;
    if (answer.status == 0) {
        page.chart_problem = flattened(at + " could not be reached: " + answer.describe(call.timeout));
        return;
    }
    auto range = parse_prometheus_range(answer.body, kMaxChartSeries);
    if (!range) {
        // An error answer of Prometheus itself says what was wrong; another (a proxy's 502 page) is shown
        // as its status and the start of its body.
        const bool prometheus_error = range.error().rfind("Prometheus answered", 0) == 0;
        page.chart_problem =
            flattened(at + " answered " +
                      (answer.succeeded() || prometheus_error
                           ? "HTTP " + std::to_string(answer.status) + ": " + range.error().substr(0, 500)
                           : answer.describe(call.timeout)));
        return;
    }
    ChartData chart;
    chart.expression = query.expression;
    chart.start = query.start;
    chart.end = query.end;
    chart.step = query.step;
    chart.markers = query.markers;
    chart.total_series = range->total_series;
    for (const PrometheusRangeSeries& series : range->series) {
        ChartSeries drawn{chart_series_name(series.metric), {}};
        for (const auto& [time, value] : series.values)
            drawn.points.emplace_back(TimePoint(std::chrono::duration_cast<TimePoint::duration>(
                                          std::chrono::duration<double>(time))),
                                      value);
        chart.series.push_back(std::move(drawn));
    }
    page.chart = std::move(chart);
}

} // namespace rollback
