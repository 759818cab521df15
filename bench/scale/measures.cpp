#include "measures.hpp"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <sstream>

namespace ipcmesh::bench::scale {

std::optional<double> percentile(std::vector<double> samples, double p) {
  if (samples.empty()) return std::nullopt;
  std::sort(samples.begin(), samples.end());
  const double rank = std::ceil(std::clamp(p, 0.0, 100.0) / 100.0 * samples.size());
  const std::size_t index = rank < 1 ? 0 : static_cast<std::size_t>(rank) - 1;
  return samples[std::min(index, samples.size() - 1)];
}

LatencySummary summarize(const std::vector<double>& samples_ms) {
  LatencySummary summary;
  summary.count = samples_ms.size();
  if (samples_ms.empty()) return summary;
  summary.p50_ms = *percentile(samples_ms, 50);
  summary.p99_ms = *percentile(samples_ms, 99);
  summary.max_ms = *std::max_element(samples_ms.begin(), samples_ms.end());
  return summary;
}

std::optional<std::uint64_t> cpu_ticks_of_stat(std::string_view stat_text) {
  const auto close = stat_text.rfind(')');
  if (close == std::string_view::npos) return std::nullopt;
  // After "pid (comm)" come: state(3) ppid(4) pgrp(5) session(6) tty_nr(7) tpgid(8) flags(9)
  // minflt(10) cminflt(11) majflt(12) cmajflt(13) utime(14) stime(15) (proc(5)).
  std::istringstream in{std::string(stat_text.substr(close + 1))};
  std::string field;
  std::uint64_t utime = 0;
  std::uint64_t stime = 0;
  for (int number = 3; number <= 15; ++number) {
    if (!(in >> field)) return std::nullopt;
    if (number == 14 || number == 15) {
      char* end = nullptr;
      const unsigned long long value = std::strtoull(field.c_str(), &end, 10);
      if (end == field.c_str() || *end != '\0') return std::nullopt;
      (number == 14 ? utime : stime) = value;
    }
  }
  return utime + stime;
}

std::optional<std::uint64_t> status_kib(std::string_view status_text, std::string_view field) {
  std::size_t start = 0;
  while (start < status_text.size()) {
    std::size_t end = status_text.find('\n', start);
    if (end == std::string_view::npos) end = status_text.size();
    const std::string_view line = status_text.substr(start, end - start);
    if (line.size() > field.size() && line.substr(0, field.size()) == field &&
        line[field.size()] == ':') {
      const std::string value(line.substr(field.size() + 1));
      char* parsed_end = nullptr;
      const unsigned long long kib = std::strtoull(value.c_str(), &parsed_end, 10);
      if (parsed_end == value.c_str()) return std::nullopt;
      return kib;
    }
    start = end + 1;
  }
  return std::nullopt;
}

std::map<std::string, std::string> parse_labels(std::string_view text) {
  std::map<std::string, std::string> labels;
  std::size_t i = 0;
  while (i < text.size()) {
    while (i < text.size() && (text[i] == ',' || text[i] == ' ')) ++i;
    const std::size_t equals = text.find('=', i);
    if (equals == std::string_view::npos) break;
    std::string key(text.substr(i, equals - i));
    i = equals + 1;
    if (i >= text.size() || text[i] != '"') break;
    ++i;
    std::string value;
    while (i < text.size() && text[i] != '"') {
      if (text[i] == '\\' && i + 1 < text.size()) {
        ++i;
        value += text[i] == 'n' ? '\n' : text[i];
      } else {
        value += text[i];
      }
      ++i;
    }
    ++i;  // the closing quote
    labels.emplace(std::move(key), std::move(value));
  }
  return labels;
}

namespace {

bool value_accepted(const std::string& wanted, const std::string& actual) {
  std::size_t start = 0;
  while (start <= wanted.size()) {
    std::size_t bar = wanted.find('|', start);
    if (bar == std::string::npos) bar = wanted.size();
    if (wanted.compare(start, bar - start, actual) == 0) return true;
    start = bar + 1;
  }
  return false;
}

}  // namespace

std::optional<double> sum_metric(std::string_view text, std::string_view name,
                                 const LabelFilter& filter) {
  std::optional<double> sum;
  std::size_t start = 0;
  while (start < text.size()) {
    std::size_t end = text.find('\n', start);
    if (end == std::string_view::npos) end = text.size();
    const std::string_view line = text.substr(start, end - start);
    start = end + 1;
    if (line.size() <= name.size() || line.substr(0, name.size()) != name) continue;
    const char next = line[name.size()];
    if (next != '{' && next != ' ') continue;  // another metric sharing the prefix
    std::size_t value_at = name.size();
    std::map<std::string, std::string> labels;
    if (next == '{') {
      const std::size_t close = line.rfind('}');
      if (close == std::string_view::npos) continue;
      labels = parse_labels(line.substr(name.size() + 1, close - name.size() - 1));
      value_at = close + 1;
    }
    bool accepted = true;
    for (const auto& [key, wanted] : filter) {
      const auto it = labels.find(key);
      if (it == labels.end() || !value_accepted(wanted, it->second)) {
        accepted = false;
        break;
      }
    }
    if (!accepted) continue;
    const std::string value_text(line.substr(value_at));
    char* parsed_end = nullptr;
    const double value = std::strtod(value_text.c_str(), &parsed_end);
    if (parsed_end == value_text.c_str()) continue;
    sum = sum.value_or(0) + value;
  }
  return sum;
}

}  // namespace ipcmesh::bench::scale
