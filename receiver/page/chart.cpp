// The deployment page's chart as pure string work: series and markers in, an inline SVG figure out.
#include "page/chart.hpp"

#include "common/text.hpp"
#include "page/page.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdio>

namespace rollback {
namespace {

constexpr double kWidth = 720, kHeight = 240;
constexpr double kLeft = 64, kRight = kWidth - 12, kTop = 12, kBottom = kHeight - 28;
constexpr std::array<const char*, kMaxChartSeries> kColors = {"#1f77b4", "#d62728", "#2ca02c", "#9467bd",
                                                              "#ff7f0e"};
constexpr std::size_t kMaxLegendName = 300;

std::string number(double value) {
    char text[32];
    std::snprintf(text, sizeof text, "%.1f", value);
    return text;
}

double seconds_of(TimePoint time) {
    return std::chrono::duration<double>(time.time_since_epoch()).count();
}

// At most `limit` bytes of `text`, cut before a UTF-8 sequence, with "…" when cut.
std::string shortened(const std::string& text, std::size_t limit) {
    if (text.size() <= limit) return text;
    std::size_t cut = limit;
    while (cut > 0 && (static_cast<unsigned char>(text[cut]) & 0xC0) == 0x80)
        --cut;
    return text.substr(0, cut) + "…";
}

} // namespace

std::string chart_series_name(const std::map<std::string, std::string>& metric) {
    std::string name;
    std::string labels;
    for (const auto& [key, value] : metric) {
        if (key == "__name__") {
            name = value;
            continue;
        }
        std::string quoted;
        for (const char c : value) {
            if (c == '"' || c == '\\') quoted += '\\';
            quoted += c == '\n' ? ' ' : c;
        }
        labels += (labels.empty() ? "" : ", ") + key + "=\"" + quoted + "\"";
    }
    if (!name.empty() && labels.empty()) return name;
    return name + "{" + labels + "}";
}

Duration chart_step(TimePoint start, TimePoint end) {
    const long long range = std::max<long long>(
        0, std::chrono::duration_cast<std::chrono::seconds>(end - start + std::chrono::milliseconds(999))
               .count());
    const long long step = std::max<long long>(1, (range + kMaxChartPoints - 1) / kMaxChartPoints);
    return std::chrono::seconds(step);
}

std::string render_chart(const ChartData& chart) {
    const double from = seconds_of(chart.start);
    const double span = std::max(seconds_of(chart.end) - from, 1.0);
    auto x_of = [&](TimePoint time) { return kLeft + (seconds_of(time) - from) / span * (kRight - kLeft); };
    const std::size_t drawn = std::min(chart.series.size(), kMaxChartSeries);

    bool any = false;
    double low = 0, high = 0;
    for (std::size_t i = 0; i < drawn; ++i)
        for (const auto& [time, value] : chart.series[i].points) {
            if (!std::isfinite(value) || time < chart.start || time > chart.end) continue;
            low = any ? std::min(low, value) : value;
            high = any ? std::max(high, value) : value;
            any = true;
        }
    if (any && high == low) {
        const double pad = low == 0 ? 1 : std::abs(low) * 0.1;
        low -= pad;
        high += pad;
    }
    auto y_of = [&](double value) { return kBottom - (value - low) / (high - low) * (kBottom - kTop); };

    std::string svg =
        "<figure id=\"chart\" style=\"margin:0\">\n<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 " +
        number(kWidth) + " " + number(kHeight) +
        "\" width=\"100%\" style=\"max-width:720px;height:auto\" role=\"img\" aria-label=\"" +
        html_escape("the alert's expression over time: " + shortened(chart.expression, 200)) +
        "\" font-family=\"sans-serif\" font-size=\"10\">\n";
    svg += "<rect x=\"" + number(kLeft) + "\" y=\"" + number(kTop) + "\" width=\"" + number(kRight - kLeft) +
           "\" height=\"" + number(kBottom - kTop) + "\" fill=\"none\" stroke=\"#999\"/>\n";
    // The x axis: five UTC times (HH:MM:SS), the first and last at the window's ends.
    for (int i = 0; i <= 4; ++i) {
        const double x = kLeft + (kRight - kLeft) * i / 4;
        const auto at = chart.start + std::chrono::duration_cast<TimePoint::duration>(
                                          std::chrono::duration<double>(span * i / 4));
        const std::string anchor = i == 0 ? "start" : i == 4 ? "end" : "middle";
        svg += "<line class=\"tick\" x1=\"" + number(x) + "\" y1=\"" + number(kBottom) + "\" x2=\"" +
               number(x) + "\" y2=\"" + number(kBottom + 4) +
               "\" stroke=\"#999\"/><text class=\"x-label\" x=\"" + number(x) + "\" y=\"" +
               number(kBottom + 16) + "\" text-anchor=\"" + anchor + "\">" +
               format_rfc3339_ms(at).substr(11, 8) + "</text>\n";
    }
    if (any) {
        svg += "<text class=\"y-max\" x=\"" + number(kLeft - 4) + "\" y=\"" + number(kTop + 8) +
               "\" text-anchor=\"end\">" + html_escape(format_number_short(high)) + "</text>\n";
        svg += "<text class=\"y-min\" x=\"" + number(kLeft - 4) + "\" y=\"" + number(kBottom) +
               "\" text-anchor=\"end\">" + html_escape(format_number_short(low)) + "</text>\n";
        for (std::size_t i = 0; i < drawn; ++i) {
            // One polyline per run of finite samples; a lone sample is a dot.
            std::vector<std::vector<std::pair<double, double>>> runs(1);
            for (const auto& [time, value] : chart.series[i].points) {
                if (!std::isfinite(value) || time < chart.start || time > chart.end) {
                    if (!runs.back().empty()) runs.emplace_back();
                    continue;
                }
                runs.back().emplace_back(x_of(time), y_of(value));
            }
            for (const auto& run : runs) {
                if (run.size() == 1) {
                    svg += "<circle cx=\"" + number(run[0].first) + "\" cy=\"" + number(run[0].second) +
                           "\" r=\"2\" fill=\"" + kColors[i] + "\"/>\n";
                } else if (run.size() > 1) {
                    svg += "<polyline class=\"series\" data-series=\"" + std::to_string(i) +
                           "\" fill=\"none\" stroke=\"" + kColors[i] + "\" stroke-width=\"1.5\" points=\"";
                    for (std::size_t j = 0; j < run.size(); ++j)
                        svg += (j ? " " : "") + number(run[j].first) + "," + number(run[j].second);
                    svg += "\"/>\n";
                }
            }
        }
    } else {
        svg +=
            "<text class=\"no-data\" x=\"" + number((kLeft + kRight) / 2) + "\" y=\"" +
            number((kTop + kBottom) / 2) +
            "\" text-anchor=\"middle\">Prometheus has no samples of this expression in this window</text>\n";
    }
    // The markers, their labels one below the other so that close ones stay readable.
    std::size_t shown = 0;
    for (const ChartMarker& marker : chart.markers) {
        if (marker.time < chart.start || marker.time > chart.end) continue;
        const double x = x_of(marker.time);
        const bool right_side = x > kRight - 120;
        svg += "<g class=\"marker\"><line x1=\"" + number(x) + "\" y1=\"" + number(kTop) + "\" x2=\"" +
               number(x) + "\" y2=\"" + number(kBottom) +
               "\" stroke=\"#555\" stroke-dasharray=\"4 3\"/><text x=\"" +
               number(right_side ? x - 3 : x + 3) + "\" y=\"" +
               number(kTop + 12 + 12 * static_cast<double>(shown)) + "\" text-anchor=\"" +
               (right_side ? "end" : "start") + "\" fill=\"#333\">" + html_escape(marker.label) + " " +
               format_rfc3339_ms(marker.time).substr(11, 8) + "</text></g>\n";
        ++shown;
    }
    svg += "</svg>\n<figcaption><code>" + html_escape(chart.expression) + "</code>, " +
           format_rfc3339_ms(chart.start) + " to " + format_rfc3339_ms(chart.end) + " (times UTC), step " +
           format_duration(chart.step) + "</figcaption>\n";
    if (drawn > 0) {
        svg += "<ul class=\"legend\" style=\"list-style:none;padding-left:0\">\n";
        for (std::size_t i = 0; i < drawn; ++i)
            svg += "<li><span style=\"color:" + std::string(kColors[i]) + "\">&#9632;</span> <code>" +
                   html_escape(shortened(chart.series[i].name, kMaxLegendName)) + "</code></li>\n";
        const std::size_t total = std::max(chart.total_series, chart.series.size());
        if (total > drawn)
            svg += "<li>and " + std::to_string(total - drawn) + " more series, not drawn</li>\n";
        svg += "</ul>\n";
    }
    svg += "</figure>\n";
    return svg;
}

} // namespace rollback
