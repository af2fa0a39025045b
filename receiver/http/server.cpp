// cpp-httplib adapter, server side: httplib parses, routes and writes each whole request that the
// connection stages took; turns its requests into HttpRequest values and back. Only http/ includes httplib.
#include "http/server.hpp"

#include "http/connections.hpp"

#include <httplib.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/resource.h>
#include <sys/socket.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <cerrno>
#include <chrono>
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

namespace {

// A Stream's read of a request held in memory: the next bytes of `request` after `offset` (moved on).
ssize_t read_next(std::string_view request, std::size_t& offset, char* ptr, size_t size) {
    const std::size_t count = std::min(size, request.size() - offset);
    std::memcpy(ptr, request.data() + offset, count);
    offset += count;
    return static_cast<ssize_t>(count);
}

// Each listener's connections are read by ConnectionStages (http/connections.hpp); httplib parses, routes
// and writes one whole request at a time through this Stream, which reads only that request's bytes.
class ConnectionStream final : public httplib::Stream {
  public:
    ConnectionStream(Connection& connection, std::chrono::milliseconds write_timeout)
        : connection_(connection), request_(connection.request()), write_timeout_(write_timeout) {}

    bool is_readable() const override { return read_ < request_.size(); }
    bool is_writable() const override { return connection_.wait_writable(write_timeout_); }
    ssize_t read(char* ptr, size_t size) override { return read_next(request_, read_, ptr, size); }
    using httplib::Stream::write;
    ssize_t write(const char* ptr, size_t size) override {
        return connection_.write(ptr, size, write_timeout_) ? static_cast<ssize_t>(size) : -1;
    }
    void get_remote_ip_and_port(std::string& ip, int& port) const override {
        ip = connection_.remote_addr();
        port = connection_.remote_port();
    }
    void get_local_ip_and_port(std::string& ip, int& port) const override {
        ip = connection_.local_addr();
        port = connection_.local_port();
    }
    socket_t socket() const override { return connection_.fd(); }

  private:
    Connection& connection_;
    std::string_view request_;
    std::size_t read_ = 0;
    std::chrono::milliseconds write_timeout_;
};

// A request line httplib refuses (an unknown method), read from memory, its answer dropped: see
// initialise_httplib_statics.
class WarmUpStream final : public httplib::Stream {
  public:
    bool is_readable() const override { return read_ < kRequest.size(); }
    bool is_writable() const override { return true; }
    ssize_t read(char* ptr, size_t size) override { return read_next(kRequest, read_, ptr, size); }
    using httplib::Stream::write;
    ssize_t write(const char*, size_t size) override { return static_cast<ssize_t>(size); }
    void get_remote_ip_and_port(std::string& ip, int& port) const override {
        ip = "127.0.0.1";
        port = 0;
    }
    void get_local_ip_and_port(std::string& ip, int& port) const override {
        ip = "127.0.0.1";
        port = 0;
    }
    socket_t socket() const override { return INVALID_SOCKET; }

  private:
    static constexpr std::string_view kRequest = "WARM-UP / HTTP/1.1\r\nHost: localhost\r\n\r\n";
    std::size_t read_ = 0;
};

// What the stages need of the httplib server, whatever its class (Server or SSLServer).
class ServerHooks {
  public:
    virtual ~ServerHooks() = default;
    // httplib's parsing, routing and writing of one request (Server::process_request).
    virtual bool process(httplib::Stream& stream, bool close_connection, bool& connection_closed) = 0;
    virtual std::size_t max_requests_per_connection() const = 0;
    ConnectionStages* stages = nullptr; // while serving
};

// httplib parses a request line against a function-local static (its set of methods), built by the first
// request. The compiler's guard makes that safe, but in Debian's uninstrumented libcpp-httplib
// ThreadSanitizer cannot see the guard, and the first requests of two workers at once read as a data race
// (which ends a receiver built with -fsanitize=thread). One refused request at construction, before any
// worker thread exists, builds it first.
void initialise_httplib_statics(ServerHooks& hooks) {
    WarmUpStream stream;
    bool closed = false;
    (void)hooks.process(stream, true, closed);
}

template <class Base> class BoundedServer final : public Base, public ServerHooks {
  public:
    using Base::Base;
    bool process(httplib::Stream& stream, bool close_connection, bool& connection_closed) override {
        return this->process_request(stream, close_connection, connection_closed, nullptr);
    }
    std::size_t max_requests_per_connection() const override { return this->keep_alive_max_count_; }

  private:
    // httplib's accept loop calls this for every accepted socket (on its own thread, see StagesQueue):
    // instead of a worker reading it with httplib's blocking reads, the reading stage takes it.
    bool process_and_close_socket(socket_t sock) override {
        stages->adopt(sock);
        return true;
    }
};

// The task queue httplib creates for each accept loop. Its tasks call process_and_close_socket, which
// only hands the socket over, so they run at once on the accept thread; the stages' threads do the rest.
class StagesQueue final : public httplib::TaskQueue {
  public:
    StagesQueue(ServerHooks& hooks, ConnectionSettings settings, RequestRunner runner)
        : hooks_(hooks), stages_(std::move(settings), std::move(runner)) {
        hooks_.stages = &stages_;
    }
    ~StagesQueue() override { hooks_.stages = nullptr; }
    void enqueue(std::function<void()> task) override { task(); }
    void shutdown() override { stages_.shutdown(); }

  private:
    ServerHooks& hooks_;
    ConnectionStages stages_;
};

// The request a worker is answering, for the error handler (same thread).
struct Answering {
    Connection* connection = nullptr;
    bool last = false;
};
thread_local Answering answering;

} // namespace

class HttpServerImpl {
  public:
    HttpServerImpl(std::unique_ptr<httplib::Server> created, ServerHooks& server_hooks)
        : owned(std::move(created)), server(*owned), hooks(server_hooks) {}
    std::unique_ptr<httplib::Server> owned; // a BoundedServer<httplib::Server or httplib::SSLServer>
    httplib::Server& server;
    ServerHooks& hooks;
    ConnectionSettings settings;
    // httplib's stop() does nothing until its accept loop runs (and only that loop closes the listening
    // socket), so stop(), serve() and the destructor meet here.
    std::mutex mutex;
    bool bound = false;
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
    // The path as sent, not httplib's decoded in.path: routes match it literally, so "/%2D/reload" is no
    // route and "/api/v1/deployments/x%2Frollback" is not the rollback route (api/ decodes an {id} itself).
    out.path = in.target.substr(0, in.target.find('?'));
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

void apply(const HttpResponse& in, httplib::Response& out) {
    out.status = in.status;
    for (const auto& [name, value] : in.headers)
        out.set_header(name, value);
    out.set_content(in.body, in.content_type);
}

// Workers answer the requests that the reading stage took whole.
constexpr std::size_t kWorkerThreads = 64;
// A connection that sends nothing of a (next) request for this long is closed.
constexpr std::chrono::seconds kKeepAlive{5};
// One write of an answer to a client that does not read gives up after this.
constexpr std::chrono::seconds kWriteTimeout{10};
constexpr std::size_t kMaxConnectionsCeiling = 4096;
constexpr std::size_t kMaxConnectionsFloor = 64;
// File descriptors kept for everything else (the ledger, logs, rollback commands, outgoing calls).
constexpr std::size_t kReservedDescriptors = 128;
constexpr std::size_t kMinBufferBudget = 32 * 1024 * 1024;

std::size_t default_max_connections() {
    rlimit limit{};
    if (::getrlimit(RLIMIT_NOFILE, &limit) != 0 || limit.rlim_cur == RLIM_INFINITY)
        return kMaxConnectionsCeiling;
    const auto descriptors = static_cast<std::size_t>(limit.rlim_cur);
    const std::size_t usable = descriptors > kReservedDescriptors ? descriptors - kReservedDescriptors : 0;
    return std::clamp(usable, kMaxConnectionsFloor, kMaxConnectionsCeiling);
}

RequestRunner make_runner(ServerHooks& hooks) {
    return [&hooks](Connection& connection, bool last, bool& closed) {
        ConnectionStream stream(connection, kWriteTimeout);
        answering = {&connection, last};
        const bool written = hooks.process(stream, last, closed);
        answering = {};
        return written;
    };
}

int port_of(const sockaddr_storage& address) {
    if (address.ss_family == AF_INET) return ntohs(reinterpret_cast<const sockaddr_in*>(&address)->sin_port);
    if (address.ss_family == AF_INET6)
        return ntohs(reinterpret_cast<const sockaddr_in6*>(&address)->sin6_port);
    return -1;
}

// This process's listening sockets whose local port is `port`. httplib keeps its socket private, so it is
// found through /proc/self/fd.
std::vector<int> listening_sockets_on_port(int port) {
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
        if (::getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &accepting, &length) != 0 || accepting == 0) continue;
        sockaddr_storage local{};
        socklen_t local_length = sizeof local;
        if (::getsockname(fd, reinterpret_cast<sockaddr*>(&local), &local_length) != 0) continue;
        if (port_of(local) == port) found.push_back(fd);
    }
    return found;
}

struct MadeServer {
    std::unique_ptr<httplib::Server> server;
    ServerHooks* hooks = nullptr;
    SSL_CTX* tls = nullptr;
};

MadeServer make_server(const TlsSettings& tls) {
    if (!tls.serves_https()) {
        auto server = std::make_unique<BoundedServer<httplib::Server>>();
        ServerHooks* hooks = server.get();
        return {std::move(server), hooks, nullptr};
    }
    for (const std::string* file : {&tls.cert_file, &tls.key_file, &tls.client_ca_file}) {
        if (file->empty()) continue;
        std::FILE* opened = std::fopen(file->c_str(), "rb");
        if (opened == nullptr) throw std::runtime_error("cannot read " + *file + ": " + std::strerror(errno));
        std::fclose(opened);
    }
    auto server = std::make_unique<BoundedServer<httplib::SSLServer>>(
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
    ServerHooks* hooks = server.get();
    SSL_CTX* context = server->ssl_context();
    return {std::move(server), hooks, context};
}

} // namespace

HttpServer::HttpServer(HttpHandler handler, std::size_t max_body_bytes, std::string too_large_body,
                       const TlsSettings& tls, const HttpServerLimits& limits) {
    MadeServer made = make_server(tls);
    impl_ = std::make_unique<HttpServerImpl>(std::move(made.server), *made.hooks);
    ConnectionSettings& settings = impl_->settings;
    settings.max_body_bytes = max_body_bytes;
    settings.too_large_body = too_large_body;
    settings.request_timeout = limits.request_timeout;
    settings.idle_timeout = kKeepAlive;
    settings.write_timeout = kWriteTimeout;
    settings.max_connections =
        limits.max_connections != 0 ? limits.max_connections : default_max_connections();
    settings.buffer_budget =
        limits.buffer_budget != 0 ? limits.buffer_budget : std::max(kMinBufferBudget, 2 * max_body_bytes);
    settings.worker_threads = kWorkerThreads;
    settings.max_requests_per_connection = made.hooks->max_requests_per_connection();
    settings.tls = made.tls;

    auto& server = impl_->server;
    HttpServerImpl* impl = impl_.get();
    server.new_task_queue = [impl] {
        return new StagesQueue(impl->hooks, impl->settings, make_runner(impl->hooks));
    };
    server.set_tcp_nodelay(true);
    // The reading stage refuses larger bodies before this applies.
    server.set_payload_max_length(max_body_bytes);
    // For the Keep-Alive header of answers.
    server.set_keep_alive_timeout(kKeepAlive.count());
    // httplib's default socket options set SO_REUSEPORT, which lets a second receiver bind the same port
    // and silently take half of the webhooks. SO_REUSEADDR alone still allows a quick restart.
    server.set_socket_options([](socket_t socket) {
        int yes = 1;
        ::setsockopt(socket, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
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
    // httplib answers some requests itself (a request line it cannot parse, a bad Range): JSON bodies, and
    // the connection is not used again after such a request.
    server.set_error_handler([too_large_body](const httplib::Request& request, httplib::Response& response) {
        if (!response.body.empty()) return;
        if (answering.connection != nullptr) {
            answering.connection->close_after_answer();
            // httplib adds it itself for the last request or when the client asked.
            if (!answering.last && request.get_header_value("Connection") != "close")
                response.set_header("Connection", "close");
        }
        if (response.status == 413)
            response.set_content(too_large_body, "application/json");
        else
            response.set_content("{\"error\":\"the request could not be read (HTTP " +
                                     std::to_string(response.status) + ")\"}",
                                 "application/json");
    });
    initialise_httplib_statics(*made.hooks);
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
    for (const int fd : listening_sockets_on_port(port))
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
    // Returns after the accept loop ends and the stages have shut down (StagesQueue::shutdown).
    impl_->server.listen_after_bind();
    impl_->serve_returned = true;
    if (stopper.joinable()) stopper.join();
}

// The accept loop ends; the stages then close the connections waiting for a request at once, and those
// with a request being answered right after their answer.
void HttpServer::stop() {
    {
        std::lock_guard lock(impl_->mutex);
        impl_->stop_requested = true;
        if (!impl_->serve_entered) return; // serve(), if it comes, stops at once
    }
    impl_->stop_when_running();
}

} // namespace rollback
