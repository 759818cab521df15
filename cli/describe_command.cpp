// ipcmeshctl describe channel NAME: the spec in a few lines, counts and conditions, then every
// Pod the channel selects (or was injected into) with its injection state and its relay's live
// counters. A relay that cannot be reached is shown as such; it never fails the command.
#include <algorithm>
#include <atomic>
#include <future>
#include <ostream>

#include "cluster_commands.hpp"
#include "cluster_objects.hpp"
#include "text_table.hpp"
#include "yaml_documents.hpp"

namespace ipcmesh::cli {
namespace {

using nlohmann::json;

constexpr const char* kDescribe = "ipcmeshctl describe channel";

struct DescribedPod {
  ChannelPod member;
  RelayScrape relay;
};

// Relays are scraped this many at a time: a relay that does not answer costs its 5 s deadline
// once per batch, not once per Pod, and the API server's proxy sees a handful of requests.
constexpr std::size_t kConcurrentScrapes = 8;

// Fills in the relay counters of every Pod that has a relay, kConcurrentScrapes at a time; the
// order of `pods` is kept. The transport is cpprestsdk's http_client, which takes concurrent
// requests.
void scrape_relays(kube::HttpTransport& proxy, const api::ChannelRecord& channel,
                   std::vector<DescribedPod>& pods) {
  std::vector<DescribedPod*> with_relay;
  for (auto& pod : pods) {
    if (pod.member.injection != PodInjection::kPendingRestart) with_relay.push_back(&pod);
  }
  std::atomic<std::size_t> next{0};
  auto scrape_until_done = [&] {
    for (std::size_t i = next++; i < with_relay.size(); i = next++) {
      with_relay[i]->relay = scrape_relay(proxy, with_relay[i]->member.pod.object, channel);
    }
  };
  std::vector<std::future<void>> workers;
  for (std::size_t w = 0; w < std::min(kConcurrentScrapes, with_relay.size()); ++w) {
    workers.push_back(std::async(std::launch::async, scrape_until_done));
  }
  for (auto& worker : workers) worker.wait();
  for (auto& worker : workers) worker.get();  // rethrows what a scrape threw, after all ended
}

void field(std::ostream& out, const std::string& name, const std::string& value) {
  // Values line up after the longest name ("Shared memory:"), as kubectl describe aligns them.
  out << name << ":" << std::string(name.size() < 14 ? 14 - name.size() : 1, ' ') << value << "\n";
}

void print_spec(const api::ChannelRecord& record, std::ostream& out) {
  if (!record.channel) {
    field(out, "Spec", "invalid: " + record.spec_error);
    return;
  }
  const ChannelSpec& spec = record.channel->spec;
  field(out, "Transport",
        std::string(to_string(spec.transport)) + ", scope " + std::string(to_string(spec.scope)));
  if (const auto& shm = spec.shared_memory) {
    field(out, "Shared memory",
          spec.shm_name() + ": " + format_quantity(shm->size_bytes) + " ring, messages up to " +
              format_quantity(shm->max_message_size) + ", slow consumer " +
              std::string(to_string(shm->slow_consumer)) + ", at most " +
              std::to_string(shm->max_subscribers) + " subscribers");
  }
  if (const auto& mq = spec.message_queue) {
    field(out, "Message queue",
          spec.mq_name() + ": " + std::to_string(mq->max_messages) + " messages of up to " +
              format_quantity(mq->max_message_size));
  }
  std::string bridge = spec.bridge.mq_to_shm   ? ", bridge mq to shm"
                       : spec.bridge.shm_to_mq ? ", bridge shm to mq"
                                               : "";
  field(out, "Relay", "metrics port " + std::to_string(spec.metrics_port) + bridge);
}

void print_conditions(const api::IpcChannelStatus& status, std::ostream& out) {
  out << "Conditions:\n";
  if (status.conditions.empty()) {
    out << "  (none yet: the operator has not reconciled this channel)\n";
    return;
  }
  TextTable table({"TYPE", "STATUS", "REASON", "MESSAGE"});
  for (const auto& condition : status.conditions) {
    table.add_row({condition.type, condition.status, condition.reason, condition.message});
  }
  table.print(out, "  ");
}

std::vector<std::string> counter_cells(const RelayScrape& relay) {
  if (!relay.counters) return {"unreachable", "-", "-", "-", "-", "-"};
  const RelayCounters& c = *relay.counters;
  return {c.relay_version.empty() ? "reachable" : c.relay_version,
          std::to_string(c.subscribers),
          std::to_string(c.published_messages),
          std::to_string(c.delivered_messages),
          std::to_string(c.dropped_messages),
          format_quantity(c.max_lag_bytes)};
}

void print_pods(const std::vector<DescribedPod>& pods, std::ostream& out) {
  out << "Pods:\n";
  if (pods.empty()) {
    out << "  (none: no live Pod is selected by or injected with this channel)\n";
    return;
  }
  TextTable table(
      {"NAME", "INJECTION", "RELAY", "SUBSCRIBERS", "PUBLISHED", "DELIVERED", "DROPPED", "LAG"});
  std::vector<std::string> notes;
  for (const auto& [member, relay] : pods) {
    std::string injection(to_string(member.injection));
    if (member.injection == PodInjection::kOutdated) {
      injection += " (generation " + std::to_string(member.injected_generation) + ")";
    }
    std::vector<std::string> row = {member.pod.record->name, injection};
    const auto cells = member.injection == PodInjection::kPendingRestart
                           ? std::vector<std::string>{"none", "-", "-", "-", "-", "-"}
                           : counter_cells(relay);
    row.insert(row.end(), cells.begin(), cells.end());
    table.add_row(std::move(row));
    if (!relay.error.empty()) notes.push_back(member.pod.record->name + ": " + relay.error);
  }
  table.print(out, "  ");
  if (notes.empty()) return;
  out << "Relays not read:\n";
  for (const auto& note : notes) out << "  " << note << "\n";
}

json pod_json(const DescribedPod& pod) {
  json relay = {{"reachable", pod.relay.counters.has_value()}};
  if (const auto& c = pod.relay.counters) {
    relay.update({{"version", c->relay_version},
                  {"subscribers", c->subscribers},
                  {"publishedMessages", c->published_messages},
                  {"deliveredMessages", c->delivered_messages},
                  {"droppedMessages", c->dropped_messages},
                  {"maxLagBytes", c->max_lag_bytes}});
  } else {
    relay["error"] = pod.relay.error;
  }
  return {{"name", pod.member.pod.record->name},
          {"injection", to_string(pod.member.injection)},
          {"injectedGeneration", pod.member.injected_generation},
          {"relay", std::move(relay)}};
}

void print_text(const ChannelObject& channel, const std::vector<DescribedPod>& pods,
                std::int64_t now, std::ostream& out) {
  const api::ChannelRecord& record = channel.record;
  const api::IpcChannelStatus& status = record.status;
  field(out, "Name", record.metadata.name);
  field(out, "Namespace", record.metadata.namespace_name);
  field(out, "Created",
        record.metadata.creation_timestamp + " (" +
            age_since(record.metadata.creation_timestamp, now) + " ago)");
  field(out, "Generation",
        std::to_string(record.metadata.generation) + " (status observed " +
            std::to_string(status.observed_generation) + ")");
  field(out, "Selector", selector_text(record.selector));
  print_spec(record, out);
  field(out, "Counts",
        std::to_string(status.selected_pods) + " selected, " +
            std::to_string(status.injected_pods) + " injected, " +
            std::to_string(status.pending_restart_pods) + " pending restart");
  print_conditions(status, out);
  print_pods(pods, out);
}

}  // namespace

CLI::App* add_describe_command(CLI::App& app, DescribeArguments& arguments) {
  CLI::App* describe =
      app.add_subcommand("describe", "show an IpcChannel, its Pods and their relays' counters");
  command_line::apply_conventions(*describe);
  describe->require_subcommand(1);
  CLI::App* channel = describe->add_subcommand(
      "channel", "spec, conditions, selected Pods and the live counters of their relays");
  command_line::apply_conventions(*channel);
  for (const char* alias : {"channels", "ipch", "ipcchannel", "ipcchannels"}) channel->alias(alias);
  channel->add_option("NAME", arguments.name, "the channel")->required();
  add_namespace_flag(*channel, arguments.cluster);
  command_line::add_output_option(*channel, arguments.cluster.output, {"json", "yaml"})
      ->description("json or yaml: {channel: the object as stored, pods: [...]}");
  add_connection_flags(*channel, arguments.cluster);
  channel->footer(
      "Relay counters come from each Pod's relay through the API server's Pod proxy\n"
      "(pods/NAME:PORT/proxy/metrics), 8 at a time, each within 5 s; a relay that cannot be\n"
      "reached is shown as unreachable.\n"
      "Exit codes: 0 ok, 1 failure (cluster unreachable, channel missing), 2 usage.");
  return channel;
}

int run_describe_channel(const DescribeArguments& arguments, ClusterAccess& cluster,
                         std::ostream& out, std::ostream& err) {
  try {
    const ChannelObject channel = get_channel(cluster.api, cluster.namespace_name, arguments.name);
    std::vector<DescribedPod> pods;
    for (ChannelPod& member :
         channel_pods(channel.record, list_live_pods(cluster.api, cluster.namespace_name))) {
      pods.push_back({std::move(member), {}});
    }
    scrape_relays(cluster.relays, channel.record, pods);
    const std::string& format = arguments.cluster.output;
    if (format == "json" || format == "yaml") {
      json listed = json::array();
      for (const auto& pod : pods) listed.push_back(pod_json(pod));
      const json object = {{"channel", channel.object}, {"pods", listed}};
      out << (format == "yaml" ? documents_to_yaml({object}) : object.dump(2) + "\n");
    } else {
      print_text(channel, pods, cluster.now_seconds, out);
    }
    return command_line::kExitOk;
  } catch (const std::exception& error) {
    err << kDescribe << ": " << describe_failure(error, cluster.server) << "\n";
    return command_line::kExitFailure;
  }
}

}  // namespace ipcmesh::cli
