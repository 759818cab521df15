// The local node of tests/cluster/control-plane.sh (`up DIR --node`): real Pods run on it (logs,
// exec, the `kubernetes` Service from a Pod, two containers sharing IPC), it comes up in well under
// a minute, and tearing it down leaves the machine exactly as it was (a before/after snapshot of
// mounts, cgroups, links, iptables, processes and files).
#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <thread>

#include "process.hpp"

namespace ipcmesh::node {
namespace {

using cluster::CommandResult;
using cluster::run_command;
using Clock = std::chrono::steady_clock;

std::string source_path(const std::string& relative) {
  return std::string(IPCMESH_SOURCE_DIR) + "/" + relative;
}

std::string snapshot() {
  const auto result = run_command({source_path("tests/node/host-snapshot.sh")});
  EXPECT_TRUE(result.ok()) << result.err;
  return result.out;
}

// Lines only in `before` ("-") or only in `after` ("+").
std::string difference(const std::string& before, const std::string& after) {
  auto lines = [](const std::string& text) {
    std::multiset<std::string> set;
    std::istringstream stream(text);
    for (std::string line; std::getline(stream, line);) set.insert(line);
    return set;
  };
  const auto old_lines = lines(before), new_lines = lines(after);
  std::string diff;
  for (const auto& line : old_lines) {
    if (new_lines.count(line) < old_lines.count(line)) diff += "- " + line + "\n";
  }
  for (const auto& line : new_lines) {
    if (old_lines.count(line) < new_lines.count(line)) diff += "+ " + line + "\n";
  }
  return diff;
}

long resident_kib(pid_t pid) {
  std::ifstream status("/proc/" + std::to_string(pid) + "/status");
  for (std::string line; std::getline(status, line);) {
    if (line.rfind("VmRSS:", 0) == 0) return std::strtol(line.c_str() + 6, nullptr, 10);
  }
  return -1;
}

class NodeLifecycleTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_EQ(::geteuid(), 0u) << "the node needs root";
    dir_ = std::filesystem::temp_directory_path() /
           ("ipcmesh-node-test-" + std::to_string(::getpid()));
    tools_bin_ = std::getenv("IPCMESH_TOOLS_BIN") != nullptr ? std::getenv("IPCMESH_TOOLS_BIN")
                                                             : IPCMESH_TOOLS_BIN;
  }
  void TearDown() override {
    if (up_) control_plane("down");
    std::filesystem::remove_all(dir_);
  }

  CommandResult control_plane(const std::string& verb, bool node = false) {
    std::vector<std::string> argv{source_path("tests/cluster/control-plane.sh"), verb,
                                  dir_.string()};
    if (node) argv.push_back("--node");
    return run_command(argv, "",
                       {"IPCMESH_TOOLS_BIN=" + tools_bin_,
                        "IPCMESH_NODE_IMAGES=" + std::string(IPCMESH_IMAGES_DIR) + "/tools.tar"});
  }
  CommandResult kubectl(std::vector<std::string> args, const std::string& input = "") {
    args.insert(args.begin(),
                {tools_bin_ + "/kubectl", "--kubeconfig", (dir_ / "kubeconfig").string()});
    return run_command(args, input);
  }
  std::string phase(const std::string& pod) {
    return kubectl({"get", "pod", pod, "-o", "jsonpath={.status.phase}"}).out;
  }
  bool wait_phase(const std::string& pod, const std::string& wanted, std::chrono::seconds timeout) {
    const auto deadline = Clock::now() + timeout;
    while (Clock::now() < deadline) {
      if (phase(pod) == wanted) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    return false;
  }

  std::filesystem::path dir_;
  std::string tools_bin_;
  bool up_ = false;
};

TEST_F(NodeLifecycleTest, RealPodsRunAndTeardownLeavesNothing) {
  const std::string before = snapshot();
  const auto started = Clock::now();
  const auto up = control_plane("up", true);
  up_ = true;
  ASSERT_TRUE(up.ok()) << up.err;
  const double up_seconds = std::chrono::duration<double>(Clock::now() - started).count();
  EXPECT_LT(up_seconds, 60) << "control plane + node should be up well under a minute";

  const std::string image = "ipcmesh/tools:" + std::string(IPCMESH_VERSION);
  // Two containers in one IPC namespace: a POSIX queue made by one is opened by the other; and the
  // API server is reachable from a Pod through the `kubernetes` Service (kube-proxy's DNAT).
  const std::string pod = R"(apiVersion: v1
kind: Pod
metadata: {name: pair, namespace: default}
spec:
  restartPolicy: Never
  automountServiceAccountToken: false
  containers:
    - name: first
      image: )" + image + R"(
      imagePullPolicy: Never
      command: [bash, -c, 'ipcmeshctl version && exec 3<>/dev/tcp/$KUBERNETES_SERVICE_HOST/$KUBERNETES_SERVICE_PORT && echo api-reachable && sleep 600']
    - name: second
      image: )" + image + R"(
      imagePullPolicy: Never
      command: [sleep, "600"]
)";
  const auto created_at = Clock::now();
  ASSERT_TRUE(kubectl({"apply", "-f", "-"}, pod).ok());
  ASSERT_TRUE(wait_phase("pair", "Running", std::chrono::seconds(60)))
      << kubectl({"describe", "pod", "pair"}).out;
  const double pod_seconds = std::chrono::duration<double>(Clock::now() - created_at).count();

  // exec through the API server and the kubelet, into both containers of the one IPC namespace.
  const auto ipc_first =
      kubectl({"exec", "pair", "-c", "first", "--", "readlink", "/proc/self/ns/ipc"});
  const auto ipc_second =
      kubectl({"exec", "pair", "-c", "second", "--", "readlink", "/proc/self/ns/ipc"});
  ASSERT_TRUE(ipc_first.ok() && ipc_second.ok()) << ipc_first.err << ipc_second.err;
  EXPECT_EQ(ipc_first.out, ipc_second.out);
  bool reached = false;
  for (int i = 0; i < 50 && !reached; ++i) {
    reached =
        kubectl({"logs", "pair", "-c", "first"}).out.find("api-reachable") != std::string::npos;
    if (!reached) std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  EXPECT_TRUE(reached) << kubectl({"logs", "pair", "-c", "first"}).out;

  // What the node's processes hold with one Pod running.
  std::string memory;
  for (const char* name : {"kubelet", "containerd", "kube-scheduler", "kube-proxy"}) {
    std::ifstream pid_file(dir_ / "pids" / name);
    pid_t pid = 0;
    pid_file >> pid;
    memory += std::string(" ") + name + "=" + std::to_string(resident_kib(pid) / 1024) + "MiB";
  }
  std::printf("node: up in %.1f s, Pod Running in %.1f s, RSS%s\n", up_seconds, pod_seconds,
              memory.c_str());
  RecordProperty("node_up_seconds", std::to_string(up_seconds));
  RecordProperty("pod_running_seconds", std::to_string(pod_seconds));

  const auto down_started = Clock::now();
  const auto down = control_plane("down");
  up_ = false;
  ASSERT_TRUE(down.ok()) << down.err;
  std::printf("node: down in %.1f s\n",
              std::chrono::duration<double>(Clock::now() - down_started).count());
  const std::string after = snapshot();
  EXPECT_EQ(difference(before, after), "") << "the node left this on the machine";
}

}  // namespace
}  // namespace ipcmesh::node
