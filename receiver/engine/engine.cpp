// Engine: the I/O around decide(): ledger look-ups, audit writes, debounce timers, background rollbacks.
#include "engine/engine.hpp"

#include "actions/actions.hpp"
#include "codec/codec.hpp"
#include "ops/logging.hpp"

#include <algorithm>
#include <cctype>

namespace rollback {
namespace {

double seconds_between(std::chrono::steady_clock::time_point start,
                       std::chrono::steady_clock::time_point end) {
    return std::chrono::duration<double>(end - start).count();
}

std::string ignore_key(std::string_view reason, const Alert& alert, const std::string& deployment_id) {
    return "ignored|" + std::string(reason) + "|" + alert.fingerprint + "|" +
           format_rfc3339_ms(alert.starts_at) + "|" + deployment_id;
}

// A commit as it may go into a compare URL: 7 to 64 hex digits (an abbreviated or full SHA-1 or SHA-256).
// Anything else from CI (a branch name, a path, markup) gives no link.
bool is_safe_commit(std::string_view commit) {
    return commit.size() >= 7 && commit.size() <= 64 &&
           std::all_of(commit.begin(), commit.end(), [](unsigned char c) { return std::isxdigit(c) != 0; });
}

// At most this many alerts are watched per rollback (a group of thousands would not be worth naming).
constexpr std::size_t kMaxConfirmationAlerts = 256;

// "HighErrorRate (fp1), Latency (fp2)": the alerts of a confirmation, for its event and notification (a
// fingerprint alone while no notification has named it: one a debounce knew of).
std::string alert_list(const std::map<std::string, std::string>& alerts) {
    std::string out;
    for (const auto& [fingerprint, alertname] : alerts) {
        if (!out.empty()) out += ", ";
        out += alertname.empty() ? fingerprint : alertname + " (" + fingerprint + ")";
    }
    return out;
}

} // namespace

Engine::Engine(EngineDependencies dependencies, std::shared_ptr<const Config> config)
    : deps_(std::move(dependencies)), own_http_(deps_.http ? nullptr : std::make_unique<NetworkHttpCaller>()),
      http_(deps_.http ? *deps_.http : *own_http_), notifier_(http_, deps_.metrics),
      config_(std::move(config)),
      pool_(
          static_cast<std::size_t>(config_->rollback_concurrency),
          [this](QueuedRollback& queued) { execute_rollback(queued.target, queued.alert, *queued.config); },
          [&queued_gauge = deps_.metrics.rollbacks_queued](std::size_t length) {
              queued_gauge.set({}, static_cast<double>(length));
          }) {}

Engine::~Engine() {
    shutdown();
}

void Engine::set_config(std::shared_ptr<const Config> config) {
    std::lock_guard lock(config_mutex_);
    config_ = std::move(config);
}

std::shared_ptr<const Config> Engine::config() const {
    std::lock_guard lock(config_mutex_);
    return config_;
}

AuditEvent Engine::event_for(AuditEventKind kind, const Deployment& target, const Alert* alert) const {
    AuditEvent event = audit_event_about(kind, target, deps_.now());
    if (alert) {
        event.alertname = alert->label("alertname");
        event.fingerprint = alert->fingerprint;
    }
    return event;
}

Status Engine::handle_notification(const Notification& notification) {
    const auto config = this->config();
    {
        std::lock_guard lock(mutex_);
        if (stopping_) return make_error("the receiver is shutting down");
    }
    // Alertmanager groups alerts, so the alerts of one notification mostly share service and environment:
    // each pair is looked up in the ledger once per notification, not once per alert.
    TargetsSeen targets;
    for (const Alert& alert : notification.alerts) {
        // A resolved alert may end a pending (debounced) rollback; then it is decided on like any
        // alert, which audits it once as alert_ignored / resolved.
        Status status = alert.firing() ? ok_status() : handle_resolved(alert);
        if (status) status = handle_alert(config, alert, targets);
        if (!status) return status;
    }
    return ok_status();
}

Status Engine::handle_alert(const std::shared_ptr<const Config>& config_generation, const Alert& alert,
                            TargetsSeen& targets) {
    const Config& config = *config_generation;
    const std::string service = alert.label(config.service_label);
    const std::string environment = alert.label(config.environment_label);
    auto seen = targets.find({service, environment});
    if (seen == targets.end()) {
        AlertTarget looked_up; // an alert without a service label points at no deployment
        if (!service.empty()) {
            auto read = deps_.ledger.alert_target(service, environment);
            if (!read) return Error{read.error()};
            looked_up = std::move(*read);
        }
        seen = targets.emplace(std::pair(service, environment), std::move(looked_up)).first;
    }
    // A copy: an alert that acts (below) drops the pair, so that the next alert of the notification reads
    // the deployment's new state from the ledger, as it would in a notification of its own.
    const std::optional<Deployment> target = seen->second.deployment;
    note_alert_for_confirmation(alert, target);
    const bool paused = seen->second.pause && seen->second.pause->active_at(deps_.now());
    const ServiceSettings& settings = config.settings_for(service);
    const Decision decision = decide({alert, service, target, settings, deps_.now(), deps_.dry_run, paused});

    auto audit_ignored = [&](std::string_view reason, const std::string& input_error = "") -> Status {
        deps_.metrics.alerts.add({"ignore", std::string(reason)});
        // A repeat of an ignored alert (Alertmanager re-sends firing groups) is known from memory: no
        // event to build and no ledger transaction.
        const std::string dedupe_key = ignore_key(reason, alert, target ? target->id : "");
        const std::string_view name = to_string(AuditEventKind::alert_ignored);
        if (deps_.audit.is_known_repeat(name, reason, dedupe_key)) return ok_status();
        AuditEvent event = target ? event_for(AuditEventKind::alert_ignored, *target, &alert) : AuditEvent{};
        if (!target) {
            event.time = deps_.now();
            event.event = std::string(name);
            event.service = service;
            event.environment = environment;
            event.alertname = alert.label("alertname");
            event.fingerprint = alert.fingerprint;
        }
        event.reason = std::string(reason);
        std::vector<std::pair<std::string, std::string>> text;
        if (!input_error.empty()) text.emplace_back("input_error", input_error);
        event.detail = encode_detail({&alert, std::move(text), {}});
        auto written = deps_.audit.record(event, dedupe_key);
        if (!written) return Error{written.error()};
        return ok_status();
    };

    if (decision.verdict == Verdict::ignore) return audit_ignored(decision.reason);
    // Nothing the alert or the deployment carries may fail the rollback once claimed: the action's values
    // are checked first, and a refused one leaves the deployment watching (rollbackable by hand).
    if (auto safe = check_action_input(settings.rollback, *target, alert); !safe)
        return audit_ignored(reason::unsafe_input, safe.error());
    targets.erase(seen);

    if (decision.verdict == Verdict::dry_run) {
        deps_.metrics.alerts.add({"dry_run", "dry_run"});
        AuditEvent event = event_for(AuditEventKind::rollback_dry_run, *target, &alert);
        event.reason = "dry_run";
        event.detail = encode_detail(
            {&alert,
             {{"action", settings.rollback.action_kind()},
              {"would_run", describe_action(settings.rollback, placeholder_values(*target, alert))}},
             {}});
        auto written = deps_.audit.record(event, "dry_run|" + target->id);
        if (!written) return Error{written.error()};
        return ok_status();
    }

    if (settings.debounce > Duration::zero()) {
        bool created = false;
        {
            std::lock_guard lock(mutex_);
            if (stopping_) return make_error("the receiver is shutting down");
            auto it = pending_.find(target->id);
            if (it == pending_.end()) {
                pending_.emplace(
                    target->id,
                    Pending{*target, alert, deps_.now() + settings.debounce, {alert.fingerprint}});
                created = true;
                update_pending_gauge_locked();
            } else {
                it->second.firing_fingerprints.insert(alert.fingerprint);
            }
        }
        deps_.metrics.alerts.add({"act", created ? "debounce_started" : "debounce_running"});
        if (!created) return ok_status();
        return begin_debounce(*target, alert, settings.debounce);
    }

    auto started = start_rollback(*target, alert, config_generation);
    if (!started) return Error{started.error()};
    switch (*started) {
    case StartOutcome::started:
        deps_.metrics.alerts.add({"act", "rollback_started"});
        return ok_status();
    case StartOutcome::already_claimed: // another notification claimed it first
        return audit_ignored(reason::already_handled);
    case StartOutcome::shutting_down: // 503: Alertmanager sends it again, to the next receiver or start
        break;
    }
    return make_error("the receiver is shutting down");
}

Status Engine::begin_debounce(const Deployment& target, const Alert& alert, Duration debounce) {
    // The wait counts from the ledger's start: the first notification any receiver on the ledger got (or
    // this one, before a restart). Only the receiver that stored it audits rollback_pending.
    const TimePoint now = deps_.now();
    std::optional<PendingStart> start;
    AuditEvent event = event_for(AuditEventKind::rollback_pending, target, &alert);
    event.reason = "debounce";
    auto written = deps_.ledger.write(
        "starting the debounce of \"" + target.id + "\"", [&](LedgerTransaction& transaction) -> Status {
            auto begun = transaction.begin_pending(target.id, now);
            if (!begun) return Error{begun.error()};
            start = *begun;
            if (!begun->created) return ok_status();
            event.detail = encode_detail(
                {&alert,
                 {{"debounce", format_duration(debounce)}, {"due", format_rfc3339_ms(now + debounce)}},
                 {}});
            auto appended = transaction.append_audit(event);
            if (!appended) return Error{appended.error()};
            return ok_status();
        });
    {
        std::lock_guard lock(mutex_);
        auto it = pending_.find(target.id);
        if (!written) {
            // Not started: the 503 makes Alertmanager send the alert again, and that starts it afresh.
            if (it != pending_.end()) pending_.erase(it);
            update_pending_gauge_locked();
            return Error{written.error()};
        }
        if (it != pending_.end()) it->second.due = start->started_at + debounce;
    }
    wake_.notify_all();
    if (start->created) deps_.audit.publish(event);
    return ok_status();
}

Status Engine::end_debounce(AuditEvent& event, const std::string& deployment_id) {
    bool ended = false;
    auto written = deps_.ledger.write("ending the debounce of \"" + deployment_id + "\"",
                                      [&](LedgerTransaction& transaction) -> Status {
                                          auto removed = transaction.end_pending(deployment_id);
                                          if (!removed) return Error{removed.error()};
                                          ended = *removed;
                                          if (!ended) return ok_status();
                                          auto appended = transaction.append_audit(event);
                                          if (!appended) return Error{appended.error()};
                                          return ok_status();
                                      });
    if (!written) return written;
    if (ended) deps_.audit.publish(event);
    return ok_status();
}

Status Engine::handle_resolved(const Alert& alert) {
    std::vector<Pending> cancelled;
    {
        std::lock_guard lock(mutex_);
        for (auto it = pending_.begin(); it != pending_.end();) {
            if (it->second.firing_fingerprints.erase(alert.fingerprint) &&
                it->second.firing_fingerprints.empty()) {
                cancelled.push_back(std::move(it->second));
                it = pending_.erase(it);
            } else {
                ++it;
            }
        }
        update_pending_gauge_locked();
    }
    for (const Pending& pending : cancelled) {
        AuditEvent event = event_for(AuditEventKind::rollback_cancelled, pending.target, &alert);
        event.reason = "alerts_resolved";
        event.detail =
            encode_detail({&alert, {{"pending_since_alert", pending.first_alert.fingerprint}}, {}});
        // The receiver that ends the shared wait audits it; another one that got the same resolution finds
        // it ended already.
        if (auto ended = end_debounce(event, pending.target.id); !ended) return ended;
    }
    return ok_status();
}

void Engine::fire_due_timers() {
    std::vector<Pending> due;
    {
        std::lock_guard lock(mutex_);
        if (stopping_) return;
        const TimePoint now = deps_.now();
        for (auto it = pending_.begin(); it != pending_.end();) {
            if (it->second.due <= now) {
                due.push_back(std::move(it->second));
                it = pending_.erase(it);
            } else {
                ++it;
            }
        }
        update_pending_gauge_locked();
    }
    const auto config = this->config();
    for (Pending& pending : due) {
        const ServiceSettings& settings = config->settings_for(pending.target.service);
        std::string why;
        std::string note;
        bool retry = false; // a ledger error: the rollback is still due, tried again shortly
        auto paused = is_paused(pending.target.service);
        auto safe = check_action_input(settings.rollback, pending.target, pending.first_alert);
        if (!settings.rollback.has_action()) {
            why = std::string(reason::no_action);
        } else if (!safe) { // a reload changed the action since the alert was checked
            why = std::string(reason::unsafe_input);
            note = safe.error();
        } else if (!paused) {
            log_error("debounced rollback: the pause could not be read; trying again",
                      {{"deployment_id", pending.target.id}, {"err", paused.error()}});
            retry = true;
        } else if (*paused) {
            why = std::string(reason::paused);
        } else {
            auto started = start_rollback(pending.target, pending.first_alert, config, "alert_firing",
                                          pending.firing_fingerprints, /*ends_debounce=*/true);
            if (!started) {
                log_error("debounced rollback could not be claimed; trying again",
                          {{"deployment_id", pending.target.id}, {"err", started.error()}});
                retry = true;
            } else if (*started == StartOutcome::shutting_down) {
                why = "shutdown";
            } else if (*started == StartOutcome::already_claimed) {
                auto current = deps_.ledger.get_deployment(pending.target.id);
                why = current && *current ? std::string(to_string((*current)->state)) : "unknown";
            }
        }
        if (retry) {
            std::lock_guard lock(mutex_);
            if (!stopping_) {
                pending.due = deps_.now() + deps_.debounce_retry;
                const std::string id = pending.target.id;
                pending_.emplace(id, std::move(pending));
                update_pending_gauge_locked();
                continue;
            }
            why = "shutdown";
        }
        if (why.empty()) continue;
        AuditEvent event =
            event_for(AuditEventKind::rollback_cancelled, pending.target, &pending.first_alert);
        event.reason = why;
        event.detail = encode_detail(
            {&pending.first_alert,
             {{"note", note.empty() ? "deployment was " + why + " when the debounce ended" : note}},
             {}});
        // A stop keeps the shared wait in the ledger (the next start, or another receiver, goes on counting
        // from it); any other end removes it, and only the receiver that removed it audits the end (another
        // one's claim removed it already when that one rolled back).
        if (why == "shutdown") {
            if (auto written = deps_.audit.record(event); !written)
                deps_.metrics.audit_write_failures.add({}); // AuditTrail::record logged it
        } else if (auto ended = end_debounce(event, pending.target.id); !ended) {
            deps_.metrics.audit_write_failures.add({});
            log_error("the end of a debounce could not be stored",
                      {{"deployment_id", pending.target.id}, {"err", ended.error()}});
        }
    }
    end_due_confirmations();
}

std::size_t Engine::pending_count() const {
    std::lock_guard lock(mutex_);
    return pending_.size();
}

void Engine::update_pending_gauge_locked() {
    deps_.metrics.pending_rollbacks.set({}, static_cast<double>(pending_.size()));
}

void Engine::start_timer_thread() {
    timer_thread_ = std::thread([this] {
        std::unique_lock lock(mutex_);
        while (!stopping_) {
            TimePoint earliest = next_confirmation_due_locked();
            if (pending_.empty() && earliest == TimePoint::max()) {
                wake_.wait_for(lock, std::chrono::seconds(1));
                continue;
            }
            for (const auto& [id, pending] : pending_)
                earliest = std::min(earliest, pending.due);
            const auto wait = earliest - deps_.now();
            if (wait > Clock::duration::zero()) {
                wake_.wait_for(lock, std::min<Clock::duration>(wait, std::chrono::seconds(1)));
                continue;
            }
            lock.unlock();
            fire_due_timers();
            lock.lock();
        }
    });
}

Engine::Attempt Engine::run_attempt(const Deployment& target, const Alert& alert,
                                    const RollbackSettings& rollback, const Config& config) {
    Attempt attempt;
    if (!rollback.command.empty()) {
        auto spec = command_spec(rollback, target, alert, deps_.kill_grace);
        if (!spec) { // checked before the claim; only a change of the same values could get here
            attempt.started = false;
            attempt.retryable = false;
            attempt.description = "could not start: " + spec.error();
            return attempt;
        }
        const CommandResult result = deps_.runner.run(*spec, cancel_);
        attempt.started = result.started;
        attempt.succeeded = result.succeeded();
        attempt.cancelled = result.cancelled;
        attempt.description = result.describe(); // "could not start: <program>: <why>" when it did not
        attempt.output = result.output;
        if (result.started) attempt.numbers = {{"exit_code", result.exit_code}};
        return attempt;
    }
    const auto values = placeholder_values(target, alert);
    const Result<HttpCall> call =
        rollback.webhook
            ? webhook_call(*rollback.webhook, values, rollback.timeout, config.tls.ca_file, read_secret_file)
            : github_workflow_call(*rollback.github_workflow, values, rollback.timeout, config.tls.ca_file,
                                   read_secret_file);
    if (!call) { // a secret file went missing since the config was loaded: retrying may find it again
        attempt.description = "could not prepare the request: " + call.error();
        return attempt;
    }
    const HttpCallResult result = http_.call(*call, cancel_);
    attempt.succeeded = result.succeeded();
    attempt.cancelled = result.cancelled;
    attempt.retryable = http_failure_is_retryable(result);
    attempt.description = describe_http_outcome(rollback.action_kind(), result, rollback.timeout);
    attempt.output = result.status != 0 ? result.body : result.error;
    attempt.numbers = {{"http_status", result.status}};
    return attempt;
}

void Engine::notify(AuditEventKind kind, const Deployment& target, const Alert& alert, const Config& config,
                    const std::string& result, const std::string& compare_url) {
    const ServiceSettings& settings = config.settings_for(target.service);
    if (settings.notify.empty()) return;
    const std::string event(to_string(kind));
    const auto values = placeholder_values(target, alert);
    const std::string text = notification_text(event, target, alert, result, compare_url);
    for (const NotifyTarget& target_url : settings.notify) {
        // Built on a notifier thread: a secret header file is read there, not on this (a request's) thread.
        notifier_.send(
            event, target_url.target.url,
            [target_url, text, values, timeout = deps_.notify_timeout, ca_file = config.tls.ca_file] {
                return notification_call(target_url, text, values, timeout, ca_file, read_secret_file);
            });
    }
}

Result<bool> Engine::is_paused(const std::string& service) {
    auto pause = deps_.ledger.service_pause(service);
    if (!pause) return Error{pause.error()};
    return pause->has_value() && (*pause)->active_at(deps_.now());
}

Result<ManualRollbackResult> Engine::manual_rollback(const std::string& deployment_id, const std::string& why,
                                                     const std::string& actor) {
    using Outcome = ManualRollbackResult::Outcome;
    auto found = deps_.ledger.get_deployment(deployment_id);
    if (!found) return Error{found.error()};
    if (!*found)
        return ManualRollbackResult{
            Outcome::not_found, "no deployment with id \"" + deployment_id + "\"", {}};
    const Deployment& target = **found;
    const auto config = this->config();
    const ServiceSettings& settings = config->settings_for(target.service);
    auto refuse = [&](std::string message) {
        return ManualRollbackResult{Outcome::refused, std::move(message), target};
    };
    if (target.kind == DeploymentKind::rollback)
        return refuse("deployment \"" + target.id +
                      "\" is itself a rollback; a rollback is never rolled back "
                      "(record and deploy the version you want instead)");
    if (target.previous_version.empty())
        return refuse("deployment \"" + target.id + "\" has no previous version to roll back to");
    if (!settings.rollback.has_action())
        return refuse("service \"" + target.service + "\" has no rollback action: set services." +
                      target.service + ".rollback.command (or webhook, github_workflow) in the config");
    if (target.state != DeploymentState::watching)
        return refuse("deployment \"" + target.id + "\" is " + std::string(to_string(target.state)) +
                      "; a deployment is rolled back at most once");
    Alert manual;
    manual.status = "firing";
    manual.labels = {{"alertname", "ManualRollback"}};
    manual.annotations = {{"summary", why}, {"actor", actor}};
    manual.starts_at = deps_.now();
    if (auto safe = check_action_input(settings.rollback, target, manual); !safe)
        return refuse("deployment \"" + target.id + "\" cannot be rolled back by service \"" +
                      target.service + "\"'s action: " + safe.error());
    auto started = start_rollback(target, manual, config, "manual");
    if (!started) return Error{started.error()};
    if (*started == StartOutcome::shutting_down)
        return ManualRollbackResult{Outcome::shutting_down, "the receiver is shutting down; retry shortly",
                                    target};
    if (*started == StartOutcome::already_claimed) {
        auto current = deps_.ledger.get_deployment(deployment_id);
        const std::string state =
            current && *current ? std::string(to_string((*current)->state)) : "changing";
        return refuse("deployment \"" + target.id + "\" is " + state +
                      "; a deployment is rolled back at most once");
    }
    Deployment claimed = target;
    claimed.state = DeploymentState::rolling_back;
    return ManualRollbackResult{Outcome::started, "", claimed};
}

Result<Engine::StartOutcome> Engine::start_rollback(const Deployment& target, const Alert& alert,
                                                    std::shared_ptr<const Config> config,
                                                    std::string_view trigger,
                                                    const std::set<std::string>& also_firing,
                                                    bool ends_debounce) {
    {
        std::lock_guard lock(mutex_);
        if (stopping_) return StartOutcome::shutting_down;
        ++starting_; // shutdown() waits for this start to hand its claim to a thread
    }
    struct StartDone {
        Engine& engine;
        ~StartDone() {
            std::lock_guard lock(engine.mutex_);
            --engine.starting_;
            engine.wake_.notify_all();
        }
    } start_done{*this};

    const ServiceSettings& settings = config->settings_for(target.service);
    Deployment claimed_target = target;
    claimed_target.state = DeploymentState::rolling_back;
    const std::string action = settings.rollback.action_kind();
    AuditEvent event = event_for(AuditEventKind::rollback_started, claimed_target, &alert);
    event.reason = std::string(trigger);
    AuditDetail detail{&alert,
                       {{"action", action},
                        {settings.rollback.action() == ActionKind::command ? "command" : "request",
                         describe_action(settings.rollback, placeholder_values(claimed_target, alert))},
                        {"timeout", format_duration(settings.rollback.timeout)}},
                       {{"max_attempts", settings.rollback.retries + 1}}};
    const std::string compare_url = compare_url_for(target, settings);
    if (!compare_url.empty()) detail.text.emplace_back("compare_url", compare_url);
    event.detail = encode_detail(detail);
    // The claim and its rollback_started event are one transaction (one fsync on the way to the command).
    bool claimed = false;
    auto written = deps_.ledger.write("claiming the rollback of \"" + target.id + "\"",
                                      [&](LedgerTransaction& transaction) -> Status {
                                          auto won = transaction.claim_rollback(target.id);
                                          if (!won) return Error{won.error()};
                                          claimed = *won;
                                          if (!claimed) return ok_status();
                                          if (ends_debounce)
                                              if (auto ended = transaction.end_pending(target.id); !ended)
                                                  return Error{ended.error()};
                                          auto appended = transaction.append_audit(event);
                                          if (!appended) return Error{appended.error()};
                                          return ok_status();
                                      });
    if (!written) return Error{written.error()};
    if (!claimed) return StartOutcome::already_claimed;
    deps_.audit.publish(event);
    notify(AuditEventKind::rollback_started, claimed_target, alert, *config, "", compare_url);
    watch_rollback_alerts(claimed_target, alert, also_firing, config); // before a worker can finish it

    // Claimed at once, queued for a worker: a repeat of the alert while it waits finds it rolling_back. When
    // shutdown() began meanwhile the pool takes nothing more, and the claim ends here as interrupted, so
    // that a claim never stays rolling_back in a running receiver.
    if (auto refused = pool_.submit({claimed_target, alert, std::move(config)})) end_unstarted(*refused);
    return StartOutcome::started;
}

bool Engine::write_until_stored(std::string_view what, const Ledger::WriteBody& body) {
    Duration wait = deps_.ledger_retry;
    while (true) {
        auto written = deps_.ledger.write(what, body);
        if (written) return true;
        deps_.metrics.ledger_write_retries.add({});
        log_error("ledger write failed; trying again",
                  {{"err", written.error()}, {"retry_in", format_duration(wait)}});
        std::unique_lock lock(mutex_);
        if (wake_.wait_for(lock, wait, [this] { return cancel_.load(); })) return false;
        wait = std::min(wait * 2, deps_.ledger_retry_max);
    }
}

void Engine::execute_rollback(const Deployment& target, const Alert& alert, const Config& config) {
    const ServiceSettings& settings = config.settings_for(target.service);
    const auto started = std::chrono::steady_clock::now();
    const int max_attempts = settings.rollback.retries + 1;
    Attempt result;
    int attempt = 0;
    for (attempt = 1; attempt <= max_attempts; ++attempt) {
        result = run_attempt(target, alert, settings.rollback, config);
        deps_.metrics.rollback_attempts.add({target.service, result.succeeded ? "success" : "failure"});
        if (result.succeeded || result.cancelled) break;
        AuditEvent failed = event_for(AuditEventKind::rollback_attempt_failed, target, &alert);
        failed.reason = result.description;
        std::vector<std::pair<std::string, long long>> numbers{{"attempt", attempt},
                                                               {"max_attempts", max_attempts}};
        numbers.insert(numbers.end(), result.numbers.begin(), result.numbers.end());
        std::vector<std::pair<std::string, std::string>> text{{"result", result.description}};
        if (!result.started) text.emplace_back("started", "no"); // the command never ran
        text.emplace_back("output", result.output);
        text.emplace_back("retry", result.retryable && attempt < max_attempts ? "yes" : "no");
        failed.detail = encode_detail({nullptr, std::move(text), numbers});
        if (auto written = deps_.audit.record(failed); !written)
            deps_.metrics.audit_write_failures.add({}); // AuditTrail::record logged it
        if (attempt == max_attempts || !result.retryable) break;
        std::unique_lock lock(mutex_);
        if (wake_.wait_for(lock, settings.rollback.retry_backoff, [this] { return cancel_.load(); })) {
            result.cancelled = true;
            break;
        }
    }
    const double duration = seconds_between(started, std::chrono::steady_clock::now());
    deps_.metrics.rollback_duration.observe({target.service}, duration);
    std::vector<std::pair<std::string, long long>> numbers{
        {"attempts", std::min(attempt, max_attempts)},
        {"duration_ms", static_cast<long long>(duration * 1000)}};
    numbers.insert(numbers.end(), result.numbers.begin(), result.numbers.end());
    finish_rollback(target, alert, config, result, numbers);
}

void Engine::end_unstarted(const QueuedRollback& rollback) {
    Attempt never_started;
    never_started.cancelled = true;
    never_started.description = "not started: the receiver stopped while the rollback waited for a free "
                                "worker (rollback_concurrency); it is not run again on its own";
    finish_rollback(rollback.target, rollback.alert, *rollback.config, never_started, {{"attempts", 0}});
}

void Engine::finish_rollback(const Deployment& target, const Alert& alert, const Config& config,
                             const Attempt& result,
                             const std::vector<std::pair<std::string, long long>>& numbers) {
    const bool interrupted = result.cancelled;
    const AuditEventKind kind = result.succeeded ? AuditEventKind::rollback_succeeded
                                : interrupted    ? AuditEventKind::rollback_interrupted
                                                 : AuditEventKind::rollback_failed;
    AuditEvent event = event_for(kind, target, &alert);
    event.reason = result.succeeded || !interrupted ? result.description : "shutdown";
    AuditDetail detail{&alert, {{"result", result.description}}, numbers};
    if (!result.started) detail.text.emplace_back("started", "no"); // the command never ran
    detail.text.emplace_back("output", result.output);
    // The new state and its event in one transaction: a reader (or a kill) never gets one alone. A failed
    // write is tried again (the action ran; its outcome must be stored), and nothing is counted before it is.
    bool claim_lost = false;
    auto store = [&](LedgerTransaction& transaction) -> Status {
        // A survivor took the claim over after this receiver stopped renewing it (it was away from the
        // database longer than claim_lease): the outcome is told, and the state it wrote stands.
        auto held = transaction.holds_claim(target.id);
        if (!held) return Error{held.error()};
        claim_lost = !*held;
        if (claim_lost) {
            AuditDetail lost = detail;
            lost.text.emplace_back("claim",
                                   "lost: another receiver marked this rollback rollback_interrupted "
                                   "after claim_lease; its state stays");
            event.detail = encode_detail(lost);
        } else if (result.succeeded) {
            auto live = transaction.complete_rollback(target.id, deps_.now());
            if (!live) return Error{live.error()};
            AuditDetail with_live = detail;
            with_live.text.emplace_back("rollback_deployment_id", live->id);
            event.detail = encode_detail(with_live);
        } else {
            auto ended =
                transaction.fail_rollback(target.id, interrupted ? DeploymentState::rollback_interrupted
                                                                 : DeploymentState::rollback_failed);
            if (!ended) return ended;
            event.detail = encode_detail(detail);
        }
        auto appended = transaction.append_audit(event);
        if (!appended) return Error{appended.error()};
        return ok_status();
    };
    if (!write_until_stored(std::string(result.succeeded ? "completing" : "ending") + " the rollback of \"" +
                                target.id + "\"",
                            store)) {
        log_error("rollback outcome not stored before shutdown; the next start marks it interrupted",
                  {{"deployment_id", target.id}, {"outcome", std::string(to_string(kind))}});
        return;
    }
    deps_.audit.publish(event);
    if (claim_lost) {
        end_rollback_watch(target, false); // its outcome is not this receiver's to confirm
        log_error("the rollback's claim was taken over by another receiver while its action ran; its outcome "
                  "is in the trail, the deployment stays rollback_interrupted",
                  {{"deployment_id", target.id}, {"outcome", std::string(to_string(kind))}});
        return;
    }
    end_rollback_watch(target, result.succeeded);
    deps_.metrics.rollbacks.add({target.service, result.succeeded ? "succeeded"
                                                 : interrupted    ? "interrupted"
                                                                  : "failed"});
    if (!interrupted) notify(kind, target, alert, config, result.description);
}

std::size_t Engine::running_count() const {
    return pool_.running();
}

std::size_t Engine::queued_count() const {
    return pool_.queued();
}

void Engine::wait_idle() {
    pool_.wait_idle();
}

void Engine::shutdown(Duration grace) {
    std::vector<Pending> dropped;
    {
        std::lock_guard lock(mutex_);
        if (stopping_ && !timer_thread_.joinable() && pool_.running() == 0) return;
        stopping_ = true;
    }
    // From here no queued rollback starts: they are ended as interrupted below, after the running ones had
    // their grace (a ledger that fails then gets one try; the next start's sweep marks what is left).
    const std::vector<QueuedRollback> unstarted = pool_.stop();
    pool_.wait_idle_for(grace);
    {
        std::lock_guard lock(mutex_);
        cancel_ = true;
        for (auto& [id, pending] : pending_)
            dropped.push_back(std::move(pending));
        pending_.clear();
        update_pending_gauge_locked();
        if (!confirming_.empty()) { // no verdict: their deployments stay rolled_back
            std::string ids;
            for (const auto& [id, confirmation] : confirming_)
                ids += (ids.empty() ? "" : ",") + id;
            log_info("shutdown: rollbacks still inside their confirm_window end without a verdict",
                     {{"deployment_ids", ids}});
        }
        confirming_.clear();
    }
    wake_.notify_all();
    if (timer_thread_.joinable()) timer_thread_.join();
    for (const Pending& pending : dropped) {
        AuditEvent event =
            event_for(AuditEventKind::rollback_cancelled, pending.target, &pending.first_alert);
        event.reason = "shutdown";
        if (auto written = deps_.audit.record(event); !written)
            deps_.metrics.audit_write_failures.add({}); // AuditTrail::record logged it
    }
    for (const QueuedRollback& rollback : unstarted)
        end_unstarted(rollback);
    {
        std::unique_lock lock(mutex_);
        wake_.wait(lock, [this] { return starting_ == 0; });
    }
    pool_.join();
    // The last messages (a rollback that just ended) get a moment; a dead chat cannot hold up the stop.
    notifier_.stop(std::min<Duration>(grace, std::chrono::seconds(2)));
}

std::size_t Engine::confirming_count() const {
    std::lock_guard lock(mutex_);
    return confirming_.size();
}

std::string Engine::compare_url_for(const Deployment& target, const ServiceSettings& settings) {
    if (settings.repository.empty() || target.previous_version.empty() || !is_safe_commit(target.commit))
        return "";
    // The restored deployment: the latest earlier one of the same service and environment with the
    // previous version and a commit (newest first; a rollback deployment carries no commit of its own).
    DeploymentFilter filter;
    filter.service = target.service;
    filter.environment = target.environment;
    filter.limit = 1000;
    auto listed = deps_.ledger.list_deployments(filter);
    if (!listed) {
        log_warn("compare_url: the earlier deployments could not be read; the rollback goes on without it",
                 {{"deployment_id", target.id}, {"err", listed.error()}});
        return "";
    }
    for (const Deployment& earlier : *listed) {
        if (earlier.id == target.id || earlier.environment != target.environment ||
            earlier.version != target.previous_version || earlier.commit.empty() ||
            earlier.deployed_at > target.deployed_at)
            continue;
        if (!is_safe_commit(earlier.commit)) return "";
        return settings.repository + "/compare/" + earlier.commit + "..." + target.commit;
    }
    return "";
}

void Engine::watch_rollback_alerts(const Deployment& target, const Alert& alert,
                                   const std::set<std::string>& also_firing,
                                   const std::shared_ptr<const Config>& config) {
    // A manual rollback has no alert of its own (no fingerprint): nothing to confirm it against.
    if (alert.fingerprint.empty() || config->settings_for(target.service).confirm_window <= Duration::zero())
        return;
    Confirmation confirmation{target, alert, {{alert.fingerprint, alert.label("alertname")}}, {}, false, {},
                              {},     config};
    for (const std::string& fingerprint : also_firing) {
        if (confirmation.firing.size() >= kMaxConfirmationAlerts) break;
        confirmation.firing.emplace(fingerprint, ""); // named when a notification shows it again
    }
    std::lock_guard lock(mutex_);
    confirming_.insert_or_assign(target.id, std::move(confirmation));
}

void Engine::note_alert_for_confirmation(const Alert& alert,
                                         const std::optional<Deployment>& decided_against) {
    if (alert.fingerprint.empty()) return;
    std::vector<Confirmation> effective;
    {
        std::lock_guard lock(mutex_);
        if (confirming_.empty()) return;
        const std::string alertname = alert.label("alertname");
        if (alert.firing() && decided_against && decided_against->state == DeploymentState::rolling_back) {
            auto watch = confirming_.find(decided_against->id);
            if (watch != confirming_.end() && !watch->second.window_open &&
                watch->second.firing.size() + watch->second.resolved.size() < kMaxConfirmationAlerts &&
                !watch->second.resolved.count(alert.fingerprint))
                watch->second.firing.insert_or_assign(alert.fingerprint, alertname);
        }
        for (auto it = confirming_.begin(); it != confirming_.end();) {
            Confirmation& watch = it->second;
            auto& from = alert.firing() ? watch.resolved : watch.firing;
            auto& to = alert.firing() ? watch.firing : watch.resolved;
            if (auto moving = from.find(alert.fingerprint); moving != from.end()) {
                from.erase(moving);
                to.insert_or_assign(alert.fingerprint, alertname);
            } else if (auto known = to.find(alert.fingerprint); known != to.end() && known->second.empty()) {
                known->second = alertname;
            }
            if (watch.window_open && watch.firing.empty()) { // the last one resolved within the window
                effective.push_back(std::move(watch));
                it = confirming_.erase(it);
            } else {
                ++it;
            }
        }
    }
    for (const Confirmation& confirmation : effective)
        conclude_confirmation(confirmation, true);
}

void Engine::end_rollback_watch(const Deployment& target, bool succeeded) {
    std::optional<Confirmation> effective;
    {
        std::lock_guard lock(mutex_);
        auto watch = confirming_.find(target.id);
        if (watch == confirming_.end()) return;
        if (!succeeded || stopping_) {
            confirming_.erase(watch);
            return;
        }
        Confirmation& confirmation = watch->second;
        confirmation.window_open = true;
        confirmation.window_start = deps_.now();
        confirmation.due =
            confirmation.window_start + confirmation.config->settings_for(target.service).confirm_window;
        if (confirmation.firing.empty()) { // every one resolved while it rolled back
            effective = std::move(confirmation);
            confirming_.erase(watch);
        }
    }
    wake_.notify_all(); // the timer thread waits for the window's end
    if (effective) conclude_confirmation(*effective, true);
}

TimePoint Engine::next_confirmation_due_locked() const {
    TimePoint earliest = TimePoint::max();
    for (const auto& [id, confirmation] : confirming_)
        if (confirmation.window_open) earliest = std::min(earliest, confirmation.due);
    return earliest;
}

void Engine::end_due_confirmations() {
    std::vector<Confirmation> ended;
    {
        std::lock_guard lock(mutex_);
        if (stopping_) return;
        const TimePoint now = deps_.now();
        for (auto it = confirming_.begin(); it != confirming_.end();) {
            if (it->second.window_open && it->second.due <= now) {
                ended.push_back(std::move(it->second));
                it = confirming_.erase(it);
            } else {
                ++it;
            }
        }
    }
    for (const Confirmation& confirmation : ended)
        conclude_confirmation(confirmation, confirmation.firing.empty());
}

void Engine::conclude_confirmation(const Confirmation& confirmation, bool effective) {
    const AuditEventKind kind =
        effective ? AuditEventKind::rollback_effective : AuditEventKind::rollback_ineffective;
    Deployment target = confirmation.target;
    target.state = DeploymentState::rolled_back;
    const ServiceSettings& settings = confirmation.config->settings_for(target.service);
    const std::string window = format_duration(settings.confirm_window);
    AuditEvent event = event_for(kind, target, &confirmation.alert);
    event.reason = effective ? "alerts_resolved" : "still_firing";
    const auto waited =
        std::chrono::duration_cast<std::chrono::milliseconds>(deps_.now() - confirmation.window_start);
    const std::string still_firing = alert_list(confirmation.firing);
    event.detail = encode_detail(
        {&confirmation.alert,
         {{"confirm_window", window},
          {"window_started", format_rfc3339_ms(confirmation.window_start)},
          {"resolved", alert_list(confirmation.resolved)},
          {"still_firing", still_firing}},
         {{"alerts", static_cast<long long>(confirmation.firing.size() + confirmation.resolved.size())},
          {"still_firing_count", static_cast<long long>(confirmation.firing.size())},
          {"waited_ms", static_cast<long long>(waited.count())}}});
    if (auto written = deps_.audit.record(event); !written)
        deps_.metrics.audit_write_failures.add({}); // AuditTrail::record logged it
    deps_.metrics.rollback_outcomes.add({effective ? "effective" : "ineffective"});
    if (!effective)
        notify(kind, target, confirmation.alert, *confirmation.config,
               "still firing " + window + " after the rollback: " + still_firing);
}

void Engine::wait_notifications_sent() {
    notifier_.wait_idle();
}

} // namespace rollback
