// One channel as the relay holds it: the ownership locks, the POSIX objects created from the
// spec, and its bridge. Member order is destruction order in reverse: the bridge stops first,
// then each object is unlinked while its lock is still held, then the lock goes.
#pragma once

#include <spdlog/logger.h>

#include <memory>
#include <mutex>
#include <optional>
#include <vector>

#include "ipcmesh/channel_spec.hpp"
#include "ipcmesh/message_queue.hpp"
#include "ipcmesh/shm_channel.hpp"
#include "relay/bridge.hpp"
#include "relay/owner_lock.hpp"

namespace ipcmesh::relay {

struct HostedChannel {
  ChannelSpec spec;
  // scope: Node only: this relay's membership among the relays of the node sharing the channel.
  std::optional<MemberLock> members;
  std::optional<OwnerLock> shm_lock;
  std::optional<ShmChannel> shm;
  std::optional<OwnerLock> mq_lock;
  std::optional<MessageQueue> queue;
  std::unique_ptr<Bridge> bridge;
};

// Takes the ownership locks of every object the spec names. kAlreadyExists (with the holder's
// pid) while a live relay owns one of them; nothing is held then.
Result<HostedChannel> claim_channel(const ChannelSpec& spec, const std::string& lock_directory);

// With the locks held (no live relay owns these names): adopts a ring its predecessor left that
// matches the spec, and a queue that fits it (with its messages), else creates them with the
// spec's sizes and mode 0660 (a ring that does not match is replaced; a queue that does not fit
// is an error, never deleted), then starts the bridge.
Result<void> create_channel_objects(HostedChannel& channel, spdlog::logger& logger,
                                    const std::shared_ptr<spdlog::logger>& bridge_logger);

ShmChannelOptions shm_options(const ChannelSpec& spec);
MessageQueueOptions queue_options(const ChannelSpec& spec);

// The channels the relay hosts; the metrics thread reads it while startup appends to it.
struct ChannelTable {
  mutable std::mutex mutex;
  std::vector<std::unique_ptr<HostedChannel>> channels;
};

}  // namespace ipcmesh::relay
