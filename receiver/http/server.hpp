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

} // namespace rollback
