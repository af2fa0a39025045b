// The ceiling for tests/bench/webhook-throughput.sh: a bare cpp-httplib server that answers 200 to anything.
//
//   bare_server PORT        listens on 127.0.0.1:PORT until SIGTERM or SIGINT
//
// Same HTTP settings as the receiver's HttpServer (receiver/http/server.cpp): TCP_NODELAY on (without it
// Debian's cpp-httplib 0.11.4 stalls ~40 ms on every keep-alive POST of a few KB), the same body limit,
// timeouts, keep-alive timeout, SO_REUSEADDR and listen backlog, and httplib's default thread pool. Each
// request is read whole (httplib does that before the handler runs) and answered with a small JSON body
// of the receiver's size, so the difference to the receiver is the receiver's own work.
#include <httplib.h>

#include <netinet/in.h>
#include <sys/socket.h>

#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>

namespace {

// cpp-httplib 0.11 listens with a backlog of 5; the receiver raises it (see raise_listen_backlog in
// receiver/http/server.cpp), so this server does the same, or Connection: close runs would compare
// different accept queues.
void raise_listen_backlog(int port) {
    for (int fd = 0; fd < 4096; ++fd) {
        int listening = 0;
        socklen_t length = sizeof listening;
        if (::getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &length) != 0 || listening == 0) continue;
        sockaddr_in address{};
        socklen_t address_length = sizeof address;
        if (::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &address_length) != 0) continue;
        if (address.sin_family == AF_INET && ntohs(address.sin_port) == port) ::listen(fd, SOMAXCONN);
    }
}

} // namespace

int main(int argc, char** argv) {
    if (argc != 2) {
        std::fprintf(stderr, "usage: bare_server PORT\n");
        return 2;
    }
    const int port = std::atoi(argv[1]);

    // SIGTERM and SIGINT are taken by sigwait in the main thread; the server's threads inherit the mask.
    sigset_t signals;
    sigemptyset(&signals);
    sigaddset(&signals, SIGTERM);
    sigaddset(&signals, SIGINT);
    pthread_sigmask(SIG_BLOCK, &signals, nullptr);
    std::signal(SIGPIPE, SIG_IGN);

    httplib::Server server;
    server.new_task_queue = [] { return new httplib::ThreadPool(64); }; // as receiver/http/server.cpp
    server.set_tcp_nodelay(true);
    server.set_payload_max_length(1024 * 1024);
    server.set_read_timeout(10, 0);
    server.set_write_timeout(10, 0);
    server.set_keep_alive_timeout(5);
    server.set_socket_options([](socket_t socket) {
        int yes = 1;
        ::setsockopt(socket, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
    });
    // The receiver's answer to a webhook is {"status":"accepted","alerts":10}: the same bytes here.
    const auto answer = [](const httplib::Request&, httplib::Response& response) {
        response.status = 200;
        response.set_content("{\"status\":\"accepted\",\"alerts\":10}", "application/json");
    };
    server.Get(".*", answer);
    server.Post(".*", answer);

    if (!server.bind_to_port("127.0.0.1", port)) {
        std::fprintf(stderr, "bare_server: cannot listen on 127.0.0.1:%d\n", port);
        return 1;
    }
    raise_listen_backlog(port);
    std::thread serving([&server] { server.listen_after_bind(); });
    int received = 0;
    while (sigwait(&signals, &received) != 0) {
    }
    // stop() only works once the accept loop runs; by the time a signal arrives it does.
    while (!server.is_running())
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
    server.stop();
    serving.join();
    return 0;
}
