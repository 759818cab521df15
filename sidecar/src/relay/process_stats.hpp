// The relay's own footprint from /proc/self, read at scrape time: resident memory (and how much
// of it is the channels' shared memory), CPU seconds, open file descriptors.
#pragma once

#include <cstdint>

namespace ipcmesh::relay {

struct ProcessStats {
  std::uint64_t resident_bytes = 0;        // VmRSS
  std::uint64_t resident_shmem_bytes = 0;  // RssShmem: mapped channel pages counted in VmRSS
  double cpu_seconds = 0.0;                // utime + stime
  std::uint64_t open_fds = 0;
  double start_time_seconds = 0.0;  // since the Unix epoch
};

ProcessStats read_process_stats();

}  // namespace ipcmesh::relay
