#include "relay/relay_metrics.hpp"

#include <prometheus/text_serializer.h>

#include <optional>
#include <sstream>

#include "ipcmesh/process_metrics.hpp"

namespace ipcmesh::relay {
namespace {

using prometheus::ClientMetric;
using prometheus::MetricFamily;
using prometheus::MetricType;

class FamilyBuilder {
 public:
  MetricFamily& family(const std::string& name, const std::string& help, MetricType type) {
    for (auto& existing : families_) {
      if (existing.name == name) {
        return existing;
      }
    }
    families_.push_back(MetricFamily{name, help, type, {}});
    return families_.back();
  }
  void add(const std::string& name, const std::string& help, MetricType type,
           std::vector<ClientMetric::Label> labels, double value) {
    ClientMetric metric;
    metric.label = std::move(labels);
    if (type == MetricType::Counter) {
      metric.counter.value = value;
    } else {
      metric.gauge.value = value;
    }
    family(name, help, type).metric.push_back(std::move(metric));
  }
  std::vector<MetricFamily> take() { return std::move(families_); }

 private:
  std::vector<MetricFamily> families_;
};

constexpr auto kCounter = MetricType::Counter;
constexpr auto kGauge = MetricType::Gauge;

void collect_ring(FamilyBuilder& out, const HostedChannel& channel,
                  const std::vector<ClientMetric::Label>& labels) {
  // Rule F1 before reading the ring, and again after (a truncation during the read faulted into
  // the guard's private memory: those figures are zeros, not the ring's).
  std::optional<ChannelStats> read;
  if (channel.ring_intact()) {
    read = channel.shm->stats();
    if (!channel.ring_intact()) read.reset();
  }
  out.add("ipcmesh_channel_corrupted",
          "1 when the ring was resized under the relay (another program truncated it): the relay "
          "no longer uses it; /readyz says why.",
          kGauge, labels, read ? 0.0 : 1.0);
  if (!read) return;
  const ChannelStats& stats = *read;
  auto with = [&](std::initializer_list<ClientMetric::Label> extra) {
    auto all = labels;
    all.insert(all.end(), extra);
    return all;
  };
  out.add("ipcmesh_channel_capacity_bytes", "Ring data capacity in bytes.", kGauge, labels,
          static_cast<double>(stats.capacity_bytes));
  out.add("ipcmesh_channel_max_message_bytes", "Largest message the ring accepts.", kGauge, labels,
          static_cast<double>(stats.max_message_size));
  out.add("ipcmesh_channel_published_messages_total", "Messages published into the ring.", kCounter,
          labels, static_cast<double>(stats.published_messages));
  out.add("ipcmesh_channel_published_bytes_total", "Payload bytes published into the ring.",
          kCounter, labels, static_cast<double>(stats.published_bytes));
  out.add("ipcmesh_channel_rejected_full_total",
          "Messages refused because the ring was full (DropNewest).", kCounter, labels,
          static_cast<double>(stats.rejected_full));
  out.add("ipcmesh_channel_dropped_oldest_total",
          "Messages overwritten before slow subscribers read them (DropOldest).", kCounter, labels,
          static_cast<double>(stats.dropped_oldest));
  out.add("ipcmesh_channel_gaps_total", "Records lost to producers that died mid-write.", kCounter,
          labels, static_cast<double>(stats.gaps));
  out.add("ipcmesh_channel_reaped_subscribers_total", "Dead subscribers whose slots were freed.",
          kCounter, labels, static_cast<double>(stats.reaped_subscribers));
  out.add("ipcmesh_channel_reattached_total",
          "Publishers and subscribers that moved to this ring by themselves from the one it "
          "replaced (a spec change).",
          kCounter, labels, static_cast<double>(stats.reattached));
  out.add("ipcmesh_channel_fill_ratio",
          "Share of the ring not yet released by the slowest subscriber (0..1).", kGauge, labels,
          stats.fill_ratio);
  out.add("ipcmesh_channel_producers", "Attached producers.", kGauge, labels,
          static_cast<double>(stats.producers));
  out.add("ipcmesh_channel_subscribers", "Attached subscribers.", kGauge, labels,
          static_cast<double>(stats.subscribers.size()));
  for (const SubscriberStats& subscriber : stats.subscribers) {
    // The slot, not the pid: a pid is 1 in every container and new at each restart (a new series
    // each time); slots are few and reused. `ipcmeshctl stat` shows the pids.
    const auto subscriber_labels = with({{"slot", std::to_string(subscriber.slot)}});
    out.add("ipcmesh_subscriber_lag_bytes",
            "Bytes published that this subscriber has not released yet.", kGauge, subscriber_labels,
            static_cast<double>(subscriber.lag_bytes));
    out.add("ipcmesh_subscriber_missed_messages_total",
            "Messages dropped for this subscriber (DropOldest).", kCounter, subscriber_labels,
            static_cast<double>(subscriber.missed));
    out.add("ipcmesh_subscriber_delivered_messages_total", "Messages this subscriber has received.",
            kCounter, subscriber_labels, static_cast<double>(subscriber.delivered_messages));
    out.add("ipcmesh_subscriber_delivered_bytes_total",
            "Payload bytes this subscriber has received.", kCounter, subscriber_labels,
            static_cast<double>(subscriber.delivered_bytes));
    out.add("ipcmesh_subscriber_position_bytes",
            "Log position of the next record this subscriber reads.", kGauge, subscriber_labels,
            static_cast<double>(subscriber.cursor));
  }
}

void collect_queue(FamilyBuilder& out, const HostedChannel& channel,
                   const std::vector<ClientMetric::Label>& labels) {
  auto queue_labels = labels;
  queue_labels.push_back({"queue", channel.queue->name()});
  out.add("ipcmesh_queue_messages", "Messages waiting in the POSIX message queue.", kGauge,
          queue_labels, static_cast<double>(channel.queue->current_messages()));
  out.add("ipcmesh_queue_capacity_messages", "The queue's mq_maxmsg.", kGauge, queue_labels,
          static_cast<double>(channel.queue->max_messages()));
  out.add("ipcmesh_queue_max_message_bytes", "The queue's mq_msgsize.", kGauge, queue_labels,
          static_cast<double>(channel.queue->max_message_size()));
}

void collect_bridge(FamilyBuilder& out, const Bridge& bridge,
                    const std::vector<ClientMetric::Label>& labels) {
  auto bridge_labels = labels;
  bridge_labels.push_back({"direction", std::string(to_string(bridge.direction()))});
  const BridgeCounters& counters = bridge.counters();
  out.add("ipcmesh_bridge_messages_total", "Messages the relay forwarded between transports.",
          kCounter, bridge_labels, static_cast<double>(counters.messages.load()));
  out.add("ipcmesh_bridge_bytes_total", "Payload bytes the relay forwarded between transports.",
          kCounter, bridge_labels, static_cast<double>(counters.bytes.load()));
  out.add("ipcmesh_bridge_dropped_total",
          "Messages the target refused (DropNewest full ring or too large).", kCounter,
          bridge_labels, static_cast<double>(counters.dropped.load()));
  out.add("ipcmesh_bridge_errors_total", "Failed receive/send calls in the bridge.", kCounter,
          bridge_labels, static_cast<double>(counters.errors.load()));
}

}  // namespace

std::vector<MetricFamily> ChannelCollector::Collect() const {
  FamilyBuilder out;
  std::lock_guard lock(table_.mutex);
  for (const auto& channel : table_.channels) {
    // Not "namespace": Prometheus' Kubernetes discovery sets that target label (the Pod's) and
    // would rename ours to exported_namespace.
    const std::vector<ClientMetric::Label> labels = {
        {"channel_namespace", channel->spec.id.namespace_name}, {"channel", channel->spec.id.name}};
    if (channel->shm) {
      collect_ring(out, *channel, labels);
    }
    if (channel->queue) {
      collect_queue(out, *channel, labels);
    }
    if (channel->bridge) {
      collect_bridge(out, *channel->bridge, labels);
    }
  }
  return out.take();
}

RelayMetrics::RelayMetrics(const ChannelTable& table)
    : ready_(prometheus::BuildGauge()
                 .Name("ipcmesh_relay_ready")
                 .Help("1 when every channel exists and the relay serves it.")
                 .Register(registry_)
                 .Add({})),
      scrapes_(prometheus::BuildCounter()
                   .Name("ipcmesh_relay_scrapes_total")
                   .Help("Requests served on /metrics.")
                   .Register(registry_)
                   .Add({})),
      channels_(table) {
  process_metrics::add_build_info(registry_, "relay", IPCMESH_VERSION);
}

std::string RelayMetrics::render() const {
  auto families = registry_.Collect();
  for (auto& family : channels_.Collect()) {
    families.push_back(std::move(family));
  }
  for (auto& family : process_.Collect()) {
    families.push_back(std::move(family));
  }
  std::ostringstream out;
  prometheus::TextSerializer().Serialize(out, families);
  return out.str();
}

}  // namespace ipcmesh::relay
