// charts/ipcmesh without a cluster: helm lint, the CRD copy, and what `helm template` renders for
// the defaults and the main options. The cluster tier installs the same chart into a real API
// server (tests/cluster/chart_install_test.cpp).
#include <gtest/gtest.h>
#include <unistd.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <functional>
#include <string>
#include <vector>

#include "main/operator_config.hpp"
#include "rendered_chart.hpp"

namespace ipcmesh::chart {
namespace {

using nlohmann::json;

constexpr const char* kFullname = "ipcmesh";
const std::string kOperator = std::string(kFullname) + "-operator";
const std::string kWebhookService = std::string(kFullname) + "-webhook";
const std::string kTlsSecret = std::string(kFullname) + "-webhook-tls";
const std::string kConfigMap = std::string(kFullname) + "-config";

bool contains(const json& array, const json& value) {
  return array.is_array() && std::find(array.begin(), array.end(), value) != array.end();
}

const json& operator_container(const RenderedChart& chart) {
  return chart.get("Deployment", kOperator)["spec"]["template"]["spec"]["containers"][0];
}

// The operator's config.yaml out of the ConfigMap, as JSON.
json operator_config(const RenderedChart& chart) {
  const std::string text = chart.get("ConfigMap", kConfigMap)["data"]["config.yaml"];
  return parse_yaml_documents(text).at(0);
}

const json& pods_webhook(const RenderedChart& chart) {
  return chart.get("MutatingWebhookConfiguration", kFullname)["webhooks"][0];
}

std::string base64_decode(const std::string& text) {
  const auto result = cluster::run_command({"base64", "-d"}, text);
  if (!result.ok()) throw std::runtime_error("base64 -d: " + result.err);
  return result.out;
}

// ---------------------------------------------------------------------------------------------
// helm lint and the CRD

// `helm lint --strict` finds nothing to report, with the defaults and with each optional part on.
TEST(Chart, LintStrictPassesWithDefaultsAndEveryOptionalPart) {
  for (const std::vector<std::string>& sets : std::vector<std::vector<std::string>>{
           {},
           {"certManager.enabled=true"},
           {"monitoring.serviceMonitor.enabled=true", "monitoring.podMonitor.enabled=true",
            "monitoring.relayPodMonitor.enabled=true", "monitoring.prometheusRule.enabled=true",
            "monitoring.grafanaDashboard.enabled=true"},
           {"podDisruptionBudget.enabled=false", "serviceAccount.create=false"}}) {
    std::vector<std::string> args = {"lint", "--strict", chart_path()};
    std::string described = "defaults";
    for (const auto& set : sets) {
      args.insert(args.end(), {"--set", set});
      described += " " + set;
    }
    const auto result = helm(args);
    EXPECT_TRUE(result.ok()) << "helm lint --strict with " << described << ":\n"
                             << result.out << result.err;
  }
}

// The chart installs the very CRD in crds/ (the source of truth), byte for byte.
TEST(Chart, CrdIsAByteForByteCopyOfTheSourceOfTruth) {
  const std::string source = read_file(repo_path("crds/ipcchannel.yaml"));
  const std::string copy = read_file(chart_path() + "/crds/ipcchannel.yaml");
  EXPECT_TRUE(source == copy)
      << "charts/ipcmesh/crds/ipcchannel.yaml differs from crds/ipcchannel.yaml; copy it again: "
         "cp crds/ipcchannel.yaml charts/ipcmesh/crds/ipcchannel.yaml";
  // Only that file: a second CRD in the chart would have no source of truth.
  std::vector<std::string> files;
  for (const auto& entry : std::filesystem::directory_iterator(chart_path() + "/crds")) {
    files.push_back(entry.path().filename().string());
  }
  EXPECT_EQ(files, std::vector<std::string>{"ipcchannel.yaml"});
}

// ---------------------------------------------------------------------------------------------
// The defaults

// The default render has the operator, its config, both Services, the PDB, the webhook and its
// self-made TLS Secret, and nothing optional (no cert-manager, no monitors).
TEST(ChartDefaults, RenderTheOperatorWebhookAndTlsAndNothingOptional) {
  const RenderedChart chart;
  EXPECT_NO_THROW(chart.get("Deployment", kOperator));
  EXPECT_NO_THROW(chart.get("ConfigMap", kConfigMap));
  EXPECT_NO_THROW(chart.get("Service", kWebhookService));
  EXPECT_NO_THROW(chart.get("Service", std::string(kFullname) + "-metrics"));
  EXPECT_NO_THROW(chart.get("PodDisruptionBudget", kOperator));
  EXPECT_NO_THROW(chart.get("MutatingWebhookConfiguration", kFullname));
  EXPECT_NO_THROW(chart.get("Secret", kTlsSecret));
  for (const char* kind : {"Certificate", "Issuer", "ServiceMonitor", "PodMonitor"}) {
    EXPECT_EQ(chart.count(kind), 0u) << kind;
  }
  EXPECT_EQ(chart.count("CustomResourceDefinition"), 0u) << "CRDs belong in crds/, not templates/";
}

// Every object carries the release's labels (so it can be found, e.g. after uninstall) and
// every namespaced one lives in the release namespace.
TEST(ChartDefaults, EveryObjectIsLabelledWithTheRelease) {
  const RenderedChart chart;
  ASSERT_FALSE(chart.objects().empty());
  for (const auto& object : chart.objects()) {
    const std::string what =
        object.value("kind", "?") + "/" + object["metadata"].value("name", "?");
    const json& labels = object["metadata"]["labels"];
    EXPECT_EQ(labels.value("app.kubernetes.io/instance", ""), kReleaseName) << what;
    EXPECT_EQ(labels.value("app.kubernetes.io/name", ""), "ipcmesh") << what;
    EXPECT_EQ(labels.value("app.kubernetes.io/managed-by", ""), "Helm") << what;
    const std::string kind = object.value("kind", "");
    const bool cluster_scoped = kind == "MutatingWebhookConfiguration" || kind == "ClusterRole" ||
                                kind == "ClusterRoleBinding";
    if (!cluster_scoped) {
      EXPECT_EQ(object["metadata"].value("namespace", ""), kReleaseNamespace) << what;
    }
  }
}

// Two spread replicas behind a PDB, probed on the health port, under the restricted Pod
// Security Standard, with the pinned images and the config and key pair mounted where the
// operator reads them.
TEST(ChartDefaults, DeploymentIsHighlyAvailableRestrictedAndPinned) {
  const RenderedChart chart;
  const json& deployment = chart.get("Deployment", kOperator);
  EXPECT_EQ(deployment["spec"]["replicas"], 2);
  const json& pod = deployment["spec"]["template"]["spec"];
  const json& preferred =
      pod["affinity"]["podAntiAffinity"]["preferredDuringSchedulingIgnoredDuringExecution"];
  ASSERT_EQ(preferred.size(), 1u);
  EXPECT_EQ(preferred[0]["podAffinityTerm"]["topologyKey"], "kubernetes.io/hostname");
  EXPECT_EQ(preferred[0]["podAffinityTerm"]["labelSelector"]["matchLabels"],
            deployment["spec"]["selector"]["matchLabels"]);
  EXPECT_EQ(pod["serviceAccountName"], kOperator);

  const json& pdb = chart.get("PodDisruptionBudget", kOperator);
  EXPECT_EQ(pdb["spec"]["maxUnavailable"], 1);
  EXPECT_EQ(pdb["spec"]["selector"]["matchLabels"], deployment["spec"]["selector"]["matchLabels"]);

  const json& container = operator_container(chart);
  EXPECT_EQ(container["image"], "ipcmesh/operator:0.1.0");
  EXPECT_EQ(container["imagePullPolicy"], "IfNotPresent");
  EXPECT_EQ(container["args"], json::parse(R"(["--config", "/etc/ipcmesh/config.yaml"])"));
  EXPECT_EQ(container["livenessProbe"]["httpGet"]["path"], "/healthz");
  EXPECT_EQ(container["readinessProbe"]["httpGet"]["path"], "/readyz");
  EXPECT_EQ(container["livenessProbe"]["httpGet"]["port"], "http-metrics");
  EXPECT_EQ(container["readinessProbe"]["httpGet"]["port"], "http-metrics");
  const json expected_ports = json::parse(R"([
    {"name": "webhook", "containerPort": 9443, "protocol": "TCP"},
    {"name": "http-metrics", "containerPort": 8080, "protocol": "TCP"}])");
  EXPECT_EQ(container["ports"], expected_ports);
  EXPECT_TRUE(container["resources"]["requests"].contains("memory"));
  EXPECT_TRUE(container["resources"]["limits"].contains("memory"));
  EXPECT_TRUE(container["resources"]["requests"].contains("cpu"));

  // The restricted PSS (https://kubernetes.io/docs/concepts/security/pod-security-standards/).
  const json& security = container["securityContext"];
  EXPECT_EQ(security["runAsNonRoot"], true);
  EXPECT_EQ(security["runAsUser"], 65532);
  EXPECT_EQ(security["readOnlyRootFilesystem"], true);
  EXPECT_EQ(security["allowPrivilegeEscalation"], false);
  EXPECT_EQ(security["capabilities"]["drop"], json::parse(R"(["ALL"])"));
  EXPECT_EQ(security["seccompProfile"]["type"], "RuntimeDefault");
  EXPECT_EQ(pod["securityContext"]["seccompProfile"]["type"], "RuntimeDefault");
  EXPECT_EQ(pod["securityContext"]["runAsNonRoot"], true);

  const json expected_env = json::parse(R"([
    {"name": "POD_NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
    {"name": "POD_NAMESPACE", "valueFrom": {"fieldRef": {"fieldPath": "metadata.namespace"}}}])");
  EXPECT_EQ(container["env"], expected_env);

  // /etc/ipcmesh/config.yaml and /etc/ipcmesh/webhook/tls.{crt,key}: one projected volume.
  ASSERT_EQ(container["volumeMounts"].size(), 1u);
  EXPECT_EQ(container["volumeMounts"][0]["mountPath"], "/etc/ipcmesh");
  const json& sources = pod["volumes"][0]["projected"]["sources"];
  EXPECT_EQ(sources[0]["configMap"]["name"], kConfigMap);
  EXPECT_EQ(sources[0]["configMap"]["items"][0]["path"], "config.yaml");
  EXPECT_EQ(sources[1]["secret"]["name"], kTlsSecret);
  EXPECT_EQ(sources[1]["secret"]["items"],
            json::parse(R"([{"key": "tls.crt", "path": "webhook/tls.crt"},
                            {"key": "tls.key", "path": "webhook/tls.key"}])"));
  EXPECT_FALSE(deployment["spec"]["template"]["metadata"]["annotations"]
                   .value("checksum/config", "")
                   .empty());

  EXPECT_EQ(chart.text().find(":latest"), std::string::npos) << "an image tagged latest";
}

// The ConfigMap carries every setting under the keys operator_config.cpp reads, with the
// release namespace among the never-injected ones and the opt-in label the webhook selects by.
TEST(ChartDefaults, ConfigMapCarriesTheOperatorSettings) {
  const RenderedChart chart;
  const json config = operator_config(chart);
  const json expected = json::parse(R"({
    "workers": 2,
    "logLevel": "info",
    "health": {"port": 8080},
    "webhook": {"port": 9443, "certFile": "/etc/ipcmesh/webhook/tls.crt",
                "keyFile": "/etc/ipcmesh/webhook/tls.key"},
    "leaderElection": {"enabled": true, "leaseName": "ipcmesh-operator",
                       "leaseDurationSeconds": 15, "renewDeadlineSeconds": 10,
                       "retryPeriodSeconds": 2},
    "injection": {"relayImage": "ipcmesh/relay:0.1.0", "relayImagePullPolicy": "IfNotPresent",
                  "hostIpcNamespaces": [], "allowMqueueSysctls": false,
                  "mqueueLimitAction": "Deny",
                  "excludedNamespaces": ["kube-system", "kube-public", "kube-node-lease",
                                         "ipcmesh-system"],
                  "namespaceLabel": "ipcmesh.io/injection=enabled"}})");
  EXPECT_EQ(config, expected) << "diff: " << json::diff(expected, config).dump(1);
}

// The operator's own parser (operator_config.cpp) accepts the rendered config.yaml and reads
// the chart's settings out of it, so the chart and the operator agree on every key's shape.
TEST(ChartDefaults, OperatorAcceptsTheRenderedConfig) {
  const RenderedChart chart({"injection.hostIpcNamespaces={hpc}",
                             "injection.mqueueLimitAction=Warn", "operator.threads=3"});
  const std::string text = chart.get("ConfigMap", kConfigMap)["data"]["config.yaml"];
  operator_main::OperatorConfig config;
  ASSERT_NO_THROW(operator_main::apply_yaml(config, text)) << text;
  EXPECT_EQ(config.threads, 3);
  EXPECT_EQ(config.health_port, 8080);
  EXPECT_EQ(config.webhook_port, 9443);
  EXPECT_EQ(config.webhook_certificate_file, "/etc/ipcmesh/webhook/tls.crt");
  EXPECT_EQ(config.webhook_key_file, "/etc/ipcmesh/webhook/tls.key");
  EXPECT_TRUE(config.leader_elect);
  EXPECT_EQ(config.lease_name, "ipcmesh-operator");
  EXPECT_EQ(config.lease_duration, std::chrono::seconds(15));
  EXPECT_EQ(config.mutation.relay_image, "ipcmesh/relay:0.1.0");
  EXPECT_EQ(config.mutation.policy.host_ipc_namespaces, std::vector<std::string>{"hpc"});
  EXPECT_EQ(config.mutation.policy.mqueue_limit_action, webhook::MqueueLimitAction::kWarn);
  EXPECT_EQ(config.mutation.policy.excluded_namespaces,
            (std::vector<std::string>{"kube-system", "kube-public", "kube-node-lease",
                                      "ipcmesh-system"}));
}

// The webhook: Pod CREATE on the operator's Service at /mutate-pods, failing closed, and only
// for namespaces labelled ipcmesh.io/injection=enabled that are neither system namespaces nor
// the operator's own.
TEST(ChartDefaults, WebhookFailsClosedAndOnlySeesOptedInNamespaces) {
  const RenderedChart chart;
  const json& webhook = pods_webhook(chart);
  EXPECT_EQ(webhook["name"], "pods.ipcmesh.io");
  EXPECT_EQ(webhook["admissionReviewVersions"], json::parse(R"(["v1"])"));
  EXPECT_EQ(webhook["sideEffects"], "None");
  EXPECT_EQ(webhook["timeoutSeconds"], 10);
  EXPECT_EQ(webhook["reinvocationPolicy"], "IfNeeded");
  EXPECT_EQ(webhook["failurePolicy"], "Fail");
  EXPECT_EQ(webhook["clientConfig"]["service"],
            json::parse(R"({"name": "ipcmesh-webhook", "namespace": "ipcmesh-system",
                           "path": "/mutate-pods", "port": 443})"));
  EXPECT_EQ(webhook["rules"], json::parse(R"([{"operations": ["CREATE"], "apiGroups": [""],
      "apiVersions": ["v1"], "resources": ["pods"], "scope": "Namespaced"}])"));
  EXPECT_EQ(webhook["namespaceSelector"], json::parse(R"({
      "matchLabels": {"ipcmesh.io/injection": "enabled"},
      "matchExpressions": [{"key": "kubernetes.io/metadata.name", "operator": "NotIn",
          "values": ["kube-system", "kube-public", "kube-node-lease", "ipcmesh-system"]}]})"));

  const json& service = chart.get("Service", kWebhookService);
  EXPECT_EQ(service["spec"]["ports"][0]["port"], 443);
  EXPECT_EQ(service["spec"]["ports"][0]["targetPort"], "webhook");
  const json& metrics = chart.get("Service", std::string(kFullname) + "-metrics");
  EXPECT_EQ(metrics["spec"]["ports"][0]["name"], "http-metrics");
  EXPECT_EQ(metrics["spec"]["ports"][0]["port"], 8080);
}

// The caBundle the API server trusts is the CA in the Secret, that CA signed the Secret's
// serving certificate, and the certificate names the webhook Service.
TEST(ChartDefaults, CaBundleIsTheCaThatSignedTheServingCertificate) {
  const RenderedChart chart;
  const json& secret = chart.get("Secret", kTlsSecret);
  EXPECT_EQ(secret["type"], "kubernetes.io/tls");
  const std::string ca_bundle = pods_webhook(chart)["clientConfig"]["caBundle"];
  EXPECT_EQ(ca_bundle, secret["data"]["ca.crt"].get<std::string>());

  const std::string dir = ::testing::TempDir() + "/chart-tls-" + std::to_string(::getpid());
  std::filesystem::create_directories(dir);
  std::ofstream(dir + "/ca.crt") << base64_decode(ca_bundle);
  std::ofstream(dir + "/tls.crt") << base64_decode(secret["data"]["tls.crt"]);
  std::ofstream(dir + "/tls.key") << base64_decode(secret["data"]["tls.key"]);

  const auto verify = cluster::run_command(
      {"openssl", "verify", "-CAfile", dir + "/ca.crt", "-purpose", "sslserver", dir + "/tls.crt"});
  EXPECT_TRUE(verify.ok()) << verify.out << verify.err;
  const auto names = cluster::run_command(
      {"openssl", "x509", "-noout", "-ext", "subjectAltName", "-in", dir + "/tls.crt"});
  ASSERT_TRUE(names.ok()) << names.err;
  for (const char* name : {"DNS:ipcmesh-webhook.ipcmesh-system.svc,",
                           "DNS:ipcmesh-webhook.ipcmesh-system,", "DNS:ipcmesh-webhook"}) {
    EXPECT_NE(names.out.find(name), std::string::npos) << name << " not in " << names.out;
  }
  // The key is the certificate's.
  const auto cert_key =
      cluster::run_command({"openssl", "x509", "-noout", "-pubkey", "-in", dir + "/tls.crt"});
  const auto key_key =
      cluster::run_command({"openssl", "pkey", "-pubout", "-in", dir + "/tls.key"});
  EXPECT_TRUE(cert_key.ok() && key_key.ok()) << cert_key.err << key_key.err;
  EXPECT_EQ(cert_key.out, key_key.out);
  std::filesystem::remove_all(dir);
}

// ---------------------------------------------------------------------------------------------
// The main options, as a table: each case sets values and says what must change.

struct OptionCase {
  std::string name;
  std::vector<std::string> sets;
  std::function<void(const RenderedChart&)> check;
};

std::ostream& operator<<(std::ostream& out, const OptionCase& c) {
  return out << c.name;
}

class ChartOptions : public ::testing::TestWithParam<OptionCase> {};

// Each option renders what it promises (the case's name says what).
TEST_P(ChartOptions, RenderWhatTheyPromise) {
  const RenderedChart chart(GetParam().sets);
  GetParam().check(chart);
}

const std::vector<OptionCase> kOptionCases = {
    {"FailurePolicyIgnoreFailsOpen",
     {"webhook.failurePolicy=Ignore", "webhook.timeoutSeconds=5"},
     [](const RenderedChart& chart) {
       EXPECT_EQ(pods_webhook(chart)["failurePolicy"], "Ignore");
       EXPECT_EQ(pods_webhook(chart)["timeoutSeconds"], 5);
     }},
    {"CertManagerIssuesTheCertificateAndInjectsTheCa",
     {"certManager.enabled=true"},
     [](const RenderedChart& chart) {
       EXPECT_EQ(chart.count("Secret"), 0u) << "cert-manager writes the Secret, not the chart";
       EXPECT_EQ(chart.count("Issuer"), 2u);
       EXPECT_EQ(chart.count("Certificate"), 2u);
       const json& serving = chart.get("Certificate", "ipcmesh-webhook");
       EXPECT_EQ(serving["spec"]["secretName"], kTlsSecret);
       EXPECT_TRUE(contains(serving["spec"]["dnsNames"], "ipcmesh-webhook.ipcmesh-system.svc"));
       EXPECT_EQ(serving["spec"]["issuerRef"]["name"], "ipcmesh-ca");
       EXPECT_EQ(chart.get("Certificate", "ipcmesh-ca")["spec"]["isCA"], true);
       EXPECT_EQ(chart.get("Issuer", "ipcmesh-ca")["spec"]["ca"]["secretName"], "ipcmesh-ca");
       const json& configuration = chart.get("MutatingWebhookConfiguration", kFullname);
       EXPECT_EQ(configuration["metadata"]["annotations"]["cert-manager.io/inject-ca-from"],
                 "ipcmesh-system/ipcmesh-webhook");
       EXPECT_FALSE(configuration["webhooks"][0]["clientConfig"].contains("caBundle"));
       // The operator mounts the Secret cert-manager writes.
       const json& pod = chart.get("Deployment", kOperator)["spec"]["template"]["spec"];
       EXPECT_EQ(pod["volumes"][0]["projected"]["sources"][1]["secret"]["name"], kTlsSecret);
     }},
    {"CustomInjectionLabelReachesWebhookAndOperator",
     {"injection.namespaceLabel.key=example.com/ipc", "injection.namespaceLabel.value=on-7"},
     [](const RenderedChart& chart) {
       EXPECT_EQ(pods_webhook(chart)["namespaceSelector"]["matchLabels"],
                 json::parse(R"({"example.com/ipc": "on-7"})"));
       EXPECT_EQ(operator_config(chart)["injection"]["namespaceLabel"], "example.com/ipc=on-7");
     }},
    {"MonitoringAddsServiceMonitorAndPodMonitor",
     {"monitoring.serviceMonitor.enabled=true", "monitoring.podMonitor.enabled=true",
      "monitoring.serviceMonitor.labels.release=prometheus", "monitoring.podMonitor.interval=15s"},
     [](const RenderedChart& chart) {
       const json& service_monitor = chart.get("ServiceMonitor", kOperator);
       EXPECT_EQ(service_monitor["apiVersion"], "monitoring.coreos.com/v1");
       EXPECT_EQ(service_monitor["metadata"]["labels"]["release"], "prometheus");
       EXPECT_EQ(service_monitor["spec"]["endpoints"][0]["port"], "http-metrics");
       EXPECT_EQ(service_monitor["spec"]["endpoints"][0]["path"], "/metrics");
       // It selects the metrics Service, not the webhook's.
       const json& metrics = chart.get("Service", "ipcmesh-metrics");
       for (const auto& [key, value] : service_monitor["spec"]["selector"]["matchLabels"].items()) {
         EXPECT_EQ(metrics["metadata"]["labels"][key], value) << key;
       }
       const json& pod_monitor = chart.get("PodMonitor", kOperator);
       EXPECT_EQ(pod_monitor["spec"]["podMetricsEndpoints"][0]["port"], "http-metrics");
       EXPECT_EQ(pod_monitor["spec"]["podMetricsEndpoints"][0]["interval"], "15s");
     }},
    {"MonitoringAddsRelayPodMonitorAlertsAndDashboard",
     {"monitoring.relayPodMonitor.enabled=true", "monitoring.prometheusRule.enabled=true",
      "monitoring.prometheusRule.labels.release=prometheus",
      "monitoring.grafanaDashboard.enabled=true", "monitoring.grafanaDashboard.namespace=grafana"},
     [](const RenderedChart& chart) {
       // The relays: any namespace, the port only an injected relay has.
       const json& relays = chart.get("PodMonitor", std::string(kFullname) + "-relays");
       EXPECT_EQ(relays["spec"]["namespaceSelector"]["any"], true);
       EXPECT_EQ(relays["spec"]["podMetricsEndpoints"][0]["port"], "ipcmesh-metrics");
       // The alerts are the chart's file, verbatim.
       const json& rule = chart.get("PrometheusRule", std::string(kFullname));
       EXPECT_EQ(rule["metadata"]["labels"]["release"], "prometheus");
       const json alerts =
           parse_yaml_documents(read_file(chart_path() + "/alerts/ipcmesh-alerts.yaml")).at(0);
       EXPECT_EQ(rule["spec"], alerts);
       EXPECT_GE(rule["spec"]["groups"].size(), 2u);
       // The dashboard: valid JSON, the chart's file, labelled for Grafana's sidecar.
       const json& dashboard = chart.get("ConfigMap", std::string(kFullname) + "-dashboard");
       EXPECT_EQ(dashboard["metadata"]["namespace"], "grafana");
       EXPECT_EQ(dashboard["metadata"]["labels"]["grafana_dashboard"], "1");
       EXPECT_EQ(json::parse(dashboard["data"]["ipcmesh.json"].get<std::string>()),
                 json::parse(read_file(chart_path() + "/dashboards/ipcmesh.json")));
     }},
    {"ReplicasAndResourcesComeFromValues",
     {"replicaCount=3", "resources.limits.memory=128Mi", "resources.requests.cpu=20m",
      "podDisruptionBudget.maxUnavailable=2"},
     [](const RenderedChart& chart) {
       EXPECT_EQ(chart.get("Deployment", kOperator)["spec"]["replicas"], 3);
       EXPECT_EQ(operator_container(chart)["resources"]["limits"]["memory"], "128Mi");
       EXPECT_EQ(operator_container(chart)["resources"]["requests"]["cpu"], "20m");
       EXPECT_EQ(operator_container(chart)["resources"]["requests"]["memory"], "64Mi");
       EXPECT_EQ(chart.get("PodDisruptionBudget", kOperator)["spec"]["maxUnavailable"], 2);
     }},
    {"ImageTagAndRegistryOverrideBothImages",
     {"image.registry=registry.example.com", "image.tag=0.2.0-rc1", "relay.image.tag=0.2.0-rc2",
      "image.pullPolicy=Always", "relay.image.pullPolicy=Never"},
     [](const RenderedChart& chart) {
       EXPECT_EQ(operator_container(chart)["image"],
                 "registry.example.com/ipcmesh/operator:0.2.0-rc1");
       EXPECT_EQ(operator_container(chart)["imagePullPolicy"], "Always");
       const json config = operator_config(chart);
       EXPECT_EQ(config["injection"]["relayImage"], "registry.example.com/ipcmesh/relay:0.2.0-rc2");
       EXPECT_EQ(config["injection"]["relayImagePullPolicy"], "Never");
     }},
    {"ConfigChangeChangesThePodTemplateChecksum",
     {"operator.logLevel=debug", "injection.mqueueLimitAction=Warn",
      "injection.excludedNamespaces={batch,ipcmesh-system}", "injection.hostIpcNamespaces={hpc}",
      "operator.threads=4"},
     [](const RenderedChart& chart) {
       const json config = operator_config(chart);
       EXPECT_EQ(config["logLevel"], "debug");
       EXPECT_EQ(config["threads"], 4);
       EXPECT_EQ(config["injection"]["mqueueLimitAction"], "Warn");
       EXPECT_EQ(config["injection"]["hostIpcNamespaces"], json::parse(R"(["hpc"])"));
       EXPECT_EQ(config["injection"]["excludedNamespaces"],
                 json::parse(R"(["kube-system", "kube-public", "kube-node-lease",
                                 "ipcmesh-system", "batch"])"));
       const RenderedChart defaults;
       const auto checksum = [](const RenderedChart& c) {
         return c.get("Deployment",
                      kOperator)["spec"]["template"]["metadata"]["annotations"]["checksum/config"];
       };
       EXPECT_NE(checksum(chart), checksum(defaults)) << "helm upgrade would not roll the Pods";
     }},
    {"PdbAndAntiAffinityCanBeReplaced",
     {"podDisruptionBudget.enabled=false",
      "affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms[0]"
      ".matchExpressions[0].key=pool",
      "affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms[0]"
      ".matchExpressions[0].operator=Exists"},
     [](const RenderedChart& chart) {
       EXPECT_EQ(chart.count("PodDisruptionBudget"), 0u);
       const json& affinity =
           chart.get("Deployment", kOperator)["spec"]["template"]["spec"]["affinity"];
       EXPECT_TRUE(affinity.contains("nodeAffinity"));
       EXPECT_FALSE(affinity.contains("podAntiAffinity"));
     }},
};

INSTANTIATE_TEST_SUITE_P(Table, ChartOptions, ::testing::ValuesIn(kOptionCases),
                         [](const auto& info) { return info.param.name; });

// ---------------------------------------------------------------------------------------------
// values.schema.json: bad values are refused before anything renders.

struct BadValueCase {
  std::string name;
  std::string set;
  std::vector<std::string> message_parts;  // all must appear in helm's error
};

std::ostream& operator<<(std::ostream& out, const BadValueCase& c) {
  return out << c.name;
}

class ChartSchema : public ::testing::TestWithParam<BadValueCase> {};

// A bad value fails `helm template` with a message naming the value and what is allowed.
TEST_P(ChartSchema, RefusesTheBadValueWithAClearMessage) {
  const auto result = render_expecting_failure({GetParam().set});
  EXPECT_FALSE(result.ok()) << "helm template accepted --set " << GetParam().set;
  for (const auto& part : GetParam().message_parts) {
    EXPECT_NE(result.err.find(part), std::string::npos) << "'" << part << "' not in helm's error:\n"
                                                        << result.err;
  }
}

INSTANTIATE_TEST_SUITE_P(
    Table, ChartSchema,
    ::testing::ValuesIn(std::vector<BadValueCase>{
        {"UnknownFailurePolicy",
         "webhook.failurePolicy=Sometimes",
         {"failurePolicy", "'Fail', 'Ignore'"}},
        {"UnknownTopLevelKey", "replicaCont=3", {"replicaCont", "not allowed"}},
        {"UnknownNestedKey", "webhook.timeout=5", {"timeout", "not allowed"}},
        {"UnknownMqueueLimitAction",
         "injection.mqueueLimitAction=Maybe",
         {"mqueueLimitAction", "'Deny', 'Warn'"}},
        {"UnknownPullPolicy", "image.pullPolicy=Sometimes", {"pullPolicy", "'IfNotPresent'"}},
        {"TimeoutAboveTheApiServersLimit", "webhook.timeoutSeconds=31", {"timeoutSeconds", "30"}},
        {"LatestTag", "relay.image.tag=latest", {"relay.image.tag", "\"latest\" is refused"}},
        {"ReplicasNotANumber", "replicaCount=two", {"replicaCount", "integer"}},
    }),
    [](const auto& info) { return info.param.name; });

}  // namespace
}  // namespace ipcmesh::chart
