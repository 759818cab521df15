#include "why_diagnosis.hpp"

#include <algorithm>

#include "cluster_commands.hpp"
#include "ipcmesh/channel_spec.hpp"
#include "webhook/pod_json.hpp"

namespace ipcmesh::cli {
namespace {

using nlohmann::json;
namespace pod_json = webhook::pod_json;

bool named_in_annotation(const json& pod, const std::string& channel) {
  const auto names = api::split_channel_names(pod_json::annotation(pod, kAnnotationChannels));
  return std::find(names.begin(), names.end(), channel) != names.end();
}

std::string how_selected(const json& pod, const api::ChannelRecord& channel) {
  if (named_in_annotation(pod, channel.metadata.name)) {
    return "annotation " + std::string(kAnnotationChannels);
  }
  return "selector " + selector_text(channel.selector);
}

std::string state_of(const api::ChannelRecord& channel, const api::InjectionStatus* record) {
  if (!channel.valid()) return "invalid spec (the webhook ignores it): " + channel.spec_error;
  const api::InjectedChannel* injected =
      record ? record->find_channel(channel.metadata.name) : nullptr;
  if (!injected) return record ? "missing (the Pod predates it)" : "not injected";
  if (api::injection_is_outdated(*injected, channel.metadata)) {
    return "outdated (injected generation " + std::to_string(injected->generation) +
           ", the channel is at " + std::to_string(channel.metadata.generation) + ")";
  }
  return "current (generation " + std::to_string(injected->generation) + ")";
}

// The channels that select the Pod: the valid ones exactly as the webhook selects them, and
// the invalid ones (which the webhook's catalog lacks) by their selector or the annotation.
std::vector<SelectingChannel> selecting_channels(const WhyInputs& in, const std::string& ns,
                                                 const std::vector<api::IpcChannel>& catalog,
                                                 const api::InjectionStatus* record) {
  const auto selection = webhook::select_channels(in.pod, ns, catalog);
  const api::Labels labels = pod_json::labels(in.pod);
  std::vector<SelectingChannel> out;
  for (const api::ChannelRecord& channel : in.channels) {
    const bool selected =
        channel.valid()
            ? std::any_of(selection.channels.begin(), selection.channels.end(),
                          [&](const auto* c) { return c->metadata.name == channel.metadata.name; })
            : named_in_annotation(in.pod, channel.metadata.name) ||
                  (channel.selector && channel.selector->matches(labels));
    if (selected) {
      out.push_back(
          {channel.metadata.name, how_selected(in.pod, channel), state_of(channel, record)});
    }
  }
  return out;
}

const api::ChannelRecord* find_channel(const WhyInputs& in, const std::string& name) {
  for (const auto& channel : in.channels) {
    if (channel.metadata.name == name) return &channel;
  }
  return nullptr;
}

std::string pod_meta(const json& pod, std::string_view key) {
  const json* meta = pod_json::object_member(pod, "metadata");
  return meta ? pod_json::string_member(*meta, key) : "";
}

std::string quoted_list(const std::vector<std::string>& names) {
  std::string text;
  for (const auto& name : names) text += (text.empty() ? "" : ", ") + name;
  return text;
}

}  // namespace

namespace {

struct Context {
  const WhyInputs& in;
  std::string ns;
  std::string name;
  std::vector<api::IpcChannel> catalog;  // the valid channels: what the webhook's cache holds
};

bool namespace_enabled(const Context& c) {
  const auto& label = c.in.policy.namespace_label;
  if (!label || !c.in.namespace_labels) return true;  // no check, or cannot tell
  const auto it = c.in.namespace_labels->find(label->key);
  return it != c.in.namespace_labels->end() && it->second == label->value;
}

std::string label_namespace_command(const Context& c) {
  return "kubectl label namespace " + c.ns + " " + c.in.policy.namespace_label->text();
}

// Edits what the webhook reads at creation (the Pod template, or the bare Pod), then re-creates.
std::string edit_then_restart(const Context& c, const std::string& template_patch,
                              const std::string& pod_edit) {
  if (!c.in.workload.empty()) {
    return "kubectl patch " + c.in.workload + " -n " + c.ns + " " + template_patch;
  }
  if (!c.in.bare) return "";  // another controller's template: no command we can name
  return pod_edit + " && " + c.in.restart_command;
}

// An injected Pod gets a new injection only as a new Pod. A workload's rollout makes one; a bare
// Pod's own JSON carries the old injection, which the webhook keeps (idempotency), so it must
// come from its manifest again.
std::string reinject_command(const Context& c) {
  if (!c.in.bare) return c.in.restart_command;
  return "kubectl delete pod " + c.name + " -n " + c.ns + " && kubectl apply -n " + c.ns +
         " -f POD-MANIFEST (the Pod's manifest, not its live JSON: that carries the old injection)";
}

void diagnose_injected(const Context& c, const api::InjectionStatus& record, WhyReport& report) {
  std::vector<std::string> injected;
  for (const auto& channel : record.channels) injected.push_back(channel.name);
  report.webhook = "injected at creation (operator " + record.version + ", " + record.sidecar +
                   " sidecar) with " + quoted_list(injected);
  std::vector<std::string> outdated, missing;
  for (const auto& channel : report.channels) {
    if (channel.state.starts_with("outdated")) outdated.push_back(channel.name);
    if (channel.state.starts_with("missing")) missing.push_back(channel.name);
  }
  for (const auto& channel : record.channels) {
    const auto* now = find_channel(c.in, channel.name);
    const bool selects = std::any_of(report.channels.begin(), report.channels.end(),
                                     [&](const auto& s) { return s.name == channel.name; });
    if (!now)
      report.notes.push_back("injected with IpcChannel " + channel.name +
                             ", which no longer exists");
    else if (!selects)
      report.notes.push_back("injected with IpcChannel " + channel.name +
                             ", which no longer selects it");
  }
  if (!namespace_enabled(c)) {
    report.notes.push_back(
        "namespace " + c.ns + " lacks the label " + c.in.policy.namespace_label->text() +
        ": Pods created from now on are not injected (" + label_namespace_command(c) + ")");
  }
  if (!outdated.empty()) {
    report.verdict = Verdict::kOutdated;
    report.explanation = "the Pod runs an older generation of " + quoted_list(outdated) +
                         ": the webhook injects a Pod once, when it is created";
    report.fix = reinject_command(c);
  } else if (!missing.empty()) {
    report.verdict = Verdict::kPendingRestart;
    report.explanation = quoted_list(missing) +
                         " selects the Pod but came after it was created: the webhook injects a "
                         "Pod once, when it is created";
    report.fix = reinject_command(c);
  } else {
    report.verdict = Verdict::kInjected;
    report.explanation = "the Pod carries the current generation of every channel that selects it";
  }
}

// The webhook would inject the Pod now, yet it is not injected: why was it not at creation?
void diagnose_missed(const Context& c, const webhook::MutationResult& result, WhyReport& report) {
  if (!namespace_enabled(c)) {
    report.verdict = Verdict::kNamespaceNotEnabled;
    report.explanation = "namespace " + c.ns + " is not labelled " +
                         c.in.policy.namespace_label->text() +
                         ", so the API server never calls the webhook for its Pods";
    report.fix = label_namespace_command(c) + " && " + c.in.restart_command;
    return;
  }
  report.verdict = Verdict::kPendingRestart;
  const std::string created = pod_meta(c.in.pod, "creationTimestamp");
  const auto pod_time = api::parse_kube_time(created);
  std::vector<std::string> newer;
  for (const auto& channel_name : result.channels) {
    const auto* channel = find_channel(c.in, channel_name);
    const auto channel_time =
        channel ? api::parse_kube_time(channel->metadata.creation_timestamp) : std::nullopt;
    if (pod_time && channel_time && *channel_time > *pod_time) newer.push_back(channel_name);
  }
  report.explanation =
      newer.empty()
          ? "the webhook would inject it now but did not when it was created: it was not called "
            "or did not answer (was the operator down? with failurePolicy Ignore such a Pod is "
            "admitted as it is)"
          : "the Pod was created at " + created + ", before IpcChannel " + quoted_list(newer) +
                ": the webhook injects a Pod only when it is created";
  report.fix = c.in.restart_command;
}

void diagnose_opted_out(const Context& c, WhyReport& report) {
  report.verdict = Verdict::kOptedOut;
  report.explanation =
      "the Pod opts out with the annotation " + std::string(kAnnotationInject) + ": \"false\"";
  report.fix = edit_then_restart(c,
                                 "--type=json -p "
                                 "'[{\"op\":\"remove\",\"path\":\"/spec/template/metadata/"
                                 "annotations/ipcmesh.io~1inject\"}]'",
                                 "kubectl annotate pod " + c.name + " -n " + c.ns + " " +
                                     std::string(kAnnotationInject) + "-");
}

// The fix names the first channel of the namespace (by name): the user may want another one,
// but the command is exact for that one.
void diagnose_no_channel(const Context& c, WhyReport& report) {
  report.verdict = Verdict::kNoChannel;
  const std::string channel = c.catalog.empty() ? "" : c.catalog.front().metadata.name;
  if (channel.empty()) {
    report.explanation =
        "namespace " + c.ns + " has no valid IpcChannel (kubectl get ipch -n " + c.ns + ")";
    return;
  }
  report.explanation = "no IpcChannel of namespace " + c.ns +
                       " selects the Pod by its labels, and its " +
                       std::string(kAnnotationChannels) + " annotation names none";
  report.fix = edit_then_restart(
      c,
      "--type=merge -p "
      "'{\"spec\":{\"template\":{\"metadata\":{\"annotations\":{\"ipcmesh.io/channels\":\"" +
          channel + "\"}}}}}'",
      "kubectl annotate pod " + c.name + " -n " + c.ns + " " + std::string(kAnnotationChannels) +
          "=" + channel);
}

void diagnose_not_injected(const Context& c, WhyReport& report) {
  const webhook::MutationResult result =
      webhook::mutate_pod(c.in.pod, c.ns, c.catalog, c.in.policy.mutation);
  report.webhook = std::string(webhook::to_string(result.outcome)) + " (" + result.reason + ")" +
                   (result.message.empty() ? "" : ": " + result.message);
  if (result.outcome == webhook::MutationOutcome::kMutated && result.reason == "injected") {
    report.webhook = "would inject " + quoted_list(result.channels) + " (injected)";
    diagnose_missed(c, result, report);
    return;
  }
  if (result.outcome == webhook::MutationOutcome::kDenied) {
    report.verdict = Verdict::kDenied;
    report.explanation =
        "the webhook refuses this Pod (" + result.reason + "); its message says what to change";
  } else if (result.reason == "excluded-namespace") {
    report.verdict = Verdict::kExcludedNamespace;
    report.explanation = "the operator never injects namespace " + c.ns +
                         " (system namespaces, its own, and its excludedNamespaces): run the "
                         "workload in another namespace";
  } else if (result.reason == "opted-out") {
    diagnose_opted_out(c, report);
  } else if (result.reason == "no-channel") {
    diagnose_no_channel(c, report);
  } else {
    report.verdict = Verdict::kNotInjected;
    report.explanation = "the webhook leaves the Pod alone: " + result.message;
  }
  if (!namespace_enabled(c) && report.verdict != Verdict::kExcludedNamespace) {
    report.notes.push_back("namespace " + c.ns + " also lacks the label " +
                           c.in.policy.namespace_label->text() + " (" + label_namespace_command(c) +
                           ")");
  }
}

}  // namespace

std::string_view to_string(Verdict verdict) noexcept {
  switch (verdict) {
    case Verdict::kInjected:
      return "injected";
    case Verdict::kOutdated:
      return "outdated";
    case Verdict::kPendingRestart:
      return "pending restart";
    case Verdict::kNamespaceNotEnabled:
      return "namespace not enabled";
    case Verdict::kOptedOut:
      return "opted out";
    case Verdict::kExcludedNamespace:
      return "excluded namespace";
    case Verdict::kNoChannel:
      return "no channel";
    case Verdict::kDenied:
      return "denied";
    case Verdict::kNotInjected:
      return "not injected";
  }
  return "unknown";
}

std::string restart_command(const std::string& namespace_name, const std::string& pod,
                            const std::string& workload, bool bare) {
  if (!workload.empty()) return "kubectl rollout restart " + workload + " -n " + namespace_name;
  if (!bare) return "kubectl delete pod " + pod + " -n " + namespace_name;
  return "kubectl get pod " + pod + " -n " + namespace_name +
         " -o json | kubectl replace --force -f -";
}

WhyReport diagnose_pod(const WhyInputs& in) {
  Context c{in, pod_meta(in.pod, "namespace"), pod_meta(in.pod, "name"), {}};
  if (c.ns.empty()) c.ns = "default";
  for (const auto& channel : in.channels) {
    if (channel.channel) c.catalog.push_back(*channel.channel);
  }
  WhyReport report;
  report.pod = c.ns + "/" + c.name;
  const std::string status_text = pod_json::annotation(in.pod, kAnnotationStatus);
  std::optional<api::InjectionStatus> record;
  if (!status_text.empty()) {
    auto parsed = api::parse_injection_status(status_text);
    if (parsed) {
      record = std::move(*parsed);
    } else {
      report.notes.push_back("its " + std::string(kAnnotationStatus) +
                             " annotation does not parse: " + parsed.error().message);
    }
  }
  report.channels = selecting_channels(in, c.ns, c.catalog, record ? &*record : nullptr);
  if (record) {
    diagnose_injected(c, *record, report);
  } else {
    diagnose_not_injected(c, report);
  }
  return report;
}

}  // namespace ipcmesh::cli
