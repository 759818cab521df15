// Runs one measurement: forks side A and side B of a prepared Link, pins them to different
// cores, lines them up on a barrier, runs the pattern, verifies every message and collects the
// figures. The same code times every transport.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>

#include "environment.hpp"
#include "transport.hpp"

namespace ipcmesh::bench {

struct HarnessOptions {
  double duration_seconds = 1.0;
  std::uint64_t messages = 0;            // > 0: exactly this many (after warm-up)
  std::uint64_t stream_warmup = 2000;    // messages received before the throughput clock starts
  std::uint64_t pingpong_warmup = 1000;  // round trips not recorded
  double timeout_seconds = 60.0;
  bool inject_gap = false;  // the stream producer skips one sequence number (self-check)
  CorePair cores;
};

// Stream: {"messages", "seconds", "msgs_per_s", "mb_per_s", "lost", "out_of_order", "corrupt",
// "verified", "error"}. Ping-pong: {"round_trips", "rtt_p50_ns", "rtt_p99_ns", "rtt_mean_ns",
// "rtt_min_ns", "rtt_max_ns", "mismatched", "corrupt", "verified", "error"}.
// Throws std::runtime_error when fork or mmap fails.
nlohmann::json run_measurement(Link& link, Pattern pattern, std::size_t message_size,
                               const HarnessOptions& options);

}  // namespace ipcmesh::bench
