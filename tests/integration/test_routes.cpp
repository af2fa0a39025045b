// The route table over HTTP: methods and 405 with Allow, the token each route needs (the read token only
// reads), 404, routing on the path as sent, metrics labels; the on-call page's token, headers and filter.
#include "support/raw_http.hpp"
#include "support/receiver_fixture.hpp"

#include "http/server.hpp"

#include <doctest/doctest.h>

#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

using namespace rollback;
using namespace rollback::testing;

namespace {

// One route of the contract: a path it matches, its pattern (the metrics' handler label), the methods
// it takes as a 405's Allow header lists them, and whether it needs the API token.
struct RouteCase {
    std::string path;
    std::string pattern;
    std::string allow;
    bool needs_api_token;
};

const std::vector<RouteCase> kRoutes{
    {"/", "/", "GET", true},
    {"/deployments/d1", "/deployments/{id}", "GET", true},
    {"/webhook", "/webhook", "POST", false},
    {"/api/v1/deployments", "/api/v1/deployments", "GET, POST", true},
    {"/api/v1/deployments/d1", "/api/v1/deployments/{id}", "GET", true},
    {"/api/v1/deployments/d1/rollback", "/api/v1/deployments/{id}/rollback", "POST", true},
    {"/api/v1/services", "/api/v1/services", "GET", true},
    {"/api/v1/services/checkout/pause", "/api/v1/services/{id}/pause", "POST", true},
    {"/api/v1/services/checkout/resume", "/api/v1/services/{id}/resume", "POST", true},
    {"/api/v1/audit", "/api/v1/audit", "GET", true},
    {"/metrics", "/metrics", "GET", false},
    {"/-/healthy", "/-/healthy", "GET", false},
    {"/-/ready", "/-/ready", "GET", false},
    {"/-/reload", "/-/reload", "POST, PUT", true},
};

// METHOD path with an empty body, on a connection of its own, with `token` as the bearer token ("": none).
RawHttpResponse send_with_token(const TestReceiver& receiver, const std::string& method,
                                const std::string& path, const std::string& token) {
    RawHttpConnection connection(port_of(receiver.url()));
    std::string request =
        method + " " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\nContent-Length: 0\r\n";
    if (!token.empty()) request += "Authorization: Bearer " + token + "\r\n";
    REQUIRE(connection.send(request + "\r\n"));
    return connection.read_response();
}

// METHOD path with an empty body, on a connection of its own, with the API token or none.
RawHttpResponse send_request(const TestReceiver& receiver, const std::string& method, const std::string& path,
                             bool with_api_token) {
    return send_with_token(receiver, method, path, with_api_token ? kFixtureApiToken : "");
}

// The on-call page's routes answer a browser: HTML, and a 401 that asks for basic auth.
bool is_page(const RouteCase& route) {
    return route.path == "/" || route.path.rfind("/deployments/", 0) == 0;
}

// GET path with `authorization` as the Authorization header ("": none), on a connection of its own.
RawHttpResponse get_with_authorization(const TestReceiver& receiver, const std::string& path,
                                       const std::string& authorization) {
    RawHttpConnection connection(port_of(receiver.url()));
    std::string request = "GET " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n";
    if (!authorization.empty()) request += "Authorization: " + authorization + "\r\n";
    REQUIRE(connection.send(request + "\r\n"));
    return connection.read_response();
}

std::string base64(const std::string& text) {
    static const char* const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    std::string out;
    for (std::size_t i = 0; i < text.size(); i += 3) {
        const std::size_t n = std::min<std::size_t>(3, text.size() - i);
        unsigned value = 0;
        for (std::size_t j = 0; j < 3; ++j)
            value = (value << 8) | (j < n ? static_cast<unsigned char>(text[i + j]) : 0u);
        for (std::size_t j = 0; j < 4; ++j)
            out += j <= n ? alphabet[(value >> (18 - 6 * j)) & 63] : '=';
    }
    return out;
}

// The value of header `name` in a response's head, "" when it has none.
std::string header_value(const std::string& head, const std::string& name) {
    const std::string start = "\r\n" + name + ": ";
    const auto at = head.find(start);
    if (at == std::string::npos) return "";
    const auto end = head.find("\r\n", at + start.size());
    return head.substr(at + start.size(),
                       end == std::string::npos ? std::string::npos : end - at - start.size());
}

// The methods of an Allow header value: "GET, POST" -> {"GET", "POST"}.
std::vector<std::string> methods_of(const std::string& allow) {
    std::vector<std::string> methods;
    for (std::size_t at = 0; at <= allow.size();) {
        const auto comma = allow.find(", ", at);
        methods.push_back(allow.substr(at, comma == std::string::npos ? std::string::npos : comma - at));
        if (comma == std::string::npos) break;
        at = comma + 2;
    }
    return methods;
}

// A Prometheus on 127.0.0.1:0 that answers every request with `body` and records the requests.
class FakePrometheus {
  public:
    explicit FakePrometheus(std::string body)
        : body_(std::move(body)), server_([this](const HttpRequest& request) { return handle(request); },
                                          1 << 20, "{}", TlsSettings{}) {
        auto port = server_.bind(ListenAddress{"127.0.0.1", 0});
        REQUIRE_MESSAGE(port.ok(), (port.ok() ? "" : port.error()));
        port_ = *port;
        serving_ = std::thread([this] { server_.serve(); });
    }
    ~FakePrometheus() {
        server_.stop();
        serving_.join();
    }
    FakePrometheus(const FakePrometheus&) = delete;
    FakePrometheus& operator=(const FakePrometheus&) = delete;
    std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }
    std::vector<HttpRequest> requests() const {
        std::lock_guard lock(mutex_);
        return requests_;
    }

  private:
    HttpResponse handle(const HttpRequest& request) {
        std::lock_guard lock(mutex_);
        requests_.push_back(request);
        return HttpResponse{200, body_, "application/json", {}};
    }
    std::string body_;
    mutable std::mutex mutex_;
    std::vector<HttpRequest> requests_;
    int port_ = 0;
    HttpServer server_;
    std::thread serving_;
};

} // namespace

TEST_CASE("each route takes its methods; any other gets 405 with the route's methods in Allow, before any "
          "token check") {
    TestReceiver receiver;
    receiver.start();
    for (const RouteCase& route : kRoutes) {
        CAPTURE(route.path);
        for (const bool with_token : {true, false}) {
            CAPTURE(with_token);
            const RawHttpResponse response = send_request(receiver, "DELETE", route.path, with_token);
            CHECK(response.status == 405);
            CHECK(header_value(response.head, "Allow") == route.allow);
            CHECK(response.body.find("method DELETE is not allowed on " + route.path + "; use " +
                                     route.allow) != std::string::npos);
        }
        // Each method it takes reaches the route's handler: no 404 or 405 from the routing.
        for (const std::string& method : methods_of(route.allow)) {
            CAPTURE(method);
            const RawHttpResponse response = send_request(receiver, method, route.path, true);
            CHECK(response.status != 405);
            CHECK(response.body.find("no route") == std::string::npos);
        }
    }
}

TEST_CASE("the /api/v1 routes and /-/reload need the API token; /webhook needs the webhook token; the others "
          "need none") {
    TestReceiver receiver;
    receiver.start();
    for (const RouteCase& route : kRoutes) {
        for (const std::string& method : methods_of(route.allow)) {
            CAPTURE(route.path);
            CAPTURE(method);
            const RawHttpResponse response = send_request(receiver, method, route.path, false);
            if (route.needs_api_token) {
                CHECK(response.status == 401);
                CHECK(header_value(response.head, "WWW-Authenticate") ==
                      (is_page(route) ? "Basic realm=\"rollback-receiver\"" : "Bearer"));
                CHECK(response.body.find("auth.api_token_file") != std::string::npos);
            } else if (route.path == "/webhook") {
                CHECK(response.status == 401);
                CHECK(response.body.find("auth.webhook_token_file") != std::string::npos);
            } else {
                CHECK(response.status == 200);
            }
        }
    }
}

TEST_CASE("a path no route matches gets 404 naming the routes; the metrics label requests by route pattern") {
    TestReceiver receiver;
    receiver.start();
    for (const std::string path :
         {"/nope", "/api/v1/deployments/", "/api/v1/deployments/d1/x", "/webhook/", "/deployments/"}) {
        CAPTURE(path);
        const RawHttpResponse response = send_request(receiver, "GET", path, true);
        CHECK(response.status == 404);
        CHECK(response.body.find("no route " + path +
                                 "; see the README for the routes (/, /deployments/{id}, /webhook, "
                                 "/api/v1/deployments, /api/v1/audit, /metrics, /-/healthy, /-/ready, "
                                 "/-/reload)") != std::string::npos);
    }
    for (const RouteCase& route : kRoutes)
        CHECK(send_request(receiver, "DELETE", route.path, true).status == 405);

    const RawHttpResponse metrics = send_request(receiver, "GET", "/metrics", false);
    REQUIRE(metrics.status == 200);
    CHECK(header_value(metrics.head, "Content-Type") == "text/plain; version=0.0.4; charset=utf-8");
    for (const RouteCase& route : kRoutes) {
        CAPTURE(route.pattern);
        CHECK(metrics.body.find("rollback_receiver_http_requests_total{handler=\"" + route.pattern +
                                "\",code=\"405\"} 1\n") != std::string::npos);
    }
    CHECK(metrics.body.find("rollback_receiver_http_requests_total{handler=\"other\",code=\"404\"} 5\n") !=
          std::string::npos);
}

TEST_CASE("the read token reads every GET of /api/v1 and is refused with 403 on every write; no other route "
          "takes it") {
    TestReceiver receiver(ReceiverSetup{}.with_read_token());
    receiver.start();
    REQUIRE(receiver.record("d1", "checkout", "v2", "v1").status == 201);
    for (const RouteCase& route : kRoutes) {
        for (const std::string& method : methods_of(route.allow)) {
            CAPTURE(route.path);
            CAPTURE(method);
            const RawHttpResponse response = send_with_token(receiver, method, route.path, kFixtureReadToken);
            if (route.path == "/webhook") {
                CHECK(response.status == 401); // the tokens are not interchangeable
            } else if (route.needs_api_token && method == "GET") {
                CHECK(response.status == 200);
            } else if (route.needs_api_token) {
                CHECK(response.status == 403);
                CHECK(response.body.find(
                          "it may only read (GET /api/v1/*); recording, pausing, resuming, "
                          "rolling back and reloading need the API token (auth.api_token_file)") !=
                      std::string::npos);
            } else {
                CHECK(response.status == 200);
            }
        }
    }
    // Nothing the read token sent changed anything: d1 is still watching, no pause, no second deployment.
    CHECK(receiver.deployment("d1")["state"] == "watching");
    const auto listed = nlohmann::json::parse(receiver.api("GET", "/api/v1/deployments").body);
    CHECK(listed["deployments"].size() == 1);
    CHECK(nlohmann::json::parse(receiver.api("GET", "/api/v1/services").body)["services"].empty());
    // Without any token, the 401 names both files.
    const RawHttpResponse anonymous = send_request(receiver, "GET", "/api/v1/deployments", false);
    CHECK(anonymous.status == 401);
    CHECK(anonymous.body.find("auth.read_token_file") != std::string::npos);
}

TEST_CASE("routes match the path as sent: an encoded character never reaches a route; an encoded {id} is "
          "decoded") {
    TestReceiver receiver;
    receiver.start();
    REQUIRE(receiver.record("d1", "checkout", "v2", "v1").status == 201);
    struct Row {
        std::string method;
        std::string path;
        int status;
    };
    const std::vector<Row> rows{
        {"POST", "/%2D/reload", 404},
        {"POST", "/%2d/reload", 404},
        {"POST", "/-/%72eload", 404},
        {"GET", "/%61pi/v1/deployments", 404},
        {"GET", "/api/v1/deployments%2Fd1", 404},
        {"GET", "/-/healthy%00", 404},
        // "d1%2Frollback" is one id segment, "d1/rollback", of the GET-only deployment route: never a
        // rollback
        {"POST", "/api/v1/deployments/d1%2Frollback", 405},
        {"GET", "/api/v1/deployments/d1%2Frollback", 404},
        {"GET", "/api/v1/deployments/d%31", 200}, // rollbackctl percent-encodes ids
        {"GET", "/api/v1/deployments/d%3", 404},  // a broken escape matches nothing
        {"GET", "/api/v1/deployments/%", 404},
    };
    for (const Row& row : rows) {
        CAPTURE(row.method);
        CAPTURE(row.path);
        CHECK(send_request(receiver, row.method, row.path, true).status == row.status);
    }
    CHECK(receiver.deployment("d1")["state"] == "watching");
    const std::string log = TempDir::read(receiver.dir().file("receiver.log"));
    CHECK(log.find("config reloaded") == std::string::npos);
}

TEST_CASE(
    "deployed_at: up to 5 minutes ahead is accepted (clock skew); further ahead is a 400 naming the field "
    "and nothing is recorded") {
    TestReceiver receiver;
    receiver.start();
    auto record = [&](const std::string& id, Duration ahead) {
        const nlohmann::json body{{"id", id},
                                  {"service", "checkout"},
                                  {"version", "v-" + id},
                                  {"deployed_at", format_rfc3339_ms(Clock::now() + ahead)}};
        return receiver.api("POST", "/api/v1/deployments", body.dump());
    };
    const auto skewed = record("skewed", std::chrono::minutes(1));
    CHECK_MESSAGE(skewed.status == 201, skewed.body);
    const auto ahead = record("ahead", std::chrono::minutes(10));
    CHECK(ahead.status == 400);
    CHECK(ahead.body.find("deployed_at: ") != std::string::npos);
    CHECK(ahead.body.find("is more than 5m in the future") != std::string::npos);
    CHECK(receiver.api("GET", "/api/v1/deployments/ahead").status == 404);
}

TEST_CASE("a path id gets the checks of the same JSON field: control characters or over 200 bytes are a 400 "
          "naming it, and nothing is written") {
    TestReceiver receiver;
    receiver.start();
    const std::string too_long(201, 'a');
    struct Row {
        std::string method, path, says;
        int status = 400;
    };
    const std::vector<Row> rows{
        {"POST", "/api/v1/services/check%09out/pause", "holds HTAB (U+0009)"},
        // cpp-httplib refuses a decoded line break itself, before routing.
        {"POST", "/api/v1/services/check%0Aout/pause", "could not be read", 404},
        {"POST", "/api/v1/services/check%C2%85out/pause", "U+0085"},
        {"POST", "/api/v1/services/" + too_long + "/pause", "longer than the 200"},
        {"POST", "/api/v1/services/check%1Bout/resume", "holds ESC (U+001B)"},
        {"POST", "/api/v1/deployments/d%001/rollback", "U+0000"},
        {"GET", "/api/v1/deployments/" + too_long, "longer than the 200"},
    };
    for (const Row& row : rows) {
        CAPTURE(row.path);
        const auto answer = receiver.api(row.method, row.path, row.method == "POST" ? "{}" : "");
        CHECK(answer.status == row.status);
        if (row.status == 400) CHECK(answer.body.find("the id in the path") != std::string::npos);
        CHECK(answer.body.find(row.says) != std::string::npos);
    }
    const auto paused = receiver.api("GET", "/api/v1/services");
    CHECK(paused.status == 200);
    CHECK(nlohmann::json::parse(paused.body)["services"].empty());
    CHECK(receiver.api("POST", "/api/v1/services/checkout/pause", "{}").status == 200);
}

TEST_CASE("the on-call page takes the API token or the read token, as a bearer or as basic auth's password; "
          "without one it asks the browser for it") {
    TestReceiver receiver(ReceiverSetup{}.with_read_token());
    receiver.start();
    REQUIRE(receiver.record("d1", "checkout", "v2", "v1").status == 201);
    struct Row {
        std::string what, authorization;
        int status;
    };
    const std::vector<Row> rows{
        {"no token", "", 401},
        {"the API token as a bearer", "Bearer " + kFixtureApiToken, 200},
        {"the read token as a bearer", "Bearer " + kFixtureReadToken, 200},
        {"basic auth, the API token as the password", "Basic " + base64("oncall:" + kFixtureApiToken), 200},
        {"basic auth, any user name", "Basic " + base64(":" + kFixtureApiToken), 200},
        {"basic auth, the read token as the password", "Basic " + base64("x:" + kFixtureReadToken), 200},
        {"basic auth, the token as the user name", "Basic " + base64(kFixtureApiToken + ":"), 401},
        {"basic auth, a wrong password", "Basic " + base64("oncall:wrong"), 401},
        {"a wrong bearer", "Bearer wrong", 401},
        {"the webhook token", "Bearer " + kFixtureWebhookToken, 401},
    };
    for (const std::string path : {"/", "/deployments/d1"}) {
        for (const Row& row : rows) {
            CAPTURE(path);
            CAPTURE(row.what);
            const RawHttpResponse response = get_with_authorization(receiver, path, row.authorization);
            CHECK(response.status == row.status);
            CHECK(header_value(response.head, "Content-Type") == "text/html; charset=utf-8");
            CHECK(header_value(response.head, "X-Content-Type-Options") == "nosniff");
            CHECK(header_value(response.head, "Cache-Control") == "no-store");
            const std::string policy = header_value(response.head, "Content-Security-Policy");
            CHECK(policy.find("default-src 'none'") != std::string::npos);
            CHECK(policy.find("script-src") == std::string::npos); // no script at all
            if (row.status == 401) {
                CHECK(header_value(response.head, "WWW-Authenticate") == "Basic realm=\"rollback-receiver\"");
                CHECK(response.body.find("d1") == std::string::npos); // nothing of the ledger shows
                CHECK(response.body.find("auth.api_token_file") != std::string::npos);
            } else {
                CHECK(response.body.find("<a href=\"/deployments/d1\">d1</a>") != std::string::npos);
            }
        }
    }
}

TEST_CASE("GET /deployments/{id}: the deployment's page with its trail; an unknown id is a 404 page") {
    TestReceiver receiver;
    receiver.start();
    REQUIRE(receiver.record("d1", "checkout", "v2", "v1").status == 201);
    const std::string bearer = "Bearer " + kFixtureApiToken;
    const RawHttpResponse known = get_with_authorization(receiver, "/deployments/d1", bearer);
    CHECK(known.status == 200);
    CHECK(known.body.find("<h2>Deployment <code>d1</code></h2>") != std::string::npos);
    CHECK(known.body.find("deployment_recorded") != std::string::npos);
    CHECK(known.body.find("left, until ") != std::string::npos); // its watch window
    for (const std::string id : {"nope", "d%31x", "%3Cscript%3E"}) {
        CAPTURE(id);
        const RawHttpResponse unknown = get_with_authorization(receiver, "/deployments/" + id, bearer);
        CHECK(unknown.status == 404);
        CHECK(header_value(unknown.head, "Content-Type") == "text/html; charset=utf-8");
        CHECK(unknown.body.find("<h2>Unknown deployment</h2>") != std::string::npos);
        CHECK(unknown.body.find("<script>") == std::string::npos);
    }
    CHECK(get_with_authorization(receiver, "/deployments/%3Cscript%3E", bearer).body.find("&lt;script&gt;") !=
          std::string::npos);
}

TEST_CASE("GET /?service= shows only that service; a hostile version shows as text") {
    TestReceiver receiver;
    receiver.start();
    REQUIRE(receiver.record("c1", "checkout", "v2", "v1").status == 201);
    REQUIRE(receiver.record("s1", "search", "<script>alert(1)</script>", "v1").status == 201);
    REQUIRE(receiver.api("POST", "/api/v1/services/search/pause", R"({"reason":"incident 7","actor":"bob"})")
                .status == 200);
    const std::string bearer = "Bearer " + kFixtureApiToken;
    const RawHttpResponse all = get_with_authorization(receiver, "/", bearer);
    REQUIRE(all.status == 200);
    CHECK(all.body.find("<a href=\"/deployments/c1\">c1</a>") != std::string::npos);
    CHECK(all.body.find("<a href=\"/deployments/s1\">s1</a>") != std::string::npos);
    CHECK(all.body.find("<script") == std::string::npos);
    CHECK(all.body.find("&lt;script&gt;alert(1)&lt;/script&gt;") != std::string::npos);
    CHECK(all.body.find("<td data-label=\"paused by\">bob</td><td data-label=\"why\">incident 7</td>") !=
          std::string::npos);
    CHECK(all.body.find("Under watch (2)") != std::string::npos);

    const RawHttpResponse checkout = get_with_authorization(receiver, "/?service=checkout", bearer);
    REQUIRE(checkout.status == 200);
    CHECK(checkout.body.find("/deployments/c1") != std::string::npos);
    CHECK(checkout.body.find("/deployments/s1") == std::string::npos);
    CHECK(checkout.body.find("incident 7") == std::string::npos);
    CHECK(checkout.body.find("Under watch (1)") != std::string::npos);
    CHECK(checkout.body.find("<option value=\"checkout\" selected>") != std::string::npos);
    CHECK(checkout.body.find("<option value=\"search\">") != std::string::npos); // still a choice

    const RawHttpResponse none = get_with_authorization(receiver, "/?service=nothing-here", bearer);
    CHECK(none.status == 200);
    CHECK(none.body.find("The trail is empty.") != std::string::npos);
    CHECK(get_with_authorization(receiver, "/?service=a%01b", bearer).status == 400);
}

TEST_CASE("GET /deployments/{id} with prometheus.url: the alert's expression charted from Prometheus; "
          "Prometheus away, the page still answers with one line saying so") {
    const auto now =
        std::chrono::duration_cast<std::chrono::seconds>(Clock::now().time_since_epoch()).count();
    const std::string answer =
        R"({"status":"success","data":{"resultType":"matrix","result":[{"metric":{"job":"<checkout>"},"values":[)"
        "[" +
        std::to_string(now - 120) + ",\"0.5\"],[" + std::to_string(now - 60) + ",\"2.5\"]]}]}}";
    auto prometheus = std::make_unique<FakePrometheus>(answer);
    const std::string prometheus_url = prometheus->url();
    TestReceiver receiver(ReceiverSetup{}.with_top_level("prometheus: {url: " + prometheus_url + "}\n"));
    receiver.start();
    REQUIRE(receiver.record("d1", "checkout", "v2", "v1").status == 201);
    REQUIRE(receiver
                .webhook(firing_notification_for("checkout", Clock::now() + std::chrono::seconds(1),
                                                 "c0ffee0000000001"))
                .status == 200);
    REQUIRE(receiver.wait_for_state("d1", {"rolled_back"}) == "rolled_back");

    const std::string bearer = "Bearer " + kFixtureApiToken;
    const RawHttpResponse page = get_with_authorization(receiver, "/deployments/d1", bearer);
    CHECK(page.status == 200);
    CHECK(page.body.find("<section id=\"chart-section\">") != std::string::npos);
    CHECK(page.body.find("<svg xmlns=\"http://www.w3.org/2000/svg\"") != std::string::npos);
    CHECK(page.body.find("<polyline class=\"series\"") != std::string::npos);
    CHECK(page.body.find("<code>{job=&quot;&lt;checkout&gt;&quot;}</code>") != std::string::npos);
    CHECK(page.body.find(">deployed ") != std::string::npos);
    CHECK(page.body.find(">rollback started ") != std::string::npos);
    CHECK(header_value(page.head, "Content-Security-Policy").find("default-src 'none'") == 0);
    // The expression (the fixture's generatorURL has g0.expr=x) went to the configured Prometheus, encoded.
    const auto asked = prometheus->requests();
    REQUIRE(asked.size() == 1);
    CHECK(asked[0].method == "GET");
    CHECK(asked[0].path == "/api/v1/query_range");
    CHECK(asked[0].query.at("query") == "x");
    const long long start = std::stoll(asked[0].query.at("start"));
    const long long end = std::stoll(asked[0].query.at("end"));
    CHECK(end - start >= 600);
    CHECK(end <= now + 60);
    CHECK((end - start) / std::stoll(asked[0].query.at("step")) <= 301);

    prometheus.reset(); // Prometheus away: the page still answers, and says so in one line
    const auto before = Clock::now();
    const RawHttpResponse away = get_with_authorization(receiver, "/deployments/d1", bearer);
    CHECK(Clock::now() - before < std::chrono::seconds(5));
    CHECK(away.status == 200);
    CHECK(away.body.find("<p id=\"chart-problem\">Prometheus at " + prometheus_url +
                         " could not be reached: ") != std::string::npos);
    CHECK(away.body.find("<svg") == std::string::npos);
    CHECK(away.body.find("<h2>Deployment <code>d1</code></h2>") != std::string::npos);
}
