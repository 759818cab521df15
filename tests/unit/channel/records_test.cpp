// Records on a plain buffer (no segment, no shared memory): committing, reading, stale laps,
// damaged headers and gap filling (docs/protocol.md, section 1.5, rules R2 and L3).
#include "channel/records.hpp"

#include <gtest/gtest.h>

#include <cstring>
#include <vector>

namespace ipcmesh::shm {
namespace {

constexpr std::uint64_t kCapacity = 4096;

// A ring of kCapacity bytes and the static header its records obey.
struct PlainRing {
  StaticHeader header{};
  std::vector<std::uint64_t> words = std::vector<std::uint64_t>(kCapacity / 8);  // 16-aligned
  RingView view;

  PlainRing() {
    header.capacity = kCapacity;
    header.max_message_size = 1024;
    header.record_key = 0x5eed;
    view = {reinterpret_cast<std::byte*>(words.data()), &header};
  }
};

// The log starts one capacity in (zeroed memory never looks committed).
constexpr std::uint64_t kStart = kCapacity;

TEST(Records, ACommittedRecordReadsBackWithItsPayload) {
  PlainRing ring;
  EXPECT_EQ(read_record(ring.view, kStart).error().code, ErrorCode::kNotFound);
  std::memcpy(ring.view.payload(kStart), "hello", 5);
  write_record_header(ring.view, kStart, 5, RecordType::kData);
  auto record = read_record(ring.view, kStart);
  ASSERT_TRUE(record);
  EXPECT_EQ(record->type, RecordType::kData);
  EXPECT_EQ(record->length, 5u);
  EXPECT_EQ(record->record_bytes, record_bytes(5));
  EXPECT_EQ(std::memcmp(ring.view.payload(kStart), "hello", 5), 0);
  EXPECT_TRUE(ring.view.looks_committed(kStart));
}

// A record of the previous lap sits at the same offset: its commit word names the old position.
TEST(Records, ARecordOfAnEarlierLapIsNotCommittedHere) {
  PlainRing ring;
  write_record_header(ring.view, kStart, 8, RecordType::kData);
  EXPECT_EQ(read_record(ring.view, kStart + kCapacity).error().code, ErrorCode::kNotFound);
  EXPECT_FALSE(ring.view.looks_committed(kStart + kCapacity));
}

TEST(Records, AHeaderWhoseCheckWordIsWrongIsNotCommitted) {
  PlainRing ring;
  write_record_header(ring.view, kStart, 8, RecordType::kData);
  ring.view.at(kStart).check.store(0x12345, std::memory_order_relaxed);
  EXPECT_EQ(read_record(ring.view, kStart).error().code, ErrorCode::kNotFound);
}

TEST(Records, ACommittedRecordThatBreaksTheLimitsIsCorrupted) {
  PlainRing ring;
  write_record_header(ring.view, kStart, 2048, RecordType::kData);  // max_message_size is 1024
  EXPECT_EQ(read_record(ring.view, kStart).error().code, ErrorCode::kCorrupted);
  write_record_header(ring.view, kStart + 64, 16, RecordType::kPadding);  // not at the ring's end
  EXPECT_EQ(read_record(ring.view, kStart + 64).error().code, ErrorCode::kCorrupted);
}

// Rule L3: a reservation that wraps becomes padding to the ring's end and a gap after it.
TEST(Records, GapFillCoversAWrappingReservationWithPaddingAndAGap) {
  PlainRing ring;
  const std::uint64_t from = kStart + kCapacity - 64;
  const std::uint64_t to = kStart + kCapacity + 96;
  fill_with_gap(ring.view, from, to);
  auto padding = read_record(ring.view, from);
  ASSERT_TRUE(padding);
  EXPECT_EQ(padding->type, RecordType::kPadding);
  EXPECT_EQ(padding->record_bytes, 64u);
  auto gap = read_record(ring.view, kStart + kCapacity);
  ASSERT_TRUE(gap);
  EXPECT_EQ(gap->type, RecordType::kGap);
  EXPECT_EQ(gap->record_bytes, 96u);
}

// The padding a producer committed before it died is kept; only the rest becomes a gap.
TEST(Records, GapFillNeverTouchesARecordAlreadyCommitted) {
  PlainRing ring;
  const std::uint64_t from = kStart + kCapacity - 32;
  write_record_header(ring.view, from, 16, RecordType::kPadding);
  const std::uint32_t check_before = ring.view.at(from).check.load();
  fill_with_gap(ring.view, from, kStart + kCapacity + 48);
  EXPECT_EQ(ring.view.at(from).check.load(), check_before);
  auto gap = read_record(ring.view, kStart + kCapacity);
  ASSERT_TRUE(gap);
  EXPECT_EQ(gap->type, RecordType::kGap);
  EXPECT_EQ(gap->record_bytes, 48u);
}

}  // namespace
}  // namespace ipcmesh::shm
