// ipcmeshctl why POD: reads the Pod, its namespace, the namespace's channels and the operator's
// policy, asks the webhook's code what it decides (why_diagnosis.hpp), and prints the answer
// with the command that fixes it.
#include <ostream>

#include "cluster_commands.hpp"
#include "cluster_objects.hpp"
#include "operator_discovery.hpp"
#include "text_table.hpp"
#include "webhook/pod_json.hpp"
#include "why_diagnosis.hpp"
#include "yaml_documents.hpp"

namespace ipcmesh::cli {
namespace {

using nlohmann::json;
namespace pod_json = webhook::pod_json;

constexpr const char* kWhy = "ipcmeshctl why";

// The controller that owns the Pod (ownerReferences with controller: true), or nullptr.
const json* controller_of(const json& object) {
  const json* meta = pod_json::object_member(object, "metadata");
  const json* owners = meta ? pod_json::array_member(*meta, "ownerReferences") : nullptr;
  if (!owners) return nullptr;
  for (const json& owner : *owners) {
    if (pod_json::bool_member(owner, "controller")) return &owner;
  }
  return nullptr;
}

// Sets the workload `kubectl rollout restart` can roll (a ReplicaSet's Deployment, a
// StatefulSet, a DaemonSet) and whether a controller owns the Pod at all.
void find_workload(kube::KubeClient& api, const std::string& ns, WhyInputs& inputs) {
  const json* owner = controller_of(inputs.pod);
  inputs.bare = owner == nullptr;
  if (!owner) return;
  const std::string kind = pod_json::string_member(*owner, "kind");
  const std::string name = pod_json::string_member(*owner, "name");
  if (kind == "StatefulSet" || kind == "DaemonSet") {
    inputs.workload = (kind == "StatefulSet" ? "statefulset/" : "daemonset/") + name;
    return;
  }
  if (kind != "ReplicaSet") return;
  try {
    const auto replica_set = api.get_if_exists(kReplicaSets.in(ns).named(name));
    const json* deployment = replica_set ? controller_of(*replica_set) : nullptr;
    if (deployment && pod_json::string_member(*deployment, "kind") == "Deployment") {
      inputs.workload = "deployment/" + pod_json::string_member(*deployment, "name");
    }
  } catch (const kube::ApiError&) {
    // Not allowed to read ReplicaSets: the Pod is then deleted for its ReplicaSet to replace.
  }
}

std::optional<api::Labels> namespace_labels(kube::KubeClient& api, const std::string& ns) {
  try {
    const auto object = api.get_if_exists(kube::kNamespaces.named(ns));
    if (!object) return std::nullopt;
    const json* meta = pod_json::object_member(*object, "metadata");
    const json* labels = meta ? pod_json::object_member(*meta, "labels") : nullptr;
    auto parsed = api::labels_from_json(labels ? *labels : json(nullptr));
    return parsed ? std::optional<api::Labels>(std::move(*parsed)) : std::nullopt;
  } catch (const kube::ApiError&) {
    return std::nullopt;  // may not read Namespaces: the label check is left out
  }
}

WhyInputs gather(kube::KubeClient& api, const std::string& ns, const std::string& name) {
  WhyInputs inputs;
  const kube::ResourcePath path = kube::kPods.in(ns).named(name);
  inputs.pod = pod_object_from_json(api.get(path), "GET " + path.path()).object;
  inputs.namespace_labels = namespace_labels(api, ns);
  for (ChannelObject& channel : list_channels(api, ns)) {
    inputs.channels.push_back(std::move(channel.record));
  }
  inputs.policy = read_operator_policy(api);
  find_workload(api, ns, inputs);
  inputs.restart_command = restart_command(ns, name, inputs.workload, inputs.bare);
  return inputs;
}

json report_json(const WhyReport& report, const OperatorPolicy& policy) {
  json channels = json::array();
  for (const auto& channel : report.channels) {
    channels.push_back(
        {{"name", channel.name}, {"selectedBy", channel.how}, {"state", channel.state}});
  }
  return {{"pod", report.pod},         {"verdict", to_string(report.verdict)},
          {"why", report.explanation}, {"channels", channels},
          {"webhook", report.webhook}, {"policy", policy.source},
          {"notes", report.notes},     {"fix", report.fix}};
}

void print_report(const WhyReport& report, const OperatorPolicy& policy, std::ostream& out) {
  out << "Pod:       " << report.pod << "\n"
      << "Verdict:   " << to_string(report.verdict) << "\n"
      << "Why:       " << report.explanation << "\n"
      << "Webhook:   " << report.webhook << "\n"
      << "Policy:    " << policy.source << "\n";
  out << (report.channels.empty() ? "Channels:  none selects the Pod\n" : "Channels:\n");
  if (!report.channels.empty()) {
    TextTable table({"NAME", "SELECTED BY", "STATE"});
    for (const auto& channel : report.channels) {
      table.add_row({channel.name, channel.how, channel.state});
    }
    table.print(out, "  ");
  }
  for (const auto& note : report.notes) out << "Note:      " << note << "\n";
  out << "Fix:       " << (report.fix.empty() ? "nothing to run" : report.fix) << "\n";
}

}  // namespace

CLI::App* add_why_command(CLI::App& app, WhyArguments& arguments) {
  CLI::App* command =
      app.add_subcommand("why", "why a Pod is or is not injected, and the command that fixes it");
  command_line::apply_conventions(*command);
  command->add_option("POD", arguments.pod, "the Pod")->required();
  add_namespace_flag(*command, arguments.cluster);
  command_line::add_output_option(*command, arguments.cluster.output, {"json", "yaml"})
      ->description("json or yaml: the diagnosis as one object");
  add_connection_flags(*command, arguments.cluster);
  command->footer(
      "Runs the webhook's own decision code on the live Pod, its namespace's IpcChannels and\n"
      "the operator's policy (its ConfigMap when the operator is found), and the controller's\n"
      "rule for outdated and missing injections. Verdicts: injected, outdated, pending restart,\n"
      "namespace not enabled, opted out, excluded namespace, no channel, denied, not injected.\n"
      "Exit codes: 0 ok (whatever the verdict), 1 failure (Pod missing, cluster unreachable), "
      "2 usage.");
  return command;
}

int run_why(const WhyArguments& arguments, ClusterAccess& cluster, std::ostream& out,
            std::ostream& err) {
  try {
    const WhyInputs inputs = gather(cluster.api, cluster.namespace_name, arguments.pod);
    const WhyReport report = diagnose_pod(inputs);
    const std::string& format = arguments.cluster.output;
    if (format == "json" || format == "yaml") {
      const json object = report_json(report, inputs.policy);
      out << (format == "yaml" ? documents_to_yaml({object}) : object.dump(2) + "\n");
    } else {
      print_report(report, inputs.policy, out);
    }
    return command_line::kExitOk;
  } catch (const std::exception& error) {
    err << kWhy << ": " << describe_failure(error, cluster.server) << "\n";
    return command_line::kExitFailure;
  }
}

}  // namespace ipcmesh::cli
