// scope: Node channels: Pods of one node share a channel through hostIPC where the policy allows
// the namespace, are refused with the policy's message where it does not, and deleting the Pods
// leaves no shared-memory or queue object on the node.
#include <gtest/gtest.h>

#include "e2e.hpp"

namespace ipcmesh::e2e {
namespace {

std::string node_channel(const std::string& name) {
  return ipc_channel(name, "channel", name, std::string("  scope: Node\n") + kSmallRingAndQueue);
}

std::string pod(const std::string& name, const std::string& channel, const std::string& script,
                bool host_ipc = false) {
  return script_pod({.name = name,
                     .label_key = "channel",
                     .label_value = channel,
                     .script = script,
                     .host_ipc = host_ipc,
                     .restricted = false});
}

// The objects named /ipcmesh.<ns>.* in the node's IPC namespace, listed by a Pod that is not
// selected by any channel and shares the node's IPC namespace (hostIPC: /dev/shm and /dev/mqueue
// are the node's).
std::string node_ipc_objects(const std::string& ns) {
  const std::string name = "probe-" + std::to_string(std::rand() % 100000);
  kubectl_ok(
      {"apply", "-n", kHostIpcNamespace, "-f", "-"},
      pod(name, "none", "ls -1A /dev/shm /dev/mqueue | grep -F ipcmesh." + ns + ". || true", true));
  wait_for_phase(kHostIpcNamespace, name, "Succeeded");
  std::string listed = pod_logs(kHostIpcNamespace, name, "app");
  kubectl({"delete", "pod", name, "-n", kHostIpcNamespace, "--wait=false"});
  return listed;
}

class NodeScopeTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (!kubectl({"get", "namespace", kHostIpcNamespace}).ok())
      create_named_namespace(kHostIpcNamespace);
  }
};

// Runs a subscriber in `subscriber_pod` and a publisher in `publisher_pod` (ring one way, queue the
// other) and checks both ended Succeeded with the messages; `peer_channel` is how the publisher
// names the channel (a channel name inside an injected Pod, the POSIX name outside).
void exchange_through_the_node(const std::string& ns, const std::string& subscriber_channel,
                               const std::string& peer_channel, bool peer_injected) {
  const std::string stat =
      "ipcmeshctl stat --channel " + peer_channel + " --namespace " + ns + " -o json";
  kubectl_ok({"apply", "-n", ns, "-f", "-"},
             pod("subscriber", "shared",
                 "set -e; ipcmeshctl sub --channel " + subscriber_channel + " --namespace " + ns +
                     " --count 5 --timeout 120s; ipcmesh-example-pubsub publish shared mq 5"));
  // The publisher waits until the ring shows the subscriber (no sleep standing in for it).
  const std::string queue = peer_injected ? "shared" : peer_channel + ".mq";
  kubectl_ok({"apply", "-n", ns, "-f", "-"}, pod("publisher", peer_injected ? "shared" : "peer",
                                                 "set -e; until " + stat +
                                                     " | grep -q slot; do sleep 0.2; done; "
                                                     "ipcmeshctl pub --channel " +
                                                     peer_channel + " --namespace " + ns +
                                                     " --size 64 --count 5; "
                                                     "ipcmesh-example-pubsub subscribe " +
                                                     queue + " mq 5 120000",
                                                 !peer_injected));
  wait_for_phase(ns, "subscriber", "Succeeded", std::chrono::seconds(180));
  wait_for_phase(ns, "publisher", "Succeeded", std::chrono::seconds(180));

  const auto both = kubectl_json({"get", "pods", "subscriber", "publisher", "-n", ns});
  for (const auto& item : both["items"])
    EXPECT_TRUE(item["spec"].value("hostIPC", false)) << item["metadata"]["name"];
  const std::string ring_messages = pod_logs(ns, "subscriber", "app");
  for (int i = 0; i < 5; ++i) {
    EXPECT_NE(ring_messages.find(std::to_string(i) + " ."), std::string::npos) << ring_messages;
  }
  EXPECT_EQ(count_lines_containing(pod_logs(ns, "publisher", "app"), "received: message"), 5u);

  kubectl_ok(
      {"delete", "pod", "subscriber", "publisher", "-n", ns, "--wait=true", "--timeout=120s"});
  // The (last) relay to stop removes the node-wide objects.
  std::string left;
  const bool clean = eventually([&] { return (left = node_ipc_objects(ns)).empty(); },
                                std::chrono::seconds(60), std::chrono::seconds(2));
  EXPECT_TRUE(clean) << "left on the node: " << left;
}

// One injected Pod (its relay creates the node-wide ring and queue) and a hostIPC Pod that no
// channel selects, which opens them by their POSIX names: the channel is the node's.
TEST_F(NodeScopeTest, InjectedPodAndAHostIpcPeerShareTheChannelAndLeaveNothingBehind) {
  const std::string ns = kHostIpcNamespace;
  kubectl_ok({"apply", "-n", ns, "-f", "-"}, node_channel("shared"));
  exchange_through_the_node(ns, "shared", "/ipcmesh." + ns + ".shared", false);
  kubectl({"delete", "ipcchannel", "shared", "-n", ns});
}

// Two injected Pods: the second Pod's relay follows the first one's (docs/relay.md), both Pods'
// apps share the node's ring and queue, and the last relay out removes them.
TEST_F(NodeScopeTest, TwoInjectedPodsShareTheChannelAndLeaveNothingBehind) {
  const std::string ns = kHostIpcNamespace;
  kubectl_ok({"apply", "-n", ns, "-f", "-"}, node_channel("shared"));
  exchange_through_the_node(ns, "shared", "shared", true);
  kubectl({"delete", "ipcchannel", "shared", "-n", ns});
}

TEST_F(NodeScopeTest, RefusedWithThePolicysMessageOutsideTheAllowedNamespaces) {
  const std::string ns = create_namespace("e2e-node-denied");
  kubectl_ok({"apply", "-n", ns, "-f", "-"}, node_channel("shared"));
  const auto created = kubectl({"apply", "-n", ns, "-f", "-"}, pod("denied", "shared", "true"));
  kubectl({"delete", "namespace", ns, "--wait=false"});
  ASSERT_FALSE(created.ok()) << "a scope: Node Pod was admitted in " << ns;
  EXPECT_NE(created.err.find("denied the request"), std::string::npos) << created.err;
  EXPECT_NE(created.err.find("does not allow hostIPC in namespace " + ns), std::string::npos)
      << created.err;
}

TEST_F(NodeScopeTest, PodScopeObjectsNeverReachTheNode) {
  const std::string ns = create_namespace("e2e-pod-scope");
  kubectl_ok({"apply", "-n", ns, "-f", "-"},
             ipc_channel("private", "channel", "private", kSmallRingAndQueue));
  kubectl_ok({"apply", "-n", ns, "-f", "-"},
             pod("private", "private", "ls /dev/shm /dev/mqueue; exec sleep 600"));
  wait_for_ready(ns, "private");
  const std::string inside = pod_logs(ns, "private", "app");
  EXPECT_NE(inside.find("ipcmesh." + ns + ".private"), std::string::npos) << inside;
  EXPECT_EQ(node_ipc_objects(ns), "");
  kubectl({"delete", "namespace", ns, "--wait=false"});
}

}  // namespace
}  // namespace ipcmesh::e2e
