// Wiring of the daemon: start-up checks (exceptions caught once here), signal loop, reload and stop.
#include "daemon/daemon.hpp"

#include "actions/command_runner.hpp"
#include "api/api.hpp"
#include "audit/audit.hpp"
#include "audit/scrubbing_ledger.hpp"
#include "config/config.hpp"
#include "config/secret_values.hpp"
#include "daemon/flags.hpp"
#include "engine/claim_keeper.hpp"
#include "engine/engine.hpp"
#include "http/client.hpp"
#include "http/server.hpp"
#include "ledger/postgres_ledger.hpp"
#include "ledger/sqlite_ledger.hpp"
#include "ops/logging.hpp"
#include "ops/metrics.hpp"
#include "ops/secret_scrubber.hpp"

#include <unistd.h>

#include <array>
#include <csignal>
#include <iostream>
#include <memory>
#include <stdexcept>
#include <thread>

namespace rollback {
namespace {

constexpr Duration kShutdownGrace = std::chrono::seconds(10);

class StartupError : public std::runtime_error {
    using std::runtime_error::runtime_error;
};

// The config plus the flags that override it.
LoadedConfig load_with_overrides(const DaemonFlags& flags) {
    auto loaded = load_config(flags.config_file);
    if (!loaded) throw StartupError(loaded.error());
    if (flags.listen_address) loaded->config.listen_address = *flags.listen_address;
    if (flags.ledger_path) loaded->config.ledger_path = *flags.ledger_path;
    if (flags.ledger_path && !loaded->config.ledger_postgres_dsn_file.empty())
        throw StartupError("--ledger.path names a SQLite file, but " + loaded->config.source +
                           " sets ledger.postgres: use one of them");
    return std::move(*loaded);
}

// What the listener was started with: listen_address and the tls files take effect only at a restart, so a
// reload checks its new tokens against these, not against the new config's listener settings.
struct Listener {
    ListenAddress address;
    std::string listen_address; // as written, for messages
    bool requires_client_certificates = false;
};

// The name this receiver writes into every audit event: config `instance`, else `<hostname>:<port>` with
// the port of the listen address as configured (so with port 0, set `instance` to tell receivers apart).
std::string instance_name(const Config& config, const Listener& listener) {
    if (!config.instance.empty()) return config.instance;
    std::array<char, 256> host{};
    const bool named = gethostname(host.data(), host.size() - 1) == 0 && host[0] != '\0';
    return (named ? std::string(host.data()) : std::string("localhost")) + ":" +
           std::to_string(listener.address.port);
}

// The ledger the config names: the shared PostgreSQL database with ledger.postgres, else the SQLite file.
std::unique_ptr<Ledger> open_ledger(const Config& config, const std::string& dsn,
                                    const std::string& instance) {
    if (!config.ledger_postgres_dsn_file.empty()) return std::make_unique<PostgresLedger>(dsn, instance);
    return std::make_unique<SqliteLedger>(config.ledger_path, instance);
}

// A shared ledger's claim lease; none for the SQLite file, which this receiver has alone.
std::optional<Duration> claim_lease(const Config& config) {
    if (config.ledger_postgres_dsn_file.empty()) return std::nullopt;
    return config.ledger_claim_lease;
}

// What the "listening" line says of the ledger (never the DSN: it may hold a password).
std::string ledger_description(const Config& config) {
    if (config.ledger_postgres_dsn_file.empty()) return config.ledger_path;
    return "postgres (dsn_file " + config.ledger_postgres_dsn_file + ")";
}

// Without tokens (or client certificates), only loopback: anyone who can reach /webhook could otherwise
// trigger rollbacks. Checked at start and again by every reload (a reload must not drop the tokens of a
// receiver listening on 0.0.0.0).
Status check_exposure(const Secrets& secrets, const Listener& listener) {
    if (is_loopback_host(listener.address.host)) return ok_status();
    if (listener.requires_client_certificates)
        return ok_status(); // mutual TLS: every client holds a certificate
    std::string missing;
    if (secrets.webhook_token.empty()) missing += "auth.webhook_token_file";
    if (secrets.api_token.empty())
        missing += std::string(missing.empty() ? "" : " and ") + "auth.api_token_file";
    if (missing.empty()) return ok_status();
    return make_error(
        "refusing to listen on " + listener.listen_address + " without tokens: set " + missing +
        " in the config (or require client certificates with tls.client_ca_file), or listen on a "
        "loopback address such as 127.0.0.1:9095");
}

Listener listener_of(const LoadedConfig& loaded) {
    auto address = parse_listen_address(loaded.config.listen_address);
    if (!address) throw StartupError("listen address: " + address.error());
    return {*address, loaded.config.listen_address, !loaded.config.tls.client_ca_file.empty()};
}

// The scrubber of `loaded`'s secrets, installed for log lines and chat messages; the caller gives it to the
// ledger. A secret too short to scrub is named (never shown) in a warning.
std::shared_ptr<const SecretScrubber> install_scrubber(const LoadedConfig& loaded) {
    auto scrubber = std::make_shared<const SecretScrubber>(configured_secret_values(loaded));
    install_secret_scrubber(scrubber);
    for (const std::string& key : scrubber->unscrubbed_keys())
        log_warn("a secret shorter than 8 characters is not scrubbed from the trail and the logs; use a "
                 "longer one",
                 {{"key", key}});
    return scrubber;
}

class Daemon {
  public:
    Daemon(const DaemonFlags& flags, LoadedConfig loaded, Listener listener,
           std::shared_ptr<const SecretScrubber> scrubber)
        : flags_(flags), listener_(std::move(listener)),
          config_(std::make_shared<const Config>(std::move(loaded.config))),
          instance_(instance_name(*config_, listener_)),
          ledger_(open_ledger(*config_, loaded.secrets.ledger_dsn, instance_)),
          scrubbed_ledger_(*ledger_, std::move(scrubber)), audit_(scrubbed_ledger_, metrics_),
          claim_keeper_(scrubbed_ledger_, audit_, metrics_, claim_lease(*config_)),
          engine_({scrubbed_ledger_, audit_, runner_, metrics_, [] { return Clock::now(); }, flags.dry_run},
                  config_),
          api_({engine_, scrubbed_ledger_, audit_, metrics_, [] { return Clock::now(); },
                [this] { return reload(); }},
               std::move(loaded.secrets)),
          server_([this](const HttpRequest& request) { return api_.handle(request); }, kMaxBodyBytes,
                  encode_too_large(), config_->tls, {.request_timeout = config_->request_read_timeout}) {
        if (auto opened = audit_.set_file(config_->audit_file); !opened) throw StartupError(opened.error());
        // Each lost claim and its audit event are one transaction: a kill during start-up loses neither.
        if (auto swept = claim_keeper_.sweep(); !swept) throw StartupError(swept.error());
    }

    int run() {
        // A snapshot: once serving starts, POST /-/reload may replace config_ on a request thread.
        const std::shared_ptr<const Config> config = current_config();
        const ListenAddress& address = listener_.address;
        auto port = server_.bind(address);
        if (!port) throw StartupError(port.error());
        engine_.start_timer_thread();
        claim_keeper_.start();
        std::thread serving([this] { server_.serve(); });
        api_.set_ready(true);
        const std::string shown_host =
            address.host.find(':') != std::string::npos ? "[" + address.host + "]" : address.host;
        log_info("listening",
                 {{"address", shown_host + ":" + std::to_string(*port)},
                  {"scheme", config->tls.serves_https() ? "https" : "http"},
                  {"client_certificates", config->tls.client_ca_file.empty() ? "no" : "required"},
                  {"ledger", ledger_description(*config)},
                  {"instance", instance_},
                  {"dry_run", flags_.dry_run ? "true" : "false"}});
        wait_for_stop_signal();
        log_info("stopping");
        api_.set_ready(false);
        server_.stop();
        serving.join();
        engine_.shutdown(kShutdownGrace);
        claim_keeper_
            .stop(); // after the engine: the claims of the rollbacks it finished meanwhile stay renewed
        log_info("stopped");
        return 0;
    }

  private:
    std::shared_ptr<const Config> current_config() {
        std::lock_guard lock(reload_mutex_);
        return config_;
    }

    static std::string encode_too_large() {
        return "{\"error\":\"the body is larger than " + std::to_string(kMaxBodyBytes) +
               " bytes; send a smaller request\"}";
    }

    void wait_for_stop_signal() {
        sigset_t signals;
        sigemptyset(&signals);
        sigaddset(&signals, SIGTERM);
        sigaddset(&signals, SIGINT);
        sigaddset(&signals, SIGHUP);
        while (true) {
            int received = 0;
            if (sigwait(&signals, &received) != 0) continue;
            if (received == SIGHUP) {
                (void)reload();
                continue;
            }
            log_info("signal received", {{"signal", received == SIGTERM ? "SIGTERM" : "SIGINT"}});
            return;
        }
    }

    Status reload() {
        std::lock_guard lock(reload_mutex_);
        try {
            LoadedConfig loaded = load_with_overrides(flags_);
            const TlsSettings& old_tls = config_->tls;
            const TlsSettings& new_tls = loaded.config.tls;
            if (loaded.config.listen_address != config_->listen_address ||
                loaded.config.request_read_timeout != config_->request_read_timeout ||
                loaded.config.rollback_concurrency != config_->rollback_concurrency ||
                loaded.config.ledger_path != config_->ledger_path ||
                loaded.config.ledger_postgres_dsn_file != config_->ledger_postgres_dsn_file ||
                new_tls.cert_file != old_tls.cert_file || new_tls.key_file != old_tls.key_file ||
                new_tls.client_ca_file != old_tls.client_ca_file)
                log_warn("listen_address, request_read_timeout, rollback_concurrency, ledger.path, "
                         "ledger.postgres and the listener's tls files take effect after a restart");
            if (auto exposed = check_exposure(loaded.secrets, listener_); !exposed)
                throw StartupError(exposed.error());
            if (auto opened = audit_.set_file(loaded.config.audit_file); !opened)
                throw StartupError(opened.error());
            scrubbed_ledger_.set_scrubber(install_scrubber(loaded));
            config_ = std::make_shared<const Config>(std::move(loaded.config));
            engine_.set_config(config_);
            api_.set_secrets(std::move(loaded.secrets));
            metrics_.config_reloads.add({"success"});
            metrics_.config_reload_success.set({}, 1);
            log_info("config reloaded", {{"file", flags_.config_file}});
            return ok_status();
        } catch (const std::exception& error) {
            metrics_.config_reloads.add({"failure"});
            metrics_.config_reload_success.set({}, 0);
            log_error("config reload failed; keeping the old config", {{"err", error.what()}});
            return make_error(error.what());
        }
    }

    DaemonFlags flags_;
    const Listener listener_;              // what serves until the restart, whatever a reload reads
    std::mutex reload_mutex_;              // guards config_ once serving started
    std::shared_ptr<const Config> config_; // the constructor's; reload() replaces it
    Metrics metrics_;
    const std::string instance_;      // config `instance` or <hostname>:<port>: every audit event names it
    std::unique_ptr<Ledger> ledger_;  // SQLite, or PostgreSQL with ledger.postgres
    ScrubbingLedger scrubbed_ledger_; // what everything else writes through: events stored scrubbed
    AuditTrail audit_;
    ClaimKeeper claim_keeper_; // sweeps lost claims; on PostgreSQL renews ours and takes over lost ones
    ProcessCommandRunner runner_;
    Engine engine_;
    Api api_;
    HttpServer server_;
};

} // namespace

int run_daemon(int argc, char** argv) {
    std::vector<std::string> arguments(argv + 1, argv + argc);
    auto flags = parse_daemon_flags(arguments);
    if (!flags) {
        std::cerr << "rollback-receiver: " << flags.error() << "\n";
        return 2;
    }
    if (flags->show_help) {
        std::cout << daemon_usage();
        return 0;
    }
    if (flags->show_version) {
        std::cout << version_text("rollback-receiver");
        return 0;
    }
    init_logging(flags->log_level, flags->log_format);

    // Signals are taken by sigwait in the main thread; every thread started later inherits the mask.
    sigset_t signals;
    sigemptyset(&signals);
    sigaddset(&signals, SIGTERM);
    sigaddset(&signals, SIGINT);
    sigaddset(&signals, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &signals, nullptr);
    std::signal(SIGPIPE, SIG_IGN);

    try {
        LoadedConfig loaded = load_with_overrides(*flags);
        Listener listener = listener_of(loaded);
        if (auto exposed = check_exposure(loaded.secrets, listener); !exposed)
            throw StartupError(exposed.error());
        auto scrubber = install_scrubber(loaded);
        log_info("starting", {{"version", ROLLBACK_RECEIVER_VERSION}, {"config", flags->config_file}});
        Daemon daemon(*flags, std::move(loaded), std::move(listener), std::move(scrubber));
        return daemon.run();
    } catch (const std::exception& error) {
        log_error("start-up failed", {{"err", error.what()}});
        std::cerr << "rollback-receiver: " << error.what() << "\n";
        return 1;
    }
}

} // namespace rollback
