#include "webhook/pod_mutation.hpp"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <limits>
#include <set>

#include "api/injection_status.hpp"
#include "ipcmesh/channel_spec.hpp"

namespace ipcmesh::webhook {
namespace {

using nlohmann::json;

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

// A JSON member that must be an object: nullptr when absent, null or another type.
const json* object_member(const json& parent, std::string_view key) {
  if (!parent.is_object()) return nullptr;
  const auto it = parent.find(key);
  return it != parent.end() && it->is_object() ? &*it : nullptr;
}

const json* array_member(const json& parent, std::string_view key) {
  if (!parent.is_object()) return nullptr;
  const auto it = parent.find(key);
  return it != parent.end() && it->is_array() ? &*it : nullptr;
}

std::string string_member(const json& parent, std::string_view key) {
  if (!parent.is_object()) return {};
  const auto it = parent.find(key);
  return it != parent.end() && it->is_string() ? it->get<std::string>() : std::string();
}

bool bool_member(const json& parent, std::string_view key) {
  if (!parent.is_object()) return false;
  const auto it = parent.find(key);
  return it != parent.end() && it->is_boolean() && it->get<bool>();
}

std::string annotation(const json& pod, std::string_view key) {
  const json* meta = object_member(pod, "metadata");
  const json* annotations = meta ? object_member(*meta, "annotations") : nullptr;
  return annotations ? string_member(*annotations, key) : std::string();
}

api::Labels pod_labels(const json& pod) {
  api::Labels labels;
  const json* meta = object_member(pod, "metadata");
  const json* map = meta ? object_member(*meta, "labels") : nullptr;
  if (!map) return labels;
  for (const auto& [key, value] : map->items()) {
    if (value.is_string()) labels.emplace(key, value.get<std::string>());
  }
  return labels;
}

std::string pod_display_name(const json& pod) {
  const json* meta = object_member(pod, "metadata");
  if (!meta) return "(unnamed)";
  if (auto name = string_member(*meta, "name"); !name.empty()) return name;
  if (auto prefix = string_member(*meta, "generateName"); !prefix.empty()) return prefix + "*";
  return "(unnamed)";
}

std::string channel_ref(const api::IpcChannel& channel) {
  return "IpcChannel " + api::object_key(channel.metadata);
}

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

// Ensures parent[key] is an array (creating it) and returns it.
json& array_at(json& parent, const char* key) {
  auto& value = parent[key];
  if (!value.is_array()) value = json::array();
  return value;
}

json& object_at(json& parent, const char* key) {
  auto& value = parent[key];
  if (!value.is_object()) value = json::object();
  return value;
}

std::string normalise_path(std::string path) {
  while (path.size() > 1 && path.back() == '/') path.pop_back();
  return path;
}

// The volume a container mounts at `path`, "" when none.
std::string mounted_volume(const json& container, std::string_view path) {
  const json* mounts = array_member(container, "volumeMounts");
  if (!mounts) return {};
  for (const auto& mount : *mounts) {
    if (normalise_path(string_member(mount, "mountPath")) == path) {
      return string_member(mount, "name");
    }
  }
  return {};
}

// Visits app containers and init containers (the relay is added afterwards).
template <typename F>
void for_each_container(json& spec, F&& visit) {
  for (const char* list : {"initContainers", "containers"}) {
    if (!spec.contains(list) || !spec[list].is_array()) continue;
    for (auto& container : spec[list]) visit(container);
  }
}

template <typename F>
void for_each_container(const json& spec, F&& visit) {
  for (const char* list : {"initContainers", "containers"}) {
    const json* items = array_member(spec, list);
    if (!items) continue;
    for (const auto& container : *items) visit(container);
  }
}

void set_env(json& container, std::string_view name, const std::string& value) {
  auto& env = array_at(container, "env");
  for (auto& entry : env) {
    if (entry.is_object() && string_member(entry, "name") == name) {
      entry = json{{"name", name}, {"value", value}};
      return;
    }
  }
  env.push_back(json{{"name", name}, {"value", value}});
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
std::uint64_t ring_bytes_for(const std::vector<const api::IpcChannel*>& channels) {
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
  const auto labels = pod_labels(pod);
  if (labels.count(kPodLabelJobName) || labels.count(kLegacyPodLabelJobName)) return true;
  const json* meta = object_member(pod, "metadata");
  const json* owners = meta ? array_member(*meta, "ownerReferences") : nullptr;
  if (!owners) return false;
  return std::any_of(owners->begin(), owners->end(),
                     [](const json& owner) { return string_member(owner, "kind") == "Job"; });
}

const api::ResourceRequirements& configured_relay_resources(
    const std::vector<const api::IpcChannel*>& channels, const MutationOptions& options) {
  // The first channel (by name) that sets resources wins; the choice is recorded nowhere else, so
  // keep it deterministic.
  for (const auto* channel : channels) {
    if (!channel->relay_resources.empty()) return channel->relay_resources;
  }
  return options.default_relay_resources;
}

// The relay pre-touches every ring it creates (posix_fallocate on the tmpfs, so that a full
// /dev/shm fails the relay's start, not a writer later with SIGBUS). The kernel charges tmpfs
// pages to the memory cgroup of the task that first touches them, and they stay charged there
// while the object exists (Documentation/admin-guide/cgroup-v2.rst, "Memory Ownership"): the
// relay container pays for every ring, scope Pod or Node (the node's /dev/shm is tmpfs too). With
// the default 64Mi limit a 64Mi ring got the relay OOM-killed at start. So the configured memory
// limit is taken as what the relay process needs, and the rings are added to it. A relay without
// a memory limit keeps none. Requests stay as configured, except that a memory request equal to
// the limit is raised with it: a Guaranteed Pod (requests == limits everywhere) stays Guaranteed.
json relay_resources_json(const std::vector<const api::IpcChannel*>& channels,
                          const MutationOptions& options, std::vector<std::string>& warnings) {
  json resources = api::to_json(configured_relay_resources(channels, options));
  const std::uint64_t rings = relay_ring_memory_for(channels);
  const auto limits = resources.find("limits");
  if (rings == 0 || limits == resources.end() || !limits->contains("memory")) return resources;
  json& limit = (*limits)["memory"];
  const std::string configured = limit.get<std::string>();
  const auto bytes = parse_quantity(configured);
  if (!bytes || *bytes > std::numeric_limits<std::uint64_t>::max() - rings) {
    warnings.push_back("ipcmesh: the relay's memory limit " + configured +
                       " is not a whole number of bytes, so the " + format_quantity(rings) +
                       " of rings the relay creates (and is charged for) are not added to it; "
                       "the relay may be OOM-killed at start. Write it as bytes or with a "
                       "suffix, e.g. 64Mi.");
    return resources;
  }
  const std::string raised = format_quantity(*bytes + rings);
  limit = raised;
  if (const auto requests = resources.find("requests");
      requests != resources.end() && requests->contains("memory")) {
    const auto requested = parse_quantity((*requests)["memory"].get<std::string>());
    if (requested && *requested == *bytes) (*requests)["memory"] = raised;
  }
  return resources;
}

MutationResult unchanged(const json& pod, std::string reason, std::string message = {}) {
  MutationResult result;
  result.outcome = MutationOutcome::kUnchanged;
  result.pod = pod;
  result.reason = std::move(reason);
  result.message = std::move(message);
  return result;
}

MutationResult denied(const json& pod, std::string reason, std::string message) {
  MutationResult result;
  result.outcome = MutationOutcome::kDenied;
  result.pod = pod;
  result.reason = std::move(reason);
  result.message = "ipcmesh: " + std::move(message);
  return result;
}

bool host_ipc_allowed(const InjectionPolicy& policy, std::string_view namespace_name) {
  return contains(policy.host_ipc_namespaces, "*") ||
         contains(policy.host_ipc_namespaces, namespace_name);
}

// The env value of `name` in a container, "" when absent or not a literal value.
std::string env_value(const json& container, std::string_view name) {
  const json* env = array_member(container, "env");
  if (!env) return {};
  for (const auto& entry : *env) {
    if (entry.is_object() && string_member(entry, "name") == name) {
      return string_member(entry, "value");
    }
  }
  return {};
}

// What an app container gets: the channel document, the control directory, /dev/shm (unless it
// mounts its own there) and the control volume. A container that mounts another volume at the
// control directory keeps it, with a warning.
struct AppWiring {
  std::string document;
  std::string control_dir;
  std::string shm_volume;  // "" when the Pod keeps its own /dev/shm
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

MutationResult mutate(const json& pod, std::string_view request_namespace,
                      const std::vector<api::IpcChannel>& catalog, const MutationOptions& options) {
  if (!pod.is_object()) {
    auto result = unchanged(pod, "not-a-pod", "the object is not a JSON object");
    result.warnings.push_back("ipcmesh: not injected: the object is not a JSON object");
    return result;
  }
  std::string namespace_name(request_namespace);
  if (namespace_name.empty()) {
    const json* meta = object_member(pod, "metadata");
    namespace_name = meta ? string_member(*meta, "namespace") : std::string();
  }
  if (namespace_name.empty()) namespace_name = "default";

  const auto& policy = options.policy;
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
    if (auto rewired = rewire_late_containers(pod)) return std::move(*rewired);
    return unchanged(pod, "already-injected", "the Pod carries " + std::string(kAnnotationStatus));
  }
  if (const auto why = malformed_pod_reason(pod); !why.empty()) {
    auto result = unchanged(pod, "not-a-pod", why);
    result.warnings.push_back("ipcmesh: not injected, the Pod is malformed: " + why);
    return result;
  }
  const json& spec = pod["spec"];
  bool has_relay = false;
  for_each_container(spec, [&](const json& container) {
    has_relay = has_relay || string_member(container, "name") == kRelayContainerName;
  });
  if (has_relay) {
    return unchanged(pod, "already-injected",
                     "the Pod already has a container named " + std::string(kRelayContainerName));
  }

  auto selection = select_channels(pod, namespace_name, catalog);
  const std::string pod_name = pod_display_name(pod);
  if (!selection.missing.empty()) {
    std::string names;
    for (const auto& name : selection.missing) names += (names.empty() ? "" : ", ") + name;
    return denied(pod, "unknown-channel",
                  "Pod " + namespace_name + "/" + pod_name + " asks for IpcChannel " + names +
                      " in its " + std::string(kAnnotationChannels) +
                      " annotation, but namespace " + namespace_name +
                      " has no such channel (kubectl get ipch -n " + namespace_name +
                      "); create it or remove the name. Controllers retry, so a channel created "
                      "a moment later still works.");
  }
  const auto& channels = selection.channels;
  if (channels.empty()) return unchanged(pod, "no-channel", "no IpcChannel selects the Pod");

  MutationResult result;
  result.reason = "injected";
  for (const auto* channel : channels) result.channels.push_back(channel->metadata.name);

  // ---- scope Node and hostIPC ----
  const auto node_it = std::find_if(channels.begin(), channels.end(),
                                    [](const auto* c) { return c->spec.scope == Scope::kNode; });
  const auto pod_it = std::find_if(channels.begin(), channels.end(),
                                   [](const auto* c) { return c->spec.scope == Scope::kPod; });
  const bool node_scope = node_it != channels.end();
  const bool pod_host_ipc = bool_member(spec, "hostIPC");
  if (node_scope && !host_ipc_allowed(policy, namespace_name)) {
    return denied(pod, "scope-node-not-allowed",
                  channel_ref(**node_it) +
                      " has scope: Node, which needs hostIPC, and the ipcmesh operator's policy "
                      "does not allow hostIPC in namespace " +
                      namespace_name +
                      ". Use scope: Pod to share the channel between the containers of one Pod, "
                      "or ask the cluster admin to add the namespace to the operator's "
                      "hostIPCNamespaces (hostIPC is a privilege: the baseline Pod Security "
                      "Standard forbids it).");
  }
  if (node_scope && pod_it != channels.end()) {
    return denied(pod, "conflict",
                  "the Pod selects " + channel_ref(**node_it) + " (scope: Node) and " +
                      channel_ref(**pod_it) +
                      " (scope: Pod); with hostIPC every channel lives in the node's IPC "
                      "namespace, so Pods on one node would share the Pod-scoped one. Give both "
                      "the same scope or select only one of them.");
  }
  if (!node_scope && pod_host_ipc) {
    return denied(pod, "host-ipc-pod-scope",
                  "the Pod sets hostIPC: true, so " + channel_ref(*channels.front()) +
                      " (scope: Pod) would be shared by every such Pod on the node. Remove "
                      "hostIPC from the Pod or use a channel with scope: Node.");
  }

  // ---- conflicts between channels and with the Pod ----
  std::map<std::string, std::string> legacy_names;  // queue name -> channel
  for (const auto* channel : channels) {
    const auto& mq = channel->spec.message_queue;
    if (!mq || !mq->name) continue;
    if (auto [it, fresh] = legacy_names.emplace(*mq->name, channel->metadata.name); !fresh) {
      return denied(pod, "conflict",
                    "IpcChannels " + it->second + " and " + channel->metadata.name +
                        " both name the message queue " + *mq->name +
                        "; one Pod cannot own it twice. Select only one of them.");
    }
  }
  const std::uint16_t port = channels.front()->spec.metrics_port;
  for (const auto* channel : channels) {
    if (channel->spec.metrics_port != port) {
      result.warnings.push_back("ipcmesh: one relay serves every channel of the Pod on port " +
                                std::to_string(port) + " (from " + channel_ref(*channels.front()) +
                                "); the relay.metricsPort " +
                                std::to_string(channel->spec.metrics_port) + " of " +
                                channel_ref(*channel) + " is not used");
    }
  }
  // The mq->shm bridge is a consumer of the queue: say so where a user will see it.
  for (const auto* channel : channels) {
    if (channel->spec.bridge.mq_to_shm) {
      result.warnings.push_back(
          "ipcmesh: " + channel_ref(*channel) + " bridges its queue " + channel->spec.mq_name() +
          " into its ring (relay.bridge.mqToShm): the relay receives every message of the queue, "
          "so a receiver of that queue gets only the messages the relay does not take; receive "
          "from the ring instead (ipcmeshctl sub, the library), where every subscriber gets "
          "every message");
    }
  }
  std::string port_user;
  for_each_container(spec, [&](const json& container) {
    const json* ports = array_member(container, "ports");
    if (!ports || !port_user.empty()) return;
    for (const auto& entry : *ports) {
      const auto it = entry.is_object() ? entry.find("containerPort") : entry.end();
      if (it != entry.end() && it->is_number_integer() && it->get<std::int64_t>() == port) {
        port_user = string_member(container, "name");
      }
    }
  });
  if (!port_user.empty()) {
    return denied(pod, "conflict",
                  "container " + port_user + " already uses port " + std::to_string(port) +
                      ", the relay's metrics port; set spec.relay.metricsPort of " +
                      channel_ref(*channels.front()) + " to a free port");
  }
  if (const json* volumes = array_member(spec, "volumes")) {
    for (const auto& volume : *volumes) {
      const auto name = string_member(volume, "name");
      if (name == kShmVolumeName || name == kControlVolumeName || name == kNoTokenVolumeName) {
        return denied(
            pod, "conflict",
            "the Pod already has a volume named " + name + ", a name ipcmesh reserves; rename it");
      }
    }
  }

  // ---- mqueue limits ----
  std::uint32_t msg_max = 0;
  std::uint32_t msgsize_max = 0;
  std::string mq_channel;
  for (const auto* channel : channels) {
    if (const auto& mq = channel->spec.message_queue) {
      if (mq->max_messages > msg_max || mq->max_message_size > msgsize_max) {
        mq_channel = channel_ref(*channel);
      }
      msg_max = std::max(msg_max, mq->max_messages);
      msgsize_max = std::max(msgsize_max, mq->max_message_size);
    }
  }
  std::map<std::string, std::string> sysctls;
  if (msg_max > kKernelMsgMax) sysctls["fs.mqueue.msg_max"] = std::to_string(msg_max);
  if (msgsize_max > kKernelMsgSizeMax) {
    sysctls["fs.mqueue.msgsize_max"] = std::to_string(msgsize_max);
  }
  if (!sysctls.empty()) {
    std::string wanted;
    for (const auto& [name, value] : sysctls) {
      wanted += (wanted.empty() ? "" : ", ") + name + "=" + value;
    }
    const std::string defaults =
        "the kernel defaults are fs.mqueue.msg_max=10 and "
        "fs.mqueue.msgsize_max=8192";
    if (node_scope) {
      // The kubelet refuses Pod sysctls with hostIPC; the CRD already keeps Node channels within
      // the defaults, so this only happens with channels written before that rule.
      result.warnings.push_back("ipcmesh: " + mq_channel + " needs " + wanted +
                                " but a hostIPC Pod cannot set sysctls; the node's own limits "
                                "apply (" +
                                defaults + ")");
      sysctls.clear();
    } else if (!policy.allow_mqueue_sysctls) {
      if (policy.mqueue_limit_action == MqueueLimitAction::kDeny) {
        return denied(pod, "mqueue-sysctls-not-allowed",
                      mq_channel + " needs the Pod sysctls " + wanted + " (" + defaults +
                          "), and the ipcmesh operator's policy does not allow mqueue sysctls. "
                          "Lower spec.messageQueue.maxMessages to at most 10 and maxMessageSize "
                          "to at most 8Ki, or ask the cluster admin to enable them "
                          "(kubelet --allowed-unsafe-sysctls 'fs.mqueue.*' and the operator's "
                          "allowMqueueSysctls).");
      }
      result.warnings.push_back("ipcmesh: " + mq_channel + " needs " + wanted + " (" + defaults +
                                ") but the operator may not set mqueue sysctls; the relay will "
                                "fail to create the queue unless the limits are raised");
      sysctls.clear();
    }
  }

  // ---- build the mutated Pod ----
  json mutated = pod;
  json& out_spec = mutated["spec"];
  api::InjectionStatus record;
  record.version = options.injector_version;
  record.contract = kContractVersion;
  for (const auto* channel : channels) {
    record.channels.push_back(api::InjectedChannel{channel->metadata.name, channel->metadata.uid,
                                                   channel->metadata.generation});
  }
  const bool native = options.server_minor >= kNativeSidecarMinMinor;
  record.sidecar = native ? "native" : "container";
  record.containers.push_back(std::string(kRelayContainerName));

  // /dev/shm: ours, the Pod's own, or the host's.
  std::string shm_volume;
  if (node_scope) {
    // With hostIPC the runtime bind-mounts the node's /dev/shm; an emptyDir would hide it and
    // split the channel per Pod.
    record.dev_shm_source = "host";
    record.host_ipc = !pod_host_ipc;
    out_spec["hostIPC"] = true;
  } else {
    for_each_container(spec, [&](const json& container) {
      if (shm_volume.empty()) shm_volume = mounted_volume(container, kDevShmPath);
    });
    const std::uint64_t needed = dev_shm_size_for(channels, options.dev_shm_headroom_bytes);
    if (!shm_volume.empty()) {
      record.dev_shm_source = "pod";
      record.dev_shm_volume = shm_volume;
      result.warnings.push_back("ipcmesh: the Pod mounts its own volume " + shm_volume +
                                " at /dev/shm; it is kept and shared with the relay. The "
                                "channels need about " +
                                format_quantity(needed) + " of it.");
    } else {
      shm_volume = std::string(kShmVolumeName);
      record.dev_shm_source = "injected";
      record.dev_shm_volume = shm_volume;
      record.dev_shm_size_limit = format_quantity(needed);
      record.volumes.push_back(shm_volume);
      array_at(out_spec, "volumes")
          .push_back(
              json{{"name", shm_volume},
                   {"emptyDir", {{"medium", "Memory"}, {"sizeLimit", record.dev_shm_size_limit}}}});
    }
  }
  record.volumes.push_back(std::string(kControlVolumeName));
  array_at(out_spec, "volumes")
      .push_back(json{{"name", kControlVolumeName},
                      {"emptyDir", {{"medium", "Memory"}, {"sizeLimit", "1Mi"}}}});
  record.volumes.push_back(std::string(kNoTokenVolumeName));
  array_at(out_spec, "volumes")
      .push_back(json{{"name", kNoTokenVolumeName},
                      {"emptyDir", {{"medium", "Memory"}, {"sizeLimit", "1Ki"}}}});

  ChannelSet set;
  for (const auto* channel : channels) set.channels.push_back(channel->spec);
  const std::string document = serialize_channel_set(set);
  const std::string control_dir(kDefaultControlDir);

  const AppWiring wiring{document, control_dir, shm_volume};
  for_each_container(
      out_spec, [&](json& container) { wire_app_container(container, wiring, result.warnings); });

  if (!sysctls.empty()) {
    auto& security = object_at(out_spec, "securityContext");
    auto& list = array_at(security, "sysctls");
    for (const auto& [name, value] : sysctls) {
      // clang 14 cannot capture a structured binding; capture a plain reference instead.
      auto it = std::find_if(list.begin(), list.end(), [&sysctl = name](const json& entry) {
        return entry.is_object() && string_member(entry, "name") == sysctl;
      });
      if (it == list.end()) {
        list.push_back(json{{"name", name}, {"value", value}});
        record.sysctls[name] = value;
        continue;
      }
      const auto existing = parse_uint(string_member(*it, "value"));
      if (existing && *existing >= *parse_uint(value)) continue;  // the Pod asks for more already
      result.warnings.push_back("ipcmesh: raised the Pod's " + name + " from " +
                                string_member(*it, "value") + " to " + value + " for " +
                                mq_channel);
      *it = json{{"name", name}, {"value", value}};
      record.sysctls[name] = value;
    }
  }

  // The relay creates the channels' shm and mq objects with mode 0660 as relay_uid:relay_gid, so a
  // container running as another user gets EACCES from shm_open/mq_open unless it is in the
  // relay's group. supplementalGroups adds it to every container's processes (fsGroup would too,
  // but also chowns volumes and is the Pod's own choice). Existing entries are kept, in order.
  {
    auto& groups = array_at(object_at(out_spec, "securityContext"), "supplementalGroups");
    const bool present = std::any_of(groups.begin(), groups.end(), [&](const json& group) {
      return group.is_number_integer() && group.get<std::int64_t>() == options.relay_gid;
    });
    if (!present) groups.push_back(options.relay_gid);
  }

  // The relay.
  json relay_port{{"name", kMetricsPortName}, {"containerPort", port}, {"protocol", "TCP"}};
  if (bool_member(spec, "hostNetwork")) {
    // docs/webhook.md "hostNetwork Pods": the relay's port is then a node port. Declaring it as a
    // hostPort lets the scheduler keep two such Pods off one node instead of failing at bind().
    relay_port["hostPort"] = port;
    result.warnings.push_back("ipcmesh: hostNetwork Pod: the relay listens on node port " +
                              std::to_string(port) +
                              " (declared as a hostPort, so one such Pod per node)");
  }
  json probe_port = std::string(kMetricsPortName);
  json relay{
      {"name", kRelayContainerName},
      {"image", options.relay_image},
      {"imagePullPolicy", options.relay_image_pull_policy},
      // The relay listens on 127.0.0.1 by default (docs/relay.md); the kubelet probes the Pod IP.
      {"args", json::array({"--listen", "0.0.0.0:" + std::to_string(port)})},
      {"env",
       json::array({json{{"name", kEnvChannels}, {"value", document}},
                    json{{"name", kEnvControlDir}, {"value", control_dir}},
                    json{{"name", "POD_NAME"},
                         {"valueFrom", {{"fieldRef", {{"fieldPath", "metadata.name"}}}}}},
                    json{{"name", "POD_NAMESPACE"},
                         {"valueFrom", {{"fieldRef", {{"fieldPath", "metadata.namespace"}}}}}}})},
      {"ports", json::array({relay_port})},
      // The relay creates the channel's objects before reporting ready; with a native sidecar the
      // kubelet starts the app containers only after this probe succeeds (no start-up race).
      {"startupProbe",
       {{"httpGet", {{"path", "/readyz"}, {"port", probe_port}}},
        {"periodSeconds", 1},
        {"timeoutSeconds", 1},
        {"failureThreshold", 120}}},
      // After start-up /readyz fails only when a channel breaks under the relay (a ring
      // truncated by a foreign writer, docs/relay.md): the Pod then leaves its Services' endpoints
      // and the channel's status names it (RelayNotReady).
      {"readinessProbe",
       {{"httpGet", {{"path", "/readyz"}, {"port", probe_port}}},
        {"periodSeconds", 5},
        {"timeoutSeconds", 2},
        {"failureThreshold", 2}}},
      {"livenessProbe",
       {{"httpGet", {{"path", "/healthz"}, {"port", probe_port}}},
        {"periodSeconds", 10},
        {"timeoutSeconds", 2},
        {"failureThreshold", 3}}},
      {"resources", relay_resources_json(channels, options, result.warnings)},
      // Everything the restricted Pod Security Standard asks of a container.
      {"securityContext",
       {{"runAsNonRoot", true},
        {"runAsUser", options.relay_uid},
        {"runAsGroup", options.relay_gid},
        {"readOnlyRootFilesystem", true},
        {"allowPrivilegeEscalation", false},
        {"capabilities", {{"drop", json::array({"ALL"})}}},
        {"seccompProfile", {{"type", "RuntimeDefault"}}}}},
      {"terminationMessagePolicy", "FallbackToLogsOnError"},
      {"volumeMounts", json::array()}};
  if (!shm_volume.empty()) {
    relay["volumeMounts"].push_back(json{{"name", shm_volume}, {"mountPath", kDevShmPath}});
  }
  relay["volumeMounts"].push_back(json{{"name", kControlVolumeName}, {"mountPath", control_dir}});
  relay["volumeMounts"].push_back(json{
      {"name", kNoTokenVolumeName}, {"mountPath", kServiceAccountTokenPath}, {"readOnly", true}});

  if (native) {
    // First init container: started (and probed) before the other init containers, so they may
    // use the channel too; stopped after the app containers; never keeps a Job alive.
    relay["restartPolicy"] = "Always";
    auto& init = array_at(out_spec, "initContainers");
    init.insert(init.begin(), std::move(relay));
  } else {
    auto& containers = out_spec["containers"];
    containers.insert(containers.begin(), std::move(relay));
    if (is_job_pod(pod)) {
      result.warnings.push_back(
          "ipcmesh: Kubernetes 1." + std::to_string(options.server_minor) +
          " has no native sidecars, so the relay is a plain container and this Job's Pod keeps "
          "running after its work is done unless the app stops the relay (see docs/webhook.md)");
    }
  }

  auto& meta = object_at(mutated, "metadata");
  auto& annotations = object_at(meta, "annotations");
  annotations[std::string(kAnnotationStatus)] = api::serialize_injection_status(record);

  result.outcome = MutationOutcome::kMutated;
  result.pod = std::move(mutated);
  return result;
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
  const auto labels = pod_labels(pod);
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
