#include "cgroup_cpu.hpp"

#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <cstdio>
#include <fstream>
#include <sstream>

namespace ipcmesh::bench {
namespace {

constexpr const char* kCgroupRoot = "/sys/fs/cgroup";
// Where distributions and container runtimes mount the v1 cpu controller (co-mounted with
// cpuacct, under either name order, or alone).
constexpr const char* kV1Mounts[] = {"/sys/fs/cgroup/cpu,cpuacct", "/sys/fs/cgroup/cpuacct,cpu",
                                     "/sys/fs/cgroup/cpu"};

std::string_view trim(std::string_view text) {
  const auto first = text.find_first_not_of(" \t\r\n");
  if (first == std::string_view::npos) return {};
  const auto last = text.find_last_not_of(" \t\r\n");
  return text.substr(first, last - first + 1);
}

std::optional<std::int64_t> to_int(std::string_view text) {
  text = trim(text);
  std::int64_t value = 0;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (error != std::errc() || end != text.data() + text.size()) return {};
  return value;
}

std::vector<std::string_view> lines_of(std::string_view text) {
  std::vector<std::string_view> lines;
  while (!text.empty()) {
    const auto newline = text.find('\n');
    lines.push_back(text.substr(0, newline));
    if (newline == std::string_view::npos) break;
    text.remove_prefix(newline + 1);
  }
  return lines;
}

std::optional<std::string> read_text(const std::string& path) {
  std::ifstream in(path);
  if (!in) return {};
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

std::optional<std::int64_t> read_int(const std::string& path) {
  const auto text = read_text(path);
  if (!text) return {};
  return to_int(*text);
}

std::string join(const std::string& directory, const std::string& path) {
  if (path.empty() || path == "/") return directory;
  return directory + (path.front() == '/' ? "" : "/") + path;
}

}  // namespace

CfsCounters parse_cpu_stat(std::string_view text) {
  CfsCounters counters;
  for (const auto line : lines_of(text)) {
    const auto space = line.find(' ');
    if (space == std::string_view::npos) continue;
    const auto key = line.substr(0, space);
    const auto value = to_int(line.substr(space + 1));
    if (!value || *value < 0) continue;
    const auto number = static_cast<std::uint64_t>(*value);
    if (key == "nr_periods") {
      counters.nr_periods = number;
    } else if (key == "nr_throttled") {
      counters.nr_throttled = number;
    } else if (key == "throttled_time") {  // v1: nanoseconds
      counters.throttled_ns = number;
    } else if (key == "throttled_usec") {  // v2: microseconds
      counters.throttled_ns = number * 1000;
    }
  }
  return counters;
}

CfsCounters counters_delta(const CfsCounters& before, const CfsCounters& after) {
  const auto minus = [](std::uint64_t a, std::uint64_t b) { return a >= b ? a - b : 0; };
  return {minus(after.nr_periods, before.nr_periods),
          minus(after.nr_throttled, before.nr_throttled),
          minus(after.throttled_ns, before.throttled_ns)};
}

nlohmann::json to_json(const CfsCounters& counters) {
  return {{"nr_periods", counters.nr_periods},
          {"nr_throttled", counters.nr_throttled},
          {"throttled_ns", counters.throttled_ns}};
}

std::optional<CgroupMembership> cpu_cgroup_of(std::string_view proc_self_cgroup) {
  std::optional<CgroupMembership> unified;
  for (const auto line : lines_of(proc_self_cgroup)) {
    // "hierarchy-id:controller-list:path"; the path may itself contain ':'.
    const auto first = line.find(':');
    if (first == std::string_view::npos) continue;
    const auto second = line.find(':', first + 1);
    if (second == std::string_view::npos) continue;
    const auto controllers = line.substr(first + 1, second - first - 1);
    const std::string path(line.substr(second + 1));
    if (line.substr(0, first) == "0" && controllers.empty()) {
      unified = CgroupMembership{2, path};
      continue;
    }
    std::string_view rest = controllers;
    while (!rest.empty()) {
      const auto comma = rest.find(',');
      if (rest.substr(0, comma) == "cpu") return CgroupMembership{1, path};
      if (comma == std::string_view::npos) break;
      rest.remove_prefix(comma + 1);
    }
  }
  // A hybrid machine lists both; the cpu controller is then the v1 one, found above.
  return unified;
}

std::vector<std::string> cgroup_directories(const CgroupMembership& membership) {
  std::vector<std::string> directories;
  const auto add = [&](std::string directory) {
    if (std::find(directories.begin(), directories.end(), directory) == directories.end()) {
      directories.push_back(std::move(directory));
    }
  };
  if (membership.version == 1) {
    for (const char* mount : kV1Mounts) add(join(mount, membership.path));
    for (const char* mount : kV1Mounts) add(mount);
  } else {
    add(join(kCgroupRoot, membership.path));
    add(kCgroupRoot);
  }
  return directories;
}

std::optional<double> CpuLimit::cores() const {
  if (!quota_us || period_us <= 0) return {};
  return static_cast<double>(*quota_us) / static_cast<double>(period_us);
}

std::optional<CpuLimit> parse_cpu_max(std::string_view text) {
  text = trim(text);
  const auto space = text.find(' ');
  const auto quota = text.substr(0, space);
  CpuLimit limit;
  if (space != std::string_view::npos) {
    const auto period = to_int(text.substr(space + 1));
    if (!period || *period <= 0) return {};
    limit.period_us = *period;
  }
  if (quota == "max") return limit;
  const auto value = to_int(quota);
  if (!value || *value <= 0) return {};
  limit.quota_us = *value;
  return limit;
}

CpuLimit cfs_limit(std::int64_t quota_us, std::int64_t period_us) {
  CpuLimit limit;
  limit.period_us = period_us;
  if (quota_us > 0) limit.quota_us = quota_us;  // -1: no limit
  return limit;
}

CgroupCpu CgroupCpu::locate() {
  CgroupCpu cgroup;
  const auto self = read_text("/proc/self/cgroup");
  if (!self) return cgroup;
  cgroup.membership_ = cpu_cgroup_of(*self);
  if (!cgroup.membership_) return cgroup;
  for (const auto& directory : cgroup_directories(*cgroup.membership_)) {
    cgroup.tried_.push_back(directory + "/cpu.stat");
    if (access((directory + "/cpu.stat").c_str(), R_OK) == 0) {
      cgroup.directory_ = directory;
      break;
    }
  }
  return cgroup;
}

CfsCounters CgroupCpu::read() const {
  if (!found()) return {};
  const auto text = read_text(directory_ + "/cpu.stat");
  return text ? parse_cpu_stat(*text) : CfsCounters{};
}

nlohmann::json CgroupCpu::describe() const {
  nlohmann::json info;
  info["version"] = membership_ ? nlohmann::json(membership_->version) : nlohmann::json(nullptr);
  info["cgroup"] = membership_ ? nlohmann::json(membership_->path) : nlohmann::json(nullptr);
  if (!found()) {
    info["cpu_stat"] = nullptr;
    info["cpu_limit_cores"] = nullptr;
    info["note"] = !membership_ ? "no cpu controller in /proc/self/cgroup"
                                : "no readable cpu.stat; tried " + nlohmann::json(tried_).dump();
    return info;
  }
  info["cpu_stat"] = directory_ + "/cpu.stat";
  std::optional<CpuLimit> limit;
  if (membership_->version == 1) {
    const auto quota_us = read_int(directory_ + "/cpu.cfs_quota_us");
    const auto period_us = read_int(directory_ + "/cpu.cfs_period_us");
    info["cfs_quota_us"] = quota_us ? nlohmann::json(*quota_us) : nlohmann::json(nullptr);
    info["cfs_period_us"] = period_us ? nlohmann::json(*period_us) : nlohmann::json(nullptr);
    if (quota_us.has_value() && period_us.has_value()) {
      limit = cfs_limit(quota_us.value(), period_us.value());
    }
  } else {
    // The root cgroup has no cpu.max: nothing limits it.
    const auto max = read_text(directory_ + "/cpu.max");
    info["cpu_max"] = max ? nlohmann::json(std::string(trim(*max))) : nlohmann::json(nullptr);
    limit = max ? parse_cpu_max(*max) : CpuLimit{};
  }
  const auto cores = limit ? limit->cores() : std::nullopt;
  info["cpu_limit_cores"] = cores ? nlohmann::json(*cores) : nlohmann::json(nullptr);
  char text[96] = "unknown (the limit files cannot be read)";
  if (cores) {
    std::snprintf(text, sizeof text, "%.2f cores (%lld us per %lld us)", *cores,
                  static_cast<long long>(*limit->quota_us),
                  static_cast<long long>(limit->period_us));
  } else if (limit) {
    std::snprintf(text, sizeof text, "none");
  }
  info["cpu_limit"] = text;
  info["note"] =
      "the limit of this cgroup only: a limit set on an ancestor throttles there and is not "
      "counted here";
  return info;
}

}  // namespace ipcmesh::bench
