// The webhook as the real API server calls it: the operator runs out of the cluster, registered
// by a MutatingWebhookConfiguration with url + caBundle; what the tests read back is what etcd
// stored, not what the webhook answered.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "cluster.hpp"
#include "ipc_objects.hpp"
#include "webhook/admission_server.hpp"

namespace ipcmesh::cluster {
namespace {

using nlohmann::json;

// A copy, not a pointer: callers often pass a temporary from json::value().
std::optional<json> find_named(const json& list, const std::string& name) {
  if (!list.is_array()) return std::nullopt;
  for (const json& item : list) {
    if (item.value("name", "") == name) return item;
  }
  return std::nullopt;
}

int count_named(const json& list, const std::string& name) {
  if (!list.is_array()) return 0;
  return static_cast<int>(std::count_if(
      list.begin(), list.end(), [&](const json& item) { return item.value("name", "") == name; }));
}

bool has_status_annotation(const json& pod) {
  return pod.at("metadata").value("annotations", json::object()).contains("ipcmesh.io/status");
}

// Sum of a counter's samples whose label text contains `labels_part`.
double metric_sum(const std::string& metrics, const std::string& name,
                  const std::string& labels_part) {
  double sum = 0;
  std::size_t position = 0;
  while ((position = metrics.find(name + "{", position)) != std::string::npos) {
    const std::size_t end = metrics.find('\n', position);
    const std::string line = metrics.substr(position, end - position);
    if (line.find(labels_part) != std::string::npos) {
      sum += std::stod(line.substr(line.rfind(' ') + 1));
    }
    position = end;
  }
  return sum;
}

// A second mutating webhook, served from the test and registered after ours (configurations run
// in name order: "ipcmesh-injection" first, then "zz-NAME"); it answers each Pod with the JSON
// patch `patch_for` makes of it.
class SecondWebhook {
 public:
  SecondWebhook(const std::string& name, std::function<json(const json& pod)> patch_for)
      : patch_for_(std::move(patch_for)) {
    const std::string dir = ClusterEnvironment::control_plane().dir;
    issue_serving_certificate(dir, name);
    const int port = free_port();
    webhook::AdmissionServerConfig config;
    config.address = "https://127.0.0.1:" + std::to_string(port);
    config.certificate_file = dir + "/" + name + ".crt";
    config.key_file = dir + "/" + name + ".key";
    server_ = std::make_unique<webhook::AdmissionServer>(
        config, [this](const webhook::HttpRequest& request) { return answer(request); });
    server_->start();
    registration_ = std::make_unique<WebhookRegistration>("zz-" + name, port, FailurePolicy::kFail);
  }
  int calls() const { return calls_.load(); }

 private:
  webhook::HttpResponse answer(const webhook::HttpRequest& request) {
    ++calls_;
    const json review = json::parse(request.body);
    const CommandResult encoded =
        run_command({"base64", "-w0"}, patch_for_(review["request"]["object"]).dump());
    const json response = {{"apiVersion", "admission.k8s.io/v1"},
                           {"kind", "AdmissionReview"},
                           {"response",
                            {{"uid", review["request"]["uid"]},
                             {"allowed", true},
                             {"patchType", "JSONPatch"},
                             {"patch", encoded.out}}}};
    return webhook::HttpResponse{200, "application/json", response.dump()};
  }

  std::atomic<int> calls_{0};
  std::function<json(const json&)> patch_for_;
  std::unique_ptr<webhook::AdmissionServer> server_;
  std::unique_ptr<WebhookRegistration> registration_;
};

class Injection : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    OperatorOptions options;
    options.identity = "injection";
    operator_ = std::make_unique<OperatorProcess>(options);
    operator_->wait_ready();
    webhook_ = std::make_unique<WebhookRegistration>("ipcmesh-injection", operator_->webhook_port(),
                                                     FailurePolicy::kFail);
  }
  static void TearDownTestSuite() {
    webhook_.reset();
    operator_.reset();
  }
  void SetUp() override {
    ns_ = create_namespace("inject");
    kubectl_ok({"apply", "-n", ns_, "-f", "-"}, channel_manifest("frames", "demo"));
    // The webhook decides from its cache: wait until the operator has seen the channel.
    ASSERT_TRUE(eventually([&] {
      const json channel = kubectl_json({"get", "ipch", "frames", "-n", ns_});
      return channel.contains("status") && channel["status"].value("observedGeneration", 0) >= 1;
    })) << "the operator never reconciled the channel; log:\n"
        << operator_->log_tail();
  }
  void TearDown() override { kubectl({"delete", "namespace", ns_, "--wait=false"}); }

  // Creates the Pod and reads back what the API server stored.
  json create_pod(const std::string& name, const std::string& app_label,
                  const std::string& annotations = "") {
    kubectl_ok({"create", "-n", ns_, "-f", "-"}, pod_manifest(name, app_label, annotations));
    return kubectl_json({"get", "pod", name, "-n", ns_});
  }

  static inline std::unique_ptr<OperatorProcess> operator_;
  static inline std::unique_ptr<WebhookRegistration> webhook_;
  std::string ns_;
};

void expect_injected(const json& pod, const std::string& channel) {
  const json& spec = pod.at("spec");
  ASSERT_TRUE(has_status_annotation(pod)) << pod.dump(2);
  // The server is 1.36: the relay is a native sidecar, the first init container.
  const json& init = spec.value("initContainers", json::array());
  ASSERT_FALSE(init.empty()) << spec.dump(2);
  EXPECT_EQ(init[0].value("name", ""), "ipcmesh-relay");
  EXPECT_EQ(init[0].value("restartPolicy", ""), "Always");
  EXPECT_TRUE(init[0].contains("startupProbe"));
  EXPECT_EQ(init[0].at("securityContext").value("runAsNonRoot", false), true);
  // The default 64Mi limit plus the 8Mi ring and its 1Mi header, which the relay is charged for.
  EXPECT_EQ(init[0].at("resources").at("limits").value("memory", ""), "73Mi") << init[0].dump(2);
  // The apps join the relay's group (65532) to open its 0660 objects.
  EXPECT_EQ(spec.value("securityContext", json::object()).value("supplementalGroups", json()),
            json::array({65532}))
      << spec.dump(2);
  const std::optional<json> shm = find_named(spec.at("volumes"), "ipcmesh-shm");
  ASSERT_TRUE(shm.has_value()) << spec.at("volumes").dump();
  EXPECT_EQ(shm->at("emptyDir").value("medium", ""), "Memory");
  EXPECT_TRUE(find_named(spec.at("volumes"), "ipcmesh-control").has_value());
  for (const json& container : spec.at("containers")) {
    const std::optional<json> env =
        find_named(container.value("env", json::array()), "IPCMESH_CHANNELS");
    ASSERT_TRUE(env.has_value()) << container.dump(2);
    EXPECT_NE(env->value("value", "").find("\"" + channel + "\""), std::string::npos)
        << env->dump();
    bool mounts_dev_shm = false;
    for (const json& mount : container.value("volumeMounts", json::array())) {
      mounts_dev_shm |= mount.value("mountPath", "") == "/dev/shm";
    }
    EXPECT_TRUE(mounts_dev_shm) << container.dump(2);
  }
  const json status =
      json::parse(pod["metadata"]["annotations"]["ipcmesh.io/status"].get<std::string>());
  EXPECT_EQ(status.value("sidecar", ""), "native");
  ASSERT_EQ(status.at("channels").size(), 1u);
  EXPECT_EQ(status["channels"][0].value("name", ""), channel);
}

void expect_untouched(const json& pod) {
  EXPECT_FALSE(has_status_annotation(pod)) << pod.dump(2);
  EXPECT_FALSE(pod.at("spec").contains("initContainers"));
  EXPECT_FALSE(find_named(pod.at("spec").at("containers"), "ipcmesh-relay").has_value());
  EXPECT_FALSE(
      find_named(pod.at("spec").value("volumes", json::array()), "ipcmesh-shm").has_value());
}

TEST_F(Injection, ASelectedPodIsStoredWithTheRelayVolumesEnvAndStatus) {
  expect_injected(create_pod("selected", "demo"), "frames");
}

TEST_F(Injection, UnselectedAndOptedOutPodsAreStoredUnchanged) {
  expect_untouched(create_pod("unselected", "other"));
  expect_untouched(create_pod("opted-out", "demo", "{ipcmesh.io/inject: 'false'}"));
}

TEST_F(Injection, APodNamingAnUnknownChannelIsDeniedWithAnActionableMessage) {
  const CommandResult created =
      kubectl({"create", "-n", ns_, "-f", "-"},
              pod_manifest("unknown", "other", "{ipcmesh.io/channels: no-such-channel}"));
  EXPECT_FALSE(created.ok());
  EXPECT_NE(created.err.find("ipcmesh:"), std::string::npos) << created.err;
  EXPECT_NE(created.err.find("no-such-channel"), std::string::npos) << created.err;
}

TEST_F(Injection, ADeploymentsPodsCreatedByTheControllerManagerAreInjected) {
  kubectl_ok({"apply", "-n", ns_, "-f", "-"},
             "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: pipeline\nspec:\n"
             "  replicas: 2\n  selector:\n    matchLabels: {app: demo}\n  template:\n"
             "    metadata:\n      labels: {app: demo}\n    spec:\n      containers:\n"
             "      - name: app\n        image: busybox:1.36\n");
  json pods;
  ASSERT_TRUE(eventually([&] {
    pods = kubectl_json({"get", "pods", "-n", ns_, "-l", "app=demo"});
    return pods.at("items").size() == 2;
  })) << "the ReplicaSet controller did not create 2 Pods: "
      << pods.dump();
  for (const json& pod : pods["items"]) {
    expect_injected(pod, "frames");
    EXPECT_TRUE(pod.at("metadata").contains("ownerReferences"));
  }
}

TEST_F(Injection, InjectionIsIdempotentWhenALaterWebhookReinvokesIt) {
  // A second webhook that adds a label to every Pod. Because it changes the Pod after ours ran,
  // the API server re-invokes ours (reinvocationPolicy IfNeeded).
  SecondWebhook labeller("labeller", [](const json& pod) {
    json patch = json::array();
    if (!pod["metadata"].contains("labels")) {
      patch.push_back({{"op", "add"}, {"path", "/metadata/labels"}, {"value", json::object()}});
    }
    patch.push_back({{"op", "add"}, {"path", "/metadata/labels/labelled-by"}, {"value", "second"}});
    return patch;
  });
  const double before = metric_sum(operator_->health_get("/metrics"),
                                   "ipcmesh_admission_requests_total", "already-injected");
  const json pod = create_pod("reinvoked", "demo");
  EXPECT_GE(labeller.calls(), 1);
  EXPECT_EQ(pod["metadata"]["labels"].value("labelled-by", ""), "second");
  expect_injected(pod, "frames");
  const json& spec = pod["spec"];
  EXPECT_EQ(count_named(spec["initContainers"], "ipcmesh-relay"), 1);
  EXPECT_EQ(count_named(spec["volumes"], "ipcmesh-shm"), 1);
  EXPECT_EQ(count_named(spec["volumes"], "ipcmesh-control"), 1);
  for (const json& container : spec["containers"]) {
    EXPECT_EQ(count_named(container["env"], "IPCMESH_CHANNELS"), 1);
  }
  // Our webhook really was called again, and recognised its own work.
  const double after = metric_sum(operator_->health_get("/metrics"),
                                  "ipcmesh_admission_requests_total", "already-injected");
  EXPECT_GE(after - before, 1) << "the API server did not re-invoke the ipcmesh webhook";
}

// A later webhook adds a container (as an observability or secrets injector does): the API
// server re-invokes ours, which wires that container to the channel too.
TEST_F(Injection, AContainerAddedByALaterWebhookGetsTheChannel) {
  SecondWebhook adder("adder", [](const json& pod) {
    for (const json& container : pod["spec"]["containers"]) {
      if (container.value("name", "") == "added-later") return json::array();
    }
    return json::array({{{"op", "add"},
                         {"path", "/spec/containers/-"},
                         {"value", {{"name", "added-later"}, {"image", "busybox"}}}}});
  });
  const json pod = create_pod("late-container", "demo");
  EXPECT_GE(adder.calls(), 1);
  expect_injected(pod, "frames");  // checks every container's env and /dev/shm mount
  const json& containers = pod["spec"]["containers"];
  ASSERT_EQ(count_named(containers, "added-later"), 1) << containers.dump(2);
  EXPECT_EQ(count_named(pod["spec"]["initContainers"], "ipcmesh-relay"), 1);
}

// The ServiceAccount admission plugin runs again after our webhook and, before, added the token
// mount to the relay: that change made the API server call our webhook a second time for every
// Pod, and handed the relay a credential it never uses. Now one call, and no token in the relay.
TEST_F(Injection, OneAdmissionCallPerPodAndNoServiceAccountTokenInTheRelay) {
  const std::string metrics_before = operator_->health_get("/metrics");
  const json pod = create_pod("one-call", "demo");
  const std::string metrics_after = operator_->health_get("/metrics");
  expect_injected(pod, "frames");
  EXPECT_EQ(metric_sum(metrics_after, "ipcmesh_admission_requests_total", "") -
                metric_sum(metrics_before, "ipcmesh_admission_requests_total", ""),
            1)
      << "admission calls for one Pod; reinvocations answered already-injected: "
      << metric_sum(metrics_after, "ipcmesh_admission_requests_total", "already-injected") -
             metric_sum(metrics_before, "ipcmesh_admission_requests_total", "already-injected");
  const std::string token_path = "/var/run/secrets/kubernetes.io/serviceaccount";
  const auto mount_name = [&](const json& container) {
    for (const json& mount : container.value("volumeMounts", json::array())) {
      if (mount.value("mountPath", "") == token_path) return mount.value("name", "");
    }
    return std::string();
  };
  const json& relay = pod["spec"]["initContainers"][0];
  EXPECT_EQ(mount_name(relay), "ipcmesh-no-token") << relay.dump(2);
  // The app still gets its token from the plugin (kube-api-access-xxxxx).
  EXPECT_EQ(mount_name(pod["spec"]["containers"][0]).rfind("kube-api-access-", 0), 0u)
      << pod["spec"]["containers"][0].dump(2);
}

TEST_F(Injection, ReapplyingAnInjectedPodManifestInjectsNothingTwice) {
  const json first = create_pod("copied", "demo");
  // A manifest copied from an injected Pod (kubectl get -o yaml | edit name | create).
  json copy = first;
  copy["metadata"] = {{"name", "copied-again"},
                      {"labels", first["metadata"]["labels"]},
                      {"annotations", first["metadata"]["annotations"]}};
  copy.erase("status");
  kubectl_ok({"create", "-n", ns_, "-f", "-"}, copy.dump());
  const json second = kubectl_json({"get", "pod", "copied-again", "-n", ns_});
  EXPECT_EQ(count_named(second["spec"]["initContainers"], "ipcmesh-relay"), 1);
  EXPECT_EQ(count_named(second["spec"]["volumes"], "ipcmesh-shm"), 1);
}

}  // namespace
}  // namespace ipcmesh::cluster
