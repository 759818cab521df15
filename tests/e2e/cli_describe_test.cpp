// ipcmeshctl describe channel on real Pods: the live counters come from the running relay through
// the API server's Pod proxy (the cluster tier, with no kubelet, can only show them unreachable).
#include <gtest/gtest.h>

#include "e2e.hpp"

namespace ipcmesh::e2e {
namespace {

using nlohmann::json;

// ipcmeshctl as a user runs it on the host, with the suite's KUBECONFIG, bounded in time.
CommandResult ipcmeshctl(const std::vector<std::string>& args) {
  std::vector<std::string> argv = {"timeout", "60", std::string(IPCMESH_BIN_DIR) + "/ipcmeshctl"};
  argv.insert(argv.end(), args.begin(), args.end());
  return cluster::run_command(argv);
}

TEST(CliDescribeTest, DescribeChannelShowsLiveCountersFromARunningRelay) {
  const std::string ns = create_namespace("e2e-cli");
  kubectl_ok({"apply", "-n", ns, "-f", "-"}, ipc_channel("ticks", "app", "ticks", kSmallRing));
  // A subscriber and a steady publisher in one Pod: the relay's metrics count both.
  kubectl_ok({"apply", "-n", ns, "-f", "-"},
             script_pod({.name = "ticker",
                         .label_key = "app",
                         .label_value = "ticks",
                         .script = "ipcmeshctl sub --channel ticks --namespace " + ns +
                                   " --quiet & sleep 1; ipcmeshctl pub --channel ticks "
                                   "--namespace " +
                                   ns + " --size 64 --count 100000 --interval 100ms"}));
  wait_for_phase(ns, "ticker", "Running");

  json relay;
  const bool counted = eventually(
      [&] {
        const CommandResult described =
            ipcmeshctl({"describe", "channel", "ticks", "-n", ns, "-o", "json"});
        if (!described.ok()) return false;
        const json object = json::parse(described.out, nullptr, false);
        if (!object.is_object() || object["pods"].empty()) return false;
        relay = object["pods"][0]["relay"];
        return relay.value("reachable", false) && relay.value("publishedMessages", 0) > 5 &&
               relay.value("deliveredMessages", 0) > 5;
      },
      std::chrono::seconds(90));
  EXPECT_TRUE(counted) << relay.dump(2) << "\n" << describe_pod(ns, "ticker");
  EXPECT_EQ(relay.value("version", ""), project_version()) << relay.dump(2);
  EXPECT_EQ(relay.value("subscribers", 0), 1) << relay.dump(2);

  const CommandResult text = ipcmeshctl({"describe", "channel", "ticks", "-n", ns});
  ASSERT_EQ(text.exit_code, 0) << text.err;
  EXPECT_NE(text.out.find("ticker   injected    " + project_version()), std::string::npos)
      << text.out;
  EXPECT_EQ(text.out.find("Relays not read"), std::string::npos) << text.out;
  std::cout << "[          ] describe channel on a running relay:\n" << text.out;
  kubectl({"delete", "namespace", ns, "--wait=false"});
}

}  // namespace
}  // namespace ipcmesh::e2e
