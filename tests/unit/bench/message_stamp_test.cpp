// The producer index in the stamp's flags: it survives the trip through the bytes, with the end
// and fill flags, and producer 0 leaves a pair measurement's stamps as they were.
#include "message_stamp.hpp"

#include <gtest/gtest.h>

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

}  // namespace
}  // namespace ipcmesh::bench
