#include "webhook/inject_command.hpp"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "api/ipc_channel.hpp"

namespace ipcmesh::webhook {
namespace {

using nlohmann::json;

const std::string kExamples = std::string(IPCMESH_SOURCE_DIR) + "/examples/";

struct Run {
  int code;
  std::string out;
  std::string err;
};

Run run(std::vector<std::string> args, const std::string& stdin_text = "") {
  args.insert(args.begin(), "inject");
  std::istringstream in(stdin_text);
  std::ostringstream out;
  std::ostringstream err;
  const int code = run_inject_command(args, in, out, err);
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

}  // namespace
}  // namespace ipcmesh::webhook
