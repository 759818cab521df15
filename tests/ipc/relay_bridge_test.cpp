// The relay's bridges between transports: a legacy app that can only mq_send reaches every
// shared-memory subscriber, shm messages feed a work queue, and nothing is lost under Block.
#include <sstream>

#include "ipcmesh/channel_spec.hpp"
#include "ipcmesh/shm_channel.hpp"
#include "relay_test_support.hpp"
#include "subscriber_probe.hpp"

namespace ipcmesh::relay_testing {
namespace {

class RelayBridge : public RelayTest {};

// 100k messages sent into the legacy queue reach a shm subscriber through the relay, all of
// them, in order, although the ring (16 KiB) and the queue (10 messages) are far smaller than the
// stream: Block back-pressure, not loss. The bridge counter agrees exactly.
TEST_F(RelayBridge, MqToShmFanOutLosesNothingUnderLoad) {
  constexpr int kMessages = 100000;
  const std::string legacy = "/posix_mq_example_" + std::to_string(::getpid());
  const std::string spec = write_spec({ChannelJson{.name = "fanout",
                                                   .transport = "Both",
                                                   .shm_size = "16Ki",
                                                   .shm_max_message = "1Ki",
                                                   .queue_name = legacy,
                                                   .queue_max_message = "1Ki",
                                                   .mq_to_shm = true}});
  auto relay = start_relay(spec);
  const std::uint16_t port = wait_ready(*relay);
  ASSERT_NE(port, 0);
  const std::string shm_name = shm_object_name({namespace_, "fanout"});
  auto channel = ShmChannel::open(shm_name);
  ASSERT_TRUE(channel);

  // Two subscribers: fan-out means each gets every message.
  auto sub_a = run({kCtl, "sub", "--channel", "fanout", "--namespace", namespace_, "--count",
                    std::to_string(kMessages), "--timeout", "120s"});
  auto sub_b = run({kCtl, "sub", "--channel", "fanout", "--namespace", namespace_, "--count",
                    std::to_string(kMessages), "--timeout", "120s", "--quiet"});
  ASSERT_TRUE(eventually([&] { return channel->stats().subscribers.size() == 2; }));
  auto pub = run({kCtl, "pub", "--channel", legacy, "--transport", "mq", "--size", "32", "--count",
                  std::to_string(kMessages), "--timeout", "120s"});
  ASSERT_EQ(pub->wait(300s), 0) << pub->err();
  ASSERT_EQ(sub_a->wait(300s), 0) << sub_a->err();
  ASSERT_EQ(sub_b->wait(300s), 0) << sub_b->err();

  // Every generated message is "<index> " padded with '.' to 32 bytes: check each index in order.
  std::istringstream lines(sub_a->out());
  int expected = 0;
  for (std::string line; std::getline(lines, line); ++expected) {
    ASSERT_EQ(line.size(), 32u);
    ASSERT_EQ(std::stoi(line), expected) << "message " << expected << " lost or reordered";
  }
  EXPECT_EQ(expected, kMessages);
  EXPECT_EQ(sub_b->out(), std::to_string(kMessages) + "\n");

  const std::string body = http_get(port, "/metrics").body;
  const std::string bridge =
      "{channel_namespace=\"" + namespace_ + "\",channel=\"fanout\",direction=\"mq_to_shm\"}";
  EXPECT_EQ(metric(body, "ipcmesh_bridge_messages_total" + bridge), kMessages) << body;
  EXPECT_EQ(metric(body, "ipcmesh_bridge_bytes_total" + bridge), 32.0 * kMessages);
  EXPECT_EQ(metric(body, "ipcmesh_bridge_dropped_total" + bridge), 0);
  EXPECT_EQ(metric(body, series("ipcmesh_channel_published_messages_total", "fanout")), kMessages);
  EXPECT_EQ(metric(body, series("ipcmesh_channel_dropped_oldest_total", "fanout")), 0);
  channel = tl::unexpected(Error{ErrorCode::kNotFound, ""});
  relay->signal(SIGTERM);
  EXPECT_EQ(relay->wait(), 0) << relay->err();
}

// The C API example, as a legacy-style app, publishes into the queue and another C example
// subscribes on shared memory: the relay bridges between two apps that never meet.
TEST_F(RelayBridge, CExampleOnTheQueueReachesCExampleOnTheRing) {
  const std::string legacy = "/posix_mq_example_" + std::to_string(::getpid());
  const std::string spec = write_spec(
      {ChannelJson{.name = "capi", .transport = "Both", .queue_name = legacy, .mq_to_shm = true}});
  auto relay = start_relay(spec);
  ASSERT_NE(wait_ready(*relay), 0);
  const std::string shm_name = shm_object_name({namespace_, "capi"});
  auto subscriber = run({kExample, "subscribe", shm_name, "shm", "25", "60000"});
  ASSERT_TRUE(eventually([&] { return subscriber->out().find("ready") != std::string::npos; }))
      << subscriber->err();
  auto publisher = run({kExample, "publish", legacy, "mq", "25"});
  ASSERT_EQ(publisher->wait(), 0) << publisher->err();
  ASSERT_EQ(subscriber->wait(), 0) << subscriber->err();
  std::string expected = "ready\n";
  for (int i = 0; i < 25; ++i) expected += "received: message " + std::to_string(i) + "\n";
  EXPECT_EQ(subscriber->out(), expected);
  relay->signal(SIGTERM);
  EXPECT_EQ(relay->wait(), 0) << relay->err();
}

// shm -> mq: messages published on the ring land in the work queue for a queue consumer, and
// the relay holds the ring back rather than drop while the queue (10 slots) is full.
TEST_F(RelayBridge, ShmToMqFeedsAWorkQueueWithoutLoss) {
  constexpr int kMessages = 2000;
  const std::string spec = write_spec({ChannelJson{.name = "work",
                                                   .transport = "Both",
                                                   .shm_size = "64Ki",
                                                   .shm_max_message = "1Ki",
                                                   .queue_max_message = "1Ki",
                                                   .shm_to_mq = true}});
  auto relay = start_relay(spec);
  const std::uint16_t port = wait_ready(*relay);
  ASSERT_NE(port, 0);
  auto pub = run({kCtl, "pub", "--channel", "work", "--namespace", namespace_, "--size", "100",
                  "--count", std::to_string(kMessages), "--timeout", "120s"});
  // Start the consumer late: the ring and the queue hold the backlog meanwhile.
  auto sub = run({kCtl, "sub", "--channel", "work", "--namespace", namespace_, "--transport", "mq",
                  "--count", std::to_string(kMessages), "--timeout", "120s"});
  ASSERT_EQ(pub->wait(300s), 0) << pub->err();
  ASSERT_EQ(sub->wait(300s), 0) << sub->err();
  std::istringstream lines(sub->out());
  int expected = 0;
  for (std::string line; std::getline(lines, line); ++expected) {
    ASSERT_EQ(std::stoi(line), expected);
  }
  EXPECT_EQ(expected, kMessages);
  const std::string body = http_get(port, "/metrics").body;
  EXPECT_EQ(metric(body, "ipcmesh_bridge_messages_total{channel_namespace=\"" + namespace_ +
                             "\",channel=\"work\",direction=\"shm_to_mq\"}"),
            kMessages);
  relay->signal(SIGTERM);
  EXPECT_EQ(relay->wait(), 0) << relay->err();
}

// The shm->mq bridge's subscriber follows the channel's waitMode except BusyPoll, which it turns
// into SpinThenSleep: on a BusyPoll channel it still sleeps while the ring is idle (an idle relay
// uses no CPU), and it forwards every message.
TEST_F(RelayBridge, ShmToMqBridgeOfABusyPollChannelStillSleepsWhenIdle) {
  const std::string spec = write_spec({ChannelJson{.name = "polled",
                                                   .transport = "Both",
                                                   .shm_max_message = "1Ki",
                                                   .wait_mode = "BusyPoll",
                                                   .queue_max_message = "1Ki",
                                                   .shm_to_mq = true}});
  auto relay = start_relay(spec);
  ASSERT_NE(wait_ready(*relay), 0);
  auto channel = ShmChannel::open(shm_object_name({namespace_, "polled"}));
  ASSERT_TRUE(channel) << channel.error().message;
  ASSERT_EQ(channel->stats().subscribers.size(), 1u) << "the bridge subscribes before ready";
  EXPECT_TRUE(subscriber_sleeps(*channel, 10s)) << "the bridge busy-polls";
  auto pub = run({kCtl, "pub", "--channel", "polled", "--namespace", namespace_, "--size", "10",
                  "--count", "5"});
  auto sub = run({kCtl, "sub", "--channel", "polled", "--namespace", namespace_, "--transport",
                  "mq", "--count", "5", "--timeout", "60s", "--quiet"});
  ASSERT_EQ(pub->wait(), 0) << pub->err();
  ASSERT_EQ(sub->wait(), 0) << sub->err();
  EXPECT_EQ(sub->out(), "5\n");
  channel = tl::unexpected(Error{ErrorCode::kNotFound, ""});
  relay->signal(SIGTERM);
  EXPECT_EQ(relay->wait(), 0) << relay->err();
}

}  // namespace
}  // namespace ipcmesh::relay_testing
