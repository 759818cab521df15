// The end-to-end tier's view of a cluster: any cluster a kubeconfig names (the local kubelet node
// of `make test-e2e`, or kind with `make e2e-kind`), with the ipcmesh chart installed once for the
// run by E2eEnvironment. Everything goes through kubectl and helm, as a user would.
#pragma once

#include <gtest/gtest.h>

#include <chrono>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "process.hpp"

namespace ipcmesh::e2e {

using cluster::CommandResult;

// The chart's release and namespace for the whole run.
inline constexpr const char* kReleaseNamespace = "ipcmesh-system";
inline constexpr const char* kReleaseName = "ipcmesh";
// The only namespace the installed policy allows scope: Node channels in (hostIPC).
inline constexpr const char* kHostIpcNamespace = "ipcmesh-e2e-hostipc";

class E2eEnvironment : public ::testing::Environment {
 public:
  void SetUp() override;
  void TearDown() override;
};

CommandResult kubectl(const std::vector<std::string>& args, const std::string& input = "");
// kubectl that must succeed: fails the test (and throws) with kubectl's stderr otherwise.
std::string kubectl_ok(const std::vector<std::string>& args, const std::string& input = "");
nlohmann::json kubectl_json(const std::vector<std::string>& args);
CommandResult helm(const std::vector<std::string>& args);

// A fresh namespace PREFIX-<random>, labelled for injection (and `extra_labels`, "k=v"), whose
// default ServiceAccount exists; deleted at the end of the run unless IPCMESH_E2E_KEEP is set.
std::string create_namespace(const std::string& prefix,
                             const std::vector<std::string>& extra_labels = {});
// The same for a fixed name (kHostIpcNamespace).
void create_named_namespace(const std::string& name,
                            const std::vector<std::string>& extra_labels = {});

// A manifest of examples/ with every `namespace:` of its objects dropped, so it lands in `ns`.
std::string manifest_for_namespace(const std::string& example_path);
void apply_example(const std::string& example_path, const std::string& ns);

bool eventually(const std::function<bool()>& condition,
                std::chrono::milliseconds timeout = std::chrono::seconds(60),
                std::chrono::milliseconds period = std::chrono::milliseconds(250));

// Waits for the Pod's phase (Running, Succeeded); on timeout fails with its status and events.
void wait_for_phase(const std::string& ns, const std::string& pod, const std::string& phase,
                    std::chrono::seconds timeout = std::chrono::seconds(120));
void wait_for_ready(const std::string& ns, const std::string& pod,
                    std::chrono::seconds timeout = std::chrono::seconds(120));
std::string pod_logs(const std::string& ns, const std::string& pod, const std::string& container);
// GET /metrics of a Pod's port through the API server's Pod proxy (works on any cluster).
std::string pod_metrics(const std::string& ns, const std::string& pod, int port);
// The value of one Prometheus sample (metric name with its exact label set, e.g.
// `ipcmesh_channel_published_messages_total{channel="x"}`), or -1 when absent.
double metric_value(const std::string& metrics, const std::string& name,
                    const std::string& label_substring = "");
// Everything useful when a Pod misbehaves: status, events, logs of every container.
std::string describe_pod(const std::string& ns, const std::string& pod);

// The examples' app image, as `make images` tags it.
std::string tools_image();
// An IpcChannel `name` selecting the Pods labelled `label_key: label_value`; `spec` is the rest of
// its spec, one field per line, indented by two spaces (kSmallRing...).
std::string ipc_channel(const std::string& name, const std::string& label_key,
                        const std::string& label_value, const std::string& spec);
inline constexpr const char* kSmallRing =
    "  transport: SharedMemory\n  sharedMemory: {size: 1Mi, maxMessageSize: 1Ki}\n";
inline constexpr const char* kSmallQueue =
    "  transport: MessageQueue\n  messageQueue: {maxMessages: 10, maxMessageSize: 256}\n";
inline constexpr const char* kSmallRingAndQueue =
    "  transport: Both\n  sharedMemory: {size: 1Mi, maxMessageSize: 1Ki}\n"
    "  messageQueue: {maxMessages: 10, maxMessageSize: 256}\n";

// A Pod (restartPolicy Never) with one container "app" of tools_image() running `script` with
// bash -c (the script may not contain single quotes).
struct ScriptPod {
  std::string name;
  std::string label_key;
  std::string label_value;
  std::string script;
  bool host_ipc = false;
  // The restricted Pod Security Standard's container settings, else only no privilege
  // escalation and no capabilities.
  bool restricted = true;
};
std::string script_pod(const ScriptPod& pod);

std::string repo_path(const std::string& relative);
std::string read_file(const std::string& path);
std::string project_version();

// The lines of `text` that contain `needle`.
std::size_t count_lines_containing(const std::string& text, const std::string& needle);

}  // namespace ipcmesh::e2e
