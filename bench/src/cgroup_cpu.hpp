// The CFS bandwidth control of the cgroup the bench runs in: whether a CPU limit applies (a Pod's
// `resources.limits.cpu` becomes one) and how often the cgroup was throttled. A subscriber that
// spins between messages spends the quota its container shares with the application; once the
// quota of a period is spent every process of the cgroup waits for the next period. The paced
// measurements read cpu.stat before and after each run so that the report shows that cost.
//
// Both cgroup versions: v1 names the cpu controller's cgroup in /proc/self/cgroup
// ("4:cpu,cpuacct:/kubepods/..") and mounts the controller at /sys/fs/cgroup/cpu,cpuacct (or
// cpu); v2 has one hierarchy ("0::/kubepods/..") at /sys/fs/cgroup. Inside a container the mount
// usually is the container's own cgroup while /proc/self/cgroup may still name the host's path,
// so the mount root is tried after the resolved path.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace ipcmesh::bench {

// The throttling counters of cpu.stat in one unit for both versions (v1 throttled_time is in
// nanoseconds, v2 throttled_usec in microseconds). A field the text lacks stays 0.
struct CfsCounters {
  std::uint64_t nr_periods = 0;    // enforcement periods in which the cgroup was runnable
  std::uint64_t nr_throttled = 0;  // periods that ended with the quota spent
  std::uint64_t throttled_ns = 0;  // time its processes waited for the next period
};
CfsCounters parse_cpu_stat(std::string_view text);
// after - before, field by field (0 where a counter went back: the cgroup was replaced).
CfsCounters counters_delta(const CfsCounters& before, const CfsCounters& after);
nlohmann::json to_json(const CfsCounters& counters);

// The cgroup of the cpu controller as /proc/self/cgroup names it: the v1 line whose controller
// list contains "cpu", else the v2 line "0::<path>". Empty when there is neither.
struct CgroupMembership {
  int version = 0;  // 1 or 2
  std::string path;
};
std::optional<CgroupMembership> cpu_cgroup_of(std::string_view proc_self_cgroup);

// The directories that may hold this cgroup's cpu.stat, in the order to try them: the path
// under each usual mount point of the controller, then the mount points themselves.
std::vector<std::string> cgroup_directories(const CgroupMembership& membership);

// A CPU limit: v1 cpu.cfs_quota_us and cpu.cfs_period_us (quota -1: none), v2 cpu.max
// ("max 100000": none, "50000 100000": half a core).
struct CpuLimit {
  std::optional<std::int64_t> quota_us;  // empty: no limit
  std::int64_t period_us = 100000;
  std::optional<double> cores() const;
};
std::optional<CpuLimit> parse_cpu_max(std::string_view text);
CpuLimit cfs_limit(std::int64_t quota_us, std::int64_t period_us);

// The bench's own cgroup, located once in the parent (the forked sides inherit it).
class CgroupCpu {
 public:
  // Reads /proc/self/cgroup and finds the first readable cpu.stat.
  static CgroupCpu locate();
  bool found() const { return !directory_.empty(); }
  // The counters now; zeros when no cpu.stat was found or it cannot be read.
  CfsCounters read() const;
  // For the report's limits: version, cgroup path, the cpu.stat read, the limit files and the
  // limit in cores (null: none), or why nothing was found.
  nlohmann::json describe() const;

 private:
  std::optional<CgroupMembership> membership_;
  std::string directory_;  // holds cpu.stat; empty when none was found
  std::vector<std::string> tried_;
};

}  // namespace ipcmesh::bench
