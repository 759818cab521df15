// ipcmeshctl's cluster commands against the real control plane: get and describe of channels
// whose Pods the real webhook injected (no kubelet here, so every relay is unreachable through
// the Pod proxy, which describe shows without failing), why for each verdict a user meets (and
// the printed fix, run as printed, injects the Pod), version with the chart's operator
// Deployment, --context choosing between two contexts of one kubeconfig, and `kubectl ipcmesh`
// found by the real kubectl on PATH.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>

#include "cluster.hpp"
#include "ipc_objects.hpp"

namespace ipcmesh::cluster {
namespace {

using nlohmann::json;

// Every ipcmeshctl and kubectl run here is bounded: a hung call fails the test, not the run.
constexpr const char* kCommandTimeout = "60";

std::string ipcmeshctl_path() {
  return std::string(IPCMESH_BIN_DIR) + "/ipcmeshctl";
}

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

class CliCluster : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    operator_ =
        std::make_unique<OperatorProcess>(OperatorOptions{.identity = "cli", .extra_flags = {}});
    operator_->wait_ready();
    webhook_ = std::make_unique<WebhookRegistration>("ipcmesh-cli", operator_->webhook_port(),
                                                     FailurePolicy::kFail);
  }
  static void TearDownTestSuite() {
    webhook_.reset();
    operator_.reset();
  }
  void SetUp() override { ns_ = create_namespace("cli"); }
  void TearDown() override { kubectl({"delete", "namespace", ns_, "--wait=false"}); }

  // ipcmeshctl against the admin kubeconfig (flags after `args`, where every command takes them).
  CommandResult ctl(std::vector<std::string> args, const std::string& kubeconfig = "") {
    const ControlPlane& plane = ClusterEnvironment::control_plane();
    std::vector<std::string> argv = {"timeout", kCommandTimeout, ipcmeshctl_path()};
    argv.insert(argv.end(), args.begin(), args.end());
    argv.insert(argv.end(), {"--kubeconfig", kubeconfig.empty() ? plane.kubeconfig : kubeconfig});
    return run_command(argv);
  }
  void apply(const std::string& manifest, const std::string& ns = "") {
    kubectl_ok({"apply", "-n", ns.empty() ? ns_ : ns, "-f", "-"}, manifest);
  }
  json why_json(const std::string& pod, const std::string& ns = "") {
    const CommandResult result = ctl({"why", pod, "-n", ns.empty() ? ns_ : ns, "-o", "json"});
    EXPECT_EQ(result.exit_code, 0) << result.err;
    return json::parse(result.out, nullptr, false);
  }
  bool injected(const std::string& pod) {
    const json object = kubectl_json({"get", "pod", pod, "-n", ns_});
    return object["metadata"].value("annotations", json::object()).contains("ipcmesh.io/status");
  }

  static inline std::unique_ptr<OperatorProcess> operator_;
  static inline std::unique_ptr<WebhookRegistration> webhook_;
  std::string ns_;
};

// get channels shows the operator's counts for Pods the real webhook injected; describe lists
// those Pods as injected and their relays as unreachable (no kubelet, no Pod IP), and exits 0.
TEST_F(CliCluster, GetAndDescribeShowTheChannelAndThePodsTheWebhookInjected) {
  apply(channel_manifest("frames", "demo"));
  apply(pod_manifest("first", "demo"));
  apply(pod_manifest("second", "demo"));
  apply(pod_manifest("other", "other"));
  wait_for_counts(ns_, "frames", {1, 2, 2, 0}, *operator_);

  const CommandResult table = ctl({"get", "channels", "-n", ns_});
  ASSERT_EQ(table.exit_code, 0) << table.err;
  EXPECT_TRUE(contains(table.out,
                       "NAME     TRANSPORT      SCOPE   SELECTED   INJECTED   "
                       "PENDING-RESTART   READY   AGE\n"))
      << table.out;
  EXPECT_TRUE(contains(table.out,
                       "frames   SharedMemory   Pod     2          2          0"
                       "                 True"))
      << table.out;
  std::cout << "[          ] get channels against the real API server:\n" << table.out;
  const CommandResult all = ctl({"get", "ipch", "-A", "-o", "json"});
  ASSERT_EQ(all.exit_code, 0) << all.err;
  bool listed = false;
  const json all_channels = json::parse(all.out);
  for (const json& item : all_channels["items"]) {
    listed = listed || item["metadata"].value("namespace", "") == ns_;
  }
  EXPECT_TRUE(listed) << all.out;

  const CommandResult text = ctl({"describe", "channel", "frames", "-n", ns_});
  ASSERT_EQ(text.exit_code, 0) << text.err;
  EXPECT_TRUE(contains(text.out, "Counts:        2 selected, 2 injected, 0 pending restart"))
      << text.out;
  EXPECT_TRUE(contains(text.out, "True     AllPodsInjected")) << text.out;
  EXPECT_TRUE(contains(text.out, "first    injected    unreachable")) << text.out;
  EXPECT_TRUE(contains(text.out, "second   injected    unreachable")) << text.out;
  EXPECT_TRUE(contains(text.out, "Relays not read:\n  first: unreachable: ")) << text.out;
  EXPECT_FALSE(contains(text.out, "other")) << text.out;

  const CommandResult object = ctl({"describe", "channel", "frames", "-n", ns_, "-o", "json"});
  ASSERT_EQ(object.exit_code, 0) << object.err;
  const json described = json::parse(object.out);
  ASSERT_EQ(described["pods"].size(), 2u) << object.out;
  EXPECT_EQ(described["pods"][0]["injection"], "injected");
  EXPECT_EQ(described["pods"][0]["relay"]["reachable"], false);
  std::cout << "[          ] describe channel against the real API server:\n" << text.out;

  const CommandResult missing = ctl({"describe", "channel", "nope", "-n", ns_});
  EXPECT_EQ(missing.exit_code, 1);
  EXPECT_TRUE(contains(missing.err, "not found")) << missing.err;
}

// why for every verdict a user meets in a live cluster, then the printed fix for the Pod that
// predates its channel, run exactly as printed, gets that Pod injected.
TEST_F(CliCluster, WhyExplainsEachPodAndItsFixWorksAsPrinted) {
  apply(pod_manifest("early", "demo"));  // before its channel: not injected
  // creationTimestamp has whole seconds: let the channel's be later, as a user's would be.
  std::this_thread::sleep_for(std::chrono::milliseconds(1100));
  apply(channel_manifest("frames", "demo"));
  wait_for_counts(ns_, "frames", {1, 1, 0, 1}, *operator_);
  apply(pod_manifest("injected", "demo"));
  apply(pod_manifest("opted-out", "demo", "{ipcmesh.io/inject: 'false'}"));
  apply(pod_manifest("lonely", "other"));
  // A namespace the webhook is not called for (neither the chart's label nor this tier's).
  const std::string off = create_namespace("cli-off");
  kubectl_ok({"label", "namespace", off, "ipcmesh.io/injection-", "ipcmesh.io/test-webhooks-"});
  apply(channel_manifest("frames", "demo"), off);
  apply(pod_manifest("unlabelled", "demo"), off);

  struct Case {
    std::string pod;
    std::string ns;
    std::string verdict;
    std::string fix_part;
  };
  for (const Case& c : {Case{"injected", ns_, "injected", ""},
                        Case{"early", ns_, "pending restart", "kubectl replace --force"},
                        Case{"opted-out", ns_, "opted out", "ipcmesh.io/inject-"},
                        Case{"lonely", ns_, "no channel", "ipcmesh.io/channels=frames"},
                        Case{"unlabelled", off, "namespace not enabled",
                             "kubectl label namespace " + off + " ipcmesh.io/injection=enabled"}}) {
    const json report = why_json(c.pod, c.ns);
    EXPECT_EQ(report.value("verdict", ""), c.verdict) << c.pod << ": " << report.dump(2);
    EXPECT_TRUE(contains(report.value("fix", ""), c.fix_part)) << c.pod << ": " << report.dump(2);
  }
  const CommandResult text = ctl({"why", "early", "-n", ns_});
  ASSERT_EQ(text.exit_code, 0) << text.err;
  EXPECT_TRUE(contains(text.out, "before IpcChannel frames")) << text.out;
  std::cout << "[          ] why against the real API server:\n" << text.out;
  for (const auto& [pod, ns] : {std::pair{"opted-out", ns_}, std::pair{"unlabelled", off}}) {
    std::cout << ctl({"why", pod, "-n", ns}).out;
  }

  // The fix, run by a shell as a user would paste it, with kubectl on PATH.
  const ControlPlane& plane = ClusterEnvironment::control_plane();
  const std::string fix = why_json("early").value("fix", "");
  const CommandResult fixed =
      run_command({"timeout", kCommandTimeout, "sh", "-c", fix}, "",
                  {"PATH=" + plane.tools_bin + ":/usr/bin:/bin", "KUBECONFIG=" + plane.kubeconfig});
  ASSERT_EQ(fixed.exit_code, 0) << fix << "\n" << fixed.err;
  EXPECT_TRUE(injected("early"));
  EXPECT_EQ(why_json("early").value("verdict", ""), "injected");
  kubectl({"delete", "namespace", off, "--wait=false"});
}

// version finds the operator the chart installs (its Deployment's labels, rendered by helm from
// charts/ipcmesh) and the relays of injected Pods; everything is one release, so no warning.
TEST_F(CliCluster, VersionFindsTheChartsOperatorAndTheInjectedRelays) {
  const ControlPlane& plane = ClusterEnvironment::control_plane();
  const CommandResult rendered = run_command(
      {plane.tools_bin + "/helm", "template", "ipcmesh", repo_path("charts/ipcmesh"), "--namespace",
       ns_, "--show-only", "templates/deployment.yaml", "--show-only", "templates/configmap.yaml"});
  ASSERT_TRUE(rendered.ok()) << rendered.err;
  apply(rendered.out);
  apply(channel_manifest("frames", "demo"));
  wait_for_counts(ns_, "frames", {1, 0, 0, 0}, *operator_);
  apply(pod_manifest("app", "demo"));
  ASSERT_TRUE(injected("app"));

  const CommandResult text = ctl({"version"});
  ASSERT_EQ(text.exit_code, 0) << text.err;
  EXPECT_TRUE(contains(text.out, "ipcmeshctl " IPCMESH_VERSION "\n")) << text.out;
  EXPECT_TRUE(contains(text.out, "operator   " IPCMESH_VERSION " (" + ns_ + "/ipcmesh-operator"))
      << text.out;
  EXPECT_TRUE(contains(text.out, "relay      " IPCMESH_VERSION " (")) << text.out;
  EXPECT_EQ(text.err, "") << "no skew within one release";
  std::cout << "[          ] version against the real API server:\n" << text.out;
  const json object = json::parse(ctl({"version", "-o", "json"}).out);
  EXPECT_EQ(object["client"], IPCMESH_VERSION);
  // `why` reads an operator's ConfigMap for the webhook's policy (this one, unless another test's
  // release is installed too and sorts first).
  const std::string policy = why_json("app").value("policy", "");
  EXPECT_TRUE(contains(policy, "ConfigMap ") && contains(policy, "/ipcmesh-config")) << policy;
  kubectl({"delete", "namespace", ns_, "--wait=true", "--timeout=60s"});
}

// One kubeconfig, two contexts: the current one points at a closed port, the other at this
// control plane with a default namespace. --context picks; without -n the context's namespace is
// used, as kubectl does.
TEST_F(CliCluster, ContextChoosesBetweenTwoContextsOfOneKubeconfig) {
  apply(channel_manifest("frames", "demo"));
  const ControlPlane& plane = ClusterEnvironment::control_plane();
  const std::string file = plane.dir + "/cli-two-contexts.kubeconfig";
  const json admin =
      json::parse(kubectl_ok({"config", "view", "--raw", "--minify", "--flatten", "-o", "json"}));
  const std::string cluster = admin["clusters"][0]["name"];
  const std::string user = admin["users"][0]["name"];
  std::ofstream(file) << admin.dump();
  // Never through kubectl_ok: it names the admin kubeconfig, which must stay as it is.
  const auto config = [&](std::vector<std::string> args) {
    args.insert(args.begin(), {plane.tools_bin + "/kubectl", "config", "--kubeconfig", file});
    const CommandResult result = run_command(args);
    ASSERT_TRUE(result.ok()) << result.err;
  };
  config({"set-cluster", "nowhere", "--server=https://127.0.0.1:1"});
  config({"set-context", "nowhere", "--cluster=nowhere", "--user=" + user});
  config({"set-context", "team", "--cluster=" + cluster, "--user=" + user, "--namespace=" + ns_});
  config({"use-context", "nowhere"});

  const CommandResult current = ctl({"get", "channels", "-n", ns_}, file);
  EXPECT_EQ(current.exit_code, 1) << current.out;
  EXPECT_TRUE(contains(current.err, "cannot reach the API server at https://127.0.0.1:1"))
      << current.err;
  const CommandResult chosen = ctl({"get", "channels", "--context", "team"}, file);
  ASSERT_EQ(chosen.exit_code, 0) << chosen.err;
  EXPECT_TRUE(contains(chosen.out, "frames   SharedMemory")) << chosen.out;
  const CommandResult unknown = ctl({"get", "channels", "--context", "nope"}, file);
  EXPECT_EQ(unknown.exit_code, 1);
  EXPECT_TRUE(contains(unknown.err, "context \"nope\" is not defined")) << unknown.err;
}

// kubectl finds kubectl-ipcmesh (the symlink CMake puts next to ipcmeshctl) on PATH and runs it:
// `kubectl ipcmesh get channels` is ipcmeshctl's table, and its help names `kubectl ipcmesh`.
TEST_F(CliCluster, KubectlRunsItAsAPluginFoundOnPath) {
  apply(channel_manifest("frames", "demo"));
  const ControlPlane& plane = ClusterEnvironment::control_plane();
  const std::string plugin = std::string(IPCMESH_BIN_DIR) + "/kubectl-ipcmesh";
  ASSERT_TRUE(std::filesystem::exists(plugin)) << plugin << " is not built";
  const std::vector<std::string> environment = {
      "PATH=" + std::string(IPCMESH_BIN_DIR) + ":/usr/bin:/bin", "KUBECONFIG=" + plane.kubeconfig};
  const std::string kubectl_binary = plane.tools_bin + "/kubectl";
  const CommandResult listed =
      run_command({"timeout", kCommandTimeout, kubectl_binary, "plugin", "list"}, "", environment);
  EXPECT_TRUE(contains(listed.out, plugin)) << listed.out << listed.err;
  const CommandResult table = run_command(
      {"timeout", kCommandTimeout, kubectl_binary, "ipcmesh", "get", "channels", "-n", ns_}, "",
      environment);
  ASSERT_EQ(table.exit_code, 0) << table.err;
  EXPECT_TRUE(contains(table.out, "frames   SharedMemory")) << table.out;
  const CommandResult help = run_command(
      {"timeout", kCommandTimeout, kubectl_binary, "ipcmesh", "why", "--help"}, "", environment);
  ASSERT_EQ(help.exit_code, 0) << help.err;
  EXPECT_TRUE(contains(help.out, "Usage: kubectl ipcmesh why")) << help.out;
}

}  // namespace
}  // namespace ipcmesh::cluster
