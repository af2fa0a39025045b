// Unit tests for the HTTP adapter: a real HttpServer on 127.0.0.1:0, the http_request client, body limits,
// stopping, and the loopback check that decides whether tokens are required.
#include "core/http.hpp"

#include "core/unique_fd.hpp"

#include <doctest/doctest.h>
#include <nlohmann/json.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <cctype>
#include <chrono>
#include <cstdio>
#include <future>
#include <memory>
#include <string>
#include <thread>
#include <vector>

namespace rollback {
namespace {

using json = nlohmann::json;
using namespace std::chrono_literals;

const std::string kTooLarge = R"({"error":"the body is larger than 1024 bytes; send a smaller request"})";
constexpr std::size_t kMaxBody = 1024;

// Answers every request with what it received, as JSON. /status/<n> answers with status n.
HttpResponse echo(const HttpRequest& request) {
    json headers = json::object();
    for (const auto& [name, value] : request.headers)
        headers[name] = value;
    HttpResponse response;
    response.body = json{
        {"method", request.method},
        {"path", request.path},
        {"query", request.query},
        {"headers", headers},
        {"body",
         request.body}}.dump();
    if (request.path.rfind("/status/", 0) == 0) response.status = std::stoi(request.path.substr(8));
    response.headers.emplace_back("X-Echo", "yes");
    return response;
}

// An HttpServer bound to 127.0.0.1:0 and serving on its own thread; stops and joins at the end.
class RunningServer {
  public:
    explicit RunningServer(HttpHandler handler = echo)
        : server_(std::make_unique<HttpServer>(std::move(handler), kMaxBody, kTooLarge)) {
        auto port = server_->bind(ListenAddress{"127.0.0.1", 0});
        REQUIRE_MESSAGE(port.ok(), (port.ok() ? "" : port.error()));
        port_ = *port;
        serving_ = std::async(std::launch::async, [this] { server_->serve(); });
    }
    ~RunningServer() { stop(); }
    RunningServer(const RunningServer&) = delete;
    RunningServer& operator=(const RunningServer&) = delete;

    int port() const { return port_; }
    std::string base_url() const { return "http://127.0.0.1:" + std::to_string(port_); }

    // Stops the server; true when serve() returned within 5 s.
    bool stop() {
        if (!serving_.valid()) return true;
        server_->stop();
        const bool returned = serving_.wait_for(5s) == std::future_status::ready;
        if (returned) serving_.get();
        return returned;
    }

  private:
    std::unique_ptr<HttpServer> server_;
    int port_ = 0;
    std::future<void> serving_;
};

// The length an HTTP response will have once complete, or npos while its head has not all arrived.
std::size_t expected_response_size(const std::string& answer) {
    const auto head_end = answer.find("\r\n\r\n");
    if (head_end == std::string::npos) return std::string::npos;
    std::string head = answer.substr(0, head_end);
    for (char& c : head)
        c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    const auto length = head.find("\r\ncontent-length:");
    const std::size_t body = length == std::string::npos ? 0 : std::stoul(head.substr(length + 17));
    return head_end + 4 + body;
}

// Sends raw bytes on a fresh connection and returns the server's first answer (complete, by its
// Content-Length), or whatever arrived before the server closed the connection.
std::string raw_exchange(int port, const std::string& request) {
    UniqueFd socket_fd(::socket(AF_INET, SOCK_STREAM, 0));
    REQUIRE(socket_fd.valid());
    timeval timeout{5, 0};
    ::setsockopt(socket_fd.get(), SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(static_cast<std::uint16_t>(port));
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(::connect(socket_fd.get(), reinterpret_cast<const sockaddr*>(&address), sizeof address) == 0);
    std::size_t sent = 0;
    while (sent < request.size()) {
        const auto written =
            ::send(socket_fd.get(), request.data() + sent, request.size() - sent, MSG_NOSIGNAL);
        if (written <= 0) break; // the server may close early (e.g. after a 413); read what it said
        sent += static_cast<std::size_t>(written);
    }
    std::string answer;
    char buffer[4096];
    while (true) {
        const auto received = ::recv(socket_fd.get(), buffer, sizeof buffer, 0);
        if (received <= 0) break;
        answer.append(buffer, static_cast<std::size_t>(received));
        if (answer.size() >= expected_response_size(answer)) break;
    }
    return answer;
}

// True when nothing listens on the port: a connection is refused (not accepted and left unanswered).
bool port_is_closed(int port) {
    const auto response = http_request("http://127.0.0.1:" + std::to_string(port), "GET", "/", {}, {}, 2);
    CAPTURE(response.error);
    return response.status == 0 && response.error == "Connection";
}

std::string chunked(const std::string& body) {
    char size[32];
    std::snprintf(size, sizeof size, "%zx", body.size());
    return std::string(size) + "\r\n" + body + "\r\n0\r\n\r\n";
}

TEST_CASE("GET with a query string reaches the handler with method, path and decoded parameters") {
    RunningServer server;
    const auto response = http_request(server.base_url(), "GET",
                                       "/api/v1/deployments?service=checkout&limit=5&"
                                       "environment=prod%2Feu");
    REQUIRE_MESSAGE(response.status == 200, response.error);
    const json echoed = json::parse(response.body);
    CHECK(echoed["method"] == "GET");
    CHECK(echoed["path"] == "/api/v1/deployments");
    CHECK(echoed["query"] == json{{"service", "checkout"}, {"limit", "5"}, {"environment", "prod/eu"}});
    CHECK(echoed["body"] == "");
}

TEST_CASE("POST carries its body to the handler unchanged, and the handler's status comes back") {
    RunningServer server;
    const std::string body = R"({"service":"checkout","version":"v2","note":"caf\u00e9 \n"})";
    const auto response = http_request(server.base_url(), "POST", "/api/v1/deployments", body);
    REQUIRE_MESSAGE(response.status == 200, response.error);
    const json echoed = json::parse(response.body);
    CHECK(echoed["method"] == "POST");
    CHECK(echoed["path"] == "/api/v1/deployments");
    CHECK(echoed["body"] == body);
    CHECK(echoed["headers"]["content-type"] == "application/json");

    const auto created = http_request(server.base_url(), "POST", "/status/201", "{}");
    CHECK(created.status == 201);
    const auto missing = http_request(server.base_url(), "GET", "/status/404");
    CHECK(missing.status == 404);
    CHECK(json::parse(missing.body)["path"] == "/status/404"); // the handler's own body, untouched
    for (const std::string method : {"PUT", "DELETE", "PATCH"}) {
        CAPTURE(method);
        const auto other = http_request(server.base_url(), method, "/x", "{}");
        REQUIRE_MESSAGE(other.status == 200, other.error);
        CHECK(json::parse(other.body)["method"] == method);
    }
}

TEST_CASE("header names reach the handler lower-cased, values as sent") {
    RunningServer server;
    const auto response = http_request(server.base_url(), "POST", "/webhook", "{}",
                                       {{"Authorization", "Bearer example-webhook-token"},
                                        {"X-Custom-Header", "Mixed Case Value"},
                                        {"USER-AGENT", "Alertmanager/0.25.0"}});
    REQUIRE_MESSAGE(response.status == 200, response.error);
    const json headers = json::parse(response.body)["headers"];
    CAPTURE(headers.dump());
    CHECK(headers["authorization"] == "Bearer example-webhook-token");
    CHECK(headers["x-custom-header"] == "Mixed Case Value");
    CHECK(headers["user-agent"] == "Alertmanager/0.25.0");
    for (const auto& [name, value] : headers.items()) {
        CAPTURE(name);
        for (const char c : name)
            CHECK_FALSE((c >= 'A' && c <= 'Z'));
    }
}

TEST_CASE("a body over max_body_bytes gets 413 with the given JSON body; one at the limit passes") {
    RunningServer server;
    const auto at_limit = http_request(server.base_url(), "POST", "/webhook", std::string(kMaxBody, 'a'));
    REQUIRE_MESSAGE(at_limit.status == 200, at_limit.error);
    CHECK(json::parse(at_limit.body)["body"].get<std::string>().size() == kMaxBody);

    const auto too_large =
        http_request(server.base_url(), "POST", "/webhook", std::string(kMaxBody + 1, 'a'));
    CHECK(too_large.status == 413);
    CHECK(too_large.body == kTooLarge);

    const auto much_larger = http_request(server.base_url(), "POST", "/webhook", std::string(200'000, 'b'));
    CHECK(much_larger.status == 413);
    CHECK(much_larger.body == kTooLarge);

    // The server still answers normally afterwards.
    const auto after = http_request(server.base_url(), "GET", "/-/healthy");
    CHECK(after.status == 200);
}

TEST_CASE("a chunked body over max_body_bytes also gets 413 and never reaches the handler") {
    std::atomic<int> handled{0};
    RunningServer server([&handled](const HttpRequest& request) {
        ++handled;
        return echo(request);
    });
    const std::string head = "POST /webhook HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                             "Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n";
    const std::string small = raw_exchange(server.port(), head + chunked("{\"a\":1}"));
    CAPTURE(small);
    CHECK(small.rfind("HTTP/1.1 200", 0) == 0);
    CHECK(handled == 1);

    const std::string large = raw_exchange(server.port(), head + chunked(std::string(kMaxBody + 1, 'x')));
    CAPTURE(large);
    CHECK(large.rfind("HTTP/1.1 413", 0) == 0);
    CHECK(large.find(kTooLarge) != std::string::npos);
    CHECK(handled == 1);
}

TEST_CASE("the handler's extra headers and content type are sent") {
    RunningServer server([](const HttpRequest&) {
        HttpResponse response;
        response.status = 401;
        response.body = R"({"error":"missing or wrong bearer token"})";
        response.headers.emplace_back("WWW-Authenticate", "Bearer");
        return response;
    });
    const std::string answer =
        raw_exchange(server.port(), "GET /api/v1/audit HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    CAPTURE(answer);
    CHECK(answer.rfind("HTTP/1.1 401", 0) == 0);
    CHECK(answer.find("\r\nWWW-Authenticate: Bearer\r\n") != std::string::npos);
    CHECK(answer.find("\r\nContent-Type: application/json\r\n") != std::string::npos);
    CHECK(answer.find(R"({"error":"missing or wrong bearer token"})") != std::string::npos);
}

TEST_CASE("a request line httplib cannot read gets a JSON error body, not an HTML page") {
    RunningServer server;
    const std::string answer = raw_exchange(server.port(), "NOT A VALID REQUEST LINE AT ALL\r\n\r\n");
    CAPTURE(answer);
    CHECK(answer.rfind("HTTP/1.1 400", 0) == 0);
    const auto body_start = answer.find("\r\n\r\n");
    REQUIRE(body_start != std::string::npos);
    const json body = json::parse(answer.substr(body_start + 4));
    CHECK(body["error"].is_string());
}

TEST_CASE("stop() ends serve() and the serving thread joins") {
    RunningServer server;
    REQUIRE(http_request(server.base_url(), "GET", "/").status == 200);
    CHECK(server.stop());
    CHECK(port_is_closed(server.port())); // nothing listens any more
}

TEST_CASE("stop() right after the serving thread starts still ends serve()") {
    // SIGTERM can arrive before the serving thread has entered its accept loop.
    for (int round = 0; round < 20; ++round) {
        CAPTURE(round);
        RunningServer server;
        CHECK(server.stop());
    }
}

TEST_CASE("stop() before serve() makes serve() return at once instead of serving forever") {
    HttpServer server(echo, kMaxBody, kTooLarge);
    const auto port = server.bind(ListenAddress{"127.0.0.1", 0});
    REQUIRE(port.ok());
    server.stop();
    auto serving = std::async(std::launch::async, [&server] { server.serve(); });
    const bool returned = serving.wait_for(5s) == std::future_status::ready;
    CHECK_MESSAGE(returned, "serve() kept running after stop()");
    if (!returned) server.stop(); // it is running now: this unblocks it so the test can end
    serving.wait();
    CHECK(port_is_closed(*port));
}

TEST_CASE("a server that was bound but never served releases its port when destroyed") {
    int port = 0;
    {
        HttpServer server(echo, kMaxBody, kTooLarge);
        const auto bound = server.bind(ListenAddress{"127.0.0.1", 0});
        REQUIRE(bound.ok());
        port = *bound;
    }
    CHECK(port_is_closed(port));
}

TEST_CASE("bind reports an address that cannot be used") {
    RunningServer first;
    HttpServer second(echo, kMaxBody, kTooLarge);
    const auto taken = second.bind(ListenAddress{"127.0.0.1", first.port()});
    REQUIRE_FALSE(taken.ok());
    CHECK(taken.error().find("127.0.0.1:" + std::to_string(first.port())) != std::string::npos);
}

TEST_CASE("http_request reports a refused connection with status 0 and a reason") {
    int free_port = 0;
    {
        RunningServer probe;
        free_port = probe.port();
    } // stopped: the port is closed again
    CHECK(port_is_closed(free_port));
    const auto unsupported = http_request("http://127.0.0.1:1", "TRACE", "/");
    CHECK(unsupported.status == 0);
    CHECK(unsupported.error.find("TRACE") != std::string::npos);
}

TEST_CASE("is_loopback_host is true only for addresses that cannot be reached from another machine") {
    struct Row {
        std::string host;
        bool loopback;
    };
    const std::vector<Row> rows{
        {"127.0.0.1", true},
        {"127.1.2.3", true},
        {"127.255.255.254", true},
        {"localhost", true},
        {"::1", true},
        {"0:0:0:0:0:0:0:1", true},
        {"", false}, // all interfaces
        {"0.0.0.0", false},
        {"::", false},
        {"192.168.1.10", false},
        {"10.0.0.1", false},
        {"128.0.0.1", false},
        {"1.127.0.0", false},
        {"::2", false},
        // Host names that merely start like a loopback address resolve wherever their DNS says.
        {"127.example.com", false},
        {"127.0.0.1.nip.io", false},
        {"localhost.example.com", false},
        {"127.0.0.1 ", false},
    };
    for (const auto& row : rows) {
        CAPTURE(row.host);
        CHECK(is_loopback_host(row.host) == row.loopback);
    }
}

} // namespace
} // namespace rollback
