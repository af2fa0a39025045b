// The receiver's HTTP routes: webhook, deployments API, audit, metrics, health and reload.
#pragma once

#include "audit/audit.hpp"
#include "config/config.hpp"
#include "engine/engine.hpp"
#include "http/client.hpp"
#include "http/server.hpp"
#include "ledger/ledger.hpp"
#include "ops/metrics.hpp"
#include "page/page.hpp"

#include <atomic>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>

namespace rollback {

inline constexpr std::size_t kMaxBodyBytes = 1024 * 1024;

struct ApiDependencies {
    Engine& engine;
    Ledger& ledger;
    AuditTrail& audit;
    Metrics& metrics;
    std::function<TimePoint()> now = [] { return Clock::now(); };
    std::function<Status()> reload; // re-reads the config; the error keeps the old one
    HttpCaller* http = nullptr;     // the deployment page's Prometheus queries; null: a NetworkHttpCaller
};

class Api {
  public:
    explicit Api(ApiDependencies dependencies, Secrets secrets);

    void set_secrets(Secrets secrets);
    void set_ready(bool ready) { ready_ = ready; }

    // Routes one request; never throws.
    HttpResponse handle(const HttpRequest& request);

  private:
    // The token a route checks: none, the webhook token, or the API token (GET also the read token);
    // `page` checks the API token like `api` but answers a browser's 401 (WWW-Authenticate: Basic).
    enum class RouteToken { none, webhook, api, page };
    // One row of the route table: the path pattern, its token, and the handler of each method it takes.
    // route() matches the rows in order and calls the handler of the first match.
    struct Route;
    static const std::vector<Route>& routes();
    HttpResponse route(const HttpRequest& request, std::string& handler_name);
    // The refusal of a request the route's token rules do not let through, in this order: a write from a
    // page of another site 403, a missing or wrong token 401, the read token on a write 403, a write with a
    // body that is not application/json on a route without a token 415. nullopt: let it through.
    std::optional<HttpResponse> guard(RouteToken token, const HttpRequest& request);
    HttpResponse webhook(const HttpRequest& request);
    HttpResponse record_deployment(const HttpRequest& request);
    // The deployment_recorded event of a created deployment and a deployment_superseded event for each
    // deployment it superseded; none for a repeat or a conflict.
    static std::vector<AuditEvent> recording_events(const RecordResult& recorded, bool previous_from_ledger,
                                                    TimePoint now);
    HttpResponse list_deployments(const HttpRequest& request);
    HttpResponse get_deployment(const std::string& id);
    HttpResponse list_audit(const HttpRequest& request);
    HttpResponse manual_rollback(const std::string& id, const HttpRequest& request);
    HttpResponse pause(const std::string& service, const HttpRequest& request);
    HttpResponse resume(const std::string& service);
    HttpResponse list_pauses();
    AuditEvent service_event(AuditEventKind kind, const std::string& service, std::string reason) const;
    HttpResponse reload();
    // GET / and GET /deployments/{id}: the on-call page (page/), read from the ledger.
    HttpResponse status_page(const HttpRequest& request);
    HttpResponse deployment_page(const std::string& id);
    DeploymentState state_for(const Deployment& deployment, const Config& config, TimePoint now) const;
    // The deployment with its effective state and its service's watch_window and confirm_window (the page).
    PageDeployment page_deployment(const Deployment& deployment, const Config& config, TimePoint now) const;
    // The deployment page's chart from Prometheus (config's prometheus.url), or the line saying why not.
    void fetch_chart(const std::string& prometheus_url, const ChartQuery& query, DeploymentPage& page);

    ApiDependencies deps_;
    std::unique_ptr<HttpCaller> own_http_; // when deps_.http is null
    mutable std::mutex secrets_mutex_;
    Secrets secrets_;
    std::atomic<bool> ready_{false};
};

} // namespace rollback
