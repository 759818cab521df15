#include "relay/duration.hpp"

#include <gtest/gtest.h>

namespace ipcmesh::relay {
namespace {

using namespace std::chrono_literals;

// Durations accept the units people type and reject the rest with the text quoted.
TEST(Duration, ParsesCommonUnitsAndRejectsNonsense) {
  EXPECT_EQ(parse_duration("30s").value(), 30s);
  EXPECT_EQ(parse_duration("500ms").value(), 500ms);
  EXPECT_EQ(parse_duration("2m").value(), 120s);
  EXPECT_EQ(parse_duration("1.5").value(), 1500ms);
  EXPECT_EQ(parse_duration("250us").value(), 250us);
  EXPECT_FALSE(parse_duration("").has_value());
  EXPECT_FALSE(parse_duration("-1s").has_value());
  EXPECT_NE(parse_duration("3 days").error().find("'3 days'"), std::string::npos);
  EXPECT_NE(parse_duration("3d").error().find("unknown unit 'd'"), std::string::npos);
}

}  // namespace
}  // namespace ipcmesh::relay
