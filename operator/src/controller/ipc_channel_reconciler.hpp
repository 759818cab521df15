// Level-based reconcile of one IpcChannel from the caches: what the channel's status should say
// given the Pods of its namespace, written through the status subresource only when it differs.
//   selectedPods       live Pods the channel applies to (label selector or ipcmesh.io/channels),
//                      minus those that opted out (ipcmesh.io/inject: "false")
//   injectedPods       Pods whose ipcmesh.io/status record names this channel
//   pendingRestartPods selected Pods without the channel in their record (they predate it) or
//                      with an outdated one (older generation or another uid)
//   Ready              True when every selected Pod carries the current channel
//   Degraded           True when the spec is invalid or Pods run an outdated injection
// Events on the channel report count changes and condition transitions.
#pragma once

#include <chrono>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "api/ipc_channel.hpp"
#include "controller/channel_api.hpp"
#include "kube/clock.hpp"

namespace ipcmesh::controller {

// Reasons written into conditions (and used as Event reasons).
inline constexpr std::string_view kReasonAllPodsInjected = "AllPodsInjected";
inline constexpr std::string_view kReasonNoPodsSelected = "NoPodsSelected";
inline constexpr std::string_view kReasonPodsPendingRestart = "PodsPendingRestart";
inline constexpr std::string_view kReasonInvalidSpec = "InvalidSpec";
inline constexpr std::string_view kReasonOutdatedInjection = "OutdatedInjection";
inline constexpr std::string_view kReasonAsExpected = "AsExpected";

// The status the channel should have. `previous` supplies lastTransitionTime for conditions
// whose status did not change (metav1 SetStatusCondition semantics); `now` is RFC 3339.
api::IpcChannelStatus compute_status(const nlohmann::json& channel, const std::vector<PodPtr>& pods,
                                     const api::IpcChannelStatus& previous, const std::string& now);

struct ReconcileResult {
  bool status_written = false;
  std::optional<std::chrono::nanoseconds> requeue_after;
};

class IpcChannelReconciler {
 public:
  IpcChannelReconciler(ChannelApi& api, kube::Clock& clock) : api_(api), clock_(clock) {}
  // Throws on a failed status write (the caller requeues with rate limiting).
  ReconcileResult reconcile(const std::string& key);

 private:
  ChannelApi& api_;
  kube::Clock& clock_;
};

}  // namespace ipcmesh::controller
