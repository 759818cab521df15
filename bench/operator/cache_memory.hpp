// Part (b): the operator's resident memory with its caches full. Runs the operator's own informers,
// Pod records, channel catalog, malloc setting and work-queue wiring (main/operator_caches.hpp,
// controller::connect_informers) against a scripted API server that LISTs realistic objects page
// by page, next to a running admission server, and reads VmRSS before and after.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "objects.hpp"

namespace ipcmesh::bench::operator_bench {

struct MemoryOptions {
  ClusterShape shape;
  int threads = 2;
  std::string certificate_file;  // the admission server runs as in the operator
  std::string key_file;
};

struct MemoryResult {
  std::uint64_t baseline_rss_kib = 0;  // servers up, caches empty
  std::uint64_t cached_rss_kib = 0;    // both caches synced
  std::uint64_t peak_rss_kib = 0;      // VmHWM: the relist's transient peak
  // Diagnostics, not the figure: heap bytes malloc holds for live objects (mallinfo2), and VmRSS
  // after malloc_trim(0) hands freed pages back, i.e. how much of the RSS is parse garbage that
  // glibc kept.
  std::uint64_t heap_in_use_kib = 0;
  std::uint64_t trimmed_rss_kib = 0;
  std::size_t cached_channels = 0;
  std::size_t cached_pods = 0;
  std::size_t catalog_channels = 0;
  std::uint64_t listed_bytes = 0;  // JSON served by the fake API server
  double average_pod_bytes = 0;
  double sync_seconds = 0;
};

// Must run in a fresh process (the RSS figures are the process's).
MemoryResult measure_cache_memory(const MemoryOptions& options);

}  // namespace ipcmesh::bench::operator_bench
