// ConnectionStages and Connection: the listener's sockets, epoll, TLS handshakes, deadlines and limits.
#include "http/connections.hpp"

#include "common/time_util.hpp"

#include <openssl/err.h>
#include <openssl/ssl.h>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstdint>
#include <new>
#include <stdexcept>
#include <system_error>

namespace rollback {
namespace {

using Steady = std::chrono::steady_clock;

constexpr std::size_t kReadChunk = 16 * 1024;
// A connection that sends fast gives way to the others after this many chunks (256 KiB).
constexpr int kChunksPerTurn = 16;
constexpr auto kSweepInterval = std::chrono::milliseconds(100);
// How long a worker waits for the next request of a keep-alive connection before giving it back to the
// reading stage: a client that sends its requests back to back keeps its worker.
constexpr auto kWorkerLinger = std::chrono::milliseconds(20);
// After a refusal, what the client still sends is read and dropped for at most this long before the
// close (a close with unread bytes resets the connection, and the client could lose the answer).
constexpr auto kLingeringClose = std::chrono::seconds(2);
constexpr std::string_view kContinue = "HTTP/1.1 100 Continue\r\n\r\n";

const char* reason_phrase(int status) {
    switch (status) {
    case 400:
        return "Bad Request";
    case 408:
        return "Request Timeout";
    case 411:
        return "Length Required";
    case 413:
        return "Payload Too Large";
    case 414:
        return "URI Too Long";
    case 415:
        return "Unsupported Media Type";
    case 431:
        return "Request Header Fields Too Large";
    case 503:
        return "Service Unavailable";
    default:
        return "Error";
    }
}

std::string json_error(const std::string& message) {
    std::string body = "{\"error\":\"";
    for (const char c : message) {
        if (c == '"' || c == '\\') body += '\\';
        if (static_cast<unsigned char>(c) >= 0x20) body += c;
    }
    return body + "\"}";
}

std::string error_response(int status, const std::string& body) {
    return "HTTP/1.1 " + std::to_string(status) + " " + reason_phrase(status) +
           "\r\nContent-Type: application/json\r\nContent-Length: " + std::to_string(body.size()) +
           "\r\nConnection: close\r\n\r\n" + body;
}

void describe(const sockaddr_storage& address, std::string& host, int& port) {
    char text[INET6_ADDRSTRLEN] = {};
    if (address.ss_family == AF_INET) {
        const auto* v4 = reinterpret_cast<const sockaddr_in*>(&address);
        ::inet_ntop(AF_INET, &v4->sin_addr, text, sizeof text);
        port = ntohs(v4->sin_port);
    } else if (address.ss_family == AF_INET6) {
        const auto* v6 = reinterpret_cast<const sockaddr_in6*>(&address);
        ::inet_ntop(AF_INET6, &v6->sin6_addr, text, sizeof text);
        port = ntohs(v6->sin6_port);
    }
    host = text;
}

// Waits until `fd` is ready for `events` or `until` passes; false on time-out or error.
bool wait_for(int fd, short events, Steady::time_point until) {
    while (true) {
        const auto left = std::chrono::ceil<std::chrono::milliseconds>(until - Steady::now()).count();
        if (left <= 0) return false;
        pollfd ready{fd, events, 0};
        const int count = ::poll(&ready, 1, static_cast<int>(std::min<long long>(left, INT_MAX)));
        if (count > 0) return (ready.revents & (events | POLLHUP | POLLERR)) != 0;
        if (count == 0) return false;
        if (errno != EINTR) return false;
    }
}

constexpr std::size_t kMappedFrom = 32 * 1024;

std::size_t page_rounded(std::size_t bytes) {
    static const auto page = static_cast<std::size_t>(::sysconf(_SC_PAGESIZE));
    return (bytes + page - 1) / page * page;
}

} // namespace

template <class T> T* ReceiveAllocator<T>::allocate(std::size_t count) {
    const std::size_t bytes = count * sizeof(T);
    if (bytes < kMappedFrom) return static_cast<T*>(::operator new(bytes));
    void* mapped =
        ::mmap(nullptr, page_rounded(bytes), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (mapped == MAP_FAILED) throw std::bad_alloc();
    return static_cast<T*>(mapped);
}

template <class T> void ReceiveAllocator<T>::deallocate(T* pointer, std::size_t count) noexcept {
    const std::size_t bytes = count * sizeof(T);
    if (bytes < kMappedFrom)
        ::operator delete(pointer);
    else
        ::munmap(pointer, page_rounded(bytes));
}

template struct ReceiveAllocator<char>;

Connection::Connection(int fd, ssl_st* ssl, std::size_t max_body_bytes, std::atomic<std::size_t>& open_count)
    : fd_(fd), ssl_(ssl), open_count_(open_count), since_(Steady::now()), framing_(max_body_bytes) {
    ++open_count_;
    sockaddr_storage address{};
    socklen_t length = sizeof address;
    if (::getpeername(fd_, reinterpret_cast<sockaddr*>(&address), &length) == 0)
        describe(address, remote_addr_, remote_port_);
    length = sizeof address;
    if (::getsockname(fd_, reinterpret_cast<sockaddr*>(&address), &length) == 0)
        describe(address, local_addr_, local_port_);
}

Connection::~Connection() {
    if (ssl_ != nullptr) SSL_free(ssl_);
    ::close(fd_);
    if (counted_open_) --open_count_;
}

Connection::Receive Connection::receive(bool keep) {
    char chunk[kReadChunk];
    if (ssl_ != nullptr && keep) {
        ERR_clear_error();
        const int count = SSL_read(ssl_, chunk, static_cast<int>(sizeof chunk));
        if (count > 0) {
            received_.append(chunk, static_cast<std::size_t>(count));
            return Receive::data;
        }
        const int error = SSL_get_error(ssl_, count);
        return error == SSL_ERROR_WANT_READ || error == SSL_ERROR_WANT_WRITE ? Receive::again
                                                                             : Receive::closed;
    }
    while (true) {
        const ssize_t count = ::recv(fd_, chunk, sizeof chunk, 0);
        if (count > 0) {
            if (keep) received_.append(chunk, static_cast<std::size_t>(count));
            return Receive::data;
        }
        if (count < 0 && errno == EINTR) continue;
        if (count < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return Receive::again;
        return Receive::closed;
    }
}

bool Connection::send_now(std::string_view bytes) {
    if (ssl_ != nullptr) {
        ERR_clear_error();
        return SSL_write(ssl_, bytes.data(), static_cast<int>(bytes.size())) ==
               static_cast<int>(bytes.size());
    }
    while (!bytes.empty()) {
        const ssize_t sent = ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
        if (sent < 0 && errno == EINTR) continue;
        if (sent <= 0) return false;
        bytes.remove_prefix(static_cast<std::size_t>(sent));
    }
    return true;
}

void Connection::shut_writing() {
    if (ssl_ != nullptr) {
        ERR_clear_error();
        SSL_shutdown(ssl_); // close_notify, without waiting for the client's
    }
    if (counted_open_) --open_count_;
    counted_open_ = false;
    ::shutdown(fd_, SHUT_WR);
}

bool Connection::write(const char* data, std::size_t size, std::chrono::milliseconds timeout) {
    if (continue_sent_ && std::string_view(data, size) == kContinue) {
        continue_sent_ = false; // the reading stage sent it before the body came
        return true;
    }
    const auto until = Steady::now() + timeout;
    std::size_t done = 0;
    while (done < size) {
        const std::size_t part = std::min<std::size_t>(size - done, INT_MAX);
        if (ssl_ != nullptr) {
            ERR_clear_error();
            const int written = SSL_write(ssl_, data + done, static_cast<int>(part));
            if (written > 0) {
                done += static_cast<std::size_t>(written);
                continue;
            }
            const int error = SSL_get_error(ssl_, written);
            if (error == SSL_ERROR_WANT_WRITE && wait_for(fd_, POLLOUT, until)) continue;
            if (error == SSL_ERROR_WANT_READ && wait_for(fd_, POLLIN, until)) continue;
            return false;
        }
        const ssize_t written = ::send(fd_, data + done, part, MSG_NOSIGNAL);
        if (written > 0) {
            done += static_cast<std::size_t>(written);
            continue;
        }
        if (written < 0 && errno == EINTR) continue;
        if (written < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) && wait_for(fd_, POLLOUT, until))
            continue;
        return false;
    }
    return true;
}

bool Connection::wait_writable(std::chrono::milliseconds timeout) const {
    return wait_for(fd_, POLLOUT, Steady::now() + timeout);
}

ConnectionStages::ConnectionStages(ConnectionSettings settings, RequestRunner runner)
    : settings_(std::move(settings)), runner_(std::move(runner)) {
    epoll_fd_ = ::epoll_create1(EPOLL_CLOEXEC);
    wake_fd_ = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (epoll_fd_ < 0 || wake_fd_ < 0) {
        const int error = errno;
        if (epoll_fd_ >= 0) ::close(epoll_fd_);
        if (wake_fd_ >= 0) ::close(wake_fd_);
        throw std::system_error(error, std::generic_category(), "cannot create the HTTP server's epoll set");
    }
    epoll_event wake{};
    wake.events = EPOLLIN;
    wake.data.fd = wake_fd_;
    ::epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, wake_fd_, &wake);
    // A write to a connection the client closed must fail with EPIPE, not end the process: OpenSSL writes
    // with write(2), which has no MSG_NOSIGNAL. The stages' threads start with SIGPIPE blocked.
    sigset_t pipe_signal;
    sigset_t previous;
    sigemptyset(&pipe_signal);
    sigaddset(&pipe_signal, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &pipe_signal, &previous);
    reader_ = std::thread([this] { read_loop(); });
    for (std::size_t i = 0; i < settings_.worker_threads; ++i)
        workers_.emplace_back([this] { worker_loop(); });
    pthread_sigmask(SIG_SETMASK, &previous, nullptr);
}

ConnectionStages::~ConnectionStages() {
    shutdown();
    ::close(epoll_fd_);
    ::close(wake_fd_);
}

void ConnectionStages::adopt(int fd) {
    ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK);
    ::fcntl(fd, F_SETFD, FD_CLOEXEC); // rollback commands are started from this process
    ssl_st* ssl = nullptr;
    if (settings_.tls != nullptr) {
        ssl = SSL_new(settings_.tls);
        if (ssl == nullptr || SSL_set_fd(ssl, fd) != 1) {
            if (ssl != nullptr) SSL_free(ssl);
            ::close(fd);
            return;
        }
    }
    auto connection = std::make_unique<Connection>(fd, ssl, settings_.max_body_bytes, open_count_);
    connection->state_ = ssl != nullptr ? Connection::State::handshake : Connection::State::idle;
    give_back(std::move(connection));
}

void ConnectionStages::give_back(std::unique_ptr<Connection> connection) {
    {
        std::lock_guard lock(inbox_mutex_);
        if (!reader_stopped_) {
            inbox_.push_back(std::move(connection));
            connection = nullptr;
        }
    }
    if (connection == nullptr) wake(); // else: stopped, and it closes here
}

void ConnectionStages::wake() {
    const std::uint64_t one = 1;
    [[maybe_unused]] const ssize_t written = ::write(wake_fd_, &one, sizeof one);
}

void ConnectionStages::shutdown() {
    if (shut_down_) return;
    shut_down_ = true;
    stopping_ = true;
    {
        std::lock_guard lock(inbox_mutex_);
        reader_stopped_ = true;
    }
    wake();
    reader_.join();
    {
        std::lock_guard lock(jobs_mutex_);
        workers_stopping_ = true;
    }
    jobs_ready_.notify_all();
    for (std::thread& worker : workers_)
        worker.join();
}

// ---- The reading stage ----

void ConnectionStages::read_loop() {
    epoll_event events[64];
    last_sweep_ = Steady::now();
    while (true) {
        const int ready = ::epoll_wait(epoll_fd_, events, 64, static_cast<int>(kSweepInterval.count()));
        for (int i = 0; i < ready; ++i) {
            const int fd = events[i].data.fd;
            if (fd == wake_fd_) {
                std::uint64_t count = 0;
                [[maybe_unused]] const ssize_t got = ::read(wake_fd_, &count, sizeof count);
                continue;
            }
            const auto found = waiting_.find(fd);
            if (found != waiting_.end()) on_ready(*found->second);
        }
        bool stopped = false;
        {
            std::lock_guard lock(inbox_mutex_);
            stopped = reader_stopped_;
        }
        if (stopped) {
            waiting_.clear();
            std::vector<std::unique_ptr<Connection>> left;
            {
                std::lock_guard lock(inbox_mutex_);
                left.swap(inbox_);
            }
            return;
        }
        take_inbox();
        const auto now = Steady::now();
        if (now - last_sweep_ >= kSweepInterval) {
            sweep(now);
            last_sweep_ = now;
        }
    }
}

void ConnectionStages::take_inbox() {
    std::vector<std::unique_ptr<Connection>> taken;
    {
        std::lock_guard lock(inbox_mutex_);
        taken.swap(inbox_);
    }
    for (auto& connection : taken)
        watch(std::move(connection));
    while (open_count_ > settings_.max_connections && shed_one()) {
    }
}

void ConnectionStages::watch(std::unique_ptr<Connection> connection) {
    Connection& watched = *connection;
    waiting_[watched.fd_] = std::move(connection);
    count(watched);
    set_events(watched, EPOLLIN);
    on_ready(watched); // what already arrived: a new client's request, a pipelined one, a TLS hello
}

void ConnectionStages::set_events(Connection& connection, std::uint32_t events) {
    if (connection.events_ == events) return;
    epoll_event event{};
    event.events = events;
    event.data.fd = connection.fd_;
    ::epoll_ctl(epoll_fd_, connection.events_ == 0 ? EPOLL_CTL_ADD : EPOLL_CTL_MOD, connection.fd_, &event);
    connection.events_ = events;
}

std::unique_ptr<Connection> ConnectionStages::forget(Connection& connection) {
    if (connection.events_ != 0) ::epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, connection.fd_, nullptr);
    connection.events_ = 0;
    buffered_ -= connection.counted_;
    connection.counted_ = 0;
    const auto found = waiting_.find(connection.fd_);
    std::unique_ptr<Connection> owned = std::move(found->second);
    waiting_.erase(found);
    return owned;
}

// The budget counts the bytes received: a buffer's capacity beyond them is reserved, not resident.
void ConnectionStages::count(Connection& connection) {
    buffered_ = buffered_ - connection.counted_ + connection.received_.size();
    connection.counted_ = connection.received_.size();
}

void ConnectionStages::on_ready(Connection& connection) {
    switch (connection.state_) {
    case Connection::State::handshake:
        handshake(connection);
        return;
    case Connection::State::draining:
        drain(connection);
        return;
    case Connection::State::idle:
    case Connection::State::reading:
        read_request(connection);
        return;
    }
}

void ConnectionStages::handshake(Connection& connection) {
    ERR_clear_error();
    const int result = SSL_accept(connection.ssl_);
    if (result == 1) {
        connection.state_ = Connection::State::idle;
        connection.since_ = Steady::now();
        set_events(connection, EPOLLIN);
        read_request(connection);
        return;
    }
    const int error = SSL_get_error(connection.ssl_, result);
    if (error == SSL_ERROR_WANT_READ) {
        set_events(connection, EPOLLIN);
    } else if (error == SSL_ERROR_WANT_WRITE) {
        set_events(connection, EPOLLOUT);
    } else {
        forget(connection); // not TLS, or a certificate that is not accepted
    }
}

void ConnectionStages::read_request(Connection& connection) {
    for (int chunk = 0;
         chunk < kChunksPerTurn || (connection.ssl_ != nullptr && SSL_pending(connection.ssl_) > 0);
         ++chunk) {
        const Connection::Receive got = connection.receive(true);
        if (got == Connection::Receive::again) return;
        if (got == Connection::Receive::closed) {
            forget(connection);
            return;
        }
        count(connection);
        const FramingVerdict verdict = advance(connection, Steady::now());
        if (verdict.kind == FramingVerdict::Kind::complete) {
            to_worker(connection);
            return;
        }
        if (verdict.kind == FramingVerdict::Kind::refused) {
            refuse_in_reader(connection, verdict.status, verdict.error);
            return;
        }
        if (buffered_ > settings_.buffer_budget) {
            shed_over_budget();
            return; // the connection may be the one shed; if not, epoll says when more arrives
        }
    }
}

void ConnectionStages::drain(Connection& connection) {
    for (int chunk = 0; chunk < kChunksPerTurn; ++chunk) {
        const Connection::Receive got = connection.receive(false);
        if (got == Connection::Receive::again) return;
        if (got == Connection::Receive::closed) {
            forget(connection);
            return;
        }
    }
}

void ConnectionStages::to_worker(Connection& connection) {
    std::unique_ptr<Connection> owned = forget(connection);
    {
        std::lock_guard lock(jobs_mutex_);
        jobs_.push_back(std::move(owned));
    }
    jobs_ready_.notify_one();
}

void ConnectionStages::refuse_in_reader(Connection& connection, int status, const std::string& error) {
    refuse(connection, status, error);
    count(connection);
    set_events(connection, EPOLLIN);
}

void ConnectionStages::refuse(Connection& connection, int status, const std::string& error) {
    const std::string body = status == 413 ? settings_.too_large_body : json_error(error);
    connection.send_now(error_response(status, body));
    connection.shut_writing();
    connection.state_ = Connection::State::draining;
    connection.since_ = Steady::now();
    ReceivedBytes().swap(connection.received_);
}

void ConnectionStages::sweep(Steady::time_point now) {
    std::vector<Connection*> expired;
    for (const auto& [fd, connection] : waiting_) {
        const auto age = now - connection->since_;
        switch (connection->state_) {
        case Connection::State::handshake:
        case Connection::State::reading:
            if (age > settings_.request_timeout) expired.push_back(connection.get());
            break;
        case Connection::State::idle:
            if (age > settings_.idle_timeout) expired.push_back(connection.get());
            break;
        case Connection::State::draining:
            if (age > kLingeringClose) expired.push_back(connection.get());
            break;
        }
    }
    for (Connection* connection : expired) {
        if (connection->state_ == Connection::State::reading) {
            refuse_in_reader(*connection, 408,
                             "the request did not arrive whole within " +
                                 format_duration(settings_.request_timeout) +
                                 " of its first byte; send it at once");
        } else {
            forget(*connection);
        }
    }
}

// Makes room for a new connection: closes the connection waiting longest, preferring one that is only
// being drained, then one idle between requests; one still sending its request (or a new one that has
// sent nothing yet) gets a 503 first.
bool ConnectionStages::shed_one() {
    Connection* victim = nullptr;
    auto rank = [](const Connection& connection) {
        switch (connection.state_) {
        case Connection::State::draining:
            return 0;
        case Connection::State::idle:
            // A new client whose first bytes have not arrived yet is about to send, not idle: shedding it
            // would refuse the newcomer instead of the connection that waited longest.
            return connection.requests_ == 0 ? 3 : 1;
        case Connection::State::handshake:
            return 2;
        case Connection::State::reading:
            return 3;
        }
        return 3;
    };
    for (const auto& [fd, connection] : waiting_) {
        if (victim == nullptr || rank(*connection) < rank(*victim) ||
            (rank(*connection) == rank(*victim) && connection->since_ < victim->since_))
            victim = connection.get();
    }
    if (victim == nullptr) return false;
    if (victim->state_ == Connection::State::reading)
        victim->send_now(error_response(
            503, json_error("the receiver has too many open connections; send the request again")));
    forget(*victim);
    return true;
}

void ConnectionStages::shed_over_budget() {
    while (buffered_ > settings_.buffer_budget) {
        Connection* largest = nullptr;
        for (const auto& [fd, connection] : waiting_) {
            if (connection->state_ == Connection::State::reading &&
                (largest == nullptr || connection->counted_ > largest->counted_))
                largest = connection.get();
        }
        if (largest == nullptr) return;
        refuse_in_reader(*largest, 503,
                         "the receiver holds too many unfinished requests; send the request again");
    }
}

// ---- Either side ----

FramingVerdict ConnectionStages::advance(Connection& connection, Steady::time_point now) {
    if (connection.received_.empty()) return {};
    if (connection.state_ == Connection::State::idle) {
        connection.state_ = Connection::State::reading;
        connection.since_ = now;
    }
    FramingVerdict verdict = connection.framing_.scan(connection.received_);
    if (verdict.kind == FramingVerdict::Kind::need_more && connection.framing_.head_complete()) {
        // One buffer for the whole request (reserved, not resident) instead of doublings and copies.
        if (connection.received_.capacity() < connection.framing_.request_size())
            connection.received_.reserve(connection.framing_.request_size());
        if (connection.framing_.expects_continue() && !connection.continue_sent_ &&
            connection.received_.size() == connection.framing_.head_size())
            connection.continue_sent_ = connection.send_now(kContinue);
    }
    return verdict;
}

// ---- Workers ----

void ConnectionStages::worker_loop() {
    while (true) {
        std::unique_ptr<Connection> connection;
        {
            std::unique_lock lock(jobs_mutex_);
            jobs_ready_.wait(lock, [this] { return !jobs_.empty() || workers_stopping_; });
            if (jobs_.empty()) return;
            connection = std::move(jobs_.front());
            jobs_.pop_front();
        }
        serve(std::move(connection));
    }
}

void ConnectionStages::serve(std::unique_ptr<Connection> connection) {
    while (true) {
        const bool last = stopping_ || connection->requests_ + 1 >= settings_.max_requests_per_connection;
        bool closed = false;
        const bool written = runner_(*connection, last, closed);
        ++connection->requests_;
        // What follows the request is the start of the next one, if the client sent it already.
        connection->received_.erase(0, connection->framing_.request_size());
        if (connection->received_.empty() && connection->received_.capacity() > kReadChunk)
            ReceivedBytes().swap(connection->received_);
        connection->framing_.reset();
        connection->continue_sent_ = false;
        connection->state_ = Connection::State::idle;
        connection->since_ = Steady::now();
        if (!written) return; // the client is gone or stopped reading: close
        if (last || closed || connection->close_after_answer_ || stopping_) {
            connection->shut_writing();
            // Bytes after an answer that ends the connection are read and dropped before the close.
            if (connection->close_after_answer_ || !connection->received_.empty()) {
                connection->state_ = Connection::State::draining;
                ReceivedBytes().swap(connection->received_);
                give_back(std::move(connection));
            }
            return;
        }
        switch (wait_for_next_request(*connection)) {
        case Next::complete:
            continue;
        case Next::closed:
            return;
        case Next::refused:
        case Next::more:
            give_back(std::move(connection));
            return;
        }
    }
}

ConnectionStages::Next ConnectionStages::wait_for_next_request(Connection& connection) {
    const auto until = Steady::now() + kWorkerLinger;
    while (true) {
        const FramingVerdict verdict = advance(connection, Steady::now());
        if (verdict.kind == FramingVerdict::Kind::complete) return Next::complete;
        if (verdict.kind == FramingVerdict::Kind::refused) {
            refuse(connection, verdict.status, verdict.error);
            return Next::refused;
        }
        if (stopping_) return Next::more;
        const Connection::Receive got = connection.receive(true);
        if (got == Connection::Receive::closed) return Next::closed;
        if (got == Connection::Receive::data) continue;
        if (connection.ssl_ != nullptr && SSL_pending(connection.ssl_) > 0) continue;
        if (!wait_for(connection.fd_, POLLIN, until)) return Next::more;
    }
}

} // namespace rollback
