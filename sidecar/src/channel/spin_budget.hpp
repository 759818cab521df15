// How long a subscriber in WaitMode::kAdaptive spins before it sleeps (docs/protocol.md, W3).
//
// Spinning pays while the data usually arrives during the spin: it saves the producer a
// FUTEX_WAKE and the subscriber a wake-up (tens of microseconds). It does not pay when the data
// usually comes only after the spin gave up (messages further apart than the spin), nor when the
// core is shared with the producer (it cannot run while we spin) or the CPU quota is spent (CFS
// throttling): then spinning only burns time someone else needs. So the budget is the full spin
// time while most recent spins ended with data, and zero otherwise; with a zero budget every
// sixteenth wait spins once more (a probe), so that a faster stream is noticed. A spin round
// that comes back long after the previous one means this thread was descheduled: that spin
// counts as failed and ends at once.
//
// Plain arithmetic: the caller reads the clock, so tests drive it with any durations.
#pragma once

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <utility>

namespace ipcmesh::shm {

class SpinBudget {
 public:
  // A spin round takes about a microsecond; a gap this long means the thread did not run.
  static constexpr std::chrono::nanoseconds kDescheduledGap = std::chrono::microseconds(50);
  static constexpr std::uint32_t kProbeEvery = 16;

  explicit SpinBudget(std::chrono::nanoseconds ceiling) : ceiling_(ceiling), budget_(ceiling) {}

  // How long the current wait may spin.
  std::chrono::nanoseconds limit() const { return budget_; }

  // The wait ended with data; `slept`: the spin ran out first (or was cut short).
  void on_wait_ended(bool slept) {
    if (budget_.count() == 0) {
      if (++waits_without_spin_ >= kProbeEvery) {
        waits_without_spin_ = 0;
        budget_ = ceiling_;  // one probe
        probing_ = true;
      }
      return;
    }
    // A probe that ends with data means spinning pays again: resume at once.
    if (std::exchange(probing_, false) && !slept) score_ = std::max(score_, kSpinWhileScoreAtLeast);
    score_ = score_ - score_ / 8 + (slept ? 0 : kSuccessWeight);
    budget_ = score_ >= kSpinWhileScoreAtLeast ? ceiling_ : std::chrono::nanoseconds(0);
  }

  // Between two spin rounds of one wait: false when the gap shows the thread was descheduled
  // (a shared core, a CPU quota): stop spinning now; the wait counts as failed.
  bool keep_spinning(std::chrono::nanoseconds since_last_round) const {
    return since_last_round < kDescheduledGap;
  }

 private:
  // score_ is a moving average of spin outcomes: 8 * kSuccessWeight when every spin succeeded.
  static constexpr std::uint32_t kSuccessWeight = 32;
  static constexpr std::uint32_t kSpinWhileScoreAtLeast = 4 * kSuccessWeight;  // half succeed
  std::chrono::nanoseconds ceiling_;
  std::chrono::nanoseconds budget_;
  std::uint32_t score_ = 8 * kSuccessWeight;
  std::uint32_t waits_without_spin_ = 0;
  bool probing_ = false;
};

}  // namespace ipcmesh::shm
