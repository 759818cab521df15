// ipcmeshctl pub --interval: a steady trickle instead of a burst (the demo's producers use it).
// Real relay, real ipcmeshctl processes, in the test's private IPC and mount namespaces.
#include "relay_test_support.hpp"

namespace ipcmesh::relay_testing {
namespace {

class PubInterval : public RelayTest {};

// Four generated messages with --interval 400ms take at least three pauses (no pause before the
// first or after the last), and every message still arrives, in order. Without the pauses the
// same run takes a few milliseconds.
TEST_F(PubInterval, GeneratedMessagesAreSpacedByTheIntervalAndAllArrive) {
  const std::string spec = write_spec({ChannelJson{.name = "trickle"}});
  auto relay = start_relay(spec);
  const std::uint16_t port = wait_ready(*relay);
  ASSERT_NE(port, 0);
  auto sub = run({kCtl, "sub", "--channel", "trickle", "--namespace", namespace_, "--count", "4",
                  "--timeout", "30s"});
  // The subscriber attaches at the tail: wait until it is attached before publishing.
  ASSERT_TRUE(eventually([&] {
    return metric(http_get(port, "/metrics").body,
                  series("ipcmesh_channel_subscribers", "trickle")) == 1.0;
  })) << sub->err();

  const auto started = std::chrono::steady_clock::now();
  auto pub = run({kCtl, "pub", "--channel", "trickle", "--namespace", namespace_, "--size", "16",
                  "--count", "4", "--interval", "400ms"});
  ASSERT_EQ(pub->wait(), 0) << pub->err();
  const auto elapsed = std::chrono::steady_clock::now() - started;
  // A lower bound only: sleeps never end early, and a loaded machine only adds time.
  EXPECT_GE(elapsed, 1200ms);

  ASSERT_EQ(sub->wait(), 0) << sub->err();
  EXPECT_EQ(sub->out(), "0 ..............\n1 ..............\n2 ..............\n3 ..............\n");
  EXPECT_EQ(metric(http_get(port, "/metrics").body,
                   series("ipcmesh_channel_published_messages_total", "trickle")),
            4.0);
  relay->signal(SIGTERM);
  EXPECT_EQ(relay->wait(), 0) << relay->err();
}

// A bad --interval is a usage error (exit 2) whose one line names the flag.
TEST_F(PubInterval, UnparsableIntervalIsAUsageError) {
  auto pub = run({kCtl, "pub", "--channel", "/nowhere", "--size", "8", "--interval", "soon"});
  EXPECT_EQ(pub->wait(), 2);
  EXPECT_NE(pub->err().find("--interval"), std::string::npos) << pub->err();
}

}  // namespace
}  // namespace ipcmesh::relay_testing
