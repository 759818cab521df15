#include "main/operator_config.hpp"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <fstream>
#include <functional>
#include <map>
#include <sstream>
#include <stdexcept>
#include <string_view>

#include "ipcmesh/command_line.hpp"

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

constexpr const char* kProgram = "ipcmesh-operator";

// Every setting once, with its flag name and YAML path, so the file and the flags cannot drift.
struct Setting {
  const char* flag;
  const char* yaml_path;  // dotted
  const char* help;
  std::function<void(OperatorConfig&, const std::string&)> set;
  // A switch takes no value on the command line (--leader-elect, --leader-elect=false), so it
  // never swallows the next argument; in the file it is a boolean.
  bool is_switch = false;
};

const std::vector<Setting>& settings() {
  static const std::vector<Setting> kSettings = {
      {"threads", "threads", "cpprestsdk thread pool size (default: cores)",
       [](OperatorConfig& c, const std::string& v) { c.threads = to_int("threads", v, 1, 64); }},
      {"workers", "workers", "reconcile workers (default 2)",
       [](OperatorConfig& c, const std::string& v) { c.workers = to_int("workers", v, 1, 64); }},
      {"status-write-interval-ms", "statusWriteIntervalMilliseconds",
       "under Pod churn, at least this long between two status writes of a channel (1000)",
       [](OperatorConfig& c, const std::string& v) {
         c.status_write_interval =
             std::chrono::milliseconds(to_int("status-write-interval-ms", v, 0, 60000));
       }},
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
       [](OperatorConfig& c, const std::string& v) { c.leader_elect = to_bool("leader-elect", v); },
       true},
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
       },
       true},
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

}  // namespace

std::vector<SettingName> setting_names() {
  std::vector<SettingName> names;
  for (const Setting& setting : settings()) names.push_back({setting.flag, setting.yaml_path});
  return names;
}

namespace {

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

// What the command line holds before the file and the flags are applied, in that order.
struct CommandLineValues {
  std::string config_file;
  std::vector<std::string> values = std::vector<std::string>(settings().size());
  std::vector<CLI::Option*> options = std::vector<CLI::Option*>(settings().size());
};

void define_flags(CLI::App& app, CommandLineValues& line) {
  command_line::apply_conventions(app);
  app.set_version_flag("--version", std::string(kProgram) + " " + IPCMESH_VERSION,
                       "print the version and exit");
  app.footer(
      "Settings come from their defaults, then the --config file (its key is shown as [file: "
      "key]),\nthen the flags, each overriding the one before. Switches take no value: --flag or "
      "--flag=false.");
  app.add_option("--config", line.config_file, "YAML file with the settings below")
      ->option_text("FILE")
      ->take_last();
  for (std::size_t i = 0; i < settings().size(); ++i) {
    const Setting& s = settings()[i];
    std::string names = std::string("--") + s.flag;
    if (std::string_view(s.flag) == "namespace") names = "-n," + names;
    const std::string help = std::string(s.help) + " [file: " + s.yaml_path + "]";
    line.options[i] = s.is_switch
                          ? app.add_flag(names, line.values[i], help)
                          : app.add_option(names, line.values[i], help)->option_text("VALUE");
    line.options[i]->take_last();
  }
}

}  // namespace

std::string usage() {
  CLI::App app("ipcmesh-operator: IpcChannel controller and Pod admission webhook", kProgram);
  CommandLineValues line;
  define_flags(app, line);
  return app.help();
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
  CLI::App app("ipcmesh-operator: IpcChannel controller and Pod admission webhook", kProgram);
  CommandLineValues line;
  define_flags(app, line);
  const command_line::ParseOutcome parsed = command_line::parse(app, arguments);
  ConfigOutcome outcome;
  if (!parsed.run) {
    outcome.exit_code = parsed.exit_code;
    outcome.output = parsed.output;
    return outcome;
  }
  OperatorConfig config;
  try {
    if (!line.config_file.empty()) {
      std::ifstream in(line.config_file);
      if (!in) throw std::runtime_error("config: cannot read " + line.config_file);
      std::ostringstream text;
      text << in.rdbuf();
      apply_yaml(config, text.str());
    }
    // Flags after the file, whatever their position on the command line.
    for (std::size_t i = 0; i < settings().size(); ++i) {
      if (line.options[i]->count() > 0) settings()[i].set(config, line.values[i]);
    }
    if (config.renew_deadline >= config.lease_duration) {
      throw std::runtime_error("renew-deadline must be shorter than lease-duration");
    }
    if (config.retry_period >= config.renew_deadline) {
      throw std::runtime_error("retry-period must be shorter than renew-deadline");
    }
  } catch (const std::runtime_error& error) {
    outcome.exit_code = command_line::kExitUsage;
    outcome.output = command_line::usage_error(kProgram, error.what());
    return outcome;
  }
  outcome.config = std::move(config);
  return outcome;
}

}  // namespace ipcmesh::operator_main
