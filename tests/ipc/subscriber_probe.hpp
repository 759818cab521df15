// What a ring's stats show about its subscribers from outside their processes, for the tests of
// wait modes (docs/protocol.md W3): a subscriber in BusyPoll never sleeps on the futex; one in
// Adaptive or SpinThenSleep does while the ring is idle.
#pragma once

#include <chrono>
#include <thread>

#include "ipcmesh/shm_channel.hpp"

namespace ipcmesh {

// Whether the first subscriber of `channel` is seen asleep on the futex within `within`.
inline bool subscriber_sleeps(const ShmChannel& channel, std::chrono::milliseconds within) {
  const auto deadline = std::chrono::steady_clock::now() + within;
  while (std::chrono::steady_clock::now() < deadline) {
    const ChannelStats stats = channel.stats();
    if (!stats.subscribers.empty() && stats.subscribers.front().sleeping) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  return false;
}

}  // namespace ipcmesh
