// cpp-httplib adapter, client side: the outgoing calls of actions and notifications, and rollbackctl's
// client.
#include "http/client.hpp"

#include "common/url.hpp"

#include <httplib.h>

#include <atomic>
#include <chrono>
#include <string>
#include <thread>
#include <vector>

namespace rollback {
namespace {

// httplib's name for a failed call, with OpenSSL's reason when an https:// certificate was refused
// ("SSLServerVerification (unable to get local issuer certificate)"). Plain http:// has no verify result
// (httplib answers -1), so only an https:// failure names one.
std::string client_error(httplib::Client& client, httplib::Error error, bool https) {
    std::string text = httplib::to_string(error);
    const long verify = client.get_openssl_verify_result();
    if (https && verify != X509_V_OK) text += std::string(" (") + X509_verify_cert_error_string(verify) + ")";
    return text;
}

} // namespace

HttpClientResponse http_request(const std::string& base_url, const std::string& method,
                                const std::string& path, const std::string& body,
                                const std::vector<std::pair<std::string, std::string>>& headers,
                                int timeout_seconds) {
    httplib::Client client(base_url);
    client.set_connection_timeout(timeout_seconds, 0);
    client.set_read_timeout(timeout_seconds, 0);
    client.set_write_timeout(timeout_seconds, 0);
    client.set_tcp_nodelay(true);
    httplib::Headers request_headers;
    for (const auto& [name, value] : headers)
        request_headers.emplace(name, value);
    httplib::Result result{nullptr, httplib::Error::Unknown};
    if (method == "GET")
        result = client.Get(path, request_headers);
    else if (method == "POST")
        result = client.Post(path, request_headers, body, "application/json");
    else if (method == "PUT")
        result = client.Put(path, request_headers, body, "application/json");
    else if (method == "DELETE")
        result = client.Delete(path, request_headers, body, "application/json");
    else if (method == "PATCH")
        result = client.Patch(path, request_headers, body, "application/json");
    else
        return HttpClientResponse{0, "", "unsupported method " + method};
    if (!result) {
        return HttpClientResponse{0, "",
                                  client_error(client, result.error(), base_url.rfind("https://", 0) == 0)};
    }
    return HttpClientResponse{result->status, result->body, ""};
}

std::string HttpCallResult::describe(Duration timeout) const {
    if (cancelled) return "cancelled";
    if (timed_out) return "timed out after " + format_duration(timeout);
    if (status == 0) return "no answer: " + error;
    std::string text = "HTTP " + std::to_string(status);
    if (!succeeded() && !body.empty()) {
        std::string start = body.substr(0, 200);
        std::replace_if(
            start.begin(), start.end(), [](char c) { return c == '\n' || c == '\r'; }, ' ');
        text += ": " + start;
    }
    return text;
}

HttpCallResult NetworkHttpCaller::call(const HttpCall& request, const std::atomic<bool>& cancel) {
    auto url = parse_http_url(request.url);
    if (!url) return HttpCallResult{0, "", url.error(), false, false};
    if (cancel) return HttpCallResult{0, "", "cancelled before the call", false, true};
    using Steady = std::chrono::steady_clock;
    const auto deadline = Steady::now() + request.timeout;

    httplib::Client client(url->origin);
    // Per-operation limits as a backstop; the whole call is bounded by the deadline below.
    const auto seconds = std::chrono::duration_cast<std::chrono::seconds>(request.timeout).count();
    const auto microseconds =
        std::chrono::duration_cast<std::chrono::microseconds>(request.timeout).count() % 1000000;
    client.set_connection_timeout(seconds, microseconds);
    client.set_read_timeout(seconds, microseconds);
    client.set_write_timeout(seconds, microseconds);
    client.set_tcp_nodelay(true);
    client.set_follow_location(false);
    if (!request.ca_file.empty()) client.set_ca_cert_path(request.ca_file.c_str());
    if (url->scheme == "https") {
        // OpenSSL's own host check: the subjectAltName only (httplib falls back to the CN even next to one).
        std::string host = url->origin.substr(std::string("https://").size());
        if (!host.empty() && host.front() == '[')
            host = host.substr(1, host.find(']') - 1);
        else
            host = host.substr(0, host.find(':'));
        X509_VERIFY_PARAM* param = SSL_CTX_get0_param(client.ssl_context());
        in6_addr v6{};
        in_addr v4{};
        if (::inet_pton(AF_INET, host.c_str(), &v4) == 1 || ::inet_pton(AF_INET6, host.c_str(), &v6) == 1)
            X509_VERIFY_PARAM_set1_ip_asc(param, host.c_str());
        else
            X509_VERIFY_PARAM_set1_host(param, host.c_str(), 0);
    }
    httplib::Headers headers;
    for (const auto& [name, value] : request.headers)
        headers.emplace(name, value);

    struct Outcome {
        std::mutex mutex;
        std::condition_variable wake;
        bool done = false;
        HttpCallResult result;
    };
    auto outcome = std::make_shared<Outcome>();
    std::thread worker([&client, &request, &headers, &url, outcome] {
        httplib::Request raw;
        raw.method = request.method;
        raw.path = url->path;
        raw.headers = headers;
        raw.body = request.body;
        if (!request.body.empty() || request.method == "POST" || request.method == "PUT")
            raw.set_header("Content-Type", request.content_type);
        HttpCallResult result;
        if (auto answer = client.send(raw)) {
            result.status = answer->status;
            result.body = answer->body.substr(0, request.max_body);
        } else {
            result.error = client_error(client, answer.error(), url->scheme == "https");
            result.certificate_refused = answer.error() == httplib::Error::SSLServerVerification;
        }
        std::lock_guard lock(outcome->mutex);
        outcome->result = std::move(result);
        outcome->done = true;
        outcome->wake.notify_all();
    });
    bool stopped = false;
    bool timed_out = false;
    bool cancelled = false;
    {
        std::unique_lock lock(outcome->mutex);
        while (!outcome->wake.wait_for(lock, std::chrono::milliseconds(20), [&] { return outcome->done; })) {
            if (!stopped && (cancel || Steady::now() >= deadline)) {
                cancelled = cancel;
                timed_out = !cancelled;
                stopped = true;
            }
            // stop() closes the socket of the call in flight; a call still connecting may miss it, so it
            // is repeated until the worker returns (its own per-operation timeouts bound that wait).
            if (stopped) {
                lock.unlock();
                client.stop();
                lock.lock();
            }
        }
    }
    worker.join();
    HttpCallResult result = std::move(outcome->result);
    // httplib's own per-operation timeouts end at about the deadline: a call that failed then timed out.
    if (!stopped && result.status == 0 && (cancel || Steady::now() >= deadline)) {
        stopped = true;
        cancelled = cancel;
        timed_out = !cancelled;
    }
    if (stopped && !result.succeeded()) {
        result.status = 0;
        result.timed_out = timed_out;
        result.cancelled = cancelled;
    }
    return result;
}

} // namespace rollback
