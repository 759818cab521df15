// Level-based reconcile of one IpcChannel from the caches: what the channel's status should say
// given the Pods of its namespace, written through the status subresource only when it differs.
//   selectedPods       live Pods the channel applies to (label selector or ipcmesh.io/channels),
//                      minus those that opted out (ipcmesh.io/inject: "false")
//   injectedPods       Pods whose ipcmesh.io/status record names this channel
//   pendingRestartPods selected Pods without the channel in their record (they predate it) or
//                      with an outdated one (older generation or another uid)
//   Ready              True when every selected Pod carries the current channel (and the
//                      webhook is called for the namespace's Pods)
//   Degraded           True when the spec is invalid or Pods run an outdated injection
//   InjectionEnabled   whether the namespace carries the label the webhook registration's
//                      namespaceSelector requires (only when the operator checks one)
// Events on the channel report count changes and condition transitions.
#pragma once

#include <chrono>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "api/ipc_channel.hpp"
#include "api/namespace_record.hpp"
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
inline constexpr std::string_view kReasonNamespaceEnabled = "NamespaceEnabled";
inline constexpr std::string_view kReasonNamespaceNotEnabled = "NamespaceNotEnabled";
inline constexpr std::string_view kReasonNamespaceNotObserved = "NamespaceNotObserved";

// What the controller knows of whether the webhook is called for the channel's namespace.
struct NamespaceInjection {
  // The label the webhook registration's namespaceSelector requires; nullopt: the check is off
  // and no InjectionEnabled condition is written.
  std::optional<api::NamespaceLabel> required;
  // Whether the namespace carries it; nullopt while the Namespace cache has not seen it.
  std::optional<bool> labelled;
};

// The status the channel should have. `previous` supplies lastTransitionTime for conditions
// whose status did not change (metav1 SetStatusCondition semantics); `now` is RFC 3339.
api::IpcChannelStatus compute_status(const nlohmann::json& channel, const std::vector<PodPtr>& pods,
                                     const api::IpcChannelStatus& previous, const std::string& now,
                                     const NamespaceInjection& injection = {});

struct ReconcileResult {
  bool status_written = false;
  std::optional<std::chrono::nanoseconds> requeue_after;
};

class IpcChannelReconciler {
 public:
  // `injection_label`: the label namespaces need for the webhook to be called (the operator's
  // --namespace-label); nullopt turns the InjectionEnabled condition off.
  IpcChannelReconciler(ChannelApi& api, kube::Clock& clock,
                       std::optional<api::NamespaceLabel> injection_label = std::nullopt)
      : api_(api), clock_(clock), injection_label_(std::move(injection_label)) {}
  // Throws on a failed status write (the caller requeues with rate limiting).
  ReconcileResult reconcile(const std::string& key);

 private:
  ChannelApi& api_;
  kube::Clock& clock_;
  std::optional<api::NamespaceLabel> injection_label_;
};

}  // namespace ipcmesh::controller
