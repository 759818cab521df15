// Golden injection tests (Istio's pkg/kube/inject/testdata/inject/*.injected): each
// testdata/inject/<case>.yaml holds a Pod and what the webhook knows when it sees it (namespace,
// server version, policy, channels); testdata/inject/<case>.injected.yaml holds the answer
// mutate_pod gives, Pod included. A change to the injection shows up as a diff of those files:
//
//   IPCMESH_UPDATE_GOLDEN=1 build/bin/unit_operator_webhook_test --gtest_filter='*Golden*'
//   git diff tests/unit/operator/webhook/testdata
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "webhook/pod_mutation.hpp"
#include "yaml_documents.hpp"

namespace ipcmesh::webhook {
namespace {

using cli::documents_from_yaml;
using cli::documents_to_yaml;
using nlohmann::json;
namespace fs = std::filesystem;

constexpr std::string_view kExpectedSuffix = ".injected.yaml";

fs::path testdata() {
  return fs::path(IPCMESH_SOURCE_DIR) / "tests/unit/operator/webhook/testdata";
}

bool updating_golden_files() {
  const char* value = std::getenv("IPCMESH_UPDATE_GOLDEN");
  return value != nullptr && std::string_view(value) == "1";
}

bool ends_with(std::string_view text, std::string_view suffix) {
  return text.size() >= suffix.size() && text.substr(text.size() - suffix.size()) == suffix;
}

std::string read_text(const fs::path& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

struct GoldenCase {
  std::string name;  // the file's stem: the test's name
  fs::path input;
  fs::path expected;
};

void PrintTo(const GoldenCase& golden, std::ostream* out) {
  *out << golden.input.string();
}

// Every input file of testdata/inject, by name (a case is a file: adding one needs no code).
std::vector<GoldenCase> golden_cases() {
  std::vector<GoldenCase> cases;
  const fs::path dir = testdata() / "inject";
  if (!fs::is_directory(dir)) return cases;
  for (const auto& entry : fs::directory_iterator(dir)) {
    const std::string file = entry.path().filename().string();
    if (!ends_with(file, ".yaml") || ends_with(file, kExpectedSuffix)) continue;
    const std::string stem = file.substr(0, file.size() - std::string_view(".yaml").size());
    cases.push_back({stem, entry.path(), dir / (stem + std::string(kExpectedSuffix))});
  }
  std::sort(cases.begin(), cases.end(),
            [](const auto& a, const auto& b) { return a.name < b.name; });
  return cases;
}

json single_document(const fs::path& path) {
  const auto documents = documents_from_yaml(read_text(path));
  EXPECT_EQ(documents.size(), 1u) << path;
  return documents.empty() ? json() : documents.front();
}

std::vector<api::IpcChannel> channels_of(const json& items) {
  std::vector<api::IpcChannel> channels;
  for (const auto& item : items) {
    auto channel = api::ipc_channel_from_json(item);
    EXPECT_TRUE(channel.has_value()) << (channel ? "" : channel.error().message);
    if (channel) channels.push_back(std::move(*channel));
  }
  return channels;
}

// The case's `channels:`, else the shared catalog of testdata/channels.yaml.
std::vector<api::IpcChannel> catalog_for(const json& input) {
  if (input.contains("channels")) return channels_of(input["channels"]);
  return channels_of(documents_from_yaml(read_text(testdata() / "channels.yaml")));
}

// The product's defaults, except what a release changes (versions, image) and what the case
// sets. Fields use the names of the operator's configuration.
MutationOptions options_for(const json& input) {
  MutationOptions options;
  options.injector_version = "0.0.0-golden";
  options.relay_image = "ipcmesh/relay:golden";
  options.server_minor = input.value("serverMinor", 30);
  const json policy = input.value("policy", json::object());
  options.policy.allow_mqueue_sysctls = policy.value("allowMqueueSysctls", false);
  if (policy.value("mqueueLimitAction", "Deny") == "Warn") {
    options.policy.mqueue_limit_action = MqueueLimitAction::kWarn;
  }
  if (policy.contains("hostIPCNamespaces")) {
    options.policy.host_ipc_namespaces =
        policy["hostIPCNamespaces"].get<std::vector<std::string>>();
  }
  return options;
}

// The answer as the golden file shows it. A Pod that is not mutated is left out: the test checks
// that it is returned exactly as given.
json answer_of(const MutationResult& result) {
  json answer{{"outcome", to_string(result.outcome)}, {"reason", result.reason}};
  if (!result.message.empty()) answer["message"] = result.message;
  if (!result.warnings.empty()) answer["warnings"] = result.warnings;
  if (!result.channels.empty()) answer["channels"] = result.channels;
  if (result.outcome == MutationOutcome::kMutated) answer["pod"] = result.pod;
  return answer;
}

class GoldenInjection : public ::testing::TestWithParam<GoldenCase> {};

// The webhook's answer to the case is the reviewed one, byte for byte.
TEST_P(GoldenInjection, MatchesTheInjectedFile) {
  const auto& golden = GetParam();
  const json input = single_document(golden.input);
  ASSERT_TRUE(input.contains("pod")) << golden.input << " has no pod";
  const auto catalog = catalog_for(input);
  const auto options = options_for(input);
  const auto result = mutate_pod(input["pod"], input.value("namespace", ""), catalog, options);
  const std::string actual = documents_to_yaml({answer_of(result)});

  if (updating_golden_files()) {
    std::ofstream(golden.expected) << actual;
  }
  ASSERT_TRUE(fs::exists(golden.expected))
      << golden.expected << " is missing; write it with IPCMESH_UPDATE_GOLDEN=1 and review it";
  EXPECT_EQ(actual, read_text(golden.expected))
      << "rerun with IPCMESH_UPDATE_GOLDEN=1 if the change is meant, and review the diff";
  if (result.outcome != MutationOutcome::kMutated) {
    EXPECT_EQ(result.pod, input["pod"]) << "a Pod that is not mutated is returned as it came";
    return;
  }
  // Injection is idempotent: the injected Pod, seen again (reinvocationPolicy IfNeeded, a
  // re-applied manifest), is left alone.
  const auto again = mutate_pod(result.pod, input.value("namespace", ""), catalog, options);
  EXPECT_EQ(again.outcome, MutationOutcome::kUnchanged) << again.reason << " " << again.message;
  EXPECT_EQ(again.reason, "already-injected");
}

INSTANTIATE_TEST_SUITE_P(Testdata, GoldenInjection, ::testing::ValuesIn(golden_cases()),
                         [](const auto& info) {
                           std::string name = info.param.name;
                           std::replace(name.begin(), name.end(), '-', '_');
                           return name;
                         });

// The cases are there (a missing folder is a failure, not zero passing cases), and no expected
// file is left over from a case that was renamed or removed.
TEST(GoldenInjectionFiles, EveryExpectedFileHasItsCase) {
  const auto cases = golden_cases();
  EXPECT_GE(cases.size(), 20u) << testdata() / "inject";
  for (const auto& entry : fs::directory_iterator(testdata() / "inject")) {
    const std::string file = entry.path().filename().string();
    if (!ends_with(file, kExpectedSuffix)) continue;
    const std::string stem = file.substr(0, file.size() - kExpectedSuffix.size());
    EXPECT_TRUE(std::any_of(cases.begin(), cases.end(),
                            [&](const auto& golden) { return golden.name == stem; }))
        << file << " has no " << stem << ".yaml";
  }
}

}  // namespace
}  // namespace ipcmesh::webhook
