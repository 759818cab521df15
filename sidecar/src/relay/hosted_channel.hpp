// One channel as the relay holds it: the ownership locks, the POSIX objects created from the
// spec, and its bridge. Member order is destruction order in reverse: the bridge stops first,
// then each object is unlinked while its lock is still held, then the lock goes.
#pragma once

#include <spdlog/logger.h>

#include <atomic>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "ipcmesh/channel_spec.hpp"
#include "ipcmesh/message_queue.hpp"
#include "ipcmesh/shm_channel.hpp"
#include "relay/bridge.hpp"
#include "relay/owner_lock.hpp"
#include "relay/ring_fault_guard.hpp"

namespace ipcmesh::relay {

// Whether a hosted ring is still usable. Once a foreign program resized it (rule F1 of
// docs/protocol.md) it is corrupted for good: the relay stops using it (its bridge stops, nothing
// reads its counters), says so on /metrics, /readyz and in one log line, and keeps serving
// everything else. Thread-safe: the HTTP thread and the bridge thread check it.
class RingHealth {
 public:
  RingHealth(std::string channel, RingFaultGuard::Watch watch,
             std::shared_ptr<spdlog::logger> logger);
  // One fstat (ShmChannel::verify) and the fault guard's flag; false from the first failure on.
  bool check(const ShmChannel& ring);
  bool corrupted() const { return corrupted_.load(std::memory_order_acquire); }
  // What is wrong with the ring (empty while it is intact).
  std::string problem() const;

 private:
  const std::string channel_;  // namespace/name, for the log line
  RingFaultGuard::Watch watch_;
  std::shared_ptr<spdlog::logger> logger_;
  std::atomic<bool> corrupted_{false};
  mutable std::mutex mutex_;
  std::string problem_;  // guarded by mutex_
};

struct HostedChannel {
  ChannelSpec spec;
  // scope: Node only: this relay's membership among the relays of the node sharing the channel.
  std::optional<MemberLock> members;
  std::optional<OwnerLock> shm_lock;
  std::optional<ShmChannel> shm;
  // Watches shm's mapping: destroyed before it, after the bridge.
  std::unique_ptr<RingHealth> ring_health;
  std::optional<OwnerLock> mq_lock;
  std::optional<MessageQueue> queue;
  std::unique_ptr<Bridge> bridge;

  // Checks the ring now (RingHealth::check): false once it is corrupted, true without a ring (or
  // before it is watched).
  bool ring_intact() const { return !shm || !ring_health || ring_health->check(*shm); }
  std::string ring_problem() const { return ring_health ? ring_health->problem() : std::string(); }
};

// Takes the ownership locks of every object the spec names. kAlreadyExists (with the holder's
// pid) while a live relay owns one of them; nothing is held then.
Result<HostedChannel> claim_channel(const ChannelSpec& spec, const std::string& lock_directory);

// With the locks held (no live relay owns these names): adopts a ring its predecessor left that
// matches the spec, and a queue that fits it (with its messages), else creates them with the
// spec's sizes and mode 0660 (a ring that does not match is closed for the apps on it, which move
// to the new one, and replaced; a queue that does not fit is an error, never deleted), watches
// the ring with the fault guard, then starts the bridge.
Result<void> create_channel_objects(HostedChannel& channel, RingFaultGuard& fault_guard,
                                    const std::shared_ptr<spdlog::logger>& logger);

ShmChannelOptions shm_options(const ChannelSpec& spec);
MessageQueueOptions queue_options(const ChannelSpec& spec);

// The channels the relay hosts; the metrics thread reads it while startup appends to it.
struct ChannelTable {
  mutable std::mutex mutex;
  std::vector<std::unique_ptr<HostedChannel>> channels;
};

}  // namespace ipcmesh::relay
