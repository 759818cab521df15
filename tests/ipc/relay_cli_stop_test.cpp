// ipcmeshctl pub and sub (and the C example) stop on SIGTERM, also as PID 1 of their PID
// namespace (a container's first process), where the kernel drops signals that have no handler:
// a Pod running them would otherwise wait its whole grace period and end with exit 137.
#include <signal.h>

#include <fstream>

#include "ipcmesh/channel_spec.hpp"
#include "ipcmesh/shm_channel.hpp"
#include "relay_test_support.hpp"

namespace ipcmesh::relay_testing {
namespace {

class CliStop : public RelayTest {
 protected:
  void SetUp() override {
    RelayTest::SetUp();
    spec_ = write_spec(
        {ChannelJson{.name = "ring"}, ChannelJson{.name = "work", .transport = "MessageQueue"}});
    relay_ = start_relay(spec_);
    ASSERT_NE(wait_ready(*relay_), 0);
  }
  void TearDown() override {
    relay_->signal(SIGTERM);
    relay_->wait();
    RelayTest::TearDown();
  }

  // Starts ipcmeshctl as PID 1 of a new PID namespace (unshare --fork waits for it and exits
  // with its status).
  std::unique_ptr<Process> start_as_pid_one(std::vector<std::string> args) {
    args.insert(args.begin(), {"/usr/bin/unshare", "--pid", "--fork", kCtl});
    return run(args);
  }

  // The PID 1 of that namespace, as this (ancestor) namespace numbers it.
  static pid_t namespace_init(const Process& unshare) {
    pid_t child = 0;
    const std::string children = "/proc/" + std::to_string(unshare.pid()) + "/task/" +
                                 std::to_string(unshare.pid()) + "/children";
    eventually([&] {
      std::ifstream(children) >> child;
      return child > 0;
    });
    return child;
  }

  // SIGTERM to the namespace's PID 1; its exit status arrives through unshare.
  static std::optional<int> terminate(Process& unshare) {
    const pid_t init = namespace_init(unshare);
    if (init <= 0) return std::nullopt;
    ::kill(init, SIGTERM);
    return unshare.wait(10s);
  }

  std::string spec_;
  std::unique_ptr<Process> relay_;
};

TEST_F(CliStop, SubscriberBlockedOnTheRingStopsWithExitZero) {
  auto sub = start_as_pid_one({"sub", "--channel", "ring", "--namespace", namespace_});
  const std::string ring = shm_object_name({namespace_, "ring"});
  ASSERT_TRUE(eventually([&] {
    auto channel = ShmChannel::open(ring);
    return channel && channel->stats().subscribers.size() == 1;
  })) << sub->err();
  EXPECT_EQ(terminate(*sub), 0) << sub->err();
  auto channel = ShmChannel::open(ring);
  ASSERT_TRUE(channel);
  EXPECT_EQ(channel->stats().subscribers.size(), 0u) << "a clean stop detaches";
}

TEST_F(CliStop, SubscriberBlockedOnAQueueStopsWithExitZero) {
  auto sub = start_as_pid_one(
      {"sub", "--channel", "work", "--namespace", namespace_, "--transport", "mq", "--quiet"});
  std::this_thread::sleep_for(300ms);  // let it block in mq_receive; a stop before is fine too
  EXPECT_EQ(terminate(*sub), 0) << sub->err();
  EXPECT_EQ(sub->out(), "0\n");
}

TEST_F(CliStop, SubscriberWaitingForAChannelThatNeverComesStopsWithExitZero) {
  auto sub = start_as_pid_one({"sub", "--channel", "absent", "--namespace", namespace_});
  std::this_thread::sleep_for(300ms);
  EXPECT_EQ(terminate(*sub), 0) << sub->err();
}

TEST_F(CliStop, PublisherWithAnIntervalStopsWithExitZero) {
  auto pub = start_as_pid_one({"pub", "--channel", "ring", "--namespace", namespace_, "--size",
                               "64", "--count", "1000000", "--interval", "200ms"});
  const std::string ring = shm_object_name({namespace_, "ring"});
  ASSERT_TRUE(eventually([&] {
    auto channel = ShmChannel::open(ring);
    return channel && channel->stats().published_messages >= 2;
  })) << pub->err();
  EXPECT_EQ(terminate(*pub), 0) << pub->err();
}

// The C example (what the classic examples run) stops the same way, waiting on a ring or a queue.
TEST_F(CliStop, TheCExampleStopsWithExitZeroOnARingAndOnAQueue) {
  const std::string example = IPCMESH_BIN_DIR "/ipcmesh-example-pubsub";
  for (const auto& [channel, transport] : {std::pair{shm_object_name({namespace_, "ring"}), "shm"},
                                           std::pair{mq_object_name({namespace_, "work"}), "mq"}}) {
    auto sub = run({"/usr/bin/unshare", "--pid", "--fork", example, "subscribe", channel, transport,
                    "10", "-1"});
    ASSERT_TRUE(eventually([&] { return sub->out().find("ready") != std::string::npos; }))
        << sub->err();
    EXPECT_EQ(terminate(*sub), 0) << transport << ": " << sub->err();
    EXPECT_NE(sub->out().find("stopped after 0"), std::string::npos) << sub->out();
  }
}

}  // namespace
}  // namespace ipcmesh::relay_testing
