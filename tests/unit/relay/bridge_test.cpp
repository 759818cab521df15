#include "relay/bridge.hpp"

#include <gtest/gtest.h>

namespace ipcmesh::relay {
namespace {

// The shm->mq bridge subscribes in the channel's waitMode, except that the relay never
// busy-polls (tests/ipc/relay_bridge_test.cpp shows it asleep on a BusyPoll channel).
TEST(BridgeWaitMode, FollowsTheChannelButNeverBusyPolls) {
  EXPECT_EQ(bridge_wait_mode(WaitMode::kAdaptive), WaitMode::kAdaptive);
  EXPECT_EQ(bridge_wait_mode(WaitMode::kSpinThenSleep), WaitMode::kSpinThenSleep);
  EXPECT_EQ(bridge_wait_mode(WaitMode::kBusyPoll), WaitMode::kSpinThenSleep);
}

}  // namespace
}  // namespace ipcmesh::relay
