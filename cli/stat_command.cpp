// ipcmeshctl stat: what a channel's header says right now (capacity, fill, producers, subscribers
// and their lag), or a queue's attributes, as text or -o json|yaml.
#include <cstdio>
#include <iostream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "channel_target.hpp"
#include "commands.hpp"
#include "yaml_documents.hpp"

namespace ipcmesh::cli {
namespace {

nlohmann::json shm_json(const ChannelStats& stats) {
  nlohmann::json subscribers = nlohmann::json::array();
  for (const SubscriberStats& subscriber : stats.subscribers) {
    subscribers.push_back({{"slot", subscriber.slot},
                           {"pid", subscriber.pid},
                           {"position", subscriber.cursor},
                           {"lagBytes", subscriber.lag_bytes},
                           {"missed", subscriber.missed},
                           {"deliveredMessages", subscriber.delivered_messages},
                           {"deliveredBytes", subscriber.delivered_bytes},
                           {"sleeping", subscriber.sleeping},
                           {"sleepsWithBarrier", subscriber.sleeps_with_barrier}});
  }
  return {{"name", stats.name},
          {"transport", "shm"},
          {"layoutVersion", stats.layout_version},
          {"generation", stats.generation},
          {"creatorPid", stats.creator_pid},
          {"capacityBytes", stats.capacity_bytes},
          {"maxMessageSize", stats.max_message_size},
          {"slowConsumer", std::string(to_string(stats.policy))},
          {"tailPosition", stats.tail_position},
          {"publishedMessages", stats.published_messages},
          {"publishedBytes", stats.published_bytes},
          {"rejectedFull", stats.rejected_full},
          {"droppedOldest", stats.dropped_oldest},
          {"gaps", stats.gaps},
          {"reapedSubscribers", stats.reaped_subscribers},
          {"reattached", stats.reattached},
          {"fillRatio", stats.fill_ratio},
          {"producers", stats.producers},
          {"subscribers", std::move(subscribers)}};
}

void print_shm_text(const ChannelStats& stats) {
  std::printf("channel         %s (layout v%u, generation %llu, creator pid %d)\n",
              stats.name.c_str(), stats.layout_version,
              static_cast<unsigned long long>(stats.generation), stats.creator_pid);
  std::printf("capacity        %s bytes, max message %s, slow consumer %s\n",
              std::to_string(stats.capacity_bytes).c_str(),
              std::to_string(stats.max_message_size).c_str(),
              std::string(to_string(stats.policy)).c_str());
  std::printf("fill            %.1f%%\n", stats.fill_ratio * 100.0);
  std::printf("published       %llu messages, %llu bytes\n",
              static_cast<unsigned long long>(stats.published_messages),
              static_cast<unsigned long long>(stats.published_bytes));
  std::printf("drops           %llu rejected (full), %llu dropped oldest, %llu gaps\n",
              static_cast<unsigned long long>(stats.rejected_full),
              static_cast<unsigned long long>(stats.dropped_oldest),
              static_cast<unsigned long long>(stats.gaps));
  std::printf(
      "reattached      %llu (publishers and subscribers that moved here from the ring "
      "this one replaced)\n",
      static_cast<unsigned long long>(stats.reattached));
  std::printf("producers       %u\n", stats.producers);
  std::printf("subscribers     %zu\n", stats.subscribers.size());
  for (const SubscriberStats& subscriber : stats.subscribers) {
    std::printf(
        "  slot %-3u pid %-7d lag %llu bytes, delivered %llu, missed %llu%s%s\n", subscriber.slot,
        subscriber.pid, static_cast<unsigned long long>(subscriber.lag_bytes),
        static_cast<unsigned long long>(subscriber.delivered_messages),
        static_cast<unsigned long long>(subscriber.missed), subscriber.sleeping ? ", sleeping" : "",
        subscriber.sleeps_with_barrier ? "" : ", fenced commits (no membarrier)");
  }
}

}  // namespace

CLI::App* add_stat_command(CLI::App& app, StatArguments& arguments) {
  CLI::App* command = app.add_subcommand(
      "stat", "show a channel's header: capacity, fill, producers, subscribers and their lag");
  command_line::apply_conventions(*command);
  command->footer(
      "Reads a channel's shared-memory header (or, with --transport mq, the queue's attributes).");
  add_channel_flags(*command, arguments.channel);
  command_line::add_output_option(*command, arguments.output, {"text", "wide", "json", "yaml"})
      ->description(
          "text (default; wide is the same: every field and one line per subscriber), json or "
          "yaml (one object)");
  command_line::add_hidden_switch_alias(*command, "--json", arguments.output, "json");
  return command;
}

int run_stat(const StatArguments& arguments) {
  auto target = resolve_target(arguments.channel.channel, arguments.channel.namespace_name);
  if (!target) {
    std::cerr << command_line::usage_error("ipcmeshctl stat", target.error().message);
    return kExitUsage;
  }
  const std::string& transport = arguments.channel.transport;
  // One object for json and yaml; the text (and wide) layout otherwise.
  const auto print_object = [&](const nlohmann::json& object) {
    if (arguments.output == "yaml") {
      std::cout << documents_to_yaml({object});
    } else {
      std::cout << object.dump() << "\n";
    }
  };
  const bool json = arguments.output == "json" || arguments.output == "yaml";
  if (transport == "shm") {
    auto channel = ShmChannel::open(target->shm_name);
    if (!channel) {
      std::cerr << "ipcmeshctl stat: " << channel.error().message << "\n";
      return kExitFailure;
    }
    const ChannelStats stats = channel->stats();
    if (json) {
      print_object(shm_json(stats));
    } else {
      print_shm_text(stats);
    }
    return kExitOk;
  }
  auto queue = MessageQueue::open(target->mq_name, MessageQueue::Access::kReadOnly);
  if (!queue) {
    std::cerr << "ipcmeshctl stat: " << queue.error().message << "\n";
    return kExitFailure;
  }
  if (json) {
    print_object(nlohmann::json{{"name", queue->name()},
                                {"transport", "mq"},
                                {"messages", queue->current_messages()},
                                {"maxMessages", queue->max_messages()},
                                {"maxMessageSize", queue->max_message_size()}});
  } else {
    std::printf("queue           %s\nmessages        %ld of %u\nmax message     %u bytes\n",
                queue->name().c_str(), queue->current_messages(), queue->max_messages(),
                queue->max_message_size());
  }
  return kExitOk;
}

}  // namespace ipcmesh::cli
