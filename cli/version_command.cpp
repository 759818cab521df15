// ipcmeshctl version: the client's version, the operator's (its Deployment's
// app.kubernetes.io/version, found by the chart's labels in any namespace) and the relays' (the
// image tag of each injected Pod's relay container), with a warning when they differ: the
// operator injects the relay of its own release, and ipcmeshctl reads both.
#include <filesystem>
#include <map>
#include <ostream>

#include "api/pod_record.hpp"
#include "cluster_commands.hpp"
#include "cluster_objects.hpp"
#include "operator_discovery.hpp"
#include "webhook/pod_json.hpp"
#include "yaml_documents.hpp"

namespace ipcmesh::cli {
namespace {

using nlohmann::json;

struct ClusterVersions {
  std::vector<OperatorDeployment> operators;
  std::string operator_error;             // why operators could not be listed
  std::map<std::string, int> relay_pods;  // relay version -> injected live Pods running it
  std::string relay_error;
  std::vector<std::string> warnings;
};

// The relay's version in an injected Pod: its image tag, else the injector's version recorded
// in ipcmesh.io/status.
std::string relay_version_of(const PodObject& pod) {
  const json* relay = relay_container(pod.object);
  const std::string tag =
      relay ? image_tag(webhook::pod_json::string_member(*relay, "image")) : std::string();
  if (!tag.empty()) return tag;
  const auto record = api::parse_injection_status(pod.record->annotation(kAnnotationStatus));
  return record && !record->version.empty() ? record->version : "unknown";
}

void read_relays(kube::KubeClient& api, ClusterVersions& versions) {
  try {
    for (const PodObject& pod : list_live_pods(api, "")) {
      if (pod.record->annotation(kAnnotationStatus).empty()) continue;
      ++versions.relay_pods[relay_version_of(pod)];
    }
  } catch (const kube::ApiError& error) {
    versions.relay_error = error.what();
  }
}

void add_skew_warnings(ClusterVersions& versions) {
  const std::string client = IPCMESH_VERSION;
  std::string reference = client;
  std::string reference_name = "ipcmeshctl";
  for (const auto& found : versions.operators) {
    if (found.version.empty() || found.version == client) continue;
    versions.warnings.push_back("version skew: ipcmeshctl is " + client + ", operator " +
                                found.namespace_name + "/" + found.name + " is " + found.version +
                                ": use the ipcmeshctl of the operator's release");
  }
  if (!versions.operators.empty() && !versions.operators.front().version.empty()) {
    reference = versions.operators.front().version;
    reference_name = "the operator";
  }
  for (const auto& [version, pods] : versions.relay_pods) {
    if (version == reference) continue;
    versions.warnings.push_back(
        "version skew: " + std::to_string(pods) + " injected Pod" + (pods == 1 ? "" : "s") +
        " run relay " + version + ", " + reference_name + " is " + reference +
        ": re-create them to get the current relay (ipcmeshctl why POD names the command)");
  }
}

ClusterVersions read_versions(kube::KubeClient& api) {
  ClusterVersions versions;
  try {
    versions.operators = find_operator_deployments(api);
  } catch (const kube::ApiError& error) {
    versions.operator_error = error.what();
  }
  read_relays(api, versions);
  add_skew_warnings(versions);
  return versions;
}

void print_text(const ClusterVersions& versions, std::ostream& out) {
  out << "ipcmeshctl " << IPCMESH_VERSION << "\n";
  if (!versions.operator_error.empty()) {
    out << "operator   unknown (" << versions.operator_error << ")\n";
  } else if (versions.operators.empty()) {
    out << "operator   not found (no Deployment labelled " << kOperatorSelector << ")\n";
  }
  for (const auto& found : versions.operators) {
    out << "operator   " << (found.version.empty() ? "unknown" : found.version) << " ("
        << found.namespace_name << "/" << found.name << ", image " << found.image << ")\n";
  }
  if (!versions.relay_error.empty()) {
    out << "relay      unknown (" << versions.relay_error << ")\n";
  } else if (versions.relay_pods.empty()) {
    out << "relay      none running (no injected Pod)\n";
  }
  for (const auto& [version, pods] : versions.relay_pods) {
    out << "relay      " << version << " (" << pods << " injected Pod" << (pods == 1 ? "" : "s")
        << ")\n";
  }
}

json versions_json(const ClusterVersions& versions) {
  json operators = json::array();
  for (const auto& found : versions.operators) {
    operators.push_back({{"namespace", found.namespace_name},
                         {"name", found.name},
                         {"version", found.version},
                         {"image", found.image}});
  }
  json relays = json::array();
  for (const auto& [version, pods] : versions.relay_pods) {
    relays.push_back({{"version", version}, {"pods", pods}});
  }
  json object = {{"client", IPCMESH_VERSION},
                 {"operators", operators},
                 {"relays", relays},
                 {"warnings", versions.warnings}};
  if (!versions.operator_error.empty()) object["operatorError"] = versions.operator_error;
  if (!versions.relay_error.empty()) object["relayError"] = versions.relay_error;
  return object;
}

}  // namespace

CLI::App* add_version_command(CLI::App& app, VersionArguments& arguments) {
  CLI::App* command =
      app.add_subcommand("version", "print the client's, the operator's and the relays' versions");
  command_line::apply_conventions(*command);
  command->add_flag("--client", arguments.client_only, "the client's version only (no cluster)");
  command_line::add_output_option(*command, arguments.cluster.output, {"json", "yaml"})
      ->description("json or yaml: {client, operators, relays, warnings}");
  add_connection_flags(*command, arguments.cluster);
  command->footer(
      "The first line is always \"ipcmeshctl VERSION\". Without any kubeconfig or service\n"
      "account only that line is printed. A version skew is a warning on stderr.\n"
      "Exit codes: 0 ok (skew warnings included), 1 failure (the API server cannot be\n"
      "reached, or it refused a read: that line says unknown), 2 usage.");
  return command;
}

namespace {

// The client's own version, in the format asked for.
void print_client(const std::string& format, std::ostream& out) {
  const json object = {{"client", IPCMESH_VERSION}};
  if (format == "json") {
    out << object.dump(2) << "\n";
  } else if (format == "yaml") {
    out << documents_to_yaml({object});
  } else {
    out << "ipcmeshctl " << IPCMESH_VERSION << "\n";
  }
}

}  // namespace

int run_version(const VersionArguments& arguments, ClusterAccess* cluster, std::ostream& out,
                std::ostream& err) {
  const std::string& format = arguments.cluster.output;
  const bool structured = format == "json" || format == "yaml";
  if (arguments.client_only || cluster == nullptr) {
    print_client(format, out);
    return command_line::kExitOk;
  }
  try {
    const ClusterVersions versions = read_versions(cluster->api);
    if (structured) {
      const json object = versions_json(versions);
      out << (format == "yaml" ? documents_to_yaml({object}) : object.dump(2) + "\n");
    } else {
      print_text(versions, out);
    }
    for (const auto& warning : versions.warnings) err << "WARNING: " << warning << "\n";
    // A script asking for the versions must not take "unknown" for an answer.
    bool unread = false;
    for (const std::string* what : {&versions.operator_error, &versions.relay_error}) {
      if (what->empty()) continue;
      err << "ipcmeshctl version: " << *what << "\n";
      unread = true;
    }
    return unread ? command_line::kExitFailure : command_line::kExitOk;
  } catch (const std::exception& error) {
    print_client(format, out);  // the client's own version still goes out
    err << "ipcmeshctl version: " << describe_failure(error, cluster->server) << "\n";
    return command_line::kExitFailure;
  }
}

namespace {

// Whether the user has a cluster configured, usable or not: a kubeconfig file on the search path,
// or a Pod's service-account token. Every Pod has KUBERNETES_SERVICE_HOST; one with
// automountServiceAccountToken: false has no token, and nothing configured.
bool cluster_configured(const ClusterFlags& flags, const kube::Environment& environment) {
  if (!flags.kubeconfig.empty() || !flags.context.empty()) return true;
  std::error_code ignored;
  if (kube::running_in_cluster(environment) &&
      std::filesystem::exists(std::filesystem::path(kube::kServiceAccountDir) / "token", ignored)) {
    return true;
  }
  return kube::any_kubeconfig_file(environment);
}

}  // namespace

int run_version_command(const VersionArguments& arguments, const kube::Environment& environment,
                        std::ostream& out, std::ostream& err) {
  if (arguments.client_only) return run_version(arguments, nullptr, out, err);
  std::unique_ptr<ClusterSession> session;
  try {
    session = ClusterSession::open(arguments.cluster, environment);
  } catch (const std::exception& error) {
    if (cluster_configured(arguments.cluster, environment)) {
      print_client(arguments.cluster.output, out);  // the client's own version still goes out
      err << "ipcmeshctl version: " << error.what() << "\n";
      return command_line::kExitFailure;
    }
    err << "ipcmeshctl version: no cluster (" << error.what() << ")\n";
    return run_version(arguments, nullptr, out, err);
  }
  ClusterAccess access = session->access();
  return run_version(arguments, &access, out, err);
}

}  // namespace ipcmesh::cli
