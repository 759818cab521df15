// A cancellation flag that long-running loops (watches, leader election, sleeps) poll and wait on,
// and that transports subscribe to so a blocked read returns promptly (cpprestsdk: ~1.5 ms).
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>

namespace ipcmesh::kube {

class Cancellation {
 public:
  using Callback = std::function<void()>;

  Cancellation() = default;
  Cancellation(const Cancellation&) = delete;
  Cancellation& operator=(const Cancellation&) = delete;

  // Idempotent. Runs the subscribed callbacks once, outside the lock.
  void cancel() {
    std::map<std::uint64_t, Callback> callbacks;
    {
      std::lock_guard lock(mutex_);
      if (cancelled_) return;
      cancelled_ = true;
      callbacks.swap(callbacks_);
    }
    changed_.notify_all();
    for (auto& [id, callback] : callbacks) callback();
  }

  bool cancelled() const {
    std::lock_guard lock(mutex_);
    return cancelled_;
  }

  // Waits up to `timeout`; true when cancelled (early or already).
  template <typename Rep, typename Period>
  bool wait_for(std::chrono::duration<Rep, Period> timeout) const {
    std::unique_lock lock(mutex_);
    return changed_.wait_for(lock, timeout, [this] { return cancelled_; });
  }

  // Registers a callback run on cancel (immediately when already cancelled). Returns an id for
  // unsubscribe; 0 means it already ran.
  std::uint64_t subscribe(Callback callback) {
    {
      std::lock_guard lock(mutex_);
      if (!cancelled_) {
        const std::uint64_t id = ++next_id_;
        callbacks_.emplace(id, std::move(callback));
        return id;
      }
    }
    callback();
    return 0;
  }

  void unsubscribe(std::uint64_t id) {
    std::lock_guard lock(mutex_);
    callbacks_.erase(id);
  }

 private:
  mutable std::mutex mutex_;
  mutable std::condition_variable changed_;
  bool cancelled_ = false;
  std::uint64_t next_id_ = 0;
  std::map<std::uint64_t, Callback> callbacks_;
};

// Unsubscribes on scope exit, so a callback never outlives the operation that registered it.
class CancellationSubscription {
 public:
  CancellationSubscription(Cancellation& cancellation, Cancellation::Callback callback)
      : cancellation_(cancellation), id_(cancellation.subscribe(std::move(callback))) {}
  ~CancellationSubscription() {
    if (id_ != 0) cancellation_.unsubscribe(id_);
  }
  CancellationSubscription(const CancellationSubscription&) = delete;
  CancellationSubscription& operator=(const CancellationSubscription&) = delete;

 private:
  Cancellation& cancellation_;
  std::uint64_t id_;
};

}  // namespace ipcmesh::kube
