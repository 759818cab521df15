// The relay's /metrics. Channel figures are read from each ring's header (ShmChannel::stats) and
// queue (mq_getattr) at scrape time by a prometheus::Collectable, never by a loop; the relay's own
// counters live in a prometheus::Registry. Both go through prometheus-cpp's TextSerializer.
// docs/relay.md lists every name.
#pragma once

#include <prometheus/collectable.h>
#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <prometheus/registry.h>

#include <atomic>
#include <memory>
#include <string>

#include "ipcmesh/process_metrics.hpp"
#include "relay/hosted_channel.hpp"

namespace ipcmesh::relay {

class ChannelCollector final : public prometheus::Collectable {
 public:
  explicit ChannelCollector(const ChannelTable& table) : table_(table) {}
  std::vector<prometheus::MetricFamily> Collect() const override;

 private:
  const ChannelTable& table_;
};

class RelayMetrics {
 public:
  explicit RelayMetrics(const ChannelTable& table);
  void set_ready(bool ready) { ready_.Set(ready ? 1.0 : 0.0); }
  void count_scrape() { scrapes_.Increment(); }
  // Text exposition format 0.0.4.
  std::string render() const;

 private:
  prometheus::Registry registry_;
  prometheus::Gauge& ready_;
  prometheus::Counter& scrapes_;
  ChannelCollector channels_;
  process_metrics::ProcessCollector process_;
};

}  // namespace ipcmesh::relay
