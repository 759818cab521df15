// charts/ipcmesh against the real API server: helm install, upgrade and uninstall of a release in
// a fresh namespace. There is no kubelet here, so the operator's Pods stay Pending and its
// webhook (failurePolicy Fail) never answers: every release selects namespaces by an injection
// label value unique to it, which no namespace carries, so no Pod creation is ever sent to it.
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "cluster.hpp"
#include "docker_container.hpp"

namespace ipcmesh::cluster {
namespace {

using nlohmann::json;

std::string helm_binary() {
  const std::string helm = ClusterEnvironment::control_plane().tools_bin + "/helm";
  if (::access(helm.c_str(), X_OK) != 0) {
    throw std::runtime_error(helm + " is missing: run `make tools` (it builds helm too)");
  }
  return helm;
}

CommandResult helm(std::vector<std::string> args) {
  args.insert(args.begin(),
              {helm_binary(), "--kubeconfig", ClusterEnvironment::control_plane().kubeconfig});
  return run_command(args);
}

std::string helm_ok(const std::vector<std::string>& args) {
  const CommandResult result = helm(args);
  if (!result.ok()) {
    std::string command = "helm";
    for (const auto& a : args) command += " " + a;
    ADD_FAILURE() << command << " exited " << result.exit_code << ":\n" << result.out << result.err;
    throw std::runtime_error(command + " failed");
  }
  return result.out;
}

std::size_t count_objects(const std::string& manifest) {
  std::size_t count = 0;
  std::istringstream in(manifest);
  for (std::string line; std::getline(in, line);) count += line.rfind("kind: ", 0) == 0 ? 1 : 0;
  return count;
}

// A release of the chart in a fresh namespace; uninstalled (and the namespace deleted) on
// destruction, so a failing test never leaves a failurePolicy-Fail webhook behind.
class ChartRelease {
 public:
  ChartRelease() : ns_(create_namespace("chart")) {
    const std::string suffix = ns_.substr(ns_.rfind('-') + 1);
    name_ = "ipcmesh-" + suffix;  // holds the chart's name, so it is also the objects' prefix
    label_value_ = "chart-test-" + suffix;
  }
  ~ChartRelease() {
    helm({"uninstall", name_, "--namespace", ns_, "--ignore-not-found", "--wait", "--timeout",
          "60s"});
    kubectl({"delete", "namespace", ns_, "--wait=false"});
  }
  ChartRelease(const ChartRelease&) = delete;
  ChartRelease& operator=(const ChartRelease&) = delete;

  // helm install / upgrade with the test's injection label and `sets`.
  void install(const std::vector<std::string>& sets = {}) { deploy("install", sets); }
  void upgrade(const std::vector<std::string>& sets) { deploy("upgrade", sets); }
  void uninstall() {
    helm_ok({"uninstall", name_, "--namespace", ns_, "--wait", "--timeout", "60s"});
  }
  std::string manifest() { return helm_ok({"get", "manifest", name_, "--namespace", ns_}); }

  const std::string& name() const { return name_; }
  const std::string& ns() const { return ns_; }
  const std::string& label_value() const { return label_value_; }
  std::string selector() const { return "app.kubernetes.io/instance=" + name_; }

 private:
  void deploy(const std::string& verb, const std::vector<std::string>& sets) {
    std::vector<std::string> args = {verb,
                                     name_,
                                     repo_path("charts/ipcmesh"),
                                     "--namespace",
                                     ns_,
                                     "--set",
                                     "injection.namespaceLabel.value=" + label_value_};
    for (const auto& set : sets) args.insert(args.end(), {"--set", set});
    helm_ok(args);
  }

  std::string ns_;
  std::string name_;
  std::string label_value_;
};

// helm install succeeds, so the API server accepted every rendered object, and each one of
// them is there afterwards, the webhook trusting the CA of the Secret the operator mounts.
TEST(ChartInstall, EveryRenderedObjectIsAcceptedByTheApiServer) {
  ChartRelease release;
  release.install();
  const std::string manifest = release.manifest();
  const std::size_t objects = count_objects(manifest);
  EXPECT_GE(objects, 7u) << manifest;
  // kubectl reads the release's own manifest and gets each object it names from the server.
  const std::string found = kubectl_ok({"get", "-f", "-", "-o", "name"}, manifest);
  EXPECT_EQ(static_cast<std::size_t>(std::count(found.begin(), found.end(), '\n')), objects)
      << found;
  // And by kind and label, the way a user would look.
  const std::string names =
      kubectl_ok({"get", "deployment,service,configmap,secret,poddisruptionbudget", "-n",
                  release.ns(), "-l", release.selector(), "-o", "name"});
  for (const std::string& expected :
       {"deployment.apps/" + release.name() + "-operator", "service/" + release.name() + "-webhook",
        "service/" + release.name() + "-metrics", "configmap/" + release.name() + "-config",
        "secret/" + release.name() + "-webhook-tls",
        "poddisruptionbudget.policy/" + release.name() + "-operator"}) {
    EXPECT_NE(names.find(expected + "\n"), std::string::npos) << expected << " not in\n" << names;
  }
  const json webhook = kubectl_json({"get", "mutatingwebhookconfiguration", release.name()});
  const json secret =
      kubectl_json({"get", "secret", release.name() + "-webhook-tls", "-n", release.ns()});
  EXPECT_EQ(webhook["webhooks"][0]["clientConfig"]["caBundle"], secret["data"]["ca.crt"]);
  EXPECT_EQ(webhook["webhooks"][0]["clientConfig"]["service"]["namespace"], release.ns());
  EXPECT_TRUE(kubectl({"get", "crd", "ipcchannels.ipcmesh.io"}).ok());
}

// The operator's Pods, as the ReplicaSet made them from the chart's template, pass the
// restricted Pod Security Standard: the API server's PodSecurity admission finds no violation
// when the namespace would be labelled enforce=restricted (they stay Pending: no kubelet here).
TEST(ChartInstall, OperatorPodsPassTheRestrictedPodSecurityStandard) {
  ChartRelease release;
  release.install();
  std::string pods;
  const bool created = eventually([&] {
    pods = kubectl_ok({"get", "pods", "-n", release.ns(), "-l", release.selector(), "-o", "name"});
    return std::count(pods.begin(), pods.end(), '\n') == 2;
  });
  ASSERT_TRUE(created) << "the Deployment's two Pods were never created: " << pods;
  const CommandResult check =
      kubectl({"label", "namespace", release.ns(), "pod-security.kubernetes.io/enforce=restricted",
               "--dry-run=server"});
  EXPECT_TRUE(check.ok()) << check.err;
  EXPECT_EQ(check.err.find("violate"), std::string::npos) << check.err;
}

// helm upgrade with a changed setting keeps the webhook's CA, certificate and key (the chart
// reads the existing Secret back), while the changed config rolls the Pod template.
TEST(ChartInstall, UpgradeKeepsTheServingCertificateAndCa) {
  ChartRelease release;
  release.install();
  const std::string secret_name = release.name() + "-webhook-tls";
  const auto secret_data = [&] {
    return kubectl_json({"get", "secret", secret_name, "-n", release.ns()})["data"];
  };
  const auto ca_bundle = [&] {
    return kubectl_json({"get", "mutatingwebhookconfiguration",
                         release.name()})["webhooks"][0]["clientConfig"]["caBundle"];
  };
  const auto checksum = [&] {
    return kubectl_json(
        {"get", "deployment", release.name() + "-operator", "-n",
         release.ns()})["spec"]["template"]["metadata"]["annotations"]["checksum/config"];
  };
  const json data_before = secret_data();
  const json ca_before = ca_bundle();
  const json checksum_before = checksum();
  ASSERT_TRUE(data_before.contains("tls.crt") && data_before.contains("ca.crt"));

  release.upgrade({"operator.logLevel=debug"});

  EXPECT_EQ(secret_data(), data_before) << "helm upgrade replaced the webhook's certificate";
  EXPECT_EQ(ca_bundle(), ca_before);
  EXPECT_EQ(ca_bundle(), data_before["ca.crt"]);
  EXPECT_NE(checksum(), checksum_before) << "a config change must roll the operator's Pods";
  const json config =
      kubectl_json({"get", "configmap", release.name() + "-config", "-n", release.ns()});
  EXPECT_NE(config["data"]["config.yaml"].get<std::string>().find("logLevel: debug"),
            std::string::npos);
}

// helm uninstall removes every object of the release, namespaced and cluster-scoped (the
// MutatingWebhookConfiguration) and those its Deployment made, and keeps only the CRD.
TEST(ChartInstall, UninstallLeavesNothingButTheCrd) {
  ChartRelease release;
  release.install();
  const std::string manifest = release.manifest();
  release.uninstall();

  EXPECT_EQ(kubectl_ok({"get", "-f", "-", "--ignore-not-found", "-o", "name"}, manifest), "")
      << "objects of the release's manifest survived helm uninstall";
  // Every listable kind the API server serves, namespaced and cluster-scoped, by the release
  // label: also catches what the Deployment made (ReplicaSets, Pods), which the garbage
  // collector removes shortly after.
  std::string kinds;
  std::istringstream resources(kubectl_ok({"api-resources", "--verbs=list", "-o", "name"}));
  for (std::string kind; std::getline(resources, kind);) {
    if (kind == "events" || kind == "events.events.k8s.io" || kind == "componentstatuses") continue;
    kinds += (kinds.empty() ? "" : ",") + kind;
  }
  std::string left;
  const bool gone = eventually(
      [&] {
        left = kubectl_ok({"get", kinds, "--all-namespaces", "-l", release.selector(), "-o", "name",
                           "--ignore-not-found"});
        return left.empty();
      },
      std::chrono::seconds(60));
  EXPECT_TRUE(gone) << "left after helm uninstall:\n" << left;
  EXPECT_TRUE(kubectl({"get", "crd", "ipcchannels.ipcmesh.io"}).ok())
      << "Helm keeps CRDs by design; the CRD must still be there";
}

// What the kubelet would mount into the chart's operator Pod, written into a folder: the
// ServiceAccount's token (TokenRequest), CA and namespace, and the projected volume of the
// chart's ConfigMap and webhook Secret, read back from the API server.
std::string write_pod_volumes(const ChartRelease& release) {
  namespace fs = std::filesystem;
  const ControlPlane& plane = ClusterEnvironment::control_plane();
  const fs::path root = fs::path(plane.dir) / ("pod-volumes-" + release.name());
  fs::create_directories(root / "serviceaccount");
  fs::create_directories(root / "config" / "webhook");
  const auto write = [](const fs::path& file, const std::string& text) {
    std::ofstream(file, std::ios::trunc) << text;
    fs::permissions(file, fs::perms::owner_read | fs::perms::group_read | fs::perms::others_read);
  };
  write(root / "serviceaccount" / "token",
        kubectl_ok({"create", "token", release.name() + "-operator", "-n", release.ns()}));
  write(root / "serviceaccount" / "ca.crt", read_file(plane.ca_file));
  write(root / "serviceaccount" / "namespace", release.ns());
  write(root / "config" / "config.yaml",
        kubectl_json({"get", "configmap", release.name() + "-config", "-n", release.ns()})
            .at("data")
            .at("config.yaml")
            .get<std::string>());
  for (const char* key : {"tls.crt", "tls.key"}) {
    write(root / "config" / "webhook" / key,
          kubectl_ok({"get", "secret", release.name() + "-webhook-tls", "-n", release.ns(), "-o",
                      std::string("go-template={{index .data \"") + key + "\" | base64decode}}"}));
  }
  return root.string();
}

// The chart's operator as its Pod would run it, short of a kubelet: the ipcmesh/operator image
// (`make images`) as user 65532 with a read-only root and no capabilities, in-cluster mode
// (KUBERNETES_SERVICE_HOST, the ServiceAccount token, CA and namespace where a Pod has them), the
// chart's own config.yaml and webhook key pair at the chart's mount paths. It becomes ready,
// leads through the chart's Lease Role, and its controller applies the chart's namespace label
// (unique to this release) to a channel's InjectionEnabled condition.
TEST(ChartInstall, OperatorImageRunsWithTheChartsConfigTokenAndRbac) {
  ChartRelease release;
  release.install();
  const ControlPlane& plane = ClusterEnvironment::control_plane();
  const std::string volumes = write_pod_volumes(release);
  const std::string apiserver_port = plane.apiserver_url.substr(plane.apiserver_url.rfind(':') + 1);
  const int health_port = free_port();
  const std::string pod_name = release.name() + "-operator-0";
  // Host network: the API server listens on 127.0.0.1 only. The ports come as flags, over the
  // chart's, since the host's are shared.
  const DockerContainer container(
      "ipcmesh-chart-operator",
      {"--network",
       "host",
       "--read-only",
       "--user",
       "65532:65532",
       "--cap-drop",
       "ALL",
       "--security-opt",
       "no-new-privileges",
       "-e",
       "KUBERNETES_SERVICE_HOST=127.0.0.1",
       "-e",
       "KUBERNETES_SERVICE_PORT=" + apiserver_port,
       "-e",
       "POD_NAME=" + pod_name,
       "-e",
       "POD_NAMESPACE=" + release.ns(),
       "-v",
       volumes + "/serviceaccount:/var/run/secrets/kubernetes.io/serviceaccount:ro",
       "-v",
       volumes + "/config:/etc/ipcmesh:ro",
       std::string("ipcmesh/operator:") + IPCMESH_VERSION,
       "--config",
       "/etc/ipcmesh/config.yaml",
       "--health-port",
       std::to_string(health_port),
       "--webhook-port",
       std::to_string(free_port())});
  ASSERT_TRUE(container.started()) << container.start_error() << " (is `make images` done?)";

  const bool ready = eventually(
      [&] {
        return run_command({"curl", "-sf", "-m", "2",
                            "http://127.0.0.1:" + std::to_string(health_port) + "/readyz"})
            .ok();
      },
      std::chrono::seconds(60));
  ASSERT_TRUE(ready) << container.logs(40);
  std::string holder;
  EXPECT_TRUE(eventually([&] {
    holder = kubectl({"get", "lease", "ipcmesh-operator", "-n", release.ns(), "-o",
                      "jsonpath={.spec.holderIdentity}"})
                 .out;
    return holder.rfind(pod_name + "_", 0) == 0;  // POD_NAME_<random>, as client-go's
  })) << "Lease holder: '"
      << holder << "'\n"
      << container.logs(40);

  // A namespace with ipcmesh.io/injection=enabled, but not this release's value.
  const std::string apps = create_namespace("chart-apps");
  kubectl_ok({"apply", "-n", apps, "-f", "-"},
             "apiVersion: ipcmesh.io/v1alpha1\nkind: IpcChannel\nmetadata:\n  name: frames\n"
             "spec:\n  selector: {matchLabels: {app: a}}\n");
  const std::string expected_label = "ipcmesh.io/injection=" + release.label_value();
  const auto injection_enabled = [&] {
    const json channel = kubectl_json({"get", "ipch", "frames", "-n", apps});
    for (const auto& condition : channel["status"].value("conditions", json::array())) {
      if (condition.value("type", "") == "InjectionEnabled") return condition;
    }
    return json::object();
  };
  json condition;
  EXPECT_TRUE(eventually([&] {
    condition = injection_enabled();
    return condition.value("status", "") == "False";
  })) << condition.dump()
      << "\n"
      << container.logs(40);
  EXPECT_NE(condition.value("message", "").find(expected_label), std::string::npos)
      << condition.dump();

  kubectl_ok({"label", "namespace", apps, "--overwrite", expected_label});
  EXPECT_TRUE(eventually([&] {
    condition = injection_enabled();
    return condition.value("status", "") == "True";
  })) << condition.dump()
      << "\n"
      << container.logs(40);
  kubectl({"delete", "namespace", apps, "--wait=false"});
}

}  // namespace
}  // namespace ipcmesh::cluster
