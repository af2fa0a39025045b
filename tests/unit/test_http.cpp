// Unit tests for the HTTP adapter: HttpServer (HTTP, HTTPS, mutual TLS), http_request, NetworkHttpCaller.
#include "http/client.hpp"
#include "http/request_framing.hpp"
#include "http/server.hpp"

#include "common/unique_fd.hpp"
#include "common/url.hpp"

#include "support/child_process.hpp"
#include "support/temp_dir.hpp"
#include "support/test_certificates.hpp"

#include <doctest/doctest.h>
#include <nlohmann/json.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>

#include <cctype>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <future>
#include <map>
#include <memory>
#include <mutex>
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
// With tls.cert_file and key_file it serves HTTPS.
class RunningServer {
  public:
    explicit RunningServer(HttpHandler handler = echo, const TlsSettings& tls = {},
                           const HttpServerLimits& limits = {})
        : server_(std::make_unique<HttpServer>(std::move(handler), kMaxBody, kTooLarge, tls, limits)),
          scheme_(tls.serves_https() ? "https" : "http") {
        auto port = server_->bind(ListenAddress{"127.0.0.1", 0});
        REQUIRE_MESSAGE(port.ok(), (port.ok() ? "" : port.error()));
        port_ = *port;
        serving_ = std::async(std::launch::async, [this] { server_->serve(); });
    }
    ~RunningServer() { stop(); }
    RunningServer(const RunningServer&) = delete;
    RunningServer& operator=(const RunningServer&) = delete;

    int port() const { return port_; }
    std::string base_url() const { return scheme_ + "://127.0.0.1:" + std::to_string(port_); }

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
    std::string scheme_;
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
// Content-Length), or whatever arrived before the server closed the connection. With closed_after: whether
// the server then closed the connection (within the 5 s receive timeout).
std::string raw_exchange(int port, const std::string& request, bool* closed_after = nullptr) {
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
    if (closed_after != nullptr) *closed_after = ::recv(socket_fd.get(), buffer, sizeof buffer, 0) == 0;
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

double seconds_since(std::chrono::steady_clock::time_point start) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

bool contains(const std::string& text, const std::string& part) {
    return text.find(part) != std::string::npos;
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

// httplib reads chunked bodies, bodies without a length and compressed bodies (inflating them) whole before
// any limit applies, so the server refuses them before reading: the handler never runs, and the connection
// is closed after the answer so the unread body is never taken for a next request.
TEST_CASE("chunked (411) and compressed (415) bodies are refused unread, the connection closed") {
    std::atomic<int> handled{0};
    RunningServer server([&handled](const HttpRequest& request) {
        ++handled;
        return echo(request);
    });
    const std::string head =
        "POST /webhook HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n";
    struct Refused {
        std::string name;
        std::string request;
        std::string status_line;
        std::string error;
    };
    const std::vector<Refused> table{
        {"chunked, small", head + "Transfer-Encoding: chunked\r\n\r\n" + chunked("{\"a\":1}"), "HTTP/1.1 411",
         "Transfer-Encoding is not accepted; send the body with a Content-Length"},
        {"chunked, over the limit",
         head + "Transfer-Encoding: chunked\r\n\r\n" + chunked(std::string(kMaxBody + 1, 'x')),
         "HTTP/1.1 411", "Transfer-Encoding is not accepted"},
        {"gzip", head + "Content-Encoding: gzip\r\nContent-Length: 4\r\n\r\nabcd", "HTTP/1.1 415",
         "Content-Encoding is not accepted; send the body uncompressed"},
        {"deflate", head + "Content-Encoding: deflate\r\nContent-Length: 4\r\n\r\nabcd", "HTTP/1.1 415",
         "Content-Encoding is not accepted"},
    };
    for (const Refused& refused : table) {
        CAPTURE(refused.name);
        // No "Connection: close" from the client: the server closes by itself.
        bool closed = false;
        const std::string answer = raw_exchange(server.port(), refused.request, &closed);
        CAPTURE(answer);
        CHECK(closed);
        CHECK(answer.rfind(refused.status_line, 0) == 0);
        CHECK(answer.find(refused.error) != std::string::npos);
        CHECK(answer.find("Connection: close") != std::string::npos);
    }
    CHECK(handled == 0);

    // Content-Encoding: identity is no encoding at all.
    const std::string identity =
        raw_exchange(server.port(), head + "Content-Encoding: identity\r\nContent-Length: 2\r\nConnection: "
                                           "close\r\n\r\n{}");
    CAPTURE(identity);
    CHECK(identity.rfind("HTTP/1.1 200", 0) == 0);
    CHECK(handled == 1);
}

// ---- Bounds and framing of requests: RequestFraming, and the server's reading stage --------------------

// A request line of exactly `size` bytes with its CRLF.
std::string request_line_of(std::size_t size) {
    const std::string start = "GET /";
    const std::string end = " HTTP/1.1\r\n";
    return start + std::string(size - start.size() - end.size(), 'p') + end;
}

// A header line of exactly `size` bytes with its CRLF.
std::string header_line_of(std::size_t size, int index = 0) {
    const std::string name = "X-Fill-" + std::to_string(index) + ": ";
    return name + std::string(size - name.size() - 2, 'v') + "\r\n";
}

// Header lines (the first `first`, then fillers of at most 8 KiB) and the empty line: `size` bytes in all.
std::string header_section_of(std::size_t size, const std::string& first = "Host: x\r\n") {
    std::string lines = first;
    std::size_t left = size - first.size() - 2;
    for (int index = 0; left > 0; ++index) {
        std::size_t line = std::min(left, kMaxHeaderLineBytes);
        if (left > line && left - line < 32) line -= 32; // the last line needs room for its name
        lines += header_line_of(line, index);
        left -= line;
    }
    return lines + "\r\n";
}

// `count` header lines "X-N: v" and the empty line.
std::string header_lines(std::size_t count) {
    std::string lines;
    for (std::size_t i = 0; i < count; ++i)
        lines += "X-" + std::to_string(i) + ": v\r\n";
    return lines + "\r\n";
}

std::string repeated(const std::string& part, std::size_t times) {
    std::string text;
    for (std::size_t i = 0; i < times; ++i)
        text += part;
    return text;
}

TEST_CASE("RequestFraming: where a request ends, and the heads it refuses, whole or fed a byte at a time") {
    using Kind = FramingVerdict::Kind;
    struct Row {
        std::string name;
        std::string bytes;
        Kind kind;
        int status = 0;             // refused
        std::size_t size = 0;       // complete: the request's length (0: all the bytes; more: pipelining)
        std::size_t refused_by = 0; // refused: at most this many bytes looked at (0: all of them)
    };
    const std::string get = "GET / HTTP/1.1\r\nHost: x\r\n";
    const std::string post = "POST /webhook HTTP/1.1\r\nHost: x\r\n";
    const std::string line_8k = request_line_of(kMaxRequestLineBytes);
    const std::string headers_64k = header_section_of(kMaxHeaderSectionBytes);
    const std::vector<Row> rows{
        {"a GET", get + "\r\n", Kind::complete},
        {"a GET and the start of the next", get + "\r\nGET /next", Kind::complete, 0, get.size() + 2},
        {"a POST with its body and a pipelined request",
         post + "Content-Length: 5\r\n\r\nhelloGET / HTTP/1.1\r\n\r\n", Kind::complete, 0,
         post.size() + 21 + 5},
        {"a POST without Content-Length has no body", post + "\r\n{}", Kind::complete, 0, post.size() + 2},
        {"a body not all here", post + "Content-Length: 5\r\n\r\nhell", Kind::need_more},
        {"a head not all here", get + "X-Late: 1\r\n", Kind::need_more},
        {"header names in any case, values trimmed", post + "content-LENGTH: \t 2 \t\r\n\r\n{}",
         Kind::complete},
        {"the same Content-Length twice", post + "Content-Length: 2\r\nContent-Length: 02\r\n\r\n{}",
         Kind::complete},
        {"a body at the limit", post + "Content-Length: 1024\r\n\r\n" + std::string(1024, 'b'),
         Kind::complete, 0, post.size() + 24 + 1024},
        {"a tab in a header value", get + "X-Tab: a\tb\r\n\r\n", Kind::complete, 0, get.size() + 14},
        {"bytes over 0x7f in a header value", get + "X-Text: caf\xc3\xa9\r\n\r\n", Kind::complete, 0,
         get.size() + 17},
        {"Content-Encoding: identity", post + "Content-Encoding: Identity\r\nContent-Length: 0\r\n\r\n",
         Kind::complete, 0, post.size() + 49},
        {"a request line of 8 KiB", line_8k + "\r\n", Kind::complete, 0, line_8k.size() + 2},
        {"a request line of 8 KiB + 1", request_line_of(kMaxRequestLineBytes + 1) + "\r\n", Kind::refused,
         414},
        {"a request line without an end", "GET /" + std::string(20000, 'u'), Kind::refused, 414, 0,
         kMaxRequestLineBytes - 1},
        {"a header line of 8 KiB", "GET / HTTP/1.1\r\n" + header_line_of(kMaxHeaderLineBytes) + "\r\n",
         Kind::complete, 0, 16 + kMaxHeaderLineBytes + 2},
        {"a header line of 8 KiB + 1",
         "GET / HTTP/1.1\r\n" + header_line_of(kMaxHeaderLineBytes + 1) + "\r\n", Kind::refused, 431},
        {"a header line without an end", "GET / HTTP/1.1\r\nX-Long: " + std::string(20000, 'h'),
         Kind::refused, 431, 0, 16 + kMaxHeaderLineBytes - 1},
        {"headers of 64 KiB", "GET / HTTP/1.1\r\n" + headers_64k, Kind::complete, 0,
         16 + kMaxHeaderSectionBytes},
        {"headers of 64 KiB + 1", "GET / HTTP/1.1\r\n" + header_section_of(kMaxHeaderSectionBytes + 1),
         Kind::refused, 431},
        {"100 header lines", "GET / HTTP/1.1\r\n" + header_lines(100), Kind::complete, 0,
         16 + header_lines(100).size()},
        {"101 header lines", "GET / HTTP/1.1\r\n" + header_lines(101), Kind::refused, 431},
        {"short header lines without an end",
         "GET / HTTP/1.1\r\n" + repeated("X-Many: 0123456789abcdef\r\n", 5000), Kind::refused, 431, 0,
         16 + 101 * 26},
        {"a bare LF ending the request line", "GET / HTTP/1.1\nHost: x\n\n", Kind::refused, 400, 0, 15},
        {"a bare LF ending a header line", "GET / HTTP/1.1\r\nHost: x\nX: y\r\n\r\n", Kind::refused, 400},
        {"a bare LF as the empty line", get + "\n", Kind::refused, 400},
        {"a CR without LF", "GET / HTTP/1.1\r\nHost: x\rX: y\r\n\r\n", Kind::refused, 400},
        {"NUL in a header value", get + "X-Nul: a" + std::string(1, '\0') + "b\r\n\r\n", Kind::refused, 400},
        {"NUL in a header name", get + "X-N" + std::string(1, '\0') + "ul: a\r\n\r\n", Kind::refused, 400},
        {"NUL in the request line", "GET /a" + std::string(1, '\0') + " HTTP/1.1\r\n\r\n", Kind::refused,
         400},
        {"a control character in a header value", get + "X-Bell: \x07\r\n\r\n", Kind::refused, 400},
        {"DEL in a header value", get + "X-Del: \x7f\r\n\r\n", Kind::refused, 400},
        {"a tab in the request line", "GET\t/ HTTP/1.1\r\n\r\n", Kind::refused, 400},
        {"a TLS client hello on plain HTTP", "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03", Kind::refused,
         400, 0, 1},
        {"a request line that starts with a space", " GET / HTTP/1.1\r\n\r\n", Kind::refused, 400, 0, 1},
        {"an empty request line", "\r\nGET / HTTP/1.1\r\n\r\n", Kind::refused, 400, 0, 2},
        {"a request line of one word", "GET\r\n\r\n", Kind::refused, 400},
        {"obsolete line folding", get + "X-Folded: a\r\n b\r\n\r\n", Kind::refused, 400},
        {"a header line without a colon", get + "X-No-Colon\r\n\r\n", Kind::refused, 400},
        {"white space before the colon", post + "Content-Length : 2\r\n\r\n{}", Kind::refused, 400},
        {"an empty header name", get + ": value\r\n\r\n", Kind::refused, 400},
        {"Content-Length: abc", post + "Content-Length: abc\r\n\r\n", Kind::refused, 400},
        {"Content-Length: 1e3", post + "Content-Length: 1e3\r\n\r\n{}", Kind::refused, 400},
        {"Content-Length: -1", post + "Content-Length: -1\r\n\r\n", Kind::refused, 400},
        {"Content-Length: +5", post + "Content-Length: +5\r\n\r\nhello", Kind::refused, 400},
        {"Content-Length: 5, 5", post + "Content-Length: 5, 5\r\n\r\nhello", Kind::refused, 400},
        {"an empty Content-Length", post + "Content-Length:\r\n\r\n", Kind::refused, 400},
        {"two different Content-Lengths", post + "Content-Length: 2\r\nContent-Length: 30\r\n\r\n{}",
         Kind::refused, 400},
        {"Content-Length over the limit", post + "Content-Length: 1025\r\n\r\n", Kind::refused, 413},
        {"Content-Length too large for any integer", post + "Content-Length: 99999999999999999999\r\n\r\n",
         Kind::refused, 413},
        {"Transfer-Encoding", post + "Transfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n", Kind::refused,
         411},
        {"Transfer-Encoding with Content-Length",
         post + "Transfer-Encoding: chunked\r\nContent-Length: 2\r\n\r\n", Kind::refused, 400},
        {"Content-Length with Transfer-Encoding",
         post + "Content-Length: 2\r\nTransfer-Encoding: chunked\r\n\r\n", Kind::refused, 400},
        {"Content-Encoding: gzip", post + "Content-Encoding: gzip\r\nContent-Length: 2\r\n\r\n{}",
         Kind::refused, 415},
    };
    for (const Row& row : rows) {
        CAPTURE(row.name);
        RequestFraming whole(kMaxBody);
        const FramingVerdict verdict = whole.scan(row.bytes);
        CHECK(verdict.kind == row.kind);
        CHECK(verdict.status == row.status);
        const std::size_t size = row.size != 0 ? row.size : row.bytes.size();
        if (row.kind == Kind::complete) CHECK(whole.request_size() == size);
        if (row.kind == Kind::refused) CHECK_FALSE(verdict.error.empty());

        // Fed a byte at a time: the same verdict, a complete request at its last byte, a refusal as early.
        RequestFraming piecemeal(kMaxBody);
        FramingVerdict last;
        std::size_t fed = 0;
        while (fed < row.bytes.size() && last.kind == Kind::need_more)
            last = piecemeal.scan(std::string_view(row.bytes).substr(0, ++fed));
        CHECK(last.kind == row.kind);
        CHECK(last.status == row.status);
        if (row.kind == Kind::complete) CHECK(fed == size);
        if (row.refused_by != 0) CHECK(fed <= row.refused_by);
    }
}

TEST_CASE("RequestFraming: Expect: 100-continue is noted when a body is to come; reset() starts over") {
    RequestFraming framing(kMaxBody);
    const std::string head = "POST /x HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\n";
    CHECK(framing.scan(head).kind == FramingVerdict::Kind::need_more);
    CHECK(framing.head_complete());
    CHECK(framing.head_size() == head.size());
    CHECK(framing.body_size() == 2);
    CHECK(framing.expects_continue());
    CHECK(framing.scan(head + "{}").kind == FramingVerdict::Kind::complete);
    framing.reset();
    CHECK_FALSE(framing.head_complete());
    CHECK(framing.scan("POST /x HTTP/1.1\r\nExpect: 100-continue\r\n\r\n").kind ==
          FramingVerdict::Kind::complete);
    CHECK_FALSE(framing.expects_continue()); // no body: nothing to wait for
}

// A raw loopback connection for tests that send a request in parts and read the answers as they come.
class RawClient {
  public:
    explicit RawClient(int port) : socket_(::socket(AF_INET, SOCK_STREAM, 0)) {
        REQUIRE(socket_.valid());
        sockaddr_in address{};
        address.sin_family = AF_INET;
        address.sin_port = htons(static_cast<std::uint16_t>(port));
        address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        REQUIRE(::connect(socket_.get(), reinterpret_cast<const sockaddr*>(&address), sizeof address) == 0);
    }

    // False once the server closed the connection.
    bool send(std::string_view bytes) {
        while (!bytes.empty()) {
            const auto sent = ::send(socket_.get(), bytes.data(), bytes.size(), MSG_NOSIGNAL);
            if (sent <= 0) return false;
            bytes.remove_prefix(static_cast<std::size_t>(sent));
        }
        return true;
    }

    // The next `count` whole answers (a "100 Continue" is one), fewer if the server closed the connection
    // or `limit` passed first.
    std::vector<std::string> answers(std::size_t count, std::chrono::milliseconds limit) {
        const auto until = std::chrono::steady_clock::now() + limit;
        std::vector<std::string> found;
        while (true) {
            for (auto size = expected_response_size(buffer_); found.size() < count && size <= buffer_.size();
                 size = expected_response_size(buffer_)) {
                found.push_back(buffer_.substr(0, size));
                buffer_.erase(0, size);
            }
            if (found.size() >= count || closed_ || !read_some(until)) return found;
        }
    }
    std::string answer(std::chrono::milliseconds limit = 5s) {
        const auto found = answers(1, limit);
        return found.empty() ? std::string() : found[0];
    }
    // True when the server closes the connection within `limit` (what it sends first is kept).
    bool closes_within(std::chrono::milliseconds limit) {
        const auto until = std::chrono::steady_clock::now() + limit;
        while (!closed_)
            if (!read_some(until)) return false;
        return true;
    }
    // True when nothing arrives within `limit` and the connection stays open.
    bool silent_for(std::chrono::milliseconds limit) {
        pollfd readable{socket_.get(), POLLIN, 0};
        return buffer_.empty() && ::poll(&readable, 1, static_cast<int>(limit.count())) == 0;
    }

  private:
    bool read_some(std::chrono::steady_clock::time_point until) {
        const auto left =
            std::chrono::duration_cast<std::chrono::milliseconds>(until - std::chrono::steady_clock::now());
        if (left.count() <= 0) return false;
        pollfd readable{socket_.get(), POLLIN, 0};
        if (::poll(&readable, 1, static_cast<int>(left.count())) <= 0) return false;
        char chunk[16384];
        const auto received = ::recv(socket_.get(), chunk, sizeof chunk, 0);
        if (received <= 0) {
            closed_ = true;
            return true;
        }
        buffer_.append(chunk, static_cast<std::size_t>(received));
        return true;
    }

    UniqueFd socket_;
    std::string buffer_;
    bool closed_ = false;
};

int status_of(const std::string& answer) {
    return answer.rfind("HTTP/1.1 ", 0) == 0 ? std::atoi(answer.c_str() + 9) : 0;
}

std::string body_of(const std::string& answer) {
    const auto head_end = answer.find("\r\n\r\n");
    return head_end == std::string::npos ? std::string() : answer.substr(head_end + 4);
}

// The {"error": "..."} of an answer, or "" when its body is not one.
std::string error_of(const std::string& answer) {
    const json body = json::parse(body_of(answer), nullptr, false);
    return body.is_object() && body.contains("error") && body["error"].is_string()
               ? body["error"].get<std::string>()
               : std::string();
}

HttpHandler counting_echo(std::atomic<int>& handled) {
    return [&handled](const HttpRequest& request) {
        ++handled;
        return echo(request);
    };
}

TEST_CASE("request heads at their bounds are answered; one byte over gets 414 or 431 with a JSON error, the "
          "connection closed, the handler not called") {
    std::atomic<int> handled{0};
    RunningServer server(counting_echo(handled));
    struct Row {
        std::string name;
        std::string request;
        int status;
    };
    const std::vector<Row> rows{
        {"request line of 8 KiB", request_line_of(kMaxRequestLineBytes) + "Host: x\r\n\r\n", 200},
        {"request line of 8 KiB + 1", request_line_of(kMaxRequestLineBytes + 1) + "Host: x\r\n\r\n", 414},
        {"header line of 8 KiB", "GET / HTTP/1.1\r\n" + header_line_of(kMaxHeaderLineBytes) + "\r\n", 200},
        {"header line of 8 KiB + 1", "GET / HTTP/1.1\r\n" + header_line_of(kMaxHeaderLineBytes + 1) + "\r\n",
         431},
        {"headers of 64 KiB", "GET / HTTP/1.1\r\n" + header_section_of(kMaxHeaderSectionBytes), 200},
        {"headers of 64 KiB + 1", "GET / HTTP/1.1\r\n" + header_section_of(kMaxHeaderSectionBytes + 1), 431},
        {"100 header lines", "GET / HTTP/1.1\r\n" + header_lines(100), 200},
        {"101 header lines", "GET / HTTP/1.1\r\n" + header_lines(101), 431},
        {"1 MiB of header lines", "GET / HTTP/1.1\r\n" + repeated("X-Many: 0123456789abcdef\r\n", 40330),
         431},
    };
    int answered = 0;
    for (const Row& row : rows) {
        CAPTURE(row.name);
        bool closed = false;
        const std::string answer = raw_exchange(server.port(), row.request, &closed);
        CAPTURE(answer.substr(0, 300));
        CHECK(status_of(answer) == row.status);
        if (row.status == 200) {
            ++answered;
            continue;
        }
        CHECK_FALSE(error_of(answer).empty());
        CHECK(contains(answer, "\r\nConnection: close\r\n"));
        CHECK(closed);
    }
    CHECK(handled == answered);
}

TEST_CASE("malformed request heads each get their 4xx with a JSON error and the connection closed: never a "
          "silent close, never a 5xx") {
    std::atomic<int> handled{0};
    RunningServer server(counting_echo(handled));
    const std::string post = "POST /webhook HTTP/1.1\r\nHost: x\r\n";
    struct Row {
        std::string name;
        std::string request;
        int status;
        std::string error; // a part of the JSON error
    };
    const std::vector<Row> rows{
        {"Content-Length that is not a number", post + "Content-Length: abc\r\n\r\n", 400, "Content-Length"},
        {"Content-Length in another notation", post + "Content-Length: 1e3\r\n\r\n{}", 400, "Content-Length"},
        {"negative Content-Length", post + "Content-Length: -1\r\n\r\n", 400, "Content-Length"},
        {"Content-Length too large for any integer", post + "Content-Length: 99999999999999999999\r\n\r\n",
         413, "larger than 1024 bytes"},
        {"Content-Length over the limit", post + "Content-Length: 1025\r\n\r\n", 413,
         "larger than 1024 bytes"},
        {"two different Content-Lengths", post + "Content-Length: 2\r\nContent-Length: 30\r\n\r\n{}", 400,
         "two different Content-Length"},
        {"Transfer-Encoding with Content-Length",
         post + "Transfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n", 400, "together"},
        {"Content-Length with Transfer-Encoding",
         post + "Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n", 400, "together"},
        {"a bare LF ending a header line", "GET / HTTP/1.1\r\nHost: x\nX-Next: y\r\n\r\n", 400,
         "LF without CR"},
        {"bare LFs only", "GET / HTTP/1.1\nHost: x\n\n", 400, "LF without CR"},
        {"a CR without LF", "GET / HTTP/1.1\r\nHost: x\rX-Next: y\r\n\r\n", 400, "CR without LF"},
        {"a NUL in a header", "GET / HTTP/1.1\r\nHost: x\r\nX-Nul: a" + std::string(1, '\0') + "b\r\n\r\n",
         400, "NUL"},
        {"a control character in a header", "GET / HTTP/1.1\r\nHost: x\r\nX-Bell: \x07\r\n\r\n", 400,
         "control character 0x07"},
        {"obsolete line folding", "GET / HTTP/1.1\r\nHost: x\r\nX-Folded: a\r\n b\r\n\r\n", 400,
         "line folding"},
        {"white space before the colon", post + "Content-Length : 2\r\n\r\n{}", 400, "not a token"},
        {"a header line without a colon", "GET / HTTP/1.1\r\nHost x\r\n\r\n", 400, "without a colon"},
        {"a TLS client hello on plain HTTP", "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03", 400,
         "not an HTTP/1.1 request"},
    };
    for (const Row& row : rows) {
        CAPTURE(row.name);
        const auto sent_at = std::chrono::steady_clock::now();
        bool closed = false;
        const std::string answer = raw_exchange(server.port(), row.request, &closed);
        CAPTURE(answer);
        CHECK(status_of(answer) == row.status);
        CHECK(contains(error_of(answer), row.error));
        CHECK(contains(answer, "\r\nConnection: close\r\n"));
        CHECK(closed);
        CHECK(seconds_since(sent_at) < 2.0); // at once, not after a read timeout
        if (row.status == 413) CHECK(body_of(answer) == kTooLarge);
    }
    CHECK(handled == 0);
    // A request line httplib itself refuses (an unknown method): its JSON 400, and the connection closes too.
    bool closed = false;
    const std::string unknown = raw_exchange(server.port(), "BREW /pot HTTP/1.1\r\nHost: x\r\n\r\n", &closed);
    CAPTURE(unknown);
    CHECK(status_of(unknown) == 400);
    CHECK_FALSE(error_of(unknown).empty());
    CHECK(closed);
}

TEST_CASE("a request that has not arrived whole within request_timeout of its first byte gets 408 and the "
          "connection closes; one sent in parts within it is answered") {
    HttpServerLimits limits;
    limits.request_timeout = 400ms;
    RunningServer server(echo, {}, limits);
    struct Slow {
        std::string name;
        std::string opening;
        std::string trickle; // then a byte every 50 ms, for at most 1.5 s
    };
    const std::vector<Slow> slow{
        {"a head that stops", "GET / HTTP/1.1\r\nHost: x\r\n", ""},
        {"a body that stops", "POST /x HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\n12345", ""},
        {"a head a byte at a time", "G", "ET / HTTP/1.1\r\nHost: x\r\nX-Slow: 0123456789\r\n\r\n"},
        {"a body a byte at a time", "POST /x HTTP/1.1\r\nHost: x\r\nContent-Length: 30\r\n\r\n",
         "012345678901234567890123456789"},
    };
    std::vector<std::unique_ptr<RawClient>> clients;
    const auto started = std::chrono::steady_clock::now();
    for (const Slow& one : slow) {
        clients.push_back(std::make_unique<RawClient>(server.port()));
        REQUIRE(clients.back()->send(one.opening));
    }
    std::atomic<bool> trickling{true};
    std::thread trickler([&] {
        for (std::size_t at = 0; trickling && at < 30; ++at) {
            for (std::size_t i = 0; i < slow.size(); ++i)
                if (at < slow[i].trickle.size()) clients[i]->send(slow[i].trickle.substr(at, 1));
            std::this_thread::sleep_for(50ms);
        }
    });
    // Meanwhile, one sent in three parts within 200 ms.
    RawClient parts(server.port());
    REQUIRE(parts.send("POST /parts HTTP/1.1\r\nHost: x\r\n"));
    std::this_thread::sleep_for(100ms);
    REQUIRE(parts.send("Content-Length: 2\r\n\r\n"));
    std::this_thread::sleep_for(100ms);
    REQUIRE(parts.send("{}"));
    const std::string answered = parts.answer();
    CAPTURE(answered);
    CHECK(status_of(answered) == 200);
    CHECK(json::parse(body_of(answered))["path"] == "/parts");

    for (std::size_t i = 0; i < slow.size(); ++i) {
        CAPTURE(slow[i].name);
        const std::string answer = clients[i]->answer(3s);
        const double after = seconds_since(started);
        CAPTURE(answer);
        CHECK(status_of(answer) == 408);
        CHECK(contains(error_of(answer), "did not arrive whole within 400ms"));
        CHECK(contains(answer, "\r\nConnection: close\r\n"));
        CHECK(clients[i]->closes_within(3s));
        MESSAGE(slow[i].name << ": 408 after " << after << " s");
        CHECK(after > 0.35);
        CHECK(after < 2.0);
    }
    trickling = false;
    trickler.join();
}

TEST_CASE(
    "slow clients never hold a worker: with 200 connections sending a byte now and then (more than the 64 "
    "workers), new requests are answered at once") {
    RunningServer server;
    std::vector<std::unique_ptr<RawClient>> slow;
    for (int i = 0; i < 200; ++i) {
        slow.push_back(std::make_unique<RawClient>(server.port()));
        REQUIRE(slow.back()->send(i % 2 == 0
                                      ? "POST /slow HTTP/1.1\r\nHost: x\r\nX-Slow: "
                                      : "POST /slow HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n{"));
    }
    std::atomic<bool> trickling{true};
    std::thread trickler([&] {
        while (trickling) {
            for (auto& client : slow)
                client->send("s");
            for (int tick = 0; trickling && tick < 5; ++tick)
                std::this_thread::sleep_for(100ms);
        }
    });
    std::this_thread::sleep_for(300ms); // the server has taken them all
    double slowest = 0;
    for (int probe = 0; probe < 10; ++probe) {
        const auto sent_at = std::chrono::steady_clock::now();
        const auto response = http_request(server.base_url(), "POST", "/probe", "{}", {}, 2);
        slowest = std::max(slowest, seconds_since(sent_at));
        CHECK_MESSAGE(response.status == 200, response.error);
        std::this_thread::sleep_for(50ms);
    }
    trickling = false;
    trickler.join();
    MESSAGE("200 slow clients: the slowest of 10 new requests took " << slowest << " s");
    CHECK(slowest < 1.0);
    // Each slow one is still waited for (none was answered or closed: the request timeout is 10 s).
    for (auto& client : slow)
        CHECK(client->silent_for(1ms));
    const auto stop_at = std::chrono::steady_clock::now();
    CHECK(server.stop());
    CHECK(seconds_since(stop_at) < 1.0); // stop() closes the connections waiting for a request at once
}

TEST_CASE("beyond max_connections a new connection sheds the one that waited longest: an idle one first, "
          "closed, then one still sending its request, with a 503") {
    HttpServerLimits limits;
    limits.max_connections = 8;
    RunningServer server(echo, {}, limits);
    std::vector<std::unique_ptr<RawClient>> idle;
    for (int i = 0; i < 2; ++i) {
        idle.push_back(std::make_unique<RawClient>(server.port()));
        REQUIRE(idle.back()->send("GET /first HTTP/1.1\r\nHost: x\r\n\r\n"));
        REQUIRE(status_of(idle.back()->answer()) == 200); // kept open: idle between requests
    }
    std::vector<std::unique_ptr<RawClient>> sending;
    auto open_sending = [&] {
        sending.push_back(std::make_unique<RawClient>(server.port()));
        REQUIRE(sending.back()->send("GET /slow HTTP/1.1\r\nHost: x\r\n"));
        std::this_thread::sleep_for(30ms); // oldest first
    };
    for (int i = 0; i < 6; ++i)
        open_sending();
    std::this_thread::sleep_for(100ms); // every connection waits in the reading stage
    // 8 open. Each new one makes 9 and sheds one; it is answered and closed, and one more that keeps
    // sending makes 8 again.
    for (int round = 0; round < 3; ++round) {
        CAPTURE(round);
        const auto sent_at = std::chrono::steady_clock::now();
        RawClient fresh(server.port());
        REQUIRE(fresh.send("GET /new HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"));
        CHECK(status_of(fresh.answer(2s)) == 200);
        CHECK(seconds_since(sent_at) < 1.0);
        CHECK(fresh.closes_within(1s));
        open_sending();
    }
    CHECK(idle[0]->closes_within(1s));
    CHECK(idle[0]->answers(1, 1ms).empty()); // closed without an answer
    CHECK(idle[1]->closes_within(1s));
    const std::string shed = sending[0]->answer(1s);
    CAPTURE(shed);
    CHECK(status_of(shed) == 503);
    CHECK(contains(error_of(shed), "too many open connections"));
    CHECK(sending[0]->closes_within(1s));
    for (std::size_t i = 1; i < sending.size(); ++i)
        CHECK(sending[i]->silent_for(1ms));
    // Those left still get their answer.
    REQUIRE(sending[5]->send("\r\n"));
    CHECK(status_of(sending[5]->answer()) == 200);
}

TEST_CASE("a new connection whose request has not arrived yet is not the one shed: the oldest sender is") {
    HttpServerLimits limits;
    limits.max_connections = 4;
    RunningServer server(echo, {}, limits);
    std::vector<std::unique_ptr<RawClient>> sending;
    for (int i = 0; i < 4; ++i) {
        sending.push_back(std::make_unique<RawClient>(server.port()));
        REQUIRE(sending.back()->send("GET /slow HTTP/1.1\r\nHost: x\r\n"));
        std::this_thread::sleep_for(30ms); // oldest first
    }
    std::this_thread::sleep_for(100ms); // all four wait in the reading stage
    // A client connected, its request still on the way (as under load, when the accept comes first).
    RawClient fresh(server.port());
    const std::string shed = sending[0]->answer(2s);
    CAPTURE(shed);
    CHECK(status_of(shed) == 503);
    CHECK(sending[0]->closes_within(1s));
    CHECK(fresh.silent_for(200ms)); // still open
    REQUIRE(fresh.send("GET /new HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"));
    CHECK(status_of(fresh.answer(2s)) == 200);
    for (std::size_t i = 1; i < sending.size(); ++i)
        CHECK(sending[i]->silent_for(1ms));
}

TEST_CASE("the bytes of unfinished requests are bounded all together: over buffer_budget the largest is "
          "refused with 503, the others go on") {
    HttpServerLimits limits;
    limits.buffer_budget = 8192;
    RunningServer server(echo, {}, limits);
    const std::string head = "POST /big HTTP/1.1\r\nHost: x\r\nContent-Length: 1024\r\n\r\n";
    const std::size_t held = head.size() + 1000; // what each one has sent
    std::vector<std::unique_ptr<RawClient>> clients;
    for (int i = 0; i < 12; ++i) {
        clients.push_back(std::make_unique<RawClient>(server.port()));
        REQUIRE(clients.back()->send(head + std::string(1000, 'b')));
        std::this_thread::sleep_for(30ms);
    }
    std::size_t answered = 0;
    std::size_t shed = 0;
    for (auto& client : clients) {
        client->send(std::string(24, 'b')); // the rest of the body
        const std::string answer = client->answer();
        CAPTURE(answer.substr(0, 200));
        if (status_of(answer) == 200) ++answered;
        if (status_of(answer) == 503) {
            ++shed;
            CHECK(contains(error_of(answer), "too many unfinished requests"));
        }
    }
    MESSAGE("12 bodies of " << held << " bytes held against a budget of 8192: " << answered << " answered, "
                            << shed << " shed");
    CHECK(answered + shed == 12);
    CHECK(answered * held <= 8192);
    CHECK(answered >= 1);
}

TEST_CASE(
    "several requests on one connection: one by one, pipelined in one write, after pauses longer than a "
    "worker waits, and the fifth closes it") {
    std::atomic<int> handled{0};
    RunningServer server(counting_echo(handled));
    RawClient client(server.port());
    auto request = [](const std::string& path) { return "GET " + path + " HTTP/1.1\r\nHost: x\r\n\r\n"; };
    auto path_of = [](const std::string& answer) {
        return json::parse(body_of(answer))["path"].get<std::string>();
    };
    REQUIRE(client.send(request("/1")));
    const std::string first = client.answer();
    CHECK(path_of(first) == "/1");
    CHECK(contains(first, "\r\nKeep-Alive: timeout=5, max=5\r\n"));
    REQUIRE(client.send(request("/2") + "POST /3 HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n{}"));
    const auto pipelined = client.answers(2, 5s);
    REQUIRE(pipelined.size() == 2);
    CHECK(path_of(pipelined[0]) == "/2");
    CHECK(path_of(pipelined[1]) == "/3");
    CHECK(json::parse(body_of(pipelined[1]))["body"] == "{}");
    std::this_thread::sleep_for(200ms); // the worker has given the connection back to the reading stage
    const std::string fourth = request("/4");
    REQUIRE(client.send(fourth.substr(0, 10)));
    std::this_thread::sleep_for(100ms);
    REQUIRE(client.send(fourth.substr(10)));
    CHECK(path_of(client.answer()) == "/4");
    REQUIRE(client.send(request("/5")));
    const std::string fifth = client.answer();
    CHECK(path_of(fifth) == "/5");
    CHECK(contains(fifth, "\r\nConnection: close\r\n"));
    CHECK(client.closes_within(2s));
    CHECK(handled == 5);
}

TEST_CASE("Expect: 100-continue: the 100 comes before the body is sent, and only once; a body over the limit "
          "gets its 413 instead") {
    RunningServer server;
    RawClient client(server.port());
    REQUIRE(client.send("POST /x HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 7\r\n\r\n"));
    const std::string interim = client.answer(2s);
    CHECK(interim == "HTTP/1.1 100 Continue\r\n\r\n");
    REQUIRE(client.send("{\"a\":1}"));
    const std::string final_answer = client.answer();
    CAPTURE(final_answer);
    CHECK(status_of(final_answer) == 200);
    CHECK(json::parse(body_of(final_answer))["body"] == "{\"a\":1}");

    RawClient large(server.port());
    REQUIRE(
        large.send("POST /x HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 5000\r\n\r\n"));
    const std::string refused = large.answer(2s);
    CHECK(status_of(refused) == 413);
    CHECK(body_of(refused) == kTooLarge);
}

TEST_CASE("a POST without Content-Length reaches the handler at once with an empty body (it has none); the "
          "connection stays open for the next request") {
    std::atomic<int> handled{0};
    RunningServer server(counting_echo(handled));
    RawClient client(server.port());
    const auto sent_at = std::chrono::steady_clock::now();
    REQUIRE(client.send("POST /-/reload HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"));
    const std::string answer = client.answer();
    CAPTURE(answer);
    CHECK(status_of(answer) == 200);
    CHECK(json::parse(body_of(answer))["body"] == "");
    CHECK_FALSE(contains(answer, "Connection: close"));
    CHECK(seconds_since(sent_at) < 2.0); // not a wait for a body or for the client to close
    REQUIRE(client.send("GET /next HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"));
    CHECK(status_of(client.answer()) == 200);
    CHECK(handled == 2);
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
    bool closed = false;
    const std::string answer =
        raw_exchange(server.port(), "NOT A VALID REQUEST LINE AT ALL\r\n\r\n", &closed);
    CAPTURE(answer);
    CHECK(answer.rfind("HTTP/1.1 400", 0) == 0);
    CHECK(closed); // not used again after a request that could not be read
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

// ---- NetworkHttpCaller over plain HTTP -------------------------------------------------------------------

// Requests a handler saw, for tests that check what arrived.
class RequestLog {
  public:
    void add(const HttpRequest& request) {
        std::lock_guard lock(mutex_);
        requests_.push_back(request);
    }
    std::vector<HttpRequest> all() const {
        std::lock_guard lock(mutex_);
        return requests_;
    }
    std::size_t size() const {
        std::lock_guard lock(mutex_);
        return requests_.size();
    }

  private:
    mutable std::mutex mutex_;
    std::vector<HttpRequest> requests_;
};

// A handler that records the request and answers `status` with `body` (JSON).
HttpHandler recording_handler(RequestLog& log, int status, std::string body) {
    return [&log, status, body = std::move(body)](const HttpRequest& request) {
        log.add(request);
        return HttpResponse{status, body, "application/json", {}};
    };
}

// A handler that records the request and then sleeps in small steps until `released` (or 20 s pass), so
// that the server it runs in can still stop at the end of the test.
HttpHandler hanging_handler(RequestLog& log, const std::atomic<bool>& released) {
    return [&log, &released](const HttpRequest& request) {
        log.add(request);
        const auto give_up = std::chrono::steady_clock::now() + 20s;
        while (!released && std::chrono::steady_clock::now() < give_up)
            std::this_thread::sleep_for(10ms);
        return HttpResponse{200, "{}", "application/json", {}};
    };
}

// Sets the flag when the scope ends. Declared after the server, so a hanging handler returns before the
// server's destructor waits for it.
struct ReleaseOnExit {
    std::atomic<bool>& released;
    ~ReleaseOnExit() { released = true; }
};

HttpCall call_to(const std::string& url, Duration timeout = 10s) {
    HttpCall call;
    call.url = url;
    call.timeout = timeout;
    return call;
}

TEST_CASE("NetworkHttpCaller: the handler sees method, path, query, headers and body exactly as sent") {
    RequestLog log;
    RunningServer server(recording_handler(log, 202, R"({"accepted":true})"));
    HttpCall call = call_to(server.base_url() + "/hooks/rollback?service=checkout&to=v1");
    call.headers = {{"Authorization", "Bearer deploy-token-5e6f"}, {"X-Rollback-Service", "checkout"}};
    call.body = R"({"service":"checkout","to":"v1","note":"caf\u00e9"})";
    std::atomic<bool> cancel{false};
    const HttpCallResult result = NetworkHttpCaller().call(call, cancel);
    CAPTURE(result.error);
    CHECK(result.status == 202);
    CHECK(result.succeeded());
    CHECK(result.body == R"({"accepted":true})");
    CHECK(result.error.empty());
    CHECK_FALSE(result.timed_out);
    CHECK_FALSE(result.cancelled);
    const auto seen = log.all();
    REQUIRE(seen.size() == 1);
    CHECK(seen[0].method == "POST");
    CHECK(seen[0].path == "/hooks/rollback");
    CHECK(seen[0].query == std::map<std::string, std::string>{{"service", "checkout"}, {"to", "v1"}});
    CHECK(seen[0].header("authorization") == "Bearer deploy-token-5e6f");
    CHECK(seen[0].header("x-rollback-service") == "checkout");
    CHECK(seen[0].header("content-type") == "application/json");
    CHECK(seen[0].body == call.body);
}

TEST_CASE(
    "NetworkHttpCaller reports the server's status as it is: 2xx succeeds, redirects are not followed") {
    struct Row {
        int status;
        bool succeeded;
    };
    const std::vector<Row> rows{{200, true}, {204, true}, {302, false}, {404, false}, {500, false}};
    RequestLog log;
    RunningServer server([&log](const HttpRequest& request) {
        log.add(request);
        HttpResponse response;
        response.status = std::stoi(request.path.substr(std::string("/status/").size()));
        response.body = response.status == 204 ? "" : R"({"message":"as scripted"})";
        if (response.status == 302) response.headers.emplace_back("Location", "/elsewhere");
        return response;
    });
    for (const Row& row : rows) {
        CAPTURE(row.status);
        std::atomic<bool> cancel{false};
        const auto result = NetworkHttpCaller().call(
            call_to(server.base_url() + "/status/" + std::to_string(row.status)), cancel);
        CAPTURE(result.error);
        CHECK(result.status == row.status);
        CHECK(result.succeeded() == row.succeeded);
        CHECK(result.body == (row.status == 204 ? "" : R"({"message":"as scripted"})"));
        CHECK_FALSE(result.timed_out);
    }
    CHECK(log.size() == rows.size()); // one request each: no retries, no redirect followed
    for (const auto& request : log.all())
        CHECK(request.path != "/elsewhere");
}

TEST_CASE("NetworkHttpCaller keeps at most 64 KiB of an answer's body") {
    RunningServer server([](const HttpRequest&) {
        return HttpResponse{500, std::string(200 * 1024, 'e'), "text/plain", {}};
    });
    std::atomic<bool> cancel{false};
    const auto result = NetworkHttpCaller().call(call_to(server.base_url() + "/big"), cancel);
    CHECK(result.status == 500);
    CHECK(result.body == std::string(64 * 1024, 'e'));
}

TEST_CASE(
    "NetworkHttpCaller: a server that does not answer gives timed_out within the timeout and a margin") {
    RequestLog log;
    std::atomic<bool> released{false};
    RunningServer server(hanging_handler(log, released));
    ReleaseOnExit release{released};
    // Several rounds: the call's own deadline and httplib's per-operation timeouts end at about the same
    // moment, and whichever comes first, the result must say "timed out".
    for (const Duration timeout : {Duration(300ms), Duration(500ms), Duration(500ms), Duration(700ms)}) {
        CAPTURE(format_duration(timeout));
        std::atomic<bool> cancel{false};
        const auto start = std::chrono::steady_clock::now();
        const auto result = NetworkHttpCaller().call(call_to(server.base_url() + "/slow", timeout), cancel);
        const double seconds = seconds_since(start);
        CAPTURE(seconds);
        CAPTURE(result.error);
        CHECK(result.timed_out);
        CHECK_FALSE(result.cancelled);
        CHECK(result.status == 0);
        CHECK(result.describe(timeout) == "timed out after " + format_duration(timeout));
        CHECK(seconds >= std::chrono::duration<double>(timeout).count() * 0.9);
        CHECK(seconds < std::chrono::duration<double>(timeout).count() + 3.0);
    }
    CHECK(log.size() == 4);
}

TEST_CASE("NetworkHttpCaller: raising the cancel flag from another thread ends a call promptly") {
    RequestLog log;
    std::atomic<bool> released{false};
    RunningServer server(hanging_handler(log, released));
    ReleaseOnExit release{released};
    std::atomic<bool> cancel{false};
    const auto start = std::chrono::steady_clock::now();
    std::thread canceller([&] {
        // Cancel once the request is in the handler, so the call is really in flight.
        const auto give_up = std::chrono::steady_clock::now() + 10s;
        while (log.size() == 0 && std::chrono::steady_clock::now() < give_up)
            std::this_thread::sleep_for(5ms);
        cancel = true;
    });
    const auto result = NetworkHttpCaller().call(call_to(server.base_url() + "/slow", 30s), cancel);
    const double seconds = seconds_since(start);
    canceller.join();
    CAPTURE(seconds);
    CHECK(log.size() == 1);
    CHECK(result.cancelled);
    CHECK_FALSE(result.timed_out);
    CHECK(result.status == 0);
    CHECK(seconds < 5.0); // the timeout was 30 s

    // A flag already raised: no request is sent.
    const auto before = NetworkHttpCaller().call(call_to(server.base_url() + "/slow", 30s), cancel);
    CHECK(before.cancelled);
    CHECK(before.status == 0);
    CHECK(log.size() == 1);
}

TEST_CASE("NetworkHttpCaller: a refused connection gives status 0 and an error, without waiting") {
    int closed_port = 0;
    {
        RunningServer probe;
        closed_port = probe.port();
    }
    REQUIRE(port_is_closed(closed_port));
    std::atomic<bool> cancel{false};
    const auto start = std::chrono::steady_clock::now();
    const auto result = NetworkHttpCaller().call(
        call_to("http://127.0.0.1:" + std::to_string(closed_port) + "/x", 10s), cancel);
    CAPTURE(result.error);
    CHECK(result.status == 0);
    CHECK_FALSE(result.error.empty());
    CHECK_FALSE(contains(result.error, "certificate")); // plain HTTP: no TLS problem to report
    CHECK_FALSE(result.timed_out);
    CHECK_FALSE(result.cancelled);
    CHECK_FALSE(result.succeeded());
    CHECK(seconds_since(start) < 5.0);
}

TEST_CASE("NetworkHttpCaller refuses a URL it cannot call, naming the problem") {
    for (const std::string url : {"ftp://127.0.0.1/x", "127.0.0.1:8080/x", "http://"}) {
        CAPTURE(url);
        std::atomic<bool> cancel{false};
        const auto result = NetworkHttpCaller().call(call_to(url), cancel);
        CHECK(result.status == 0);
        CHECK(contains(result.error, redact_url(url))); // quoted as redact_url shows it: never its path
    }
}

// ---- TLS: HttpServer with a certificate, NetworkHttpCaller verifying it, mutual TLS ---------------------

using testing::test_certificates;
using testing::TestCertificates;

TlsSettings server_tls(const std::string& cert_file, const std::string& key_file,
                       const std::string& client_ca_file = "") {
    TlsSettings tls;
    tls.cert_file = cert_file;
    tls.key_file = key_file;
    tls.client_ca_file = client_ca_file;
    return tls;
}

std::string lower_case(std::string text) {
    for (char& c : text)
        c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return text;
}

TEST_CASE("HTTPS: with the test CA as ca_file the call succeeds and the handler sees the request exactly") {
    const TestCertificates& certificates = test_certificates();
    RequestLog log;
    RunningServer server(recording_handler(log, 200, R"({"ok":true})"),
                         server_tls(certificates.server_cert_file, certificates.server_key_file));
    REQUIRE(server.base_url().rfind("https://", 0) == 0);
    HttpCall call = call_to(server.base_url() + "/repos/my-org/checkout/dispatches?x=1");
    call.method = "PUT";
    call.headers = {{"Authorization", "Bearer ghp_example"}, {"Accept", "application/vnd.github+json"}};
    call.body = R"({"ref":"main","inputs":{"version":"v1"}})";
    call.ca_file = certificates.ca_file;
    std::atomic<bool> cancel{false};
    const auto result = NetworkHttpCaller().call(call, cancel);
    CAPTURE(result.error);
    CHECK(result.status == 200);
    CHECK(result.body == R"({"ok":true})");
    const auto seen = log.all();
    REQUIRE(seen.size() == 1);
    CHECK(seen[0].method == "PUT");
    CHECK(seen[0].path == "/repos/my-org/checkout/dispatches");
    CHECK(seen[0].query == std::map<std::string, std::string>{{"x", "1"}});
    CHECK(seen[0].header("authorization") == "Bearer ghp_example");
    CHECK(seen[0].header("accept") == "application/vnd.github+json");
    CHECK(seen[0].header("content-type") == "application/json");
    CHECK(seen[0].body == call.body);
}

TEST_CASE("HTTPS: the server certificate is verified against ca_file and the host name") {
    const TestCertificates& certificates = test_certificates();
    struct Row {
        std::string name;
        std::string cert_file; // the server's
        std::string key_file;
        std::string host; // in the URL
        std::string ca_file;
        bool accepted;
        std::string error_part; // refused: lower-case text the error must hold
    };
    const std::string& ca = certificates.ca_file;
    const std::vector<Row> rows{
        {"CA-signed, by IP", certificates.server_cert_file, certificates.server_key_file, "127.0.0.1", ca,
         true, ""},
        {"CA-signed, by name", certificates.server_cert_file, certificates.server_key_file, "localhost", ca,
         true, ""},
        {"no ca_file: the system's CAs do not know the test CA", certificates.server_cert_file,
         certificates.server_key_file, "127.0.0.1", "", false, "certificate"},
        {"the stranger as ca_file", certificates.server_cert_file, certificates.server_key_file, "127.0.0.1",
         certificates.stranger_cert_file, false, "certificate"},
        {"a self-signed server the CA did not sign", certificates.stranger_cert_file,
         certificates.stranger_key_file, "127.0.0.1", ca, false, "certificate"},
        {"a self-signed server trusted as its own ca_file", certificates.stranger_cert_file,
         certificates.stranger_key_file, "127.0.0.1", certificates.stranger_cert_file, true, ""},
        {"a ca_file that does not exist (no fall-back to the system's CAs)", certificates.server_cert_file,
         certificates.server_key_file, "127.0.0.1", certificates.ca_file + ".missing", false, "ssl"},
        {"CA-signed for another host, by IP", certificates.misnamed_cert_file, certificates.misnamed_key_file,
         "127.0.0.1", ca, false, "verification"},
        {"CA-signed for another host, by name", certificates.misnamed_cert_file,
         certificates.misnamed_key_file, "localhost", ca, false, "verification"},
        // subjectAltName DNS:elsewhere.invalid; the CN says 127.0.0.1 but must not count next to a SAN.
        {"CA-signed for another host with the IP as CN", certificates.cn_only_cert_file,
         certificates.cn_only_key_file, "127.0.0.1", ca, false, "verification"},
    };
    for (const Row& row : rows) {
        CAPTURE(row.name);
        RequestLog log;
        RunningServer server(recording_handler(log, 204, ""), server_tls(row.cert_file, row.key_file));
        HttpCall call = call_to("https://" + row.host + ":" + std::to_string(server.port()) + "/x", 10s);
        call.ca_file = row.ca_file;
        std::atomic<bool> cancel{false};
        const auto result = NetworkHttpCaller().call(call, cancel);
        CAPTURE(result.error);
        CHECK_FALSE(result.timed_out);
        if (row.accepted) {
            CHECK(result.status == 204);
            CHECK(log.size() == 1);
        } else {
            CHECK(result.status == 0);
            CHECK(contains(lower_case(result.error), row.error_part));
            CHECK(contains(lower_case(result.describe(10s)), row.error_part));
            CHECK(log.size() == 0); // nothing was sent to a server that could not be verified
        }
    }
}

TEST_CASE("HTTPS: plain http:// to the HTTPS server fails cleanly and quickly; the server goes on serving") {
    const TestCertificates& certificates = test_certificates();
    RequestLog log;
    RunningServer server(recording_handler(log, 204, ""),
                         server_tls(certificates.server_cert_file, certificates.server_key_file));
    std::atomic<bool> cancel{false};
    const auto start = std::chrono::steady_clock::now();
    const auto plain = NetworkHttpCaller().call(
        call_to("http://127.0.0.1:" + std::to_string(server.port()) + "/x", 10s), cancel);
    CAPTURE(plain.error);
    CHECK(plain.status == 0);
    CHECK_FALSE(plain.error.empty());
    CHECK_FALSE(plain.timed_out);
    CHECK(seconds_since(start) < 5.0);
    CHECK(log.size() == 0);

    HttpCall secure = call_to(server.base_url() + "/x");
    secure.ca_file = certificates.ca_file;
    CHECK(NetworkHttpCaller().call(secure, cancel).status == 204);
}

std::string curl_binary() {
    for (const char* candidate : {"/usr/bin/curl", "/usr/local/bin/curl", "/bin/curl"})
        if (std::filesystem::exists(candidate)) return candidate;
    FAIL("curl is not installed (scripts/install-deps.sh installs it)");
    return "";
}

struct CurlOutcome {
    int exit_status = -1;
    std::string http_code; // "000" when no answer came
    std::string errors;
};

// curl (a child process) over HTTPS with the test CA and an optional client certificate.
CurlOutcome curl_with_client_certificate(const std::string& url, const std::string& cert_file,
                                         const std::string& key_file) {
    testing::TempDir scratch;
    std::vector<std::string> argv{curl_binary(),
                                  "--silent",
                                  "--show-error",
                                  "--max-time",
                                  "10",
                                  "--cacert",
                                  test_certificates().ca_file,
                                  "--output",
                                  scratch.file("body"),
                                  "--write-out",
                                  "%{http_code}"};
    if (!cert_file.empty()) argv.insert(argv.end(), {"--cert", cert_file, "--key", key_file});
    argv.push_back(url);
    testing::ChildProcess curl(argv, testing::output_files(scratch.file("stdout"), scratch.file("stderr")));
    CurlOutcome outcome;
    outcome.exit_status = curl.wait(20s);
    outcome.http_code = testing::TempDir::read(scratch.file("stdout"));
    outcome.errors = testing::TempDir::read(scratch.file("stderr"));
    return outcome;
}

TEST_CASE("mutual TLS: only a client certificate signed by client_ca_file is accepted") {
    const TestCertificates& certificates = test_certificates();
    RequestLog log;
    RunningServer server(
        recording_handler(log, 200, R"({"ok":true})"),
        server_tls(certificates.server_cert_file, certificates.server_key_file, certificates.ca_file));
    struct Row {
        std::string name;
        std::string cert_file;
        std::string key_file;
        bool accepted;
    };
    const std::vector<Row> rows{
        {"no client certificate", "", "", false},
        {"a client certificate signed by the CA", certificates.client_cert_file, certificates.client_key_file,
         true},
        {"a client certificate signed by the stranger", certificates.stranger_client_cert_file,
         certificates.stranger_client_key_file, false},
    };
    std::size_t accepted = 0;
    for (const Row& row : rows) {
        CAPTURE(row.name);
        const CurlOutcome outcome =
            curl_with_client_certificate(server.base_url() + "/mtls", row.cert_file, row.key_file);
        CAPTURE(outcome.errors);
        CAPTURE(outcome.exit_status);
        if (row.accepted) {
            ++accepted;
            CHECK(outcome.exit_status == 0);
            CHECK(outcome.http_code == "200");
        } else {
            CHECK(outcome.exit_status > 0); // curl's TLS or receive error, not a timeout of this test
            CHECK(outcome.http_code == "000");
        }
        CHECK(log.size() == accepted);
    }

    // NetworkHttpCaller presents no client certificate: refused as well.
    HttpCall call = call_to(server.base_url() + "/mtls", 10s);
    call.ca_file = certificates.ca_file;
    std::atomic<bool> cancel{false};
    const auto result = NetworkHttpCaller().call(call, cancel);
    CAPTURE(result.error);
    CHECK(result.status == 0);
    CHECK_FALSE(result.error.empty());
    CHECK(log.size() == accepted);
}

TEST_CASE("HttpServer with a certificate or key it cannot load throws std::runtime_error naming the file") {
    const TestCertificates& certificates = test_certificates();
    testing::TempDir scratch;
    const std::string missing = scratch.file("missing.pem");
    const std::string garbage = scratch.write("garbage.pem", "-----BEGIN CERTIFICATE-----\nnot base64 !!\n");
    const std::string empty = scratch.write("empty.pem", "");
    struct Row {
        std::string name;
        TlsSettings tls;
        std::string named_file;
    };
    const std::string& cert = certificates.server_cert_file;
    const std::string& key = certificates.server_key_file;
    const std::vector<Row> rows{
        {"missing certificate", server_tls(missing, key), missing},
        {"missing key", server_tls(cert, missing), missing},
        {"missing client CA", server_tls(cert, key, missing), missing},
        {"garbage certificate", server_tls(garbage, key), garbage},
        {"garbage key", server_tls(cert, garbage), garbage},
        {"empty certificate", server_tls(empty, key), empty},
        {"a key that does not belong to the certificate", server_tls(cert, certificates.client_key_file),
         certificates.client_key_file},
        {"garbage client CA", server_tls(cert, key, garbage), garbage},
    };
    for (const Row& row : rows) {
        CAPTURE(row.name);
        std::string message;
        try {
            HttpServer server(echo, kMaxBody, kTooLarge, row.tls);
        } catch (const std::runtime_error& error) {
            message = error.what();
        }
        CAPTURE(message);
        CHECK(contains(message, row.named_file));
    }
}

} // namespace
} // namespace rollback
