// The sleeper barrier of rule W1c: what the kernel offers here, and what a barrier does for a
// thread of a registered process (the case the channel relies on, shown with two threads).
#include "channel/sleeper_barrier.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>

namespace ipcmesh::shm {
namespace {

// The development machines and CI run kernels >= 4.16 without a seccomp filter: rule W1c must be
// in effect there, or the benchmark figures in docs/benchmarks.md would not be what users get.
TEST(SleeperBarrier, IsOfferedAndRegistrationSucceedsOnThisKernel) {
  EXPECT_TRUE(register_for_sleeper_barriers());
  EXPECT_TRUE(register_for_sleeper_barriers()) << "registering twice is harmless";
  EXPECT_TRUE(sleeper_barrier_available());
  EXPECT_TRUE(sleeper_barrier());
}

// Waits for `value` spinning, as the two sides of W1c run on two cores; yields after a while so
// that a loaded machine which put both threads on one core still makes progress.
void await(const std::atomic<int>& word, int value) {
  for (int spins = 0; word.load(std::memory_order_acquire) != value; ++spins) {
    if (spins > 20000) std::this_thread::yield();
  }
}

// The Dekker pair of W1c with the real barrier: a "producer" thread stores its flag (release,
// no fence) and loads the other's; the "sleeper" stores its flag, issues the barrier and loads.
// At least one of them must see the other's store, in every round. The two sides start each
// round within a few nanoseconds of each other: without the barrier this machine shows both
// missing in about 1 round of 250 (measured), so 5,000 rounds catch a barrier that does nothing.
TEST(SleeperBarrier, OneSideAlwaysSeesTheOtherInAnAsymmetricDekkerPair) {
  ASSERT_TRUE(register_for_sleeper_barriers());
  constexpr int kRounds = 5000;
  alignas(64) std::atomic<int> round{-1};
  alignas(64) std::atomic<int> producer_flag{-1};
  alignas(64) std::atomic<int> sleeper_flag{-1};
  alignas(64) std::atomic<int> producer_saw{0};
  alignas(64) std::atomic<int> producer_done{-1};
  int both_missed = 0;
  int barrier_failures = 0;
  std::thread producer([&] {
    for (int r = 0; r < kRounds; ++r) {
      await(round, r);
      producer_flag.store(r, std::memory_order_release);
      std::atomic_signal_fence(std::memory_order_seq_cst);  // as Publisher::commit_record
      producer_saw.store(sleeper_flag.load(std::memory_order_relaxed) == r ? 1 : 0,
                         std::memory_order_relaxed);
      producer_done.store(r, std::memory_order_release);
    }
  });
  for (int r = 0; r < kRounds; ++r) {
    round.store(r, std::memory_order_release);
    sleeper_flag.store(r, std::memory_order_seq_cst);
    if (!sleeper_barrier()) ++barrier_failures;  // no ASSERT here: the thread must be joined
    const bool sleeper_saw = producer_flag.load(std::memory_order_relaxed) == r;
    await(producer_done, r);
    if (!sleeper_saw && producer_saw.load(std::memory_order_relaxed) == 0) ++both_missed;
  }
  producer.join();
  EXPECT_EQ(barrier_failures, 0);
  EXPECT_EQ(both_missed, 0);
}

}  // namespace
}  // namespace ipcmesh::shm
