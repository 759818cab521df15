// The operator's settings: defaults, then the YAML file (--config), then flags, each overriding the
// one before; --help/--version; and every way a configuration is refused, with a message that
// names what is wrong.
#include "main/operator_config.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <functional>
#include <string>
#include <vector>

namespace ipcmesh::operator_main {
namespace {

namespace fs = std::filesystem;
using std::chrono::seconds;
using Strings = std::vector<std::string>;

// A config file unique to this process and case, removed afterwards.
class ConfigFile {
 public:
  ConfigFile(const std::string& tag, const std::string& text)
      : path_(fs::temp_directory_path() /
              ("ipcmesh-operator-config-" + std::to_string(::getpid()) + "-" + tag + ".yaml")) {
    std::ofstream(path_) << text;
  }
  ~ConfigFile() {
    std::error_code ignored;
    fs::remove(path_, ignored);
  }
  std::string path() const { return path_.string(); }

 private:
  fs::path path_;
};

// parse_operator_config with `--config FILE` first when `yaml` is not empty (FILE holds it for
// the duration of the call), then `arguments`.
ConfigOutcome parse_with_file(const std::string& tag, const std::string& yaml,
                              const Strings& arguments) {
  if (yaml.empty()) return parse_operator_config(arguments);
  const ConfigFile file(tag, yaml);
  Strings all = {"--config", file.path()};
  all.insert(all.end(), arguments.begin(), arguments.end());
  return parse_operator_config(all);
}

// Every setting the file can carry, none at its default.
constexpr const char* kFullFile = R"(
threads: 3
workers: 5
statusWriteIntervalMilliseconds: 250
kubeconfig: /etc/kube/config
context: staging
namespace: ipcmesh-ops
identity: replica-a
logLevel: debug
health:
  port: 8181
webhook:
  port: 10443
  certFile: /certs/tls.crt
  keyFile: /certs/tls.key
leaderElection:
  enabled: false
  leaseName: mesh-lease
  leaseDurationSeconds: 30
  renewDeadlineSeconds: 20
  retryPeriodSeconds: 4
injection:
  relayImage: registry.example.com/relay:1.2.3
  relayImagePullPolicy: Always
  hostIpcNamespaces: [media, robotics]
  allowMqueueSysctls: true
  mqueueLimitAction: Warn
  namespaceLabel: mesh.example.com/ipc=on
  excludedNamespaces:
    - kube-system
    - legacy
)";

struct ValueCase {
  std::string name;
  std::string yaml;  // "" : no --config
  Strings arguments;
  std::function<void(const OperatorConfig&)> check;
};

class OperatorConfigValues : public ::testing::TestWithParam<ValueCase> {};

// Each case parses (exit 0, a config) and yields exactly the values the file and flags ask for.
TEST_P(OperatorConfigValues, ParsesToTheExpectedSettings) {
  const ValueCase& c = GetParam();
  const ConfigOutcome outcome = parse_with_file(c.name, c.yaml, c.arguments);
  ASSERT_TRUE(outcome.config.has_value()) << outcome.output;
  EXPECT_EQ(outcome.exit_code, 0);
  c.check(*outcome.config);
}

INSTANTIATE_TEST_SUITE_P(
    Table, OperatorConfigValues,
    ::testing::Values(
        ValueCase{"NoArgumentsGiveTheDocumentedDefaults",
                  "",
                  {},
                  [](const OperatorConfig& c) {
                    EXPECT_EQ(c.threads, 0);
                    EXPECT_EQ(c.workers, 2);
                    EXPECT_EQ(c.status_write_interval, std::chrono::milliseconds(1000));
                    EXPECT_EQ(c.kubeconfig, "");
                    EXPECT_EQ(c.log_level, "info");
                    EXPECT_EQ(c.health_port, 8080);
                    EXPECT_EQ(c.webhook_port, 9443);
                    EXPECT_EQ(c.webhook_certificate_file, "/etc/ipcmesh/webhook/tls.crt");
                    EXPECT_TRUE(c.leader_elect);
                    EXPECT_EQ(c.lease_name, "ipcmesh-operator");
                    EXPECT_EQ(c.lease_duration, seconds(15));
                    EXPECT_EQ(c.renew_deadline, seconds(10));
                    EXPECT_EQ(c.retry_period, seconds(2));
                    EXPECT_FALSE(c.mutation.policy.allow_mqueue_sysctls);
                    EXPECT_EQ(c.mutation.policy.mqueue_limit_action,
                              webhook::MqueueLimitAction::kDeny);
                    EXPECT_EQ(c.mutation.policy.excluded_namespaces,
                              (Strings{"kube-system", "kube-public", "kube-node-lease"}));
                    EXPECT_EQ(c.namespace_label,
                              (api::NamespaceLabel{"ipcmesh.io/injection", "enabled"}));
                  }},
        ValueCase{
            "EveryFileValueIsTaken",
            kFullFile,
            {},
            [](const OperatorConfig& c) {
              EXPECT_EQ(c.threads, 3);
              EXPECT_EQ(c.workers, 5);
              EXPECT_EQ(c.status_write_interval, std::chrono::milliseconds(250));
              EXPECT_EQ(c.kubeconfig, "/etc/kube/config");
              EXPECT_EQ(c.context, "staging");
              EXPECT_EQ(c.ns, "ipcmesh-ops");
              EXPECT_EQ(c.identity, "replica-a");
              EXPECT_EQ(c.log_level, "debug");
              EXPECT_EQ(c.health_port, 8181);
              EXPECT_EQ(c.webhook_port, 10443);
              EXPECT_EQ(c.webhook_certificate_file, "/certs/tls.crt");
              EXPECT_EQ(c.webhook_key_file, "/certs/tls.key");
              EXPECT_FALSE(c.leader_elect);
              EXPECT_EQ(c.lease_name, "mesh-lease");
              EXPECT_EQ(c.lease_duration, seconds(30));
              EXPECT_EQ(c.renew_deadline, seconds(20));
              EXPECT_EQ(c.retry_period, seconds(4));
              EXPECT_EQ(c.mutation.relay_image, "registry.example.com/relay:1.2.3");
              EXPECT_EQ(c.mutation.relay_image_pull_policy, "Always");
              EXPECT_EQ(c.mutation.policy.host_ipc_namespaces, (Strings{"media", "robotics"}));
              EXPECT_TRUE(c.mutation.policy.allow_mqueue_sysctls);
              EXPECT_EQ(c.mutation.policy.mqueue_limit_action, webhook::MqueueLimitAction::kWarn);
              EXPECT_EQ(c.mutation.policy.excluded_namespaces, (Strings{"kube-system", "legacy"}));
              EXPECT_EQ(c.namespace_label, (api::NamespaceLabel{"mesh.example.com/ipc", "on"}));
            }},
        ValueCase{
            "FlagsOverrideTheFileInBothSpellings",
            kFullFile,
            {"--workers", "7", "--webhook-port=11443", "--log-level", "warn",
             "--host-ipc-namespaces=*", "--leader-elect=true", "--mqueue-limit-action", "Deny"},
            [](const OperatorConfig& c) {
              EXPECT_EQ(c.workers, 7);
              EXPECT_EQ(c.webhook_port, 11443);
              EXPECT_EQ(c.log_level, "warn");
              EXPECT_EQ(c.mutation.policy.host_ipc_namespaces, (Strings{"*"}));
              EXPECT_TRUE(c.leader_elect);
              EXPECT_EQ(c.mutation.policy.mqueue_limit_action, webhook::MqueueLimitAction::kDeny);
              // What no flag touched keeps the file's value.
              EXPECT_EQ(c.threads, 3);
              EXPECT_EQ(c.context, "staging");
              EXPECT_EQ(c.lease_duration, seconds(30));
            }},
        ValueCase{"PartialFileKeepsDefaultsForTheRest",
                  "webhook:\n  port: 9555\n",
                  {},
                  [](const OperatorConfig& c) {
                    EXPECT_EQ(c.webhook_port, 9555);
                    EXPECT_EQ(c.health_port, 8080);
                    EXPECT_EQ(c.webhook_certificate_file, "/etc/ipcmesh/webhook/tls.crt");
                    EXPECT_EQ(c.lease_duration, seconds(15));
                  }},
        ValueCase{"EmptyFileChangesNothing",
                  "# nothing set here\n",
                  {},
                  [](const OperatorConfig& c) {
                    EXPECT_EQ(c.workers, 2);
                    EXPECT_EQ(c.webhook_port, 9443);
                  }},
        ValueCase{"LeaderElectionTimingsMayBeTightenedByFlags",
                  "",
                  {"--lease-duration", "6", "--renew-deadline", "4", "--retry-period", "1"},
                  [](const OperatorConfig& c) {
                    EXPECT_EQ(c.lease_duration, seconds(6));
                    EXPECT_EQ(c.renew_deadline, seconds(4));
                    EXPECT_EQ(c.retry_period, seconds(1));
                  }},
        ValueCase{"CommaSeparatedFlagListsDropEmptyItems",
                  "",
                  {"--excluded-namespaces", "a,,b,", "--allow-mqueue-sysctls=yes"},
                  [](const OperatorConfig& c) {
                    EXPECT_EQ(c.mutation.policy.excluded_namespaces, (Strings{"a", "b"}));
                    EXPECT_TRUE(c.mutation.policy.allow_mqueue_sysctls);
                  }},
        // A switch never swallows the flag after it (issue 14).
        ValueCase{"SwitchesTakeNoValue",
                  "",
                  {"--allow-mqueue-sysctls", "--kubeconfig", "/k", "--leader-elect=false"},
                  [](const OperatorConfig& c) {
                    EXPECT_TRUE(c.mutation.policy.allow_mqueue_sysctls);
                    EXPECT_EQ(c.kubeconfig, "/k");
                    EXPECT_FALSE(c.leader_elect);
                  }},
        ValueCase{"ShortNamespaceAndTheLastOfARepeatedFlag",
                  "",
                  {"-n", "ops", "--kubeconfig", "/a", "--kubeconfig=/b"},
                  [](const OperatorConfig& c) {
                    EXPECT_EQ(c.ns, "ops");
                    EXPECT_EQ(c.kubeconfig, "/b");
                  }},
        ValueCase{"NamespaceLabelFlagOverridesTheFile",
                  kFullFile,
                  {"--namespace-label", "ipcmesh.io/test-webhooks=enabled"},
                  [](const OperatorConfig& c) {
                    EXPECT_EQ(c.namespace_label,
                              (api::NamespaceLabel{"ipcmesh.io/test-webhooks", "enabled"}));
                  }},
        ValueCase{"NamespaceLabelMayHaveAnEmptyValue",
                  "",
                  {"--namespace-label=team.example/ipc="},
                  [](const OperatorConfig& c) {
                    EXPECT_EQ(c.namespace_label, (api::NamespaceLabel{"team.example/ipc", ""}));
                  }},
        ValueCase{"EmptyNamespaceLabelFlagTurnsTheCheckOff",
                  kFullFile,
                  {"--namespace-label="},
                  [](const OperatorConfig& c) { EXPECT_FALSE(c.namespace_label.has_value()); }},
        ValueCase{"EmptyNamespaceLabelInTheFileTurnsTheCheckOff",
                  "injection:\n  namespaceLabel: \"\"\n",
                  {},
                  [](const OperatorConfig& c) { EXPECT_FALSE(c.namespace_label.has_value()); }},
        ValueCase{"NullNamespaceLabelInTheFileKeepsTheDefault",
                  "injection:\n  namespaceLabel:\n",
                  {},
                  [](const OperatorConfig& c) {
                    EXPECT_EQ(c.namespace_label, api::kDefaultInjectionLabel);
                  }}),
    [](const ::testing::TestParamInfo<ValueCase>& info) { return info.param.name; });

// A flag placed before --config still wins over the file: flags apply after the file, whatever
// their position.
TEST(OperatorConfig, AFlagBeforeConfigStillOverridesTheFile) {
  ConfigFile file("order", kFullFile);
  const ConfigOutcome outcome = parse_operator_config({"--workers=9", "--config", file.path()});
  ASSERT_TRUE(outcome.config.has_value()) << outcome.output;
  EXPECT_EQ(outcome.config->workers, 9);
  EXPECT_EQ(outcome.config->threads, 3);
}

struct RefusalCase {
  std::string name;
  std::string yaml;  // "" : no --config
  Strings arguments;
  std::string message;  // must appear in the output
};

class OperatorConfigRefusals : public ::testing::TestWithParam<RefusalCase> {};

// Each bad configuration is a usage error (exit 2, no config) whose text says what is wrong.
TEST_P(OperatorConfigRefusals, IsAUsageErrorNamingTheProblem) {
  const RefusalCase& c = GetParam();
  const ConfigOutcome outcome = parse_with_file(c.name, c.yaml, c.arguments);
  EXPECT_FALSE(outcome.config.has_value());
  EXPECT_EQ(outcome.exit_code, 2);
  EXPECT_NE(outcome.output.find(c.message), std::string::npos)
      << "output: " << outcome.output << "expected: " << c.message;
}

INSTANTIATE_TEST_SUITE_P(
    Table, OperatorConfigRefusals,
    ::testing::Values(
        RefusalCase{"UnknownFlag",
                    "",
                    {"--bogus"},
                    "ipcmesh-operator: The following argument was not expected: --bogus (see "
                    "ipcmesh-operator --help)\n"},
        RefusalCase{"UnknownFlagWithEquals",
                    "",
                    {"--webhook-prot=9443"},
                    "not expected: --webhook-prot=9443"},
        RefusalCase{"PositionalArgument", "", {"serve"}, "not expected: serve"},
        RefusalCase{"FlagWithoutValue", "", {"--workers"}, "--workers: 1 required TEXT missing"},
        // A switch takes no value: the next word is not swallowed but refused.
        RefusalCase{
            "SwitchFollowedByAWord", "", {"--allow-mqueue-sysctls", "true"}, "not expected: true"},
        RefusalCase{"RenewDeadlineNotBelowLeaseDuration",
                    "",
                    {"--lease-duration", "10", "--renew-deadline", "10"},
                    "renew-deadline must be shorter than lease-duration"},
        RefusalCase{"RetryPeriodNotBelowRenewDeadline",
                    "",
                    {"--renew-deadline", "5", "--retry-period", "5"},
                    "retry-period must be shorter than renew-deadline"},
        RefusalCase{"FileTimingsInconsistent",
                    "leaderElection:\n  leaseDurationSeconds: 8\n  renewDeadlineSeconds: 9\n",
                    {},
                    "renew-deadline must be shorter than lease-duration"},
        RefusalCase{"FlagBreaksTheFileTimings",
                    kFullFile,
                    {"--retry-period", "25"},
                    "retry-period must be shorter than renew-deadline"},
        RefusalCase{"LeaseDurationBelowMinimum",
                    "",
                    {"--lease-duration", "1"},
                    "lease-duration: \"1\" is not a number in [2, 3600]"},
        RefusalCase{"PortOutOfRange",
                    "",
                    {"--webhook-port", "70000"},
                    "webhook-port: \"70000\" is not a number in [1, 65535]"},
        RefusalCase{
            "NumberWithTrailingText", "", {"--workers", "3x"}, "workers: \"3x\" is not a number"},
        RefusalCase{"BooleanNotTrueOrFalse",
                    "",
                    {"--leader-elect=maybe"},
                    "leader-elect: \"maybe\" is not true or false"},
        RefusalCase{"UnknownMqueueLimitAction",
                    "",
                    {"--mqueue-limit-action", "Ignore"},
                    "\"Ignore\" is not Deny or Warn"},
        RefusalCase{"NamespaceLabelWithoutEquals",
                    "",
                    {"--namespace-label", "ipcmesh.io/injection"},
                    "namespace-label: \"ipcmesh.io/injection\" is not key=value with one '='"},
        RefusalCase{"NamespaceLabelWithTwoEquals",
                    "",
                    {"--namespace-label", "a=b=c"},
                    "namespace-label: \"a=b=c\" is not key=value with one '='"},
        RefusalCase{"NamespaceLabelWithoutKey",
                    "",
                    {"--namespace-label", "=enabled"},
                    "namespace-label: \"=enabled\" has no label key before '='"},
        RefusalCase{"NamespaceLabelKeyNotALabelKey",
                    "",
                    {"--namespace-label", "ipcmesh io=enabled"},
                    "namespace-label: \"ipcmesh io=enabled\": label key \"ipcmesh io\""},
        RefusalCase{"NamespaceLabelValueNotALabelValue",
                    "",
                    {"--namespace-label", "ipcmesh.io/injection=yes please"},
                    "label value \"yes please\""},
        RefusalCase{"NamespaceLabelInTheFileNamesTheYamlPath",
                    "injection:\n  namespaceLabel: enabled\n",
                    {},
                    "config: injection.namespaceLabel: namespace-label: \"enabled\" is not "
                    "key=value"},
        RefusalCase{"FileValueOutOfRangeNamesTheYamlPath",
                    "health:\n  port: 0\n",
                    {},
                    "config: health.port: health-port: \"0\" is not a number in [1, 65535]"},
        RefusalCase{"FileMappingWhereAValueBelongs",
                    "webhook:\n  certFile: {a: b}\n",
                    {},
                    "config: webhook.certFile must be a value or a list"},
        RefusalCase{
            "FileNotAMapping", "- just\n- a list\n", {}, "config: the document must be a mapping"},
        RefusalCase{"FileNotYaml", "workers: [1, 2\n", {}, "config: "},
        RefusalCase{"ConfigFileMissing",
                    "",
                    {"--config", "/nonexistent/ipcmesh-operator.yaml"},
                    "config: cannot read /nonexistent/ipcmesh-operator.yaml"}),
    [](const ::testing::TestParamInfo<RefusalCase>& info) { return info.param.name; });

// --help (and -h) prints the usage with every flag and its YAML path, exits 0, and wins over any
// other argument, even a bad one.
TEST(OperatorConfig, HelpPrintsEveryFlagAndExitsZero) {
  for (const Strings& arguments :
       {Strings{"--help"}, Strings{"-h"}, Strings{"--bogus=1", "--help"}}) {
    const ConfigOutcome outcome = parse_operator_config(arguments);
    EXPECT_FALSE(outcome.config.has_value());
    EXPECT_EQ(outcome.exit_code, 0);
    EXPECT_EQ(outcome.output, usage());
  }
  const std::string text = usage();
  for (const char* expected :
       {"--config FILE", "--threads VALUE", "[file: threads]", "--webhook-port VALUE",
        "[file: webhook.port]", "[file: webhook.certFile]",
        "[file: leaderElection.leaseDurationSeconds]", "--renew-deadline", "--retry-period",
        "--host-ipc-namespaces", "--mqueue-limit-action", "--excluded-namespaces",
        "[file: injection.namespaceLabel]", "-h,--help", "--version", "-n,--namespace",
        "--leader-elect ", "--allow-mqueue-sysctls "}) {
    EXPECT_NE(text.find(expected), std::string::npos) << expected;
  }
}

// --version prints the version and exits 0 without running.
TEST(OperatorConfig, VersionPrintsTheVersionAndExitsZero) {
  const ConfigOutcome outcome = parse_operator_config({"--version"});
  EXPECT_FALSE(outcome.config.has_value());
  EXPECT_EQ(outcome.exit_code, 0);
  EXPECT_EQ(outcome.output, std::string("ipcmesh-operator ") + IPCMESH_VERSION + "\n");
}

// apply_yaml layers onto what is already set (it is the file step of the chain) and leaves
// settings the document does not mention alone.
TEST(OperatorConfig, ApplyYamlLayersOntoAnExistingConfig) {
  OperatorConfig config;
  config.workers = 11;
  config.log_level = "error";
  apply_yaml(config, "logLevel: trace\nwebhook:\n  keyFile: /k.pem\n");
  EXPECT_EQ(config.workers, 11);
  EXPECT_EQ(config.log_level, "trace");
  EXPECT_EQ(config.webhook_key_file, "/k.pem");
  EXPECT_THROW(apply_yaml(config, "workers: 0\n"), std::runtime_error);
}

}  // namespace
}  // namespace ipcmesh::operator_main
