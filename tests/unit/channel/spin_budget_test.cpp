// How long an adaptive subscriber spins (rule W3).
#include "channel/spin_budget.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <string>

#include "channel/shm_layout.hpp"
#include "ipcmesh/shm_channel.hpp"

namespace ipcmesh {
namespace {

using namespace std::chrono_literals;
using shm::SpinBudget;

TEST(SpinBudget, SpinsTheWholeSpinTimeWhileSpinsEndWithData) {
  SpinBudget budget(50us);
  EXPECT_EQ(budget.limit(), 50us);
  for (int i = 0; i < 100; ++i) budget.on_wait_ended(false);
  EXPECT_EQ(budget.limit(), 50us);
  budget.on_wait_ended(true);  // one slow message does not stop spinning
  budget.on_wait_ended(true);
  EXPECT_EQ(budget.limit(), 50us);
}

// Messages further apart than the spin (or a core shared with the producer): spins fail, so the
// subscriber sleeps at once (no CPU burnt between messages in a CPU-limited Pod); a probe every
// kProbeEvery waits notices when spinning pays again.
TEST(SpinBudget, FailedSpinsSleepAtOnceAndProbesFindAFasterStream) {
  SpinBudget budget(50us);
  int failed = 0;
  while (budget.limit() > 0ns && failed < 100) {
    budget.on_wait_ended(true);
    ++failed;
  }
  EXPECT_EQ(budget.limit(), 0ns);
  EXPECT_LE(failed, 8) << "spinning must stop after a few failed spins";
  int probes = 0;
  for (std::uint32_t i = 0; i < 2 * (SpinBudget::kProbeEvery + 1); ++i) {
    if (budget.limit() > 0ns) ++probes;
    budget.on_wait_ended(budget.limit() > 0ns);  // every probe fails too
  }
  EXPECT_EQ(probes, 2);
  for (std::uint32_t i = 0; i < 4 * SpinBudget::kProbeEvery && budget.limit() == 0ns; ++i) {
    budget.on_wait_ended(false);
  }
  EXPECT_EQ(budget.limit(), 50us) << "a successful probe must bring spinning back";
}

// A spin round that comes back long after the previous one: this thread was descheduled (a
// shared core, CFS throttling): the spin ends at once.
TEST(SpinBudget, BeingDescheduledEndsTheSpin) {
  const SpinBudget budget(50us);
  EXPECT_TRUE(budget.keep_spinning(2us));
  EXPECT_FALSE(budget.keep_spinning(SpinBudget::kDescheduledGap + 1us));
}

}  // namespace
}  // namespace ipcmesh
