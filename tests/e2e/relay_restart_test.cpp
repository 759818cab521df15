// A relay killed inside a running Pod: the kubelet restarts the native sidecar, and the apps carry
// on on the same channel (the new relay adopts what its predecessor made, docs/relay.md).
#include <gtest/gtest.h>

#include <algorithm>

#include "e2e.hpp"

namespace ipcmesh::e2e {
namespace {

TEST(RelayRestartTest, KilledRelayRestartsAndTheAppsCarryOn) {
  const std::string ns = create_namespace("e2e-restart");
  apply_example("examples/shared-memory.yaml", ns);
  apply_example("examples/both-legacy-bridge.yaml", ns);
  apply_example("examples/workload.yaml", ns);
  ASSERT_TRUE(
      kubectl({"rollout", "status", "deployment/pipeline", "-n", ns, "--timeout=180s"}).ok());
  const std::string pod = kubectl_ok(
      {"get", "pods", "-n", ns, "-l", "app=pipeline", "-o", "jsonpath={.items[0].metadata.name}"});
  const auto before = count_lines_containing(pod_logs(ns, pod, "consumer"), " ....");

  // SIGKILL, as the kernel's OOM killer sends it. Not from inside the Pod: the relay is its
  // container's PID 1, which ignores signals from its own PID namespace. A hostPID Pod running as
  // the relay's user finds the process by the Pod's UID in its cgroup and kills it.
  const std::string uid =
      kubectl_ok({"get", "pod", pod, "-n", ns, "-o", "jsonpath={.metadata.uid}"});
  std::string uid_underscores = uid;
  std::replace(uid_underscores.begin(), uid_underscores.end(), '-', '_');
  const std::string script =
      "for p in /proc/[0-9]*; do "
      "[ \"$(cat $p/comm 2>/dev/null)\" = ipcmesh-relay ] || continue; "
      "grep -qE \"pod(" +
      uid + "|" + uid_underscores +
      ")\" $p/cgroup 2>/dev/null || continue; "
      "kill -9 ${p#/proc/} && echo killed ${p#/proc/}; done";
  kubectl_ok({"apply", "-n", ns, "-f", "-"}, R"(apiVersion: v1
kind: Pod
metadata: {name: oom-killer, labels: {app: oom-killer}}
spec:
  hostPID: true
  restartPolicy: Never
  automountServiceAccountToken: false
  securityContext: {runAsUser: 65532, runAsGroup: 65532}
  containers:
    - name: kill
      image: )" + tools_image() + R"(
      imagePullPolicy: IfNotPresent
      command: [bash, -c, ')" + script + R"(']
)");
  wait_for_phase(ns, "oom-killer", "Succeeded");
  const std::string killed = pod_logs(ns, "oom-killer", "kill");
  ASSERT_EQ(count_lines_containing(killed, "killed "), 1u) << killed;
  ASSERT_TRUE(eventually([&] {
    return kubectl({"get", "pod", pod, "-n", ns, "-o",
                    "jsonpath={.status.initContainerStatuses[0].restartCount}"})
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
  })) << "consumer stopped at "
      << after << " messages after the relay restart";
  const int port = kubectl_json(
      {"get", "pod", pod, "-n", ns})["spec"]["initContainers"][0]["ports"][0]["containerPort"];
  const std::string metrics = pod_metrics(ns, pod, port);
  EXPECT_GE(metric_value(metrics, "ipcmesh_channel_subscribers", "frames"), 1) << metrics;
  kubectl({"delete", "namespace", ns, "--wait=false"});
}

}  // namespace
}  // namespace ipcmesh::e2e
