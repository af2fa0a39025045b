// rollbackctl's tables: columns measured in characters, rows kept on one line, ages and Go durations.
#include "ctl/tables.hpp"

#include <algorithm>
#include <cstdio>

namespace rollback {
namespace {

// Number of characters on a terminal: UTF-8 continuation bytes do not count.
std::size_t display_width(std::string_view text) {
    return static_cast<std::size_t>(std::count_if(
        text.begin(), text.end(), [](char c) { return (static_cast<unsigned char>(c) & 0xC0) != 0x80; }));
}

std::string seconds_text(TimePoint time) {
    std::string text = format_rfc3339_ms(time); // 2026-11-26T12:30:47.407Z
    return text.size() == 24 ? text.substr(0, 19) + "Z" : text;
}

} // namespace

std::string one_line(std::string text) {
    for (char& c : text)
        if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) c = ' ';
    return text;
}

std::string or_dash(const std::string& text) {
    return text.empty() ? "-" : text;
}

std::string versions_text(const std::string& version, const std::string& previous) {
    if (version.empty() && previous.empty()) return "-";
    if (previous.empty()) return version;
    return (version.empty() ? "?" : version) + " -> " + previous;
}

std::string format_age(Duration age) {
    const long long seconds = std::max<long long>(0, age.count() / 1000);
    if (seconds < 60) return std::to_string(seconds) + "s";
    if (seconds < 3600) return std::to_string(seconds / 60) + "m";
    if (seconds < 48 * 3600) return std::to_string(seconds / 3600) + "h";
    return std::to_string(seconds / 86400) + "d";
}

std::string format_go_duration(Duration duration) {
    long long ms = duration.count();
    if (ms == 0) return "0s";
    std::string out;
    if (ms < 0) {
        out = "-";
        ms = -ms;
    }
    if (ms < 1000) return out + std::to_string(ms) + "ms";
    const long long hours = ms / 3'600'000;
    const long long minutes = ms / 60'000 % 60;
    const long long seconds = ms / 1000 % 60;
    const long long millis = ms % 1000;
    if (hours > 0) out += std::to_string(hours) + "h";
    if (hours > 0 || minutes > 0) out += std::to_string(minutes) + "m";
    out += std::to_string(seconds);
    if (millis > 0) {
        char fraction[8];
        std::snprintf(fraction, sizeof fraction, ".%03lld", millis);
        std::string text = fraction;
        while (text.back() == '0')
            text.pop_back();
        out += text;
    }
    return out + "s";
}

std::string format_table(const std::vector<std::string>& header,
                         const std::vector<std::vector<std::string>>& rows) {
    std::vector<std::size_t> widths(header.size(), 0);
    auto measure = [&](const std::vector<std::string>& row) {
        for (std::size_t i = 0; i < row.size() && i < widths.size(); ++i)
            widths[i] = std::max(widths[i], display_width(one_line(row[i])));
    };
    measure(header);
    for (const auto& row : rows)
        measure(row);
    std::string out;
    auto write = [&](const std::vector<std::string>& row) {
        std::string line;
        for (std::size_t i = 0; i < widths.size(); ++i) {
            const std::string cell = i < row.size() ? one_line(row[i]) : std::string();
            line += cell;
            if (i + 1 < widths.size()) line += std::string(widths[i] - display_width(cell) + 2, ' ');
        }
        while (!line.empty() && line.back() == ' ')
            line.pop_back();
        out += line + "\n";
    };
    if (!header.empty()) write(header);
    for (const auto& row : rows)
        write(row);
    return out;
}

std::map<std::string, std::string> rollback_outcomes(const std::vector<AuditEvent>& events) {
    std::map<std::string, std::string> outcomes;
    for (const AuditEvent& event : events) {
        if (event.deployment_id.empty()) continue;
        if (event.event == "rollback_effective") outcomes.emplace(event.deployment_id, "effective");
        if (event.event == "rollback_ineffective") outcomes.emplace(event.deployment_id, "ineffective");
    }
    return outcomes;
}

std::string format_deployments_table(const std::vector<DeploymentListing>& deployments,
                                     const std::vector<PauseListing>& paused, TimePoint now,
                                     const std::map<std::string, std::string>& outcomes) {
    auto is_paused = [&](const std::string& service) {
        return std::any_of(paused.begin(), paused.end(),
                           [&](const PauseListing& p) { return p.paused && p.service == service; });
    };
    std::vector<std::vector<std::string>> rows;
    for (const auto& d : deployments) {
        std::string state = or_dash(d.state);
        if (d.state == "watching" && is_paused(d.service)) state += " (paused)";
        if (d.kind == "rollback")
            state += " (rollback" + (d.rollback_of.empty() ? "" : " of " + d.rollback_of) + ")";
        if (const auto outcome = outcomes.find(d.id); outcome != outcomes.end() && d.state == "rolled_back")
            state += " (" + outcome->second + ")";
        rows.push_back({d.id, d.service, or_dash(d.environment), or_dash(d.version),
                        or_dash(d.previous_version),
                        format_age(std::chrono::duration_cast<Duration>(now - d.deployed_at)), state});
    }
    std::string out =
        deployments.empty()
            ? std::string()
            : format_table({"ID", "SERVICE", "ENV", "VERSION", "PREVIOUS", "AGE", "STATE"}, rows);
    for (const auto& p : paused) {
        if (!p.paused) continue;
        out += one_line("paused: " + p.service + " \u2014 " +
                        (p.reason.empty() ? "(no reason given)" : p.reason) + " (" +
                        (p.until.empty() ? "until resumed" : "until " + p.until) + ")") +
               "\n";
    }
    return out;
}

std::string format_audit_table(const std::vector<AuditEvent>& events, bool with_header) {
    std::vector<std::vector<std::string>> rows;
    for (const auto& e : events) {
        std::string summary = e.alertname;
        if (const std::string alert = alert_summary(e); !alert.empty())
            summary += (summary.empty() ? "" : ": ") + alert;
        if (const std::string compare = detail_text(e, "compare_url"); !compare.empty())
            summary += (summary.empty() ? "" : " ") + std::string("(changes: ") + compare + ")";
        rows.push_back({seconds_text(e.time), or_dash(e.event),
                        or_dash(e.service) + (e.environment.empty() ? "" : "/" + e.environment),
                        or_dash(e.deployment_id), versions_text(e.version, e.previous_version),
                        or_dash(e.reason), or_dash(summary)});
    }
    const std::vector<std::string> header{"TIME",     "EVENT",  "SERVICE", "DEPLOYMENT",
                                          "VERSIONS", "REASON", "SUMMARY"};
    if (with_header) return format_table(header, rows);
    // Without the header line, still align as if it were there, so batches of --follow line up better.
    std::string table = format_table(header, rows);
    return table.substr(table.find('\n') + 1);
}

} // namespace rollback
