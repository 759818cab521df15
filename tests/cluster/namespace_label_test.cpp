// The namespace-label check against the real API server: the chart registers the webhook only for
// namespaces labelled ipcmesh.io/injection=enabled, so a channel elsewhere injects nothing. The
// operator (default --namespace-label) watches Namespaces and says so on the channel, naming the
// label to add; `kubectl label namespace` clears it within seconds (the Namespace watch re-queues
// the namespace's channels, no resync wait).
#include <gtest/gtest.h>

#include <chrono>
#include <iostream>
#include <nlohmann/json.hpp>
#include <string>

#include "cluster.hpp"
#include "ipc_objects.hpp"

namespace ipcmesh::cluster {
namespace {

using nlohmann::json;

constexpr const char* kInjectionLabel = "ipcmesh.io/injection=enabled";

// Waits until the channel's InjectionEnabled condition has this status; fails with what it saw.
json wait_for_injection_enabled(const std::string& ns, const std::string& name,
                                const std::string& status, const OperatorProcess& op,
                                std::chrono::milliseconds timeout) {
  json channel;
  const bool reached = eventually(
      [&] {
        channel = get_channel(ns, name);
        return condition_of(channel, "InjectionEnabled").value("status", "") == status;
      },
      timeout);
  EXPECT_TRUE(reached) << "channel " << ns << "/" << name
                       << " never had InjectionEnabled=" << status << "; status:\n"
                       << channel.value("status", json::object()).dump(2)
                       << "\noperator log tail:\n"
                       << op.log_tail();
  return channel;
}

// A channel in a namespace without the label gets InjectionEnabled=False and Ready=False naming
// the label and the kubectl command (plus a Warning Event); labelling the namespace turns both
// True within a few seconds.
TEST(NamespaceLabel, ChannelInAnUnlabelledNamespaceSaysWhichLabelToAddUntilItIsAdded) {
  OperatorProcess op(OperatorOptions{.identity = "namespace-label", .extra_flags = {}});
  op.wait_ready();
  const std::string ns = create_namespace("nslabel");
  kubectl_ok({"label", "namespace", ns, "ipcmesh.io/injection-"});  // as a user's namespace is
  kubectl_ok({"apply", "-n", ns, "-f", "-"}, channel_manifest("frames", "demo"));

  json channel = wait_for_injection_enabled(ns, "frames", "False", op, std::chrono::seconds(30));
  const json enabled = condition_of(channel, "InjectionEnabled");
  EXPECT_EQ(enabled.value("reason", ""), "NamespaceNotEnabled") << enabled.dump();
  const std::string message = enabled.value("message", "");
  EXPECT_NE(message.find(std::string("is not labelled ") + kInjectionLabel), std::string::npos)
      << message;
  EXPECT_NE(message.find("kubectl label namespace " + ns + " " + kInjectionLabel),
            std::string::npos)
      << message;
  const json ready = condition_of(channel, "Ready");
  EXPECT_EQ(ready.value("status", ""), "False") << ready.dump();
  EXPECT_EQ(ready.value("reason", ""), "NamespaceNotEnabled") << ready.dump();
  const bool warned = eventually([&] {
    return !find_event(events_about(ns, "frames"), "Warning", "NamespaceNotEnabled").empty();
  });
  EXPECT_TRUE(warned) << describe_events(events_about(ns, "frames"));

  const auto labelled_at = std::chrono::steady_clock::now();
  kubectl_ok({"label", "namespace", ns, kInjectionLabel});
  channel = wait_for_injection_enabled(ns, "frames", "True", op, std::chrono::seconds(5));
  const auto took = std::chrono::duration_cast<std::chrono::milliseconds>(
      std::chrono::steady_clock::now() - labelled_at);
  EXPECT_EQ(condition_of(channel, "InjectionEnabled").value("reason", ""), "NamespaceEnabled");
  EXPECT_EQ(condition_of(channel, "Ready").value("status", ""), "True")
      << channel.value("status", json::object()).dump(2);
  std::cout << "[          ] InjectionEnabled turned True " << took.count()
            << " ms after kubectl label namespace\n";

  kubectl({"delete", "namespace", ns, "--wait=false"});
}

}  // namespace
}  // namespace ipcmesh::cluster
