#include "controller/work_queue.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <future>
#include <set>
#include <thread>
#include <vector>

namespace ipcmesh::controller {
namespace {

using namespace std::chrono_literals;

// A key added many times while it waits is handed out once.
TEST(WorkQueue, DeduplicatesKeysWaitingInTheQueue) {
  WorkQueue queue;
  queue.add("a");
  queue.add("b");
  queue.add("a");
  queue.add("a");
  EXPECT_EQ(queue.depth(), 2u);
  EXPECT_EQ(queue.get(), "a");
  EXPECT_EQ(queue.get(), "b");
  EXPECT_EQ(queue.depth(), 0u);
  queue.done("a");
  queue.done("b");
  EXPECT_EQ(queue.depth(), 0u);
}

// A key added while a worker processes it is not handed to another worker; it is queued again
// (once) when the first worker calls done().
TEST(WorkQueue, NeverHandsOutAKeyThatIsBeingProcessed) {
  WorkQueue queue;
  queue.add("a");
  ASSERT_EQ(queue.get(), "a");
  queue.add("a");
  queue.add("a");
  queue.add("b");
  EXPECT_EQ(queue.depth(), 1u);  // only b is ready
  EXPECT_EQ(queue.get(), "b");
  queue.done("b");
  queue.done("a");
  EXPECT_EQ(queue.depth(), 1u);
  EXPECT_EQ(queue.get(), "a");
  queue.done("a");
  EXPECT_EQ(queue.depth(), 0u);
}

// Four workers hammering ten keys never hold one key at the same time.
TEST(WorkQueue, ConcurrentWorkersNeverShareAKey) {
  WorkQueue queue;
  std::mutex mutex;
  std::set<std::string> in_flight;
  std::atomic<bool> overlap{false};
  std::atomic<int> processed{0};
  std::vector<std::thread> workers;
  for (int w = 0; w < 4; ++w) {
    workers.emplace_back([&] {
      while (auto key = queue.get()) {
        {
          std::lock_guard lock(mutex);
          if (!in_flight.insert(*key).second) overlap = true;
        }
        std::this_thread::sleep_for(100us);
        {
          std::lock_guard lock(mutex);
          in_flight.erase(*key);
        }
        ++processed;
        queue.done(*key);
      }
    });
  }
  for (int round = 0; round < 300; ++round) {
    for (int k = 0; k < 10; ++k) queue.add("key-" + std::to_string(k));
    if (round % 50 == 0) std::this_thread::sleep_for(1ms);
  }
  while (queue.depth() > 0) std::this_thread::sleep_for(1ms);
  queue.shutdown();
  for (auto& worker : workers) worker.join();
  EXPECT_FALSE(overlap.load());
  EXPECT_GE(processed.load(), 10);
}

// Per-key delays double from 5 ms and stop at 1000 s; forget() starts a key over; other keys
// have their own history.
TEST(RateLimiter, PerKeyDelayDoublesFromFiveMillisecondsToTheCap) {
  RateLimiter limiter(RateLimiterPolicy{5ms, 1000s, 1e9, 1e9});  // bucket out of the way
  const auto now = QueueClock::now();
  EXPECT_EQ(limiter.when("a", now), 5ms);
  EXPECT_EQ(limiter.when("a", now), 10ms);
  EXPECT_EQ(limiter.when("a", now), 20ms);
  EXPECT_EQ(limiter.when("b", now), 5ms);
  EXPECT_EQ(limiter.num_requeues("a"), 3);
  for (int i = 0; i < 40; ++i) limiter.when("a", now);
  EXPECT_EQ(limiter.when("a", now), 1000s);
  limiter.forget("a");
  EXPECT_EQ(limiter.num_requeues("a"), 0);
  EXPECT_EQ(limiter.when("a", now), 5ms);
}

// The overall bucket lets a burst of 100 through, then paces at 10 per second, and refills.
TEST(RateLimiter, OverallBucketAllowsABurstOfOneHundredThenTenPerSecond) {
  RateLimiter limiter;  // 10 qps, burst 100
  const auto now = QueueClock::now();
  for (int i = 0; i < 100; ++i) {
    EXPECT_EQ(limiter.when("key-" + std::to_string(i), now), 5ms) << i;
  }
  EXPECT_EQ(limiter.when("key-100", now), 100ms);
  EXPECT_EQ(limiter.when("key-101", now), 200ms);
  // Ten seconds later the bucket is full again.
  EXPECT_EQ(limiter.when("key-102", now + 10s), 5ms);
}

// add_after delays a key; a second add_after keeps the earlier deadline; add_rate_limited goes
// through the limiter.
TEST(WorkQueue, AddAfterDelaysAndKeepsTheEarliestDeadline) {
  WorkQueue queue;
  const auto start = QueueClock::now();
  queue.add_after("late", 60s);
  queue.add_after("late", 20ms);
  queue.add_after("late", 30s);
  EXPECT_EQ(queue.waiting(), 1u);
  EXPECT_EQ(queue.depth(), 0u);
  EXPECT_EQ(queue.get(), "late");
  EXPECT_GE(QueueClock::now() - start, 20ms);
  queue.done("late");
  queue.add_rate_limited("retry");
  EXPECT_EQ(queue.num_requeues("retry"), 1);
  EXPECT_EQ(queue.get(), "retry");
  queue.forget("retry");
  EXPECT_EQ(queue.num_requeues("retry"), 0);
  queue.done("retry");
}

// shutdown() wakes a blocked worker; what was queued is drained first, then get() says stop,
// and adds after shutdown are ignored.
TEST(WorkQueue, ShutdownDrainsThenStopsEveryWorker) {
  WorkQueue queue;
  auto blocked = std::async(std::launch::async, [&] { return queue.get(); });
  EXPECT_EQ(blocked.wait_for(50ms), std::future_status::timeout);
  queue.shutdown();
  ASSERT_EQ(blocked.wait_for(30s), std::future_status::ready);
  EXPECT_FALSE(blocked.get().has_value());

  WorkQueue draining;
  draining.add("a");
  draining.add_after("delayed", 1h);
  draining.shutdown();
  draining.add("b");
  EXPECT_TRUE(draining.shutting_down());
  EXPECT_EQ(draining.get(), "a");
  EXPECT_FALSE(draining.get().has_value());
}

}  // namespace
}  // namespace ipcmesh::controller
