// The peer tables: claiming slots with their liveness locks, starting them (rules R4, G3), and
// keeping a leaving producer's counters (sections 1.3, 1.4, 4).
#include "channel/peer_table.hpp"

#include <gtest/gtest.h>

#include <vector>

#include "test_segment.hpp"

namespace ipcmesh::shm {
namespace {

TEST(PeerTable, EachAttachmentHoldsItsOwnSlotUntilTheTableIsFull) {
  auto segment = testing::make_segment("peers-full");
  ASSERT_TRUE(segment);
  std::vector<Attachment> producers;
  for (std::uint32_t i = 0; i < segment->header.max_producers; ++i) {
    auto attached = attach_producer(*segment);
    ASSERT_TRUE(attached) << attached.error().message;
    EXPECT_EQ(attached->slot, i);
    EXPECT_TRUE(posix::locked_by_other(segment->fd.get(), kProducerLockBase + i));
    producers.push_back(std::move(*attached));
  }
  auto refused = attach_producer(*segment);
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, ErrorCode::kTableFull);
  EXPECT_NE(refused.error().message.find(segment->name), std::string::npos);
}

// Rule L2 at attach time: a full subscriber table whose holders are dead makes room.
TEST(PeerTable, AFullSubscriberTableOfDeadPeersMakesRoom) {
  auto segment = testing::make_segment("peers-dead");
  ASSERT_TRUE(segment);
  for (std::uint32_t i = 0; i < segment->header.max_subscribers; ++i) {
    segment->subscriber(i).state.store(state_value(SlotState::kActive));  // nobody holds a lock
  }
  auto attached = attach_subscriber(*segment);
  ASSERT_TRUE(attached) << attached.error().message;
  EXPECT_EQ(segment->control().reaped_subscribers.load(), segment->header.max_subscribers);
}

// Rule R4: a new subscriber starts at the tail; rule G3: one that moves here starts at the
// log's start while the ring has not wrapped.
TEST(PeerTable, ASubscriberStartsAtTheTailOrAtTheStartWhenItMovesHere) {
  auto segment = testing::make_segment("peers-start");
  ASSERT_TRUE(segment);
  const std::uint64_t capacity = segment->header.capacity;
  segment->control().tail.store(capacity + 512);
  EXPECT_EQ(start_subscriber_slot(*segment, 0, false, false), capacity + 512);
  EXPECT_EQ(start_subscriber_slot(*segment, 1, true, false), capacity);
  segment->control().tail.store(capacity + capacity - 64);  // too close to a wrap: G3 gives up
  EXPECT_EQ(start_subscriber_slot(*segment, 2, true, false), capacity + capacity - 64);
  EXPECT_EQ(segment->subscriber(2).state.load(), state_value(SlotState::kActive));
}

TEST(PeerTable, ALeavingProducersCountersMoveToTheChannelTotals) {
  auto segment = testing::make_segment("peers-retire");
  ASSERT_TRUE(segment);
  ProducerSlot& slot = segment->producer(0);
  start_producer_slot(*segment, 0);
  slot.published_messages = 3;
  slot.published_bytes = 30;
  slot.rejected_full = 1;
  slot.dropped_oldest = 2;
  retire_producer_counters(segment->control(), slot);
  const ControlBlock& control = segment->control();
  EXPECT_EQ(control.retired_messages.load(), 3u);
  EXPECT_EQ(control.retired_bytes.load(), 30u);
  EXPECT_EQ(control.retired_rejected.load(), 1u);
  EXPECT_EQ(control.retired_dropped.load(), 2u);
  EXPECT_EQ(slot.published_messages.load(), 0u);
}

}  // namespace
}  // namespace ipcmesh::shm
