// rollbackctl verify against a real Prometheus (the Debian package) scraping a target the test controls.
#include "support/child_process.hpp"
#include "support/temp_dir.hpp"

#include "common/unique_fd.hpp"
#include "http/client.hpp"
#include "http/server.hpp"

#include <doctest/doctest.h>

#include <arpa/inet.h>
#include <csignal>
#include <netinet/in.h>
#include <sys/socket.h>

#include <atomic>
#include <cctype>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <mutex>
#include <random>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

using namespace rollback;
using namespace rollback::testing;
using namespace std::chrono_literals;

namespace {

const std::string kPrometheusBinary = "/usr/bin/prometheus";

std::string ctl_binary() {
    return std::string(ROLLBACK_BINARY_DIR) + "/bin/rollbackctl";
}

bool contains(const std::string& text, const std::string& part) {
    return text.find(part) != std::string::npos;
}

std::size_t count_lines_with(const std::string& text, const std::string& part) {
    std::size_t count = 0;
    std::istringstream in(text);
    for (std::string line; std::getline(in, line);)
        count += contains(line, part) ? 1 : 0;
    return count;
}

// A port nothing is bound to on 127.0.0.1, below the kernel's ephemeral range, where no port-0 listener
// or outgoing connection of a parallel test is ever given one. Prometheus takes it a moment later, so a
// race is still possible; Prometheus's constructor starts again on another port when it loses one.
int free_loopback_port() {
    int ephemeral_low = 32768;
    std::ifstream("/proc/sys/net/ipv4/ip_local_port_range") >> ephemeral_low;
    if (ephemeral_low <= 11024) ephemeral_low = 32768;
    std::random_device random;
    for (int attempt = 0; attempt < 100; ++attempt) {
        const int port = 10000 + static_cast<int>(random() % static_cast<unsigned>(ephemeral_low - 10000));
        UniqueFd socket_fd(::socket(AF_INET, SOCK_STREAM, 0));
        REQUIRE(socket_fd.valid());
        sockaddr_in address{};
        address.sin_family = AF_INET;
        address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        address.sin_port = htons(static_cast<std::uint16_t>(port));
        if (::bind(socket_fd.get(), reinterpret_cast<sockaddr*>(&address), sizeof address) == 0) return port;
    }
    FAIL("no free port on 127.0.0.1 below " << ephemeral_low);
    return 0;
}

// The scrape target: /metrics serves http_requests_total{service="demo",code="200"|"500"}, counters a
// background thread advances by 10 requests every 100 ms, `errors_per_ten` of them code 500.
class DemoTarget {
  public:
    DemoTarget() : server_([this](const HttpRequest& request) { return answer(request); }, 1 << 20, "{}") {
        auto port = server_.bind(ListenAddress{"127.0.0.1", 0});
        REQUIRE(port.ok());
        address_ = "127.0.0.1:" + std::to_string(*port);
        serving_ = std::thread([this] { server_.serve(); });
        traffic_ = std::thread([this] { generate_traffic(); });
    }
    ~DemoTarget() {
        {
            std::lock_guard lock(mutex_);
            stopping_ = true;
        }
        wake_.notify_all();
        traffic_.join();
        server_.stop();
        serving_.join();
    }
    DemoTarget(const DemoTarget&) = delete;
    DemoTarget& operator=(const DemoTarget&) = delete;

    void set_errors_per_ten(int errors) { errors_per_ten_ = errors; }
    const std::string& address() const { return address_; }

  private:
    HttpResponse answer(const HttpRequest& request) {
        if (request.path != "/metrics") return HttpResponse{404, "not found\n", "text/plain", {}};
        const std::string body = "# TYPE http_requests_total counter\n"
                                 "http_requests_total{service=\"demo\",code=\"200\"} " +
                                 std::to_string(ok_.load()) +
                                 "\n"
                                 "http_requests_total{service=\"demo\",code=\"500\"} " +
                                 std::to_string(errors_.load()) + "\n";
        return HttpResponse{200, body, "text/plain; version=0.0.4", {}};
    }

    void generate_traffic() {
        std::unique_lock lock(mutex_);
        while (!wake_.wait_for(lock, 100ms, [this] { return stopping_; })) {
            const int errors = errors_per_ten_.load();
            errors_ += errors;
            ok_ += 10 - errors;
        }
    }

    std::atomic<int> errors_per_ten_{0};
    std::atomic<long long> ok_{0};
    std::atomic<long long> errors_{0};
    std::mutex mutex_;
    std::condition_variable wake_;
    bool stopping_ = false;
    HttpServer server_;
    std::string address_;
    std::thread serving_;
    std::thread traffic_;
};

// /usr/bin/prometheus scraping `target` every second, its data and log in `dir`.
class Prometheus {
  public:
    Prometheus(const TempDir& dir, const std::string& target) {
        REQUIRE_MESSAGE(std::filesystem::exists(kPrometheusBinary),
                        kPrometheusBinary << " is missing: install the Debian package prometheus "
                                             "(scripts/install-deps.sh installs it)");
        const std::string config = dir.write("prometheus.yml", "global:\n"
                                                               "  scrape_interval: 1s\n"
                                                               "  scrape_timeout: 1s\n"
                                                               "  evaluation_interval: 1s\n"
                                                               "scrape_configs:\n"
                                                               "  - job_name: demo\n"
                                                               "    static_configs:\n"
                                                               "      - targets: ['" +
                                                                   target + "']\n");
        log_path_ = dir.file("prometheus.log");
        for (int attempt = 1;; ++attempt) {
            const std::string address = "127.0.0.1:" + std::to_string(free_loopback_port());
            url_ = "http://" + address;
            process_ = std::make_unique<ChildProcess>(
                std::vector<std::string>{kPrometheusBinary, "--config.file=" + config,
                                         "--storage.tsdb.path=" + dir.file("prometheus-data"),
                                         "--web.listen-address=" + address, "--log.level=warn"},
                output_files(dir.file("prometheus.out"), log_path_));
            if (wait_ready(30s)) return;
            const bool lost_port = contains(log(), "address already in use");
            if (!lost_port || attempt == 5) FAIL("Prometheus did not start; its log:\n" << log());
            process_->wait(5s); // it exits by itself after a failed bind
            MESSAGE("Prometheus lost port " << address << " to another process; starting again on another");
        }
    }

    const std::string& url() const { return url_; }
    std::string log() const { return TempDir::read(log_path_); }

    // Waits (bounded) until `query` has a value over `at_least`; false if it never had.
    bool wait_for_value(const std::string& query, double at_least, std::chrono::seconds limit = 30s) {
        const auto give_up = std::chrono::steady_clock::now() + limit;
        while (std::chrono::steady_clock::now() < give_up && process_->running()) {
            const auto answer = http_request(url_, "GET", "/api/v1/query?query=" + encoded(query), {}, {}, 2);
            const auto value_at = answer.body.find("\"value\":[");
            if (answer.status == 200 && value_at != std::string::npos) {
                const auto text_at = answer.body.find(",\"", value_at);
                const double value = std::strtod(answer.body.c_str() + text_at + 2, nullptr);
                if (value >= at_least) return true;
            }
            std::this_thread::sleep_for(200ms);
        }
        return false;
    }

    // SIGTERM, as a service manager stops it; the exit status (-1: still running after 15 s).
    int stop() {
        process_->signal(SIGTERM);
        return process_->wait(15s);
    }

  private:
    // Polls /-/ready (bounded) while the process lives: true once it answers 200.
    bool wait_ready(std::chrono::seconds limit) {
        const auto give_up = std::chrono::steady_clock::now() + limit;
        while (std::chrono::steady_clock::now() < give_up && process_->running()) {
            if (http_request(url_, "GET", "/-/ready", {}, {}, 2).status == 200) return true;
            std::this_thread::sleep_for(100ms);
        }
        return false;
    }

    static std::string encoded(const std::string& text) {
        static const char* hex = "0123456789ABCDEF";
        std::string out;
        for (unsigned char c : text) {
            if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
                out += static_cast<char>(c);
            } else {
                out += '%';
                out += hex[c >> 4];
                out += hex[c & 15];
            }
        }
        return out;
    }

    std::string url_;
    std::string log_path_;
    std::unique_ptr<ChildProcess> process_;
};

struct CtlRun {
    int status = -1;
    std::string out;
    std::string err;
    std::chrono::milliseconds took{0};
};

// Runs rollbackctl with `arguments` and waits for it (at most 60 s).
CtlRun run_ctl(const TempDir& dir, const std::vector<std::string>& arguments) {
    static int counter = 0;
    const std::string name = "ctl-" + std::to_string(counter++);
    REQUIRE_MESSAGE(std::filesystem::exists(ctl_binary()),
                    ctl_binary() << " is missing: build the rollbackctl target");
    std::vector<std::string> argv{ctl_binary()};
    argv.insert(argv.end(), arguments.begin(), arguments.end());
    const auto started = std::chrono::steady_clock::now();
    const std::string out_path = dir.file(name + ".out");
    const std::string err_path = dir.file(name + ".err");
    ChildProcess process(argv, output_files(out_path, err_path));
    CtlRun run;
    run.status = process.wait(60s);
    run.took =
        std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - started);
    run.out = TempDir::read(out_path);
    run.err = TempDir::read(err_path);
    return run;
}

const std::string kErrorRatio =
    "sum(rate(http_requests_total{code=\"500\"}[10s])) / sum(rate(http_requests_total[10s]))";

std::vector<std::string> verify(const std::string& prometheus_url, const std::string& query,
                                std::vector<std::string> extra) {
    std::vector<std::string> arguments{"verify", "--prometheus", prometheus_url, "--query",
                                       query,    "--threshold",  "0.01"};
    arguments.insert(arguments.end(), extra.begin(), extra.end());
    return arguments;
}

} // namespace

TEST_CASE("verify against a real Prometheus: healthy passes, bad fails fast, --no-data and --on-error") {
    TempDir dir;
    DemoTarget target;
    Prometheus prometheus(dir, target.address());
    REQUIRE_MESSAGE(prometheus.wait_for_value(kErrorRatio, 0),
                    "Prometheus never had data for the target; its log:\n"
                        << prometheus.log());

    {
        INFO("healthy target (no errors): exit 0 after the whole duration");
        const CtlRun run =
            run_ctl(dir, verify(prometheus.url(), kErrorRatio, {"--duration", "4s", "--interval", "500ms"}));
        CHECK_MESSAGE(run.status == 0, run.out << run.err);
        CHECK(count_lines_with(run.out, "value=0 threshold=0.01 ok") >= 3);
        CHECK(count_lines_with(run.out, "OVER THRESHOLD") == 0);
        CHECK(contains(run.out, "verify: passed"));
        CHECK(run.took >= 4s); // it watched the whole duration
    }
    {
        INFO("a series that does not exist: no data");
        const std::string absent = "sum(rate(http_requests_total{service=\"absent\"}[10s]))";
        const CtlRun strict =
            run_ctl(dir, verify(prometheus.url(), absent,
                                {"--duration", "30s", "--interval", "500ms", "--no-data", "fail"}));
        CHECK_MESSAGE(strict.status == 1, strict.out << strict.err);
        CHECK(contains(strict.out, "returned no data (--no-data fail)"));
        CHECK(strict.took < 20s); // at the first poll, not after the duration
        const CtlRun tolerant =
            run_ctl(dir, verify(prometheus.url(), absent,
                                {"--duration", "1s", "--interval", "250ms", "--no-data", "ok"}));
        CHECK_MESSAGE(tolerant.status == 0, tolerant.out << tolerant.err);
        CHECK(count_lines_with(tolerant.out, "value=none threshold=0.01 no data (--no-data ok)") >= 2);
        CHECK(contains(tolerant.err, "warning: no poll returned a value"));
    }
    {
        INFO("bad target (half the requests fail): exit 1 at once, long before the duration");
        target.set_errors_per_ten(5);
        REQUIRE_MESSAGE(prometheus.wait_for_value(kErrorRatio, 0.1), prometheus.log());
        const CtlRun run =
            run_ctl(dir, verify(prometheus.url(), kErrorRatio, {"--duration", "60s", "--interval", "500ms"}));
        CHECK_MESSAGE(run.status == 1, run.out << run.err);
        CHECK(count_lines_with(run.out, "OVER THRESHOLD") == 1);
        CHECK(contains(run.out, "verify: FAILED: " + kErrorRatio + " = 0."));
        CHECK(contains(run.out, "> threshold 0.01"));
        CHECK(run.took < 30s);
    }
    {
        INFO("Prometheus stopped: exit 2, at once with --on-error fail, at the end with --on-error ignore");
        CHECK(prometheus.stop() == 0);
        const CtlRun strict =
            run_ctl(dir, verify(prometheus.url(), kErrorRatio,
                                {"--duration", "30s", "--interval", "500ms", "--on-error", "fail"}));
        CHECK_MESSAGE(strict.status == 2, strict.out << strict.err);
        CHECK(count_lines_with(strict.out, "no answer from Prometheus") == 1);
        CHECK(contains(strict.err, "(--on-error fail)"));
        CHECK(strict.took < 20s);
        const CtlRun tolerant =
            run_ctl(dir, verify(prometheus.url(), kErrorRatio,
                                {"--duration", "2s", "--interval", "500ms", "--on-error", "ignore"}));
        CHECK_MESSAGE(tolerant.status == 2, tolerant.out << tolerant.err);
        CHECK(count_lines_with(tolerant.out, "error, ignored (--on-error ignore)") >= 3);
        CHECK(contains(tolerant.err, "every poll failed"));
        CHECK(tolerant.took >= 2s); // kept polling until the end of the duration
    }
}
