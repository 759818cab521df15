// The producer index in the stamp's flags: it survives the trip through the bytes, with the end
// and fill flags, and producer 0 leaves a pair measurement's stamps as they were. A timed stamp
// carries the time it was written after the header, and the fill check then starts after it.
#include "message_stamp.hpp"

#include <gtest/gtest.h>

#include <cstring>
#include <vector>

namespace ipcmesh::bench {
namespace {

TEST(MessageStamp, CarriesTheProducerIndexBesideTheEndAndFillFlags) {
  for (const bool fill : {false, true}) {
    std::vector<std::byte> bytes(128);
    write_stamp(bytes.data(), bytes.size(), 42, producer_flags(7) | kFlagEnd, fill);
    const Stamp stamp = read_stamp(bytes);
    EXPECT_TRUE(stamp.intact);
    EXPECT_EQ(stamp.seq, 42u);
    EXPECT_EQ(producer_of(stamp.flags), 7u);
    EXPECT_NE(stamp.flags & kFlagEnd, 0u);
    EXPECT_EQ(stamp.flags & kFlagFilled, 0u);  // read_stamp reports the fill, not the flag
  }
}

TEST(MessageStamp, ProducerZeroLeavesTheFlagsUnchanged) {
  EXPECT_EQ(producer_flags(0), 0u);
  EXPECT_EQ(producer_of(kFlagEnd), 0u);
  EXPECT_EQ(producer_of(producer_flags(kMaxStampProducers - 1)), kMaxStampProducers - 1);
}

TEST(MessageStamp, ATimedStampCarriesTheTimeItWasWritten) {
  for (const bool fill : {false, true}) {
    std::vector<std::byte> bytes(64);
    const std::uint64_t before = monotonic_ns();
    write_stamp(bytes.data(), bytes.size(), 9, producer_flags(3) | kFlagTimed, fill);
    const std::uint64_t after = monotonic_ns();
    const Stamp stamp = read_stamp(bytes);
    EXPECT_TRUE(stamp.intact) << "fill " << fill;
    EXPECT_EQ(stamp.seq, 9u);
    EXPECT_GE(stamp.sent_ns, before);
    EXPECT_LE(stamp.sent_ns, after);
    EXPECT_EQ(stamp.flags, producer_flags(3));  // the timed flag is reported as sent_ns
  }
}

TEST(MessageStamp, AnUntimedStampLeavesTheBytesAfterTheHeaderAlone) {
  std::vector<std::byte> bytes(64, std::byte{0x77});
  write_stamp(bytes.data(), bytes.size(), 1, 0);
  EXPECT_EQ(read_stamp(bytes).sent_ns, 0u);
  for (std::size_t i = kStampHeaderBytes; i < bytes.size() - kStampTrailerBytes; ++i) {
    EXPECT_EQ(bytes[i], std::byte{0x77}) << "byte " << i;
  }
}

TEST(MessageStamp, AFilledTimedBodyIsStillCheckedByteByByte) {
  std::vector<std::byte> bytes(64);
  write_stamp(bytes.data(), bytes.size(), 5, kFlagTimed, true);
  bytes[kTimedStampBytes - kStampTrailerBytes] ^= std::byte{1};  // the first body byte
  EXPECT_FALSE(read_stamp(bytes).intact);
}

TEST(MessageStamp, ATimedFlagWithoutRoomForTheTimeIsCorrupt) {
  std::vector<std::byte> bytes(kStampBytes);
  write_stamp(bytes.data(), bytes.size(), 5, 0);
  std::uint32_t tag = 0;
  std::memcpy(&tag, bytes.data() + 12, 4);
  tag |= kFlagTimed;
  std::memcpy(bytes.data() + 12, &tag, 4);
  EXPECT_FALSE(read_stamp(bytes).intact);
}

}  // namespace
}  // namespace ipcmesh::bench
