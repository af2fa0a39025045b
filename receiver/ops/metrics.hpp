// In-process metrics (counters, gauges, histograms) rendered in the Prometheus text format.
#pragma once

#include <map>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

namespace rollback {

// A family of one metric type with fixed label names; series are created on first use.
class MetricFamily {
  public:
    enum class Type { counter, gauge, histogram };
    MetricFamily(std::string name, std::string help, Type type, std::vector<std::string> label_names,
                 std::vector<double> buckets = {});

    void add(const std::vector<std::string>& label_values, double amount = 1.0); // counter, gauge
    void set(const std::vector<std::string>& label_values, double value);        // gauge
    void observe(const std::vector<std::string>& label_values, double value);    // histogram
    double value(const std::vector<std::string>& label_values) const; // counter/gauge; histogram: count
    void render(std::string& out) const;

  private:
    struct Series {
        double value = 0;                  // counter, gauge; histogram: sum
        std::vector<double> bucket_counts; // histogram, cumulative at render time
        double count = 0;
    };
    std::string name_;
    std::string help_;
    Type type_;
    std::vector<std::string> label_names_;
    std::vector<double> buckets_;
    mutable std::mutex mutex_;
    std::map<std::vector<std::string>, Series> series_;
};

// The receiver's metrics, all prefixed rollback_receiver_.
class Metrics {
  public:
    Metrics();
    MetricFamily build_info;
    MetricFamily notifications;         // {outcome}
    MetricFamily alerts;                // {decision, reason}
    MetricFamily audit_repeats;         // {event, reason}: identical events not written again
    MetricFamily deployments_recorded;  // {outcome}
    MetricFamily rollbacks;             // {service, result}
    MetricFamily rollback_duration;     // {service}
    MetricFamily rollback_attempts;     // {service, result}
    MetricFamily http_request_duration; // {handler}
    MetricFamily http_requests;         // {handler, code}
    MetricFamily pending_rollbacks;     // gauge, debounce timers running
    MetricFamily rollbacks_queued;      // gauge, claimed rollbacks waiting for a free worker
    MetricFamily config_reload_success; // gauge 1/0
    MetricFamily config_reloads;        // {result}
    MetricFamily notifications_sent;    // {event, result}: notify: messages, result success|failure|dropped
    MetricFamily audit_write_failures;  // audit events the ledger could not store (each also logged)
    MetricFamily ledger_write_retries;  // failed ledger writes of a rollback's outcome, tried again
    MetricFamily rollback_outcomes;     // {outcome}: effective|ineffective, after confirm_window

    std::string render() const;

  private:
    std::vector<const MetricFamily*> all_;
};

} // namespace rollback
