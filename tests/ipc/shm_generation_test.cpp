// Generations of a ring across real processes, without a relay: a name that is made to point at
// a new ring while processes still use the old one (what a replacement that could not close the
// old ring leaves, rule G4 of docs/protocol.md), and a ring truncated under them (rule F1).
#include <gtest/gtest.h>
#include <sys/mman.h>
#include <unistd.h>

#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "child_process.hpp"
#include "ipcmesh/shm_channel.hpp"

namespace ipcmesh {
namespace {

using namespace std::chrono_literals;
using testing::ChildProcess;

const std::string kPeer = std::string(IPCMESH_BIN_DIR) + "/ipcmesh-test-peer";

ShmChannelOptions ring(const std::string& name, std::uint64_t capacity) {
  ShmChannelOptions options;
  options.name = name;
  options.capacity_bytes = capacity;
  options.max_message_size = 1024;
  return options;
}

// Proves: a publisher and a subscriber process on a ring whose name is unlinked and created
// again (nobody closes the old ring) move to the new ring by themselves: the subscriber notices
// on its slow path within its ring check interval, closes the old ring for the publisher too,
// and every message arrives once, in order; neither keeps the old ring mapped.
TEST(ShmGenerations, ProcessesFollowANameThatNowPointsAtAnotherRing) {
  const std::string name = "/ipcmesh-ipc-g4-" + std::to_string(::getpid());
  auto old_ring = ShmChannel::create(ring(name, 64 * 1024));
  ASSERT_TRUE(old_ring) << old_ring.error().message;
  old_ring->release_name();
  constexpr int kMessages = 600;
  ChildProcess subscriber({kPeer, "follow", name, std::to_string(kMessages)});
  ASSERT_EQ(subscriber.read_line(), "ready");
  ChildProcess publisher({kPeer, "stream", name, std::to_string(kMessages), "5000"});
  ASSERT_EQ(publisher.read_line(), "ready");
  std::this_thread::sleep_for(500ms);

  ASSERT_TRUE(ShmChannel::unlink(name));
  auto new_ring = ShmChannel::create(ring(name, 32 * 1024));
  ASSERT_TRUE(new_ring) << new_ring.error().message;

  EXPECT_EQ(publisher.read_line(60s),
            "published " + std::to_string(kMessages) + " reattached 1 unlinked_mappings 0");
  EXPECT_EQ(subscriber.read_line(60s), "received " + std::to_string(kMessages) +
                                           " in_order 1 reattached 1 unlinked_mappings 0");
  EXPECT_EQ(new_ring->stats().reattached, 2u);
  EXPECT_TRUE(old_ring->stats().superseded);
  EXPECT_EQ(publisher.wait(), 0);
  EXPECT_EQ(subscriber.wait(), 0);
}

// Proves: a foreign process that truncates a ring fails a waiting subscriber process and a
// blocked publisher process with kCorrupted; neither is killed by SIGBUS.
TEST(ShmGenerations, ATruncatedRingFailsWaitingProcessesWithAnError) {
  const std::string name = "/ipcmesh-ipc-truncated-" + std::to_string(::getpid());
  auto channel = ShmChannel::create(ring(name, 16 * 1024));
  ASSERT_TRUE(channel) << channel.error().message;
  auto stalled = Subscriber::attach(*channel);  // never reads: the ring fills, the publisher blocks
  ASSERT_TRUE(stalled);
  ChildProcess subscriber({kPeer, "wait-error", name});
  ASSERT_EQ(subscriber.read_line(), "ready");
  ChildProcess publisher({kPeer, "blocked-publish", name, "512"});
  ASSERT_EQ(publisher.read_line(), "ready");
  // Blocked once the ring holds a full capacity beyond the stalled subscriber.
  for (int i = 0; i < 500 && channel->stats().fill_ratio < 0.9; ++i) {
    std::this_thread::sleep_for(10ms);
  }
  ASSERT_GE(channel->stats().fill_ratio, 0.9);
  ChildProcess truncate({kPeer, "truncate", name, "0"});
  EXPECT_EQ(truncate.wait(), 0);

  const auto subscriber_line = subscriber.read_line(30s);
  const auto publisher_line = publisher.read_line(30s);
  ASSERT_TRUE(subscriber_line && publisher_line);
  EXPECT_EQ(subscriber_line->rfind("error corrupted ", 0), 0u) << *subscriber_line;
  EXPECT_EQ(publisher_line->rfind("error corrupted ", 0), 0u) << *publisher_line;
  EXPECT_EQ(subscriber.wait(), 0);  // exit 0, not killed by SIGBUS
  EXPECT_EQ(publisher.wait(), 0);
  EXPECT_EQ(channel->verify().error().code, ErrorCode::kCorrupted);
}

}  // namespace
}  // namespace ipcmesh
