// DropOldest (rule D1): slow subscribers are pushed to a record boundary and told what they lost.
#include "channel/drop_oldest.hpp"

#include <gtest/gtest.h>

#include "channel/peer_table.hpp"
#include "channel/records.hpp"
#include "test_segment.hpp"

namespace ipcmesh::shm {
namespace {

TEST(DropOldest, ASlowSubscriberIsPushedPastWholeRecordsAndCountsThem) {
  auto segment = testing::make_segment("drop-push", SlowConsumerPolicy::kDropOldest);
  ASSERT_TRUE(segment);
  const std::uint64_t start = segment->header.capacity;
  const RingView ring = segment->ring();
  for (int i = 0; i < 4; ++i) {  // four data records of 64 bytes each
    write_record_header(ring, start + 64 * i, 48, RecordType::kData);
  }
  segment->control().tail.store(start + 256);
  start_subscriber_slot(*segment, 0, true, false);              // at the start
  EXPECT_EQ(push_slow_subscribers(*segment, start + 100), 2u);  // to the boundary at 128
  EXPECT_EQ(segment->subscriber(0).cursor.load(), start + 128);
  EXPECT_EQ(segment->subscriber(0).missed.load(), 2u);
  EXPECT_EQ(push_slow_subscribers(*segment, start + 100), 0u);  // already past it
}

TEST(DropOldest, AnUncommittedRecordStopsThePush) {
  auto segment = testing::make_segment("drop-stuck", SlowConsumerPolicy::kDropOldest);
  ASSERT_TRUE(segment);
  const std::uint64_t start = segment->header.capacity;
  write_record_header(segment->ring(), start, 48, RecordType::kData);
  segment->control().tail.store(start + 128);  // [start+64, start+128) reserved, not committed
  start_subscriber_slot(*segment, 0, true, false);
  EXPECT_EQ(push_slow_subscribers(*segment, start + 100), 0u);
  EXPECT_EQ(segment->subscriber(0).cursor.load(), start);
}

}  // namespace
}  // namespace ipcmesh::shm
