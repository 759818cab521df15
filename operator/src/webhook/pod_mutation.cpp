// The mutation as a pipeline, as Istio's injector is (pkg/kube/inject/webhook.go: injectPod →
// postProcessPod): decide (skip or deny) → plan (injection_plan.cpp) → apply volumes, app
// containers, sysctls, groups → insert the relay built from the plan (relay_container.cpp) →
// write the status record. Only decide and plan look at the channels and the policy; the steps
// after them do what the plan says, so each rule is in one place.
#include "webhook/pod_mutation.hpp"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <map>
#include <optional>
#include <set>
#include <tl/expected.hpp>

#include "api/injection_status.hpp"
#include "ipcmesh/channel_spec.hpp"
#include "webhook/injection_plan.hpp"
#include "webhook/pod_json.hpp"
#include "webhook/relay_container.hpp"

namespace ipcmesh::webhook {
namespace {

using nlohmann::json;
using namespace pod_json;
using Channels = std::vector<const api::IpcChannel*>;

constexpr std::string_view kPodLabelJobName = "batch.kubernetes.io/job-name";
constexpr std::string_view kLegacyPodLabelJobName = "job-name";
constexpr std::uint64_t kRingOverheadBytes = 1ull << 20;  // header + subscriber table, generous
constexpr std::uint64_t kMi = 1ull << 20;

bool contains(const std::vector<std::string>& values, std::string_view value) {
  return std::find(values.begin(), values.end(), value) != values.end();
}

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) ==
                  std::tolower(static_cast<unsigned char>(y));
         });
}

std::uint64_t next_power_of_two(std::uint64_t value) {
  if (value <= 1) return 1;
  if (value > (1ull << 63)) return value;  // no larger power; the CRD caps sizes far below
  std::uint64_t power = 1;
  while (power < value) power <<= 1;
  return power;
}

std::optional<std::uint64_t> parse_uint(std::string_view text) {
  std::uint64_t value = 0;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (error != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return value;
}

// Each ring as the relay maps it: its size rounded up to a power of two, plus its header and
// subscriber table.
std::uint64_t ring_bytes_for(const Channels& channels) {
  std::uint64_t total = 0;
  for (const auto* channel : channels) {
    if (const auto& shm = channel->spec.shared_memory) {
      total += next_power_of_two(shm->size_bytes) + kRingOverheadBytes;
    }
  }
  return total;
}

// Whole mebibytes read better in `kubectl get pod -o yaml` than odd byte counts.
std::uint64_t round_up_to_mi(std::uint64_t bytes) {
  return (bytes + kMi - 1) / kMi * kMi;
}

bool is_job_pod(const json& pod) {
  const auto pod_labels = labels(pod);
  if (pod_labels.count(kPodLabelJobName) || pod_labels.count(kLegacyPodLabelJobName)) return true;
  const json* meta = object_member(pod, "metadata");
  const json* owners = meta ? array_member(*meta, "ownerReferences") : nullptr;
  if (!owners) return false;
  return std::any_of(owners->begin(), owners->end(),
                     [](const json& owner) { return string_member(owner, "kind") == "Job"; });
}

bool has_relay(const json& spec) {
  bool found = false;
  for_each_container(spec, [&](const json& container) {
    found = found || string_member(container, "name") == kRelayContainerName;
  });
  return found;
}

// ---- app containers (the apply step, and a reinvocation's rewiring) ----

// What an app container gets: the channel document, the control directory, /dev/shm (unless it
// mounts its own there) and the control volume. A container that mounts another volume at the
// control directory keeps it, with a warning.
struct AppWiring {
  std::string document;
  std::string control_dir;
  std::string shm_volume;  // "" when /dev/shm is the host's
};

void wire_app_container(json& container, const AppWiring& wiring,
                        std::vector<std::string>& warnings) {
  set_env(container, kEnvChannels, wiring.document);
  set_env(container, kEnvControlDir, wiring.control_dir);
  auto& mounts = array_at(container, "volumeMounts");
  if (!wiring.shm_volume.empty() && mounted_volume(container, kDevShmPath).empty()) {
    mounts.push_back(json{{"name", wiring.shm_volume}, {"mountPath", kDevShmPath}});
  }
  const std::string control = mounted_volume(container, wiring.control_dir);
  if (control.empty()) {
    mounts.push_back(json{{"name", kControlVolumeName}, {"mountPath", wiring.control_dir}});
  } else if (control != kControlVolumeName) {
    warnings.push_back("ipcmesh: container " + string_member(container, "name") + " mounts " +
                       control + " at " + wiring.control_dir +
                       "; it will not see the relay's ready file");
  }
}

// A reinvocation (reinvocationPolicy IfNeeded) after another webhook changed an injected Pod: the
// relay is there, but a container that webhook added lacks the channel's env and mounts. Wires
// each such container the way the relay is wired; nullopt when nothing needs it (the common case:
// the Pod is then left as it is).
std::optional<MutationResult> rewire_late_containers(const json& pod) {
  const json* spec = object_member(pod, "spec");
  if (!spec) return std::nullopt;
  const json* relay = nullptr;
  for_each_container(*spec, [&](const json& container) {
    if (string_member(container, "name") == kRelayContainerName) relay = &container;
  });
  if (!relay) return std::nullopt;
  AppWiring wiring{env_value(*relay, kEnvChannels), env_value(*relay, kEnvControlDir),
                   mounted_volume(*relay, kDevShmPath)};
  if (wiring.document.empty() || wiring.control_dir.empty()) return std::nullopt;

  MutationResult result;
  result.pod = pod;
  std::vector<std::string> wired;
  for_each_container(result.pod["spec"], [&](json& container) {
    const std::string name = string_member(container, "name");
    if (name == kRelayContainerName || !env_value(container, kEnvChannels).empty()) return;
    wire_app_container(container, wiring, result.warnings);
    wired.push_back(name);
  });
  if (wired.empty()) return std::nullopt;
  result.outcome = MutationOutcome::kMutated;
  result.reason = "rewired";
  result.message = "wired the containers added after injection:";
  for (const auto& name : wired) result.message += " " + name;
  return result;
}

// ---- 1. decide ----

// The shape the mutation relies on. The API server validates Pods after mutating webhooks, so a
// Pod that fails this is left alone for the API server to reject with its own, precise message.
std::string malformed_pod_reason(const json& pod) {
  if (!pod.is_object()) return "the object is not a JSON object";
  if (pod.contains("metadata") && !pod["metadata"].is_object()) return "metadata is not an object";
  const json* spec = object_member(pod, "spec");
  if (!spec) return "spec is missing or not an object";
  const json* containers = array_member(*spec, "containers");
  if (!containers) return "spec.containers is missing or not a list";
  for (const char* list : {"containers", "initContainers"}) {
    if (spec->contains(list) && !(*spec)[list].is_array() && !(*spec)[list].is_null()) {
      return std::string("spec.") + list + " is not a list";
    }
    const json* items = array_member(*spec, list);
    if (!items) continue;
    for (const auto& container : *items) {
      if (!container.is_object())
        return std::string("an entry of spec.") + list + " is not an object";
      for (const char* field : {"env", "volumeMounts", "ports"}) {
        if (container.contains(field) && !container[field].is_array() &&
            !container[field].is_null()) {
          return std::string("a container's ") + field + " is not a list";
        }
      }
    }
  }
  for (const char* field : {"volumes"}) {
    if (spec->contains(field) && !(*spec)[field].is_array() && !(*spec)[field].is_null()) {
      return std::string("spec.") + field + " is not a list";
    }
  }
  if (spec->contains("securityContext") && !(*spec)["securityContext"].is_object() &&
      !(*spec)["securityContext"].is_null()) {
    return "spec.securityContext is not an object";
  }
  if (const json* security = object_member(*spec, "securityContext")) {
    if (security->contains("supplementalGroups") && !(*security)["supplementalGroups"].is_array() &&
        !(*security)["supplementalGroups"].is_null()) {
      return "spec.securityContext.supplementalGroups is not a list";
    }
  }
  return {};
}

// The AdmissionRequest's namespace; a Pod created with generateName may not carry its own yet.
std::string pod_namespace(const json& pod, std::string_view request_namespace) {
  std::string namespace_name(request_namespace);
  if (namespace_name.empty()) {
    const json* meta = object_member(pod, "metadata");
    namespace_name = meta ? string_member(*meta, "namespace") : std::string();
  }
  return namespace_name.empty() ? "default" : namespace_name;
}

// The answer for a Pod that is left as it is whatever the channels: excluded, opted out, injected
// already (perhaps with containers to rewire), or malformed. nullopt: go on.
std::optional<MutationResult> skip(const json& pod, const std::string& namespace_name,
                                   const InjectionPolicy& policy) {
  if (contains(policy.excluded_namespaces, namespace_name) ||
      namespace_name == policy.operator_namespace) {
    return unchanged(pod, "excluded-namespace",
                     "namespace " + namespace_name + " is never injected");
  }
  if (iequals(annotation(pod, kAnnotationInject), "false")) {
    return unchanged(pod, "opted-out",
                     "the Pod sets " + std::string(kAnnotationInject) + ": \"false\"");
  }
  // Idempotency: our record, or our container (if someone copied a Pod and dropped annotations),
  // means the Pod was injected already (reinvocationPolicy IfNeeded, re-applied manifests).
  if (!annotation(pod, kAnnotationStatus).empty()) {
    if (auto rewired = rewire_late_containers(pod)) return rewired;
    return unchanged(pod, "already-injected", "the Pod carries " + std::string(kAnnotationStatus));
  }
  if (const auto why = malformed_pod_reason(pod); !why.empty()) {
    auto result = unchanged(pod, "not-a-pod", why);
    result.warnings.push_back("ipcmesh: not injected, the Pod is malformed: " + why);
    return result;
  }
  if (has_relay(pod["spec"])) {
    return unchanged(pod, "already-injected",
                     "the Pod already has a container named " + std::string(kRelayContainerName));
  }
  return std::nullopt;
}

// The channels to inject, or the answer when none applies or the Pod names one that is missing.
tl::expected<Channels, MutationResult> channels_to_inject(
    const json& pod, const std::string& namespace_name,
    const std::vector<api::IpcChannel>& catalog) {
  auto selection = select_channels(pod, namespace_name, catalog);
  if (!selection.missing.empty()) {
    std::string names;
    for (const auto& name : selection.missing) names += (names.empty() ? "" : ", ") + name;
    return tl::unexpected(denied(
        pod, "unknown-channel",
        "Pod " + namespace_name + "/" + display_name(pod) + " asks for IpcChannel " + names +
            " in its " + std::string(kAnnotationChannels) + " annotation, but namespace " +
            namespace_name + " has no such channel (kubectl get ipch -n " + namespace_name +
            "); create it or remove the name. Controllers retry, so a channel created a moment "
            "later still works."));
  }
  if (selection.channels.empty()) {
    return tl::unexpected(unchanged(pod, "no-channel", "no IpcChannel selects the Pod"));
  }
  return std::move(selection.channels);
}

// ---- 3. apply ----

void add_volumes(json& spec, const InjectionPlan& plan) {
  if (plan.node_scope) spec["hostIPC"] = true;
  auto& volumes = array_at(spec, "volumes");
  if (plan.dev_shm.source == "injected") {
    volumes.push_back(
        json{{"name", plan.dev_shm.volume},
             {"emptyDir", {{"medium", "Memory"}, {"sizeLimit", plan.dev_shm.size_limit}}}});
  }
  volumes.push_back(json{{"name", kControlVolumeName},
                         {"emptyDir", {{"medium", "Memory"}, {"sizeLimit", "1Mi"}}}});
  volumes.push_back(json{{"name", kNoTokenVolumeName},
                         {"emptyDir", {{"medium", "Memory"}, {"sizeLimit", "1Ki"}}}});
}

void wire_app_containers(json& spec, const InjectionPlan& plan,
                         std::vector<std::string>& warnings) {
  const AppWiring wiring{plan.document, plan.control_dir, plan.dev_shm.volume};
  for_each_container(spec,
                     [&](json& container) { wire_app_container(container, wiring, warnings); });
}

// Adds the planned sysctls, raising a lower value the Pod set and keeping a higher one. Returns
// the sysctls the webhook set, for the status record.
std::map<std::string, std::string> add_sysctls(json& spec, const InjectionPlan& plan,
                                               std::vector<std::string>& warnings) {
  std::map<std::string, std::string> set;
  if (plan.sysctls.empty()) return set;
  auto& list = array_at(object_at(spec, "securityContext"), "sysctls");
  for (const auto& [name, value] : plan.sysctls) {
    // clang 14 cannot capture a structured binding; capture a plain reference instead.
    auto it = std::find_if(list.begin(), list.end(), [&sysctl = name](const json& entry) {
      return entry.is_object() && string_member(entry, "name") == sysctl;
    });
    if (it == list.end()) {
      list.push_back(json{{"name", name}, {"value", value}});
      set[name] = value;
      continue;
    }
    const auto existing = parse_uint(string_member(*it, "value"));
    if (existing && *existing >= *parse_uint(value)) continue;  // the Pod asks for more already
    warnings.push_back("ipcmesh: raised the Pod's " + name + " from " +
                       string_member(*it, "value") + " to " + value + " for " + plan.sysctls_for);
    *it = json{{"name", name}, {"value", value}};
    set[name] = value;
  }
  return set;
}

// The relay creates the channels' shm and mq objects with mode 0660 as relay_uid:relay_gid, so a
// container running as another user gets EACCES from shm_open/mq_open unless it is in the relay's
// group. supplementalGroups adds it to every container's processes (fsGroup would too, but also
// chowns volumes and is the Pod's own choice). Existing entries are kept, in order.
void add_relay_group(json& spec, std::int64_t relay_gid) {
  auto& groups = array_at(object_at(spec, "securityContext"), "supplementalGroups");
  const bool present = std::any_of(groups.begin(), groups.end(), [&](const json& group) {
    return group.is_number_integer() && group.get<std::int64_t>() == relay_gid;
  });
  if (!present) groups.push_back(relay_gid);
}

// ---- 4. the relay, 5. the status record ----

// First among the init containers for a native sidecar (docs/webhook.md), else first among the
// containers.
void insert_relay(json& spec, json relay, bool native_sidecar) {
  auto& list = native_sidecar ? array_at(spec, "initContainers") : spec["containers"];
  list.insert(list.begin(), std::move(relay));
}

api::InjectionStatus status_record(const InjectionPlan& plan,
                                   std::map<std::string, std::string> sysctls,
                                   const MutationOptions& options) {
  api::InjectionStatus record;
  record.version = options.injector_version;
  record.contract = kContractVersion;
  for (const auto* channel : plan.channels) {
    record.channels.push_back(api::InjectedChannel{channel->metadata.name, channel->metadata.uid,
                                                   channel->metadata.generation});
  }
  record.sidecar = plan.native_sidecar ? "native" : "container";
  record.containers.push_back(std::string(kRelayContainerName));
  if (plan.dev_shm.source == "injected") record.volumes.push_back(plan.dev_shm.volume);
  record.volumes.push_back(std::string(kControlVolumeName));
  record.volumes.push_back(std::string(kNoTokenVolumeName));
  record.dev_shm_source = plan.dev_shm.source;
  record.dev_shm_volume = plan.dev_shm.volume;
  record.dev_shm_size_limit = plan.dev_shm.size_limit;
  record.sysctls = std::move(sysctls);
  record.host_ipc = plan.host_ipc_added;
  return record;
}

void write_status(json& pod, const api::InjectionStatus& record) {
  auto& annotations = object_at(object_at(pod, "metadata"), "annotations");
  annotations[std::string(kAnnotationStatus)] = api::serialize_injection_status(record);
}

// Steps 3 to 5 on a copy of the Pod.
MutationResult inject(const json& pod, const InjectionPlan& plan, const MutationOptions& options) {
  MutationResult result;
  result.outcome = MutationOutcome::kMutated;
  result.reason = "injected";
  for (const auto* channel : plan.channels) result.channels.push_back(channel->metadata.name);
  result.warnings = plan.warnings;
  result.pod = pod;
  json& spec = result.pod["spec"];
  add_volumes(spec, plan);
  wire_app_containers(spec, plan, result.warnings);
  auto sysctls = add_sysctls(spec, plan, result.warnings);
  add_relay_group(spec, options.relay_gid);
  insert_relay(spec, relay_container(plan, options, result.warnings), plan.native_sidecar);
  if (!plan.native_sidecar && is_job_pod(pod)) {
    result.warnings.push_back(
        "ipcmesh: Kubernetes 1." + std::to_string(options.server_minor) +
        " has no native sidecars, so the relay is a plain container and this Job's Pod keeps "
        "running after its work is done unless the app stops the relay (see docs/webhook.md)");
  }
  write_status(result.pod, status_record(plan, std::move(sysctls), options));
  return result;
}

MutationResult mutate(const json& pod, std::string_view request_namespace,
                      const std::vector<api::IpcChannel>& catalog, const MutationOptions& options) {
  if (!pod.is_object()) {
    auto result = unchanged(pod, "not-a-pod", "the object is not a JSON object");
    result.warnings.push_back("ipcmesh: not injected: the object is not a JSON object");
    return result;
  }
  const std::string namespace_name = pod_namespace(pod, request_namespace);
  if (auto answer = skip(pod, namespace_name, options.policy)) return std::move(*answer);
  auto channels = channels_to_inject(pod, namespace_name, catalog);
  if (!channels) return std::move(channels.error());
  auto plan = plan_injection(pod, namespace_name, std::move(*channels), options);
  if (!plan) return std::move(plan.error());
  return inject(pod, *plan, options);
}

}  // namespace

std::string_view to_string(MutationOutcome outcome) noexcept {
  switch (outcome) {
    case MutationOutcome::kMutated:
      return "mutated";
    case MutationOutcome::kUnchanged:
      return "unchanged";
    case MutationOutcome::kDenied:
      return "denied";
  }
  return "unknown";
}

ChannelSelection select_channels(const json& pod, std::string_view namespace_name,
                                 const std::vector<api::IpcChannel>& catalog) {
  ChannelSelection selection;
  const auto labels = pod_json::labels(pod);
  const auto requested = api::split_channel_names(annotation(pod, kAnnotationChannels));
  std::set<std::string> found;
  for (const auto& channel : catalog) {
    if (channel.metadata.namespace_name != namespace_name) continue;
    const bool by_name = contains(requested, channel.metadata.name);
    const bool by_label = channel.selector && channel.selector->matches(labels);
    if (!by_name && !by_label) continue;
    if (!found.insert(channel.metadata.name).second) continue;  // one entry per name
    selection.channels.push_back(&channel);
  }
  std::sort(selection.channels.begin(), selection.channels.end(),
            [](const auto* a, const auto* b) { return a->metadata.name < b->metadata.name; });
  for (const auto& name : requested) {
    if (!found.count(name) && !contains(selection.missing, name)) {
      selection.missing.push_back(name);
    }
  }
  return selection;
}

std::uint64_t dev_shm_size_for(const std::vector<const api::IpcChannel*>& channels,
                               std::uint64_t headroom_bytes) {
  return round_up_to_mi(headroom_bytes + ring_bytes_for(channels));
}

std::uint64_t relay_ring_memory_for(const std::vector<const api::IpcChannel*>& channels) {
  return round_up_to_mi(ring_bytes_for(channels));
}

MutationResult mutate_pod(const json& pod, std::string_view namespace_name,
                          const std::vector<api::IpcChannel>& catalog,
                          const MutationOptions& options) {
  try {
    return mutate(pod, namespace_name, catalog, options);
  } catch (const std::exception& error) {
    // The shape checks above should make this unreachable; if a Pod still surprises us, admit it
    // unchanged (the API server validates it next) rather than block or crash.
    auto result = unchanged(pod, "not-a-pod", error.what());
    result.warnings.push_back(std::string("ipcmesh: not injected: ") + error.what());
    return result;
  }
}

}  // namespace ipcmesh::webhook
