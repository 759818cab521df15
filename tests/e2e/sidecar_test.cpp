// The injected relay in real Pods: a native sidecar that is ready before any app container
// starts, that stops after the apps so a Job completes, and that passes the restricted Pod
// Security Standard.
#include <gtest/gtest.h>

#include "e2e.hpp"

namespace ipcmesh::e2e {
namespace {

// Restricted-PSS settings for an app container whose fields are indented by `indent` spaces
// (the relay gets its own from the webhook).
std::string restricted_context(int indent) {
  return "\n" + std::string(indent, ' ') +
         "securityContext: {runAsNonRoot: true, allowPrivilegeEscalation: false, "
         "capabilities: {drop: [ALL]}, seccompProfile: {type: RuntimeDefault}}";
}

std::string ring_channel(const std::string& name, const std::string& app_label) {
  return ipc_channel(name, "app", app_label, kSmallRing);
}

// A restricted Pod (restartPolicy Never) of the given app label running `script`.
std::string app_pod(const std::string& name, const std::string& app_label,
                    const std::string& script) {
  return script_pod({.name = name, .label_key = "app", .label_value = app_label, .script = script});
}

class SidecarTest : public ::testing::Test {
 protected:
  void SetUp() override { ns_ = create_namespace("e2e-sidecar"); }
  void TearDown() override { kubectl({"delete", "namespace", ns_, "--wait=false"}); }
  std::string ns_;
};

TEST_F(SidecarTest, RelayIsANativeSidecarReadyBeforeTheAppStarts) {
  kubectl_ok({"apply", "-n", ns_, "-f", "-"}, ring_channel("ticks", "ticks"));
  // The app's very first action is to read the ring's header: it fails (exit 1) if the relay had
  // not created the channel before the kubelet started the app.
  kubectl_ok(
      {"apply", "-n", ns_, "-f", "-"},
      app_pod("first", "ticks", "ipcmeshctl stat --channel ticks --namespace " + ns_ + " -o json"));
  wait_for_phase(ns_, "first", "Succeeded");

  const auto pod = kubectl_json({"get", "pod", "first", "-n", ns_});
  const auto& relay = pod["spec"]["initContainers"].at(0);
  EXPECT_EQ(relay["name"], "ipcmesh-relay");
  EXPECT_EQ(relay.value("restartPolicy", ""), "Always") << "not a native sidecar: " << relay.dump();
  ASSERT_TRUE(relay.contains("startupProbe"))
      << "the kubelet orders the apps after the startup probe";

  const auto stat = nlohmann::json::parse(pod_logs(ns_, "first", "app"));
  EXPECT_EQ(stat["name"], "/ipcmesh." + ns_ + ".ticks");
  EXPECT_EQ(stat["capacityBytes"], 1 << 20);

  const auto& relay_status = pod["status"]["initContainerStatuses"].at(0);
  const auto& app_status = pod["status"]["containerStatuses"].at(0);
  // RFC 3339 UTC timestamps compare as strings.
  const std::string relay_started = relay_status["state"]["terminated"].value("startedAt", "");
  const std::string app_started = app_status["state"]["terminated"].value("startedAt", "");
  ASSERT_FALSE(relay_started.empty()) << pod["status"].dump(2);
  EXPECT_LE(relay_started, app_started);
  EXPECT_EQ(app_status["state"]["terminated"]["exitCode"], 0);
  // Pod Succeeded with a native sidecar: the kubelet stopped the relay after the app.
  EXPECT_LE(app_status["state"]["terminated"].value("finishedAt", ""),
            relay_status["state"]["terminated"].value("finishedAt", ""));
}

TEST_F(SidecarTest, JobCompletesWithTheRelayStoppedAfterIt) {
  kubectl_ok({"apply", "-n", ns_, "-f", "-"}, ipc_channel("work", "app", "batch", kSmallQueue));
  // A work queue: the sender's 20 messages go to the receiver whichever starts first.
  const std::string job = R"(apiVersion: batch/v1
kind: Job
metadata: {name: batch}
spec:
  backoffLimit: 0
  template:
    metadata: {labels: {app: batch}}
    spec:
      restartPolicy: Never
      automountServiceAccountToken: false
      containers:
        - name: sender
          image: )" + tools_image() +
                          R"(
          imagePullPolicy: IfNotPresent
          command: [ipcmesh-example-pubsub, publish, work, mq, "20"])" +
                          restricted_context(10) + R"(
        - name: receiver
          image: )" + tools_image() +
                          R"(
          imagePullPolicy: IfNotPresent
          command: [ipcmesh-example-pubsub, subscribe, work, mq, "20", "60000"])" +
                          restricted_context(10) + "\n";
  kubectl_ok({"apply", "-n", ns_, "-f", "-"}, job);
  const auto waited =
      kubectl({"wait", "--for=condition=Complete", "job/batch", "-n", ns_, "--timeout=180s"});
  const auto pods = kubectl_json({"get", "pods", "-n", ns_, "-l", "job-name=batch"});
  ASSERT_EQ(pods["items"].size(), 1u);
  const std::string pod = pods["items"][0]["metadata"]["name"];
  ASSERT_TRUE(waited.ok()) << waited.err << describe_pod(ns_, pod);

  const std::string received = pod_logs(ns_, pod, "receiver");
  EXPECT_EQ(count_lines_containing(received, "received: message"), 20u) << received;
  EXPECT_NE(received.find("received: message 19"), std::string::npos);
  const auto& relay_state = pods["items"][0]["status"]["initContainerStatuses"].at(0)["state"];
  ASSERT_TRUE(relay_state.contains("terminated"))
      << "the relay kept running after the Job: " << relay_state.dump();
}

TEST_F(SidecarTest, InjectedPodPassesTheRestrictedPodSecurityStandard) {
  const std::string restricted =
      create_namespace("e2e-restricted", {"pod-security.kubernetes.io/enforce=restricted",
                                          "pod-security.kubernetes.io/warn=restricted"});
  kubectl_ok({"apply", "-n", restricted, "-f", "-"}, ring_channel("secure", "secure"));
  // Admission runs the mutating webhook first, then Pod Security on the injected Pod: any
  // violation (the relay's context, its volumes, sysctls) makes this apply fail.
  const auto applied = kubectl(
      {"apply", "-n", restricted, "-f", "-"},
      app_pod("secure", "secure", "ipcmeshctl stat --channel secure --namespace " + restricted));
  ASSERT_TRUE(applied.ok()) << applied.err;
  EXPECT_EQ(applied.err.find("violate"), std::string::npos) << applied.err;
  wait_for_phase(restricted, "secure", "Succeeded");
  kubectl({"delete", "namespace", restricted, "--wait=false"});
}

}  // namespace
}  // namespace ipcmesh::e2e
