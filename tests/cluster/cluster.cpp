#include "cluster.hpp"

#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cctype>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <stdexcept>
#include <thread>

namespace ipcmesh::cluster {
namespace {

ControlPlane& mutable_control_plane() {
  static ControlPlane plane;  // written once in SetUp, before any test runs
  return plane;
}

std::string script() {
  return repo_path("tests/cluster/control-plane.sh");
}

std::string env_value(const std::string& env_text, const std::string& key) {
  std::istringstream in(env_text);
  std::string line;
  const std::string prefix = "export " + key + "=";
  while (std::getline(in, line)) {
    if (line.rfind(prefix, 0) == 0) return line.substr(prefix.size());
  }
  throw std::runtime_error("control plane env has no " + key);
}

std::string random_suffix() {
  std::random_device device;
  std::mt19937 generator(device());
  static constexpr char kAlphabet[] = "bcdfghjklmnpqrstvwxz2456789";
  std::string suffix;
  for (int i = 0; i < 5; ++i) suffix += kAlphabet[generator() % (sizeof kAlphabet - 1)];
  return suffix;
}

std::string base64_file(const std::string& path) {
  CommandResult result = run_command({"base64", "-w0", path});
  if (!result.ok()) throw std::runtime_error("base64 " + path + ": " + result.err);
  return result.out;
}

constexpr const char* kTestNamespaceLabel = "ipcmesh.io/test-webhooks";

std::string trim(std::string text) {
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.back()))) text.pop_back();
  return text;
}

// Renders only the chart's ServiceAccount and RBAC (as `helm install -n kOperatorNamespace`
// would) and applies them; returns the ServiceAccount's name as the chart spells it.
std::string apply_chart_rbac(const ControlPlane& plane) {
  const std::string helm = plane.tools_bin + "/helm";
  if (::access(helm.c_str(), X_OK) != 0) {
    throw std::runtime_error(helm +
                             " is missing: the cluster tier runs the operator under the chart's "
                             "RBAC, rendered by helm; build it with 'make tools'");
  }
  const CommandResult rendered = run_command(
      {helm, "template", "ipcmesh", repo_path("charts/ipcmesh"), "--namespace", kOperatorNamespace,
       "--show-only", "templates/serviceaccount.yaml", "--show-only", "templates/rbac.yaml"});
  if (!rendered.ok()) {
    throw std::runtime_error("helm template of the chart's RBAC failed: " + rendered.err);
  }
  const nlohmann::json applied =
      nlohmann::json::parse(kubectl_ok({"apply", "-f", "-", "-o", "json"}, rendered.out));
  // One object comes back as itself, several as a List.
  const nlohmann::json items =
      applied.value("kind", "") == "List" ? applied.at("items") : nlohmann::json::array({applied});
  for (const auto& item : items) {
    if (item.value("kind", "") == "ServiceAccount") {
      return item.at("metadata").at("name").get<std::string>();
    }
  }
  throw std::runtime_error("the chart rendered no ServiceAccount:\n" + rendered.out);
}

// A kubeconfig for the control plane that authenticates with a TokenRequest token of the
// operator's ServiceAccount (24 h: longer than any run), readable by us only.
std::string write_operator_kubeconfig(const ControlPlane& plane) {
  const std::string token = trim(kubectl_ok({"create", "token", plane.operator_service_account,
                                             "-n", kOperatorNamespace, "--duration", "24h"}));
  if (token.empty()) throw std::runtime_error("kubectl create token printed no token");
  const std::string file = plane.dir + "/operator.kubeconfig";
  const std::string partial = file + ".partial";
  {
    std::ofstream out(partial, std::ios::trunc);
    out << "apiVersion: v1\n"
        << "kind: Config\n"
        << "clusters:\n"
        << "- name: ipcmesh-test\n"
        << "  cluster:\n"
        << "    server: " << plane.apiserver_url << "\n"
        << "    certificate-authority: " << plane.ca_file << "\n"
        << "users:\n"
        << "- name: " << plane.operator_service_account << "\n"
        << "  user:\n"
        << "    token: " << token << "\n"
        << "contexts:\n"
        << "- name: ipcmesh-operator\n"
        << "  context: {cluster: ipcmesh-test, user: " << plane.operator_service_account << "}\n"
        << "current-context: ipcmesh-operator\n";
    if (!out) throw std::runtime_error("cannot write " + partial);
  }
  ::chmod(partial.c_str(), 0600);
  std::filesystem::rename(partial, file);  // an operator starting now never reads half a file
  return file;
}

}  // namespace

std::string operator_user() {
  return std::string("system:serviceaccount:") + kOperatorNamespace + ":" +
         ClusterEnvironment::control_plane().operator_service_account;
}

std::string repo_path(const std::string& relative) {
  return std::string(IPCMESH_SOURCE_DIR) + "/" + relative;
}

std::string read_file(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw std::runtime_error("cannot read " + path);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

const ControlPlane& ClusterEnvironment::control_plane() {
  return mutable_control_plane();
}

void ClusterEnvironment::SetUp() {
  std::string dir;
  if (const char* shared = std::getenv("IPCMESH_CLUSTER_DIR"); shared && *shared) {
    dir = shared;
  } else {
    // Run alone: a control plane of our own, stopped in TearDown.
    dir = std::string(IPCMESH_BIN_DIR) + "/../cluster-" + std::to_string(::getpid());
    const CommandResult up =
        run_command({script(), "up", dir}, "", {"IPCMESH_TOOLS_BIN=" IPCMESH_TOOLS_BIN});
    if (!up.ok()) {
      throw std::runtime_error("control-plane.sh up failed (run 'make tools' first?):\n" + up.err);
    }
    started_here_ = true;
  }
  const std::string env_text = read_file(dir + "/env");
  ControlPlane& plane = mutable_control_plane();
  plane.dir = env_value(env_text, "IPCMESH_CLUSTER_DIR");
  plane.kubeconfig = env_value(env_text, "KUBECONFIG");
  plane.ca_file = env_value(env_text, "IPCMESH_CLUSTER_CA");
  plane.apiserver_url = env_value(env_text, "IPCMESH_APISERVER");
  plane.etcd_url = env_value(env_text, "IPCMESH_ETCD");
  plane.tools_bin = env_value(env_text, "IPCMESH_TOOLS_BIN");

  kubectl_ok({"apply", "-f", repo_path("crds/ipcchannel.yaml")});
  kubectl_ok(
      {"wait", "--for=condition=Established", "--timeout=60s", "crd/ipcchannels.ipcmesh.io"});
  kubectl_ok({"apply", "-f", "-"},
             std::string("apiVersion: v1\nkind: Namespace\nmetadata:\n  name: ") +
                 kOperatorNamespace + "\n");
  plane.operator_service_account = apply_chart_rbac(plane);
  plane.operator_kubeconfig = write_operator_kubeconfig(plane);
}

void ClusterEnvironment::TearDown() {
  if (started_here_) run_command({script(), "down", mutable_control_plane().dir});
}

CommandResult kubectl(const std::vector<std::string>& args, const std::string& input) {
  const ControlPlane& plane = ClusterEnvironment::control_plane();
  std::vector<std::string> argv = {plane.tools_bin + "/kubectl", "--kubeconfig", plane.kubeconfig};
  argv.insert(argv.end(), args.begin(), args.end());
  return run_command(argv, input);
}

std::string kubectl_ok(const std::vector<std::string>& args, const std::string& input) {
  CommandResult result = kubectl(args, input);
  if (!result.ok()) {
    std::string command = "kubectl";
    for (const auto& a : args) command += " " + a;
    ADD_FAILURE() << command << " exited " << result.exit_code << ": " << result.err;
    throw std::runtime_error(command + " failed: " + result.err);
  }
  return result.out;
}

nlohmann::json kubectl_json(const std::vector<std::string>& args) {
  std::vector<std::string> with_output = args;
  with_output.insert(with_output.end(), {"-o", "json"});
  return nlohmann::json::parse(kubectl_ok(with_output));
}

std::string create_namespace(const std::string& prefix) {
  const std::string name = prefix + "-" + random_suffix();
  kubectl_ok({"create", "namespace", name});
  // The test label is what the test webhook registrations select; ipcmesh.io/injection=enabled is
  // what a user adds (the chart's namespaceSelector), so the operators here run with their
  // default --namespace-label and see every test namespace as enabled.
  kubectl_ok({"label", "namespace", name, std::string(kTestNamespaceLabel) + "=enabled",
              "ipcmesh.io/injection=enabled"});
  // The controller manager's service-account controller adds "default"; Pods need it.
  const bool has_account = eventually([&] {
    return kubectl({"get", "serviceaccount", "default", "-n", name}).ok();
  });
  if (!has_account) ADD_FAILURE() << "namespace " << name << " never got its default account";
  return name;
}

bool eventually(const std::function<bool()>& condition, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    if (condition()) return true;
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
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

void issue_serving_certificate(const std::string& dir, const std::string& name) {
  const ControlPlane& plane = ClusterEnvironment::control_plane();
  const std::string key = dir + "/" + name + ".key";
  const std::string csr = dir + "/" + name + ".csr";
  const std::string crt = dir + "/" + name + ".crt";
  const std::string ext = dir + "/" + name + ".ext";
  std::ofstream(ext) << "subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n";
  const std::string ca_key = plane.dir + "/pki/ca.key";
  for (const auto& argv : std::vector<std::vector<std::string>>{
           {"openssl", "req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=" + name, "-keyout",
            key, "-out", csr},
           {"openssl", "x509", "-req", "-in", csr, "-CA", plane.ca_file, "-CAkey", ca_key,
            "-CAcreateserial", "-days", "30", "-extfile", ext, "-out", crt}}) {
    const CommandResult result = run_command(argv);
    if (!result.ok()) throw std::runtime_error(argv[0] + " " + argv[1] + ": " + result.err);
  }
}

OperatorProcess::OperatorProcess(OperatorOptions options) : options_(std::move(options)) {
  const ControlPlane& plane = ClusterEnvironment::control_plane();
  const std::string dir = plane.dir + "/operators/" + options_.identity;
  std::filesystem::create_directories(dir);
  issue_serving_certificate(dir, "webhook");
  webhook_port_ = free_port();
  health_port_ = free_port();
  log_file_ = plane.dir + "/logs/operator-" + options_.identity + ".log";
  std::vector<std::string> argv = {std::string(IPCMESH_BIN_DIR) + "/ipcmesh-operator",
                                   "--kubeconfig",
                                   plane.operator_kubeconfig,
                                   "--namespace",
                                   options_.operator_namespace,
                                   "--identity",
                                   options_.identity,
                                   "--threads",
                                   "2",
                                   "--health-port",
                                   std::to_string(health_port_),
                                   "--webhook-port",
                                   std::to_string(webhook_port_),
                                   "--tls-cert",
                                   dir + "/webhook.crt",
                                   "--tls-key",
                                   dir + "/webhook.key",
                                   "--log-level",
                                   "debug"};
  argv.insert(argv.end(), options_.extra_flags.begin(), options_.extra_flags.end());
  argv_ = argv;
  process_ = BackgroundProcess(argv, log_file_);
}

OperatorProcess::~OperatorProcess() {
  stop();
}

void OperatorProcess::stop() {
  process_.stop(std::chrono::seconds(20));
}
void OperatorProcess::kill_now() {
  process_.kill_now();
}

void OperatorProcess::restart() {
  process_.stop(std::chrono::seconds(20));
  process_ = BackgroundProcess(argv_, log_file_);
}

std::string OperatorProcess::health_get(const std::string& path) const {
  const CommandResult result = run_command(
      {"curl", "-s", "-m", "3", "http://127.0.0.1:" + std::to_string(health_port_) + path});
  return result.ok() ? result.out : "";
}

std::string OperatorProcess::log_tail(std::size_t lines) const {
  return run_command({"tail", "-n", std::to_string(lines), log_file_}).out;
}

void OperatorProcess::wait_ready(std::chrono::seconds timeout) {
  const bool ready = eventually(
      [&] {
        const CommandResult result =
            run_command({"curl", "-sf", "-m", "2",
                         "http://127.0.0.1:" + std::to_string(health_port_) + "/readyz"});
        return result.ok() || !process_.running();
      },
      timeout);
  if (!ready || !process_.running()) {
    ADD_FAILURE() << "operator " << options_.identity << " not ready; log tail:\n" << log_tail();
    throw std::runtime_error("operator not ready");
  }
}

WebhookRegistration::WebhookRegistration(std::string name, int port, FailurePolicy policy,
                                         std::string path)
    : name_(std::move(name)) {
  const ControlPlane& plane = ClusterEnvironment::control_plane();
  std::ostringstream yaml;
  yaml << "apiVersion: admissionregistration.k8s.io/v1\n"
       << "kind: MutatingWebhookConfiguration\n"
       << "metadata:\n  name: " << name_ << "\n"
       << "webhooks:\n"
       << "- name: " << name_ << ".test.ipcmesh.io\n"
       << "  admissionReviewVersions: [v1]\n"
       << "  sideEffects: None\n"
       << "  timeoutSeconds: 5\n"
       << "  reinvocationPolicy: IfNeeded\n"
       << "  failurePolicy: " << (policy == FailurePolicy::kFail ? "Fail" : "Ignore") << "\n"
       << "  clientConfig:\n"
       << "    url: https://127.0.0.1:" << port << path << "\n"
       << "    caBundle: " << base64_file(plane.ca_file) << "\n"
       << "  rules:\n"
       << "  - operations: [CREATE]\n"
       << "    apiGroups: ['']\n"
       << "    apiVersions: [v1]\n"
       << "    resources: [pods]\n"
       << "    scope: Namespaced\n"
       << "  namespaceSelector:\n"
       << "    matchLabels: {" << kTestNamespaceLabel << ": enabled}\n";
  kubectl_ok({"apply", "-f", "-"}, yaml.str());
}

WebhookRegistration::~WebhookRegistration() {
  kubectl({"delete", "mutatingwebhookconfiguration", name_, "--ignore-not-found"});
}

}  // namespace ipcmesh::cluster
