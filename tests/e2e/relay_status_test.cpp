// A relay that crash-loops in a real Pod: its channel's status says so (Degraded, RelayNotReady,
// naming the Pod and the relay's last exit), each restart is a RelayRestarted Event on the
// channel, and the status clears once the relay is ready again (docs/operator.md).
#include <gtest/gtest.h>

#include "e2e.hpp"

namespace ipcmesh::e2e {
namespace {

nlohmann::json condition_of(const std::string& ns, const std::string& channel,
                            const std::string& type) {
  const auto object = kubectl_json({"get", "ipch", channel, "-n", ns});
  for (const auto& condition : object.value("status", nlohmann::json::object())
                                   .value("conditions", nlohmann::json::array())) {
    if (condition.value("type", "") == type) return condition;
  }
  return nlohmann::json::object();
}

std::string events_about(const std::string& ns, const std::string& object) {
  const auto list = kubectl_json(
      {"get", "events", "-n", ns, "--field-selector", "involvedObject.name=" + object});
  std::string out;
  for (const auto& event : list.value("items", nlohmann::json::array())) {
    out += event.value("type", "") + " " + event.value("reason", "") + ": " +
           event.value("message", "") + "\n";
  }
  return out;
}

TEST(RelayStatusTest, ACrashLoopingRelayMakesItsChannelDegradedAndEachRestartIsAnEvent) {
  const std::string ns = create_namespace("e2e-relay-status");
  // A queue-only channel under the legacy name, 10 messages of 1 KiB: the kernel's defaults, so
  // no sysctl is needed.
  kubectl_ok({"apply", "-n", ns, "-f", "-"},
             ipc_channel("legacy", "app", "misfit",
                         "  transport: MessageQueue\n  messageQueue: {name: /posix_mq_example, "
                         "maxMessages: 10, maxMessageSize: 1Ki}\n"));
  ASSERT_TRUE(eventually([&] {
    return kubectl(
               {"get", "ipch", "legacy", "-n", ns, "-o", "jsonpath={.status.observedGeneration}"})
               .out == "1";
  })) << "the operator never observed the channel";

  // The app replaces the relay's queue with the legacy sender's own (10 messages of 256 bytes:
  // it does not fit the channel), then kills the relay with SIGKILL, as the OOM killer would: its
  // lock goes, the queue stays. Every relay the kubelet starts from then on refuses that queue
  // and exits 1 (docs/relay.md: a queue that does not fit is never deleted), a crash loop. The
  // Pod shares one PID namespace so that the app, running as the relay's user, can signal it.
  kubectl_ok({"apply", "-n", ns, "-f", "-"}, R"(apiVersion: v1
kind: Pod
metadata: {name: misfit, labels: {app: misfit}}
spec:
  restartPolicy: Never
  shareProcessNamespace: true
  automountServiceAccountToken: false
  containers:
    - name: app
      image: )" + tools_image() + R"yaml(
      imagePullPolicy: IfNotPresent
      securityContext: {allowPrivilegeEscalation: false, capabilities: {drop: [ALL]}}
      resources: {requests: {cpu: 10m, memory: 16Mi}, limits: {memory: 64Mi}}
      command: [bash, -c]
      args:
        - |
          set -eu
          rm /dev/mqueue/posix_mq_example
          ipcmesh-example-legacy-mq-sender 0
          for p in /proc/[0-9]*; do
            if [ "$(cat "$p/comm" 2>/dev/null)" = ipcmesh-relay ]; then
              kill -9 "${p#/proc/}"
              echo "killed ${p#/proc/}"
            fi
          done
          exec sleep 3600
)yaml");
  wait_for_phase(ns, "misfit", "Running");
  std::string relay_restarts;
  ASSERT_TRUE(eventually(
      [&] {
        relay_restarts = kubectl({"get", "pod", "misfit", "-n", ns, "-o",
                                  "jsonpath={.status.initContainerStatuses[0].restartCount}"})
                             .out;
        return !relay_restarts.empty() && std::stoi(relay_restarts) >= 2;
      },
      std::chrono::seconds(120)))
      << "the relay did not crash-loop:\n"
      << describe_pod(ns, "misfit");
  const std::string last_message =
      kubectl({"get", "pod", "misfit", "-n", ns, "-o",
               "jsonpath={.status.initContainerStatuses[0].lastState.terminated.message}"})
          .out;
  EXPECT_NE(last_message.find("never deletes a queue"), std::string::npos)
      << "the relay should have refused the app's queue:\n"
      << describe_pod(ns, "misfit");

  nlohmann::json degraded;
  EXPECT_TRUE(eventually([&] {
    degraded = condition_of(ns, "legacy", "Degraded");
    const std::string message = degraded.value("message", "");
    return degraded.value("status", "") == "True" &&
           degraded.value("reason", "") == "RelayNotReady" &&
           message.find("misfit (relay restarted") != std::string::npos &&
           message.find("exit code 1") != std::string::npos;
  })) << "Degraded: "
      << degraded.dump() << "\n"
      << describe_pod(ns, "misfit");
  const auto ready = condition_of(ns, "legacy", "Ready");
  EXPECT_EQ(ready.value("status", ""), "False") << ready.dump();
  EXPECT_EQ(ready.value("reason", ""), "RelayNotReady") << ready.dump();

  std::string events;
  EXPECT_TRUE(eventually([&] {
    events = events_about(ns, "legacy");
    return events.find("Warning RelayRestarted: the relay of Pod misfit restarted") !=
               std::string::npos &&
           events.find("Warning RelayNotReady") != std::string::npos;
  })) << "Events about the channel:\n"
      << events;

  // The misfit queue removed, the next relay the kubelet starts creates its own and is ready:
  // the channel recovers.
  kubectl_ok({"exec", "misfit", "-n", ns, "-c", "app", "--", "rm", "/dev/mqueue/posix_mq_example"});
  nlohmann::json recovered;
  EXPECT_TRUE(eventually(
      [&] {
        recovered = condition_of(ns, "legacy", "Degraded");
        return recovered.value("status", "") == "False" &&
               recovered.value("reason", "") == "AsExpected";
      },
      std::chrono::seconds(180)))
      << "Degraded: " << recovered.dump() << "\n"
      << describe_pod(ns, "misfit");
  EXPECT_EQ(condition_of(ns, "legacy", "Ready").value("reason", ""), "AllPodsInjected");
  kubectl({"delete", "namespace", ns, "--wait=false"});
}

}  // namespace
}  // namespace ipcmesh::e2e
