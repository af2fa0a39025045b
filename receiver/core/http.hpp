// HTTP request/response values and the server that carries them; the only cpp-httplib user is http.cpp.
#pragma once

#include "core/config.hpp"
#include "core/result.hpp"
#include "core/time_util.hpp"

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
    std::string path;
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

// Every request, whatever its method and path, goes to the one handler. Bodies over max_body_bytes get
// 413 with a JSON error before the handler runs. Bodies must come with a Content-Length: Transfer-Encoding
// gets 411 and Content-Encoding (other than identity) 415, unread, and the connection is closed; a POST
// without a Content-Length has an empty body. 64 worker threads, one per open connection; idle keep-alive
// connections close after 5 s, and stop() ends them within about a second. TCP_NODELAY is on.
// With tls.cert_file/key_file it serves HTTPS only; with tls.client_ca_file it also requires a client
// certificate signed by one of those CAs (mutual TLS). A certificate or key that cannot be loaded throws
// std::runtime_error naming the file (a start-up failure).
class HttpServer {
  public:
    HttpServer(HttpHandler handler, std::size_t max_body_bytes, std::string too_large_body,
               const TlsSettings& tls = {});
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

// One outgoing call of a rollback action or a notification.
struct HttpCall {
    std::string method = "POST";
    std::string url; // http:// or https://, with path and query
    std::vector<std::pair<std::string, std::string>> headers;
    std::string body;
    std::string content_type = "application/json";
    std::string ca_file;                         // https: trust only this PEM bundle; empty: the system's CAs
    Duration timeout = std::chrono::seconds(10); // for the whole call: connect, send, wait, read
};

struct HttpCallResult {
    int status = 0;    // 0: no answer (error says why)
    std::string body;  // the answer's body, at most 64 KiB kept
    std::string error; // no answer: "connection refused", "certificate verify failed", ...
    bool timed_out = false;
    bool cancelled = false;
    bool certificate_refused = false; // the server's certificate failed verification
    bool succeeded() const { return status >= 200 && status < 300; }
    // One line for a person: "HTTP 204", "HTTP 502: <body start>", "timed out after 30s", "could not
    // connect: ...".
    std::string describe(Duration timeout) const;
};

// The seam outgoing calls go through, so tests can inject a fake.
class HttpCaller {
  public:
    virtual ~HttpCaller() = default;
    // Blocks until the answer, the timeout, or `cancel` becoming true (checked at least every 50 ms).
    virtual HttpCallResult call(const HttpCall& request, const std::atomic<bool>& cancel) = 0;
};

// The real one: cpp-httplib over TCP, TLS with certificate and host name verification for https://.
// Redirects are not followed (a 3xx is reported as it is).
class NetworkHttpCaller final : public HttpCaller {
  public:
    HttpCallResult call(const HttpCall& request, const std::atomic<bool>& cancel) override;
};

// A small blocking client for tests and rollbackctl (http:// or https:// with the system's CAs).
struct HttpClientResponse {
    int status = 0; // 0: no answer (error says why)
    std::string body;
    std::string error;
};
HttpClientResponse http_request(const std::string& base_url, const std::string& method,
                                const std::string& path, const std::string& body = {},
                                const std::vector<std::pair<std::string, std::string>>& headers = {},
                                int timeout_seconds = 10);

} // namespace rollback
