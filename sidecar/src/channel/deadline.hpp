// Deadlines of the channel's blocking calls: a timeout of kWaitForever never ends, and the clock
// is read only when a call is about to wait (never on the data path that finds room or data).
#pragma once

#include <algorithm>
#include <chrono>

#include "ipcmesh/shm_channel.hpp"

namespace ipcmesh::shm {

using Clock = std::chrono::steady_clock;

inline Clock::time_point deadline_after(std::chrono::nanoseconds timeout) {
  if (timeout == kWaitForever) return Clock::time_point::max();
  return Clock::now() + timeout;
}

// What is left until `deadline`, at most `cap` (and `cap` itself when there is no deadline).
inline std::chrono::nanoseconds until(Clock::time_point deadline, std::chrono::nanoseconds cap) {
  if (deadline == Clock::time_point::max()) return cap;
  const auto left = deadline - Clock::now();
  return std::clamp<std::chrono::nanoseconds>(left, std::chrono::nanoseconds(0), cap);
}

// The deadline of a call, computed the first time the call has to wait.
class LazyDeadline {
 public:
  explicit LazyDeadline(std::chrono::nanoseconds timeout) : timeout_(timeout) {}
  std::chrono::nanoseconds timeout() const { return timeout_; }
  Clock::time_point get() {
    if (!set_) {
      at_ = deadline_after(timeout_);
      set_ = true;
    }
    return at_;
  }

 private:
  std::chrono::nanoseconds timeout_;
  Clock::time_point at_{};
  bool set_ = false;
};

}  // namespace ipcmesh::shm
