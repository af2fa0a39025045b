// RawHttpConnection: a loopback TCP client that sends exactly the bytes a test gives (malformed, huge or slow
// requests) and reads what comes back; and the resident memory of a process (now and peak), from /proc.
#pragma once

#include "common/unique_fd.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <fstream>
#include <stdexcept>
#include <string>
#include <string_view>

namespace rollback::testing {

struct RawHttpResponse {
    int status = 0;      // 0: no complete status line arrived (error says why)
    std::string head;    // status line and headers
    std::string body;    // by Content-Length
    std::string error;   // "" when a whole response was read
    bool closed = false; // the server closed the connection after (or instead of) the response
};

// The port of "http://127.0.0.1:PORT".
inline int port_of(const std::string& base_url) {
    return std::atoi(base_url.substr(base_url.rfind(':') + 1).c_str());
}

class RawHttpConnection {
  public:
    // Connects to 127.0.0.1:port; a send that cannot progress for `send_limit` fails.
    explicit RawHttpConnection(int port, std::chrono::seconds send_limit = std::chrono::seconds(10))
        : socket_(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) {
        if (!socket_.valid()) throw std::runtime_error("socket() failed");
        timeval limit{};
        limit.tv_sec = static_cast<time_t>(send_limit.count());
        ::setsockopt(socket_.get(), SOL_SOCKET, SO_SNDTIMEO, &limit, sizeof limit);
        int yes = 1;
        ::setsockopt(socket_.get(), IPPROTO_TCP, TCP_NODELAY, &yes, sizeof yes);
        sockaddr_in address{};
        address.sin_family = AF_INET;
        address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        address.sin_port = htons(static_cast<std::uint16_t>(port));
        if (::connect(socket_.get(), reinterpret_cast<sockaddr*>(&address), sizeof address) != 0)
            throw std::runtime_error("cannot connect to 127.0.0.1:" + std::to_string(port));
    }

    // Sends all of `bytes`; false when the server closed or reset the connection, or stopped reading.
    bool send(std::string_view bytes) {
        while (!bytes.empty()) {
            const ssize_t sent = ::send(socket_.get(), bytes.data(), bytes.size(), MSG_NOSIGNAL);
            if (sent < 0 && errno == EINTR) continue;
            if (sent <= 0) return false;
            bytes.remove_prefix(static_cast<std::size_t>(sent));
        }
        return true;
    }

    void shutdown_write() { ::shutdown(socket_.get(), SHUT_WR); }

    // Reads one response (status line, headers, a body of Content-Length bytes) within `limit`.
    RawHttpResponse read_response(std::chrono::milliseconds limit = std::chrono::seconds(10)) {
        RawHttpResponse response;
        const auto give_up = std::chrono::steady_clock::now() + limit;
        std::size_t head_end = std::string::npos;
        std::size_t body_length = 0;
        while (true) {
            if (head_end == std::string::npos) {
                head_end = buffer_.find("\r\n\r\n");
                if (head_end != std::string::npos) {
                    response.head = buffer_.substr(0, head_end);
                    response.status = parse_status(response.head);
                    body_length = content_length(response.head);
                }
            }
            if (head_end != std::string::npos && buffer_.size() >= head_end + 4 + body_length) {
                response.body = buffer_.substr(head_end + 4, body_length);
                buffer_.erase(0, head_end + 4 + body_length);
                if (response.status < 100 || response.status >= 200) return response;
                head_end = std::string::npos; // "100 Continue": the answer follows
                response = RawHttpResponse();
                continue;
            }
            const ReadOutcome outcome = read_some(give_up);
            if (outcome == ReadOutcome::data) continue;
            response.closed = outcome == ReadOutcome::closed;
            response.error = outcome == ReadOutcome::closed ? "connection closed" : "no answer in time";
            if (head_end == std::string::npos) response.status = 0;
            return response;
        }
    }

    // Waits (at most `limit`) for the server to close the connection, discarding what it sends.
    bool wait_closed(std::chrono::milliseconds limit) {
        const auto give_up = std::chrono::steady_clock::now() + limit;
        while (true) {
            const ReadOutcome outcome = read_some(give_up);
            if (outcome == ReadOutcome::closed) return true;
            if (outcome == ReadOutcome::timed_out) return false;
            buffer_.clear();
        }
    }

  private:
    enum class ReadOutcome { data, closed, timed_out };

    ReadOutcome read_some(std::chrono::steady_clock::time_point give_up) {
        const auto left =
            std::chrono::duration_cast<std::chrono::milliseconds>(give_up - std::chrono::steady_clock::now());
        if (left.count() <= 0) return ReadOutcome::timed_out;
        pollfd readable{socket_.get(), POLLIN, 0};
        const int ready = ::poll(&readable, 1, static_cast<int>(left.count()));
        if (ready < 0 && errno == EINTR) return ReadOutcome::data; // try again (loops re-check the time)
        if (ready <= 0) return ReadOutcome::timed_out;
        char chunk[16384];
        const ssize_t count = ::recv(socket_.get(), chunk, sizeof chunk, 0);
        if (count > 0) {
            buffer_.append(chunk, static_cast<std::size_t>(count));
            return ReadOutcome::data;
        }
        if (count < 0 && errno == EINTR) return ReadOutcome::data;
        return ReadOutcome::closed; // EOF or reset
    }

    static int parse_status(const std::string& head) {
        // "HTTP/1.1 400 Bad Request"
        const auto space = head.find(' ');
        if (head.rfind("HTTP/", 0) != 0 || space == std::string::npos) return 0;
        return std::atoi(head.c_str() + space + 1);
    }

    static std::size_t content_length(const std::string& head) {
        std::string lower = head;
        for (char& c : lower)
            c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        const auto at = lower.find("\r\ncontent-length:");
        if (at == std::string::npos) return 0;
        return static_cast<std::size_t>(std::strtoull(lower.c_str() + at + 17, nullptr, 10));
    }

    UniqueFd socket_;
    std::string buffer_;
};

// Sends `request` on a new connection and reads one response.
inline RawHttpResponse raw_exchange(int port, std::string_view request,
                                    std::chrono::milliseconds limit = std::chrono::seconds(10)) {
    RawHttpConnection connection(port);
    if (!connection.send(request)) {
        RawHttpResponse response = connection.read_response(std::chrono::milliseconds(500));
        if (response.status == 0) response.error = "the server stopped reading the request";
        return response;
    }
    return connection.read_response(limit);
}

// A field of /proc/PID/status in KiB ("VmRSS", "VmHWM"); 0 when it cannot be read.
inline long status_kib(pid_t pid, const std::string& field) {
    std::ifstream status("/proc/" + std::to_string(pid) + "/status");
    for (std::string line; std::getline(status, line);)
        if (line.rfind(field + ":", 0) == 0) return std::atol(line.c_str() + field.size() + 1);
    return 0;
}

// Resident memory of a running process in KiB: now (VmRSS), and the peak (VmHWM).
inline long resident_kib(pid_t pid) {
    return status_kib(pid, "VmRSS");
}
inline long peak_resident_kib(pid_t pid) {
    return status_kib(pid, "VmHWM");
}

// Resets the peak (VmHWM) to the current resident size (Linux 4.0+, writing 5 to /proc/PID/clear_refs);
// false when not permitted, and then the peak counts from the start of the process.
inline bool reset_peak_resident(pid_t pid) {
    std::ofstream clear("/proc/" + std::to_string(pid) + "/clear_refs");
    clear << "5";
    clear.flush();
    return static_cast<bool>(clear);
}

} // namespace rollback::testing
