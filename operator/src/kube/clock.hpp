// The clock seam: backoff, lease expiry, token refresh and every sleep go through it so tests can
// drive time without waiting. SystemClock is the real one.
#pragma once

#include <chrono>

#include "kube/cancellation.hpp"

namespace ipcmesh::kube {

class Clock {
 public:
  using SteadyTime = std::chrono::steady_clock::time_point;
  using WallTime = std::chrono::system_clock::time_point;
  using Duration = std::chrono::steady_clock::duration;

  virtual ~Clock() = default;
  // Monotonic time for durations and expiry (leader election judges expiry on this, not on the
  // timestamps other replicas write: client-go does the same to survive clock skew).
  virtual SteadyTime now() const = 0;
  // Wall time, only for timestamps written into objects (Lease renewTime, condition times).
  virtual WallTime wall_now() const = 0;
  // Sleeps up to `duration`; returns false when cancelled first.
  virtual bool sleep_for(Duration duration, const Cancellation& cancellation) = 0;
};

class SystemClock final : public Clock {
 public:
  SteadyTime now() const override { return std::chrono::steady_clock::now(); }
  WallTime wall_now() const override { return std::chrono::system_clock::now(); }
  bool sleep_for(Duration duration, const Cancellation& cancellation) override {
    return !cancellation.wait_for(duration);
  }
};

}  // namespace ipcmesh::kube
