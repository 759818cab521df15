#include "main/operator_config.hpp"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <fstream>
#include <functional>
#include <map>
#include <sstream>
#include <stdexcept>

namespace ipcmesh::operator_main {
namespace {

int to_int(const std::string& name, const std::string& text, int min, int max) {
  std::size_t used = 0;
  int value = 0;
  try {
    value = std::stoi(text, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  if (used != text.size() || text.empty() || value < min || value > max) {
    throw std::runtime_error(name + ": \"" + text + "\" is not a number in [" +
                             std::to_string(min) + ", " + std::to_string(max) + "]");
  }
  return value;
}

bool to_bool(const std::string& name, const std::string& text) {
  if (text == "true" || text == "1" || text == "yes") return true;
  if (text == "false" || text == "0" || text == "no") return false;
  throw std::runtime_error(name + ": \"" + text + "\" is not true or false");
}

std::vector<std::string> to_list(const std::string& text) {
  std::vector<std::string> out;
  std::string item;
  std::istringstream in(text);
  while (std::getline(in, item, ',')) {
    if (!item.empty()) out.push_back(item);
  }
  return out;
}

// Every setting once, with its flag name and YAML path, so the file and the flags cannot drift.
struct Setting {
  const char* flag;
  const char* yaml_path;  // dotted
  const char* help;
  std::function<void(OperatorConfig&, const std::string&)> set;
};

const std::vector<Setting>& settings() {
  static const std::vector<Setting> kSettings = {
      {"threads", "threads", "cpprestsdk thread pool size (default: cores)",
       [](OperatorConfig& c, const std::string& v) { c.threads = to_int("threads", v, 1, 64); }},
      {"workers", "workers", "reconcile workers (default 2)",
       [](OperatorConfig& c, const std::string& v) { c.workers = to_int("workers", v, 1, 64); }},
      {"kubeconfig", "kubeconfig", "kubeconfig file (default: in-cluster, then $KUBECONFIG)",
       [](OperatorConfig& c, const std::string& v) { c.kubeconfig = v; }},
      {"context", "context", "kubeconfig context",
       [](OperatorConfig& c, const std::string& v) { c.context = v; }},
      {"namespace", "namespace", "the operator's namespace (default: the service account's)",
       [](OperatorConfig& c, const std::string& v) { c.ns = v; }},
      {"identity", "identity", "leader-election identity (default: $POD_NAME or host name)",
       [](OperatorConfig& c, const std::string& v) { c.identity = v; }},
      {"log-level", "logLevel", "trace|debug|info|warn|error (default info)",
       [](OperatorConfig& c, const std::string& v) { c.log_level = v; }},
      {"health-port", "health.port", "plain-HTTP port of /healthz /readyz /metrics (8080)",
       [](OperatorConfig& c, const std::string& v) {
         c.health_port = to_int("health-port", v, 1, 65535);
       }},
      {"webhook-port", "webhook.port", "HTTPS port of the admission webhook (9443)",
       [](OperatorConfig& c, const std::string& v) {
         c.webhook_port = to_int("webhook-port", v, 1, 65535);
       }},
      {"tls-cert", "webhook.certFile", "webhook certificate (PEM), re-read on change",
       [](OperatorConfig& c, const std::string& v) { c.webhook_certificate_file = v; }},
      {"tls-key", "webhook.keyFile", "webhook private key (PEM), re-read on change",
       [](OperatorConfig& c, const std::string& v) { c.webhook_key_file = v; }},
      {"leader-elect", "leaderElection.enabled", "elect a leader among replicas (true)",
       [](OperatorConfig& c, const std::string& v) {
         c.leader_elect = to_bool("leader-elect", v);
       }},
      {"lease-name", "leaderElection.leaseName", "Lease name (ipcmesh-operator)",
       [](OperatorConfig& c, const std::string& v) { c.lease_name = v; }},
      {"lease-duration", "leaderElection.leaseDurationSeconds", "seconds (15)",
       [](OperatorConfig& c, const std::string& v) {
         c.lease_duration = std::chrono::seconds(to_int("lease-duration", v, 2, 3600));
       }},
      {"renew-deadline", "leaderElection.renewDeadlineSeconds", "seconds (10)",
       [](OperatorConfig& c, const std::string& v) {
         c.renew_deadline = std::chrono::seconds(to_int("renew-deadline", v, 1, 3600));
       }},
      {"retry-period", "leaderElection.retryPeriodSeconds", "seconds (2)",
       [](OperatorConfig& c, const std::string& v) {
         c.retry_period = std::chrono::seconds(to_int("retry-period", v, 1, 3600));
       }},
      {"relay-image", "injection.relayImage",
       "relay container image (ipcmesh/relay:" IPCMESH_VERSION ")",
       [](OperatorConfig& c, const std::string& v) { c.mutation.relay_image = v; }},
      {"relay-image-pull-policy", "injection.relayImagePullPolicy", "IfNotPresent|Always|Never",
       [](OperatorConfig& c, const std::string& v) { c.mutation.relay_image_pull_policy = v; }},
      {"host-ipc-namespaces", "injection.hostIpcNamespaces",
       "namespaces allowed scope: Node channels (hostIPC), comma-separated, * for all",
       [](OperatorConfig& c, const std::string& v) {
         c.mutation.policy.host_ipc_namespaces = to_list(v);
       }},
      {"allow-mqueue-sysctls", "injection.allowMqueueSysctls",
       "kubelets allow fs.mqueue.* sysctls (false)",
       [](OperatorConfig& c, const std::string& v) {
         c.mutation.policy.allow_mqueue_sysctls = to_bool("allow-mqueue-sysctls", v);
       }},
      {"mqueue-limit-action", "injection.mqueueLimitAction",
       "Deny|Warn when a queue needs sysctls the policy forbids (Deny)",
       [](OperatorConfig& c, const std::string& v) {
         if (v == "Deny") {
           c.mutation.policy.mqueue_limit_action = webhook::MqueueLimitAction::kDeny;
         } else if (v == "Warn") {
           c.mutation.policy.mqueue_limit_action = webhook::MqueueLimitAction::kWarn;
         } else {
           throw std::runtime_error("mqueue-limit-action: \"" + v + "\" is not Deny or Warn");
         }
       }},
      {"namespace-label", "injection.namespaceLabel",
       "key=value of the webhook registration's namespaceSelector: channels in namespaces "
       "without it get InjectionEnabled=False; \"\" turns the check off "
       "(ipcmesh.io/injection=enabled)",
       [](OperatorConfig& c, const std::string& v) {
         if (v.empty()) {
           c.namespace_label.reset();
           return;
         }
         auto label = api::parse_namespace_label(v);
         if (!label) throw std::runtime_error("namespace-label: " + label.error().message);
         c.namespace_label = std::move(*label);
       }},
      {"excluded-namespaces", "injection.excludedNamespaces",
       "never inject here, comma-separated (kube-system,kube-public,kube-node-lease)",
       [](OperatorConfig& c, const std::string& v) {
         c.mutation.policy.excluded_namespaces = to_list(v);
       }},
  };
  return kSettings;
}

// Walks a dotted path without yaml-cpp's assignment (which writes through, not rebinds).
YAML::Node find_path(const YAML::Node& node, const std::vector<std::string>& parts,
                     std::size_t index = 0) {
  if (index == parts.size()) return node;
  if (!node.IsMap()) return YAML::Node();
  const YAML::Node child = node[parts[index]];
  if (!child) return YAML::Node();
  return find_path(child, parts, index + 1);
}

std::vector<std::string> split_path(const std::string& dotted) {
  std::vector<std::string> parts;
  std::string part;
  std::istringstream in(dotted);
  while (std::getline(in, part, '.')) parts.push_back(part);
  return parts;
}

}  // namespace

std::string usage() {
  std::ostringstream out;
  out << "ipcmesh-operator " << IPCMESH_VERSION
      << ": IpcChannel controller and Pod admission webhook\n\n"
      << "usage: ipcmesh-operator [--config FILE] [--flag VALUE | --flag=VALUE]...\n\n"
      << "  --config FILE                  YAML file with the settings below (flags override it)\n";
  for (const auto& s : settings()) {
    std::string left = std::string("  --") + s.flag + " (" + s.yaml_path + ")";
    if (left.size() < 33) {
      left.resize(33, ' ');
    } else {
      left += "\n" + std::string(33, ' ');
    }
    out << left << s.help << "\n";
  }
  out << "  --help, --version\n";
  return out.str();
}

void apply_yaml(OperatorConfig& config, const std::string& yaml_text) {
  YAML::Node root;
  try {
    root = YAML::Load(yaml_text);
  } catch (const YAML::Exception& error) {
    throw std::runtime_error(std::string("config: ") + error.what());
  }
  if (!root || root.IsNull()) return;
  if (!root.IsMap()) throw std::runtime_error("config: the document must be a mapping");
  for (const auto& s : settings()) {
    const YAML::Node node = find_path(root, split_path(s.yaml_path));
    if (!node || node.IsNull()) continue;
    std::string value;
    if (node.IsSequence()) {
      for (const auto& item : node) value += (value.empty() ? "" : ",") + item.as<std::string>();
    } else if (node.IsScalar()) {
      value = node.as<std::string>();
    } else {
      throw std::runtime_error(std::string("config: ") + s.yaml_path +
                               " must be a value or a list");
    }
    try {
      s.set(config, value);
    } catch (const std::runtime_error& error) {
      throw std::runtime_error(std::string("config: ") + s.yaml_path + ": " + error.what());
    }
  }
}

ConfigOutcome parse_operator_config(const std::vector<std::string>& arguments) {
  ConfigOutcome outcome;
  std::vector<std::pair<std::string, std::string>> flags;
  std::string config_file;
  for (std::size_t i = 0; i < arguments.size(); ++i) {
    const std::string& argument = arguments[i];
    if (argument == "--help" || argument == "-h") {
      outcome.output = usage();
      return outcome;
    }
    if (argument == "--version") {
      outcome.output = std::string("ipcmesh-operator ") + IPCMESH_VERSION + "\n";
      return outcome;
    }
    if (argument.rfind("--", 0) != 0) {
      outcome.exit_code = 2;
      outcome.output = "unexpected argument \"" + argument + "\" (see --help)\n";
      return outcome;
    }
    std::string name = argument.substr(2);
    std::string value;
    if (const auto eq = name.find('='); eq != std::string::npos) {
      value = name.substr(eq + 1);
      name.resize(eq);
    } else if (i + 1 < arguments.size()) {
      value = arguments[++i];
    } else {
      outcome.exit_code = 2;
      outcome.output = "--" + name + " needs a value (see --help)\n";
      return outcome;
    }
    if (name == "config") {
      config_file = value;
    } else {
      flags.emplace_back(name, value);
    }
  }

  OperatorConfig config;
  try {
    if (!config_file.empty()) {
      std::ifstream in(config_file);
      if (!in) throw std::runtime_error("config: cannot read " + config_file);
      std::ostringstream text;
      text << in.rdbuf();
      apply_yaml(config, text.str());
    }
    for (const auto& [name, value] : flags) {
      const auto& all = settings();
      const auto it = std::find_if(all.begin(), all.end(),
                                   [&name](const Setting& s) { return name == s.flag; });
      if (it == all.end()) throw std::runtime_error("unknown flag --" + name + " (see --help)");
      it->set(config, value);
    }
    if (config.renew_deadline >= config.lease_duration) {
      throw std::runtime_error("renew-deadline must be shorter than lease-duration");
    }
    if (config.retry_period >= config.renew_deadline) {
      throw std::runtime_error("retry-period must be shorter than renew-deadline");
    }
  } catch (const std::runtime_error& error) {
    outcome.exit_code = 2;
    outcome.output = std::string(error.what()) + "\n";
    return outcome;
  }
  outcome.config = std::move(config);
  return outcome;
}

}  // namespace ipcmesh::operator_main
