// `ipcmeshctl why POD`: why a Pod is, or is not, injected, decided by the webhook's own code
// (webhook::select_channels and webhook::mutate_pod on the live Pod, its namespace's channels
// and the operator's policy) and the controller's rule for outdated and missing injections
// (api::injection_is_outdated). Nothing here re-implements a rule; it only says what those
// answers mean for this Pod and which command changes them. Pure: no I/O.
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "api/channel_record.hpp"
#include "api/namespace_record.hpp"
#include "webhook/pod_mutation.hpp"

namespace ipcmesh::cli {

// The webhook's settings as the operator in the cluster runs with them.
struct OperatorPolicy {
  webhook::MutationOptions mutation;
  // The label the webhook registration's namespaceSelector requires; nullopt: none.
  std::optional<api::NamespaceLabel> namespace_label = api::kDefaultInjectionLabel;
  std::string source = "the operator's defaults";  // where the policy was read, for the report
};

// What `why` knows of the Pod and its surroundings.
struct WhyInputs {
  nlohmann::json pod;
  // The Pod's namespace labels; nullopt when the Namespace could not be read.
  std::optional<api::Labels> namespace_labels;
  std::vector<api::ChannelRecord> channels;  // the channels of the Pod's namespace
  OperatorPolicy policy;
  // The command that re-creates the Pod so the webhook sees it again: rolls its workload, or
  // replaces a bare Pod (restart_command()).
  std::string restart_command;
  // The Pod's workload that `kubectl rollout restart` can roll ("deployment/web"), "" otherwise:
  // fixes then edit its Pod template.
  std::string workload;
  bool bare = true;  // no controller owns the Pod: fixes edit the Pod itself, then replace it
};

enum class Verdict {
  kInjected,             // carries every channel that selects it, current
  kOutdated,             // injected with an older generation (or uid) of a channel
  kPendingRestart,       // a channel selects it that it does not carry: it predates the channel
  kNamespaceNotEnabled,  // the webhook is not called for its namespace
  kOptedOut,             // ipcmesh.io/inject: "false"
  kExcludedNamespace,    // the operator never injects this namespace
  kNoChannel,            // no channel selects it
  kDenied,               // the webhook would refuse it now (policy, conflict, unknown channel)
  kNotInjected,          // left alone for another reason (malformed, a foreign relay container)
};
std::string_view to_string(Verdict verdict) noexcept;

struct SelectingChannel {
  std::string name;
  std::string how;    // "selector app=demo" or "annotation ipcmesh.io/channels"
  std::string state;  // current, outdated (generation 1 of 2), missing, invalid spec: ...
};

struct WhyReport {
  std::string pod;  // namespace/name
  Verdict verdict = Verdict::kNotInjected;
  std::vector<SelectingChannel> channels;
  std::string webhook;  // what the webhook decided (or would decide now) and why
  std::string explanation;
  std::vector<std::string> notes;  // further facts that matter (e.g. the namespace label)
  std::string fix;                 // the exact command; "" when there is nothing to fix
};

WhyReport diagnose_pod(const WhyInputs& inputs);

// `kubectl rollout restart KIND/NAME -n NS` for a workload; `kubectl delete pod` for a Pod
// another controller re-creates; for a bare Pod, the command that deletes it and creates it
// again from its own manifest.
std::string restart_command(const std::string& namespace_name, const std::string& pod,
                            const std::string& workload, bool bare);

}  // namespace ipcmesh::cli
