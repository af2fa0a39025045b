// HTTP request/response values and the server that carries them; the only cpp-httplib user is http.cpp.
#pragma once

#include "core/config.hpp"
#include "core/result.hpp"

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
// 413 with a JSON error before the handler runs. TCP_NODELAY is on (see docs/design notes).
class HttpServer {
  public:
    HttpServer(HttpHandler handler, std::size_t max_body_bytes, std::string too_large_body);
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

// A small blocking client for tests and rollbackctl: loopback or plain HTTP.
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
