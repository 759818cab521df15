// The mutation's rules one at a time (outcomes, the relay's group, its memory limit, malformed
// Pods). What an injected Pod looks like as a whole is pinned by the golden files of
// pod_mutation_golden_test.cpp (testdata/inject/).
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
