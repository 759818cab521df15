#include "relay/process_stats.hpp"

#include <dirent.h>
#include <unistd.h>

#include <fstream>
#include <sstream>
#include <string>

namespace ipcmesh::relay {
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

}  // namespace

ProcessStats read_process_stats() {
  ProcessStats stats;
  {
    std::ifstream in("/proc/self/status");
    const std::string status = "\n" + std::string(std::istreambuf_iterator<char>(in), {});
    stats.resident_bytes = status_kib(status, "VmRSS");
    stats.resident_shmem_bytes = status_kib(status, "RssShmem");
  }
  {
    std::ifstream in("/proc/self/stat");
    const std::string line(std::istreambuf_iterator<char>(in), {});
    // Fields after the command name (which may contain spaces) start after the last ')'.
    const auto close = line.rfind(')');
    if (close != std::string::npos) {
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
  }
  if (DIR* dir = ::opendir("/proc/self/fd")) {
    while (const dirent* entry = ::readdir(dir)) {
      if (entry->d_name[0] != '.') {
        ++stats.open_fds;
      }
    }
    ::closedir(dir);
    if (stats.open_fds > 0) {
      --stats.open_fds;  // the directory stream itself
    }
  }
  return stats;
}

}  // namespace ipcmesh::relay
