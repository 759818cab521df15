// A rate-limited work queue with controller-runtime's (client-go workqueue's) semantics:
// - a key waiting in the queue is held once however often it is added (dedup);
// - a key being processed is never handed to a second worker: adding it marks it dirty and it is
//   queued again when the worker calls done() (so the reconcile sees the latest state);
// - add_rate_limited() delays by the larger of a per-key exponential backoff (5 ms doubling to
//   1000 s, until forget()) and an overall token bucket (10 qps, burst 100);
// - add_after() delays, keeping the earliest deadline for a key;
// - shutdown() wakes every worker; get() drains what is queued, then returns nullopt.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <unordered_map>
#include <unordered_set>

namespace ipcmesh::controller {

using QueueClock = std::chrono::steady_clock;

// The two limiters of workqueue.DefaultControllerRateLimiter, combined as MaxOf.
struct RateLimiterPolicy {
  std::chrono::nanoseconds base_delay = std::chrono::milliseconds(5);
  std::chrono::nanoseconds max_delay = std::chrono::seconds(1000);
  double qps = 10.0;
  double burst = 100.0;
};

class RateLimiter {
 public:
  explicit RateLimiter(RateLimiterPolicy policy = {});
  // The delay before `key` may run again, counting this as one more failure; `now` feeds the
  // token bucket (golang.org/x/time/rate: a reservation may drive the bucket below zero and
  // waits for it to refill).
  std::chrono::nanoseconds when(const std::string& key, QueueClock::time_point now);
  void forget(const std::string& key);
  int num_requeues(const std::string& key) const;

 private:
  RateLimiterPolicy policy_;
  std::unordered_map<std::string, int> failures_;
  double tokens_;
  std::optional<QueueClock::time_point> last_;
};

class WorkQueue {
 public:
  explicit WorkQueue(RateLimiterPolicy policy = {});

  void add(const std::string& key);
  void add_after(const std::string& key, std::chrono::nanoseconds delay);
  void add_rate_limited(const std::string& key);
  void forget(const std::string& key);
  int num_requeues(const std::string& key) const;

  // Blocks for the next key; nullopt once shut down and drained.
  std::optional<std::string> get();
  // The worker is finished with `key`; re-queues it when it was added meanwhile.
  void done(const std::string& key);

  void shutdown();
  bool shutting_down() const;
  std::size_t depth() const;    // keys ready to be handed out (the queue-depth metric)
  std::size_t waiting() const;  // keys delayed by add_after / add_rate_limited

 private:
  void add_locked(const std::string& key);
  void promote_due_locked(QueueClock::time_point now);

  mutable std::mutex mutex_;
  std::condition_variable changed_;
  std::deque<std::string> queue_;
  std::unordered_set<std::string> dirty_;       // needs processing (queued or re-add pending)
  std::unordered_set<std::string> processing_;  // handed to a worker, not done yet
  std::unordered_map<std::string, QueueClock::time_point> waiting_;  // key -> earliest ready time
  std::multimap<QueueClock::time_point, std::string> deadlines_;
  RateLimiter limiter_;
  bool shutting_down_ = false;
};

}  // namespace ipcmesh::controller
