// The listener's connections: a reading stage that takes each request whole, within its bounds and
// deadline, from any number of slow clients at once, and workers that answer only whole requests.
#pragma once

#include "http/request_framing.hpp"

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_map>
#include <vector>

struct ssl_st;     // OpenSSL's SSL
struct ssl_ctx_st; // OpenSSL's SSL_CTX

namespace rollback {

struct ConnectionSettings {
    std::size_t max_body_bytes = 1024 * 1024;
    std::string too_large_body;                        // the JSON body of a 413
    std::chrono::milliseconds request_timeout{10'000}; // first byte to last byte of a request
    std::chrono::milliseconds idle_timeout{5'000};     // nothing of a (next) request arrives
    std::chrono::milliseconds write_timeout{10'000};   // one write of an answer
    std::size_t max_connections = 1024;                // open at once; more shed the oldest
    std::size_t buffer_budget = 32 * 1024 * 1024;      // bytes of unfinished requests, all together
    std::size_t worker_threads = 64;                   // requests answered at once
    std::size_t max_requests_per_connection = 5;       // then the connection is closed
    ssl_ctx_st* tls = nullptr;                         // set: TLS on every connection
};

// Memory for received bytes: from the heap below 32 KiB; above, mapped for the one buffer and unmapped when
// it is freed. A large buffer a shed or answered request held thus leaves the process at once instead of
// staying with the allocator (glibc raises its own mapping threshold as large blocks come and go, and then
// keeps them), and reserved but unwritten memory is never resident.
template <class T> struct ReceiveAllocator {
    using value_type = T;
    ReceiveAllocator() = default;
    template <class U> ReceiveAllocator(const ReceiveAllocator<U>&) noexcept {}
    T* allocate(std::size_t count);
    void deallocate(T* pointer, std::size_t count) noexcept;
    template <class U> bool operator==(const ReceiveAllocator<U>&) const noexcept { return true; }
};
using ReceivedBytes = std::basic_string<char, std::char_traits<char>, ReceiveAllocator<char>>;

class Connection;

// Answers the whole request of `connection` (Connection::request()) on a worker thread: false when the
// connection failed. `last` asks for "Connection: close"; `closed` is set when the request asked for it.
using RequestRunner = std::function<bool(Connection& connection, bool last, bool& closed)>;

// One accepted connection. Only one thread holds it at a time (the reading stage or one worker).
class Connection {
  public:
    Connection(int fd, ssl_st* ssl, std::size_t max_body_bytes, std::atomic<std::size_t>& open_count);
    ~Connection();
    Connection(const Connection&) = delete;
    Connection& operator=(const Connection&) = delete;

    // For the runner: the request being answered, head and body, and the connection's addresses.
    std::string_view request() const { return std::string_view(received_.data(), framing_.request_size()); }
    const std::string& remote_addr() const { return remote_addr_; }
    int remote_port() const { return remote_port_; }
    const std::string& local_addr() const { return local_addr_; }
    int local_port() const { return local_port_; }
    int fd() const { return fd_; }
    // Writes all of `data` within `timeout`; false when the connection failed or the client stopped
    // reading. A "100 Continue" the reading stage already sent is not sent again.
    bool write(const char* data, std::size_t size, std::chrono::milliseconds timeout);
    bool wait_writable(std::chrono::milliseconds timeout) const;
    // The answer being written ends the connection: what the client sends after it is read and dropped.
    void close_after_answer() { close_after_answer_ = true; }

  private:
    friend class ConnectionStages;
    enum class State { handshake, idle, reading, draining };
    enum class Receive { data, again, closed };

    Receive receive(bool keep);            // one read; keep: append to received_, else drop
    bool send_now(std::string_view bytes); // without waiting; false if not all of it went out
    // TLS close_notify, then FIN. The connection is ending: from here it no longer counts against
    // max_connections (the client sees the end at once and may connect again before the close).
    void shut_writing();

    int fd_;
    ssl_st* ssl_;
    std::atomic<std::size_t>& open_count_;
    bool counted_open_ = true; // in open_count_ (until shut_writing or the close)
    State state_ = State::idle;
    std::chrono::steady_clock::time_point since_; // entered the state (reading: the request's first byte)
    ReceivedBytes received_;                      // from the first byte of the request being read
    std::size_t counted_ = 0;                     // bytes of received_ in the reading stage's budget
    RequestFraming framing_;
    bool continue_sent_ = false;
    bool close_after_answer_ = false;
    std::size_t requests_ = 0;
    std::uint32_t events_ = 0; // registered with epoll (0: not registered)
    std::string remote_addr_;
    int remote_port_ = 0;
    std::string local_addr_;
    int local_port_ = 0;
};

// The reading stage: one thread that waits (epoll) on every connection that has no whole request yet,
// reads what arrives, checks it with RequestFraming, refuses what breaks a bound (answered with its JSON
// error, then what the client still sends is read and dropped for a moment before the close, so that the
// answer is not lost to a reset), and hands each whole request to a worker. Slow clients cost a buffer of
// what they sent, never a worker. Bounds: a request must arrive whole within request_timeout of its first
// byte (408), a connection that sends nothing closes after idle_timeout, at most max_connections are open
// (a new one sheds the oldest waiting one: 503), and the unfinished requests hold at most buffer_budget
// bytes together (the largest is shed: 503).
// Workers answer with the runner; for a keep-alive connection the worker waits a moment for the next
// request (a client sending requests back to back keeps its worker), then gives the connection back.
class ConnectionStages {
  public:
    ConnectionStages(ConnectionSettings settings, RequestRunner runner);
    ~ConnectionStages();
    ConnectionStages(const ConnectionStages&) = delete;
    ConnectionStages& operator=(const ConnectionStages&) = delete;

    // Takes an accepted socket (any thread).
    void adopt(int fd);
    // Closes the connections waiting for a request; lets the workers finish the requests they have and
    // closes their connections after. Returns when every thread has ended.
    void shutdown();

  private:
    using Steady = std::chrono::steady_clock;
    enum class Next { complete, refused, more, closed };

    // Reading stage (its own thread).
    void read_loop();
    void take_inbox();
    void watch(std::unique_ptr<Connection> connection);
    void on_ready(Connection& connection);
    void handshake(Connection& connection);
    void read_request(Connection& connection);
    void drain(Connection& connection);
    void set_events(Connection& connection, std::uint32_t events);
    std::unique_ptr<Connection> forget(Connection& connection);
    void to_worker(Connection& connection);
    void refuse_in_reader(Connection& connection, int status, const std::string& error);
    void sweep(Steady::time_point now);
    bool shed_one();
    void shed_over_budget();
    void count(Connection& connection);
    // Either side.
    FramingVerdict advance(Connection& connection, Steady::time_point now);
    void refuse(Connection& connection, int status, const std::string& error);
    void give_back(std::unique_ptr<Connection> connection);
    void wake();
    // Workers.
    void worker_loop();
    void serve(std::unique_ptr<Connection> connection);
    Next wait_for_next_request(Connection& connection);

    ConnectionSettings settings_;
    RequestRunner runner_;
    std::atomic<std::size_t> open_count_{0};
    std::atomic<bool> stopping_{false};
    bool shut_down_ = false;
    int epoll_fd_ = -1;
    int wake_fd_ = -1;

    std::mutex inbox_mutex_;
    std::vector<std::unique_ptr<Connection>> inbox_; // adopted or given back, for the reading stage
    bool reader_stopped_ = false;

    // The reading stage's own (its thread only).
    std::unordered_map<int, std::unique_ptr<Connection>> waiting_;
    std::size_t buffered_ = 0;
    Steady::time_point last_sweep_{};

    std::mutex jobs_mutex_;
    std::condition_variable jobs_ready_;
    std::deque<std::unique_ptr<Connection>> jobs_;
    bool workers_stopping_ = false;
    std::vector<std::thread> workers_;
    std::thread reader_;
};

} // namespace rollback
