// Metric families and the text exposition format (version 0.0.4), checked by `promtool check metrics`.
#include "ops/metrics.hpp"

#include "common/text.hpp"

#include <charconv>
#include <cmath>
#include <stdexcept>

namespace rollback {
namespace {

std::string escape_label_value(std::string_view value) {
    std::string out;
    out.reserve(value.size());
    for (char c : value) {
        if (c == '\\')
            out += "\\\\";
        else if (c == '"')
            out += "\\\"";
        else if (c == '\n')
            out += "\\n";
        else
            out += c;
    }
    return out;
}

std::string label_text(const std::vector<std::string>& names, const std::vector<std::string>& values,
                       std::string_view extra_name = {}, std::string_view extra_value = {}) {
    std::string out;
    for (std::size_t i = 0; i < names.size(); ++i) {
        out += out.empty() ? "{" : ",";
        out += names[i] + "=\"" + escape_label_value(values[i]) + "\"";
    }
    if (!extra_name.empty()) {
        out += out.empty() ? "{" : ",";
        out += std::string(extra_name) + "=\"" + std::string(extra_value) + "\"";
    }
    if (!out.empty()) out += "}";
    return out;
}

const std::vector<double> kRequestBuckets{0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1};
const std::vector<double> kRollbackBuckets{0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800};

} // namespace

MetricFamily::MetricFamily(std::string name, std::string help, Type type,
                           std::vector<std::string> label_names, std::vector<double> buckets)
    : name_(std::move(name)), help_(std::move(help)), type_(type), label_names_(std::move(label_names)),
      buckets_(std::move(buckets)) {}

void MetricFamily::add(const std::vector<std::string>& label_values, double amount) {
    if (label_values.size() != label_names_.size())
        throw std::logic_error("metric " + name_ + ": wrong label count");
    std::lock_guard lock(mutex_);
    series_[label_values].value += amount;
}

void MetricFamily::set(const std::vector<std::string>& label_values, double value) {
    if (label_values.size() != label_names_.size())
        throw std::logic_error("metric " + name_ + ": wrong label count");
    std::lock_guard lock(mutex_);
    series_[label_values].value = value;
}

void MetricFamily::observe(const std::vector<std::string>& label_values, double value) {
    if (label_values.size() != label_names_.size())
        throw std::logic_error("metric " + name_ + ": wrong label count");
    std::lock_guard lock(mutex_);
    Series& series = series_[label_values];
    if (series.bucket_counts.empty()) series.bucket_counts.assign(buckets_.size(), 0);
    for (std::size_t i = 0; i < buckets_.size(); ++i)
        if (value <= buckets_[i]) series.bucket_counts[i] += 1;
    series.value += value;
    series.count += 1;
}

double MetricFamily::value(const std::vector<std::string>& label_values) const {
    std::lock_guard lock(mutex_);
    auto it = series_.find(label_values);
    if (it == series_.end()) return 0;
    return type_ == Type::histogram ? it->second.count : it->second.value;
}

void MetricFamily::render(std::string& out) const {
    static const char* type_names[] = {"counter", "gauge", "histogram"};
    out += "# HELP " + name_ + " " + help_ + "\n";
    out += "# TYPE " + name_ + " " + type_names[static_cast<int>(type_)] + "\n";
    std::lock_guard lock(mutex_);
    for (const auto& [values, series] : series_) {
        if (type_ != Type::histogram) {
            out += name_ + label_text(label_names_, values) + " " + format_number_exact(series.value) + "\n";
            continue;
        }
        for (std::size_t i = 0; i < buckets_.size(); ++i)
            out += name_ + "_bucket" +
                   label_text(label_names_, values, "le", format_number_exact(buckets_[i])) + " " +
                   format_number_exact(series.bucket_counts[i]) + "\n";
        out += name_ + "_bucket" + label_text(label_names_, values, "le", "+Inf") + " " +
               format_number_exact(series.count) + "\n";
        out += name_ + "_sum" + label_text(label_names_, values) + " " + format_number_exact(series.value) +
               "\n";
        out += name_ + "_count" + label_text(label_names_, values) + " " + format_number_exact(series.count) +
               "\n";
    }
}

Metrics::Metrics()
    : build_info("rollback_receiver_build_info", "A metric with a constant '1' value labeled by version.",
                 MetricFamily::Type::gauge, {"version"}),
      notifications("rollback_receiver_notifications_total", "Webhook notifications received, by outcome.",
                    MetricFamily::Type::counter, {"outcome"}),
      alerts("rollback_receiver_alerts_total", "Alerts decided on, by decision and reason.",
             MetricFamily::Type::counter, {"decision", "reason"}),
      audit_repeats("rollback_receiver_audit_repeats_total",
                    "Identical audit events not written again (repeat notifications), by event and reason.",
                    MetricFamily::Type::counter, {"event", "reason"}),
      deployments_recorded("rollback_receiver_deployments_recorded_total",
                           "Deployment records received, by outcome (created, repeated, conflict, invalid).",
                           MetricFamily::Type::counter, {"outcome"}),
      rollbacks("rollback_receiver_rollbacks_total", "Rollbacks finished, by service and result.",
                MetricFamily::Type::counter, {"service", "result"}),
      rollback_duration("rollback_receiver_rollback_duration_seconds",
                        "Time from the start of a rollback to its end, all attempts included.",
                        MetricFamily::Type::histogram, {"service"}, kRollbackBuckets),
      rollback_attempts("rollback_receiver_rollback_attempts_total", "Rollback action attempts, by result.",
                        MetricFamily::Type::counter, {"service", "result"}),
      http_request_duration("rollback_receiver_http_request_duration_seconds",
                            "Time to answer an HTTP request, by handler.", MetricFamily::Type::histogram,
                            {"handler"}, kRequestBuckets),
      http_requests("rollback_receiver_http_requests_total", "HTTP requests answered, by handler and code.",
                    MetricFamily::Type::counter, {"handler", "code"}),
      pending_rollbacks("rollback_receiver_pending_rollbacks", "Rollbacks waiting for their debounce to end.",
                        MetricFamily::Type::gauge, {}),
      rollbacks_queued(
          "rollback_receiver_rollbacks_queued",
          "Claimed rollbacks waiting for a free worker (at most rollback_concurrency run at once).",
          MetricFamily::Type::gauge, {}),
      config_reload_success("rollback_receiver_config_last_reload_successful",
                            "Whether the last configuration reload succeeded (1) or kept the old config (0).",
                            MetricFamily::Type::gauge, {}),
      config_reloads("rollback_receiver_config_reloads_total", "Configuration reloads, by result.",
                     MetricFamily::Type::counter, {"result"}),
      notifications_sent("rollback_receiver_notifications_sent_total",
                         "Messages to notify: targets after rollback events, by event and result.",
                         MetricFamily::Type::counter, {"event", "result"}),
      audit_write_failures("rollback_receiver_audit_write_failures_total",
                           "Audit events the ledger could not store (each one is also logged).",
                           MetricFamily::Type::counter, {}),
      ledger_write_retries("rollback_receiver_ledger_write_retries_total",
                           "Failed ledger writes of a rollback's outcome, tried again until stored.",
                           MetricFamily::Type::counter, {}),
      rollback_outcomes("rollback_receiver_rollback_outcomes_total",
                        "Succeeded rollbacks whose alerts all resolved within confirm_window (effective) or "
                        "still fired when it ended (ineffective).",
                        MetricFamily::Type::counter, {"outcome"}) {
    build_info.set({ROLLBACK_RECEIVER_VERSION}, 1);
    pending_rollbacks.set({}, 0);
    rollbacks_queued.set({}, 0);
    config_reload_success.set({}, 1);
    audit_write_failures.add({}, 0);
    ledger_write_retries.add({}, 0);
    rollback_outcomes.add({"effective"}, 0);
    rollback_outcomes.add({"ineffective"}, 0);
    all_ = {&build_info,
            &notifications,
            &alerts,
            &audit_repeats,
            &deployments_recorded,
            &rollbacks,
            &rollback_duration,
            &rollback_attempts,
            &http_request_duration,
            &http_requests,
            &pending_rollbacks,
            &rollbacks_queued,
            &config_reload_success,
            &config_reloads,
            &notifications_sent,
            &audit_write_failures,
            &ledger_write_retries,
            &rollback_outcomes};
}

std::string Metrics::render() const {
    std::string out;
    for (const MetricFamily* family : all_)
        family->render(out);
    return out;
}

} // namespace rollback
