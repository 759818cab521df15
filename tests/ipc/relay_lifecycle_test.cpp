// The relay's life as a Pod sees it: it creates channels before anyone needs them, is ready only
// then, counts what flows, and on SIGTERM drains and leaves nothing behind.
#include <sys/file.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cstring>
#include <span>
#include <thread>

#include "ipcmesh/channel_spec.hpp"
#include "ipcmesh/message_queue.hpp"
#include "ipcmesh/shm_channel.hpp"
#include "relay_test_support.hpp"

namespace ipcmesh::relay_testing {
namespace {

class RelayLifecycle : public RelayTest {};

std::size_t subscriber_count(const std::string& shm_name) {
  auto channel = ShmChannel::open(shm_name);
  return channel ? channel->stats().subscribers.size() : 0;
}

// Messages published with ipcmeshctl arrive at an ipcmeshctl subscriber, and /metrics counts
// exactly the messages and bytes that were published and delivered.
TEST_F(RelayLifecycle, MessagesArriveAndMetricsCountThemExactly) {
  const std::string spec = write_spec({ChannelJson{.name = "orders"}});
  auto relay = start_relay(spec);
  const std::uint16_t port = wait_ready(*relay);
  ASSERT_NE(port, 0);
  const std::string shm_name = shm_object_name({namespace_, "orders"});

  auto sub = run({kCtl, "sub", "--channel", "orders", "--namespace", namespace_, "--count", "50",
                  "--timeout", "60s"});
  ASSERT_TRUE(eventually([&] { return subscriber_count(shm_name) == 1; }));
  // Each line is one message: 50 lines of 10 bytes ("message-NN").
  std::string lines;
  for (int i = 0; i < 50; ++i)
    lines += "message-" + std::string(i < 10 ? "0" : "") + std::to_string(i) + "\n";
  write_file(work_dir_ + "/in.txt", lines);
  auto pub =
      run({kCtl, "pub", "--channel", "orders", "--namespace", namespace_}, work_dir_ + "/in.txt");
  ASSERT_EQ(pub->wait(), 0) << pub->err();
  ASSERT_EQ(sub->wait(), 0) << sub->err();
  EXPECT_EQ(sub->out(), lines);

  const HttpResult metrics = http_get(port, "/metrics");
  ASSERT_EQ(metrics.status, 200);
  EXPECT_EQ(metric(metrics.body, series("ipcmesh_channel_published_messages_total", "orders")), 50);
  EXPECT_EQ(metric(metrics.body, series("ipcmesh_channel_published_bytes_total", "orders")), 500);
  EXPECT_EQ(metric(metrics.body, series("ipcmesh_channel_dropped_oldest_total", "orders")), 0);
  EXPECT_EQ(metric(metrics.body, series("ipcmesh_channel_gaps_total", "orders")), 0);
  EXPECT_EQ(metric(metrics.body, "ipcmesh_relay_ready"), 1);
  EXPECT_GT(metric(metrics.body, "process_resident_memory_bytes").value_or(0), 0);

  relay->signal(SIGTERM);
  EXPECT_EQ(relay->wait(), 0) << relay->err();
}

// A subscriber that is still attached is visible in /metrics with its delivered count and lag.
TEST_F(RelayLifecycle, MetricsShowEachSubscriberWithItsDeliveredCountAndLag) {
  const std::string spec = write_spec({ChannelJson{.name = "lag"}});
  auto relay = start_relay(spec);
  const std::uint16_t port = wait_ready(*relay);
  ASSERT_NE(port, 0);
  auto channel = ShmChannel::open(shm_object_name({namespace_, "lag"}));
  ASSERT_TRUE(channel) << channel.error().message;
  auto subscriber = Subscriber::attach(*channel);
  ASSERT_TRUE(subscriber);
  auto pub = run({kCtl, "pub", "--channel", "lag", "--namespace", namespace_, "--size", "100",
                  "--count", "70"});
  ASSERT_EQ(pub->wait(), 0) << pub->err();
  std::array<std::byte, 256> buffer{};
  // A subscriber publishes its cursor and counters once per batch of 64 messages while it has
  // more to read (docs/protocol.md, rule S1): 66 received, 64 shown, 6 behind.
  for (int i = 0; i < 66; ++i) ASSERT_TRUE(subscriber->receive_copy(buffer, 10s));

  const std::string body = http_get(port, "/metrics").body;
  const std::string labels = "{channel_namespace=\"" + namespace_ + "\",channel=\"lag\",slot=\"" +
                             std::to_string(subscriber->slot()) + "\"}";
  EXPECT_EQ(metric(body, "ipcmesh_subscriber_delivered_messages_total" + labels), 64) << body;
  EXPECT_GT(metric(body, "ipcmesh_subscriber_lag_bytes" + labels).value_or(0), 0) << body;
  EXPECT_EQ(metric(body, series("ipcmesh_channel_subscribers", "lag")), 1);
  EXPECT_GT(metric(body, series("ipcmesh_channel_fill_ratio", "lag")).value_or(0), 0);
  subscriber = tl::unexpected(Error{ErrorCode::kNotFound, ""});  // detach before shutdown
  relay->signal(SIGTERM);
  EXPECT_EQ(relay->wait(), 0) << relay->err();
}

// /readyz says 503 and no ready file exists while a live relay owns the channel's name; once it
// is gone the relay creates the channel and only then flips to ready.
TEST_F(RelayLifecycle, ReadinessFlipsOnlyWhenEveryChannelExists) {
  const std::string spec = write_spec({ChannelJson{.name = "first"}, ChannelJson{.name = "held"}});
  const std::string held_shm = shm_object_name({namespace_, "held"});
  // Play a live relay that owns "held": hold its ownership lock (docs/relay.md, "Ownership").
  const std::string lock_path = "/dev/shm/.ipcmesh-owner.shm." + held_shm.substr(1);
  const int lock_fd = ::open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0660);
  ASSERT_GE(lock_fd, 0);
  ASSERT_EQ(::flock(lock_fd, LOCK_EX | LOCK_NB), 0);

  const std::uint16_t port = free_port();
  auto relay = start_relay(spec, port);
  ASSERT_TRUE(eventually([&] { return http_get(port, "/healthz").status == 200; })) << relay->err();
  // The first channel exists already, the held one does not: not ready.
  ASSERT_TRUE(eventually([&] {
    return ShmChannel::open(shm_object_name({namespace_, "first"})).has_value();
  }));
  const HttpResult not_ready = http_get(port, "/readyz");
  EXPECT_EQ(not_ready.status, 503);
  EXPECT_NE(not_ready.body.find("held"), std::string::npos) << not_ready.body;
  EXPECT_FALSE(file_exists(control_dir() + "/ready"));
  EXPECT_FALSE(ShmChannel::open(held_shm).has_value());
  EXPECT_EQ(metric(http_get(port, "/metrics").body, "ipcmesh_relay_ready"), 0);

  ::close(lock_fd);  // the "other relay" exits
  ASSERT_NE(wait_ready(*relay), 0);
  EXPECT_TRUE(ShmChannel::open(held_shm).has_value());
  EXPECT_EQ(http_get(port, "/readyz").status, 200);
  relay->signal(SIGTERM);
  EXPECT_EQ(relay->wait(), 0) << relay->err();
}

// After SIGTERM the relay exits 0 and /dev/shm, the mqueue namespace and the control dir hold
// nothing of its channels (rings, queues, legacy queue names, lock files, ready file).
TEST_F(RelayLifecycle, SigtermLeavesNothingBehind) {
  const std::string legacy = "/legacy_" + std::to_string(::getpid());
  const std::string spec = write_spec(
      {ChannelJson{.name = "ring"}, ChannelJson{.name = "work", .transport = "MessageQueue"},
       ChannelJson{.name = "both", .transport = "Both", .queue_name = legacy, .mq_to_shm = true}});
  auto relay = start_relay(spec);
  ASSERT_NE(wait_ready(*relay), 0);
  EXPECT_EQ(queues().size(), 2u);
  EXPECT_GE(shm_objects().size(), 2u);
  EXPECT_TRUE(MessageQueue::open(legacy).has_value());

  relay->signal(SIGTERM);
  ASSERT_EQ(relay->wait(), 0) << relay->err();
  EXPECT_EQ(shm_objects(), std::vector<std::string>{});
  EXPECT_EQ(queues(), std::vector<std::string>{});
  EXPECT_EQ(MessageQueue::open(legacy).error().code, ErrorCode::kNotFound);
  EXPECT_FALSE(file_exists(control_dir() + "/ready"));
  EXPECT_NE(relay->err().find("\"msg\":\"stopped"), std::string::npos) << relay->err();
}

// On SIGTERM the relay waits for a lagging subscriber to catch up (within the grace period)
// before it unlinks, and is not ready while it drains.
TEST_F(RelayLifecycle, SigtermLetsALaggingSubscriberDrainFirst) {
  const std::string spec = write_spec({ChannelJson{.name = "drain"}});
  auto relay = start_relay(spec, 0, "control", "120s");
  const std::uint16_t port = wait_ready(*relay);
  ASSERT_NE(port, 0);
  auto channel = ShmChannel::open(shm_object_name({namespace_, "drain"}));
  ASSERT_TRUE(channel);
  auto subscriber = Subscriber::attach(*channel);
  ASSERT_TRUE(subscriber);
  auto pub = run({kCtl, "pub", "--channel", "drain", "--namespace", namespace_, "--size", "64",
                  "--count", "20"});
  ASSERT_EQ(pub->wait(), 0) << pub->err();

  relay->signal(SIGTERM);
  ASSERT_TRUE(eventually([&] { return http_get(port, "/readyz").status == 503; }));
  EXPECT_TRUE(relay->running()) << "exited while a subscriber still lagged";
  EXPECT_FALSE(file_exists(control_dir() + "/ready"));
  std::array<std::byte, 128> buffer{};
  for (int i = 0; i < 20; ++i) ASSERT_TRUE(subscriber->receive_copy(buffer, 10s)) << i;
  // Everything read: the relay finishes well before its 120 s grace period.
  EXPECT_EQ(relay->wait(60s), 0) << relay->err();
  EXPECT_NE(relay->err().find("drained"), std::string::npos) << relay->err();
}

// kill -9 leaves the objects and the ready file behind; a new relay takes ownership (the lock
// died with the old one) and adopts them: same ring (generation), the queue with its messages, and
// a subscriber attached before the crash keeps receiving what the restarted relay bridges.
TEST_F(RelayLifecycle, KillNineThenRestartAdoptsTheChannel) {
  const std::string legacy = "/legacy_" + std::to_string(::getpid());
  const std::string spec = write_spec(
      {ChannelJson{.name = "crash", .transport = "Both", .queue_name = legacy, .mq_to_shm = true}});
  const std::string shm_name = shm_object_name({namespace_, "crash"});
  auto first = start_relay(spec);
  ASSERT_NE(wait_ready(*first), 0);
  auto channel = ShmChannel::open(shm_name);
  ASSERT_TRUE(channel);
  const auto first_generation = channel->stats().generation;
  auto subscriber = Subscriber::attach(*channel);
  ASSERT_TRUE(subscriber);
  first->signal(SIGKILL);
  ASSERT_EQ(first->wait(), 128 + SIGKILL);
  EXPECT_EQ(queues().size(), 1u) << "a crash leaves the queue behind";

  // A legacy app keeps sending while no relay runs: its message waits in the queue.
  write_file(work_dir_ + "/early.txt", "sent-while-down\n");
  auto early =
      run({kCtl, "pub", "--channel", legacy, "--transport", "mq"}, work_dir_ + "/early.txt");
  ASSERT_EQ(early->wait(), 0) << early->err();

  auto second = start_relay(spec);
  const std::uint16_t port = wait_ready(*second);
  ASSERT_NE(port, 0);
  EXPECT_NE(second->err().find("adopted shared memory"), std::string::npos) << second->err();
  EXPECT_NE(second->err().find("adopted message queue"), std::string::npos) << second->err();
  EXPECT_NE(second->err().find("removed stale ready file"), std::string::npos) << second->err();
  EXPECT_EQ(ShmChannel::open(shm_name)->stats().generation, first_generation)
      << "the ring was replaced";

  // The subscriber from before the crash gets the waiting message and new ones, in order.
  write_file(work_dir_ + "/in.txt", "a\nb\n");
  auto pub = run({kCtl, "pub", "--channel", legacy, "--transport", "mq"}, work_dir_ + "/in.txt");
  ASSERT_EQ(pub->wait(), 0) << pub->err();
  std::array<std::byte, 128> buffer{};
  for (const std::string expected : {"sent-while-down", "a", "b"}) {
    auto size = subscriber->receive_copy(buffer, 10s);
    ASSERT_TRUE(size) << expected << ": " << size.error().message;
    EXPECT_EQ(std::string(reinterpret_cast<const char*>(buffer.data()), *size), expected);
  }
  subscriber = tl::unexpected(Error{ErrorCode::kNotFound, ""});
  channel = tl::unexpected(Error{ErrorCode::kNotFound, ""});
  second->signal(SIGTERM);
  EXPECT_EQ(second->wait(), 0) << second->err();
  EXPECT_EQ(shm_objects(), std::vector<std::string>{});
  EXPECT_EQ(queues(), std::vector<std::string>{});
}

// A SIGTERM while an app is still attached is a restart (a failed liveness probe), not the Pod's
// end: the relay keeps the ring and queue, and the next relay adopts them; the app carries on.
// Once nobody is attached, SIGTERM removes everything.
TEST_F(RelayLifecycle, SigtermWhileAnAppIsAttachedKeepsTheChannelForTheNextRelay) {
  const std::string spec = write_spec({ChannelJson{.name = "kept", .transport = "Both"}});
  const std::string shm_name = shm_object_name({namespace_, "kept"});
  auto first = start_relay(spec, 0, "control", "1s");
  ASSERT_NE(wait_ready(*first), 0);
  auto channel = ShmChannel::open(shm_name);
  ASSERT_TRUE(channel);
  auto subscriber = Subscriber::attach(*channel);
  ASSERT_TRUE(subscriber);
  first->signal(SIGTERM);
  EXPECT_EQ(first->wait(), 0) << first->err();
  EXPECT_NE(first->err().find("keeping " + shm_name), std::string::npos) << first->err();
  EXPECT_EQ(queues().size(), 1u) << "the queue stays with the ring";

  auto second = start_relay(spec, 0, "control", "1s");
  ASSERT_NE(wait_ready(*second), 0);
  EXPECT_NE(second->err().find("adopted shared memory"), std::string::npos) << second->err();
  auto pub = run({kCtl, "pub", "--channel", "kept", "--namespace", namespace_, "--size", "16"});
  ASSERT_EQ(pub->wait(), 0) << pub->err();
  std::array<std::byte, 64> buffer{};
  auto size = subscriber->receive_copy(buffer, 10s);
  ASSERT_TRUE(size) << size.error().message;
  EXPECT_EQ(*size, 16u);

  subscriber = tl::unexpected(Error{ErrorCode::kNotFound, ""});
  channel = tl::unexpected(Error{ErrorCode::kNotFound, ""});
  second->signal(SIGTERM);
  EXPECT_EQ(second->wait(), 0) << second->err();
  EXPECT_EQ(shm_objects(), std::vector<std::string>{});
  EXPECT_EQ(queues(), std::vector<std::string>{});
}

// scope: Node: the relays of two Pods on one node serve one channel. The second follows the
// first (ready at once, nothing touched); when the owner leaves while the other is still there,
// it keeps the objects and the follower takes them over (adopting them: an app attached before
// carries on); the last relay out removes everything, its lock files included.
TEST_F(RelayLifecycle, NodeChannelRelaysFollowTheOwnerAndTheLastOneOutCleans) {
  const std::string spec =
      write_spec({ChannelJson{.name = "node", .transport = "Both", .scope = "Node"}});
  const std::string shm_name = shm_object_name({namespace_, "node"});
  auto owner = start_relay(spec, 0, "control-a", "1s");
  ASSERT_NE(wait_ready(*owner, "control-a"), 0);
  auto follower = start_relay(spec, 0, "control-b", "1s");
  ASSERT_NE(wait_ready(*follower, "control-b"), 0);
  EXPECT_NE(follower->err().find("following the relay"), std::string::npos) << follower->err();

  auto channel = ShmChannel::open(shm_name);
  ASSERT_TRUE(channel);
  const auto generation = channel->stats().generation;
  auto subscriber = Subscriber::attach(*channel);
  ASSERT_TRUE(subscriber);
  owner->signal(SIGTERM);
  EXPECT_EQ(owner->wait(), 0) << owner->err();
  EXPECT_NE(owner->err().find("other relays of the node still serve it"), std::string::npos)
      << owner->err();
  ASSERT_TRUE(eventually([&] {
    return follower->err().find("adopted shared memory") != std::string::npos;
  })) << follower->err();
  EXPECT_EQ(ShmChannel::open(shm_name)->stats().generation, generation);
  auto pub = run({kCtl, "pub", "--channel", "node", "--namespace", namespace_, "--size", "16"});
  ASSERT_EQ(pub->wait(), 0) << pub->err();
  std::array<std::byte, 64> buffer{};
  auto size = subscriber->receive_copy(buffer, 10s);
  ASSERT_TRUE(size) << size.error().message;

  subscriber = tl::unexpected(Error{ErrorCode::kNotFound, ""});
  channel = tl::unexpected(Error{ErrorCode::kNotFound, ""});
  follower->signal(SIGTERM);
  EXPECT_EQ(follower->wait(), 0) << follower->err();
  EXPECT_EQ(shm_objects(), std::vector<std::string>{});
  EXPECT_EQ(queues(), std::vector<std::string>{});
}

// 100 kill -9 + restart cycles of the relay while an app publishes and another subscribes under
// Block: every message arrives once, in order; the ring is never replaced, so /dev/shm never
// holds a second ring's worth; nothing is left at the end.
TEST_F(RelayLifecycle, HundredKillNineRestartsLoseNothing) {
  const std::string spec =
      write_spec({ChannelJson{.name = "steady", .shm_size = "64Ki", .shm_max_message = "64"}});
  const std::string shm_name = shm_object_name({namespace_, "steady"});
  auto relay = start_relay(spec);
  ASSERT_NE(wait_ready(*relay), 0);
  auto channel = ShmChannel::open(shm_name);
  ASSERT_TRUE(channel);
  const auto generation = channel->stats().generation;
  auto subscriber = Subscriber::attach(*channel);
  auto publisher = Publisher::attach(*channel);
  ASSERT_TRUE(subscriber && publisher);

  constexpr std::uint64_t kMessages = 200'000;
  std::atomic<bool> publishing{true};
  std::string publish_error;
  std::thread producer([&] {
    for (std::uint64_t i = 0; i < kMessages; ++i) {
      auto sent = publisher->publish(std::as_bytes(std::span(&i, 1)), 10s);
      if (!sent) {
        publish_error = sent.error().message;
        break;
      }
    }
    publishing = false;
  });
  std::uint64_t received = 0;
  std::string receive_error;
  std::thread consumer([&] {
    std::array<std::byte, 64> buffer{};
    for (; received < kMessages; ++received) {
      auto size = subscriber->receive_copy(buffer, 10s);
      std::uint64_t value = ~0ull;
      if (size && *size == sizeof value) std::memcpy(&value, buffer.data(), sizeof value);
      if (value != received) {
        receive_error = "message " + std::to_string(received) + " was " +
                        (size ? std::to_string(value) : size.error().message);
        return;
      }
    }
  });

  int cycles = 0;
  for (; cycles < 100; ++cycles) {
    relay->signal(SIGKILL);
    ASSERT_EQ(relay->wait(), 128 + SIGKILL);
    relay = start_relay(spec);
    ASSERT_NE(wait_ready(*relay), 0) << "cycle " << cycles;
    ASSERT_EQ(shm_objects().size(), 2u) << "one ring and its owner lock, cycle " << cycles;
  }
  producer.join();
  consumer.join();
  EXPECT_EQ(publish_error, "");
  EXPECT_EQ(receive_error, "");
  EXPECT_EQ(received, kMessages);
  EXPECT_EQ(channel->stats().generation, generation);
  EXPECT_EQ(channel->stats().gaps, 0u);
  EXPECT_FALSE(publishing);

  subscriber = tl::unexpected(Error{ErrorCode::kNotFound, ""});
  publisher = tl::unexpected(Error{ErrorCode::kNotFound, ""});
  channel = tl::unexpected(Error{ErrorCode::kNotFound, ""});
  relay->signal(SIGTERM);
  EXPECT_EQ(relay->wait(), 0) << relay->err();
  EXPECT_EQ(shm_objects(), std::vector<std::string>{});
}

// An app that created its queue first (O_CREAT, before the relay started) keeps it: the relay
// adopts it with the messages already in it.
TEST_F(RelayLifecycle, AQueueAnAppCreatedFirstIsAdoptedWithItsMessages) {
  const std::string name = "/app_first_" + std::to_string(::getpid());
  MessageQueueOptions options;
  options.name = name;
  options.max_messages = 10;  // the kernel's default fs.mqueue.msg_max, which the test keeps
  options.max_message_size = 8192;
  auto app_queue = MessageQueue::create(options);
  ASSERT_TRUE(app_queue) << app_queue.error().message;
  app_queue->release_name();
  for (const std::string text : {"one", "two"}) {
    ASSERT_TRUE(app_queue->send(std::as_bytes(std::span(text)), 0, 1s));
  }
  const std::string spec =
      write_spec({ChannelJson{.name = "work", .transport = "MessageQueue", .queue_name = name}});
  auto relay = start_relay(spec);
  ASSERT_NE(wait_ready(*relay), 0);
  EXPECT_NE(relay->err().find("adopted message queue " + name), std::string::npos) << relay->err();
  auto sub = run(
      {kCtl, "sub", "--channel", name, "--transport", "mq", "--count", "2", "--timeout", "10s"});
  ASSERT_EQ(sub->wait(), 0) << sub->err();
  EXPECT_EQ(sub->out(), "one\ntwo\n");
  relay->signal(SIGTERM);
  EXPECT_EQ(relay->wait(), 0) << relay->err();
}

// A queue that exists with less room than the channel asks for is never deleted (an app may hold
// it): the relay fails with a message that says what differs and what to do.
TEST_F(RelayLifecycle, AQueueThatDoesNotFitIsKeptAndTheRelayFailsClearly) {
  const std::string name = "/too_small_" + std::to_string(::getpid());
  MessageQueueOptions options;
  options.name = name;
  options.max_messages = 2;
  options.max_message_size = 64;
  auto app_queue = MessageQueue::create(options);
  ASSERT_TRUE(app_queue) << app_queue.error().message;
  const std::string spec =
      write_spec({ChannelJson{.name = "work", .transport = "MessageQueue", .queue_name = name}});
  auto relay = start_relay(spec);
  const auto code = relay->wait(30s);
  ASSERT_TRUE(code.has_value()) << "the relay kept running";
  EXPECT_NE(*code, 0);
  EXPECT_NE(relay->err().find("room for 2 messages of 64 bytes; the channel asks for 10 of 8192"),
            std::string::npos)
      << relay->err();
  EXPECT_NE(relay->err().find("never deletes a queue an app may hold"), std::string::npos)
      << relay->err();
  EXPECT_TRUE(MessageQueue::open(name).has_value()) << "the app's queue was deleted";
}

// A second relay never touches a channel that a live relay owns: it waits, unready, and the
// first relay's channel keeps its identity; when the first one exits, the second takes over.
TEST_F(RelayLifecycle, ASecondRelayNeverReclaimsAChannelALiveRelayOwns) {
  const std::string spec = write_spec({ChannelJson{.name = "owned"}});
  const std::string shm_name = shm_object_name({namespace_, "owned"});
  auto first = start_relay(spec, 0, "control-a");
  ASSERT_NE(wait_ready(*first, "control-a"), 0);
  const auto generation = ShmChannel::open(shm_name)->stats().generation;

  const std::uint16_t port = free_port();
  auto second = start_relay(spec, port, "control-b");
  ASSERT_TRUE(eventually([&] { return second->err().find("waiting") != std::string::npos; }))
      << second->err();
  EXPECT_EQ(http_get(port, "/readyz").status, 503);
  EXPECT_FALSE(file_exists(control_dir("control-b") + "/ready"));
  EXPECT_EQ(ShmChannel::open(shm_name)->stats().generation, generation);
  EXPECT_NE(second->err().find("pid " + std::to_string(first->pid())), std::string::npos)
      << second->err();

  first->signal(SIGTERM);
  ASSERT_EQ(first->wait(), 0) << first->err();
  ASSERT_NE(wait_ready(*second, "control-b"), 0);
  EXPECT_EQ(ShmChannel::open(shm_name)->stats().creator_pid, second->pid());
  second->signal(SIGTERM);
  EXPECT_EQ(second->wait(), 0) << second->err();
}

}  // namespace
}  // namespace ipcmesh::relay_testing
