// The pure arithmetic and parsing the scale bench relies on, apart from any cluster so the unit
// tier can check it: latency percentiles, /proc/<pid>/stat and /proc/<pid>/status, and the
// Prometheus text format the API server's and the operator's /metrics answer with.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace ipcmesh::bench::scale {

// Nearest-rank percentile (p in [0, 100]) of unsorted samples; nullopt when there are none. The
// nearest rank, not an interpolation: a p99 of 200 samples is the 198th smallest, a real sample.
std::optional<double> percentile(std::vector<double> samples, double p);

struct LatencySummary {
  std::size_t count = 0;
  double p50_ms = 0;
  double p99_ms = 0;
  double max_ms = 0;
};
LatencySummary summarize(const std::vector<double>& samples_ms);

// utime + stime of /proc/<pid>/stat's text, in clock ticks. The second field (comm) may hold
// spaces and parentheses, so fields are counted from the last ')'. nullopt when malformed.
std::optional<std::uint64_t> cpu_ticks_of_stat(std::string_view stat_text);

// A "Name:   123 kB" line of /proc/<pid>/status (VmRSS, VmHWM) in KiB; nullopt when absent.
std::optional<std::uint64_t> status_kib(std::string_view status_text, std::string_view field);

// The sum of every sample of metric `name` (exact name: "x_total" does not match "x_total_foo")
// whose labels include all of `labels` (label -> value; a value "A|B" accepts either). nullopt
// when no sample matched, so "absent" and "zero" stay apart.
using LabelFilter = std::map<std::string, std::string>;
std::optional<double> sum_metric(std::string_view metrics_text, std::string_view name,
                                 const LabelFilter& labels = {});

// One exposition line's labels: {verb="PATCH",resource="ipcchannels"} -> map. Escapes (\" \\ \n)
// in values are decoded.
std::map<std::string, std::string> parse_labels(std::string_view braces_content);

}  // namespace ipcmesh::bench::scale
