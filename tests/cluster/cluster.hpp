// The cluster tier's view of the local control plane (tests/cluster/control-plane.sh): kubectl
// against it, the operator as a real out-of-cluster process with its webhook registered through
// a MutatingWebhookConfiguration (url + caBundle), and polling helpers.
//
// The operator never runs as admin here: it gets a TokenRequest token of the ServiceAccount the
// Helm chart makes, bound by the chart's own RBAC (charts/ipcmesh/templates/serviceaccount.yaml
// and rbac.yaml, rendered with helm and applied in SetUp), so the whole tier passing proves the
// chart grants the operator enough.
//
// One control plane serves the whole run: `make test-cluster` starts it and exports
// IPCMESH_CLUSTER_DIR; run alone, a test binary starts its own and stops it at exit.
#pragma once

#include <gtest/gtest.h>

#include <chrono>
#include <functional>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "process.hpp"

namespace ipcmesh::cluster {

// What control-plane.sh wrote into its directory.
struct ControlPlane {
  std::string dir;         // holds pki/, logs/, kubeconfig
  std::string kubeconfig;  // admin (system:masters)
  std::string ca_file;     // signs the API server's and our webhook's certificates
  std::string apiserver_url;
  std::string etcd_url;
  std::string tools_bin;  // etcd, kubectl, helm, ...
  // The chart's ServiceAccount in kOperatorNamespace, and a kubeconfig holding its token: what
  // every OperatorProcess runs with.
  std::string operator_service_account;  // its name, e.g. "ipcmesh-operator"
  std::string operator_kubeconfig;
};

// Where the chart is "installed" for the tier (its ServiceAccount, Role and RoleBinding live
// here): the operator's --namespace, so leader election's Lease is the one place the Role allows.
inline constexpr const char* kOperatorNamespace = "ipcmesh-system";
// system:serviceaccount:<namespace>:<name>, the user the API server sees for the operator.
std::string operator_user();

// The GoogleTest environment: registered by cluster_main.cpp.
class ClusterEnvironment : public ::testing::Environment {
 public:
  void SetUp() override;
  void TearDown() override;
  static const ControlPlane& control_plane();

 private:
  bool started_here_ = false;
};

CommandResult kubectl(const std::vector<std::string>& args, const std::string& input = "");
// kubectl that must succeed: fails the test (and throws) with kubectl's stderr otherwise.
std::string kubectl_ok(const std::vector<std::string>& args, const std::string& input = "");
nlohmann::json kubectl_json(const std::vector<std::string>& args);
// A fresh namespace named PREFIX-<random> whose default service account exists (Pods need it).
std::string create_namespace(const std::string& prefix);

// Polls `condition` every 100 ms until it holds or `timeout` passes; returns whether it held.
bool eventually(const std::function<bool()>& condition,
                std::chrono::milliseconds timeout = std::chrono::seconds(30));

std::string repo_path(const std::string& relative);
std::string read_file(const std::string& path);

enum class FailurePolicy { kFail, kIgnore };

struct OperatorOptions {
  std::string identity = "operator-0";
  // The chart's Role (Leases) exists only here: another namespace makes leader election fail.
  std::string operator_namespace = kOperatorNamespace;
  std::vector<std::string> extra_flags;
};

// ipcmesh-operator as a child process with its own webhook certificate (for 127.0.0.1, signed
// by the control plane's CA), free ports, and logs under the control plane's logs/.
class OperatorProcess {
 public:
  explicit OperatorProcess(OperatorOptions options = {});
  ~OperatorProcess();
  OperatorProcess(const OperatorProcess&) = delete;
  OperatorProcess& operator=(const OperatorProcess&) = delete;

  // Waits for /readyz (caches synced, webhook serving); fails the test with the log tail.
  void wait_ready(std::chrono::seconds timeout = std::chrono::seconds(60));
  void stop();
  void kill_now();
  // Starts the same command again (same identity, ports and certificate) after stop()/kill_now():
  // the operator coming back, reachable where its webhook registration already points.
  void restart();
  bool running() { return process_.running(); }
  pid_t pid() const { return process_.pid(); }

  int webhook_port() const { return webhook_port_; }
  int health_port() const { return health_port_; }
  const std::string& log_file() const { return log_file_; }
  // GET http://127.0.0.1:<health>/<path>: "" when not answered.
  std::string health_get(const std::string& path) const;
  std::string log_tail(std::size_t lines = 40) const;

 private:
  OperatorOptions options_;
  int webhook_port_ = 0;
  int health_port_ = 0;
  std::string log_file_;
  std::vector<std::string> argv_;
  BackgroundProcess process_;
};

// A MutatingWebhookConfiguration pointing at 127.0.0.1:port, deleted on destruction. Its
// namespaceSelector keeps it to namespaces that create_namespace() made, so a stopped test
// operator behind failurePolicy Fail can never block the control plane's own namespaces.
class WebhookRegistration {
 public:
  WebhookRegistration(std::string name, int port, FailurePolicy policy,
                      std::string path = "/mutate-pods");
  ~WebhookRegistration();
  WebhookRegistration(const WebhookRegistration&) = delete;
  WebhookRegistration& operator=(const WebhookRegistration&) = delete;

 private:
  std::string name_;
};

int free_port();
// Writes a key and certificate for 127.0.0.1 signed by the control plane's CA into `dir`.
void issue_serving_certificate(const std::string& dir, const std::string& name);

}  // namespace ipcmesh::cluster
