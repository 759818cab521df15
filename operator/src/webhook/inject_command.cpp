#include "webhook/inject_command.hpp"

#include <yaml-cpp/yaml.h>

#include <charconv>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <regex>
#include <sstream>
#include <stdexcept>

#include "webhook/admission.hpp"

namespace ipcmesh::webhook {
namespace {

using nlohmann::json;

constexpr const char* kUsage =
    "usage: ipcmeshctl inject -f POD_OR_WORKLOAD.yaml --channel CHANNEL.yaml [--channel ...]\n"
    "                         [--kube-version 1.30] [-o yaml|json] [--namespace NS]\n"
    "                         [--relay-image IMAGE] [--allow-mqueue-sysctls]\n"
    "                         [--host-ipc-namespace NS ...]\n"
    "\n"
    "Prints the Pods and workloads (Pod, Deployment, StatefulSet, DaemonSet, ReplicaSet, Job,\n"
    "CronJob) of -f as the ipcmesh webhook would inject them. -f - reads stdin. Objects without\n"
    "a namespace (workloads and channels) are taken to be in --namespace (default \"default\").\n"
    "--kube-version picks a native sidecar (1.29 and later) or a plain relay container.\n"
    "Exit codes: 0 ok, 1 failure (unreadable input, a Pod the webhook would deny), 2 usage.\n";

// ---- YAML <-> JSON (YAML 1.2 core schema for plain scalars) ----

const std::regex& int_pattern() {
  static const std::regex pattern("[-+]?[0-9]+");
  return pattern;
}
const std::regex& float_pattern() {
  static const std::regex pattern(
      "[-+]?(\\.[0-9]+|[0-9]+(\\.[0-9]*)?)([eE][-+]?[0-9]+)?|[-+]?\\.(inf|Inf|INF)|\\.(nan|NaN|"
      "NAN)");
  return pattern;
}

bool is_null_word(const std::string& s) {
  return s.empty() || s == "~" || s == "null" || s == "Null" || s == "NULL";
}
bool is_true_word(const std::string& s) {
  return s == "true" || s == "True" || s == "TRUE";
}
bool is_false_word(const std::string& s) {
  return s == "false" || s == "False" || s == "FALSE";
}

json scalar_to_json(const YAML::Node& node) {
  const std::string& text = node.Scalar();
  const std::string& tag = node.Tag();
  if (tag == "!" || tag == "tag:yaml.org,2002:str") return text;  // quoted or explicitly a string
  if (tag != "?" && !tag.empty()) return text;                    // unknown tags: keep the text
  if (is_null_word(text)) return nullptr;
  if (is_true_word(text)) return true;
  if (is_false_word(text)) return false;
  if (std::regex_match(text, int_pattern())) {
    std::int64_t value = 0;
    const char* begin = text.data() + (text[0] == '+' ? 1 : 0);
    const auto [end, error] = std::from_chars(begin, text.data() + text.size(), value);
    // Non-negative numbers as unsigned, exactly as nlohmann::json::parse types them (the
    // contract's parser expects that for counts).
    if (error == std::errc() && end == text.data() + text.size()) {
      return value >= 0 ? json(static_cast<std::uint64_t>(value)) : json(value);
    }
    return text;  // out of range: keep it as text rather than lose digits
  }
  if (std::regex_match(text, float_pattern())) {
    try {
      return std::stod(text);
    } catch (const std::exception&) {
      return text;
    }
  }
  return text;
}

json node_to_json(const YAML::Node& node, int depth) {
  if (depth > static_cast<int>(kMaxJsonDepth)) {
    throw std::runtime_error("line " + std::to_string(node.Mark().line + 1) +
                             ": nested too deeply");
  }
  switch (node.Type()) {
    case YAML::NodeType::Null:
    case YAML::NodeType::Undefined:
      return nullptr;
    case YAML::NodeType::Scalar:
      return scalar_to_json(node);
    case YAML::NodeType::Sequence: {
      json out = json::array();
      for (const auto& item : node) out.push_back(node_to_json(item, depth + 1));
      return out;
    }
    case YAML::NodeType::Map: {
      json out = json::object();
      for (const auto& entry : node) {
        if (!entry.first.IsScalar()) {
          throw std::runtime_error("line " + std::to_string(entry.first.Mark().line + 1) +
                                   ": only string keys are supported");
        }
        out[entry.first.Scalar()] = node_to_json(entry.second, depth + 1);
      }
      return out;
    }
  }
  return nullptr;
}

// A string that a YAML reader would resolve to something else must be quoted.
bool needs_quotes(const std::string& s) {
  return is_null_word(s) || is_true_word(s) || is_false_word(s) ||
         std::regex_match(s, int_pattern()) || std::regex_match(s, float_pattern()) || s == "y" ||
         s == "n" || s == "yes" || s == "no" || s == "on" || s == "off" || s == "Y" || s == "N" ||
         s == "Yes" || s == "No" || s == "On" || s == "Off";
}

void emit(YAML::Emitter& out, const json& value) {
  switch (value.type()) {
    case json::value_t::object:
      out << YAML::BeginMap;
      for (const auto& [key, item] : value.items()) {
        out << YAML::Key;
        if (needs_quotes(key)) out << YAML::DoubleQuoted;
        out << key << YAML::Value;
        emit(out, item);
      }
      out << YAML::EndMap;
      break;
    case json::value_t::array:
      out << YAML::BeginSeq;
      for (const auto& item : value) emit(out, item);
      out << YAML::EndSeq;
      break;
    case json::value_t::string: {
      const auto& text = value.get_ref<const std::string&>();
      if (needs_quotes(text)) out << YAML::DoubleQuoted;
      out << text;
      break;
    }
    case json::value_t::boolean:
      out << (value.get<bool>() ? "true" : "false");
      break;
    case json::value_t::null:
      out << YAML::Null;
      break;
    default:  // numbers: JSON's text is valid YAML
      out << value.dump();
      break;
  }
}

// ---- the command ----

struct Arguments {
  std::string input;
  std::vector<std::string> channel_files;
  std::string output = "yaml";
  std::string namespace_name = "default";
  MutationOptions options;
  bool help = false;
};

// "1.30", "v1.30.2", "30" -> 30.
bool parse_minor(const std::string& text, int& minor) {
  static const std::regex pattern("v?(?:1\\.)?([0-9]{1,3})(?:\\.[0-9]+)?\\+?");
  std::smatch match;
  if (!std::regex_match(text, match, pattern)) return false;
  minor = std::stoi(match[1].str());
  return true;
}

// Returns "" or a usage error.
std::string parse_arguments(const std::vector<std::string>& args, Arguments& parsed) {
  parsed.options.server_minor = 30;
  parsed.options.policy.operator_namespace = "";  // offline: no operator namespace to skip
  for (std::size_t i = 1; i < args.size(); ++i) {
    const std::string& arg = args[i];
    const auto value = [&](std::string& into) -> bool {
      if (i + 1 >= args.size()) return false;
      into = args[++i];
      return true;
    };
    std::string text;
    if (arg == "-h" || arg == "--help") {
      parsed.help = true;
    } else if (arg == "-f" || arg == "--filename") {
      if (!value(parsed.input)) return arg + " needs a file name (or - for stdin)";
    } else if (arg == "--channel") {
      if (!value(text)) return "--channel needs a file name";
      parsed.channel_files.push_back(text);
    } else if (arg == "-o" || arg == "--output") {
      if (!value(parsed.output)) return arg + " needs yaml or json";
      if (parsed.output != "yaml" && parsed.output != "json") {
        return "-o must be yaml or json, not " + parsed.output;
      }
    } else if (arg == "--kube-version") {
      if (!value(text) || !parse_minor(text, parsed.options.server_minor)) {
        return "--kube-version needs a version such as 1.30";
      }
    } else if (arg == "-n" || arg == "--namespace") {
      if (!value(parsed.namespace_name)) return arg + " needs a namespace";
    } else if (arg == "--relay-image") {
      if (!value(parsed.options.relay_image)) return "--relay-image needs an image";
    } else if (arg == "--allow-mqueue-sysctls") {
      parsed.options.policy.allow_mqueue_sysctls = true;
    } else if (arg == "--host-ipc-namespace") {
      if (!value(text)) return "--host-ipc-namespace needs a namespace (or *)";
      parsed.options.policy.host_ipc_namespaces.push_back(text);
    } else {
      return "unknown argument " + arg;
    }
  }
  if (parsed.help) return {};
  if (parsed.input.empty()) return "-f is required";
  if (parsed.channel_files.empty()) return "at least one --channel is required";
  return {};
}

std::string read_input(const std::string& name, std::istream& in) {
  if (name == "-") {
    std::ostringstream text;
    text << in.rdbuf();
    return text.str();
  }
  std::ifstream file(name, std::ios::binary);
  if (!file) throw std::runtime_error("cannot read " + name);
  std::ostringstream text;
  text << file.rdbuf();
  return text.str();
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

}  // namespace

std::vector<json> documents_from_yaml(const std::string& text) {
  std::vector<json> documents;
  try {
    for (const auto& node : YAML::LoadAll(text)) {
      if (node.IsNull()) continue;  // "---" followed by nothing
      documents.push_back(node_to_json(node, 0));
    }
  } catch (const YAML::Exception& error) {
    throw std::runtime_error(std::string("not valid YAML: ") + error.what());
  }
  return documents;
}

std::string documents_to_yaml(const std::vector<json>& documents) {
  std::string out;
  for (const auto& document : documents) {
    YAML::Emitter emitter;
    emitter.SetIndent(2);
    emitter.SetSeqFormat(YAML::Block);
    emit(emitter, document);
    if (!out.empty()) out += "---\n";
    out += emitter.c_str();
    out += '\n';
  }
  return out;
}

int run_inject_command(const std::vector<std::string>& args, std::istream& in, std::ostream& out,
                       std::ostream& err) {
  Arguments arguments;
  if (auto usage = parse_arguments(args, arguments); !usage.empty()) {
    err << "ipcmeshctl inject: " << usage << "\n" << kUsage;
    return 2;
  }
  if (arguments.help) {
    out << kUsage;
    return 0;
  }
  try {
    std::vector<api::IpcChannel> channels;
    for (const auto& file : arguments.channel_files) {
      for (auto& document : documents_from_yaml(read_input(file, in))) {
        if (!document.is_object()) throw std::runtime_error(file + ": not an object");
        if (string_member(document, "kind") != "IpcChannel") continue;  // a file may hold more
        auto& meta = document["metadata"];
        if (!meta.is_object()) meta = json::object();
        if (!meta.contains("namespace")) meta["namespace"] = arguments.namespace_name;
        auto channel = api::ipc_channel_from_json(document);
        if (!channel) throw std::runtime_error(file + ": " + channel.error().message);
        channels.push_back(std::move(*channel));
      }
    }
    if (channels.empty()) throw std::runtime_error("no IpcChannel in the --channel files");

    auto documents = documents_from_yaml(read_input(arguments.input, in));
    bool denied = false;
    const auto inject = [&](json& pod, const std::string& namespace_name, const std::string& what) {
      auto result = mutate_pod(pod, namespace_name, channels, arguments.options);
      for (const auto& warning : result.warnings)
        err << "Warning: " << what << ": " << warning << "\n";
      switch (result.outcome) {
        case MutationOutcome::kDenied:
          err << "Error: " << what << ": " << result.message << "\n";
          denied = true;
          break;
        case MutationOutcome::kUnchanged:
          err << what << ": not injected (" << result.reason
              << (result.message.empty() ? "" : ": " + result.message) << ")\n";
          break;
        case MutationOutcome::kMutated:
          pod = std::move(result.pod);
          break;
      }
    };
    for (auto& document : documents) {
      if (!document.is_object()) continue;
      const std::string kind = string_member(document, "kind");
      std::string name = "(unnamed)";
      if (document.contains("metadata") && document["metadata"].is_object()) {
        name = string_member(document["metadata"], "name", name);
      }
      const std::string what = kind + "/" + name;
      const std::string namespace_name = namespace_of(document, arguments.namespace_name);
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
    if (denied) return 1;
    if (arguments.output == "json") {
      const json result = documents.size() == 1
                              ? documents.front()
                              : json{{"apiVersion", "v1"}, {"kind", "List"}, {"items", documents}};
      out << result.dump(2) << "\n";
    } else {
      out << documents_to_yaml(documents);
    }
    return 0;
  } catch (const std::exception& error) {
    err << "ipcmeshctl inject: " << error.what() << "\n";
    return 1;
  }
}

int run_inject_command(int argc, char** argv) {
  std::vector<std::string> args(argv, argv + argc);
  if (args.empty()) args.emplace_back("inject");
  return run_inject_command(args, std::cin, std::cout, std::cerr);
}

}  // namespace ipcmesh::webhook
