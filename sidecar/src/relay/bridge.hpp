// The relay's transport bridges, one thread each:
//  - MqToShmBridge: a legacy app that can only mq_send reaches every shared-memory subscriber.
//    The thread sleeps in poll() on the queue descriptor and a stop eventfd (no timeout, so no
//    wake-ups while idle), then publishes each message; under Block it waits for slow subscribers
//    instead of dropping (no loss).
//  - ShmToMqBridge: shm messages feed a work queue; the relay's subscriber holds the ring back
//    under Block while the queue is full (mq_send blocks), so nothing is lost either.
// A bridge whose ring turns out corrupted (a foreign program truncated it) stops by itself: it
// checks the ring's health once per message (one fstat) and on every error.
#pragma once

#include <spdlog/logger.h>

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <thread>

#include "ipcmesh/message_queue.hpp"
#include "ipcmesh/posix/unique_fd.hpp"
#include "ipcmesh/shm_channel.hpp"

namespace ipcmesh::relay {

class RingHealth;

struct BridgeCounters {
  std::atomic<std::uint64_t> messages{0};  // forwarded
  std::atomic<std::uint64_t> bytes{0};
  std::atomic<std::uint64_t> dropped{0};  // refused by the target (DropNewest) or too large
  std::atomic<std::uint64_t> errors{0};   // failed receive/send calls
};

enum class BridgeDirection : std::uint8_t { kMqToShm, kShmToMq };
std::string_view to_string(BridgeDirection direction) noexcept;

// How the shm->mq bridge's subscriber waits: the channel's sharedMemory.waitMode, except that
// BusyPoll becomes SpinThenSleep. BusyPoll is for an app on a pinned, dedicated core; the relay
// runs on its own resources (by default a 10m CPU request and no core of its own) and uses no CPU
// while idle (docs/relay.md), so a busy-polling relay would take a shared core for good.
// SpinThenSleep keeps the spin before each sleep and still sleeps.
WaitMode bridge_wait_mode(WaitMode channel_mode) noexcept;

class Bridge {
 public:
  // Attaches to the ring (publisher or subscriber) before returning, so a subscriber attached
  // after start() already sees every message the bridge forwards. `channel_wait_mode` is the
  // channel's sharedMemory.waitMode (shm->mq only, through bridge_wait_mode).
  static Result<std::unique_ptr<Bridge>> start(BridgeDirection direction, ShmChannel& channel,
                                               RingHealth& health, MessageQueue& queue,
                                               WaitMode channel_wait_mode,
                                               std::shared_ptr<spdlog::logger> logger);
  ~Bridge();  // stop()
  Bridge(const Bridge&) = delete;
  Bridge& operator=(const Bridge&) = delete;

  // Asks the thread to finish and joins it; an in-flight message is abandoned.
  void stop();
  BridgeDirection direction() const { return direction_; }
  const BridgeCounters& counters() const { return counters_; }
  // True when the bridge has nothing in hand (used by the drain on shutdown).
  bool idle() const { return !busy_.load(std::memory_order_acquire); }

 private:
  Bridge(BridgeDirection direction, ShmChannel& channel, RingHealth& health, MessageQueue& queue,
         std::shared_ptr<spdlog::logger> logger);
  void run_mq_to_shm(Publisher publisher);
  // Publishes one message from the queue, waiting while slow subscribers hold the ring (Block).
  void forward_to_ring(Publisher& publisher, std::span<const std::byte> payload);
  void run_shm_to_mq(Subscriber subscriber);
  // The ring broke under the bridge: count a message lost with it, log once; the loop then ends.
  void report_corrupted_ring(bool message_lost);
  bool stopping() const { return stop_.load(std::memory_order_acquire); }

  BridgeDirection direction_;
  ShmChannel& channel_;
  RingHealth& health_;
  MessageQueue& queue_;
  std::shared_ptr<spdlog::logger> logger_;
  posix::UniqueFd stop_event_;  // eventfd: wakes the mq->shm thread's poll()
  std::atomic<bool> stop_{false};
  std::atomic<bool> busy_{false};
  BridgeCounters counters_;
  std::thread thread_;
};

}  // namespace ipcmesh::relay
