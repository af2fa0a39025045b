// PostgresServer: a throwaway PostgreSQL 15 server for the tests (initdb in a temporary folder, loopback, an
// unprivileged user), with fresh databases on demand; stopped by its PID.
#pragma once

#include "support/child_process.hpp"

#include <arpa/inet.h>
#include <libpq-fe.h>
#include <netinet/in.h>
#include <pwd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <random>
#include <stdexcept>
#include <string>
#include <system_error>
#include <thread>
#include <vector>

namespace rollback::testing {

// Debian's postgresql-15 (scripts/install-deps.sh --tests).
inline constexpr const char* kPostgresBinaries = "/usr/lib/postgresql/15/bin";

class PostgresServer {
  public:
    // initdb and start; throws std::runtime_error with the server's log when either fails.
    PostgresServer() {
        std::string pattern = (std::filesystem::temp_directory_path() / "rollback-postgres-XXXXXX").string();
        if (::mkdtemp(pattern.data()) == nullptr) throw std::runtime_error("mkdtemp failed for " + pattern);
        root_ = pattern;
        try {
            choose_user();
            init_data_folder();
            start_on_a_free_port();
        } catch (...) {
            remove_folder();
            throw;
        }
    }
    ~PostgresServer() {
        stop();
        remove_folder();
    }
    PostgresServer(const PostgresServer&) = delete;
    PostgresServer& operator=(const PostgresServer&) = delete;

    int port() const { return port_; }
    std::string data_folder() const { return (root_ / "data").string(); }
    // A libpq connection string for `database` on this server, as its superuser "postgres".
    std::string dsn(const std::string& database) const {
        return "host=127.0.0.1 port=" + std::to_string(port_) + " user=postgres dbname=" + database +
               " connect_timeout=5";
    }
    // A new empty database ("test_<n>") and its connection string.
    std::string create_database() {
        const std::string name = "test_" + std::to_string(++databases_);
        execute("CREATE DATABASE " + name); // a name of our own making: nothing from outside in the SQL
        return dsn(name);
    }
    // Runs one constant statement as the superuser on the database "postgres"; throws on failure.
    void execute(const std::string& sql) const { rows(dsn("postgres"), sql); }
    // The rows of one constant statement on the database of `database_dsn`, every value as text ("" for
    // NULL); throws on failure.
    static std::vector<std::vector<std::string>> rows(const std::string& database_dsn,
                                                      const std::string& sql) {
        const std::unique_ptr<PGconn, decltype(&PQfinish)> connection(PQconnectdb(database_dsn.c_str()),
                                                                      &PQfinish);
        if (PQstatus(connection.get()) != CONNECTION_OK)
            throw std::runtime_error("cannot connect to the test PostgreSQL: " +
                                     std::string(PQerrorMessage(connection.get())));
        const std::unique_ptr<PGresult, decltype(&PQclear)> result(PQexec(connection.get(), sql.c_str()),
                                                                   &PQclear);
        const auto status = PQresultStatus(result.get());
        if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK)
            throw std::runtime_error(sql + ": " + PQresultErrorMessage(result.get()));
        std::vector<std::vector<std::string>> table;
        for (int row = 0; row < PQntuples(result.get()); ++row) {
            std::vector<std::string> values;
            for (int column = 0; column < PQnfields(result.get()); ++column)
                values.emplace_back(PQgetvalue(result.get(), row, column));
            table.push_back(std::move(values));
        }
        return table;
    }

    bool running() { return server_ && server_->running(); }
    // Fast shutdown (SIGINT: the server ends every session and stops; SIGTERM would wait for each client to
    // leave), at most 10 s, then SIGKILL. Idempotent.
    void stop() {
        if (!server_) return;
        server_->signal(SIGINT);
        if (server_->wait(std::chrono::seconds(10)) < 0) server_->kill_and_reap();
        server_.reset();
    }
    // Starts the stopped server again on the same port and data (a test of lost connections).
    void start() {
        if (server_) return;
        if (!start_on(port_)) throw std::runtime_error("the test PostgreSQL did not start again:\n" + log());
    }
    std::string log() const {
        std::ifstream in(root_ / "server.log");
        return std::string(std::istreambuf_iterator<char>(in), {});
    }

  private:
    // Root cannot run PostgreSQL: then the package's system user "postgres" runs it, in a folder it owns.
    void choose_user() {
        if (::geteuid() != 0) return;
        const passwd* user = ::getpwnam("postgres");
        if (user == nullptr)
            throw std::runtime_error(
                "the tests run as root and there is no user \"postgres\" to run the test "
                "PostgreSQL: run scripts/install-deps.sh --tests");
        as_user_ = {"--reuid=" + std::to_string(user->pw_uid), "--regid=" + std::to_string(user->pw_gid),
                    "--clear-groups"};
        if (::chown(root_.c_str(), user->pw_uid, user->pw_gid) != 0)
            throw std::runtime_error("cannot give " + root_.string() + " to the user postgres");
    }

    // setpriv execs the program itself (its PID is the server's) as the chosen user, and makes the kernel
    // stop the server when this test process dies without its destructor.
    std::vector<std::string> command(const std::string& program, const std::vector<std::string>& arguments) {
        std::vector<std::string> argv{"/usr/bin/setpriv"};
        argv.insert(argv.end(), as_user_.begin(), as_user_.end());
        argv.insert(argv.end(), {"--pdeathsig", "INT", "--", std::string(kPostgresBinaries) + "/" + program});
        argv.insert(argv.end(), arguments.begin(), arguments.end());
        return argv;
    }

    void init_data_folder() {
        if (!std::filesystem::exists(std::string(kPostgresBinaries) + "/initdb"))
            throw std::runtime_error(std::string("no ") + kPostgresBinaries +
                                     "/initdb: run scripts/install-deps.sh --tests (Debian's postgresql)");
        const std::string log_path = (root_ / "initdb.log").string();
        ChildProcess initdb(
            command("initdb", {"-D", (root_ / "data").string(), "-U", "postgres", "-A", "trust", "-E", "UTF8",
                               "--locale=C", "--no-sync", "--no-instructions"}),
            output_files(log_path, log_path));
        const int status = initdb.wait(std::chrono::seconds(60));
        if (status != 0) {
            std::ifstream in(log_path);
            throw std::runtime_error("initdb of the test PostgreSQL ended with " + std::to_string(status) +
                                     ":\n" + std::string(std::istreambuf_iterator<char>(in), {}));
        }
    }

    // A loopback port below the ephemeral range (no port-0 listener or outgoing connection is given one
    // there; see scripts/lib/free-port.sh) that nothing answers on; PostgreSQL cannot listen on port 0.
    static int candidate_port() {
        static std::mt19937 random{std::random_device{}()};
        int ephemeral_low = 32768;
        std::ifstream("/proc/sys/net/ipv4/ip_local_port_range") >> ephemeral_low;
        if (ephemeral_low <= 11024) ephemeral_low = 32768;
        for (int attempt = 0; attempt < 50; ++attempt) {
            const int port =
                10000 + static_cast<int>(random() % static_cast<unsigned>(ephemeral_low - 10000));
            const int probe = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
            sockaddr_in address{};
            address.sin_family = AF_INET;
            address.sin_port = htons(static_cast<std::uint16_t>(port));
            address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
            const bool taken = ::connect(probe, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0;
            ::close(probe);
            if (!taken) return port;
        }
        throw std::runtime_error("no free loopback port for the test PostgreSQL");
    }

    // Another process may take the chosen port before the server binds it: then another port (5 tries).
    void start_on_a_free_port() {
        for (int attempt = 0; attempt < 5; ++attempt) {
            port_ = candidate_port();
            if (start_on(port_)) return;
            if (log().find("could not bind") == std::string::npos &&
                log().find("could not create any TCP/IP sockets") == std::string::npos)
                break;
        }
        throw std::runtime_error("the test PostgreSQL did not start:\n" + log());
    }

    // Starts the server and waits (at most 20 s) until it accepts connections; false when it ended instead.
    // fsync off: a throwaway server, and the tests that use it measure no durability.
    bool start_on(int port) {
        const std::string log_path = (root_ / "server.log").string();
        ChildOptions options = output_files(log_path, log_path);
        options.append = true;
        server_ = std::make_unique<ChildProcess>(
            command("postgres",
                    {"-D", (root_ / "data").string(), "-k", root_.string(), "-h", "127.0.0.1", "-p",
                     std::to_string(port), "-c", "fsync=off", "-c", "synchronous_commit=off", "-c",
                     "full_page_writes=off", "-c", "max_connections=200"}),
            options);
        const std::string probe = dsn("postgres");
        const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(20);
        while (std::chrono::steady_clock::now() < give_up) {
            if (PQping(probe.c_str()) == PQPING_OK) return true;
            if (!server_->running()) break;
            std::this_thread::sleep_for(std::chrono::milliseconds(20));
        }
        stop();
        return false;
    }

    void remove_folder() {
        std::error_code ignored;
        std::filesystem::remove_all(root_, ignored);
    }

    std::filesystem::path root_; // data/, the server's unix socket, initdb.log, server.log
    std::vector<std::string> as_user_;
    std::unique_ptr<ChildProcess> server_;
    int port_ = 0;
    std::atomic<int> databases_{0};
};

// The one server of a test binary, started at its first use and stopped when the binary exits.
inline PostgresServer& shared_postgres_server() {
    static PostgresServer server;
    return server;
}

} // namespace rollback::testing
