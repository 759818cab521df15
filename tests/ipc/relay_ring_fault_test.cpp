// What happens to a hosted ring in production, with real processes: a foreign program truncates
// it under the relay and the apps (everybody survives, the relay reports it, the apps get an
// error), and a spec change replaces it (the apps move to the new generation by themselves).
#include <algorithm>
#include <array>
#include <span>

#include "ipcmesh/channel_spec.hpp"
#include "ipcmesh/shm_channel.hpp"
#include "relay_test_support.hpp"

namespace ipcmesh::relay_testing {
namespace {

const std::string kPeer = IPCMESH_BIN_DIR "/ipcmesh-test-peer";

class RelayRingFaults : public RelayTest {
 protected:
  std::unique_ptr<Process> peer(const std::vector<std::string>& args) {
    std::vector<std::string> argv{kPeer};
    argv.insert(argv.end(), args.begin(), args.end());
    auto process = run(argv);
    return process;
  }
  static bool said_ready(Process& process) {
    return eventually([&] {
             return process.out().find("ready") != std::string::npos || !process.running();
           }) &&
           process.out().find("ready") != std::string::npos;
  }
};

std::size_t count_of(const std::string& text, const std::string& part) {
  std::size_t count = 0;
  for (auto at = text.find(part); at != std::string::npos; at = text.find(part, at + 1)) ++count;
  return count;
}

// Proves: a foreign program that truncates a live ring (to nothing, or to less than its size)
// kills nobody. The relay keeps running and serving the other channel; /metrics answers and
// reports the ring corrupted, /readyz says why, the log says it once; a subscriber waiting on the
// ring and a publisher blocked on it (in their own processes) get kCorrupted, not SIGBUS; the
// relay's own bridge stops; SIGTERM then removes everything.
TEST_F(RelayRingFaults, ARingTruncatedUnderTheRelayIsReportedAndKillsNobody) {
  for (const long long size : {0ll, 16 * 1024ll}) {
    SCOPED_TRACE("truncated to " + std::to_string(size) + " bytes");
    // The shm->mq bridge is a subscriber of the relay's own; with nobody reading the queue it
    // stops reading the ring once the queue is full, so the ring fills and the publisher blocks.
    const std::string spec = write_spec({ChannelJson{.name = "victim",
                                                     .transport = "Both",
                                                     .shm_size = "64Ki",
                                                     .shm_max_message = "1Ki",
                                                     .queue_max_message = "1Ki",
                                                     .shm_to_mq = true},
                                         ChannelJson{.name = "healthy"}});
    const std::string victim = shm_object_name({namespace_, "victim"});
    auto relay = start_relay(spec);
    const std::uint16_t port = wait_ready(*relay);
    ASSERT_NE(port, 0);

    auto subscriber = peer({"wait-error", victim});
    auto publisher = peer({"blocked-publish", victim, "512"});
    ASSERT_TRUE(said_ready(*subscriber)) << subscriber->err();
    ASSERT_TRUE(said_ready(*publisher)) << publisher->err();
    ASSERT_TRUE(eventually([&] {
      const auto fill =
          metric(http_get(port, "/metrics").body, series("ipcmesh_channel_fill_ratio", "victim"));
      return fill.value_or(0) > 0.9;
    })) << "the ring never filled";

    auto truncate = peer({"truncate", victim, std::to_string(size)});
    ASSERT_EQ(truncate->wait(), 0) << truncate->err();

    ASSERT_TRUE(eventually([&] {
      return metric(http_get(port, "/metrics").body,
                    series("ipcmesh_channel_corrupted", "victim")) == 1;
    })) << relay->err();
    const HttpResult metrics = http_get(port, "/metrics");
    EXPECT_EQ(metrics.status, 200);
    EXPECT_EQ(metric(metrics.body, series("ipcmesh_channel_corrupted", "healthy")), 0);
    EXPECT_EQ(metric(metrics.body, "ipcmesh_relay_ready"), 0);
    const HttpResult ready = http_get(port, "/readyz");
    EXPECT_EQ(ready.status, 503);
    EXPECT_NE(ready.body.find("corrupted: channel " + namespace_ + "/victim"), std::string::npos)
        << ready.body;
    EXPECT_NE(ready.body.find("resized to " + std::to_string(size) + " bytes"), std::string::npos)
        << ready.body;

    ASSERT_EQ(subscriber->wait(30s), 0) << subscriber->err();
    EXPECT_EQ(subscriber->out().rfind("ready\nerror corrupted ", 0), 0u) << subscriber->out();
    ASSERT_EQ(publisher->wait(30s), 0) << publisher->err();
    EXPECT_EQ(publisher->out().rfind("ready\nerror corrupted ", 0), 0u) << publisher->out();
    ASSERT_TRUE(eventually([&] {
      return relay->err().find("bridge shm_to_mq " + victim) != std::string::npos &&
             relay->err().find("stopped: the ring is corrupted") != std::string::npos;
    })) << relay->err();

    // The other channel carries on.
    auto pub = run({kCtl, "pub", "--channel", "healthy", "--namespace", namespace_, "--size", "8",
                    "--count", "3"});
    ASSERT_EQ(pub->wait(), 0) << pub->err();
    EXPECT_EQ(metric(http_get(port, "/metrics").body,
                     series("ipcmesh_channel_published_messages_total", "healthy")),
              3);
    EXPECT_TRUE(relay->running());
    EXPECT_EQ(count_of(relay->err(), "the ring is corrupted and the relay no longer uses it"), 1u)
        << relay->err();

    relay->signal(SIGTERM);
    EXPECT_EQ(relay->wait(), 0) << relay->err();
    EXPECT_NE(relay->err().find("removing corrupted " + victim), std::string::npos) << relay->err();
    EXPECT_EQ(shm_objects(), std::vector<std::string>{});
    EXPECT_EQ(queues(), std::vector<std::string>{});
  }
}

// Proves: when the relay comes back with another ring spec (after a SIGTERM that kept the ring for
// the attached apps, or after kill -9), it closes the old ring before replacing it, and a
// publisher and a subscriber attached to the old one (in their own processes) move to the new
// generation by themselves: every message arrives once and in order, each counts one move, the
// relay counts two, and no process maps the old ring any more; /dev/shm holds only the new ring.
TEST_F(RelayRingFaults, ASpecChangeMovesAttachedAppsToTheNewGeneration) {
  for (const int stop : {SIGTERM, SIGKILL}) {
    SCOPED_TRACE(strsignal(stop));
    const std::string first_spec = write_spec(
        {ChannelJson{.name = "moving", .shm_size = "64Ki", .shm_max_message = "1Ki"}}, "one.json");
    const std::string second_spec = write_spec(
        {ChannelJson{.name = "moving", .shm_size = "128Ki", .shm_max_message = "1Ki"}}, "two.json");
    const std::string name = shm_object_name({namespace_, "moving"});
    auto first = start_relay(first_spec, 0, "control", "1s");
    const std::uint16_t first_port = wait_ready(*first);
    ASSERT_NE(first_port, 0);

    constexpr int kMessages = 400;
    auto subscriber = peer({"follow", name, std::to_string(kMessages)});
    ASSERT_TRUE(said_ready(*subscriber)) << subscriber->err();
    auto publisher = peer({"stream", name, std::to_string(kMessages), "5000"});
    ASSERT_TRUE(said_ready(*publisher)) << publisher->err();
    ASSERT_TRUE(eventually([&] {
      return metric(http_get(first_port, "/metrics").body,
                    series("ipcmesh_channel_published_messages_total", "moving"))
                 .value_or(0) >= 50;
    }));

    first->signal(stop);
    first->wait();
    auto second = start_relay(second_spec, 0, "control", "1s");
    const std::uint16_t port = wait_ready(*second);
    ASSERT_NE(port, 0);
    EXPECT_NE(second->err().find("closed it first"), std::string::npos) << second->err();

    ASSERT_EQ(publisher->wait(), 0) << publisher->err();
    ASSERT_EQ(subscriber->wait(), 0) << subscriber->err();
    EXPECT_EQ(publisher->out(), "ready\npublished " + std::to_string(kMessages) +
                                    " reattached 1 unlinked_mappings 0\n");
    EXPECT_EQ(subscriber->out(), "ready\nreceived " + std::to_string(kMessages) +
                                     " in_order 1 reattached 1 unlinked_mappings 0\n");
    const std::string body = http_get(port, "/metrics").body;
    EXPECT_EQ(metric(body, series("ipcmesh_channel_reattached_total", "moving")), 2) << body;
    EXPECT_EQ(metric(body, series("ipcmesh_channel_capacity_bytes", "moving")), 128 * 1024);
    EXPECT_GT(
        metric(body, series("ipcmesh_channel_published_messages_total", "moving")).value_or(0), 0);
    auto objects = shm_objects();
    std::erase_if(objects,
                  [](const std::string& object) { return object.starts_with(".ipcmesh"); });
    EXPECT_EQ(objects, std::vector<std::string>{name.substr(1)});

    second->signal(SIGTERM);
    EXPECT_EQ(second->wait(), 0) << second->err();
    EXPECT_EQ(shm_objects(), std::vector<std::string>{});
  }
}

}  // namespace
}  // namespace ipcmesh::relay_testing
