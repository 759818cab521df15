// The second step of the mutation (decide → plan → apply → relay → status): everything the
// webhook will do to a Pod, worked out before the Pod is touched, or the denial that stops it.
// The apply steps and the relay container only read the plan, so each rule lives in one place.
// Internal to the webhook.
#pragma once

#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <tl/expected.hpp>
#include <vector>

#include "webhook/pod_mutation.hpp"

namespace ipcmesh::webhook {

// Where /dev/shm comes from (InjectionStatus::dev_shm_*).
struct DevShmPlan {
  std::string source;      // "injected" (our memory emptyDir), "pod" (its own mount), "host"
  std::string volume;      // the volume mounted at /dev/shm; "" with hostIPC
  std::string size_limit;  // of the injected emptyDir; "" otherwise
};

struct InjectionPlan {
  std::vector<const api::IpcChannel*> channels;  // sorted by name, never empty
  bool native_sidecar = true;   // an init container with restartPolicy Always, else a container
  bool node_scope = false;      // the channels live in the node's IPC namespace: hostIPC
  bool host_ipc_added = false;  // node_scope and the Pod did not set hostIPC itself
  DevShmPlan dev_shm;
  // fs.mqueue.* Pod sysctls the channels need and the policy allows; `sysctls_for` names the
  // channel that asks for the most, for messages.
  std::map<std::string, std::string> sysctls;
  std::string sysctls_for;
  std::uint16_t metrics_port = 0;
  bool metrics_host_port = false;  // hostNetwork: the relay's port is a node port
  std::string document;            // the IPCMESH_CHANNELS document of every container
  std::string control_dir;
  std::vector<std::string> warnings;  // about the channels and the Pod, before anything is applied
};

// The plan for injecting `channels` (the non-empty selection) into `pod` (checked well-formed),
// or the denial: scope and hostIPC rules, conflicts with the Pod, mqueue limits and the policy.
tl::expected<InjectionPlan, MutationResult> plan_injection(
    const nlohmann::json& pod, std::string_view namespace_name,
    std::vector<const api::IpcChannel*> channels, const MutationOptions& options);

// The answers that end the pipeline early: the Pod as it came, with a reason (a metrics label).
MutationResult unchanged(const nlohmann::json& pod, std::string reason, std::string message = {});
// `message` says what is wrong and what to do; it is prefixed with "ipcmesh: ".
MutationResult denied(const nlohmann::json& pod, std::string reason, std::string message);

std::string channel_ref(const api::IpcChannel& channel);  // "IpcChannel <namespace>/<name>"

}  // namespace ipcmesh::webhook
