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
  EXPECT_EQ(relay["readinessProbe"]["httpGet"]["path"], "/readyz")
      << "a channel broken under a running relay makes the Pod NotReady";
  EXPECT_EQ(relay["args"], json::array({"--listen", "0.0.0.0:9090"})) << "probes reach the Pod IP";
  const json& security = relay["securityContext"];
  EXPECT_EQ(security["runAsNonRoot"], true);
  EXPECT_EQ(security["readOnlyRootFilesystem"], true);
  EXPECT_EQ(security["allowPrivilegeEscalation"], false);
  EXPECT_EQ(security["capabilities"]["drop"], json::array({"ALL"}));
  EXPECT_EQ(security["seccompProfile"]["type"], "RuntimeDefault");
  EXPECT_EQ(security["runAsUser"], 65532);
  EXPECT_EQ(security["runAsGroup"], 65532);
  EXPECT_EQ(spec["securityContext"]["supplementalGroups"], json::array({65532}))
      << "the apps join the relay's group to open its 0660 objects";
  // The default 64Mi limit plus the 64Mi ring and its 1Mi header, which the relay is charged for.
  EXPECT_EQ(
      relay["resources"],
      json::parse(R"({"requests":{"cpu":"10m","memory":"16Mi"},"limits":{"memory":"129Mi"}})"));
  EXPECT_EQ(spec["containers"].size(), 1u) << "the relay is not an app container";
  // No service-account token for the relay: an empty read-only volume holds its path, which also
  // keeps the ServiceAccount admission plugin from changing the relay (and re-invoking us).
  EXPECT_EQ(mount_at(relay, std::string(kServiceAccountTokenPath)), kNoTokenVolumeName);
  EXPECT_EQ(mount_at(spec["containers"][0], std::string(kServiceAccountTokenPath)), "")
      << "the app keeps its token";
  const json* no_token = find_named(spec["volumes"], kNoTokenVolumeName);
  ASSERT_NE(no_token, nullptr);
  EXPECT_EQ((*no_token)["emptyDir"]["medium"], "Memory");
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
  // The channel's waitMode reaches the apps (the C API and ipcmeshctl subscribe with it) and the
  // relay (its shm->mq bridge) in the document.
  EXPECT_EQ(set->channels[0].shared_memory->wait_mode, WaitMode::kSpinThenSleep);
  EXPECT_EQ(env_of(relay, kEnvChannels), env_of(spec["containers"][0], kEnvChannels));
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

// A reinvocation after another webhook added a container to an injected Pod re-applies the
// wiring to that container only (reinvocationPolicy IfNeeded), then is a no-op again.
TEST(PodMutation, AReinvocationWiresAContainerAnotherWebhookAdded) {
  const auto channels = catalog();
  auto first = mutate_pod(fixture("plain_pod.json"), "team", channels, options());
  ASSERT_EQ(first.outcome, MutationOutcome::kMutated);
  json later = first.pod;
  later["spec"]["containers"].push_back(json{{"name", "added-later"}, {"image", "x"}});
  auto second = mutate_pod(later, "team", channels, options());
  ASSERT_EQ(second.outcome, MutationOutcome::kMutated) << second.message;
  EXPECT_EQ(second.reason, "rewired");
  EXPECT_NE(second.message.find("added-later"), std::string::npos) << second.message;
  const json& added = second.pod["spec"]["containers"].back();
  EXPECT_EQ(env_of(added, kEnvChannels), env_of(first.pod["spec"]["containers"][0], kEnvChannels));
  EXPECT_EQ(mount_at(added, "/dev/shm"), kShmVolumeName);
  EXPECT_EQ(mount_at(added, "/var/run/ipcmesh"), kControlVolumeName);
  // The containers wired before are left exactly as they were.
  EXPECT_EQ(second.pod["spec"]["containers"][0], first.pod["spec"]["containers"][0]);
  EXPECT_EQ(second.pod["spec"]["initContainers"], first.pod["spec"]["initContainers"]);
  auto third = mutate_pod(second.pod, "team", channels, options());
  EXPECT_EQ(third.outcome, MutationOutcome::kUnchanged);
  EXPECT_EQ(third.reason, "already-injected");
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
  EXPECT_FALSE(result.pod["spec"]["securityContext"].contains("sysctls"));
  EXPECT_EQ(record_of(result.pod).dev_shm_size_limit, "64Mi") << "no ring: headroom only";
  EXPECT_EQ(result.pod["spec"]["initContainers"][0]["resources"]["limits"]["memory"], "64Mi")
      << "no ring: the relay's limit as configured";
}

// Proves: a channel whose relay drains its queue into the ring (mqToShm) warns that a receiver of
// that queue competes with the relay, and points at the ring; without the bridge, no warning.
TEST(PodMutation, TheMqToShmBridgeIsAnnouncedAsAConsumerOfTheQueue) {
  auto channel_with_bridge = [](bool mq_to_shm) {
    return api::ipc_channel_from_json(nlohmann::json::parse(std::string(R"({
      "apiVersion":"ipcmesh.io/v1alpha1","kind":"IpcChannel",
      "metadata":{"name":"legacy","namespace":"team","uid":"u-legacy","generation":1},
      "spec":{"selector":{},"transport":"Both","messageQueue":{"name":"/posix_mq_example"},
              "relay":{"bridge":{"mqToShm":)") + (mq_to_shm ? "true" : "false") +
                                                            "}}}}"));
  };
  MutationOptions defaults;
  defaults.relay_image = "relay:test";
  auto bridged = channel_with_bridge(true);
  ASSERT_TRUE(bridged.has_value()) << bridged.error().message;
  auto result = mutate_pod(fixture("plain_pod.json"), "team", {*bridged}, defaults);
  ASSERT_EQ(result.outcome, MutationOutcome::kMutated) << result.message;
  ASSERT_EQ(result.warnings.size(), 1u);
  EXPECT_NE(result.warnings[0].find("bridges its queue /posix_mq_example into its ring"),
            std::string::npos)
      << result.warnings[0];
  EXPECT_NE(result.warnings[0].find("ipcmeshctl sub"), std::string::npos) << result.warnings[0];

  auto plain = channel_with_bridge(false);
  ASSERT_TRUE(plain.has_value()) << plain.error().message;
  EXPECT_TRUE(mutate_pod(fixture("plain_pod.json"), "team", {*plain}, defaults).warnings.empty());
}

// The seed article's first channel: a MessageQueue with only a legacy name, under the default
// policy (no mqueue sysctls allowed). Its defaults are the kernel's, so it is admitted as is.
TEST(PodMutation, BareLegacyQueueIsAdmittedUnderTheDefaultPolicy) {
  const auto bare = api::ipc_channel_from_json(json::parse(R"({
    "apiVersion":"ipcmesh.io/v1alpha1","kind":"IpcChannel",
    "metadata":{"name":"legacy","namespace":"team","uid":"u-legacy","generation":1},
    "spec":{"selector":{},"transport":"MessageQueue",
            "messageQueue":{"name":"/posix_mq_example"}}})"));
  ASSERT_TRUE(bare.has_value()) << bare.error().message;
  MutationOptions defaults;
  defaults.relay_image = "relay:test";
  auto result = mutate_pod(fixture("plain_pod.json"), "team", {*bare}, defaults);
  ASSERT_EQ(result.outcome, MutationOutcome::kMutated) << result.message;
  EXPECT_TRUE(result.warnings.empty());
  EXPECT_FALSE(result.pod["spec"]["securityContext"].contains("sysctls"));
  const auto set = parse_channel_set(env_of(result.pod["spec"]["containers"][0], kEnvChannels));
  ASSERT_TRUE(set.has_value());
  ASSERT_EQ(set->channels.size(), 1u);
  EXPECT_EQ(set->channels[0].message_queue->max_messages, 10u);
  EXPECT_EQ(set->channels[0].message_queue->max_message_size, 8192u);
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
  EXPECT_FALSE(warned.pod["spec"]["securityContext"].contains("sysctls"));
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

// ---- the relay's group in the Pod's supplementalGroups ----

struct GroupsRow {
  const char* name;
  const char* security_context;  // the Pod's spec.securityContext, "" for none
  const char* expected_groups;   // spec.securityContext.supplementalGroups after injection
};

class RelayGroup : public ::testing::TestWithParam<GroupsRow> {};

// The relay's group is appended once; existing groups and their order are kept.
TEST_P(RelayGroup, IsAddedToTheSupplementalGroupsOnce) {
  const auto& row = GetParam();
  auto pod = fixture("plain_pod.json");
  if (*row.security_context) pod["spec"]["securityContext"] = json::parse(row.security_context);
  const auto channels = catalog();
  auto result = mutate_pod(pod, "team", channels, options());
  ASSERT_EQ(result.outcome, MutationOutcome::kMutated) << result.message;
  const json& security = result.pod["spec"]["securityContext"];
  EXPECT_EQ(security["supplementalGroups"], json::parse(row.expected_groups)) << security.dump();
  const json given = *row.security_context ? json::parse(row.security_context) : json();
  if (given.is_object()) {
    for (const auto& [key, value] : given.items()) {
      if (key == "supplementalGroups") continue;
      EXPECT_EQ(security[key], value) << key << " is kept";
    }
  }
}

INSTANTIATE_TEST_SUITE_P(
    Pods, RelayGroup,
    ::testing::Values(GroupsRow{"no_security_context", "", "[65532]"},
                      GroupsRow{"null_security_context", "null", "[65532]"},
                      GroupsRow{"other_fields_kept", R"({"runAsUser":10001,"fsGroup":2000})",
                                "[65532]"},
                      GroupsRow{"null_groups", R"({"supplementalGroups":null})", "[65532]"},
                      GroupsRow{"empty_groups", R"({"supplementalGroups":[]})", "[65532]"},
                      GroupsRow{"appended_in_order", R"({"supplementalGroups":[3000,1000]})",
                                "[3000,1000,65532]"},
                      GroupsRow{"already_there", R"({"supplementalGroups":[1000,65532,3000]})",
                                "[1000,65532,3000]"}),
    [](const auto& info) { return std::string(info.param.name); });

// A Node-scoped channel's objects have the same mode, and its ring is pre-touched and charged the
// same way: its Pods get the group, and the relay's limit covers the ring too.
TEST(PodMutation, ScopeNodePodsJoinTheRelaysGroupAndPayForTheRing) {
  auto pod = fixture("plain_pod.json");
  pod["metadata"]["labels"] = {{"bus", "node"}};
  auto o = options();
  o.policy.host_ipc_namespaces = {"*"};
  const auto channels = catalog();
  auto result = mutate_pod(pod, "team", channels, o);
  ASSERT_EQ(result.outcome, MutationOutcome::kMutated) << result.message;
  EXPECT_EQ(result.pod["spec"]["securityContext"]["supplementalGroups"], json::array({65532}));
  // 64Mi default + 8Mi ring + 1Mi.
  EXPECT_EQ(result.pod["spec"]["initContainers"][0]["resources"]["limits"]["memory"], "73Mi");
}

// supplementalGroups that is not a list is a malformed Pod: left for the API server to reject,
// not overwritten.
TEST(PodMutation, SupplementalGroupsThatIsNotAListIsLeftAlone) {
  auto pod = fixture("plain_pod.json");
  pod["spec"]["securityContext"] = {{"supplementalGroups", 65532}};
  const auto channels = catalog();
  auto result = mutate_pod(pod, "team", channels, options());
  EXPECT_EQ(result.outcome, MutationOutcome::kUnchanged);
  EXPECT_EQ(result.reason, "not-a-pod");
  EXPECT_EQ(result.pod, pod);
}

// ---- the relay's memory limit: configured + the rings it is charged for ----

struct MemoryRow {
  const char* name;
  const char* channel_resources;  // spec.relay.resources of "frames", "" for the operator default
  const char* ring_size;          // spec.sharedMemory.size of "frames"
  const char* expected;           // the relay's resources
  bool warns;
};

class RelayMemory : public ::testing::TestWithParam<MemoryRow> {};

// The relay pre-touches its rings, so their pages count against its memory limit: the webhook adds
// them (power of two + 1Mi each, whole Mi) to the configured limit, and to a request equal to it.
TEST_P(RelayMemory, LimitCoversTheConfiguredLimitPlusTheRings) {
  const auto& row = GetParam();
  auto channels = catalog();
  for (auto& channel : channels) {
    if (channel.metadata.uid != "u-frames") continue;
    auto size = parse_quantity(row.ring_size);
    ASSERT_TRUE(size.has_value());
    channel.spec.shared_memory->size_bytes = *size;
    if (*row.channel_resources) {
      auto item = fixture("channels.json")[0];
      item["spec"]["relay"] = {{"resources", json::parse(row.channel_resources)}};
      auto parsed = api::ipc_channel_from_json(item);
      ASSERT_TRUE(parsed.has_value()) << parsed.error().message;
      channel.relay_resources = parsed->relay_resources;
    }
  }
  auto result = mutate_pod(fixture("plain_pod.json"), "team", channels, options());
  ASSERT_EQ(result.outcome, MutationOutcome::kMutated) << result.message;
  EXPECT_EQ(result.pod["spec"]["initContainers"][0]["resources"], json::parse(row.expected));
  const bool warned = std::any_of(result.warnings.begin(), result.warnings.end(), [](auto& w) {
    return w.find("memory limit") != std::string::npos;
  });
  EXPECT_EQ(warned, row.warns);
}

INSTANTIATE_TEST_SUITE_P(
    Channels, RelayMemory,
    ::testing::Values(
        MemoryRow{"default_64Mi_ring", "", "64Mi",
                  R"({"requests":{"cpu":"10m","memory":"16Mi"},"limits":{"memory":"129Mi"}})",
                  false},
        MemoryRow{"ring_rounded_to_power_of_two", "", "40Mi",
                  R"({"requests":{"cpu":"10m","memory":"16Mi"},"limits":{"memory":"129Mi"}})",
                  false},
        MemoryRow{"small_ring_whole_mi", "", "4Ki",
                  R"({"requests":{"cpu":"10m","memory":"16Mi"},"limits":{"memory":"66Mi"}})",
                  false},
        MemoryRow{"channel_limit", R"({"limits":{"memory":"1Gi","cpu":"1"}})", "64Mi",
                  R"({"limits":{"memory":"1089Mi","cpu":"1"}})", false},
        MemoryRow{"channel_limit_in_bytes", R"({"limits":{"memory":67108864}})", "16Mi",
                  R"({"limits":{"memory":"81Mi"}})", false},
        MemoryRow{"request_below_limit_kept",
                  R"({"requests":{"memory":"16Mi"},"limits":{"memory":"64Mi"}})", "64Mi",
                  R"({"requests":{"memory":"16Mi"},"limits":{"memory":"129Mi"}})", false},
        MemoryRow{
            "guaranteed_stays_guaranteed",
            R"({"requests":{"cpu":"100m","memory":"64Mi"},"limits":{"cpu":"100m","memory":"64Mi"}})",
            "64Mi",
            R"({"requests":{"cpu":"100m","memory":"129Mi"},"limits":{"cpu":"100m","memory":"129Mi"}})",
            false},
        MemoryRow{"no_memory_limit_stays_none", R"({"requests":{"memory":"16Mi"}})", "64Mi",
                  R"({"requests":{"memory":"16Mi"}})", false},
        MemoryRow{"cpu_limit_only", R"({"limits":{"cpu":"500m"}})", "64Mi",
                  R"({"limits":{"cpu":"500m"}})", false},
        MemoryRow{"unusable_limit_kept_with_a_warning", R"({"limits":{"memory":"100m"}})", "64Mi",
                  R"({"limits":{"memory":"100m"}})", true}),
    [](const auto& info) { return std::string(info.param.name); });

// Two channels: both rings are added, to the resources of the first channel that sets them.
TEST(PodMutation, RelayMemoryLimitCoversEveryRing) {
  auto channels = catalog();
  auto second = fixture("channels.json")[0];
  second["metadata"]["name"] = "video";
  second["metadata"]["uid"] = "u-video";
  second["spec"]["sharedMemory"]["size"] = "16Mi";
  second["spec"]["relay"] = {
      {"resources", {{"requests", {{"memory", "16Mi"}}}, {"limits", {{"memory", "64Mi"}}}}}};
  auto parsed = api::ipc_channel_from_json(second);
  ASSERT_TRUE(parsed.has_value()) << parsed.error().message;
  channels.push_back(std::move(*parsed));
  auto result = mutate_pod(fixture("plain_pod.json"), "team", channels, options());
  ASSERT_EQ(result.outcome, MutationOutcome::kMutated) << result.message;
  ASSERT_EQ(result.channels, (std::vector<std::string>{"frames", "video"}));
  // 64Mi (video's limit) + 65Mi (frames) + 17Mi (video).
  EXPECT_EQ(result.pod["spec"]["initContainers"][0]["resources"],
            json::parse(R"({"requests":{"memory":"16Mi"},"limits":{"memory":"146Mi"}})"));
  EXPECT_EQ(relay_ring_memory_for({&channels[0], &channels.back()}), 82ull << 20);
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
