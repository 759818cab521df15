// A Clock whose sleeps return at once and move time forward: backoff and lease tests run in
// microseconds and check exact delays. Shared by the kube and controller tests.
#pragma once

#include <functional>
#include <mutex>
#include <vector>

#include "kube/clock.hpp"

namespace ipcmesh::kube::testing {

class FakeClock final : public Clock {
 public:
  SteadyTime now() const override {
    std::lock_guard lock(mutex_);
    return now_;
  }
  WallTime wall_now() const override {
    std::lock_guard lock(mutex_);
    return WallTime(std::chrono::duration_cast<WallTime::duration>(now_.time_since_epoch())) +
           std::chrono::hours(24 * 365 * 56);
  }
  bool sleep_for(Duration duration, const Cancellation& cancellation) override {
    if (cancellation.cancelled()) return false;
    std::function<void()> hook;
    {
      std::lock_guard lock(mutex_);
      sleeps_.push_back(duration);
      now_ += duration;
      hook = on_sleep_;
    }
    if (hook) hook();
    return !cancellation.cancelled();
  }
  void advance(Duration duration) {
    std::lock_guard lock(mutex_);
    now_ += duration;
  }
  std::vector<Duration> sleeps() const {
    std::lock_guard lock(mutex_);
    return sleeps_;
  }
  // Runs after every sleep (e.g. to cancel after the n-th one).
  void on_sleep(std::function<void()> hook) {
    std::lock_guard lock(mutex_);
    on_sleep_ = std::move(hook);
  }

 private:
  mutable std::mutex mutex_;
  SteadyTime now_{std::chrono::hours(1)};
  std::vector<Duration> sleeps_;
  std::function<void()> on_sleep_;
};

}  // namespace ipcmesh::kube::testing
