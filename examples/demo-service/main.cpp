// demo-service: a stand-in for "your service" in the local stack and the end-to-end test.
//
// It serves no real traffic. A background thread counts simulated requests at a steady rate
// (--rate per second) and exposes them at GET /metrics as the counter
// http_requests_total{service, code}, which rules/error-rate.rules.yml reads. The live version decides
// which share of those requests fail with code 500:
//
//   POST /deploy?version=v2&error_ratio=0.5   put v2 live; from now on 50% of its requests fail.
//                                             Without error_ratio the version keeps the ratio it was
//                                             last deployed with (0 for a version never seen), so a
//                                             rollback to v1 makes v1 healthy again.
//   POST /incident?error_ratio=0.5            a failure that no deployment caused (a dependency is
//                                             down): added to the version's ratio; 0 ends it.
//   GET  /version                             {"service", "version", "error_ratio", ...} as JSON.
//   GET  /metrics, GET /-/healthy             Prometheus text format; 200 when up.
//
// Parameters go in the query string; send an empty body (curl -d "" URL): without Content-Length
// cpp-httplib waits for a body until its read timeout (5 s).
//
// Counting is deterministic (no randomness): errors accumulate as a fractional credit, so the share of
// failed requests over any few seconds is exactly the configured ratio.
//
// usage: demo-service [--listen=127.0.0.1:8080] [--service=demo] [--version=v1] [--rate=200]
// Port 0 picks a free port; the first line on stdout is "listening on HOST:PORT".
#include <httplib.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <chrono>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <map>
#include <mutex>
#include <sstream>
#include <string>
#include <thread>

namespace {

struct Options {
    std::string host = "127.0.0.1";
    int port = 8080;
    std::string service = "demo";
    std::string version = "v1";
    double rate = 200.0; // simulated requests per second
};

double now_unix() {
    using namespace std::chrono;
    return duration<double>(system_clock::now().time_since_epoch()).count();
}

// Label values as Prometheus and JSON both accept them: only a safe subset of characters.
bool is_safe_value(const std::string& value) {
    if (value.empty() || value.size() > 64) return false;
    return std::all_of(value.begin(), value.end(), [](unsigned char c) {
        return std::isalnum(c) != 0 || c == '.' || c == '-' || c == '_' || c == '+';
    });
}

bool parse_ratio(const std::string& text, double& out) {
    char* end = nullptr;
    const double value = std::strtod(text.c_str(), &end);
    if (end == text.c_str() || *end != '\0' || !(value >= 0.0 && value <= 1.0)) return false;
    out = value;
    return true;
}

class Service {
  public:
    Service(std::string name, std::string version, double rate)
        : name_(std::move(name)), version_(std::move(version)), rate_(rate) {
        ratios_[version_] = 0.0;
    }

    // Adds the requests simulated since the last call.
    void tick(double seconds) {
        std::lock_guard lock(mutex_);
        request_credit_ += rate_ * seconds;
        const auto requests = static_cast<std::uint64_t>(request_credit_);
        request_credit_ -= static_cast<double>(requests);
        error_credit_ += static_cast<double>(requests) * current_ratio();
        const auto errors = std::min(requests, static_cast<std::uint64_t>(error_credit_));
        error_credit_ -= static_cast<double>(errors);
        ok_ += requests - errors;
        failed_ += errors;
    }

    std::string deploy(const std::string& version, const double* ratio) {
        std::lock_guard lock(mutex_);
        const std::string previous = version_;
        if (ratio != nullptr)
            ratios_[version] = *ratio;
        else
            ratios_.try_emplace(version, 0.0);
        version_ = version;
        error_credit_ = 0.0;
        changed_at_ = now_unix();
        std::ostringstream line;
        line << "msg=deployed service=" << name_ << " version=" << version << " previous_version=" << previous
             << " error_ratio=" << ratios_[version] << " ts=" << std::fixed << changed_at_;
        std::cout << line.str() << std::endl;
        return previous;
    }

    void incident(double ratio) {
        std::lock_guard lock(mutex_);
        incident_ratio_ = ratio;
        error_credit_ = 0.0;
        changed_at_ = now_unix();
        std::cout << "msg=incident service=" << name_ << " error_ratio=" << ratio << " ts=" << std::fixed
                  << changed_at_ << std::endl;
    }

    std::string status_json(const std::string& previous = {}) {
        std::lock_guard lock(mutex_);
        std::ostringstream out;
        out << "{\"service\":\"" << name_ << "\",\"version\":\"" << version_ << "\"";
        if (!previous.empty()) out << ",\"previous_version\":\"" << previous << "\"";
        out << ",\"error_ratio\":" << current_ratio() << ",\"incident_error_ratio\":" << incident_ratio_
            << ",\"requests_per_second\":" << rate_ << ",\"changed_at\":" << std::fixed << changed_at_
            << "}\n";
        return out.str();
    }

    std::string metrics() {
        std::lock_guard lock(mutex_);
        std::ostringstream out;
        out << "# HELP http_requests_total Simulated requests served, by HTTP status code.\n"
               "# TYPE http_requests_total counter\n"
            << "http_requests_total{service=\"" << name_ << "\",code=\"200\"} " << ok_ << "\n"
            << "http_requests_total{service=\"" << name_ << "\",code=\"500\"} " << failed_ << "\n"
            << "# HELP demo_version_info The version that is live (always 1).\n"
               "# TYPE demo_version_info gauge\n"
            << "demo_version_info{service=\"" << name_ << "\",version=\"" << version_ << "\"} 1\n"
            << "# HELP demo_error_ratio The share of simulated requests that fail now.\n"
               "# TYPE demo_error_ratio gauge\n"
            << "demo_error_ratio{service=\"" << name_ << "\"} " << current_ratio() << "\n";
        return out.str();
    }

  private:
    double current_ratio() const {
        const auto it = ratios_.find(version_);
        const double version_ratio = it == ratios_.end() ? 0.0 : it->second;
        return std::min(1.0, version_ratio + incident_ratio_);
    }

    std::mutex mutex_;
    std::string name_;
    std::string version_;
    double rate_;
    std::map<std::string, double> ratios_;
    double incident_ratio_ = 0.0;
    double request_credit_ = 0.0;
    double error_credit_ = 0.0;
    std::uint64_t ok_ = 0;
    std::uint64_t failed_ = 0;
    double changed_at_ = now_unix();
};

[[noreturn]] void usage(int status) {
    std::fprintf(
        status == 0 ? stdout : stderr,
        "usage: demo-service [--listen=127.0.0.1:8080] [--service=demo] [--version=v1] [--rate=200]\n");
    std::exit(status);
}

Options parse_options(int argc, char** argv) {
    Options options;
    for (int i = 1; i < argc; ++i) {
        std::string arg = argv[i];
        if (arg == "--help" || arg == "-h") usage(0);
        const auto eq = arg.find('=');
        if (arg.rfind("--", 0) != 0 || eq == std::string::npos) usage(2);
        const std::string key = arg.substr(2, eq - 2);
        const std::string value = arg.substr(eq + 1);
        if (key == "listen") {
            const auto colon = value.rfind(':');
            if (colon == std::string::npos) usage(2);
            options.host = value.substr(0, colon);
            options.port = std::atoi(value.c_str() + colon + 1);
        } else if (key == "service" && is_safe_value(value)) {
            options.service = value;
        } else if (key == "version" && is_safe_value(value)) {
            options.version = value;
        } else if (key == "rate") {
            options.rate = std::atof(value.c_str());
            if (!(options.rate > 0.0)) usage(2);
        } else {
            usage(2);
        }
    }
    return options;
}

} // namespace

int main(int argc, char** argv) {
    const Options options = parse_options(argc, argv);

    // SIGTERM/SIGINT are taken by a waiting thread, which stops the server: exit 0.
    sigset_t signals;
    sigemptyset(&signals);
    sigaddset(&signals, SIGTERM);
    sigaddset(&signals, SIGINT);
    pthread_sigmask(SIG_BLOCK, &signals, nullptr);

    Service service(options.service, options.version, options.rate);
    httplib::Server server;
    server.set_tcp_nodelay(true);

    server.Get("/metrics", [&](const httplib::Request&, httplib::Response& res) {
        res.set_content(service.metrics(), "text/plain; version=0.0.4");
    });
    server.Get("/-/healthy", [](const httplib::Request&, httplib::Response& res) {
        res.set_content("OK\n", "text/plain");
    });
    server.Get("/version", [&](const httplib::Request&, httplib::Response& res) {
        res.set_content(service.status_json(), "application/json");
    });
    server.Post("/deploy", [&](const httplib::Request& req, httplib::Response& res) {
        const std::string version = req.get_param_value("version");
        if (!is_safe_value(version)) {
            res.status = 400;
            res.set_content("{\"error\":\"version: required, letters, digits and .-_+ only\"}\n",
                            "application/json");
            return;
        }
        double ratio = 0.0;
        const bool has_ratio = req.has_param("error_ratio");
        if (has_ratio && !parse_ratio(req.get_param_value("error_ratio"), ratio)) {
            res.status = 400;
            res.set_content("{\"error\":\"error_ratio: a number from 0 to 1\"}\n", "application/json");
            return;
        }
        const std::string previous = service.deploy(version, has_ratio ? &ratio : nullptr);
        res.set_content(service.status_json(previous), "application/json");
    });
    server.Post("/incident", [&](const httplib::Request& req, httplib::Response& res) {
        double ratio = 0.0;
        if (!parse_ratio(req.get_param_value("error_ratio"), ratio)) {
            res.status = 400;
            res.set_content("{\"error\":\"error_ratio: a number from 0 to 1\"}\n", "application/json");
            return;
        }
        service.incident(ratio);
        res.set_content(service.status_json(), "application/json");
    });

    int port = options.port;
    if (port == 0) {
        port = server.bind_to_any_port(options.host);
        if (port < 0) port = 0;
    } else if (!server.bind_to_port(options.host, port)) {
        port = 0;
    }
    if (port == 0) {
        std::cerr << "demo-service: cannot listen on " << options.host << ":" << options.port << "\n";
        return 1;
    }
    std::cout << "listening on " << options.host << ":" << port << " service=" << options.service
              << " version=" << options.version << " rate=" << options.rate << std::endl;

    std::atomic<bool> running{true};
    std::thread load([&] {
        auto last = std::chrono::steady_clock::now();
        while (running.load()) {
            std::this_thread::sleep_for(std::chrono::milliseconds(10));
            const auto now = std::chrono::steady_clock::now();
            service.tick(std::chrono::duration<double>(now - last).count());
            last = now;
        }
    });
    std::thread stopper([&] {
        int signal_number = 0;
        sigwait(&signals, &signal_number);
        running.store(false);
        server.stop();
    });

    server.listen_after_bind();
    running.store(false);
    load.join();
    // The stopper thread only ends on a signal; when the server stopped for another reason, end anyway.
    stopper.detach();
    return 0;
}
