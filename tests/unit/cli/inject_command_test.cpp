// ipcmeshctl inject, in process through the whole command line (run_ipcmeshctl), and the YAML
// reading it shares with the rest of ipcmeshctl.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "api/ipc_channel.hpp"
#include "ipcmeshctl.hpp"
#include "yaml_documents.hpp"

namespace ipcmesh::cli {
namespace {

using nlohmann::json;

const std::string kExamples = std::string(IPCMESH_SOURCE_DIR) + "/examples/";

struct RunResult {
  int code;
  std::string out;
  std::string err;
};

RunResult run(std::vector<std::string> args, const std::string& stdin_text = "") {
  args.insert(args.begin(), "inject");
  std::istringstream in(stdin_text);
  std::ostringstream out;
  std::ostringstream err;
  const int code = run_ipcmeshctl(args, in, out, err);
  return {code, out.str(), err.str()};
}

// Every IpcChannel in examples/ is valid for the operator's parser (the contract).
TEST(Examples, EveryExampleChannelParses) {
  int channels = 0;
  for (const auto& entry : std::filesystem::recursive_directory_iterator(kExamples)) {
    if (entry.path().extension() != ".yaml") continue;
    std::ifstream file(entry.path());
    std::stringstream text;
    text << file.rdbuf();
    for (auto document : documents_from_yaml(text.str())) {
      if (document.value("kind", "") != "IpcChannel") continue;
      // examples/classic/ names no namespace: kubectl apply -n NS (or the context's) supplies it.
      if (!document["metadata"].contains("namespace"))
        document["metadata"]["namespace"] = "default";
      auto channel = api::ipc_channel_from_json(document);
      EXPECT_TRUE(channel.has_value())
          << entry.path() << ": " << (channel ? "" : channel.error().message);
      ++channels;
    }
  }
  EXPECT_GE(channels, 7);  // examples/ and examples/classic/
}

// The example Deployment gets both example channels in its Pod template, as YAML.
TEST(InjectCommand, InjectsTheDeploymentTemplate) {
  auto result =
      run({"-f", kExamples + "workload.yaml", "--channel", kExamples + "shared-memory.yaml",
           "--channel", kExamples + "both-legacy-bridge.yaml"});
  ASSERT_EQ(result.code, 0) << result.err;
  const auto documents = documents_from_yaml(result.out);
  ASSERT_EQ(documents.size(), 1u);
  const json& pod_spec = documents[0]["spec"]["template"]["spec"];
  EXPECT_EQ(pod_spec["initContainers"][0]["name"], "ipcmesh-relay");
  EXPECT_EQ(pod_spec["initContainers"][0]["restartPolicy"], "Always");
  EXPECT_TRUE(
      documents[0]["spec"]["template"]["metadata"]["annotations"].contains("ipcmesh.io/status"));
  EXPECT_EQ(documents[0]["spec"]["replicas"], 1) << "YAML numbers stay numbers";
}

// -f - reads stdin, -o json prints JSON, --kube-version 1.28 gives a plain container.
TEST(InjectCommand, ReadsStdinAndHonoursKubeVersionAndOutput) {
  const std::string pod = R"(apiVersion: v1
kind: Pod
metadata:
  name: p
  labels: {app: pipeline}
spec:
  containers:
  - name: app
    image: busybox
    env: [{name: FLAG, value: "true"}]
)";
  auto result = run({"-f", "-", "--channel", kExamples + "shared-memory.yaml", "--kube-version",
                     "1.28", "-o", "json"},
                    pod);
  ASSERT_EQ(result.code, 0) << result.err;
  const json out = json::parse(result.out);
  EXPECT_EQ(out["spec"]["containers"][0]["name"], "ipcmesh-relay");
  EXPECT_EQ(out["spec"]["containers"][1]["env"][0]["value"], "true") << "quoted stays a string";
}

// A Pod the webhook would deny fails with exit code 1 and the message; bad usage is 2.
TEST(InjectCommand, DenialsAndUsageErrorsHaveTheirExitCodes) {
  const std::string pod =
      "kind: Pod\nmetadata: {name: p, labels: {app: worker}}\n"
      "spec: {containers: [{name: app}]}\n";
  auto denied = run({"-f", "-", "--channel", kExamples + "message-queue.yaml"}, pod);
  EXPECT_EQ(denied.code, 1);
  EXPECT_NE(denied.err.find("fs.mqueue"), std::string::npos) << denied.err;
  auto allowed = run(
      {"-f", "-", "--channel", kExamples + "message-queue.yaml", "--allow-mqueue-sysctls"}, pod);
  EXPECT_EQ(allowed.code, 0) << allowed.err;
  EXPECT_EQ(run({"--channel", "x"}).code, 2);
  EXPECT_EQ(run({"-f", "-"}).code, 2);
  EXPECT_EQ(run({"-f", "-", "--channel", "x", "-o", "xml"}).code, 2);
  EXPECT_EQ(run({"-f", "/nonexistent", "--channel", kExamples + "shared-memory.yaml"}).code, 1);
  EXPECT_EQ(run({"--help"}).code, 0);
}

// YAML scalars follow the core schema both ways: strings that look like numbers stay quoted.
TEST(InjectCommand, YamlRoundTripKeepsTypes) {
  const json value = {{"s", "123"},   {"n", 123}, {"b", true}, {"t", "true"},
                      {"z", nullptr}, {"e", ""},  {"f", 1.5},  {"l", json::array({"a", 2})}};
  const auto back = documents_from_yaml(documents_to_yaml({value}));
  ASSERT_EQ(back.size(), 1u);
  EXPECT_EQ(back[0], value);
}

// A folder of manifests, removed afterwards.
class ManifestFolder {
 public:
  explicit ManifestFolder(const std::string& tag)
      : path_(std::filesystem::temp_directory_path() /
              ("ipcmeshctl-inject-" + std::to_string(::getpid()) + "-" + tag)) {
    std::filesystem::create_directories(path_);
  }
  ~ManifestFolder() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  void write(const std::string& relative, const std::string& text) const {
    std::filesystem::create_directories((path_ / relative).parent_path());
    std::ofstream(path_ / relative) << text;
  }
  std::string path() const { return path_.string(); }

 private:
  std::filesystem::path path_;
};

const std::string kPod =
    "apiVersion: v1\nkind: Pod\nmetadata: {name: first, labels: {app: pipeline}}\n"
    "spec: {containers: [{name: app, image: busybox}]}\n";
const std::string kPodJson =
    R"({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "second", "labels": )"
    R"({"app": "pipeline"}}, "spec": {"containers": [{"name": "app", "image": "busybox"}]}})";

// -f DIR reads the folder recursively, like kubectl: its .yaml, .yml and .json files in path
// order, and nothing else. (It used to print nothing and exit 0.)
TEST(InjectCommand, ReadsADirectoryRecursively) {
  const ManifestFolder folder("recursive");
  folder.write("a/pod.yaml", kPod);
  folder.write("b/deeper/pod.json", kPodJson);
  folder.write("notes.txt", "kind: Pod\nmetadata: {name: not-a-manifest}\n");
  auto result =
      run({"-f", folder.path(), "--channel", kExamples + "shared-memory.yaml", "-o", "json"});
  ASSERT_EQ(result.code, 0) << result.err;
  const json list = json::parse(result.out);
  ASSERT_EQ(list["kind"], "List");
  ASSERT_EQ(list["items"].size(), 2u);
  EXPECT_EQ(list["items"][0]["metadata"]["name"], "first");
  EXPECT_EQ(list["items"][1]["metadata"]["name"], "second");
  for (const json& pod : list["items"]) {
    EXPECT_EQ(pod["spec"]["initContainers"][0]["name"], "ipcmesh-relay");
  }
}

// Files, directories and stdin mix, with -f repeated; --output=yaml is the long spelling of -o.
TEST(InjectCommand, MixesFilesDirectoriesAndStdin) {
  const ManifestFolder folder("mixed");
  folder.write("pod.yml", kPod);
  auto result = run({"-f", folder.path(), "--filename=-", "--channel",
                     kExamples + "shared-memory.yaml", "--output=yaml"},
                    kPodJson);
  ASSERT_EQ(result.code, 0) << result.err;
  const auto documents = documents_from_yaml(result.out);
  ASSERT_EQ(documents.size(), 2u);
  EXPECT_EQ(documents[0]["metadata"]["name"], "first");
  EXPECT_EQ(documents[1]["metadata"]["name"], "second");
}

// An -f that names no object is an error that says so, never an empty success.
TEST(InjectCommand, NoObjectIsAnError) {
  const ManifestFolder folder("empty");
  folder.write("README.md", "# no manifests here\n");
  for (const RunResult& result :
       {run({"-f", folder.path(), "--channel", kExamples + "shared-memory.yaml"}),
        run({"-f", "-", "--channel", kExamples + "shared-memory.yaml"}, "# only a comment\n")}) {
    EXPECT_EQ(result.code, 1);
    EXPECT_EQ(result.out, "");
    EXPECT_NE(result.err.find("no objects in -f"), std::string::npos) << result.err;
  }
}

// --host-ipc-namespaces is the operator's spelling; --host-ipc-namespace, the old one, still
// works but is not shown.
TEST(InjectCommand, HostIpcNamespacesInBothSpellings) {
  const std::string pod =
      "kind: Pod\nmetadata: {name: p, namespace: media, labels: {app: pipeline}}\n"
      "spec: {containers: [{name: app}]}\n";
  const std::string channel =
      "apiVersion: ipcmesh.io/v1alpha1\nkind: IpcChannel\n"
      "metadata: {name: frames, namespace: media}\n"
      "spec: {selector: {matchLabels: {app: pipeline}}, transport: SharedMemory, scope: Node}\n";
  const ManifestFolder folder("host-ipc");
  folder.write("channel.yaml", channel);
  const std::string channel_file = folder.path() + "/channel.yaml";
  EXPECT_EQ(run({"-f", "-", "--channel", channel_file}, pod).code, 1) << "Node scope is denied";
  for (const std::vector<std::string>& flag :
       {std::vector<std::string>{"--host-ipc-namespaces", "other,media"},
        {"--host-ipc-namespaces=media"},
        {"--host-ipc-namespace", "media"}}) {
    std::vector<std::string> args = {"-f", "-", "--channel", channel_file};
    args.insert(args.end(), flag.begin(), flag.end());
    auto result = run(args, pod);
    EXPECT_EQ(result.code, 0) << flag[0] << ": " << result.err;
    EXPECT_NE(result.out.find("hostIPC: true"), std::string::npos) << result.out;
  }
  const std::string help = run({"--help"}).out;
  EXPECT_NE(help.find("--host-ipc-namespaces"), std::string::npos);
  EXPECT_EQ(help.find("--host-ipc-namespace "), std::string::npos);
}

}  // namespace
}  // namespace ipcmesh::cli
