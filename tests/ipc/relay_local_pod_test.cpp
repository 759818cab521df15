// ipcmesh-local-pod, the demo's stand-in for a kubelet (examples/demo/local_pod.cpp): it runs a
// Pod injected by the real mutation (`ipcmeshctl inject`) in kubelet order, as the Pod's users,
// and stops cleanly. Real processes; the runner makes its own namespaces inside the test's.
#include <nlohmann/json.hpp>

#include "relay_test_support.hpp"

namespace ipcmesh::relay_testing {
namespace {

inline const std::string kLocalPod = IPCMESH_BIN_DIR "/ipcmesh-local-pod";

constexpr const char* kChannel = R"(apiVersion: ipcmesh.io/v1alpha1
kind: IpcChannel
metadata:
  name: ticks
  namespace: default
spec:
  selector:
    matchLabels:
      app: ticks
  sharedMemory:
    size: 1Mi
    maxMessageSize: 4Ki
)";

// A Pod that completes: a subscriber that wants 3 messages and a producer that sends 20, slowly
// enough that the subscriber is attached long before the last one.
std::string pod_yaml(const std::string& pod_security) {
  return R"(apiVersion: v1
kind: Pod
metadata:
  name: ticks
  namespace: default
  labels:
    app: ticks
spec:
  restartPolicy: Never
  terminationGracePeriodSeconds: 5
  securityContext:
)" + pod_security +
         R"(  containers:
    - name: consumer
      image: ipcmesh/tools:test
      command: [ipcmeshctl, sub, --channel, ticks, --count, "3", --timeout, 30s]
    - name: producer
      image: ipcmesh/tools:test
      command: [ipcmeshctl, pub, --channel, $(CHANNEL), --size, "8", --count, "20", --interval, 100ms]
      env:
        - name: CHANNEL
          value: ticks
)";
}

class LocalPod : public RelayTest {
 protected:
  // The Pod as the webhook would store it, as JSON.
  std::string injected_pod(const std::string& pod_security) {
    write_file(work_dir_ + "/pod.yaml", pod_yaml(pod_security));
    write_file(work_dir_ + "/channel.yaml", kChannel);
    auto inject = run({kCtl, "inject", "-f", work_dir_ + "/pod.yaml", "--channel",
                       work_dir_ + "/channel.yaml", "-o", "json"});
    EXPECT_EQ(inject->wait(), 0) << inject->err();
    const std::string path = work_dir_ + "/pod.json";
    write_file(path, inject->out());
    return path;
  }

  std::unique_ptr<Process> run_pod(const std::string& pod_json) {
    return run({kLocalPod, "--pod", pod_json, "--bin-dir", IPCMESH_BIN_DIR, "--image",
                "ipcmesh/relay=ipcmesh-relay"});
  }
};

std::size_t position(const std::string& text, const std::string& needle) {
  const auto at = text.find(needle);
  EXPECT_NE(at, std::string::npos) << "no '" << needle << "' in:\n" << text;
  return at;
}

// The relay (a native sidecar) starts first and passes its startup probe before the apps start;
// the apps run as the Pod's user (in the relay's group, which the webhook adds), exchange
// messages, complete; the relay is stopped last, unlinks its channel and exits 0, and so does
// the runner.
TEST_F(LocalPod, RunsAnInjectedPodInKubeletOrderAndStopsTheRelayLast) {
  auto pod = run_pod(injected_pod("    runAsNonRoot: true\n    runAsUser: 10001\n"));
  ASSERT_EQ(pod->wait(), 0) << pod->out() << pod->err();
  const std::string log = pod->out();
  const auto relay_started = position(log, "[local-pod] ipcmesh-relay is started");
  EXPECT_LT(relay_started, position(log, "[local-pod] started consumer"));
  EXPECT_LT(relay_started, position(log, "[local-pod] started producer (pid "));
  position(log, "uid 65532): " IPCMESH_BIN_DIR "/ipcmesh-relay --listen 0.0.0.0:9090");
  position(log, "uid 10001): " IPCMESH_BIN_DIR
                "/ipcmeshctl pub --channel ticks --size 8 --count 20 --interval 100ms");
  // Three messages, each a line of its own with the container's prefix.
  std::size_t received = 0;
  std::istringstream lines(log);
  for (std::string line; std::getline(lines, line);) {
    if (line.rfind("[consumer] ", 0) == 0 && line.find(" .....") != std::string::npos) ++received;
  }
  EXPECT_EQ(received, 3u) << log;
  const auto apps_done = position(log, "[local-pod] every app container has completed");
  EXPECT_LT(apps_done, position(log, "unlinked the objects of 1 channel(s)"));
  EXPECT_LT(apps_done, position(log, "[local-pod] ipcmesh-relay exited with code 0"));
}

// The channel's mode (0660) is what guards it: with the relay's group (65532) that the webhook
// added taken out again, the apps cannot open the channel. The runner applies users and groups
// as a kubelet would, and reports the failed Pod with exit 1.
TEST_F(LocalPod, AppsOutsideTheRelaysGroupAreRefusedByTheChannelMode) {
  const std::string path = injected_pod("    runAsNonRoot: true\n    runAsUser: 10001\n");
  nlohmann::json injected = nlohmann::json::parse(read_file(path));
  ASSERT_TRUE(injected["spec"]["securityContext"].contains("supplementalGroups"));
  injected["spec"]["securityContext"].erase("supplementalGroups");
  write_file(path, injected.dump());
  auto pod = run_pod(path);
  ASSERT_EQ(pod->wait(), 1) << pod->out() << pod->err();
  position(pod->out(),
           "[consumer] ipcmeshctl sub: shm_open(/ipcmesh.default.ticks): Permission denied");
}

// A Pod it cannot run faithfully is refused before anything starts, with the reason (exit 2).
TEST_F(LocalPod, RefusesWhatItCannotRunWithAReason) {
  const std::string path = injected_pod("    runAsNonRoot: true\n");
  auto pod = run_pod(path);
  EXPECT_EQ(pod->wait(), 2);
  position(pod->err(), "runAsNonRoot without runAsUser");
}

}  // namespace
}  // namespace ipcmesh::relay_testing
