// Who wakes whom, on a control block in plain memory (rules W1, W1b, W2). A FUTEX_WAKE with
// nobody asleep is harmless; what the tests count is the futex word each wake-up bumps.
#include "channel/wakeups.hpp"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/mman.h>
#include <unistd.h>

#include <memory>
#include <string>

#include "ipcmesh/shm_channel.hpp"

namespace ipcmesh::shm {
namespace {

// Value-initialised: every word zero, as in a fresh segment.
struct PlainControl {
  std::unique_ptr<ControlBlock> block = std::make_unique<ControlBlock>();
  ControlBlock& control = *block;
};

std::uint32_t wakes_after_commit(ControlBlock& control) {
  const std::uint32_t before = control.data_futex.load();
  wake_after_commit(control);
  return control.data_futex.load() - before;
}

// Rule W1: no sleeper, no system call.
TEST(Wakeups, ACommitWithNobodyAsleepWakesNobody) {
  PlainControl plain;
  EXPECT_EQ(wakes_after_commit(plain.control), 0u);
}

// Rule W1b, with the sleepers' words set by hand: a sleeper that asked for a wake-up gets one; a
// woken one that has not run yet (it still counts as asleep) costs no further FUTEX_WAKE; a
// sleeper of a build without W1b (counted in sleeping_subscribers only) is woken on every commit.
TEST(Wakeups, OneWakeUpPerRequestButEveryCommitForOlderSleepers) {
  PlainControl plain;
  ControlBlock& control = plain.control;
  control.sleeping_subscribers = 1;
  control.coalescing_sleepers = 1;
  control.wake_requested = 1;
  EXPECT_EQ(wakes_after_commit(control), 1u);
  EXPECT_EQ(control.wake_requested.load(), 0u);
  EXPECT_EQ(wakes_after_commit(control), 0u) << "woken already, not yet running";
  control.sleeping_subscribers = 2;  // and a sleeper of an older build
  EXPECT_EQ(wakes_after_commit(control), 1u);
  EXPECT_EQ(wakes_after_commit(control), 1u);
}

// Rule W2: a subscriber's release wakes producers only when one said it is blocked.
TEST(Wakeups, BlockedProducersAreWokenOnlyWhenTheyAnnouncedIt) {
  PlainControl plain;
  ControlBlock& control = plain.control;
  wake_blocked_producers(control);
  EXPECT_EQ(control.space_futex.load(), 0u);
  control.blocked_producers = 1;
  wake_blocked_producers(control);
  EXPECT_EQ(control.space_futex.load(), 1u);
}

// The control block of a channel, mapped as a second process would.
class RawControl {
 public:
  explicit RawControl(const std::string& name) {
    const int fd = ::shm_open(name.c_str(), O_RDWR, 0);
    if (fd >= 0) {
      base_ = ::mmap(nullptr, kControlBlockBytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
      ::close(fd);
    }
  }
  ~RawControl() {
    if (base_ != MAP_FAILED) ::munmap(base_, kControlBlockBytes);
  }
  bool ok() const { return base_ != MAP_FAILED; }
  ControlBlock& control() { return *static_cast<ControlBlock*>(base_); }

 private:
  void* base_ = MAP_FAILED;
};

// End to end through Publisher::publish, with the sleepers' words set by hand in a second mapping:
// a sleeper that asked for a wake-up gets one; a woken one that has not run yet (it still counts as
// asleep) costs no further FUTEX_WAKE; a sleeper of a build without W1b (counted in
// sleeping_subscribers only) is woken on every commit.
TEST(Wakeups, APublisherCoalescesWakeUpsThroughTheSharedControlBlock) {
  ShmChannelOptions options;
  options.name = "/ipcmesh-test-wake." + std::to_string(::getpid());
  ShmChannel::unlink(options.name);
  auto channel = ShmChannel::create(options);
  ASSERT_TRUE(channel) << channel.error().message;
  auto publisher = Publisher::attach(*channel);
  ASSERT_TRUE(publisher);
  RawControl raw(options.name);
  ASSERT_TRUE(raw.ok());
  ControlBlock& control = raw.control();
  const std::byte payload[8]{};
  const auto wakes_after_commit = [&] {
    const std::uint32_t before = control.data_futex.load();
    EXPECT_TRUE(publisher->publish(payload));
    return control.data_futex.load() - before;
  };

  control.sleeping_subscribers = 1;  // one W1b sleeper that asked
  control.coalescing_sleepers = 1;
  control.wake_requested = 1;
  EXPECT_EQ(wakes_after_commit(), 1u);
  EXPECT_EQ(control.wake_requested.load(), 0u);
  EXPECT_EQ(wakes_after_commit(), 0u) << "woken already, not yet running: no second FUTEX_WAKE";
  EXPECT_EQ(wakes_after_commit(), 0u);

  control.sleeping_subscribers = 2;  // and a sleeper of an older build
  EXPECT_EQ(wakes_after_commit(), 1u);
  EXPECT_EQ(wakes_after_commit(), 1u);

  control.sleeping_subscribers = 0;
  control.coalescing_sleepers = 0;
  EXPECT_EQ(wakes_after_commit(), 0u);
}

}  // namespace
}  // namespace ipcmesh::shm
