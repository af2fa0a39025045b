// cpp-httplib adapter, server side: turns httplib requests into HttpRequest values and back; only
// http/ includes httplib.
#include "http/server.hpp"

#include "common/url.hpp"

#include <httplib.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <mutex>
#include <stdexcept>
#include <thread>
#include <vector>

namespace rollback {

bool is_loopback_host(const std::string& host) {
    if (host == "localhost") return true;
    // Addresses only: a host name such as "127.example.com" resolves wherever its DNS says.
    in_addr v4{};
    if (::inet_pton(AF_INET, host.c_str(), &v4) == 1) return (ntohl(v4.s_addr) >> 24) == 127;
    in6_addr v6{};
    return ::inet_pton(AF_INET6, host.c_str(), &v6) == 1 && IN6_IS_ADDR_LOOPBACK(&v6);
}

class HttpServerImpl {
  public:
    explicit HttpServerImpl(std::unique_ptr<httplib::Server> created)
        : owned(std::move(created)), server(*owned) {}
    std::unique_ptr<httplib::Server> owned; // an httplib::SSLServer when serving HTTPS
    httplib::Server& server;
    // httplib's stop() does nothing until its accept loop runs (and only that loop closes the listening
    // socket), so stop(), serve() and the destructor meet here.
    std::mutex mutex;
    bool bound = false;
    int port = 0; // the bound port: accepted connections are the sockets with this local port
    bool stop_requested = false;
    bool serve_entered = false;
    std::atomic<bool> serve_returned{false};

    // Waits the moment until the accept loop runs (or has ended), then stops it.
    void stop_when_running() {
        while (!server.is_running() && !serve_returned)
            std::this_thread::sleep_for(std::chrono::microseconds(100));
        server.stop();
    }
};

namespace {

HttpRequest to_request(const httplib::Request& in) {
    HttpRequest out;
    out.method = in.method;
    out.path = in.path;
    for (const auto& [name, value] : in.params)
        out.query.emplace(name, value);
    for (const auto& [name, value] : in.headers) {
        std::string lower = name;
        std::transform(lower.begin(), lower.end(), lower.begin(),
                       [](unsigned char c) { return std::tolower(c); });
        out.headers.emplace(std::move(lower), value);
    }
    out.body = in.body;
    return out;
}

// The methods httplib reads a body for (detail::expect_content in 0.11).
bool detail_expects_body(const std::string& method) {
    return method == "POST" || method == "PUT" || method == "PATCH" || method == "DELETE" || method == "PRI";
}

void apply(const HttpResponse& in, httplib::Response& out) {
    out.status = in.status;
    for (const auto& [name, value] : in.headers)
        out.set_header(name, value);
    out.set_content(in.body, in.content_type);
}

} // namespace

namespace {

// Each connection holds a worker thread for its whole life (cpp-httplib 0.11 blocks per connection).
// httplib's default of 8 let 8 idle keep-alive or slow clients stop the server; 64 costs about 1 MiB.
constexpr std::size_t kWorkerThreads = 64;
// An idle keep-alive connection is closed after this; it also bounds how long an idle one holds a worker.
constexpr time_t kKeepAliveSeconds = 5;

int port_of(const sockaddr_storage& address) {
    if (address.ss_family == AF_INET) return ntohs(reinterpret_cast<const sockaddr_in*>(&address)->sin_port);
    if (address.ss_family == AF_INET6)
        return ntohs(reinterpret_cast<const sockaddr_in6*>(&address)->sin6_port);
    return -1;
}

std::string host_of(const sockaddr_storage& address) {
    char text[INET6_ADDRSTRLEN] = {};
    if (address.ss_family == AF_INET)
        ::inet_ntop(AF_INET, &reinterpret_cast<const sockaddr_in*>(&address)->sin_addr, text, sizeof text);
    if (address.ss_family == AF_INET6)
        ::inet_ntop(AF_INET6, &reinterpret_cast<const sockaddr_in6*>(&address)->sin6_addr, text, sizeof text);
    return text;
}

// This process's sockets whose local port is `port`: the listening one (listening == true) or the
// accepted connections. httplib keeps them private, so they are found through /proc/self/fd.
std::vector<int> sockets_on_port(int port, bool listening) {
    std::vector<int> found;
    std::error_code error;
    for (const auto& entry : std::filesystem::directory_iterator("/proc/self/fd", error)) {
        int fd = -1;
        try {
            fd = std::stoi(entry.path().filename().string());
        } catch (const std::exception&) {
            continue;
        }
        int accepting = 0;
        socklen_t length = sizeof accepting;
        if (::getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &accepting, &length) != 0) continue;
        if ((accepting != 0) != listening) continue;
        sockaddr_storage local{};
        socklen_t local_length = sizeof local;
        if (::getsockname(fd, reinterpret_cast<sockaddr*>(&local), &local_length) != 0) continue;
        if (port_of(local) == port) found.push_back(fd);
    }
    return found;
}

// Ends the reading side of the connection from `request`, so that httplib closes it instead of reading
// what follows (an unread body) as another request. Called after the answer is written: httplib checks
// that a socket is readable-but-not-at-end before it writes. Linux discards data that arrives after
// shutdown(SHUT_RD); what already arrived is read here and dropped, so memory stays bounded.
void stop_reading_connection(const httplib::Request& request) {
    for (const int fd : sockets_on_port(request.local_port, false)) {
        sockaddr_storage peer{};
        socklen_t peer_length = sizeof peer;
        if (::getpeername(fd, reinterpret_cast<sockaddr*>(&peer), &peer_length) != 0) continue;
        if (port_of(peer) != request.remote_port || host_of(peer) != request.remote_addr) continue;
        ::shutdown(fd, SHUT_RD);
        char discarded[16384];
        for (int reads = 0; reads < 4096; ++reads)
            if (::recv(fd, discarded, sizeof discarded, MSG_DONTWAIT) <= 0) break;
        return;
    }
}

// The connection whose answer pre_route marked "close after writing". httplib runs pre-routing, the
// write and then its logger on the connection's worker thread, so a thread-local carries the mark; the
// peer is part of it so that a mark left by a failed write never applies to another connection.
struct CloseAfterAnswer {
    std::string remote_addr;
    int remote_port = -1;
};
thread_local CloseAfterAnswer close_after_answer;

void mark_close_after_answer(const httplib::Request& request, httplib::Response& response) {
    if (request.get_header_value("Connection") != "close") response.set_header("Connection", "close");
    close_after_answer = {request.remote_addr, request.remote_port};
}

// httplib's logger, called after each answer is written.
void after_answer(const httplib::Request& request) {
    if (close_after_answer.remote_port < 0) return;
    const bool marked = close_after_answer.remote_port == request.remote_port &&
                        close_after_answer.remote_addr == request.remote_addr;
    close_after_answer = {};
    if (marked) stop_reading_connection(request);
}

// Bodies are accepted only with a Content-Length and without encodings: httplib reads chunked bodies,
// bodies without a length, and gzip/br/deflate bodies (inflated) whole before any limit applies.
// Answers here, before httplib reads a body: 411 for Transfer-Encoding, 415 for Content-Encoding (both
// closing the connection, as their bodies stay unread), and a POST, PUT, PATCH or DELETE without a
// Content-Length is a request without a body (RFC 9112 6.3), passed to the handler at once instead of
// waiting for the client to close.
httplib::Server::HandlerResponse pre_route(const httplib::Request& request, httplib::Response& response,
                                           const HttpHandler& handler) {
    const bool has_content_length = request.has_header("Content-Length");
    const std::string encoding = request.get_header_value("Content-Encoding");
    int status = 0;
    const char* error = "";
    if (request.has_header("Transfer-Encoding")) {
        status = 411;
        error = "{\"error\":\"Transfer-Encoding is not accepted; send the body with a Content-Length\"}";
    } else if (request.has_header("Content-Encoding") && encoding != "identity") {
        status = 415;
        error = "{\"error\":\"Content-Encoding is not accepted; send the body uncompressed\"}";
    } else if (!has_content_length && detail_expects_body(request.method)) {
        apply(handler(to_request(request)), response);
        mark_close_after_answer(request, response);
        return httplib::Server::HandlerResponse::Handled;
    } else {
        return httplib::Server::HandlerResponse::Unhandled;
    }
    response.status = status;
    response.set_content(error, "application/json");
    mark_close_after_answer(request, response);
    return httplib::Server::HandlerResponse::Handled;
}

std::unique_ptr<httplib::Server> make_server(const TlsSettings& tls) {
    if (!tls.serves_https()) return std::make_unique<httplib::Server>();
    for (const std::string* file : {&tls.cert_file, &tls.key_file, &tls.client_ca_file}) {
        if (file->empty()) continue;
        std::FILE* opened = std::fopen(file->c_str(), "rb");
        if (opened == nullptr) throw std::runtime_error("cannot read " + *file + ": " + std::strerror(errno));
        std::fclose(opened);
    }
    auto server = std::make_unique<httplib::SSLServer>(
        tls.cert_file.c_str(), tls.key_file.c_str(),
        tls.client_ca_file.empty() ? nullptr : tls.client_ca_file.c_str());
    if (server->is_valid() && !tls.client_ca_file.empty() &&
        SSL_CTX_load_verify_locations(server->ssl_context(), tls.client_ca_file.c_str(), nullptr) != 1) {
        throw std::runtime_error("cannot use tls.client_ca_file " + tls.client_ca_file +
                                 ": not a PEM bundle of CA certificates");
    }
    if (!server->is_valid()) {
        throw std::runtime_error(
            "cannot serve HTTPS with tls.cert_file " + tls.cert_file + " and tls.key_file " + tls.key_file +
            (tls.client_ca_file.empty() ? "" : " and tls.client_ca_file " + tls.client_ca_file) +
            ": not a PEM certificate and its matching private key");
    }
    return server;
}

} // namespace

HttpServer::HttpServer(HttpHandler handler, std::size_t max_body_bytes, std::string too_large_body,
                       const TlsSettings& tls)
    : impl_(std::make_unique<HttpServerImpl>(make_server(tls))) {
    auto& server = impl_->server;
    server.new_task_queue = [] { return new httplib::ThreadPool(kWorkerThreads); };
    server.set_tcp_nodelay(true);
    // Applies to bodies with a Content-Length, the only ones pre_route lets through.
    server.set_payload_max_length(max_body_bytes);
    server.set_read_timeout(10, 0);
    server.set_write_timeout(10, 0);
    server.set_keep_alive_timeout(kKeepAliveSeconds);
    // httplib's default socket options set SO_REUSEPORT, which lets a second receiver bind the same port
    // and silently take half of the webhooks. SO_REUSEADDR alone still allows a quick restart.
    server.set_socket_options([](socket_t socket) {
        int yes = 1;
        ::setsockopt(socket, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
    });
    server.set_logger(
        [](const httplib::Request& request, const httplib::Response&) { after_answer(request); });
    server.set_pre_routing_handler([handler](const httplib::Request& request, httplib::Response& response) {
        return pre_route(request, response, handler);
    });
    auto dispatch = [handler](const httplib::Request& request, httplib::Response& response) {
        apply(handler(to_request(request)), response);
    };
    const std::string any_path = ".*";
    server.Get(any_path, dispatch);
    server.Post(any_path, dispatch);
    server.Put(any_path, dispatch);
    server.Delete(any_path, dispatch);
    server.Patch(any_path, dispatch);
    server.Options(any_path, dispatch);
    // httplib answers some requests itself (body too large, bad request line): give them JSON bodies.
    server.set_error_handler([too_large_body](const httplib::Request&, httplib::Response& response) {
        if (!response.body.empty()) return;
        if (response.status == 413)
            response.set_content(too_large_body, "application/json");
        else
            response.set_content("{\"error\":\"the request could not be read (HTTP " +
                                     std::to_string(response.status) + ")\"}",
                                 "application/json");
    });
}

HttpServer::~HttpServer() {
    stop();
    bool never_served = false;
    {
        std::lock_guard lock(impl_->mutex);
        never_served = impl_->bound && !impl_->serve_entered;
    }
    if (never_served) serve(); // stops at once, closing the listening socket
}

namespace {

// cpp-httplib 0.11 listens with a backlog of 5: a burst of new connections (an HA pair plus retries, or
// a load test) overflows the accept queue and clients see their connection dropped after ~1 s. The
// listening socket is private to httplib, so find it (a listening socket bound to `port`) and raise
// its backlog; listen() on a listening socket only changes the backlog.
void raise_listen_backlog(int port) {
    for (const int fd : sockets_on_port(port, true))
        ::listen(fd, SOMAXCONN);
}

} // namespace

Result<int> HttpServer::bind(const ListenAddress& address) {
    int port = address.port;
    if (port == 0) {
        port = impl_->server.bind_to_any_port(address.host);
        if (port < 0) return make_error("cannot listen on " + address.host + ": bind failed");
    } else if (!impl_->server.bind_to_port(address.host, port)) {
        return make_error("cannot listen on " + address.host + ":" + std::to_string(port) +
                          " (address in use or not available)");
    }
    raise_listen_backlog(port);
    std::lock_guard lock(impl_->mutex);
    impl_->bound = true;
    impl_->port = port;
    return port;
}

void HttpServer::serve() {
    bool stop_at_once = false;
    {
        std::lock_guard lock(impl_->mutex);
        impl_->serve_entered = true;
        stop_at_once = impl_->stop_requested;
    }
    // stop() came first: run the accept loop only to have it stopped, which closes the socket.
    std::thread stopper;
    if (stop_at_once) stopper = std::thread([this] { impl_->stop_when_running(); });
    impl_->server.listen_after_bind();
    impl_->serve_returned = true;
    if (stopper.joinable()) stopper.join();
}

void HttpServer::stop() {
    {
        std::lock_guard lock(impl_->mutex);
        impl_->stop_requested = true;
        if (!impl_->serve_entered) return; // serve(), if it comes, stops at once
    }
    impl_->stop_when_running();
    // serve() returns once every worker is done. A worker waiting on an idle keep-alive connection only
    // notices after kKeepAliveSeconds, so after a grace second for requests in flight, the connections
    // still open get their reading side shut: each worker then finishes the answer it is writing, if
    // any, and ends. Bounded: 10 s at most.
    using std::chrono::steady_clock;
    const auto started = steady_clock::now();
    while (!impl_->serve_returned && steady_clock::now() - started < std::chrono::seconds(10)) {
        if (steady_clock::now() - started >= std::chrono::seconds(1)) {
            for (const int fd : sockets_on_port(impl_->port, false))
                ::shutdown(fd, SHUT_RD);
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
}

} // namespace rollback
