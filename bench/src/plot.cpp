// The fan-out chart (--plot-out): hand-written SVG 1.1 so that the bench needs no plotting
// library and the file renders anywhere docs/benchmarks.md is read. x is the number of
// subscribers on a log2 axis (1, 2, 4, 8 equally spaced), y the msgs/s each subscriber received
// on a log10 axis (the transports differ by 10-30x, which a linear axis would flatten into the
// floor), one polyline with point markers per transport that has at least one figure.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "ipcmesh/bench/bench.hpp"

namespace ipcmesh::bench {
namespace {

constexpr double kWidth = 800;
constexpr double kHeight = 460;
constexpr double kLeft = 90;             // room for the y labels
constexpr double kRight = kWidth - 250;  // the legend is to the right of the plot area
constexpr double kTop = 70;
constexpr double kBottom = kHeight - 60;
// Distinct on white and for the common colour-vision deficiencies (Okabe-Ito).
constexpr const char* kColours[] = {"#0072B2", "#D55E00", "#009E73", "#CC79A7",
                                    "#E69F00", "#56B4E9", "#000000", "#F0E442"};

std::string escape(const std::string& text) {
  std::string out;
  for (const char c : text) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

std::string number_text(double value) {
  char text[32];
  std::snprintf(text, sizeof text, "%.1f", value);
  return text;
}

// "100 k", "2 M": tick labels of a msgs/s axis.
std::string rate_label(double value) {
  char text[32];
  if (value >= 1e6) {
    std::snprintf(text, sizeof text, "%g M", value / 1e6);
  } else if (value >= 1e3) {
    std::snprintf(text, sizeof text, "%g k", value / 1e3);
  } else {
    std::snprintf(text, sizeof text, "%g", value);
  }
  return text;
}

// The 1, 2 or 5 times a power of ten nearest to `value` from below (or from above).
double nice_tick(double value, bool above) {
  const double decade = std::pow(10.0, std::floor(std::log10(value)));
  if (!above) {
    for (const double m : {5.0, 2.0, 1.0}) {
      if (decade * m <= value) return decade * m;
    }
    return decade;
  }
  for (const double m : {1.0, 2.0, 5.0, 10.0}) {
    if (decade * m >= value) return decade * m;
  }
  return decade * 10;
}

struct Series {
  std::string transport;
  std::vector<std::pair<double, double>> points;  // (subscribers, per-subscriber msgs/s)
};

std::vector<Series> fanout_series(const nlohmann::json& report) {
  std::vector<Series> series;
  if (!report.contains("fanout")) return series;
  for (const auto& row : report["fanout"]["rows"]) {
    if (row.value("kind", "") != "fan-out" || !row["per_subscriber_msgs_per_s"].is_number()) {
      continue;
    }
    const std::string name = row["transport"];
    auto it = std::find_if(series.begin(), series.end(),
                           [&](const Series& s) { return s.transport == name; });
    if (it == series.end()) it = series.insert(series.end(), Series{name, {}});
    const double rate = row["per_subscriber_msgs_per_s"];
    if (rate > 0) it->points.emplace_back(row["subscribers"].get<double>(), rate);
  }
  std::erase_if(series, [](const Series& s) { return s.points.empty(); });
  for (auto& s : series) std::sort(s.points.begin(), s.points.end());
  return series;
}

}  // namespace

std::string render_fanout_svg(const nlohmann::json& report) {
  const std::vector<Series> series = fanout_series(report);
  std::vector<double> counts;
  double low = 0, high = 0;
  for (const auto& s : series) {
    for (const auto& [n, rate] : s.points) {
      counts.push_back(n);
      low = low == 0 ? rate : std::min(low, rate);
      high = std::max(high, rate);
    }
  }
  std::sort(counts.begin(), counts.end());
  counts.erase(std::unique(counts.begin(), counts.end()), counts.end());

  std::ostringstream svg;
  svg << "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
      << "<svg xmlns=\"http://www.w3.org/2000/svg\" version=\"1.1\" width=\"" << kWidth
      << "\" height=\"" << kHeight << "\" viewBox=\"0 0 " << kWidth << " " << kHeight
      << "\" font-family=\"sans-serif\" font-size=\"12\">\n"
      << "<rect x=\"0\" y=\"0\" width=\"" << kWidth << "\" height=\"" << kHeight
      << "\" fill=\"#ffffff\"/>\n";
  const std::string size =
      report.contains("fanout") ? std::to_string(report["fanout"].value("message_size", 64)) : "64";
  svg << "<text x=\"" << kLeft << "\" y=\"28\" font-size=\"16\" font-weight=\"bold\">Fan-out, "
      << size << " B messages: msgs/s each subscriber receives</text>\n";
  const auto& machine = report.value("machine", nlohmann::json::object());
  std::string subtitle = report.value("date", std::string("?")) + ", " +
                         machine.value("cpu_model", std::string("?")) + ", " +
                         std::to_string(machine.value("nproc", 0)) + " cores";
  if (report.contains("fanout") && report["fanout"].contains("cores")) {
    // The reader must know when 1 + N processes shared fewer cores: that shapes the curve.
    subtitle += "; 1 producer + N subscribers pinned round-robin to " +
                std::to_string(report["fanout"]["cores"].size()) + " of them";
  }
  svg << "<text x=\"" << kLeft << "\" y=\"48\" fill=\"#444444\">" << escape(subtitle)
      << "</text>\n";

  if (series.empty()) {
    svg << "<text x=\"" << (kLeft + kRight) / 2 << "\" y=\"" << (kTop + kBottom) / 2
        << "\" text-anchor=\"middle\">no fan-out figures in this report</text>\n</svg>\n";
    return svg.str();
  }

  // From the 1-2-5 tick below the lowest figure to the one above the highest, with some
  // headroom, so that both ends of the axis are labelled and no point sits on the frame.
  const double y_low = nice_tick(low / 1.1, false);
  const double y_high = nice_tick(high * 1.1, true);
  const auto y_of = [&](double rate) {
    return kBottom - (std::log10(rate) - std::log10(y_low)) /
                         (std::log10(y_high) - std::log10(y_low)) * (kBottom - kTop);
  };
  const auto x_of = [&](double n) {
    if (counts.size() == 1) return (kLeft + kRight) / 2;
    return kLeft + 20 +
           (std::log2(n) - std::log2(counts.front())) /
               (std::log2(counts.back()) - std::log2(counts.front())) * (kRight - kLeft - 40);
  };

  // Gridlines at 1, 2 and 5 of each decade in range (round numbers); 2 and 5 unlabelled when
  // there are many decades.
  const bool label_minor = std::log10(y_high / y_low) <= 3.2;
  for (double decade = std::pow(10.0, std::floor(std::log10(y_low))); decade <= y_high;
       decade *= 10) {
    for (const double m : {1.0, 2.0, 5.0}) {
      const double value = decade * m;
      if (value < y_low * 0.999 || value > y_high * 1.001) continue;
      const bool major = m == 1.0;
      const std::string y = number_text(y_of(value));
      svg << "<line x1=\"" << kLeft << "\" y1=\"" << y << "\" x2=\"" << kRight << "\" y2=\"" << y
          << "\" stroke=\"" << (major ? "#bbbbbb" : "#e4e4e4") << "\" stroke-width=\"1\"/>\n";
      if (major || label_minor) {
        svg << "<text x=\"" << kLeft - 8 << "\" y=\"" << number_text(y_of(value) + 4)
            << "\" text-anchor=\"end\">" << rate_label(value) << "</text>\n";
      }
    }
  }
  for (const double n : counts) {
    const std::string x = number_text(x_of(n));
    svg << "<line x1=\"" << x << "\" y1=\"" << kTop << "\" x2=\"" << x << "\" y2=\"" << kBottom
        << "\" stroke=\"#e4e4e4\" stroke-width=\"1\"/>\n"
        << "<text x=\"" << x << "\" y=\"" << kBottom + 18 << "\" text-anchor=\"middle\">"
        << static_cast<int>(n) << "</text>\n";
  }
  svg << "<rect x=\"" << kLeft << "\" y=\"" << kTop << "\" width=\"" << kRight - kLeft
      << "\" height=\"" << kBottom - kTop << "\" fill=\"none\" stroke=\"#444444\"/>\n";
  svg << "<text x=\"" << (kLeft + kRight) / 2 << "\" y=\"" << kHeight - 18
      << "\" text-anchor=\"middle\">subscribers (one producer, each subscriber receives every "
         "message)</text>\n";
  svg << "<text transform=\"translate(22 " << (kTop + kBottom) / 2
      << ") rotate(-90)\" text-anchor=\"middle\">msgs/s per subscriber (log scale)</text>\n";

  std::size_t index = 0;
  for (const auto& s : series) {
    const char* colour = kColours[index % std::size(kColours)];
    svg << "<polyline fill=\"none\" stroke=\"" << colour << "\" stroke-width=\"2\" points=\"";
    for (std::size_t i = 0; i < s.points.size(); ++i) {
      svg << (i ? " " : "") << number_text(x_of(s.points[i].first)) << ","
          << number_text(y_of(s.points[i].second));
    }
    svg << "\"/>\n";
    for (const auto& [n, rate] : s.points) {
      svg << "<circle cx=\"" << number_text(x_of(n)) << "\" cy=\"" << number_text(y_of(rate))
          << "\" r=\"3.5\" fill=\"" << colour << "\"/>\n";
    }
    const double legend_y = kTop + 10 + 22 * static_cast<double>(index);
    svg << "<line x1=\"" << kRight + 16 << "\" y1=\"" << legend_y << "\" x2=\"" << kRight + 40
        << "\" y2=\"" << legend_y << "\" stroke=\"" << colour << "\" stroke-width=\"2\"/>\n"
        << "<text x=\"" << kRight + 46 << "\" y=\"" << legend_y + 4 << "\">" << escape(s.transport)
        << (s.points.size() == 1 ? " (1 sub only)" : "") << "</text>\n";
    ++index;
  }
  svg << "</svg>\n";
  return svg.str();
}

}  // namespace ipcmesh::bench
