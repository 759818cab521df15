// Which POSIX objects a --channel argument means: a POSIX name ("/posix_mq_example") is used as
// given; a channel name is looked up in the Pod's channel document (IPCMESH_CHANNELS, so a legacy
// queue name is honoured) and otherwise derived from --namespace (default "default") and the name.
#pragma once

#include <chrono>
#include <optional>
#include <string>

#include "ipcmesh/command_line.hpp"
#include "ipcmesh/error.hpp"
#include "ipcmesh/message_queue.hpp"
#include "ipcmesh/shm_channel.hpp"

namespace ipcmesh::cli {

// The flags that name a channel, the same in pub, sub and stat.
struct ChannelFlags {
  std::string channel;
  std::optional<std::string> namespace_name;
  std::string transport = "shm";
};

// --channel NAME (required), -n/--namespace NS, --transport shm|mq.
void add_channel_flags(CLI::App& command, ChannelFlags& flags);

struct ChannelTarget {
  std::string shm_name;
  std::string mq_name;
  std::optional<ChannelSpec> spec;  // when the channel was found in the Pod's document
};

Result<ChannelTarget> resolve_target(const std::string& channel,
                                     const std::optional<std::string>& namespace_name);

// Opens an existing queue, retrying while it does not exist yet (the relay may be starting).
Result<MessageQueue> open_queue_wait(const std::string& name, MessageQueue::Access access,
                                     std::chrono::nanoseconds timeout);

}  // namespace ipcmesh::cli
