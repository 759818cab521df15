// The real control plane the scale bench measures against, set up the way the cluster tier does it
// (tests/cluster/cluster.cpp; small pieces reimplemented here, nothing factored out of tests/):
// control-plane.sh's etcd + kube-apiserver + kube-controller-manager, the CRD from crds/, the
// chart's ServiceAccount and RBAC rendered with helm, and the operator as an out-of-cluster
// process with a TokenRequest kubeconfig and its own serving certificate signed by the control
// plane's CA, registered through a MutatingWebhookConfiguration with url + caBundle.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "process.hpp"

namespace ipcmesh::bench::scale {

using cluster::BackgroundProcess;
using cluster::CommandResult;

struct PlaneSettings {
  std::string dir;         // control-plane.sh's DIR
  std::string tools_bin;   // etcd, kube-apiserver, kube-controller-manager, kubectl, helm
  std::string source_dir;  // the repository: the script, crds/, charts/
  bool keep = false;       // leave it running at exit (for a look with kubectl)
};

// Up on construction, down on destruction (unless kept). Throws with the script's stderr.
class ControlPlane {
 public:
  explicit ControlPlane(PlaneSettings settings);
  ~ControlPlane();
  ControlPlane(const ControlPlane&) = delete;
  ControlPlane& operator=(const ControlPlane&) = delete;

  const std::string& dir() const { return settings_.dir; }
  const std::string& kubeconfig() const { return kubeconfig_; }
  const std::string& operator_kubeconfig() const { return operator_kubeconfig_; }
  const std::string& ca_file() const { return ca_file_; }
  const std::string& apiserver_url() const { return apiserver_url_; }
  // The control plane's processes (their pid files), for /proc readings.
  pid_t pid_of(const std::string& name) const;

  CommandResult kubectl(const std::vector<std::string>& args, const std::string& input = "") const;
  // kubectl that must succeed; throws with its stderr.
  std::string kubectl_ok(const std::vector<std::string>& args, const std::string& input = "") const;

  // The CRD (waited Established), the operator's namespace, the chart's RBAC, its token.
  void install_operator_prerequisites();
  // A key and certificate for 127.0.0.1 signed by the control plane's CA, in `dir`.
  void issue_serving_certificate(const std::string& dir, const std::string& name) const;

 private:
  PlaneSettings settings_;
  bool up_ = false;
  std::string kubeconfig_;
  std::string operator_kubeconfig_;
  std::string ca_file_;
  std::string apiserver_url_;
};

inline constexpr const char* kOperatorNamespace = "ipcmesh-system";

struct OperatorSettings {
  std::string binary;
  std::string log_level = "info";
  std::vector<std::string> extra_flags;
};

// ipcmesh-operator as a child process (its log in the plane's logs/operator-scale.log).
class OperatorProcess {
 public:
  OperatorProcess(const ControlPlane& plane, const OperatorSettings& settings);
  ~OperatorProcess();
  OperatorProcess(const OperatorProcess&) = delete;
  OperatorProcess& operator=(const OperatorProcess&) = delete;

  void wait_ready(std::chrono::seconds timeout);
  void stop();
  bool running() { return process_.running(); }
  pid_t pid() const { return process_.pid(); }
  int webhook_port() const { return webhook_port_; }
  // GET http://127.0.0.1:<health port><path>; "" when not answered.
  std::string health_get(const std::string& path) const;
  std::string log_tail(std::size_t lines = 30) const;
  const std::string& log_file() const { return log_file_; }

 private:
  int webhook_port_ = 0;
  int health_port_ = 0;
  std::string log_file_;
  BackgroundProcess process_;
};

// The MutatingWebhookConfiguration of the chart (reinvocationPolicy IfNeeded, failurePolicy Fail,
// the injection namespace label), with url + caBundle pointing at the out-of-cluster operator.
class WebhookRegistration {
 public:
  static constexpr const char* kName = "ipcmesh-scale-bench";
  static constexpr const char* kWebhookName = "pods.scale-bench.ipcmesh.io";
  WebhookRegistration(const ControlPlane& plane, int port);
  ~WebhookRegistration();
  void remove();

 private:
  const ControlPlane& plane_;
  bool registered_ = true;
};

int free_port();
std::string read_text_file(const std::string& path);

}  // namespace ipcmesh::bench::scale
