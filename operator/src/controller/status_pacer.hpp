// Paces each channel's status writes: under Pod churn a channel's status is written at most once
// per window, and still within a window of the last change. A Pod event does not reconcile its
// channels at once when one of them was written less than a window ago; it queues them for the
// end of that window, where the work queue folds every event meanwhile into one reconcile (and
// one write). An isolated change is reconciled at once. The work queue already keeps one
// reconcile, so one write, in flight per channel.
#pragma once

#include <chrono>
#include <mutex>
#include <string>
#include <unordered_map>

#include "kube/clock.hpp"

namespace ipcmesh::controller {

class StatusPacer {
 public:
  StatusPacer(const kube::Clock& clock, std::chrono::nanoseconds window)
      : clock_(clock), window_(window) {}

  // How long a Pod event's reconcile of `key` should wait: 0 unless the channel's status was
  // written less than a window ago.
  std::chrono::nanoseconds delay(const std::string& key) const {
    std::lock_guard lock(mutex_);
    const auto it = last_write_.find(key);
    if (it == last_write_.end()) return std::chrono::nanoseconds::zero();
    const auto left = it->second + window_ - clock_.now();
    return left > kube::Clock::Duration::zero()
               ? std::chrono::duration_cast<std::chrono::nanoseconds>(left)
               : std::chrono::nanoseconds::zero();
  }
  void wrote(const std::string& key) {
    std::lock_guard lock(mutex_);
    last_write_[key] = clock_.now();
  }
  void forget(const std::string& key) {
    std::lock_guard lock(mutex_);
    last_write_.erase(key);
  }
  std::chrono::nanoseconds window() const noexcept { return window_; }

 private:
  const kube::Clock& clock_;
  std::chrono::nanoseconds window_;
  mutable std::mutex mutex_;
  std::unordered_map<std::string, kube::Clock::SteadyTime> last_write_;
};

}  // namespace ipcmesh::controller
