// The Pod mutation: a pure function of (Pod, channels, options) that applies every rule of
// DESIGN.md "The webhook's rules" and docs/webhook.md. No I/O, no clock, no API call: the
// admission server, `ipcmeshctl inject` and the fuzzer all run exactly this code.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "api/injection_status.hpp"
#include "api/ipc_channel.hpp"
#include "ipcmesh/channel_spec.hpp"

namespace ipcmesh::webhook {

using api::kRelayContainerName;  // the controller reads that container's status too
inline constexpr std::string_view kShmVolumeName = "ipcmesh-shm";
inline constexpr std::string_view kControlVolumeName = "ipcmesh-control";
// An empty read-only volume over the service-account token path of the relay: the relay never
// talks to the API server, so it gets no credential, and the ServiceAccount admission plugin
// (which skips a container that already mounts that path) leaves it alone, so our webhook is
// not re-invoked for its change.
inline constexpr std::string_view kNoTokenVolumeName = "ipcmesh-no-token";
inline constexpr std::string_view kServiceAccountTokenPath =
    "/var/run/secrets/kubernetes.io/serviceaccount";
inline constexpr std::string_view kMetricsPortName = kRelayMetricsPortName;  // the contract's
inline constexpr std::string_view kDevShmPath = "/dev/shm";
// Kernel defaults of an IPC namespace (ipc/mq_sysctl.c): above them a queue needs Pod sysctls.
inline constexpr std::uint32_t kKernelMsgMax = 10;
inline constexpr std::uint32_t kKernelMsgSizeMax = 8192;
// Native sidecars are beta and on by default from Kubernetes 1.29 (KEP-753).
inline constexpr int kNativeSidecarMinMinor = 29;

// What to do when a channel needs fs.mqueue.* sysctls and the policy does not allow them.
enum class MqueueLimitAction : std::uint8_t {
  kDeny,  // refuse the Pod with a message naming the limit and the two ways out (default)
  kWarn,  // admit the Pod without sysctls, with an admission warning and a status-annotation note
};

struct InjectionPolicy {
  // Namespaces whose Pods may get hostIPC for a scope: Node channel; "*" allows every namespace.
  std::vector<std::string> host_ipc_namespaces;
  // The kubelets run with --allowed-unsafe-sysctls 'fs.mqueue.*' and the namespaces' Pod Security
  // level permits them: the webhook may then add fs.mqueue.msg_max / msgsize_max.
  bool allow_mqueue_sysctls = false;
  MqueueLimitAction mqueue_limit_action = MqueueLimitAction::kDeny;
  // Never injected (in addition to the operator's own namespace).
  std::vector<std::string> excluded_namespaces = {"kube-system", "kube-public", "kube-node-lease"};
  std::string operator_namespace = "ipcmesh-system";
};

struct MutationOptions {
  std::string injector_version = IPCMESH_VERSION;  // written into ipcmesh.io/status
  // The relay image of the same release: operator and relay versions move together.
  std::string relay_image = "ipcmesh/relay:" IPCMESH_VERSION;
  std::string relay_image_pull_policy = "IfNotPresent";
  // kube-apiserver minor version (major 1): >= 29 gets a native sidecar, else a plain container.
  int server_minor = kNativeSidecarMinMinor;
  // Used for the relay when no selected channel sets spec.relay.resources.
  api::ResourceRequirements default_relay_resources{{{"cpu", "10m"}, {"memory", "16Mi"}},
                                                    {{"memory", "64Mi"}}};
  // Added to the rings' total for the /dev/shm emptyDir: the 64Mi a Pod had before injection, so
  // an app that also uses /dev/shm for itself keeps what it had.
  std::uint64_t dev_shm_headroom_bytes = 64ull << 20;
  // The relay's user (restricted PSS wants runAsNonRoot; a numeric uid lets the kubelet check it
  // even when the image names its user).
  std::int64_t relay_uid = 65532;
  // The relay's group (runAsGroup). It creates the channels' objects with mode 0660, so the webhook
  // also adds this group to the Pod's supplementalGroups: every container may then open them.
  std::int64_t relay_gid = 65532;
  InjectionPolicy policy;
};

enum class MutationOutcome : std::uint8_t { kMutated, kUnchanged, kDenied };

std::string_view to_string(MutationOutcome outcome) noexcept;

struct MutationResult {
  MutationOutcome outcome = MutationOutcome::kUnchanged;
  nlohmann::json pod;  // the mutated Pod (kMutated); the input otherwise
  // A short machine-readable reason, a metrics label: injected, excluded-namespace, opted-out,
  // already-injected, rewired (a reinvocation wired containers another webhook added), no-channel,
  // not-a-pod, unknown-channel, scope-node-not-allowed, mqueue-sysctls-not-allowed, conflict,
  // host-ipc-pod-scope.
  std::string reason;
  std::string message;                // for kDenied: what is wrong and what to do
  std::vector<std::string> warnings;  // AdmissionResponse warnings (kubectl prints them)
  std::vector<std::string> channels;  // names of the channels injected, sorted
};

// The channels (of the Pod's namespace) that apply to the Pod: by label selector or by name in the
// ipcmesh.io/channels annotation. Sorted by name so that every replica injects the same Pod.
// Names in the annotation that match no channel are returned in `missing`.
struct ChannelSelection {
  std::vector<const api::IpcChannel*> channels;
  std::vector<std::string> missing;
};
ChannelSelection select_channels(const nlohmann::json& pod, std::string_view namespace_name,
                                 const std::vector<api::IpcChannel>& catalog);

// Applies the rules. `namespace_name` is the AdmissionRequest namespace (a Pod created with
// generateName may not carry metadata.namespace yet); empty falls back to metadata.namespace.
// `catalog` may hold channels of every namespace. Never throws on any input.
MutationResult mutate_pod(const nlohmann::json& pod, std::string_view namespace_name,
                          const std::vector<api::IpcChannel>& catalog,
                          const MutationOptions& options);

// Bytes of /dev/shm the channels need: each ring rounded up to a power of two (as the relay
// maps it) plus 1Mi for its header and subscriber table, plus the headroom; in whole Mi.
std::uint64_t dev_shm_size_for(const std::vector<const api::IpcChannel*>& channels,
                               std::uint64_t headroom_bytes);

// Bytes the relay adds to its memory limit for the rings it creates and pre-touches (every
// channel's ring, scope Pod or Node): the rings' share of dev_shm_size_for, in whole Mi.
std::uint64_t relay_ring_memory_for(const std::vector<const api::IpcChannel*>& channels);

}  // namespace ipcmesh::webhook
