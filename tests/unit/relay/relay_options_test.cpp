#include "relay/relay_options.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace ipcmesh::relay {
namespace {

using namespace std::chrono_literals;

// The relay's flags: defaults, --listen HOST:PORT, and usage errors naming the flag.
TEST(RelayOptions, DefaultsAndFlags) {
  auto defaults = parse_relay_options({});
  ASSERT_TRUE(defaults);
  EXPECT_EQ(defaults->grace_period, 10s);
  EXPECT_EQ(defaults->listen_host, "127.0.0.1");
  EXPECT_FALSE(defaults->metrics_port.has_value());
  auto listen = parse_relay_options({"--listen", "0.0.0.0:9191", "--grace-period", "2s"});
  ASSERT_TRUE(listen);
  EXPECT_EQ(listen->listen_host, "0.0.0.0");
  EXPECT_EQ(listen->metrics_port, 9191);
  EXPECT_EQ(listen->grace_period, 2s);
  for (const std::vector<std::string>& bad : {std::vector<std::string>{"--listen", "nowhere"},
                                              {"--metrics-port", "70000"},
                                              {"--log-level", "loud"},
                                              {"--grace-period=soon"}}) {
    auto refused = parse_relay_options(bad);
    ASSERT_FALSE(refused) << bad[0];
    EXPECT_EQ(refused.error().exit_code, 2);
    EXPECT_EQ(
        refused.error().output.rfind("ipcmesh-relay: " + bad[0].substr(0, bad[0].find('=')), 0), 0u)
        << refused.error().output;
  }
  auto help = parse_relay_options({"--log-level", "loud", "--help"});
  ASSERT_FALSE(help);
  EXPECT_EQ(help.error().exit_code, 0);
  EXPECT_EQ(help.error().output, relay_usage());
}

}  // namespace
}  // namespace ipcmesh::relay
