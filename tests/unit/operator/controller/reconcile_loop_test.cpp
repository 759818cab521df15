#include "controller/reconcile_loop.hpp"

#include <gtest/gtest.h>

#include <stdexcept>

namespace ipcmesh::controller {
namespace {

using namespace std::chrono_literals;

// A failing reconcile is requeued with growing per-key delays; success forgets the history and
// honours requeue_after; the observer sees every run with its outcome.
TEST(ReconcileLoop, FailuresRequeueRateLimitedAndSuccessForgets) {
  WorkQueue queue;
  int calls = 0;
  std::vector<bool> outcomes;
  ReconcileLoop loop(
      queue,
      [&](const std::string& key) -> ReconcileResult {
        EXPECT_EQ(key, "team/frames");
        if (++calls < 3) throw std::runtime_error("API server unavailable");
        ReconcileResult result;
        if (calls == 3) result.requeue_after = 10ms;
        return result;
      },
      {[&](std::chrono::duration<double>, bool failed, bool) { outcomes.push_back(failed); }});
  queue.add("team/frames");
  ASSERT_TRUE(loop.process_next());
  EXPECT_EQ(queue.num_requeues("team/frames"), 1);
  EXPECT_EQ(queue.waiting(), 1u);  // delayed, not ready at once
  ASSERT_TRUE(loop.process_next());
  EXPECT_EQ(queue.num_requeues("team/frames"), 2);
  ASSERT_TRUE(loop.process_next());
  EXPECT_EQ(queue.num_requeues("team/frames"), 0);
  ASSERT_TRUE(loop.process_next());  // the requeue_after
  EXPECT_EQ(calls, 4);
  EXPECT_EQ(outcomes, (std::vector<bool>{true, true, false, false}));
  queue.shutdown();
  EXPECT_FALSE(loop.process_next());
}

// Started workers return once the queue shuts down.
TEST(ReconcileLoop, WorkersStopWhenTheQueueShutsDown) {
  WorkQueue queue;
  std::atomic<int> calls{0};
  ReconcileLoop loop(queue, [&](const std::string&) {
    ++calls;
    return ReconcileResult{};
  });
  loop.start(2);
  queue.add("a");
  queue.add("b");
  while (calls.load() < 2) std::this_thread::sleep_for(1ms);
  queue.shutdown();
  loop.join();
  EXPECT_EQ(calls.load(), 2);
}

}  // namespace
}  // namespace ipcmesh::controller
