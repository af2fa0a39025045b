// The deployment page's chart of the alert's expression: the answer's series and the markers, drawn as SVG.
#pragma once

#include "common/time_util.hpp"

#include <cstddef>
#include <map>
#include <string>
#include <utility>
#include <vector>

namespace rollback {

inline constexpr std::size_t kMaxChartExpressionBytes = 4 * 1024;  // a longer g0.expr is not charted
inline constexpr std::size_t kMaxChartSeries = 5;                  // drawn; the legend counts the rest
inline constexpr long long kMaxChartPoints = 300;                  // per series, about
inline constexpr Duration kChartMargin = std::chrono::minutes(10); // before the deployment, after the end

struct ChartSeries {
    std::string name;                                 // for the legend (text)
    std::vector<std::pair<TimePoint, double>> points; // NaN and +-Inf break the line
};
struct ChartMarker {
    std::string label; // text
    TimePoint time{};
};
struct ChartData {
    std::string expression; // text, shown under the chart
    TimePoint start{};
    TimePoint end{};
    Duration step{};
    std::vector<ChartSeries> series; // at most kMaxChartSeries are drawn
    std::size_t total_series = 0;    // how many the answer held (more than series.size(): some left out)
    std::vector<ChartMarker> markers;
};

// A <figure> with an inline <svg> (no script, nothing loaded): a polyline per series, the y axis' minimum
// and maximum, the x axis' UTC times, a dashed vertical line with its label per marker inside the window,
// and the legend (series names escaped). Without a finite sample it says so instead of drawing lines.
std::string render_chart(const ChartData& chart);

// A series' name for the legend, as Prometheus writes it: up{job="checkout"}; "{}" without labels.
std::string chart_series_name(const std::map<std::string, std::string>& metric);

// The step of a range query from `start` to `end`: whole seconds, at least 1 s, so that it gives at most
// about kMaxChartPoints points.
Duration chart_step(TimePoint start, TimePoint end);

} // namespace rollback
