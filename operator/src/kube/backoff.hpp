// Exponential backoff with client-go's reflector semantics (wait.NewExponentialBackoffManager:
// 800 ms doubling to 30 s, back to 800 ms once no backoff was needed for 2 minutes), plus
// optional jitter so that many replicas do not relist in lockstep after an API server restart.
#pragma once

#include <chrono>
#include <optional>
#include <random>

#include "kube/clock.hpp"

namespace ipcmesh::kube {

struct BackoffPolicy {
  std::chrono::milliseconds initial{800};
  std::chrono::milliseconds max{30'000};
  std::chrono::milliseconds reset_after{120'000};  // a healthy period this long resets the delay
  double factor = 2.0;
  double jitter = 0.25;  // delay * (1 + U[0, jitter)); 0 in tests for exact figures
};

class Backoff {
 public:
  explicit Backoff(BackoffPolicy policy = {}, std::uint64_t seed = std::random_device{}())
      : policy_(policy), engine_(seed), current_(policy.initial) {}

  // The delay to wait now. `now` is when the failure happened.
  Clock::Duration next(Clock::SteadyTime now) {
    if (last_ && now - *last_ >= policy_.reset_after) current_ = policy_.initial;
    last_ = now;
    const auto base = current_;
    current_ = std::min<std::chrono::milliseconds>(
        policy_.max, std::chrono::milliseconds(static_cast<std::int64_t>(
                         static_cast<double>(current_.count()) * policy_.factor)));
    double scale = 1.0;
    if (policy_.jitter > 0)
      scale += std::uniform_real_distribution<double>(0, policy_.jitter)(engine_);
    return std::chrono::duration_cast<Clock::Duration>(
        std::chrono::duration<double, std::milli>(static_cast<double>(base.count()) * scale));
  }

 private:
  BackoffPolicy policy_;
  std::mt19937_64 engine_;
  std::chrono::milliseconds current_;
  std::optional<Clock::SteadyTime> last_;
};

}  // namespace ipcmesh::kube
