// Runs one measurement: forks the sides of a prepared Link (side A and side B of a pair, or P
// producers and S subscribers of a fan-out / fan-in group), pins them to cores, lines them up on
// a barrier, runs the pattern, verifies every message and collects the figures. The same code
// forks, times and verifies every transport and every shape.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "transport.hpp"

namespace ipcmesh::bench {

struct HarnessOptions {
  double duration_seconds = 1.0;
  std::uint64_t messages = 0;            // > 0: exactly this many per producer (after warm-up)
  std::uint64_t stream_warmup = 2000;    // messages received before the throughput clock starts
  std::uint64_t pingpong_warmup = 1000;  // round trips not recorded
  double timeout_seconds = 60.0;
  bool inject_gap = false;  // every stream producer skips one sequence number (self-check)
  // > 0: the stream producer sends this many messages per second on an absolute timetable
  // (PacedSchedule: it sleeps or spins until each is due), each stamped with its send time, and
  // the subscriber records every measured message's one-way latency. 0: as fast as it can.
  double paced_rate = 0.0;
  // The cores sides are pinned to, round-robin in the order senders then receivers: side A on
  // the first and side B on the second; in a group producer 0, 1, ... then subscriber 0, 1, ...
  // With fewer cores than sides, sides share cores (recorded in the group result).
  std::vector<int> cores = {0, 1};
};

// Stream: {"messages", "measured_messages", "seconds", "msgs_per_s", "mb_per_s", "lost",
// "out_of_order", "corrupt", "verified", "errors", ...}.
// Paced stream (options.paced_rate > 0, messages of at least kTimedStampBytes): also "paced":
// {"rate_msgs_per_s", "late_messages", "schedule_slips", "schedule_slipped_ns",
// "latency_samples", "latency_{p50,p99,p999,mean,min,max}_ns" (receive time - send time, both
// CLOCK_MONOTONIC), "subscriber" and "producer": {"cpu_s", "wall_s", "cpu_percent",
// "involuntary_switches"} from the end of the warm-up to the side's end}.
// Ping-pong: {"round_trips", "rtt_p50_ns", "rtt_p99_ns", "rtt_mean_ns", "rtt_min_ns",
// "rtt_max_ns", "mismatched", "corrupt", "verified", "errors", ...}.
// Throws std::runtime_error when fork or mmap fails, std::invalid_argument for a paced ping-pong
// or a paced message too small to carry its send time.
nlohmann::json run_measurement(Link& link, Pattern pattern, std::size_t message_size,
                               const HarnessOptions& options);

// Fan-out / fan-in on a stream Link prepared for `shape`: shape.producers processes each open
// Side::kA and stream (each with its own sequence numbers, its index in the stamp), and
// shape.subscribers processes each open Side::kB and must receive every message of every
// producer, complete and in order per producer. Returns {"producers", "subscribers", "cores",
// "cores_shared", "aggregate_msgs_per_s" (sum over subscribers), "per_subscriber_msgs_per_s"
// (their mean), "slowest_subscriber_msgs_per_s", "producer_msgs_per_s" (sum over producers),
// "lost", "out_of_order", "corrupt", "producer_sides", "subscriber_sides", "verified",
// "errors"}. Throws std::runtime_error when fork or mmap fails.
nlohmann::json run_group_measurement(Link& link, const GroupShape& shape, std::size_t message_size,
                                     const HarnessOptions& options);

}  // namespace ipcmesh::bench
