// Turning measurements into the report: the flat per-row figures, the ratios to the reference
// transports, the targets with pass/fail, and the table a human reads.
#pragma once

#include <cstddef>
#include <nlohmann/json.hpp>
#include <string>

namespace ipcmesh::bench {

// "64 B", "1 KiB", "64 KiB"
std::string format_size(std::size_t bytes);

// Adds to a row ({"transport", "size_bytes", "ping_pong", "stream"}) its status, the flat
// figures (null when the measurement did not run or failed), "verified" and "errors".
void summarize_row(nlohmann::json& row);

// Adds "ratios" to every row: throughput and rtt p50 relative to spsc-floor (the machine's floor:
// a throughput ratio is the fraction of the floor reached), posix-mqueue, iceoryx and
// iceoryx-poll of the same size (null when either side has no figure).
void add_ratios(nlohmann::json& report);

// Adds to a fan-out / fan-in row ({"transport", "kind", "producers", "subscribers",
// "measurement"}) its status, the flat figures "aggregate_msgs_per_s",
// "per_subscriber_msgs_per_s" and "producer_msgs_per_s" (null unless the measurement ran and was
// verified), "verified" and "errors".
void summarize_group_row(nlohmann::json& row);

// Adds "producer_rate_vs_1_subscriber" to every fan-out row: the producer's publish rate at N
// subscribers over its rate at 1 subscriber, same transport (1.0: a subscriber costs the
// producer nothing; 1/N: each costs as much as the first). Null for fan-in rows and when either
// figure is missing.
void add_group_costs(nlohmann::json& report);

// Adds to a paced row ({"transport", "rate_msgs_per_s", "measurement"}) its status, the flat
// figures "delivered_msgs_per_s", "latency_{p50,p99,p999,max}_ns",
// "{subscriber,producer}_cpu_percent", "{subscriber,producer}_involuntary_switches",
// "late_messages", "cfs_periods", "throttled_periods" and "throttled_ns" (null unless the
// measurement ran and was verified), "verified" and "errors".
void summarize_paced_row(nlohmann::json& row);

// The targets, each {"id", "description", "measured", "required", "pass", "note"};
// "pass" is null when the figures needed were not measured.
nlohmann::json evaluate_targets(const nlohmann::json& report);

}  // namespace ipcmesh::bench
