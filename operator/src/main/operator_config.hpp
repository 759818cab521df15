// The operator's settings: defaults, then a YAML file (--config), then command-line flags, each
// overriding the one before. Parsing never exits the process: --help / --version / errors come
// back as text and an exit code for main to act on.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "api/namespace_record.hpp"
#include "webhook/pod_mutation.hpp"

namespace ipcmesh::operator_main {

struct OperatorConfig {
  int threads = 0;  // cpprestsdk pool size; 0: the number of cores
  int workers = 2;  // reconcile workers
  // Under Pod churn, at most one status write per channel per interval (controller/status_pacer).
  std::chrono::milliseconds status_write_interval{1000};
  std::string kubeconfig;  // "" : in-cluster, else KUBECONFIG / ~/.kube/config
  std::string context;
  std::string ns;        // the operator's namespace (Lease, never-inject); "" : service account's
  std::string identity;  // leader-election identity; "" : $POD_NAME or the host name
  std::string log_level = "info";

  int health_port = 8080;  // plain HTTP: /healthz /readyz /metrics
  int webhook_port = 9443;
  std::string webhook_certificate_file = "/etc/ipcmesh/webhook/tls.crt";
  std::string webhook_key_file = "/etc/ipcmesh/webhook/tls.key";

  bool leader_elect = true;
  std::string lease_name = "ipcmesh-operator";
  std::chrono::seconds lease_duration{15};
  std::chrono::seconds renew_deadline{10};
  std::chrono::seconds retry_period{2};

  // The Pod mutation's options (relay image, policy); server_minor is learnt at start-up.
  webhook::MutationOptions mutation;

  // The label the webhook registration's namespaceSelector requires (the chart's, by default
  // ipcmesh.io/injection=enabled): channels in namespaces without it get InjectionEnabled=False.
  // nullopt (--namespace-label ""): no check, namespaces are not watched.
  std::optional<api::NamespaceLabel> namespace_label = api::kDefaultInjectionLabel;
};

struct ConfigOutcome {
  std::optional<OperatorConfig> config;  // set when the operator should run
  int exit_code = 0;                     // otherwise: exit with this
  std::string output;                    // help, version or the error, for stdout/stderr
};

std::string usage();
// Every setting's flag (without "--") and its key in the --config file (dotted), in --help order:
// what docs/operator.md must list.
struct SettingName {
  std::string flag;
  std::string file_key;
};
std::vector<SettingName> setting_names();
ConfigOutcome parse_operator_config(const std::vector<std::string>& arguments);
// Applies a YAML document (the --config file's text) onto `config`; throws std::runtime_error
// naming the field.
void apply_yaml(OperatorConfig& config, const std::string& yaml_text);

}  // namespace ipcmesh::operator_main
