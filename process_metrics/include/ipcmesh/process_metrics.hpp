// A process's own footprint as Prometheus series, read from /proc/self at scrape time (resident
// memory and how much of it is shared memory, CPU seconds, open descriptors, start time), and the
// build-info series dashboards join on to show versions.
#pragma once

#include <prometheus/collectable.h>
#include <prometheus/registry.h>

#include <cstdint>
#include <string>
#include <vector>

namespace ipcmesh::process_metrics {

struct ProcessStats {
  std::uint64_t resident_bytes = 0;        // VmRSS
  std::uint64_t resident_shmem_bytes = 0;  // RssShmem: mapped shared pages counted in VmRSS
  double cpu_seconds = 0.0;                // utime + stime
  std::uint64_t open_fds = 0;
  double start_time_seconds = 0.0;  // since the Unix epoch
};

ProcessStats read_process_stats();

// process_resident_memory_bytes, process_cpu_seconds_total, process_open_fds,
// process_start_time_seconds (the names every Prometheus client library uses) and
// ipcmesh_process_resident_shared_memory_bytes.
class ProcessCollector final : public prometheus::Collectable {
 public:
  std::vector<prometheus::MetricFamily> Collect() const override;
};

// ipcmesh_build_info{component, version} = 1.
void add_build_info(prometheus::Registry& registry, const std::string& component,
                    const std::string& version);

}  // namespace ipcmesh::process_metrics
