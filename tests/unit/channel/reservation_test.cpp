// Reservation as a tryClaim (rules R1, R3, R5): reserved or full or closed, never a wait.
#include "channel/reservation.hpp"

#include <gtest/gtest.h>

#include "channel/peer_table.hpp"
#include "test_segment.hpp"

namespace ipcmesh::shm {
namespace {

std::uint32_t active_subscriber_at(const Segment& segment, std::uint64_t cursor) {
  SubscriberSlot& slot = segment.subscriber(0);
  slot.cursor.store(cursor);
  slot.state.store(state_value(SlotState::kActive));
  return 0;
}

// With a subscriber at the start, a producer may write one capacity ahead and no further; the
// reservation that does not fit says "full" and where it would have ended.
TEST(Reservation, ReservesUntilTheSlowestCursorPlusTheCapacityThenSaysFull) {
  auto segment = testing::make_segment("reserve-full");
  ASSERT_TRUE(segment);
  const std::uint64_t start = segment->header.capacity;
  active_subscriber_at(*segment, start);
  ProducerSlot& mine = segment->producer(0);
  WriteLimit limit;
  const std::uint32_t bytes = record_bytes(240);  // 256: 16 of them fill the 4 KiB ring
  for (int i = 0; i < 16; ++i) {
    const Reservation r = try_reserve(*segment, mine, bytes, limit);
    ASSERT_EQ(r.outcome, ReserveOutcome::kReserved) << i;
    EXPECT_EQ(r.position, start + std::uint64_t{bytes} * i);
    EXPECT_EQ(mine.inflight_position.load(), r.position);  // the claim (rule L3)
  }
  const Reservation full = try_reserve(*segment, mine, bytes, limit);
  EXPECT_EQ(full.outcome, ReserveOutcome::kFull);
  EXPECT_EQ(full.end, start + segment->header.capacity + bytes);
  EXPECT_EQ(tail_position(segment->control().tail.load()), start + segment->header.capacity);
}

// A record never straddles the ring's end: the reservation that would begins with padding.
TEST(Reservation, ARecordThatWouldStraddleTheEndIsPrecededByPadding) {
  auto segment = testing::make_segment("reserve-pad");
  ASSERT_TRUE(segment);
  const std::uint64_t capacity = segment->header.capacity;
  ProducerSlot& mine = segment->producer(0);
  WriteLimit limit;
  segment->control().tail.store(capacity + capacity - 32);  // 32 bytes before the end
  const Reservation r = try_reserve(*segment, mine, record_bytes(100), limit);
  ASSERT_EQ(r.outcome, ReserveOutcome::kReserved);
  EXPECT_EQ(r.position, 2 * capacity);  // the next lap's start
  auto padding = read_record(segment->ring(), 2 * capacity - 32);
  ASSERT_TRUE(padding);
  EXPECT_EQ(padding->type, RecordType::kPadding);
}

// Rule G2's trigger: a closed tail reserves nothing.
TEST(Reservation, AClosedGenerationReservesNothing) {
  auto segment = testing::make_segment("reserve-closed");
  ASSERT_TRUE(segment);
  close_generation(*segment);
  WriteLimit limit{~0ull};
  const Reservation r = try_reserve(*segment, segment->producer(0), 64, limit);
  EXPECT_EQ(r.outcome, ReserveOutcome::kClosed);
  EXPECT_FALSE(scan_write_limit(*segment).open);
}

// Rule R5: without subscribers the limit still stops at the end of the lap after the tail.
TEST(Reservation, TheWriteLimitNeverPassesTheEndOfTheNextLap) {
  auto segment = testing::make_segment("reserve-lap");
  ASSERT_TRUE(segment);
  const std::uint64_t capacity = segment->header.capacity;
  const WriteLimit limit = scan_write_limit(*segment);
  EXPECT_TRUE(limit.open);
  EXPECT_EQ(limit.limit, 2 * capacity);  // tail = capacity, no subscriber: one lap
}

// Rule W1c: a producer may commit without a fence only while every subscriber it saw follows
// W1c. A subscriber of an older build stores 0 or 1 in `sleeping` (at attach too), a slot still
// being claimed has not said yet; both keep the producer's commits fenced.
TEST(Reservation, TheScanSaysWhetherEverySubscriberIssuesTheSleeperBarrier) {
  auto segment = testing::make_segment("reserve-barrier");
  ASSERT_TRUE(segment);
  EXPECT_TRUE(scan_write_limit(*segment).barrier_sleepers_only) << "nobody to miss";
  active_subscriber_at(*segment, segment->header.capacity);
  SubscriberSlot& slot = segment->subscriber(0);
  slot.sleeping.store(kSleepsWithBarrier);
  EXPECT_TRUE(scan_write_limit(*segment).barrier_sleepers_only);
  slot.sleeping.store(kSleepsWithBarrier | kSleepingNow);
  EXPECT_TRUE(scan_write_limit(*segment).barrier_sleepers_only);
  slot.sleeping.store(kSleepingNow);  // an older build, asleep
  EXPECT_FALSE(scan_write_limit(*segment).barrier_sleepers_only);
  slot.sleeping.store(kSleepsWithBarrier);
  SubscriberSlot& claiming = segment->subscriber(1);
  claiming.state.store(state_value(SlotState::kClaiming));
  EXPECT_FALSE(scan_write_limit(*segment).barrier_sleepers_only);
}

}  // namespace
}  // namespace ipcmesh::shm
