#include "controller/work_queue.hpp"

#include <algorithm>
#include <cmath>

namespace ipcmesh::controller {

RateLimiter::RateLimiter(RateLimiterPolicy policy) : policy_(policy), tokens_(policy.burst) {}

std::chrono::nanoseconds RateLimiter::when(const std::string& key, QueueClock::time_point now) {
  // Per key: base * 2^failures, capped (ItemExponentialFailureRateLimiter).
  const int failures = failures_[key]++;
  const double exponential =
      static_cast<double>(policy_.base_delay.count()) * std::pow(2.0, std::min(failures, 62));
  const auto per_key = std::chrono::nanoseconds(static_cast<std::int64_t>(
      std::min(exponential, static_cast<double>(policy_.max_delay.count()))));

  // Overall: a token bucket of `burst` tokens refilled at `qps` (BucketRateLimiter).
  if (last_) {
    const double elapsed = std::chrono::duration<double>(now - *last_).count();
    tokens_ = std::min(policy_.burst, tokens_ + std::max(0.0, elapsed) * policy_.qps);
  }
  last_ = std::max(now, last_.value_or(now));
  tokens_ -= 1.0;
  const auto bucket =
      tokens_ >= 0
          ? std::chrono::nanoseconds(0)
          : std::chrono::nanoseconds(static_cast<std::int64_t>(-tokens_ / policy_.qps * 1e9));
  return std::max(per_key, bucket);
}

void RateLimiter::forget(const std::string& key) {
  failures_.erase(key);
}

int RateLimiter::num_requeues(const std::string& key) const {
  const auto it = failures_.find(key);
  return it == failures_.end() ? 0 : it->second;
}

WorkQueue::WorkQueue(RateLimiterPolicy policy) : limiter_(policy) {}

void WorkQueue::add_locked(const std::string& key) {
  if (shutting_down_) return;
  if (!dirty_.insert(key).second) return;   // already waiting to be processed
  if (processing_.count(key) != 0) return;  // done() will queue it again
  queue_.push_back(key);
  changed_.notify_one();
}

void WorkQueue::add(const std::string& key) {
  std::lock_guard lock(mutex_);
  add_locked(key);
}

void WorkQueue::add_after(const std::string& key, std::chrono::nanoseconds delay) {
  std::lock_guard lock(mutex_);
  if (shutting_down_) return;
  if (delay <= std::chrono::nanoseconds(0)) {
    add_locked(key);
    return;
  }
  const auto ready = QueueClock::now() + delay;
  const auto it = waiting_.find(key);
  if (it != waiting_.end()) {
    if (it->second <= ready) return;  // an earlier deadline already stands
    for (auto range = deadlines_.equal_range(it->second); range.first != range.second;
         ++range.first) {
      if (range.first->second == key) {
        deadlines_.erase(range.first);
        break;
      }
    }
    it->second = ready;
  } else {
    waiting_.emplace(key, ready);
  }
  deadlines_.emplace(ready, key);
  changed_.notify_all();  // a worker may need to wake earlier than it planned
}

void WorkQueue::add_rate_limited(const std::string& key) {
  std::chrono::nanoseconds delay;
  {
    std::lock_guard lock(mutex_);
    delay = limiter_.when(key, QueueClock::now());
  }
  add_after(key, delay);
}

void WorkQueue::forget(const std::string& key) {
  std::lock_guard lock(mutex_);
  limiter_.forget(key);
}

int WorkQueue::num_requeues(const std::string& key) const {
  std::lock_guard lock(mutex_);
  return limiter_.num_requeues(key);
}

void WorkQueue::promote_due_locked(QueueClock::time_point now) {
  while (!deadlines_.empty() && deadlines_.begin()->first <= now) {
    const std::string key = deadlines_.begin()->second;
    deadlines_.erase(deadlines_.begin());
    waiting_.erase(key);
    add_locked(key);
  }
}

std::optional<std::string> WorkQueue::get() {
  std::unique_lock lock(mutex_);
  while (true) {
    promote_due_locked(QueueClock::now());
    if (!queue_.empty()) break;
    if (shutting_down_) return std::nullopt;
    if (deadlines_.empty()) {
      changed_.wait(lock);
    } else {
      changed_.wait_until(lock, deadlines_.begin()->first);
    }
  }
  std::string key = std::move(queue_.front());
  queue_.pop_front();
  processing_.insert(key);
  dirty_.erase(key);
  return key;
}

void WorkQueue::done(const std::string& key) {
  std::lock_guard lock(mutex_);
  processing_.erase(key);
  if (dirty_.count(key) != 0) {
    queue_.push_back(key);
    changed_.notify_one();
  }
}

void WorkQueue::shutdown() {
  std::lock_guard lock(mutex_);
  shutting_down_ = true;
  // Delayed keys are dropped: nobody will process them after shutdown.
  deadlines_.clear();
  waiting_.clear();
  changed_.notify_all();
}

bool WorkQueue::shutting_down() const {
  std::lock_guard lock(mutex_);
  return shutting_down_;
}

std::size_t WorkQueue::depth() const {
  std::lock_guard lock(mutex_);
  return queue_.size();
}

std::size_t WorkQueue::waiting() const {
  std::lock_guard lock(mutex_);
  return waiting_.size();
}

}  // namespace ipcmesh::controller
