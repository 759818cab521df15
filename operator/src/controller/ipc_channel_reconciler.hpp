// Level-based reconcile of one IpcChannel from the caches: what the channel's status should say
// given its Pods (the channel->Pods index: its members, not the whole namespace), patched into the
// status subresource only when it differs.
//   selectedPods       live Pods the channel applies to (label selector or ipcmesh.io/channels),
//                      minus those that opted out (ipcmesh.io/inject: "false")
//   injectedPods       Pods whose ipcmesh.io/status record names this channel
//   pendingRestartPods selected Pods without the channel in their record (they predate it) or
//                      with an outdated one (older generation or another uid)
//   Ready              True when every selected Pod carries the current channel and its relay
//                      is not failing (and the webhook is called for the namespace's Pods)
//   Degraded           True when the spec is invalid, a selected Pod's relay is failing
//                      (RelayNotReady) or Pods run an outdated injection
//   InjectionEnabled   whether the namespace carries the label the webhook registration's
//                      namespaceSelector requires (only when the operator checks one)
// Events on the channel report condition transitions and relay restarts only (counts are in the
// status); repeats aggregate into a series (kube/event_recorder.hpp).
// docs/operator.md has the tables of conditions, reasons and Events.
#pragma once

#include <chrono>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "api/ipc_channel.hpp"
#include "api/namespace_record.hpp"
#include "controller/channel_api.hpp"
#include "controller/status_pacer.hpp"
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
inline constexpr std::string_view kReasonRelayNotReady = "RelayNotReady";
// The Warning Event recorded on the channel when a selected Pod's relay restarted.
inline constexpr std::string_view kEventRelayRestarted = "RelayRestarted";

// How long a relay starting for the first time (restartCount 0, running) may stay unready before
// the channel reports it: a relay is ready milliseconds after its start unless something holds it
// (a lock owned by another live relay, a channel it cannot create), so a Pod rolling out never
// makes its channel flap to Degraded, and a relay stuck at start is reported within half a minute
// (its startupProbe would restart it only after 120 s). A relay that restarted is reported at
// once: that is a crash, not a start; so is one that turns unready later (its readinessProbe
// failed twice: a channel broke under it).
inline constexpr std::chrono::seconds kRelayStartGrace{30};

// What the controller knows of whether the webhook is called for the channel's namespace.
struct NamespaceInjection {
  // The label the webhook registration's namespaceSelector requires; nullopt: the check is off
  // and no InjectionEnabled condition is written.
  std::optional<api::NamespaceLabel> required;
  // Whether the namespace carries it; nullopt while the Namespace cache has not seen it.
  std::optional<bool> labelled;
};

struct ChannelReport {
  api::IpcChannelStatus status;
  // The selected, injected, live Pods: the ones whose relay serves the channel (for the
  // RelayRestarted Events).
  std::vector<PodPtr> relay_pods;
  // Set while a relay is within kRelayStartGrace: when its grace ends, the status must be computed
  // again (a relay that merely stays unready brings no Pod event).
  std::optional<std::chrono::nanoseconds> recompute_after;
};

// The status the channel should have. `previous` supplies lastTransitionTime for conditions
// whose status did not change (metav1 SetStatusCondition semantics); `now` is written as their
// lastTransitionTime and judges how long a relay has been starting.
ChannelReport compute_status(const api::ChannelRecord& channel,
                             const std::vector<ChannelMember>& members,
                             const api::IpcChannelStatus& previous,
                             std::chrono::system_clock::time_point now,
                             const NamespaceInjection& injection = {});

struct ReconcileResult {
  bool status_written = false;
  std::optional<std::chrono::nanoseconds> requeue_after;
};

class IpcChannelReconciler {
 public:
  // `injection_label`: the label namespaces need for the webhook to be called (the operator's
  // --namespace-label); nullopt turns the InjectionEnabled condition off. `pacer`, when given,
  // learns of every status write (connect_informers paces Pod events with it).
  IpcChannelReconciler(ChannelApi& api, kube::Clock& clock,
                       std::optional<api::NamespaceLabel> injection_label = std::nullopt,
                       StatusPacer* pacer = nullptr)
      : api_(api), clock_(clock), injection_label_(std::move(injection_label)), pacer_(pacer) {}
  // Throws on a failed status write (the caller requeues with rate limiting).
  ReconcileResult reconcile(const std::string& key);

 private:
  // Records a RelayRestarted Event for each relay of `pods` whose restartCount rose since the last
  // reconcile of `key`, and remembers the counts (forgetting Pods no longer in `pods`).
  void report_relay_restarts(const std::string& key, const api::ChannelRecord& channel,
                             const std::vector<PodPtr>& pods);
  // The status to compare with: the cached one, or the one this reconciler wrote last when the
  // cache has not seen that write yet (so a reconcile right after a write neither writes the same
  // status again nor repeats its Events).
  api::IpcChannelStatus previous_status(const std::string& key, const api::ChannelRecord& channel);

  ChannelApi& api_;
  kube::Clock& clock_;
  std::optional<api::NamespaceLabel> injection_label_;
  StatusPacer* pacer_;
  struct Written {
    std::string over_version;  // the cached resourceVersion the write was computed from
    api::IpcChannelStatus status;
  };
  std::mutex written_mutex_;
  std::unordered_map<std::string, Written> written_;
  // Channel key -> Pod uid -> the relay's restartCount at the last reconcile. In memory only: the
  // first sighting after an operator start (or a leader change) is a baseline without an Event,
  // so a restart during that gap shows in the status but gets no Event.
  std::mutex restart_counts_mutex_;  // workers reconcile different channels at once
  std::unordered_map<std::string, std::unordered_map<std::string, std::int32_t>> restart_counts_;
};

}  // namespace ipcmesh::controller
