// The rollback engine: turns notifications into decisions, debounce timers and exactly-once rollbacks.
#pragma once

#include "actions/command_runner.hpp"
#include "audit/audit.hpp"
#include "config/config.hpp"
#include "engine/decision.hpp"
#include "engine/worker_pool.hpp"
#include "http/client.hpp"
#include "ledger/ledger.hpp"
#include "model/model.hpp"
#include "notify/notifier.hpp"
#include "ops/metrics.hpp"

#include <atomic>
#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <thread>

namespace rollback {

// What the daemon injects: the side effects and the clock.
struct EngineDependencies {
    Ledger& ledger;
    AuditTrail& audit;
    CommandRunner& runner;
    Metrics& metrics;
    std::function<TimePoint()> now = [] { return Clock::now(); };
    bool dry_run = false;
    Duration kill_grace = std::chrono::seconds(5);
    HttpCaller* http = nullptr; // webhook/github_workflow actions and notify:; null: a real NetworkHttpCaller
    Duration notify_timeout = std::chrono::seconds(10); // one notification call
    // A ledger write that must not be lost (a rollback's outcome, an attempt's failure) is tried again after
    // this long, doubling up to ledger_retry_max, until it is written or the engine shuts down.
    Duration ledger_retry = std::chrono::milliseconds(100);
    Duration ledger_retry_max = std::chrono::seconds(5);
    // A debounced rollback whose claim met a ledger error is tried again this long after.
    Duration debounce_retry = std::chrono::seconds(1);
};

// The answer to a manual rollback request (rollbackctl rollback, POST /api/v1/deployments/{id}/rollback).
struct ManualRollbackResult {
    enum class Outcome { started, not_found, refused, shutting_down } outcome = Outcome::refused;
    std::string message;   // for not_found, refused and shutting_down: what is wrong, for a person
    Deployment deployment; // started: the deployment, now rolling_back
};

class Engine {
  public:
    Engine(EngineDependencies dependencies, std::shared_ptr<const Config> config);
    ~Engine(); // shutdown()
    Engine(const Engine&) = delete;
    Engine& operator=(const Engine&) = delete;

    void set_config(std::shared_ptr<const Config> config);
    std::shared_ptr<const Config> config() const;

    // Decides on every alert of the notification, audits each decision, schedules debounced rollbacks and
    // starts immediate ones in the background. Returns quickly. An error means the ledger failed (the
    // webhook answers 503 so that Alertmanager retries); decisions made before the failure stand.
    Status handle_notification(const Notification& notification);

    // Rolls `deployment_id` back by hand through the same exactly-once claim as an alert. Refused when the
    // deployment is not `watching` (already rolled back, rolling back, failed, superseded), is itself a
    // rollback, has no previous version, or its service has no action. Works while the service is paused.
    Result<ManualRollbackResult> manual_rollback(const std::string& deployment_id, const std::string& reason,
                                                 const std::string& actor);

    // Starts the debounced rollbacks whose time has come and ends the confirm windows that are over. The
    // timer thread calls it; tests call it with a fake clock.
    void fire_due_timers();
    std::size_t pending_count() const;
    // Rollbacks whose causing alerts are watched (rolling back, or succeeded and inside confirm_window).
    std::size_t confirming_count() const;

    // A thread that calls fire_due_timers() when the earliest pending rollback is due.
    void start_timer_thread();

    // Stops taking new rollbacks, gives running ones up to `grace` to finish, then cancels them (their
    // deployments become rollback_interrupted), stops the timer thread and joins every thread. Claimed
    // rollbacks still waiting for a worker never start: they become rollback_interrupted too (reason
    // shutdown, 0 attempts). Pending debounced rollbacks are dropped and audited as cancelled (reason
    // shutdown). Confirm windows still open are dropped without a verdict (logged; no event).
    void shutdown(Duration grace = Duration::zero());

    // Blocks until no rollback is running or waiting for a worker (tests, graceful stop).
    void wait_idle();
    // Blocks until every queued notify: message has been sent or has failed (tests).
    void wait_notifications_sent();
    std::size_t running_count() const; // rollbacks running now: at most the config's rollback_concurrency
    std::size_t queued_count() const;  // claimed rollbacks waiting for a free worker

  private:
    struct Pending {
        Deployment target;
        Alert first_alert;
        TimePoint due;
        std::set<std::string> firing_fingerprints;
    };
    // A claimed rollback (its deployment is rolling_back) waiting for a worker, with its config generation.
    struct QueuedRollback {
        Deployment target;
        Alert alert;
        std::shared_ptr<const Config> config;
    };

    // What the alerts of one notification are decided against, read once per (service, environment).
    using TargetsSeen = std::map<std::pair<std::string, std::string>, AlertTarget>;

    Status handle_alert(const std::shared_ptr<const Config>& config_generation, const Alert& alert,
                        TargetsSeen& targets);
    // Removes the alert from pending rollbacks; cancels those it was the last firing alert of.
    Status handle_resolved(const Alert& alert);
    enum class StartOutcome { started, already_claimed, shutting_down };
    // Claims the deployment and queues its rollback for a worker of the pool, to run with the settings of
    // `config` (one config generation for the whole rollback, whatever a reload does meanwhile).
    // `also_firing`: the other fingerprints known to fire for the deployment (a debounce's), watched with
    // the alert's after the rollback (confirm_window). `ends_debounce`: the claim also removes the
    // deployment's shared debounce start (begin_debounce).
    Result<StartOutcome> start_rollback(const Deployment& target, const Alert& alert,
                                        std::shared_ptr<const Config> config,
                                        std::string_view trigger = "alert_firing",
                                        const std::set<std::string>& also_firing = {},
                                        bool ends_debounce = false);
    // Stores (or finds) the shared start of the deployment's debounce and sets its pending rollback's due
    // time from it; audits rollback_pending when this call stored it. On a ledger error the pending rollback
    // is dropped and the error returned (503: Alertmanager sends the alert again).
    Status begin_debounce(const Deployment& target, const Alert& alert, Duration debounce);
    // Removes the shared start and, when this call removed it, appends `event` in the same write.
    Status end_debounce(AuditEvent& event, const std::string& deployment_id);
    // Whether automatic rollbacks of the service are paused now.
    Result<bool> is_paused(const std::string& service);
    void execute_rollback(const Deployment& target, const Alert& alert, const Config& config);
    // Ends a claimed rollback that never started (the receiver stopped while it waited for a worker) as
    // rollback_interrupted, with its audit event: no claim is left rolling_back by a running receiver.
    void end_unstarted(const QueuedRollback& rollback);
    // Runs a ledger write until it succeeds; gives up only when the engine shuts down (then false).
    bool write_until_stored(std::string_view what, const Ledger::WriteBody& body);
    // One attempt of the service's action (command, webhook or github_workflow).
    struct Attempt {
        bool succeeded = false;
        bool cancelled = false;
        bool started =
            true; // false: the command could not start (it never ran); "started": "no" in the trail
        bool retryable = true; // a failure worth another attempt
        std::string description;
        std::string output; // the command's output or the HTTP answer's body
        std::vector<std::pair<std::string, long long>> numbers; // exit_code or http_status
    };
    Attempt run_attempt(const Deployment& target, const Alert& alert, const RollbackSettings& rollback,
                        const Config& config);
    // Stores the outcome (the new state and its event in one transaction, written until stored), then
    // counts it and sends its notification. `numbers` go into the event's detail.
    void finish_rollback(const Deployment& target, const Alert& alert, const Config& config,
                         const Attempt& result,
                         const std::vector<std::pair<std::string, long long>>& numbers);
    // Queues the service's notify: messages for `event`; never blocks. `compare_url`: rollback_started's.
    void notify(AuditEventKind event, const Deployment& target, const Alert& alert, const Config& config,
                const std::string& result, const std::string& compare_url = "");
    AuditEvent event_for(AuditEventKind kind, const Deployment& target, const Alert* alert) const;
    void update_pending_gauge_locked();

    // Closing the loop (confirm_window). From its claim, an alert-triggered rollback watches the alerts
    // that caused it: the alert that started it, the others firing for the deployment in its debounce, and
    // those firing for it while it rolls back. After rollback_succeeded it waits up to confirm_window for
    // all of them to resolve: rollback_effective at the moment the last one resolves, or
    // rollback_ineffective (notified, counted) when the window ends with any still firing. In memory only.
    struct Confirmation {
        Deployment target;                           // the rolled-back deployment
        Alert alert;                                 // the alert that started the rollback
        std::map<std::string, std::string> firing;   // fingerprint -> alertname ("" until one names it)
        std::map<std::string, std::string> resolved; // fingerprint -> alertname
        bool window_open = false;                    // false: still rolling back
        TimePoint window_start{};
        TimePoint due{};
        std::shared_ptr<const Config> config; // the rollback's generation: confirm_window, notify:
    };
    // At the claim: starts watching the rollback's alerts (none for a manual rollback or confirm_window 0s).
    void watch_rollback_alerts(const Deployment& target, const Alert& alert,
                               const std::set<std::string>& also_firing,
                               const std::shared_ptr<const Config>& config);
    // Every alert of a notification: a resolved one resolves its fingerprint in every watch, a firing one
    // fires it again; a firing alert decided against a deployment still rolling back joins its watch.
    void note_alert_for_confirmation(const Alert& alert, const std::optional<Deployment>& decided_against);
    // After the outcome is stored: a succeeded rollback opens its window, any other ends its watch.
    void end_rollback_watch(const Deployment& target, bool succeeded);
    // The windows that are over (timer thread, fire_due_timers).
    void end_due_confirmations();
    // Audits rollback_effective / rollback_ineffective, counts it and notifies an ineffective one.
    void conclude_confirmation(const Confirmation& confirmation, bool effective);
    // The earliest open window's end; TimePoint::max() when none.
    TimePoint next_confirmation_due_locked() const;
    // The rollback_started detail's compare_url: <repository>/compare/<restored commit>...<rolled-back
    // commit>, or "" when the service has no repository or either commit is missing or unsafe.
    std::string compare_url_for(const Deployment& target, const ServiceSettings& settings);

    EngineDependencies deps_;
    std::unique_ptr<HttpCaller> own_http_; // when deps_.http is null
    HttpCaller& http_;
    Notifier notifier_;
    mutable std::mutex config_mutex_;
    std::shared_ptr<const Config> config_;

    mutable std::mutex mutex_; // guards pending_, confirming_, starting_, stopping_
    std::condition_variable wake_;
    std::map<std::string, Pending> pending_;         // by deployment id
    std::map<std::string, Confirmation> confirming_; // by deployment id
    int starting_ = 0; // start_rollback calls between their stopping_ check and handing their claim over
    bool stopping_ = false;
    std::atomic<bool> cancel_{false};
    std::thread timer_thread_;
    // Runs the claimed rollbacks, config_->rollback_concurrency at a time (the size read at construction),
    // the others in order. Last: its threads start once everything they use exists.
    WorkerPool<QueuedRollback> pool_;
};

} // namespace rollback
