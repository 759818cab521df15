#include "ipcmesh/process_metrics.hpp"

#include <prometheus/gauge.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

namespace ipcmesh::process_metrics {
namespace {

std::uint64_t status_kib(const std::string& status, const std::string& key) {
  const auto at = status.find("\n" + key + ":");
  if (at == std::string::npos) {
    return 0;
  }
  std::istringstream in(status.substr(at + key.size() + 2));
  std::uint64_t kib = 0;
  in >> kib;
  return kib * 1024;
}

double boot_time_seconds() {
  std::ifstream in("/proc/stat");
  std::string key;
  while (in >> key) {
    if (key == "btime") {
      double value = 0;
      in >> value;
      return value;
    }
  }
  return 0.0;
}

void read_status(ProcessStats& stats) {
  std::ifstream in("/proc/self/status");
  const std::string status = "\n" + std::string(std::istreambuf_iterator<char>(in), {});
  stats.resident_bytes = status_kib(status, "VmRSS");
  stats.resident_shmem_bytes = status_kib(status, "RssShmem");
}

void read_stat(ProcessStats& stats) {
  std::ifstream in("/proc/self/stat");
  const std::string line(std::istreambuf_iterator<char>(in), {});
  // Fields after the command name (which may contain spaces) start after the last ')'.
  const auto close = line.rfind(')');
  if (close == std::string::npos) return;
  std::istringstream fields(line.substr(close + 2));
  std::string field;
  unsigned long long utime = 0;
  unsigned long long stime = 0;
  unsigned long long start = 0;
  for (int index = 3; fields >> field; ++index) {
    if (index == 14) utime = std::stoull(field);
    if (index == 15) stime = std::stoull(field);
    if (index == 22) {
      start = std::stoull(field);
      break;
    }
  }
  const double ticks = static_cast<double>(::sysconf(_SC_CLK_TCK));
  stats.cpu_seconds = static_cast<double>(utime + stime) / ticks;
  stats.start_time_seconds = boot_time_seconds() + static_cast<double>(start) / ticks;
}

std::uint64_t count_open_fds() {
  std::error_code error;
  std::filesystem::directory_iterator entries("/proc/self/fd", error);
  if (error) return 0;
  std::uint64_t open = 0;
  for (const auto& entry : entries) {
    (void)entry;
    ++open;
  }
  return open > 0 ? open - 1 : 0;  // not the directory stream itself
}

prometheus::MetricFamily one_sample(const std::string& name, const std::string& help,
                                    prometheus::MetricType type, double value) {
  prometheus::ClientMetric metric;
  if (type == prometheus::MetricType::Counter) {
    metric.counter.value = value;
  } else {
    metric.gauge.value = value;
  }
  return prometheus::MetricFamily{name, help, type, {std::move(metric)}};
}

}  // namespace

ProcessStats read_process_stats() {
  ProcessStats stats;
  read_status(stats);
  read_stat(stats);
  stats.open_fds = count_open_fds();
  return stats;
}

std::vector<prometheus::MetricFamily> ProcessCollector::Collect() const {
  const ProcessStats stats = read_process_stats();
  constexpr auto kGauge = prometheus::MetricType::Gauge;
  return {
      one_sample("process_resident_memory_bytes", "Resident memory size in bytes (VmRSS).", kGauge,
                 static_cast<double>(stats.resident_bytes)),
      one_sample("ipcmesh_process_resident_shared_memory_bytes",
                 "Part of the resident memory that is mapped shared memory (RssShmem).", kGauge,
                 static_cast<double>(stats.resident_shmem_bytes)),
      one_sample("process_cpu_seconds_total", "User and system CPU time spent in seconds.",
                 prometheus::MetricType::Counter, stats.cpu_seconds),
      one_sample("process_open_fds", "Number of open file descriptors.", kGauge,
                 static_cast<double>(stats.open_fds)),
      one_sample("process_start_time_seconds", "Start time of the process since the Unix epoch.",
                 kGauge, stats.start_time_seconds),
  };
}

void add_build_info(prometheus::Registry& registry, const std::string& component,
                    const std::string& version) {
  prometheus::BuildGauge()
      .Name("ipcmesh_build_info")
      .Help("Always 1; the labels say which ipcmesh component and version this is.")
      .Register(registry)
      .Add({{"component", component}, {"version", version}})
      .Set(1);
}

}  // namespace ipcmesh::process_metrics
