// HTTP request/response values and the server that carries them (cpp-httplib behind it, in server.cpp).
#pragma once

#include "common/result.hpp"
#include "common/time_util.hpp"
#include "config/config.hpp"

#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace rollback {

struct HttpRequest {
    std::string method;
    std::string path; // as sent, percent-encoding kept (the query parameters are decoded)
    std::map<std::string, std::string> query;
    std::map<std::string, std::string> headers; // names lower-cased
    std::string body;

    std::string header(const std::string& lower_case_name) const {
        auto it = headers.find(lower_case_name);
        return it == headers.end() ? std::string() : it->second;
    }
};

struct HttpResponse {
    int status = 200;
    std::string body;
    std::string content_type = "application/json";
    std::vector<std::pair<std::string, std::string>> headers;
};

using HttpHandler = std::function<HttpResponse(const HttpRequest&)>;

// True for 127.0.0.0/8, ::1 and localhost.
bool is_loopback_host(const std::string& host);

class HttpServerImpl;

// The listener's bounds beyond the body size (the request head's are in http/request_framing.hpp).
struct HttpServerLimits {
    // A request must arrive whole, head and body, within this of its first byte; after it, 408.
    Duration request_timeout = std::chrono::seconds(10);
    // Connections open at once; a new one beyond it closes the one that has waited longest (503 if it was
    // sending a request). 0: the open-file limit (RLIMIT_NOFILE) less 128, at least 64, at most 4096.
    std::size_t max_connections = 0;
    // Bytes of unfinished requests held at once, all connections together; beyond it, the largest is
    // refused with 503. 0: 32 MiB, or twice max_body_bytes when that is more.
    std::size_t buffer_budget = 0;
};

// Every request, whatever its method and path, goes to the one handler, and only once it has arrived
// whole: a reading stage (one thread, epoll) takes the bytes of every connection, so slow clients hold a
// buffer of what they sent but never a worker, and refuses what breaks a bound with a JSON error and
// "Connection: close" before httplib parses anything: a request line over 8 KiB (414), a header line over
// 8 KiB, headers over 64 KiB or more than 100 header lines (431), a body over max_body_bytes (413, with
// too_large_body), Transfer-Encoding (411; with Content-Length too: 400), Content-Encoding other than
// identity (415), a malformed or doubled Content-Length, bare LF or CR, NUL or other control characters
// (400), a request that has not arrived whole within limits.request_timeout (408); a request without a
// Content-Length has no body. Whole requests go to 64 workers, which answer them with httplib; a
// keep-alive connection sending nothing for 5 s is closed, and stop() closes the idle ones at once.
// TCP_NODELAY is on. With tls.cert_file/key_file it serves HTTPS only (the handshake is part of the reading
// stage); with tls.client_ca_file it also requires a client certificate signed by one of those CAs (mutual
// TLS). A certificate or key that cannot be loaded throws std::runtime_error naming the file (a start-up
// failure).
class HttpServer {
  public:
    HttpServer(HttpHandler handler, std::size_t max_body_bytes, std::string too_large_body,
               const TlsSettings& tls = {}, const HttpServerLimits& limits = {});
    ~HttpServer();
    HttpServer(const HttpServer&) = delete;
    HttpServer& operator=(const HttpServer&) = delete;

    // Binds; port 0 picks a free port. Returns the bound port.
    Result<int> bind(const ListenAddress& address);
    // Serves until stop(); call after bind().
    void serve();
    void stop();

  private:
    std::unique_ptr<HttpServerImpl> impl_;
};

} // namespace rollback
