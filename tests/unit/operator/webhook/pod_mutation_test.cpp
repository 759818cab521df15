#include "webhook/pod_mutation.hpp"

#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "api/injection_status.hpp"
#include "webhook/admission.hpp"

namespace ipcmesh::webhook {
namespace {

using nlohmann::json;

json fixture(const std::string& name) {
  std::ifstream in(std::string(IPCMESH_SOURCE_DIR) + "/tests/unit/operator/webhook/fixtures/" +
                   name);
  EXPECT_TRUE(in.good()) << name;
  std::stringstream text;
  text << in.rdbuf();
  return json::parse(text.str());
}

std::vector<api::IpcChannel> catalog() {
  std::vector<api::IpcChannel> channels;
  for (const auto& item : fixture("channels.json")) {
    auto channel = api::ipc_channel_from_json(item);
    EXPECT_TRUE(channel.has_value()) << (channel ? "" : channel.error().message);
    if (channel) channels.push_back(std::move(*channel));
  }
  return channels;
}

MutationOptions options(int minor = 30) {
  MutationOptions o;
  o.injector_version = "9.9.9";
  o.relay_image = "relay:test";
  o.server_minor = minor;
  o.policy.allow_mqueue_sysctls = true;
  o.policy.host_ipc_namespaces = {"node-ok"};
  return o;
}

const json* find_named(const json& list, std::string_view name) {
  if (!list.is_array()) return nullptr;
  for (const auto& item : list) {
    if (item.value("name", "") == name) return &item;
  }
  return nullptr;
}

std::string env_of(const json& container, std::string_view name) {
  const auto env = container.value("env", json::array());  // keep the list alive while we look
  const json* entry = find_named(env, name);
  return entry ? entry->value("value", "") : "";
}

std::string mount_at(const json& container, std::string_view path) {
  for (const auto& mount : container.value("volumeMounts", json::array())) {
    if (mount.value("mountPath", "") == path) return mount.value("name", "");
  }
  return {};
}

api::InjectionStatus record_of(const json& pod) {
  auto status = api::parse_injection_status(
      pod["metadata"]["annotations"]["ipcmesh.io/status"].get<std::string>());
  EXPECT_TRUE(status.has_value());
  return status.value_or(api::InjectionStatus{});
}

// Every app and init container has the contract env and both mounts.
void expect_every_container_wired(const json& pod, const std::string& shm_volume) {
  for (const char* list : {"initContainers", "containers"}) {
    for (const auto& container : pod["spec"].value(list, json::array())) {
      const std::string name = container.value("name", "");
      auto set = parse_channel_set(env_of(container, kEnvChannels));
      EXPECT_TRUE(set.has_value()) << name;
      EXPECT_EQ(env_of(container, kEnvControlDir), kDefaultControlDir) << name;
      EXPECT_EQ(mount_at(container, "/var/run/ipcmesh"), kControlVolumeName) << name;
      if (!shm_volume.empty()) {
        EXPECT_EQ(mount_at(container, "/dev/shm"), shm_volume) << name;
      }
    }
  }
}

// ---- the table: fixture, namespace, options -> outcome and reason ----

struct Row {
  const char* name;
  const char* fixture;
  const char* namespace_name;
  int minor;
  MutationOutcome outcome;
  const char* reason;
};

class InjectionRules : public ::testing::TestWithParam<Row> {};

// Each row is one rule of docs/webhook.md applied to one Pod fixture.
TEST_P(InjectionRules, GiveTheDocumentedOutcome) {
  const auto& row = GetParam();
  const auto channels = catalog();
  auto result = mutate_pod(fixture(row.fixture), row.namespace_name, channels, options(row.minor));
  EXPECT_EQ(result.outcome, row.outcome)
      << row.name << ": " << result.reason << " " << result.message;
  EXPECT_EQ(result.reason, row.reason) << row.name << ": " << result.message;
  if (row.outcome == MutationOutcome::kDenied) {
    EXPECT_EQ(result.message.rfind("ipcmesh: ", 0), 0u) << result.message;
  }
  if (row.outcome == MutationOutcome::kMutated) {
    const auto status = record_of(result.pod);
    EXPECT_EQ(status.version, "9.9.9");
    expect_every_container_wired(
        result.pod, status.dev_shm_source == "host" ? std::string() : status.dev_shm_volume);
  } else {
    EXPECT_EQ(result.pod, fixture(row.fixture)) << "a Pod that is not mutated is returned as is";
  }
}

INSTANTIATE_TEST_SUITE_P(
    Fixtures, InjectionRules,
    ::testing::Values(
        Row{"plain", "plain_pod.json", "team", 30, MutationOutcome::kMutated, "injected"},
        Row{"volumes", "pod_with_volumes.json", "team", 30, MutationOutcome::kMutated, "injected"},
        Row{"own_shm", "pod_own_dev_shm.json", "team", 30, MutationOutcome::kMutated, "injected"},
        Row{"already", "already_injected_pod.json", "team", 30, MutationOutcome::kUnchanged,
            "already-injected"},
        Row{"job", "job_pod.json", "team", 30, MutationOutcome::kMutated, "injected"},
        Row{"job_old_server", "job_pod.json", "team", 28, MutationOutcome::kMutated, "injected"},
        Row{"kube_system", "plain_pod.json", "kube-system", 30, MutationOutcome::kUnchanged,
            "excluded-namespace"},
        Row{"kube_public", "plain_pod.json", "kube-public", 30, MutationOutcome::kUnchanged,
            "excluded-namespace"},
        Row{"kube_node_lease", "plain_pod.json", "kube-node-lease", 30, MutationOutcome::kUnchanged,
            "excluded-namespace"},
        Row{"operator_ns", "plain_pod.json", "ipcmesh-system", 30, MutationOutcome::kUnchanged,
            "excluded-namespace"},
        Row{"unselected_ns", "plain_pod.json", "quiet", 30, MutationOutcome::kUnchanged,
            "no-channel"},
        Row{"host_network", "host_network_pod.json", "team", 30, MutationOutcome::kMutated,
            "injected"},
        Row{"opted_out", "opted_out_pod.json", "team", 30, MutationOutcome::kUnchanged,
            "opted-out"},
        Row{"annotation", "annotated_pod.json", "team", 30, MutationOutcome::kMutated, "injected"}),
    [](const auto& info) { return std::string(info.param.name); });

// A plain Pod gets a native sidecar first among init containers, with the restricted-PSS
// security context, the startup probe, the sized /dev/shm emptyDir and the status record.
TEST(PodMutation, PlainPodGetsANativeSidecarAndASizedDevShm) {
  const auto channels = catalog();
  auto result = mutate_pod(fixture("plain_pod.json"), "team", channels, options(30));
  ASSERT_EQ(result.outcome, MutationOutcome::kMutated) << result.message;
  const json& spec = result.pod["spec"];
  ASSERT_TRUE(spec["initContainers"].is_array());
  const json& relay = spec["initContainers"][0];
  EXPECT_EQ(relay["name"], kRelayContainerName);
  EXPECT_EQ(relay["image"], "relay:test");
  EXPECT_EQ(relay["restartPolicy"], "Always");
  EXPECT_EQ(relay["startupProbe"]["httpGet"]["path"], "/readyz");
  EXPECT_EQ(relay["args"], json::array({"--listen", "0.0.0.0:9090"})) << "probes reach the Pod IP";
  const json& security = relay["securityContext"];
  EXPECT_EQ(security["runAsNonRoot"], true);
  EXPECT_EQ(security["readOnlyRootFilesystem"], true);
  EXPECT_EQ(security["allowPrivilegeEscalation"], false);
  EXPECT_EQ(security["capabilities"]["drop"], json::array({"ALL"}));
  EXPECT_EQ(security["seccompProfile"]["type"], "RuntimeDefault");
  EXPECT_EQ(spec["containers"].size(), 1u) << "the relay is not an app container";
  const json* shm = find_named(spec["volumes"], kShmVolumeName);
  ASSERT_NE(shm, nullptr);
  EXPECT_EQ((*shm)["emptyDir"]["medium"], "Memory");
  // 64Mi ring + 1Mi overhead + 64Mi headroom.
  EXPECT_EQ((*shm)["emptyDir"]["sizeLimit"], "129Mi");
  EXPECT_EQ(mount_at(relay, "/dev/shm"), kShmVolumeName);
  EXPECT_FALSE(spec.contains("hostIPC"));
  const auto status = record_of(result.pod);
  EXPECT_EQ(status.sidecar, "native");
  ASSERT_EQ(status.channels.size(), 1u);
  EXPECT_EQ(status.channels[0], (api::InjectedChannel{"frames", "u-frames", 3}));
  EXPECT_EQ(status.dev_shm_source, "injected");
  EXPECT_EQ(status.dev_shm_size_limit, "129Mi");
  auto set = parse_channel_set(env_of(spec["containers"][0], kEnvChannels));
  ASSERT_TRUE(set.has_value());
  ASSERT_EQ(set->channels.size(), 1u);
  EXPECT_EQ(set->channels[0].shm_name(), shm_object_name({"team", "frames"}));
}

// Before 1.29 the relay is the first plain container, still with a startup probe; a Job Pod
// is warned that the relay keeps it alive.
TEST(PodMutation, OldServerGetsAPlainContainerAndJobsAreWarned) {
  const auto channels = catalog();
  auto result = mutate_pod(fixture("job_pod.json"), "team", channels, options(28));
  ASSERT_EQ(result.outcome, MutationOutcome::kMutated);
  const json& spec = result.pod["spec"];
  EXPECT_FALSE(spec.contains("initContainers"));
  EXPECT_EQ(spec["containers"][0]["name"], kRelayContainerName);
  EXPECT_FALSE(spec["containers"][0].contains("restartPolicy"));
  EXPECT_TRUE(spec["containers"][0].contains("startupProbe"));
  EXPECT_EQ(record_of(result.pod).sidecar, "container");
  ASSERT_FALSE(result.warnings.empty());
  EXPECT_NE(result.warnings[0].find("Job"), std::string::npos);
}

// A Pod with its own /dev/shm keeps it; the relay and the other containers mount the same volume
// and the record says so.
TEST(PodMutation, OwnDevShmIsRespectedAndShared) {
  const auto channels = catalog();
  auto result = mutate_pod(fixture("pod_own_dev_shm.json"), "team", channels, options());
  ASSERT_EQ(result.outcome, MutationOutcome::kMutated);
  const json& spec = result.pod["spec"];
  EXPECT_EQ(find_named(spec["volumes"], kShmVolumeName), nullptr);
  EXPECT_EQ(mount_at(spec["initContainers"][0], "/dev/shm"), "dshm");
  EXPECT_EQ(mount_at(spec["containers"][1], "/dev/shm"), "dshm");
  const auto status = record_of(result.pod);
  EXPECT_EQ(status.dev_shm_source, "pod");
  EXPECT_EQ(status.dev_shm_volume, "dshm");
  EXPECT_FALSE(result.warnings.empty());
}

// Existing volumes, init containers and env are kept; the relay comes first among init containers.
TEST(PodMutation, ExistingVolumesInitContainersAndEnvAreKept) {
  const auto channels = catalog();
  auto result = mutate_pod(fixture("pod_with_volumes.json"), "team", channels, options());
  ASSERT_EQ(result.outcome, MutationOutcome::kMutated);
  const json& spec = result.pod["spec"];
  ASSERT_EQ(spec["initContainers"].size(), 2u);
  EXPECT_EQ(spec["initContainers"][0]["name"], kRelayContainerName);
  EXPECT_EQ(spec["initContainers"][1]["name"], "setup");
  EXPECT_NE(find_named(spec["volumes"], "data"), nullptr);
  EXPECT_EQ(env_of(spec["containers"][0], "MODE"), "produce");
  EXPECT_EQ(mount_at(spec["containers"][0], "/data"), "data");
  EXPECT_EQ(result.pod["metadata"]["annotations"]["note"], "a/b~c");
}

// Injecting twice is a no-op: the second pass sees the record.
TEST(PodMutation, InjectionIsIdempotent) {
  const auto channels = catalog();
  auto first = mutate_pod(fixture("plain_pod.json"), "team", channels, options());
  ASSERT_EQ(first.outcome, MutationOutcome::kMutated);
  auto second = mutate_pod(first.pod, "team", channels, options());
  EXPECT_EQ(second.outcome, MutationOutcome::kUnchanged);
  EXPECT_EQ(second.reason, "already-injected");
  // Also without the annotation (a copied Pod): the relay container gives it away.
  json copied = first.pod;
  copied["metadata"]["annotations"].erase("ipcmesh.io/status");
  EXPECT_EQ(mutate_pod(copied, "team", channels, options()).reason, "already-injected");
}

// A Pod selected by two channels gets one relay serving both, the sum of rings in /dev/shm and
// the mqueue sysctls the queue needs.
TEST(PodMutation, TwoChannelsShareOneRelay) {
  auto pod = fixture("plain_pod.json");
  pod["metadata"]["annotations"] = {{"ipcmesh.io/channels", "jobs"}};
  const auto channels = catalog();
  auto result = mutate_pod(pod, "team", channels, options());
  ASSERT_EQ(result.outcome, MutationOutcome::kMutated) << result.message;
  EXPECT_EQ(result.channels, (std::vector<std::string>{"frames", "jobs"}));
  const json& spec = result.pod["spec"];
  auto set = parse_channel_set(env_of(spec["initContainers"][0], kEnvChannels));
  ASSERT_TRUE(set.has_value());
  EXPECT_EQ(set->channels.size(), 2u);
  const auto& sysctls = spec["securityContext"]["sysctls"];
  EXPECT_EQ((*find_named(sysctls, "fs.mqueue.msg_max"))["value"], "64");
  EXPECT_EQ((*find_named(sysctls, "fs.mqueue.msgsize_max"))["value"], "16384");
  EXPECT_EQ(record_of(result.pod).sysctls.at("fs.mqueue.msg_max"), "64");
}

// Queues within the kernel defaults need no sysctls.
TEST(PodMutation, QueuesWithinKernelDefaultsGetNoSysctls) {
  auto pod = fixture("plain_pod.json");
  pod["metadata"]["labels"] = {{"queue", "yes"}};
  const auto channels = catalog();
  auto result = mutate_pod(pod, "team", channels, options());
  ASSERT_EQ(result.outcome, MutationOutcome::kMutated) << result.message;
  EXPECT_FALSE(result.pod["spec"].contains("securityContext"));
  EXPECT_EQ(record_of(result.pod).dev_shm_size_limit, "64Mi") << "no ring: headroom only";
}

// Without the policy, a queue above the defaults is denied with a message naming the limits
// and the two ways out; with kWarn it is admitted with a warning.
TEST(PodMutation, MqueueSysctlsOutsideThePolicyAreDeniedOrWarned) {
  auto pod = fixture("annotated_pod.json");
  auto o = options();
  o.policy.allow_mqueue_sysctls = false;
  const auto channels = catalog();
  auto denied = mutate_pod(pod, "team", channels, o);
  ASSERT_EQ(denied.outcome, MutationOutcome::kDenied);
  EXPECT_EQ(denied.reason, "mqueue-sysctls-not-allowed");
  EXPECT_NE(denied.message.find("fs.mqueue.msg_max=64"), std::string::npos) << denied.message;
  EXPECT_NE(denied.message.find("team/jobs"), std::string::npos);
  o.policy.mqueue_limit_action = MqueueLimitAction::kWarn;
  auto warned = mutate_pod(pod, "team", channels, o);
  ASSERT_EQ(warned.outcome, MutationOutcome::kMutated);
  EXPECT_FALSE(warned.pod["spec"].contains("securityContext"));
  EXPECT_FALSE(warned.warnings.empty());
}

// scope: Node is denied where the policy does not allow hostIPC, and gets hostIPC (and the
// host's /dev/shm, no emptyDir) where it does.
TEST(PodMutation, ScopeNodeNeedsAnAllowedNamespace) {
  auto pod = fixture("plain_pod.json");
  pod["metadata"]["labels"] = {{"bus", "node"}};
  auto channels = catalog();
  auto denied = mutate_pod(pod, "team", channels, options());
  ASSERT_EQ(denied.outcome, MutationOutcome::kDenied);
  EXPECT_EQ(denied.reason, "scope-node-not-allowed");
  EXPECT_NE(denied.message.find("hostIPC"), std::string::npos);
  EXPECT_NE(denied.message.find("scope: Pod"), std::string::npos);

  std::erase_if(channels, [](const auto& c) { return c.metadata.name != "node-bus"; });
  channels.at(0).metadata.namespace_name = "node-ok";
  channels.at(0).spec.id.namespace_name = "node-ok";
  auto allowed = mutate_pod(pod, "node-ok", channels, options());
  ASSERT_EQ(allowed.outcome, MutationOutcome::kMutated) << allowed.message;
  EXPECT_EQ(allowed.pod["spec"]["hostIPC"], true);
  EXPECT_EQ(find_named(allowed.pod["spec"]["volumes"], kShmVolumeName), nullptr);
  const auto status = record_of(allowed.pod);
  EXPECT_EQ(status.dev_shm_source, "host");
  EXPECT_TRUE(status.host_ipc);
}

// Mixing Node and Pod scope, or a hostIPC Pod with a Pod-scoped channel, is refused.
TEST(PodMutation, HostIpcAndPodScopeDoNotMix) {
  auto channels = catalog();
  auto o = options();
  o.policy.host_ipc_namespaces = {"*"};
  auto mixed = fixture("plain_pod.json");
  mixed["metadata"]["labels"]["bus"] = "node";
  auto result = mutate_pod(mixed, "team", channels, o);
  EXPECT_EQ(result.outcome, MutationOutcome::kDenied);
  EXPECT_EQ(result.reason, "conflict");

  auto host_ipc = fixture("plain_pod.json");
  host_ipc["spec"]["hostIPC"] = true;
  result = mutate_pod(host_ipc, "team", channels, o);
  EXPECT_EQ(result.outcome, MutationOutcome::kDenied);
  EXPECT_EQ(result.reason, "host-ipc-pod-scope");
}

// hostNetwork Pods are injected; the relay's port becomes a declared hostPort (docs/webhook.md).
TEST(PodMutation, HostNetworkPodsDeclareTheRelayPortAsHostPort) {
  const auto channels = catalog();
  auto result = mutate_pod(fixture("host_network_pod.json"), "team", channels, options());
  ASSERT_EQ(result.outcome, MutationOutcome::kMutated);
  const json& port = result.pod["spec"]["initContainers"][0]["ports"][0];
  EXPECT_EQ(port["containerPort"], 9090);
  EXPECT_EQ(port["hostPort"], 9090);
  EXPECT_FALSE(result.warnings.empty());
}

// A Pod naming a channel that does not exist is denied with the name and a way out; a port
// clash with an app container too.
TEST(PodMutation, UnknownChannelsAndPortClashesAreDenied) {
  const auto channels = catalog();
  auto pod = fixture("plain_pod.json");
  pod["metadata"]["annotations"] = {{"ipcmesh.io/channels", "frames,ghost"}};
  auto result = mutate_pod(pod, "team", channels, options());
  ASSERT_EQ(result.outcome, MutationOutcome::kDenied);
  EXPECT_EQ(result.reason, "unknown-channel");
  EXPECT_NE(result.message.find("ghost"), std::string::npos);

  auto clash = fixture("plain_pod.json");
  clash["spec"]["containers"][0]["ports"] = json::array({{{"containerPort", 9090}}});
  result = mutate_pod(clash, "team", channels, options());
  ASSERT_EQ(result.outcome, MutationOutcome::kDenied);
  EXPECT_NE(result.message.find("metricsPort"), std::string::npos);
}

// Channels of another namespace never apply, even with an empty selector.
TEST(PodMutation, ChannelsOfOtherNamespacesNeverApply) {
  const auto channels = catalog();
  auto selection = select_channels(fixture("plain_pod.json"), "team", channels);
  ASSERT_EQ(selection.channels.size(), 1u);
  EXPECT_EQ(selection.channels[0]->metadata.uid, "u-frames");
}

// Malformed Pods are admitted unchanged with a warning, never a crash.
TEST(PodMutation, MalformedPodsAreLeftAlone) {
  const auto channels = catalog();
  for (const char* text :
       {R"(null)", R"([])", R"({"metadata":{"labels":{"app":"pipeline"}}})",
        R"({"metadata":{"labels":{"app":"pipeline"}},"spec":{"containers":{}}})",
        R"({"metadata":{"labels":{"app":"pipeline"}},"spec":{"containers":[7]}})",
        R"({"metadata":{"labels":{"app":"pipeline"}},"spec":{"containers":[{"env":5}]}})",
        R"({"metadata":{"labels":{"app":"pipeline"}},"spec":{"containers":[{}],"volumes":3}})",
        R"({"metadata":{"labels":{"app":"pipeline"}},"spec":{"containers":[{}],"hostIPC":"yes"}})",
        R"({"metadata":7})"}) {
    auto result = mutate_pod(json::parse(text), "team", channels, options());
    EXPECT_NE(result.outcome, MutationOutcome::kDenied) << text;
  }
}

}  // namespace
}  // namespace ipcmesh::webhook
