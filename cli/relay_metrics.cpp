#include "relay_metrics.hpp"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <string>

namespace ipcmesh::cli {
namespace {

struct Sample {
  std::string_view name;
  std::string_view labels;  // "{...}" or ""
  double value = 0;
};

// `name{labels} value [timestamp]`; nullopt for comments, blank and malformed lines.
std::optional<Sample> parse_sample(std::string_view line) {
  if (line.empty() || line.front() == '#') return std::nullopt;
  Sample sample;
  const auto name_end = line.find_first_of("{ ");
  if (name_end == std::string_view::npos || name_end == 0) return std::nullopt;
  sample.name = line.substr(0, name_end);
  std::string_view rest = line.substr(name_end);
  if (rest.front() == '{') {
    const auto close = rest.rfind('}');
    if (close == std::string_view::npos) return std::nullopt;
    sample.labels = rest.substr(0, close + 1);
    rest = rest.substr(close + 1);
  }
  const auto start = rest.find_first_not_of(' ');
  if (start == std::string_view::npos) return std::nullopt;
  const std::string number(rest.substr(start, rest.find(' ', start) - start));
  char* end = nullptr;
  sample.value = std::strtod(number.c_str(), &end);
  if (end != number.c_str() + number.size() || !std::isfinite(sample.value)) return std::nullopt;
  return sample;
}

std::uint64_t as_count(double value) {
  return value <= 0 ? 0 : static_cast<std::uint64_t>(std::llround(value));
}

void add_sample(RelayCounters& counters, const Sample& sample) {
  const std::uint64_t value = as_count(sample.value);
  if (sample.name == "ipcmesh_channel_published_messages_total") {
    counters.published_messages += value;
  } else if (sample.name == "ipcmesh_subscriber_delivered_messages_total") {
    counters.delivered_messages += value;
  } else if (sample.name == "ipcmesh_channel_rejected_full_total" ||
             sample.name == "ipcmesh_channel_dropped_oldest_total" ||
             sample.name == "ipcmesh_bridge_dropped_total") {
    counters.dropped_messages += value;
  } else if (sample.name == "ipcmesh_subscriber_lag_bytes") {
    counters.max_lag_bytes = std::max(counters.max_lag_bytes, value);
  } else if (sample.name == "ipcmesh_channel_subscribers") {
    counters.subscribers = static_cast<std::uint32_t>(value);
  } else {
    return;
  }
  counters.channel_found = true;
}

}  // namespace

std::optional<std::string> label_value(std::string_view labels, std::string_view label) {
  const std::string needle = std::string(label) + "=\"";
  std::size_t at = 0;
  while ((at = labels.find(needle, at)) != std::string_view::npos) {
    const bool starts_label = at > 0 && (labels[at - 1] == '{' || labels[at - 1] == ',');
    at += needle.size();
    if (!starts_label) continue;
    std::string value;
    for (; at < labels.size() && labels[at] != '"'; ++at) {
      if (labels[at] == '\\' && at + 1 < labels.size()) {
        ++at;
        value += labels[at] == 'n' ? '\n' : labels[at];
      } else {
        value += labels[at];
      }
    }
    return value;
  }
  return std::nullopt;
}

RelayCounters relay_counters_from_metrics(std::string_view metrics, std::string_view namespace_name,
                                          std::string_view name) {
  RelayCounters counters;
  std::size_t line_start = 0;
  while (line_start < metrics.size()) {
    std::size_t line_end = metrics.find('\n', line_start);
    if (line_end == std::string_view::npos) line_end = metrics.size();
    const auto sample = parse_sample(metrics.substr(line_start, line_end - line_start));
    line_start = line_end + 1;
    if (!sample) continue;
    if (sample->name == "ipcmesh_build_info" &&
        label_value(sample->labels, "component") == "relay") {
      counters.relay_version = label_value(sample->labels, "version").value_or("");
      continue;
    }
    if (label_value(sample->labels, "channel") != name ||
        label_value(sample->labels, "channel_namespace") != namespace_name) {
      continue;
    }
    add_sample(counters, *sample);
  }
  return counters;
}

}  // namespace ipcmesh::cli
