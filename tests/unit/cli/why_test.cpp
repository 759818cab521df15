// ipcmeshctl why POD: the webhook's own decision on the live Pod (webhook::mutate_pod), the
// controller's outdated rule, and the command that fixes each case. Table-driven over the
// verdicts with diagnose_pod, then once through the command against a fake API server, where the
// operator's ConfigMap changes the webhook's answer.
#include <gtest/gtest.h>

#include <sstream>

#include "cluster_commands.hpp"
#include "cluster_fixtures.hpp"
#include "cluster_objects.hpp"
#include "why_diagnosis.hpp"

namespace ipcmesh::cli {
namespace {

using namespace testing;

// As `why` reads a channel: the operator's record, with the creation time beside it.
api::ChannelRecord record_of(const json& channel) {
  return channel_object_from_json(channel, "test").record;
}

WhyInputs inputs_for(const json& pod, const std::vector<json>& channels, bool namespace_enabled) {
  WhyInputs inputs;
  inputs.pod = pod;
  inputs.namespace_labels = api::Labels{{"kubernetes.io/metadata.name", kTeam}};
  if (namespace_enabled) (*inputs.namespace_labels)["ipcmesh.io/injection"] = "enabled";
  for (const json& channel : channels) inputs.channels.push_back(record_of(channel));
  const std::string name = pod["metadata"]["name"];
  inputs.restart_command = restart_command(kTeam, name, "", true);
  return inputs;
}

struct WhyCase {
  std::string name;
  WhyInputs inputs;
  Verdict verdict;
  std::string in_explanation;
  std::string fix;  // exact
};

std::vector<WhyCase> why_cases() {
  const json frames = channel_json("frames", "demo");
  const json frames_v2 = channel_json("frames", "demo", 2);
  const std::string replace = "kubectl get pod app -n team -o json | kubectl replace --force -f -";
  std::vector<WhyCase> cases = {
      {"injected", inputs_for(injected(pod_json("app", "demo"), {frames}), {frames}, true),
       Verdict::kInjected, "current generation of every channel", ""},
      {"outdated", inputs_for(injected(pod_json("app", "demo"), {frames}), {frames_v2}, true),
       Verdict::kOutdated, "older generation of frames",
       "kubectl delete pod app -n team && kubectl apply -n team -f POD-MANIFEST (the Pod's "
       "manifest, not its live JSON: that carries the old injection)"},
      {"created before its channel", inputs_for(pod_json("app", "demo", kEarly), {frames}, true),
       Verdict::kPendingRestart, "created at 2026-12-02T11:00:00Z, before IpcChannel frames",
       replace},
      {"missed by the webhook", inputs_for(pod_json("app", "demo", kLater), {frames}, true),
       Verdict::kPendingRestart, "was not called or did not answer", replace},
      {"namespace not enabled", inputs_for(pod_json("app", "demo"), {frames}, false),
       Verdict::kNamespaceNotEnabled, "not labelled ipcmesh.io/injection=enabled",
       "kubectl label namespace team ipcmesh.io/injection=enabled && " + replace},
      {"opted out",
       inputs_for(pod_json("app", "demo", kLater, {{"ipcmesh.io/inject", "false"}}), {frames},
                  true),
       Verdict::kOptedOut, "opts out",
       "kubectl annotate pod app -n team ipcmesh.io/inject- && " + replace},
      {"no channel selects it", inputs_for(pod_json("app", "web"), {frames}, true),
       Verdict::kNoChannel, "selects the Pod by its labels",
       "kubectl annotate pod app -n team ipcmesh.io/channels=frames && " + replace},
      {"no channel at all", inputs_for(pod_json("app", "web"), {}, true), Verdict::kNoChannel,
       "has no valid IpcChannel", ""},
      {"names a missing channel",
       inputs_for(pod_json("app", "web", kLater, {{"ipcmesh.io/channels", "gone"}}), {frames},
                  true),
       Verdict::kDenied, "unknown-channel", ""},
  };
  // A Deployment's Pod: the fixes roll or patch the Deployment, never the Pod.
  WhyInputs rolled = inputs_for(pod_json("app", "demo", kEarly), {frames}, true);
  rolled.workload = "deployment/web";
  rolled.bare = false;
  rolled.restart_command = restart_command(kTeam, "app", "deployment/web", false);
  cases.push_back({"a Deployment's Pod created before its channel", rolled,
                   Verdict::kPendingRestart, "before IpcChannel frames",
                   "kubectl rollout restart deployment/web -n team"});
  WhyInputs opted =
      inputs_for(pod_json("app", "demo", kLater, {{"ipcmesh.io/inject", "false"}}), {frames}, true);
  opted.workload = "deployment/web";
  opted.bare = false;
  cases.push_back({"a Deployment's Pod that opts out", opted, Verdict::kOptedOut, "opts out",
                   "kubectl patch deployment/web -n team --type=json -p "
                   "'[{\"op\":\"remove\",\"path\":\"/spec/template/metadata/annotations/"
                   "ipcmesh.io~1inject\"}]'"});
  WhyInputs system = inputs_for(pod_json("app", "demo"), {frames}, true);
  system.pod["metadata"]["namespace"] = "kube-system";
  cases.push_back({"a system namespace", system, Verdict::kExcludedNamespace,
                   "never injects namespace kube-system", ""});
  return cases;
}

// Each verdict, its explanation and its exact fix.
TEST(Why, EachVerdictComesWithItsReasonAndTheExactFix) {
  for (const WhyCase& c : why_cases()) {
    const WhyReport report = diagnose_pod(c.inputs);
    EXPECT_EQ(to_string(report.verdict), to_string(c.verdict)) << c.name;
    EXPECT_NE(report.explanation.find(c.in_explanation), std::string::npos)
        << c.name << ": " << report.explanation;
    if (report.verdict == Verdict::kDenied) {
      EXPECT_NE(report.webhook.find(c.in_explanation), std::string::npos) << report.webhook;
    }
    EXPECT_EQ(report.fix, c.fix) << c.name;
  }
}

// The channel list says how each channel selects the Pod and where the Pod stands with it.
TEST(Why, ListsTheSelectingChannelsWithHowAndTheirState) {
  const json frames = channel_json("frames", "demo", 2);
  const json audio = channel_json("audio", "other");
  json broken = channel_json("broken", "demo");
  broken["spec"]["sharedMemory"]["size"] = "64Q";
  json pod = injected(pod_json("app", "demo", kLater, {{"ipcmesh.io/channels", "audio"}}),
                      {channel_json("frames", "demo"), audio});
  const WhyReport report = diagnose_pod(inputs_for(pod, {frames, audio, broken}, true));
  ASSERT_EQ(report.channels.size(), 3u);
  EXPECT_EQ(report.channels[0].name, "frames");
  EXPECT_EQ(report.channels[0].how, "selector app=demo");
  EXPECT_EQ(report.channels[0].state, "outdated (injected generation 1, the channel is at 2)");
  EXPECT_EQ(report.channels[1].name, "audio");
  EXPECT_EQ(report.channels[1].how, "annotation ipcmesh.io/channels");
  EXPECT_EQ(report.channels[1].state, "current (generation 1)");
  EXPECT_EQ(report.channels[2].name, "broken");
  EXPECT_NE(report.channels[2].state.find("invalid spec (the webhook ignores it)"),
            std::string::npos)
      << report.channels[2].state;
  EXPECT_EQ(report.verdict, Verdict::kOutdated);
}

json config_map(bool allow_mqueue_sysctls) {
  return {{"metadata", {{"namespace", "ipcmesh-system"}, {"name", "ipcmesh-config"}}},
          {"data",
           {{"config.yaml", std::string("injection:\n  allowMqueueSysctls: ") +
                                (allow_mqueue_sysctls ? "true" : "false") + "\n"}}}};
}

std::string why(FakeCluster& cluster, const std::string& pod, const std::string& output = "") {
  WhyArguments arguments;
  arguments.pod = pod;
  arguments.cluster.output = output;
  std::ostringstream out, err;
  EXPECT_EQ(run_why(arguments, cluster.access, out, err), 0) << err.str();
  return out.str();
}

// Through the command: the policy is the operator's ConfigMap. A channel whose queue needs
// fs.mqueue sysctls is denied under the default policy and injected where the operator allows
// them: the same Pod, two answers, as the webhook would give.
TEST(Why, ThePolicyIsTheOperatorsConfigMap) {
  FakeCluster cluster;
  const json queue = channel_json("jobs", "demo", 1, kCreated,
                                  {{"transport", "MessageQueue"},
                                   {"sharedMemory", nullptr},
                                   {"messageQueue", {{"maxMessages", 64}}}});
  json queue_channel = queue;
  queue_channel["spec"].erase("sharedMemory");
  cluster.server.answer(kPodsPath + "/app", pod_json("app", "demo", kEarly));
  cluster.server.answer("/api/v1/namespaces/team", namespace_json(kTeam, true));
  cluster.server.answer(kChannelsPath, list_of({queue_channel}));
  cluster.server.answer("/apis/apps/v1/deployments", list_of({operator_deployment("0.1.0")}));
  cluster.server.answer("/api/v1/namespaces/ipcmesh-system/configmaps/ipcmesh-config",
                        config_map(false));
  const std::string denied = why(cluster, "app");
  EXPECT_NE(denied.find("Verdict:   denied"), std::string::npos) << denied;
  EXPECT_NE(denied.find("mqueue-sysctls-not-allowed"), std::string::npos) << denied;
  EXPECT_NE(denied.find("Policy:    ConfigMap ipcmesh-system/ipcmesh-config of operator "
                        "ipcmesh-system/ipcmesh-operator"),
            std::string::npos)
      << denied;

  cluster.server.answer("/api/v1/namespaces/ipcmesh-system/configmaps/ipcmesh-config",
                        config_map(true));
  const json allowed = json::parse(why(cluster, "app", "json"));
  EXPECT_EQ(allowed["verdict"], "pending restart") << allowed.dump(2);
  EXPECT_EQ(allowed["fix"], "kubectl get pod app -n team -o json | kubectl replace --force -f -");
  EXPECT_EQ(allowed["channels"][0]["name"], "jobs");

  // Without an operator Deployment the defaults apply, and the report says so.
  cluster.server.answer("/apis/apps/v1/deployments", list_of({}));
  EXPECT_NE(why(cluster, "app").find("Policy:    the operator's defaults (no operator Deployment"),
            std::string::npos);
}

// A Pod of a Deployment: `why` follows its ReplicaSet to the Deployment for the fix.
TEST(Why, APodOfADeploymentIsFixedByRollingTheDeployment) {
  FakeCluster cluster;
  json pod = pod_json("web-7d9f-abcde", "demo", kEarly);
  pod["metadata"]["ownerReferences"] = json::array(
      {{{"kind", "ReplicaSet"}, {"name", "web-7d9f"}, {"controller", true}, {"uid", "rs"}}});
  cluster.server.answer(kPodsPath + "/web-7d9f-abcde", pod);
  cluster.server.answer(
      "/apis/apps/v1/namespaces/team/replicasets/web-7d9f",
      {{"metadata",
        {{"name", "web-7d9f"},
         {"ownerReferences",
          json::array({{{"kind", "Deployment"}, {"name", "web"}, {"controller", true}}})}}}});
  cluster.server.answer("/api/v1/namespaces/team", namespace_json(kTeam, true));
  cluster.server.answer(kChannelsPath, list_of({channel_json("frames", "demo")}));
  cluster.server.answer("/apis/apps/v1/deployments", list_of({}));
  const std::string text = why(cluster, "web-7d9f-abcde");
  EXPECT_NE(text.find("Fix:       kubectl rollout restart deployment/web -n team"),
            std::string::npos)
      << text;
}

TEST(Why, AMissingPodIsOneLineAndExitOne) {
  FakeCluster cluster;
  cluster.server.fail(kPodsPath + "/ghost", 404, "NotFound", "pods \"ghost\" not found");
  WhyArguments arguments;
  arguments.pod = "ghost";
  std::ostringstream out, err;
  EXPECT_EQ(run_why(arguments, cluster.access, out, err), 1);
  EXPECT_EQ(out.str(), "");
  EXPECT_NE(err.str().find("ipcmeshctl why: "), std::string::npos) << err.str();
  EXPECT_NE(err.str().find("pods \"ghost\" not found"), std::string::npos) << err.str();
}

}  // namespace
}  // namespace ipcmesh::cli
