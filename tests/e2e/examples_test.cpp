// The examples of examples/ as a user applies them: the injected Pods run, their apps exchange
// messages, and what the apps log agrees with what the relay's metrics count.
#include <gtest/gtest.h>

#include "e2e.hpp"

namespace ipcmesh::e2e {
namespace {

class ExamplesTest : public ::testing::Test {
 protected:
  void SetUp() override { ns_ = create_namespace("e2e-examples"); }
  void TearDown() override { kubectl({"delete", "namespace", ns_, "--wait=false"}); }
  std::string ns_;
};

// examples/workload.yaml: a producer and a consumer on the "frames" ring, and a legacy app's
// mq_send on /posix_mq_example bridged by the relay into the "legacy-bridge" ring.
TEST_F(ExamplesTest, WorkloadMessagesFlowAndTheRelayCountsThem) {
  for (const char* example : {"examples/shared-memory.yaml", "examples/both-legacy-bridge.yaml",
                              "examples/workload.yaml"}) {
    apply_example(example, ns_);
  }
  const auto rolled =
      kubectl({"rollout", "status", "deployment/pipeline", "-n", ns_, "--timeout=180s"});
  const auto pods = kubectl_json({"get", "pods", "-n", ns_, "-l", "app=pipeline"});
  ASSERT_EQ(pods["items"].size(), 1u) << pods.dump();
  const std::string pod = pods["items"][0]["metadata"]["name"];
  ASSERT_TRUE(rolled.ok()) << rolled.err << describe_pod(ns_, pod);

  // The producer publishes every 200 ms, the legacy app every second.
  std::string frames, bridged;
  const bool flowing = eventually(
      [&] {
        frames = pod_logs(ns_, pod, "consumer");
        bridged = pod_logs(ns_, pod, "legacy-subscriber");
        return count_lines_containing(frames, " ....") >= 10 &&
               count_lines_containing(bridged, " ....") >= 3;
      },
      std::chrono::seconds(90), std::chrono::seconds(1));
  ASSERT_TRUE(flowing) << "consumer:\n"
                       << frames << "\nlegacy-subscriber:\n"
                       << bridged << describe_pod(ns_, pod);

  const auto spec = kubectl_json({"get", "pod", pod, "-n", ns_});
  const auto& relay = spec["spec"]["initContainers"].at(0);
  ASSERT_EQ(relay["name"], "ipcmesh-relay");
  const int port = relay["ports"].at(0)["containerPort"];
  // Logs were read before the metrics: the relay has counted at least what the apps printed.
  const std::string metrics = pod_metrics(ns_, pod, port);
  const double published =
      metric_value(metrics, "ipcmesh_channel_published_messages_total", "frames");
  const double delivered =
      metric_value(metrics, "ipcmesh_subscriber_delivered_messages_total", "frames");
  const double bridged_count =
      metric_value(metrics, "ipcmesh_bridge_messages_total", "legacy-bridge");
  EXPECT_GE(published, static_cast<double>(count_lines_containing(frames, " ...."))) << metrics;
  EXPECT_GE(delivered, static_cast<double>(count_lines_containing(frames, " ...."))) << metrics;
  EXPECT_GE(bridged_count, static_cast<double>(count_lines_containing(bridged, " ....")))
      << metrics;
  // And not wildly more: the apps are live, so the counts run only a few seconds ahead.
  EXPECT_LE(published, static_cast<double>(count_lines_containing(frames, " ....")) + 100)
      << metrics;
}

}  // namespace
}  // namespace ipcmesh::e2e
