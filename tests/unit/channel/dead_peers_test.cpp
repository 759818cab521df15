// Dead peers (rules L2, L3): a slot whose liveness lock nobody holds belongs to a dead process.
#include "channel/dead_peers.hpp"

#include <gtest/gtest.h>

#include "channel/peer_table.hpp"
#include "channel/records.hpp"
#include "test_segment.hpp"

namespace ipcmesh::shm {
namespace {

TEST(DeadPeers, OnlySubscribersWithoutALiveLockAreReaped) {
  auto segment = testing::make_segment("dead-subs");
  ASSERT_TRUE(segment);
  auto live = attach_subscriber(*segment);
  ASSERT_TRUE(live);
  start_subscriber_slot(*segment, live->slot, false, false);
  segment->subscriber(2).state.store(state_value(SlotState::kActive));  // its owner is gone
  EXPECT_EQ(reap_dead_subscribers(*segment), 1u);
  EXPECT_EQ(segment->subscriber(2).state.load(), state_value(SlotState::kFree));
  EXPECT_EQ(segment->subscriber(live->slot).state.load(), state_value(SlotState::kActive));
}

// Rule L3: the reservation of a producer that died mid-write becomes a gap; a live producer's
// is left alone however long it takes.
TEST(DeadPeers, ADeadProducersReservationBecomesAGapALiveOnesDoesNot) {
  auto segment = testing::make_segment("dead-producer");
  ASSERT_TRUE(segment);
  const std::uint64_t start = segment->header.capacity;
  segment->control().tail.store(start + 128);
  ProducerSlot& dead = segment->producer(1);
  dead.inflight_bytes.store(128);
  dead.inflight_position.store(start);
  auto live = attach_producer(*segment);  // slot 0, holds its lock
  ASSERT_TRUE(live);
  segment->producer(live->slot).inflight_position.store(kNoPosition);
  EXPECT_TRUE(fill_dead_reservation(*segment, start));
  auto gap = read_record(segment->ring(), start);
  ASSERT_TRUE(gap);
  EXPECT_EQ(gap->type, RecordType::kGap);
  EXPECT_EQ(segment->control().gaps.load(), 1u);
  EXPECT_EQ(dead.inflight_position.load(), kNoPosition);

  segment->control().tail.store(start + 256);
  ProducerSlot& writing = segment->producer(live->slot);
  writing.inflight_bytes.store(128);
  writing.inflight_position.store(start + 128);
  EXPECT_FALSE(fill_dead_reservation(*segment, start + 128));
}

TEST(DeadPeers, ADeadProducerIsReapedAndItsCountersKept) {
  auto segment = testing::make_segment("dead-reap");
  ASSERT_TRUE(segment);
  start_producer_slot(*segment, 3);  // active, but nobody holds its lock
  segment->producer(3).published_messages = 5;
  EXPECT_EQ(reap_dead_producers(*segment), 1u);
  EXPECT_EQ(segment->control().retired_messages.load(), 5u);
  EXPECT_EQ(segment->control().reaped_producers.load(), 1u);
}

}  // namespace
}  // namespace ipcmesh::shm
