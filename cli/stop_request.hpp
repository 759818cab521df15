// SIGTERM and SIGINT stop `ipcmeshctl pub` and `sub` cleanly, also as a container's PID 1, where
// the kernel gives those signals no default action (a Pod would wait its whole grace period and
// end with exit 137). The signals are blocked before any other thread starts and one thread waits
// for them: it sets the flag and runs the wake-up hook, so a receive blocked in the ring returns
// (SubscriberOptions::cancel). Waits that cannot be woken (a queue, a full ring) run in short
// slices that check the flag.
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <mutex>
#include <thread>

#include "ipcmesh/error.hpp"

namespace ipcmesh::cli {

class StopRequest {
 public:
  StopRequest();
  ~StopRequest();
  StopRequest(const StopRequest&) = delete;
  StopRequest& operator=(const StopRequest&) = delete;

  bool requested() const { return requested_.load(std::memory_order_acquire); }
  const std::atomic<bool>* flag() const { return &requested_; }
  // Runs on the signal's thread when a stop is requested; clear it (nullptr) before what it
  // touches goes away.
  void on_stop(std::function<void()> wake);

  // Retries `attempt(slice)` in slices of at most 200 ms until it succeeds, fails with anything
  // but `pending` (what a slice that ran out says: kTimeout, or kNotFound while waiting for a
  // channel to appear), `timeout` passes (that last result) or a stop is requested (kCancelled).
  template <typename Attempt>
  auto in_slices(std::chrono::nanoseconds timeout, Attempt attempt,
                 ErrorCode pending = ErrorCode::kTimeout) const -> decltype(attempt(timeout));

  // Sleeps for `duration` or until a stop is requested; returns false when stopped.
  bool sleep_for(std::chrono::nanoseconds duration) const;

 private:
  void wait_for_signal();

  std::atomic<bool> requested_{false};
  std::atomic<bool> closing_{false};
  std::mutex mutex_;
  std::function<void()> wake_;
  std::thread waiter_;
};

template <typename Attempt>
auto StopRequest::in_slices(std::chrono::nanoseconds timeout, Attempt attempt,
                            ErrorCode pending) const -> decltype(attempt(timeout)) {
  constexpr std::chrono::nanoseconds kSlice = std::chrono::milliseconds(200);
  const auto started = std::chrono::steady_clock::now();
  for (;;) {
    const auto elapsed = std::chrono::steady_clock::now() - started;
    const auto left = timeout > elapsed ? timeout - elapsed : std::chrono::nanoseconds(0);
    auto result = attempt(std::min(left, kSlice));
    if (result || result.error().code != pending) return result;
    if (requested()) return make_error(ErrorCode::kCancelled, "stopped by a signal");
    if (left <= kSlice) return result;
  }
}

}  // namespace ipcmesh::cli
