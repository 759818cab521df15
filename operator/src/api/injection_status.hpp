// The ipcmesh.io/status Pod annotation: the webhook's record of what it injected. The webhook
// writes it (and treats its presence as "already injected": idempotency); the controller reads it
// to count injectedPods and pendingRestartPods (a Pod whose record names an older generation of a
// channel, or lacks a channel that now selects it, needs a restart). docs/webhook.md shows it.
//
// {"version":"0.1.0","contract":1,
//  "channels":[{"name":"frames","uid":"…","generation":2}],
//  "sidecar":"native","containers":["ipcmesh-relay"],"volumes":["ipcmesh-shm","ipcmesh-control"],
//  "devShm":{"source":"injected","volume":"ipcmesh-shm","sizeLimit":"130Mi"},
//  "sysctls":{"fs.mqueue.msg_max":"64"},"hostIPC":false}
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "ipcmesh/error.hpp"

namespace ipcmesh::api {

// The relay container the webhook adds (first init container as a native sidecar, else first
// container); the controller reads its status in the Pods it selects (api/pod_record.hpp).
inline constexpr std::string_view kRelayContainerName = "ipcmesh-relay";

struct InjectedChannel {
  std::string name;
  std::string uid;
  std::int64_t generation = 0;
  friend bool operator==(const InjectedChannel&, const InjectedChannel&) = default;
};

struct InjectionStatus {
  std::string version;  // injector (operator) version that wrote the record
  int contract = 0;     // ipcmesh::kContractVersion of the IPCMESH_CHANNELS document
  std::vector<InjectedChannel> channels;
  std::string sidecar;  // "native" (init container, restartPolicy Always) or "container"
  std::vector<std::string> containers;  // containers the webhook added
  std::vector<std::string> volumes;     // volumes the webhook added
  // Where /dev/shm comes from: "injected" (our memory emptyDir), "pod" (the Pod's own mount,
  // respected; volume names it) or "host" (hostIPC: the node's /dev/shm).
  std::string dev_shm_source;
  std::string dev_shm_volume;
  std::string dev_shm_size_limit;              // quantity, "" when not ours
  std::map<std::string, std::string> sysctls;  // fs.mqueue.* the webhook set
  bool host_ipc = false;                       // the webhook set hostIPC for a scope Node channel

  const InjectedChannel* find_channel(std::string_view name) const;
  friend bool operator==(const InjectionStatus&, const InjectionStatus&) = default;
};

std::string serialize_injection_status(const InjectionStatus& status);
// Errors say what is wrong with the annotation; unknown fields are ignored (newer injectors).
Result<InjectionStatus> parse_injection_status(std::string_view text);

}  // namespace ipcmesh::api
