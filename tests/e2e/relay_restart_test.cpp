// A relay killed inside a running Pod: the kubelet restarts the native sidecar, and the apps carry
// on on the same channel (the new relay adopts what its predecessor made).
//
// NOT RUN YET (DISABLED_): the restarted relay still replaces the channel's objects instead of
// adopting them, so the apps end up on an orphaned ring. Adoption is the reliability issue's
// first item; that work enables this test. gtest reports it as "1 DISABLED TEST".
#include <gtest/gtest.h>

#include "e2e.hpp"

namespace ipcmesh::e2e {
namespace {

TEST(RelayRestartTest, DISABLED_KilledRelayRestartsAndTheAppsCarryOn) {
  const std::string ns = create_namespace("e2e-restart");
  apply_example("examples/shared-memory.yaml", ns);
  apply_example("examples/both-legacy-bridge.yaml", ns);
  apply_example("examples/workload.yaml", ns);
  ASSERT_TRUE(kubectl({"rollout", "status", "deployment/pipeline", "-n", ns, "--timeout=180s"}).ok());
  const std::string pod =
      kubectl_ok({"get", "pods", "-n", ns, "-l", "app=pipeline", "-o", "jsonpath={.items[0].metadata.name}"});
  const auto before = count_lines_containing(pod_logs(ns, pod, "consumer"), " ....");

  // An ephemeral container in the relay's PID namespace, as the relay's user: kill its PID 1.
  const auto killed = kubectl({"debug", pod, "-n", ns, "--image=" + tools_image(),
                               "--image-pull-policy=IfNotPresent", "--target=ipcmesh-relay",
                               "--profile=restricted", "--", "kill", "-9", "1"});
  ASSERT_TRUE(killed.ok()) << killed.err;
  ASSERT_TRUE(eventually([&] {
    return kubectl({"get", "pod", pod, "-n", ns, "-o", "jsonpath={.status.initContainerStatuses[0].restartCount}"})
               .out == "1";
  })) << describe_pod(ns, pod);
  wait_for_ready(ns, pod);

  // The apps were not restarted and still exchange messages, on the ring the new relay serves.
  const auto status = kubectl_json({"get", "pod", pod, "-n", ns})["status"];
  for (const auto& container : status["containerStatuses"]) EXPECT_EQ(container["restartCount"], 0);
  std::size_t after = 0;
  EXPECT_TRUE(eventually([&] {
    after = count_lines_containing(pod_logs(ns, pod, "consumer"), " ....");
    return after >= before + 10;
  })) << "consumer stopped at " << after << " messages after the relay restart";
  const int port = kubectl_json({"get", "pod", pod, "-n", ns})["spec"]["initContainers"][0]["ports"][0]["containerPort"];
  const std::string metrics = pod_metrics(ns, pod, port);
  EXPECT_GE(metric_value(metrics, "ipcmesh_channel_subscribers", "frames"), 1) << metrics;
  kubectl({"delete", "namespace", ns, "--wait=false"});
}

}  // namespace
}  // namespace ipcmesh::e2e
