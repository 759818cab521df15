#include "inject_command.hpp"

#include <iostream>
#include <nlohmann/json.hpp>
#include <regex>
#include <stdexcept>

#include "api/ipc_channel.hpp"
#include "manifest_files.hpp"
#include "yaml_documents.hpp"

namespace ipcmesh::cli {
namespace {

using nlohmann::json;
using webhook::MutationOutcome;

// "1.30", "v1.30.2", "30" -> 30.
bool parse_minor(const std::string& text, int& minor) {
  static const std::regex pattern("v?(?:1\\.)?([0-9]{1,3})(?:\\.[0-9]+)?\\+?");
  std::smatch match;
  if (!std::regex_match(text, match, pattern)) return false;
  minor = std::stoi(match[1].str());
  return true;
}

std::string namespace_of(const json& object, const std::string& fallback) {
  if (object.contains("metadata") && object["metadata"].is_object()) {
    const auto& meta = object["metadata"];
    if (meta.contains("namespace") && meta["namespace"].is_string() &&
        !meta["namespace"].get<std::string>().empty()) {
      return meta["namespace"].get<std::string>();
    }
  }
  return fallback;
}

// A string member, or `fallback` when it is absent or not a string (json::value() would throw
// on a mistyped member, and these are the user's files).
std::string string_member(const json& object, const char* key, std::string fallback = "") {
  const auto it = object.find(key);
  return it != object.end() && it->is_string() ? it->get<std::string>() : fallback;
}

// The Pod template inside a workload, or nullptr for kinds we do not inject.
json* pod_template(json& object) {
  const std::string kind = string_member(object, "kind");
  auto path = [&](std::initializer_list<const char*> keys) -> json* {
    json* node = &object;
    for (const char* key : keys) {
      if (!node->is_object() || !node->contains(key) || !(*node)[key].is_object()) return nullptr;
      node = &(*node)[key];
    }
    return node;
  };
  if (kind == "Deployment" || kind == "StatefulSet" || kind == "DaemonSet" ||
      kind == "ReplicaSet" || kind == "Job") {
    return path({"spec", "template"});
  }
  if (kind == "CronJob") return path({"spec", "jobTemplate", "spec", "template"});
  return nullptr;
}

std::string joined(const std::vector<std::string>& items) {
  std::string text;
  for (const auto& item : items) text += (text.empty() ? "" : ", ") + item;
  return text;
}

}  // namespace

CLI::App* add_inject_command(CLI::App& app, InjectArguments& arguments) {
  CLI::App* command = app.add_subcommand(
      "inject", "print the Pods and workloads the admission webhook would produce");
  command_line::apply_conventions(*command);
  command->footer(
      "Prints the Pods and workloads (Pod, Deployment, StatefulSet, DaemonSet, ReplicaSet, Job,\n"
      "CronJob) of -f as the ipcmesh webhook would inject them; other objects pass through.\n"
      "Objects without a namespace (workloads and channels) are taken to be in --namespace.\n\n"
      "Exit codes: 0 ok, 1 failure (unreadable input, no object, a Pod the webhook would deny), "
      "2 usage.");
  command
      ->add_option("-f,--filename", arguments.inputs,
                   "Pods and workloads: files, directories (recursively: .yaml, .yml, .json) or "
                   "- for stdin; repeatable")
      ->required()
      ->option_text("PATH");
  command
      ->add_option("--channel", arguments.channel_files,
                   "IpcChannel manifests, read like -f; repeatable, at least one")
      ->required()
      ->option_text("PATH");
  command_line::add_output_option(*command, arguments.output, {"yaml", "json"})
      ->description("yaml (default) or json (a List when there are several objects)");
  command
      ->add_option("-n,--namespace", arguments.namespace_name,
                   "namespace of objects that name none (default \"default\")")
      ->option_text("NS");
  command
      ->add_option("--kube-version", arguments.kube_version,
                   "the API server's version: 1.29 and later get a native sidecar, earlier ones "
                   "a plain relay container (default 1.30)")
      ->option_text("VERSION");
  command->add_option("--relay-image", arguments.options.relay_image, "relay container image")
      ->option_text("IMAGE");
  command->add_flag("--allow-mqueue-sysctls", arguments.options.policy.allow_mqueue_sysctls,
                    "the kubelets allow fs.mqueue.* sysctls (as the operator's flag)");
  command
      ->add_option("--host-ipc-namespaces", arguments.options.policy.host_ipc_namespaces,
                   "namespaces allowed scope: Node channels (hostIPC), comma-separated, * for "
                   "all (as the operator's flag); repeatable")
      ->delimiter(',')
      ->option_text("NS,...");
  // The spelling of earlier releases (one namespace per flag); hidden, still accepted.
  command
      ->add_option_function<std::vector<std::string>>(
          "--host-ipc-namespace",
          [&arguments](const std::vector<std::string>& namespaces) {
            auto& all = arguments.options.policy.host_ipc_namespaces;
            all.insert(all.end(), namespaces.begin(), namespaces.end());
          },
          "deprecated: --host-ipc-namespaces")
      ->group("");
  for (CLI::Option* option : command->get_options()) {
    if (option->get_expected_max() <= 1) option->take_last();
  }
  return command;
}

namespace {

// The IpcChannels of --channel files (a file may hold other objects too), in their namespace or
// -n's; none is an error.
std::vector<api::IpcChannel> read_channels(const InjectArguments& arguments, std::istream& in) {
  std::vector<api::IpcChannel> channels;
  for (auto& manifest : read_manifests(arguments.channel_files, in)) {
    json& document = manifest.object;
    if (!document.is_object()) throw std::runtime_error(manifest.source + ": not an object");
    if (string_member(document, "kind") != "IpcChannel") continue;
    auto& meta = document["metadata"];
    if (!meta.is_object()) meta = json::object();
    if (!meta.contains("namespace")) meta["namespace"] = arguments.namespace_name;
    auto channel = api::ipc_channel_from_json(document);
    if (!channel) throw std::runtime_error(manifest.source + ": " + channel.error().message);
    channels.push_back(std::move(*channel));
  }
  if (channels.empty()) {
    throw std::runtime_error("no IpcChannel in --channel " + joined(arguments.channel_files));
  }
  return channels;
}

// Injects the Pods and Pod templates of the -f documents in place, as the webhook would; says on
// `err` what it skipped, warned of or denied.
class Injector {
 public:
  Injector(const std::vector<api::IpcChannel>& channels, const InjectArguments& arguments,
           std::ostream& err)
      : channels_(channels), arguments_(arguments), err_(err) {}

  void inject_document(json& document) {
    if (!document.is_object()) return;
    const std::string kind = string_member(document, "kind");
    std::string name = "(unnamed)";
    if (document.contains("metadata") && document["metadata"].is_object()) {
      name = string_member(document["metadata"], "name", name);
    }
    const std::string what = kind + "/" + name;
    const std::string namespace_name = namespace_of(document, arguments_.namespace_name);
    if (kind == "Pod") {
      inject(document, namespace_name, what);
    } else if (json* tmpl = pod_template(document)) {
      json pod{{"apiVersion", "v1"},
               {"kind", "Pod"},
               {"metadata", tmpl->value("metadata", json::object())},
               {"spec", tmpl->value("spec", json::object())}};
      inject(pod, namespace_name, what);
      (*tmpl)["metadata"] = pod["metadata"];
      (*tmpl)["spec"] = pod["spec"];
    }
  }
  bool denied() const { return denied_; }

 private:
  void inject(json& pod, const std::string& namespace_name, const std::string& what) {
    auto result = webhook::mutate_pod(pod, namespace_name, channels_, arguments_.options);
    for (const auto& warning : result.warnings) {
      err_ << "Warning: " << what << ": " << warning << "\n";
    }
    switch (result.outcome) {
      case MutationOutcome::kDenied:
        err_ << "Error: " << what << ": " << result.message << "\n";
        denied_ = true;
        break;
      case MutationOutcome::kUnchanged:
        err_ << what << ": not injected (" << result.reason
             << (result.message.empty() ? "" : ": " + result.message) << ")\n";
        break;
      case MutationOutcome::kMutated:
        pod = std::move(result.pod);
        break;
    }
  }

  const std::vector<api::IpcChannel>& channels_;
  const InjectArguments& arguments_;
  std::ostream& err_;
  bool denied_ = false;
};

void write_documents(const std::vector<json>& documents, const std::string& output,
                     std::ostream& out) {
  if (output != "json") {
    out << documents_to_yaml(documents);
    return;
  }
  const json result = documents.size() == 1
                          ? documents.front()
                          : json{{"apiVersion", "v1"}, {"kind", "List"}, {"items", documents}};
  out << result.dump(2) << "\n";
}

}  // namespace

int run_inject(InjectArguments arguments, std::istream& in, std::ostream& out, std::ostream& err) {
  const std::string kCommand = "ipcmeshctl inject";
  arguments.options.policy.operator_namespace = "";  // offline: no operator namespace to skip
  if (!parse_minor(arguments.kube_version, arguments.options.server_minor)) {
    err << command_line::usage_error(
        kCommand, "--kube-version: '" + arguments.kube_version + "' is not a version such as 1.30");
    return command_line::kExitUsage;
  }
  try {
    const std::vector<api::IpcChannel> channels = read_channels(arguments, in);
    std::vector<json> documents;
    for (auto& manifest : read_manifests(arguments.inputs, in)) {
      if (manifest.object.is_object()) documents.push_back(std::move(manifest.object));
    }
    // kubectl's rule: an -f that names no object is a mistake, not an empty success.
    if (documents.empty()) throw std::runtime_error("no objects in -f " + joined(arguments.inputs));
    Injector injector(channels, arguments, err);
    for (auto& document : documents) injector.inject_document(document);
    if (injector.denied()) return command_line::kExitFailure;
    write_documents(documents, arguments.output, out);
    return command_line::kExitOk;
  } catch (const std::exception& error) {
    err << kCommand << ": " << error.what() << "\n";
    return command_line::kExitFailure;
  }
}

}  // namespace ipcmesh::cli
