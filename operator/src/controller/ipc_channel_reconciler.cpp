#include "controller/ipc_channel_reconciler.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>

#include "api/injection_status.hpp"
#include "kube/kube_client.hpp"

namespace ipcmesh::controller {
namespace {

std::string not_enabled_message(const std::string& ns, const std::string& label) {
  return "namespace \"" + ns + "\" is not labelled " + label +
         ", so the webhook is not called for its Pods: kubectl label namespace " + ns + " " + label;
}

std::string list_some(const std::vector<std::string>& names) {
  constexpr std::size_t kShown = 5;
  std::string out;
  for (std::size_t i = 0; i < names.size() && i < kShown; ++i) {
    out += (i == 0 ? "" : ", ") + names[i];
  }
  if (names.size() > kShown) out += " and " + std::to_string(names.size() - kShown) + " more";
  return out;
}

// Whether a Pod's relay serves the channel, is still starting, or is failing.
enum class RelayHealth { kReady, kStarting, kFailing };

struct RelayAssessment {
  RelayHealth health = RelayHealth::kStarting;
  // kStarting within kRelayStartGrace: how much of it is left.
  std::optional<std::chrono::nanoseconds> grace_left;
};

// Waiting reasons of a container the kubelet is still creating (kubelet's
// kuberuntime_container.go and status_manager): a start, not a failure. Every other reason
// (CrashLoopBackOff, ImagePullBackOff, ErrImagePull, CreateContainerConfigError, ...) is.
bool is_creating(std::string_view waiting_reason) {
  return waiting_reason.empty() || waiting_reason == "ContainerCreating" ||
         waiting_reason == "PodInitializing";
}

RelayAssessment assess_relay(const api::RelayContainerStatus* relay,
                             std::chrono::system_clock::time_point now) {
  using State = api::RelayContainerStatus::State;
  // No status yet: the Pod is not scheduled, or its kubelet has not reported the container.
  if (!relay) return {RelayHealth::kStarting, std::nullopt};
  if (relay->ready) return {RelayHealth::kReady, std::nullopt};
  // Down after a crash, or crash-looping: reported at once.
  if (relay->restart_count > 0) return {RelayHealth::kFailing, std::nullopt};
  switch (relay->state) {
    case State::kNone:
      return {RelayHealth::kStarting, std::nullopt};
    case State::kWaiting:
      return {is_creating(relay->reason) ? RelayHealth::kStarting : RelayHealth::kFailing,
              std::nullopt};
    case State::kTerminated:
      return {RelayHealth::kFailing, std::nullopt};
    case State::kRunning:
      break;
  }
  if (relay->started_at == 0) return {RelayHealth::kFailing, std::nullopt};  // start unknown
  // startedAt is the node's clock, `now` the operator's: NTP keeps them well within the grace.
  const std::chrono::system_clock::time_point started{std::chrono::seconds(relay->started_at)};
  const auto left = started + kRelayStartGrace - now;
  if (left <= std::chrono::system_clock::duration::zero()) {
    return {RelayHealth::kFailing, std::nullopt};
  }
  return {RelayHealth::kStarting, std::chrono::duration_cast<std::chrono::nanoseconds>(left)};
}

std::string describe_termination(const api::ContainerTermination& ended) {
  return (ended.reason.empty() ? "" : ended.reason + ", ") + "exit code " +
         std::to_string(ended.exit_code);
}

// What a failing relay does, after its Pod's name:
// "app-a (relay restarted 3 times, last exit: Error, exit code 1; waiting: CrashLoopBackOff)".
std::string describe_failing_relay(const api::PodRecord& pod) {
  using State = api::RelayContainerStatus::State;
  const api::RelayContainerStatus& relay = *pod.relay;
  std::string history = "relay";
  if (relay.restart_count > 0) {
    history += " restarted " + std::to_string(relay.restart_count) +
               (relay.restart_count == 1 ? " time" : " times");
    if (relay.last_termination) {
      history += ", last exit: " + describe_termination(*relay.last_termination);
    }
    history += ";";
  }
  std::string now;
  switch (relay.state) {
    case State::kWaiting:
      now = relay.reason.empty() ? "waiting" : "waiting: " + relay.reason;
      break;
    case State::kTerminated:
      now = "terminated: " + describe_termination({relay.reason, relay.exit_code});
      break;
    case State::kRunning:
      // Never ready kRelayStartGrace after its start, or its readinessProbe failed later (a
      // channel broke under it, e.g. a ring truncated by a foreign writer).
      now = "running, not ready";
      break;
    case State::kNone:
      now = "not ready";
      break;
  }
  return pod.name + " (" + history + " " + now + ")";
}

// `value`: "True", "False" or "Unknown".
api::Condition condition_with_status(std::string_view type, std::string_view value,
                                     std::string_view reason, std::string message,
                                     std::int64_t generation, const api::IpcChannelStatus& previous,
                                     const std::string& now) {
  api::Condition out{std::string(type),  std::string(value), std::string(reason),
                     std::move(message), generation,         now};
  if (const auto* old = previous.find_condition(type);
      old && old->status == out.status && !old->last_transition_time.empty()) {
    out.last_transition_time = old->last_transition_time;
  }
  return out;
}

api::Condition condition(std::string_view type, bool value, std::string_view reason,
                         std::string message, std::int64_t generation,
                         const api::IpcChannelStatus& previous, const std::string& now) {
  return condition_with_status(type, value ? "True" : "False", reason, std::move(message),
                               generation, previous, now);
}

// The InjectionEnabled condition, or nullopt when the operator does not check a label. The
// webhook registration's namespaceSelector decides which namespaces the API server calls the
// webhook for; the operator cannot read that from the registration, so it is told the label (its
// --namespace-label, which must match the registration's).
std::optional<api::Condition> injection_condition(const std::string& ns,
                                                  const NamespaceInjection& injection,
                                                  std::int64_t generation,
                                                  const api::IpcChannelStatus& previous,
                                                  const std::string& now) {
  if (!injection.required) return std::nullopt;
  const std::string label = injection.required->text();
  if (!injection.labelled) {
    // Not in the cache yet (a namespace and its channel applied together): its ADDED event
    // re-queues the channel. Unknown rather than a false alarm.
    return condition_with_status(
        api::kConditionInjectionEnabled, "Unknown", kReasonNamespaceNotObserved,
        "the operator has not seen namespace \"" + ns + "\" yet", generation, previous, now);
  }
  if (*injection.labelled) {
    return condition(
        api::kConditionInjectionEnabled, true, kReasonNamespaceEnabled,
        "namespace \"" + ns + "\" is labelled " + label + ", so the webhook is called for its Pods",
        generation, previous, now);
  }
  return condition(api::kConditionInjectionEnabled, false, kReasonNamespaceNotEnabled,
                   not_enabled_message(ns, label), generation, previous, now);
}

}  // namespace

ChannelReport compute_status(const api::ChannelRecord& channel,
                             const std::vector<ChannelMember>& members,
                             const api::IpcChannelStatus& previous,
                             std::chrono::system_clock::time_point wall_now,
                             const NamespaceInjection& injection) {
  const std::string& ns = channel.metadata.namespace_name;
  const std::string now = kube::format_time(wall_now);
  ChannelReport report;
  api::IpcChannelStatus& status = report.status;
  status.observed_generation = channel.metadata.generation;

  std::vector<std::string> missing;         // selected, no record of this channel
  std::vector<std::string> outdated;        // selected, a record of an older channel
  std::vector<std::string> failing_relays;  // selected, injected: "name (what the relay does)"
  for (const auto& [pod, selected, injected] : members) {
    if (!pod || !api::is_live(*pod)) continue;
    if (injected) ++status.injected_pods;
    if (!selected) continue;
    ++status.selected_pods;
    if (!injected) {
      missing.push_back(pod->name);
      continue;
    }
    if (api::injection_is_outdated(*injected, channel.metadata)) outdated.push_back(pod->name);
    // An outdated relay still serves the channel (an older spec of it): its health counts too.
    report.relay_pods.push_back(pod);
    const RelayAssessment relay = assess_relay(pod->relay.get(), wall_now);
    if (relay.health == RelayHealth::kFailing) {
      failing_relays.push_back(describe_failing_relay(*pod));
    }
    if (relay.grace_left &&
        (!report.recompute_after || *relay.grace_left < *report.recompute_after)) {
      report.recompute_after = relay.grace_left;
    }
  }
  status.pending_restart_pods = static_cast<std::int32_t>(missing.size() + outdated.size());
  const std::string selected_text = std::to_string(status.selected_pods);
  const std::string relays_failing =
      failing_relays.empty()
          ? ""
          : "the relay is not ready in " + std::to_string(failing_relays.size()) + " of " +
                selected_text + " selected Pods: " + list_some(failing_relays);
  const std::string outdated_text =
      std::to_string(outdated.size()) +
      " Pods run an older generation of this channel: " + list_some(outdated);

  const auto gen = channel.metadata.generation;
  if (!channel.valid()) {
    status.conditions.push_back(condition(api::kConditionReady, false, kReasonInvalidSpec,
                                          channel.spec_error, gen, previous, now));
    status.conditions.push_back(condition(api::kConditionDegraded, true, kReasonInvalidSpec,
                                          channel.spec_error, gen, previous, now));
    if (auto enabled = injection_condition(ns, injection, gen, previous, now)) {
      status.conditions.push_back(std::move(*enabled));
    }
    return report;
  }
  if (injection.required && injection.labelled == false) {
    // Ready is False too: Pods created now do not get the channel, whatever their count, and
    // PodsPendingRestart would send the user restarting Pods that the webhook never sees.
    status.conditions.push_back(condition(api::kConditionReady, false, kReasonNamespaceNotEnabled,
                                          not_enabled_message(ns, injection.required->text()), gen,
                                          previous, now));
  } else if (!failing_relays.empty()) {
    // Before PodsPendingRestart: the channel is down in those Pods now, a restart can wait.
    std::string message = relays_failing;
    if (status.pending_restart_pods > 0) {
      message += "; also " + std::to_string(status.pending_restart_pods) + " of " + selected_text +
                 " selected Pods need a restart to get the current channel";
    }
    status.conditions.push_back(condition(api::kConditionReady, false, kReasonRelayNotReady,
                                          std::move(message), gen, previous, now));
  } else if (status.selected_pods == 0) {
    status.conditions.push_back(condition(api::kConditionReady, true, kReasonNoPodsSelected,
                                          "no Pod selects this channel yet", gen, previous, now));
  } else if (status.pending_restart_pods == 0) {
    status.conditions.push_back(condition(
        api::kConditionReady, true, kReasonAllPodsInjected,
        "all " + std::to_string(status.selected_pods) + " selected Pods carry the current channel",
        gen, previous, now));
  } else {
    std::vector<std::string> pending = missing;
    pending.insert(pending.end(), outdated.begin(), outdated.end());
    status.conditions.push_back(condition(
        api::kConditionReady, false, kReasonPodsPendingRestart,
        std::to_string(status.pending_restart_pods) + " of " +
            std::to_string(status.selected_pods) +
            " selected Pods need a restart (delete them or roll their workload) to get the "
            "current channel: " +
            list_some(pending),
        gen, previous, now));
  }
  // One Degraded condition: a failing relay is the more urgent reason (the channel is down in
  // that Pod now); an outdated injection still works on the spec it was made for.
  if (!failing_relays.empty()) {
    status.conditions.push_back(condition(
        api::kConditionDegraded, true, kReasonRelayNotReady,
        relays_failing + (outdated.empty() ? "" : "; also " + outdated_text), gen, previous, now));
  } else if (!outdated.empty()) {
    status.conditions.push_back(condition(api::kConditionDegraded, true, kReasonOutdatedInjection,
                                          outdated_text, gen, previous, now));
  } else {
    status.conditions.push_back(condition(
        api::kConditionDegraded, false, kReasonAsExpected,
        "the channel is valid, no selected Pod's relay is failing and no Pod runs an outdated copy",
        gen, previous, now));
  }
  if (auto enabled = injection_condition(ns, injection, gen, previous, now)) {
    status.conditions.push_back(std::move(*enabled));
  }
  return report;
}

api::IpcChannelStatus IpcChannelReconciler::previous_status(const std::string& key,
                                                            const api::ChannelRecord& channel) {
  std::lock_guard lock(written_mutex_);
  const auto it = written_.find(key);
  if (it == written_.end()) return channel.status;
  if (it->second.over_version == channel.metadata.resource_version) return it->second.status;
  written_.erase(it);  // the cache has caught up (or someone else wrote): it is the truth now
  return channel.status;
}

ReconcileResult IpcChannelReconciler::reconcile(const std::string& key) {
  ReconcileResult result;
  const ChannelPtr channel = api_.channel(key);
  if (!channel) {  // deleted: nothing to report on, Events go with it
    std::scoped_lock lock(restart_counts_mutex_, written_mutex_);
    restart_counts_.erase(key);
    written_.erase(key);
    if (pacer_) pacer_->forget(key);
    return result;
  }
  const api::IpcChannelStatus previous = previous_status(key, *channel);
  NamespaceInjection injection;
  if (injection_label_) {
    injection.required = injection_label_;
    if (const NamespacePtr record = api_.namespace_record(channel->metadata.namespace_name)) {
      injection.labelled = record->has(*injection_label_);
    }
  }
  const ChannelReport report =
      compute_status(*channel, api_.members(key), previous, clock_.wall_now(), injection);
  result.requeue_after = report.recompute_after;
  // Before the status write: a failed write is retried, and the restarts are reported once.
  report_relay_restarts(key, *channel, report.relay_pods);
  const api::IpcChannelStatus& status = report.status;
  if (status == previous) return result;
  // The pacer's window holds here too: a Pod event that arrived while this key was being
  // reconciled re-queues it at once (the queue's dirty set), and must not make a second write.
  if (pacer_) {
    if (const auto wait = pacer_->delay(key); wait > std::chrono::nanoseconds::zero()) {
      if (!result.requeue_after || wait < *result.requeue_after) result.requeue_after = wait;
      return result;
    }
  }

  if (!api_.write_status(*channel, status)) return result;  // deleted, or created anew: its events
  result.status_written = true;
  if (pacer_) pacer_->wrote(key);
  {
    std::lock_guard lock(written_mutex_);
    written_[key] = {channel->metadata.resource_version, status};
  }
  spdlog::info("reconciled {}: selected {} injected {} pending restart {}", key,
               status.selected_pods, status.injected_pods, status.pending_restart_pods);

  std::vector<std::string> reported;  // one Event per reason (Ready repeats NamespaceNotEnabled)
  for (const auto& now : status.conditions) {
    const auto* before = previous.find_condition(now.type);
    if (before && before->status == now.status && before->reason == now.reason) continue;
    const bool bad = (now.type == api::kConditionReady && now.status == "False") ||
                     (now.type == api::kConditionDegraded && now.status == "True") ||
                     (now.type == api::kConditionInjectionEnabled && now.status == "False");
    if (!before && !bad) continue;  // the first healthy status is not news
    if (std::find(reported.begin(), reported.end(), now.reason) != reported.end()) continue;
    reported.push_back(now.reason);
    api_.record_event(*channel, bad ? kube::EventType::kWarning : kube::EventType::kNormal,
                      now.reason, now.type + "=" + now.status + ": " + now.message);
  }
  return result;
}

void IpcChannelReconciler::report_relay_restarts(const std::string& key,
                                                 const api::ChannelRecord& channel,
                                                 const std::vector<PodPtr>& pods) {
  std::unordered_map<std::string, std::int32_t> counts;
  struct Restart {
    std::string note;  // the Event's: the same for every restart of a Pod ending the same way
    std::string counts;
  };
  std::vector<Restart> restarts;
  {
    std::lock_guard lock(restart_counts_mutex_);
    auto& seen = restart_counts_[key];
    for (const auto& pod : pods) {
      const std::int32_t count = pod->relay ? pod->relay->restart_count : 0;
      const std::string& id = pod->uid.empty() ? pod->name : pod->uid;
      counts[id] = count;
      const auto before = seen.find(id);
      if (before == seen.end() || count <= before->second) continue;  // baseline, or no restart
      // The counts stay out of the note: repeated restarts are then one Event series whose
      // count grows (the status message has the restart count).
      std::string note = "the relay of Pod " + pod->name + " restarted";
      if (pod->relay->last_termination) {
        note += " (last exit: " + describe_termination(*pod->relay->last_termination) + ")";
      }
      restarts.push_back({std::move(note), "restart count " + std::to_string(before->second) +
                                               " -> " + std::to_string(count)});
    }
    seen = std::move(counts);  // Pods gone or no longer selected are forgotten
  }
  for (const auto& restart : restarts) {
    spdlog::warn("{}: {}, {}", key, restart.note, restart.counts);
    api_.record_event(channel, kube::EventType::kWarning, std::string(kEventRelayRestarted),
                      restart.note);
  }
}

}  // namespace ipcmesh::controller
