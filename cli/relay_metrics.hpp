// A relay's live counters for one channel, read from its Prometheus text (docs/relay.md,
// "Metrics"), which ipcmeshctl fetches through the API server's Pod proxy. Only what `describe
// channel` shows: published, delivered, dropped, the slowest subscriber's lag, and the relay's
// version.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace ipcmesh::cli {

struct RelayCounters {
  bool channel_found = false;  // the relay reports this channel at all
  std::uint64_t published_messages = 0;
  std::uint64_t delivered_messages = 0;  // summed over the channel's subscribers
  // rejected (full DropNewest ring) + dropped oldest + bridge refusals
  std::uint64_t dropped_messages = 0;
  std::uint64_t max_lag_bytes = 0;  // the slowest subscriber's
  std::uint32_t subscribers = 0;
  std::string relay_version;  // ipcmesh_build_info{component="relay",version}; "" when absent
};

// The counters of channel `name` in namespace `namespace_name` from a text exposition. Lines
// that do not parse are skipped: a scrape is a best-effort view, never an error.
RelayCounters relay_counters_from_metrics(std::string_view metrics, std::string_view namespace_name,
                                          std::string_view name);

// The value of label `label` in a sample's label text (`{a="x",b="y"}`), unescaped.
std::optional<std::string> label_value(std::string_view labels, std::string_view label);

}  // namespace ipcmesh::cli
