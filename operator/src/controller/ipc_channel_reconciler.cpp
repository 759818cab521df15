#include "controller/ipc_channel_reconciler.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>

#include "api/injection_status.hpp"
#include "kube/kube_client.hpp"

namespace ipcmesh::controller {
namespace {

// Terminating and finished Pods will never run the channel again: they are not counted.
bool is_live(const api::PodRecord& pod) {
  return !pod.terminating && pod.phase != "Succeeded" && pod.phase != "Failed";
}

// What the reconciler needs of a channel even when its spec does not parse.
struct ChannelView {
  std::string name;
  std::string uid;
  std::int64_t generation = 0;
  std::optional<api::LabelSelector> selector;
  std::optional<std::string> spec_error;
};

ChannelView view_of(const nlohmann::json& channel) {
  ChannelView view;
  const auto& metadata = channel.at("metadata");
  view.name = metadata.value("name", "");
  view.uid = metadata.value("uid", "");
  view.generation = metadata.value("generation", std::int64_t{0});
  const auto parsed = api::ipc_channel_from_json(channel);
  if (parsed) {
    view.selector = parsed->selector;
    return view;
  }
  view.spec_error = parsed.error().message;
  // An invalid channel still counts the Pods its selector would pick, so the user sees them.
  const auto spec = channel.find("spec");
  if (spec != channel.end() && spec->is_object() && spec->contains("selector") &&
      !(*spec)["selector"].is_null()) {
    if (auto selector = api::label_selector_from_json((*spec)["selector"], "spec.selector")) {
      view.selector = std::move(*selector);
    }
  }
  return view;
}

bool selects(const ChannelView& channel, const api::PodRecord& pod) {
  if (pod.annotation(kAnnotationInject) == "false") return false;
  if (channel.selector &&
      channel.selector->matches([&pod](std::string_view key) { return pod.label(key); })) {
    return true;
  }
  const auto names = api::split_channel_names(pod.annotation(kAnnotationChannels));
  return std::find(names.begin(), names.end(), channel.name) != names.end();
}

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

api::IpcChannelStatus compute_status(const nlohmann::json& channel, const std::vector<PodPtr>& pods,
                                     const api::IpcChannelStatus& previous, const std::string& now,
                                     const NamespaceInjection& injection) {
  const ChannelView view = view_of(channel);
  const std::string ns = channel.at("metadata").value("namespace", "");
  api::IpcChannelStatus status;
  status.observed_generation = view.generation;

  std::vector<std::string> missing;   // selected, no record of this channel
  std::vector<std::string> outdated;  // selected, a record of an older channel
  for (const auto& pod : pods) {
    if (!pod || !is_live(*pod)) continue;
    const bool selected = selects(view, *pod);
    std::optional<api::InjectedChannel> injected;
    if (const std::string_view record = pod->annotation(kAnnotationStatus); !record.empty()) {
      if (const auto parsed = api::parse_injection_status(record)) {
        if (const auto* entry = parsed->find_channel(view.name)) injected = *entry;
      }
    }
    if (injected) ++status.injected_pods;
    if (!selected) continue;
    ++status.selected_pods;
    if (!injected) {
      missing.push_back(pod->name);
    } else if (injected->generation < view.generation ||
               (!injected->uid.empty() && !view.uid.empty() && injected->uid != view.uid)) {
      outdated.push_back(pod->name);
    }
  }
  status.pending_restart_pods = static_cast<std::int32_t>(missing.size() + outdated.size());

  const auto gen = view.generation;
  if (view.spec_error) {
    status.conditions.push_back(condition(api::kConditionReady, false, kReasonInvalidSpec,
                                          *view.spec_error, gen, previous, now));
    status.conditions.push_back(condition(api::kConditionDegraded, true, kReasonInvalidSpec,
                                          *view.spec_error, gen, previous, now));
    if (auto enabled = injection_condition(ns, injection, gen, previous, now)) {
      status.conditions.push_back(std::move(*enabled));
    }
    return status;
  }
  if (injection.required && injection.labelled == false) {
    // Ready is False too: Pods created now do not get the channel, whatever their count, and
    // PodsPendingRestart would send the user restarting Pods that the webhook never sees.
    status.conditions.push_back(condition(api::kConditionReady, false, kReasonNamespaceNotEnabled,
                                          not_enabled_message(ns, injection.required->text()), gen,
                                          previous, now));
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
  if (!outdated.empty()) {
    status.conditions.push_back(
        condition(api::kConditionDegraded, true, kReasonOutdatedInjection,
                  std::to_string(outdated.size()) +
                      " Pods run an older generation of this channel: " + list_some(outdated),
                  gen, previous, now));
  } else {
    status.conditions.push_back(condition(api::kConditionDegraded, false, kReasonAsExpected,
                                          "the channel is valid and no Pod runs an outdated copy",
                                          gen, previous, now));
  }
  if (auto enabled = injection_condition(ns, injection, gen, previous, now)) {
    status.conditions.push_back(std::move(*enabled));
  }
  return status;
}

ReconcileResult IpcChannelReconciler::reconcile(const std::string& key) {
  ReconcileResult result;
  const kube::ObjectPtr channel = api_.channel(key);
  if (!channel) return result;  // deleted: nothing to report on, Events go with it
  const std::string ns = channel->at("metadata").value("namespace", "");

  api::IpcChannelStatus previous;
  if (const auto it = channel->find("status"); it != channel->end() && it->is_object()) {
    if (auto parsed = api::status_from_json(*it)) previous = std::move(*parsed);
  }
  NamespaceInjection injection;
  if (injection_label_) {
    injection.required = injection_label_;
    if (const NamespacePtr record = api_.namespace_record(ns)) {
      injection.labelled = record->has(*injection_label_);
    }
  }
  const api::IpcChannelStatus status = compute_status(
      *channel, api_.pods_in(ns), previous, kube::format_time(clock_.wall_now()), injection);
  if (status == previous) return result;

  api_.write_status(*channel, api::status_to_json(status));
  result.status_written = true;
  spdlog::info("reconciled {}: selected {} injected {} pending restart {}", key,
               status.selected_pods, status.injected_pods, status.pending_restart_pods);

  if (status.selected_pods != previous.selected_pods ||
      status.injected_pods != previous.injected_pods ||
      status.pending_restart_pods != previous.pending_restart_pods) {
    api_.record_event(*channel, kube::EventType::kNormal, "PodsChanged",
                      "selects " + std::to_string(status.selected_pods) +
                          " Pods: " + std::to_string(status.injected_pods) + " injected, " +
                          std::to_string(status.pending_restart_pods) + " pending restart");
  }
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

}  // namespace ipcmesh::controller
