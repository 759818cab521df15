#include "control_plane.hpp"

#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cctype>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <stdexcept>
#include <thread>

namespace ipcmesh::bench::scale {
namespace {

std::string env_value(const std::string& env_text, const std::string& key) {
  std::istringstream in(env_text);
  std::string line;
  const std::string prefix = "export " + key + "=";
  while (std::getline(in, line)) {
    if (line.rfind(prefix, 0) == 0) return line.substr(prefix.size());
  }
  throw std::runtime_error("control plane env has no " + key);
}

std::string trim(std::string text) {
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.back()))) text.pop_back();
  return text;
}

}  // namespace

std::string read_text_file(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw std::runtime_error("cannot read " + path);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

int free_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t length = sizeof address;
  if (fd < 0 || ::bind(fd, reinterpret_cast<sockaddr*>(&address), length) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) != 0) {
    if (fd >= 0) ::close(fd);
    throw std::runtime_error("no free loopback port");
  }
  ::close(fd);
  return ntohs(address.sin_port);
}

ControlPlane::ControlPlane(PlaneSettings settings) : settings_(std::move(settings)) {
  const std::string script = settings_.source_dir + "/tests/cluster/control-plane.sh";
  for (const char* tool :
       {"etcd", "kube-apiserver", "kube-controller-manager", "kubectl", "helm"}) {
    const std::string path = settings_.tools_bin + "/" + tool;
    if (::access(path.c_str(), X_OK) != 0) {
      throw std::runtime_error(path + " is missing: build the tools with 'make tools-cluster'");
    }
  }
  const CommandResult up = cluster::run_command({script, "up", settings_.dir}, "",
                                                {"IPCMESH_TOOLS_BIN=" + settings_.tools_bin});
  if (!up.ok())
    throw std::runtime_error("control-plane.sh up " + settings_.dir + " failed:\n" + up.err);
  up_ = true;
  const std::string env_text = read_text_file(settings_.dir + "/env");
  settings_.dir = env_value(env_text, "IPCMESH_CLUSTER_DIR");  // absolute
  kubeconfig_ = env_value(env_text, "KUBECONFIG");
  ca_file_ = env_value(env_text, "IPCMESH_CLUSTER_CA");
  apiserver_url_ = env_value(env_text, "IPCMESH_APISERVER");
}

ControlPlane::~ControlPlane() {
  if (!up_ || settings_.keep) return;
  cluster::run_command(
      {settings_.source_dir + "/tests/cluster/control-plane.sh", "down", settings_.dir});
}

pid_t ControlPlane::pid_of(const std::string& name) const {
  return static_cast<pid_t>(std::stol(trim(read_text_file(settings_.dir + "/pids/" + name))));
}

CommandResult ControlPlane::kubectl(const std::vector<std::string>& args,
                                    const std::string& input) const {
  std::vector<std::string> argv = {settings_.tools_bin + "/kubectl", "--kubeconfig", kubeconfig_};
  argv.insert(argv.end(), args.begin(), args.end());
  return cluster::run_command(argv, input);
}

std::string ControlPlane::kubectl_ok(const std::vector<std::string>& args,
                                     const std::string& input) const {
  const CommandResult result = kubectl(args, input);
  if (!result.ok()) {
    std::string command = "kubectl";
    for (const auto& a : args) command += " " + a;
    throw std::runtime_error(command + " exited " + std::to_string(result.exit_code) + ": " +
                             result.err);
  }
  return result.out;
}

void ControlPlane::install_operator_prerequisites() {
  kubectl_ok({"apply", "-f", settings_.source_dir + "/crds/ipcchannel.yaml"});
  kubectl_ok(
      {"wait", "--for=condition=Established", "--timeout=60s", "crd/ipcchannels.ipcmesh.io"});
  kubectl_ok({"apply", "-f", "-"},
             std::string("apiVersion: v1\nkind: Namespace\nmetadata:\n  name: ") +
                 kOperatorNamespace + "\n");
  // The chart's ServiceAccount and RBAC, as `helm install -n ipcmesh-system` renders them: the
  // operator runs with exactly the rights users give it.
  const CommandResult rendered = cluster::run_command(
      {settings_.tools_bin + "/helm", "template", "ipcmesh",
       settings_.source_dir + "/charts/ipcmesh", "--namespace", kOperatorNamespace, "--show-only",
       "templates/serviceaccount.yaml", "--show-only", "templates/rbac.yaml"});
  if (!rendered.ok())
    throw std::runtime_error("helm template of the chart's RBAC: " + rendered.err);
  const nlohmann::json applied =
      nlohmann::json::parse(kubectl_ok({"apply", "-f", "-", "-o", "json"}, rendered.out));
  const nlohmann::json items =
      applied.value("kind", "") == "List" ? applied.at("items") : nlohmann::json::array({applied});
  std::string account;
  for (const auto& item : items) {
    if (item.value("kind", "") == "ServiceAccount") account = item["metadata"]["name"];
  }
  if (account.empty()) throw std::runtime_error("the chart rendered no ServiceAccount");
  const std::string token =
      trim(kubectl_ok({"create", "token", account, "-n", kOperatorNamespace, "--duration", "24h"}));
  operator_kubeconfig_ = settings_.dir + "/operator.kubeconfig";
  std::ofstream out(operator_kubeconfig_, std::ios::trunc);
  out << "apiVersion: v1\nkind: Config\nclusters:\n- name: scale\n  cluster:\n    server: "
      << apiserver_url_ << "\n    certificate-authority: " << ca_file_
      << "\nusers:\n- name: " << account << "\n  user:\n    token: " << token
      << "\ncontexts:\n- name: scale\n  context: {cluster: scale, user: " << account
      << "}\ncurrent-context: scale\n";
  if (!out) throw std::runtime_error("cannot write " + operator_kubeconfig_);
  out.close();
  ::chmod(operator_kubeconfig_.c_str(), 0600);
}

void ControlPlane::issue_serving_certificate(const std::string& dir,
                                             const std::string& name) const {
  const std::string key = dir + "/" + name + ".key";
  const std::string csr = dir + "/" + name + ".csr";
  const std::string crt = dir + "/" + name + ".crt";
  const std::string ext = dir + "/" + name + ".ext";
  std::ofstream(ext) << "subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n";
  for (const auto& argv : std::vector<std::vector<std::string>>{
           {"openssl", "req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=" + name, "-keyout",
            key, "-out", csr},
           {"openssl", "x509", "-req", "-in", csr, "-CA", ca_file_, "-CAkey",
            settings_.dir + "/pki/ca.key", "-CAcreateserial", "-days", "30", "-extfile", ext,
            "-out", crt}}) {
    const CommandResult result = cluster::run_command(argv);
    if (!result.ok()) throw std::runtime_error(argv[0] + " " + argv[1] + ": " + result.err);
  }
}

OperatorProcess::OperatorProcess(const ControlPlane& plane, const OperatorSettings& settings) {
  const std::string dir = plane.dir() + "/operator-scale";
  std::filesystem::create_directories(dir);
  plane.issue_serving_certificate(dir, "webhook");
  webhook_port_ = free_port();
  health_port_ = free_port();
  log_file_ = plane.dir() + "/logs/operator-scale.log";
  if (::access(settings.binary.c_str(), X_OK) != 0) {
    throw std::runtime_error("operator binary " + settings.binary + " is not executable");
  }
  std::vector<std::string> argv = {settings.binary,
                                   "--kubeconfig",
                                   plane.operator_kubeconfig(),
                                   "--namespace",
                                   kOperatorNamespace,
                                   "--identity",
                                   "scale-bench",
                                   "--health-port",
                                   std::to_string(health_port_),
                                   "--webhook-port",
                                   std::to_string(webhook_port_),
                                   "--tls-cert",
                                   dir + "/webhook.crt",
                                   "--tls-key",
                                   dir + "/webhook.key",
                                   "--log-level",
                                   settings.log_level};
  argv.insert(argv.end(), settings.extra_flags.begin(), settings.extra_flags.end());
  process_ = BackgroundProcess(argv, log_file_);
}

OperatorProcess::~OperatorProcess() {
  stop();
}

void OperatorProcess::stop() {
  process_.stop(std::chrono::seconds(20));
}

std::string OperatorProcess::health_get(const std::string& path) const {
  const CommandResult result = cluster::run_command(
      {"curl", "-s", "-m", "5", "http://127.0.0.1:" + std::to_string(health_port_) + path});
  return result.ok() ? result.out : "";
}

std::string OperatorProcess::log_tail(std::size_t lines) const {
  return cluster::run_command({"tail", "-n", std::to_string(lines), log_file_}).out;
}

void OperatorProcess::wait_ready(std::chrono::seconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (!process_.running()) break;
    const CommandResult result = cluster::run_command(
        {"curl", "-sf", "-m", "2", "http://127.0.0.1:" + std::to_string(health_port_) + "/readyz"});
    if (result.ok()) return;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  throw std::runtime_error("the operator did not become ready; log tail:\n" + log_tail());
}

WebhookRegistration::WebhookRegistration(const ControlPlane& plane, int port) : plane_(plane) {
  const CommandResult ca = cluster::run_command({"base64", "-w0", plane.ca_file()});
  if (!ca.ok()) throw std::runtime_error("base64 " + plane.ca_file() + ": " + ca.err);
  std::ostringstream yaml;
  yaml << "apiVersion: admissionregistration.k8s.io/v1\n"
       << "kind: MutatingWebhookConfiguration\n"
       << "metadata:\n  name: " << kName << "\n"
       << "webhooks:\n"
       << "- name: " << kWebhookName << "\n"
       << "  admissionReviewVersions: [v1]\n"
       << "  sideEffects: None\n"
       << "  timeoutSeconds: 10\n"
       << "  reinvocationPolicy: IfNeeded\n"
       << "  failurePolicy: Fail\n"
       << "  matchPolicy: Equivalent\n"
       << "  clientConfig:\n"
       << "    url: https://127.0.0.1:" << port << "/mutate-pods\n"
       << "    caBundle: " << ca.out << "\n"
       << "  rules:\n"
       << "  - operations: [CREATE]\n"
       << "    apiGroups: ['']\n"
       << "    apiVersions: [v1]\n"
       << "    resources: [pods]\n"
       << "    scope: Namespaced\n"
       << "  namespaceSelector:\n"
       << "    matchLabels: {ipcmesh.io/injection: enabled}\n";
  plane_.kubectl_ok({"apply", "-f", "-"}, yaml.str());
}

WebhookRegistration::~WebhookRegistration() {
  remove();
}

void WebhookRegistration::remove() {
  if (!registered_) return;
  plane_.kubectl({"delete", "mutatingwebhookconfiguration", kName, "--ignore-not-found"});
  registered_ = false;
}

}  // namespace ipcmesh::bench::scale
