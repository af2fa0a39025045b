// Outgoing HTTP: one call of a rollback action or a notification (through the HttpCaller seam), and a small
// client.
#pragma once

#include "common/result.hpp"
#include "common/time_util.hpp"

#include <atomic>
#include <string>
#include <utility>
#include <vector>

namespace rollback {

// One outgoing call of a rollback action or a notification.
struct HttpCall {
    std::string method = "POST";
    std::string url; // http:// or https://, with path and query
    std::vector<std::pair<std::string, std::string>> headers;
    std::string body;
    std::string content_type = "application/json";
    std::string ca_file;                         // https: trust only this PEM bundle; empty: the system's CAs
    Duration timeout = std::chrono::seconds(10); // for the whole call: connect, send, wait, read
    std::size_t max_body = 64 * 1024;            // of the answer's body, kept; the rest is dropped
};

struct HttpCallResult {
    int status = 0;    // 0: no answer (error says why)
    std::string body;  // the answer's body, at most HttpCall::max_body kept
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
