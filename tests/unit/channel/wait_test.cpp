// How subscribers wait: the adaptive spin budget (rule W3) and coalesced wake-ups (rule W1b).
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/mman.h>
#include <unistd.h>

#include <chrono>
#include <string>

#include "channel/shm_layout.hpp"
#include "channel/spin_budget.hpp"
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

// The control block of a channel, mapped as a second process would.
class RawControl {
 public:
  explicit RawControl(const std::string& name) {
    const int fd = ::shm_open(name.c_str(), O_RDWR, 0);
    if (fd >= 0) {
      base_ = ::mmap(nullptr, shm::kControlBlockBytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
      ::close(fd);
    }
  }
  ~RawControl() {
    if (base_ != MAP_FAILED) ::munmap(base_, shm::kControlBlockBytes);
  }
  bool ok() const { return base_ != MAP_FAILED; }
  shm::ControlBlock& control() { return *static_cast<shm::ControlBlock*>(base_); }

 private:
  void* base_ = MAP_FAILED;
};

// Rule W1b, with the sleepers' words set by hand: a sleeper that asked for a wake-up gets one; a
// woken one that has not run yet (it still counts as asleep) costs no further FUTEX_WAKE; a
// sleeper of a build without W1b (counted in sleeping_subscribers only) is woken on every commit.
TEST(WakeCoalescing, OneWakeUpPerRequestButEveryCommitForOlderSleepers) {
  ShmChannelOptions options;
  options.name = "/ipcmesh-test-wake." + std::to_string(::getpid());
  ShmChannel::unlink(options.name);
  auto channel = ShmChannel::create(options);
  ASSERT_TRUE(channel) << channel.error().message;
  auto publisher = Publisher::attach(*channel);
  ASSERT_TRUE(publisher);
  RawControl raw(options.name);
  ASSERT_TRUE(raw.ok());
  shm::ControlBlock& control = raw.control();
  const std::byte payload[8]{};
  const auto wakes_after_commit = [&] {
    const std::uint32_t before = control.data_futex.load();
    EXPECT_TRUE(publisher->publish(payload));
    return control.data_futex.load() - before;
  };

  control.sleeping_subscribers = 1;  // one W1b sleeper that asked
  control.coalescing_sleepers = 1;
  control.wake_requested = 1;
  EXPECT_EQ(wakes_after_commit(), 1u);
  EXPECT_EQ(control.wake_requested.load(), 0u);
  EXPECT_EQ(wakes_after_commit(), 0u) << "woken already, not yet running: no second FUTEX_WAKE";
  EXPECT_EQ(wakes_after_commit(), 0u);

  control.sleeping_subscribers = 2;  // and a sleeper of an older build
  EXPECT_EQ(wakes_after_commit(), 1u);
  EXPECT_EQ(wakes_after_commit(), 1u);

  control.sleeping_subscribers = 0;
  control.coalescing_sleepers = 0;
  EXPECT_EQ(wakes_after_commit(), 0u);
}

}  // namespace
}  // namespace ipcmesh
