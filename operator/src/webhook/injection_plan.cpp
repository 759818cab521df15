#include "webhook/injection_plan.hpp"

#include <algorithm>
#include <optional>

#include "ipcmesh/channel_spec.hpp"
#include "webhook/pod_json.hpp"

namespace ipcmesh::webhook {
namespace {

using nlohmann::json;
using namespace pod_json;
using Channels = std::vector<const api::IpcChannel*>;

bool contains(const std::vector<std::string>& values, std::string_view value) {
  return std::find(values.begin(), values.end(), value) != values.end();
}

bool host_ipc_allowed(const InjectionPolicy& policy, std::string_view namespace_name) {
  return contains(policy.host_ipc_namespaces, "*") ||
         contains(policy.host_ipc_namespaces, namespace_name);
}

// ---- denials ----

// scope: Node means hostIPC, a privilege the policy grants per namespace, and every channel of
// such a Pod lives in the node's IPC namespace.
std::optional<MutationResult> check_scope(const json& pod, std::string_view namespace_name,
                                          const Channels& channels, const InjectionPolicy& policy) {
  const auto scoped = [&](Scope scope) {
    return std::find_if(channels.begin(), channels.end(),
                        [scope](const auto* c) { return c->spec.scope == scope; });
  };
  const auto node_it = scoped(Scope::kNode);
  const auto pod_it = scoped(Scope::kPod);
  const bool node_scope = node_it != channels.end();
  if (node_scope && !host_ipc_allowed(policy, namespace_name)) {
    return denied(pod, "scope-node-not-allowed",
                  channel_ref(**node_it) +
                      " has scope: Node, which needs hostIPC, and the ipcmesh operator's policy "
                      "does not allow hostIPC in namespace " +
                      std::string(namespace_name) +
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
  if (!node_scope && bool_member(pod["spec"], "hostIPC")) {
    return denied(pod, "host-ipc-pod-scope",
                  "the Pod sets hostIPC: true, so " + channel_ref(*channels.front()) +
                      " (scope: Pod) would be shared by every such Pod on the node. Remove "
                      "hostIPC from the Pod or use a channel with scope: Node.");
  }
  return std::nullopt;
}

std::optional<MutationResult> check_queue_names(const json& pod, const Channels& channels) {
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
  return std::nullopt;
}

// One relay serves every channel of the Pod, on the first channel's metrics port.
std::optional<MutationResult> check_metrics_port(const json& pod, const Channels& channels) {
  const std::uint16_t port = channels.front()->spec.metrics_port;
  std::string port_user;
  for_each_container(pod["spec"], [&](const json& container) {
    const json* ports = array_member(container, "ports");
    if (!ports || !port_user.empty()) return;
    for (const auto& entry : *ports) {
      const auto it = entry.is_object() ? entry.find("containerPort") : entry.end();
      if (it != entry.end() && it->is_number_integer() && it->get<std::int64_t>() == port) {
        port_user = string_member(container, "name");
      }
    }
  });
  if (port_user.empty()) return std::nullopt;
  return denied(pod, "conflict",
                "container " + port_user + " already uses port " + std::to_string(port) +
                    ", the relay's metrics port; set spec.relay.metricsPort of " +
                    channel_ref(*channels.front()) + " to a free port");
}

std::optional<MutationResult> check_reserved_volumes(const json& pod) {
  const json* volumes = array_member(pod["spec"], "volumes");
  if (!volumes) return std::nullopt;
  for (const auto& volume : *volumes) {
    const auto name = string_member(volume, "name");
    if (name == kShmVolumeName || name == kControlVolumeName || name == kNoTokenVolumeName) {
      return denied(
          pod, "conflict",
          "the Pod already has a volume named " + name + ", a name ipcmesh reserves; rename it");
    }
  }
  return std::nullopt;
}

// ---- warnings about the channels ----

std::vector<std::string> channel_notices(const Channels& channels) {
  std::vector<std::string> notices;
  const std::uint16_t port = channels.front()->spec.metrics_port;
  for (const auto* channel : channels) {
    if (channel->spec.metrics_port == port) continue;
    notices.push_back("ipcmesh: one relay serves every channel of the Pod on port " +
                      std::to_string(port) + " (from " + channel_ref(*channels.front()) +
                      "); the relay.metricsPort " + std::to_string(channel->spec.metrics_port) +
                      " of " + channel_ref(*channel) + " is not used");
  }
  // The mq->shm bridge is a consumer of the queue: say so where a user will see it.
  for (const auto* channel : channels) {
    if (!channel->spec.bridge.mq_to_shm) continue;
    notices.push_back(
        "ipcmesh: " + channel_ref(*channel) + " bridges its queue " + channel->spec.mq_name() +
        " into its ring (relay.bridge.mqToShm): the relay receives every message of the queue, "
        "so a receiver of that queue gets only the messages the relay does not take; receive "
        "from the ring instead (ipcmeshctl sub, the library), where every subscriber gets "
        "every message");
  }
  return notices;
}

// ---- mqueue limits ----

// The fs.mqueue.* sysctls above the kernel's defaults (ipc/mq_sysctl.c) that the largest queue
// needs, and the channel that asks for the most.
void needed_sysctls(const Channels& channels, InjectionPlan& plan) {
  std::uint32_t msg_max = 0;
  std::uint32_t msgsize_max = 0;
  for (const auto* channel : channels) {
    const auto& mq = channel->spec.message_queue;
    if (!mq) continue;
    if (mq->max_messages > msg_max || mq->max_message_size > msgsize_max) {
      plan.sysctls_for = channel_ref(*channel);
    }
    msg_max = std::max(msg_max, mq->max_messages);
    msgsize_max = std::max(msgsize_max, mq->max_message_size);
  }
  if (msg_max > kKernelMsgMax) plan.sysctls["fs.mqueue.msg_max"] = std::to_string(msg_max);
  if (msgsize_max > kKernelMsgSizeMax) {
    plan.sysctls["fs.mqueue.msgsize_max"] = std::to_string(msgsize_max);
  }
}

// Keeps the sysctls the Pod may have, or denies; what cannot be set becomes a warning.
std::optional<MutationResult> apply_sysctl_policy(const json& pod, const InjectionPolicy& policy,
                                                  InjectionPlan& plan) {
  if (plan.sysctls.empty()) return std::nullopt;
  std::string wanted;
  for (const auto& [name, value] : plan.sysctls) {
    wanted += (wanted.empty() ? "" : ", ") + name + "=" + value;
  }
  const std::string defaults =
      "the kernel defaults are fs.mqueue.msg_max=10 and fs.mqueue.msgsize_max=8192";
  if (plan.node_scope) {
    // The kubelet refuses Pod sysctls with hostIPC; the CRD already keeps Node channels within
    // the defaults, so this only happens with channels written before that rule.
    plan.warnings.push_back("ipcmesh: " + plan.sysctls_for + " needs " + wanted +
                            " but a hostIPC Pod cannot set sysctls; the node's own limits apply (" +
                            defaults + ")");
    plan.sysctls.clear();
  } else if (!policy.allow_mqueue_sysctls) {
    if (policy.mqueue_limit_action == MqueueLimitAction::kDeny) {
      return denied(pod, "mqueue-sysctls-not-allowed",
                    plan.sysctls_for + " needs the Pod sysctls " + wanted + " (" + defaults +
                        "), and the ipcmesh operator's policy does not allow mqueue sysctls. "
                        "Lower spec.messageQueue.maxMessages to at most 10 and maxMessageSize "
                        "to at most 8Ki, or ask the cluster admin to enable them "
                        "(kubelet --allowed-unsafe-sysctls 'fs.mqueue.*' and the operator's "
                        "allowMqueueSysctls).");
    }
    plan.warnings.push_back("ipcmesh: " + plan.sysctls_for + " needs " + wanted + " (" + defaults +
                            ") but the operator may not set mqueue sysctls; the relay will "
                            "fail to create the queue unless the limits are raised");
    plan.sysctls.clear();
  }
  return std::nullopt;
}

// ---- /dev/shm ----

// Ours, the Pod's own, or the host's: a Pod that mounts its own /dev/shm keeps it (the runtime
// then skips its 64Mi default), and with hostIPC the runtime bind-mounts the node's /dev/shm, which
// an emptyDir would hide, splitting the channel per Pod.
DevShmPlan plan_dev_shm(const json& spec, const MutationOptions& options, InjectionPlan& plan) {
  if (plan.node_scope) return DevShmPlan{"host", "", ""};
  std::string own;
  for_each_container(spec, [&](const json& container) {
    if (own.empty()) own = mounted_volume(container, kDevShmPath);
  });
  const std::uint64_t needed = dev_shm_size_for(plan.channels, options.dev_shm_headroom_bytes);
  if (own.empty())
    return DevShmPlan{"injected", std::string(kShmVolumeName), format_quantity(needed)};
  plan.warnings.push_back("ipcmesh: the Pod mounts its own volume " + own +
                          " at /dev/shm; it is kept and shared with the relay. The channels "
                          "need about " +
                          format_quantity(needed) + " of it.");
  return DevShmPlan{"pod", own, ""};
}

std::string channel_document(const Channels& channels) {
  ChannelSet set;
  for (const auto* channel : channels) set.channels.push_back(channel->spec);
  return serialize_channel_set(set);
}

}  // namespace

MutationResult unchanged(const json& pod, std::string reason, std::string message) {
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

std::string channel_ref(const api::IpcChannel& channel) {
  return "IpcChannel " + api::object_key(channel.metadata);
}

tl::expected<InjectionPlan, MutationResult> plan_injection(const json& pod,
                                                           std::string_view namespace_name,
                                                           Channels channels,
                                                           const MutationOptions& options) {
  if (auto denial = check_scope(pod, namespace_name, channels, options.policy)) {
    return tl::unexpected(std::move(*denial));
  }
  if (auto denial = check_queue_names(pod, channels)) return tl::unexpected(std::move(*denial));
  if (auto denial = check_metrics_port(pod, channels)) return tl::unexpected(std::move(*denial));
  if (auto denial = check_reserved_volumes(pod)) return tl::unexpected(std::move(*denial));
  InjectionPlan plan;
  plan.channels = std::move(channels);
  plan.native_sidecar = options.server_minor >= kNativeSidecarMinMinor;
  plan.node_scope = plan.channels.front()->spec.scope == Scope::kNode;  // one scope: checked
  plan.host_ipc_added = plan.node_scope && !bool_member(pod["spec"], "hostIPC");
  plan.warnings = channel_notices(plan.channels);
  needed_sysctls(plan.channels, plan);
  if (auto denial = apply_sysctl_policy(pod, options.policy, plan)) {
    return tl::unexpected(std::move(*denial));
  }
  plan.dev_shm = plan_dev_shm(pod["spec"], options, plan);
  plan.metrics_port = plan.channels.front()->spec.metrics_port;
  plan.metrics_host_port = bool_member(pod["spec"], "hostNetwork");
  plan.document = channel_document(plan.channels);
  plan.control_dir = std::string(kDefaultControlDir);
  return plan;
}

}  // namespace ipcmesh::webhook
