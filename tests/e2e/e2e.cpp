#include "e2e.hpp"

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <random>
#include <regex>
#include <sstream>
#include <thread>

namespace ipcmesh::e2e {
namespace {

std::string environment_or(const char* name, const std::string& fallback) {
  const char* value = std::getenv(name);
  return value != nullptr && *value != '\0' ? value : fallback;
}

// kubectl and helm from IPCMESH_TOOLS_BIN (make tools), else the build's tools, else PATH.
std::string tool(const std::string& name) {
  const std::string bin = environment_or("IPCMESH_TOOLS_BIN", IPCMESH_TOOLS_BIN);
  const std::string candidate = bin + "/" + name;
  return std::ifstream(candidate).good() ? candidate : name;
}

std::string random_suffix() {
  std::random_device device;
  std::uniform_int_distribution<int> digit(0, 35);
  std::string suffix;
  for (int i = 0; i < 5; ++i) {
    const int value = digit(device);
    suffix += static_cast<char>(value < 10 ? '0' + value : 'a' + value - 10);
  }
  return suffix;
}

[[noreturn]] void abort_run(const std::string& message) {
  std::fprintf(stderr, "e2e: %s\n", message.c_str());
  std::fflush(stderr);
  std::exit(1);
}

}  // namespace

void E2eEnvironment::SetUp() {
  if (std::getenv("KUBECONFIG") == nullptr) {
    abort_run(
        "KUBECONFIG is not set: run the suite with tests/e2e/run-suite.sh (make test-e2e, make "
        "e2e-kind)");
  }
  // run-suite.sh installs the chart once for the run; without it every test would fail slowly.
  const auto status =
      helm({"status", kReleaseName, "--namespace", kReleaseNamespace, "-o", "json"});
  if (!status.ok() || nlohmann::json::parse(status.out, nullptr, false)
                              .value("info", nlohmann::json::object())
                              .value("status", "") != "deployed") {
    abort_run("the ipcmesh chart is not installed as release '" + std::string(kReleaseName) +
              "' in " + kReleaseNamespace + " (tests/e2e/run-suite.sh installs it): " + status.err);
  }
}

void E2eEnvironment::TearDown() {}

CommandResult kubectl(const std::vector<std::string>& args, const std::string& input) {
  std::vector<std::string> argv{tool("kubectl"), "--request-timeout=30s"};
  argv.insert(argv.end(), args.begin(), args.end());
  return cluster::run_command(argv, input);
}

std::string kubectl_ok(const std::vector<std::string>& args, const std::string& input) {
  auto result = kubectl(args, input);
  if (!result.ok()) {
    std::string command = "kubectl";
    for (const auto& arg : args) command += " " + arg;
    ADD_FAILURE() << command << " failed (" << result.exit_code << "): " << result.err;
    throw std::runtime_error(command + ": " + result.err);
  }
  return result.out;
}

nlohmann::json kubectl_json(const std::vector<std::string>& args) {
  auto with_output = args;
  with_output.insert(with_output.end(), {"-o", "json"});
  return nlohmann::json::parse(kubectl_ok(with_output));
}

CommandResult helm(const std::vector<std::string>& args) {
  std::vector<std::string> argv{tool("helm")};
  argv.insert(argv.end(), args.begin(), args.end());
  return cluster::run_command(argv);
}

void create_named_namespace(const std::string& name, const std::vector<std::string>& extra_labels) {
  kubectl_ok({"create", "namespace", name});
  // ipcmesh.io/e2e marks what run-suite.sh deletes at the end of the run.
  std::vector<std::string> label{"label", "namespace", name, "ipcmesh.io/injection=enabled",
                                 "ipcmesh.io/e2e=true"};
  label.insert(label.end(), extra_labels.begin(), extra_labels.end());
  kubectl_ok(label);
  const bool has_account = eventually([&] {
    return kubectl({"get", "serviceaccount", "default", "-n", name}).ok();
  });
  if (!has_account)
    ADD_FAILURE() << "namespace " << name << " never got its default ServiceAccount";
}

std::string create_namespace(const std::string& prefix,
                             const std::vector<std::string>& extra_labels) {
  const std::string name = prefix + "-" + random_suffix();
  create_named_namespace(name, extra_labels);
  return name;
}

std::string manifest_for_namespace(const std::string& example_path) {
  static const std::regex metadata_namespace(R"((^|\n)(  namespace: )[^\n]*)");
  return std::regex_replace(read_file(repo_path(example_path)), metadata_namespace, "$1");
}

void apply_example(const std::string& example_path, const std::string& ns) {
  kubectl_ok({"apply", "-n", ns, "-f", "-"}, manifest_for_namespace(example_path));
}

bool eventually(const std::function<bool()>& condition, std::chrono::milliseconds timeout,
                std::chrono::milliseconds period) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    if (condition()) return true;
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(period);
  }
}

std::string describe_pod(const std::string& ns, const std::string& pod) {
  std::string text = kubectl({"describe", "pod", pod, "-n", ns}).out;
  const auto containers =
      kubectl({"get", "pod", pod, "-n", ns, "-o",
               "jsonpath={.spec.initContainers[*].name} {.spec.containers[*].name}"});
  std::istringstream names(containers.out);
  for (std::string name; names >> name;) {
    text += "\n--- logs of " + name + " ---\n" +
            kubectl({"logs", pod, "-n", ns, "-c", name, "--tail=30"}).out;
  }
  return text;
}

void wait_for_phase(const std::string& ns, const std::string& pod, const std::string& phase,
                    std::chrono::seconds timeout) {
  std::string last;
  const bool reached = eventually(
      [&] {
        last = kubectl({"get", "pod", pod, "-n", ns, "-o", "jsonpath={.status.phase}"}).out;
        return last == phase || (phase != "Failed" && last == "Failed");
      },
      timeout);
  ASSERT_TRUE(reached && last == phase)
      << "pod " << ns << "/" << pod << " is " << last << ", not " << phase << ":\n"
      << describe_pod(ns, pod);
}

void wait_for_ready(const std::string& ns, const std::string& pod, std::chrono::seconds timeout) {
  const auto result = kubectl({"wait", "--for=condition=Ready", "pod/" + pod, "-n", ns,
                               "--timeout=" + std::to_string(timeout.count()) + "s"});
  ASSERT_TRUE(result.ok()) << "pod " << ns << "/" << pod << " not Ready: " << result.err << "\n"
                           << describe_pod(ns, pod);
}

std::string pod_logs(const std::string& ns, const std::string& pod, const std::string& container) {
  return kubectl_ok({"logs", pod, "-n", ns, "-c", container});
}

std::string pod_metrics(const std::string& ns, const std::string& pod, int port) {
  return kubectl_ok({"get", "--raw",
                     "/api/v1/namespaces/" + ns + "/pods/" + pod + ":" + std::to_string(port) +
                         "/proxy/metrics"});
}

double metric_value(const std::string& metrics, const std::string& name,
                    const std::string& label_substring) {
  std::istringstream lines(metrics);
  for (std::string line; std::getline(lines, line);) {
    if (line.empty() || line[0] == '#') continue;
    if (line.rfind(name, 0) != 0) continue;
    const char next = line.size() > name.size() ? line[name.size()] : '\0';
    if (next != '{' && next != ' ') continue;
    if (!label_substring.empty() && line.find(label_substring) == std::string::npos) continue;
    return std::stod(line.substr(line.rfind(' ') + 1));
  }
  return -1;
}

std::string script_pod(const ScriptPod& pod) {
  const std::string security =
      pod.restricted ? "{runAsNonRoot: true, allowPrivilegeEscalation: false, capabilities: {drop: "
                       "[ALL]}, seccompProfile: {type: RuntimeDefault}}"
                     : "{allowPrivilegeEscalation: false, capabilities: {drop: [ALL]}}";
  return "apiVersion: v1\nkind: Pod\nmetadata:\n  name: " + pod.name + "\n  labels: {" +
         pod.label_key + ": " + pod.label_value +
         "}\nspec:\n  restartPolicy: Never\n  automountServiceAccountToken: false\n  hostIPC: " +
         (pod.host_ipc ? "true" : "false") +
         "\n  containers:\n    - name: app\n      image: " + tools_image() +
         "\n      imagePullPolicy: IfNotPresent\n      command: [bash, -c, '" + pod.script +
         "']\n      resources: {requests: {cpu: 10m, memory: 16Mi}, limits: {memory: 64Mi}}"
         "\n      securityContext: " +
         security + "\n";
}

std::string repo_path(const std::string& relative) {
  return std::string(IPCMESH_SOURCE_DIR) + "/" + relative;
}

std::string read_file(const std::string& path) {
  std::ifstream file(path);
  if (!file) throw std::runtime_error("cannot read " + path);
  std::ostringstream content;
  content << file.rdbuf();
  return content.str();
}

std::string project_version() {
  return IPCMESH_VERSION;
}

std::string tools_image() {
  return "ipcmesh/tools:" + project_version();
}

std::string ipc_channel(const std::string& name, const std::string& label_key,
                        const std::string& label_value, const std::string& spec) {
  return "apiVersion: ipcmesh.io/v1alpha1\nkind: IpcChannel\nmetadata: {name: " + name +
         "}\nspec:\n  selector: {matchLabels: {" + label_key + ": " + label_value + "}}\n" + spec;
}

std::size_t count_lines_containing(const std::string& text, const std::string& needle) {
  std::istringstream lines(text);
  std::size_t count = 0;
  for (std::string line; std::getline(lines, line);)
    count += line.find(needle) != std::string::npos ? 1 : 0;
  return count;
}

}  // namespace ipcmesh::e2e
