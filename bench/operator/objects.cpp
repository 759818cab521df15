#include "objects.hpp"

#include <cstdio>

namespace ipcmesh::bench::operator_bench {
namespace {

using nlohmann::json;

// A uid-shaped string that differs per object (the cache keys and values must not share text).
std::string uid(const char* kind, std::size_t index) {
  char text[40];
  std::snprintf(text, sizeof(text), "%08zx-%.4s-4%03zx-9%03zx-%012zx",
                index * 2654435761u % 0xffffffffu, kind, index % 0xfff, (index * 7) % 0xfff,
                index * 40503u);
  return text;
}

std::string hash5(std::size_t index) {
  static constexpr char kAlphabet[] = "bcdfghjklmnpqrstvwxz2456789";
  std::string out;
  std::size_t value = index * 2654435761u + 12345;
  for (int i = 0; i < 5; ++i) {
    out += kAlphabet[value % 27];
    value /= 27;
  }
  return out;
}

json managed_fields(const std::string& manager, const json& fields, const char* subresource) {
  json entry = {{"manager", manager},       {"operation", "Update"},
                {"apiVersion", "v1"},       {"time", "2024-05-02T10:11:12Z"},
                {"fieldsType", "FieldsV1"}, {"fieldsV1", fields}};
  if (subresource != nullptr) entry["subresource"] = subresource;
  return entry;
}

json container(const std::string& name, const std::string& image, int port, std::size_t index) {
  json out = {
      {"name", name},
      {"image", image},
      {"imagePullPolicy", "IfNotPresent"},
      {"ports", json::array({{{"name", "http"}, {"containerPort", port}, {"protocol", "TCP"}}})},
      {"env",
       json::array({
           {{"name", "POD_NAME"},
            {"valueFrom", {{"fieldRef", {{"apiVersion", "v1"}, {"fieldPath", "metadata.name"}}}}}},
           {{"name", "POD_NAMESPACE"},
            {"valueFrom",
             {{"fieldRef", {{"apiVersion", "v1"}, {"fieldPath", "metadata.namespace"}}}}}},
           {{"name", "LOG_LEVEL"}, {"value", "info"}},
           {{"name", "WORKER_ID"}, {"value", std::to_string(index)}},
       })},
      {"resources",
       {{"requests", {{"cpu", "100m"}, {"memory", "128Mi"}}}, {"limits", {{"memory", "256Mi"}}}}},
      {"volumeMounts",
       json::array({{{"name", "ipcmesh-shm"}, {"mountPath", "/dev/shm"}},
                    {{"name", "config"}, {"mountPath", "/etc/app"}, {"readOnly", true}},
                    {{"name", "kube-api-access-" + hash5(index + 7)},
                     {"mountPath", "/var/run/secrets/kubernetes.io/serviceaccount"},
                     {"readOnly", true}}})},
      {"readinessProbe",
       {{"httpGet", {{"path", "/ready"}, {"port", port}, {"scheme", "HTTP"}}},
        {"periodSeconds", 10},
        {"timeoutSeconds", 1},
        {"successThreshold", 1},
        {"failureThreshold", 3}}},
      {"terminationMessagePath", "/dev/termination-log"},
      {"terminationMessagePolicy", "File"},
  };
  if (name != "app") {
    // The exporter sidecar: no probe, no resources, as such sidecars usually ship.
    out.erase("readinessProbe");
    out.erase("resources");
    out["env"].erase(out["env"].begin() + 1, out["env"].end());
  }
  return out;
}

json container_status(const std::string& name, const std::string& image, std::size_t index) {
  return {{"name", name},
          {"state", {{"running", {{"startedAt", "2024-05-02T10:11:20Z"}}}}},
          {"lastState", json::object()},
          {"ready", true},
          {"restartCount", static_cast<int>(index % 3)},
          {"image", image},
          {"imageID",
           image + "@sha256:9b1c0d7e3f5a2c4b6d8e0f1a3b5c7d9e1f3a5b7c9d1e3f5a7b9c1d3e5f7a9b1c"},
          {"containerID", "containerd://" + uid("cont", index * 2 + name.size()) + uid("x", index)},
          {"started", true}};
}

}  // namespace

std::string namespace_of(const ClusterShape& shape, std::size_t index) {
  return "team-" + std::to_string(index % shape.namespaces);
}

json make_channel(const ClusterShape& shape, std::size_t index) {
  const std::string name = "channel-" + std::to_string(index / shape.namespaces);
  const bool queue = index % 4 == 3;
  json spec = {{"selector", {{"matchLabels", {{"ipcmesh.io/bus", name}}}}},
               {"scope", "Pod"},
               {"transport", queue ? "MessageQueue" : "SharedMemory"}};
  if (queue) {
    spec["messageQueue"] = {{"maxMessages", 10}, {"maxMessageSize", "8Ki"}};
  } else {
    spec["sharedMemory"] = {
        {"size", "16Mi"}, {"maxMessageSize", "256Ki"}, {"slowConsumer", "DropOldest"}};
  }
  return {
      {"metadata",
       {{"name", name},
        {"namespace", namespace_of(shape, index)},
        {"uid", uid("chan", index)},
        {"resourceVersion", std::to_string(5000 + index)},
        {"generation", 2},
        {"creationTimestamp", "2024-05-01T09:00:00Z"},
        {"labels", {{"app.kubernetes.io/part-of", "pipeline"}}},
        {"annotations",
         {{"kubectl.kubernetes.io/last-applied-configuration",
           json({{"apiVersion", "ipcmesh.io/v1alpha1"},
                 {"kind", "IpcChannel"},
                 {"metadata", {{"name", name}, {"namespace", namespace_of(shape, index)}}},
                 {"spec", spec}})
               .dump()}}},
        {"managedFields",
         json::array(
             {managed_fields(
                  "kubectl-client-side-apply",
                  {{"f:spec", {{"f:selector", json::object()}, {"f:transport", json::object()}}}},
                  nullptr),
              managed_fields(
                  "ipcmesh-operator",
                  {{"f:status",
                    {{"f:conditions", json::object()}, {"f:selectedPods", json::object()}}}},
                  "status")})}}},
      {"spec", spec},
      {"status",
       {{"observedGeneration", 2},
        {"selectedPods", 10},
        {"injectedPods", 10},
        {"pendingRestartPods", 0},
        {"conditions", json::array({{{"type", "Ready"},
                                     {"status", "True"},
                                     {"reason", "PodsInjected"},
                                     {"message", "10 of 10 selected Pods carry the relay"},
                                     {"observedGeneration", 2},
                                     {"lastTransitionTime", "2024-05-01T09:00:05Z"}},
                                    {{"type", "Degraded"},
                                     {"status", "False"},
                                     {"reason", "AsExpected"},
                                     {"message", ""},
                                     {"observedGeneration", 2},
                                     {"lastTransitionTime", "2024-05-01T09:00:05Z"}}})}}},
  };
}

json make_pod(const ClusterShape& shape, std::size_t index, bool with_status) {
  const std::string ns = namespace_of(shape, index);
  const std::string deployment = "worker-" + std::to_string((index / shape.namespaces) % 10);
  const std::string channel = "channel-" + std::to_string((index / shape.namespaces) % 10);
  const std::string template_hash = "7d9f8c6b" + std::to_string(index % 10);
  const std::string name = deployment + "-" + template_hash + "-" + hash5(index);
  const std::string app_image = "registry.example.com/pipeline/" + deployment + ":1.14.2";
  const std::string sidecar_image = "registry.example.com/pipeline/exporter:0.9.1";
  json status_annotation = {{"version", "0.1.0"},
                            {"channels", json::array({channel})},
                            {"relay", "ipcmesh-relay"},
                            {"native", true},
                            {"volumes", json::array({"ipcmesh-shm", "ipcmesh-control"})}};
  json pod = {
      {"metadata",
       {{"name", name},
        {"generateName", deployment + "-" + template_hash + "-"},
        {"namespace", ns},
        {"uid", uid("pod", index)},
        {"resourceVersion", std::to_string(100000 + index)},
        {"creationTimestamp", "2024-05-02T10:11:12Z"},
        {"labels",
         {{"app", deployment},
          {"app.kubernetes.io/name", deployment},
          {"app.kubernetes.io/part-of", "pipeline"},
          {"ipcmesh.io/bus", channel},
          {"pod-template-hash", template_hash},
          {"version", "1.14.2"}}},
        {"annotations",
         {{"ipcmesh.io/status", status_annotation.dump()},
          {"kubectl.kubernetes.io/restartedAt", "2024-05-02T10:00:00Z"},
          {"prometheus.io/scrape", "true"},
          {"prometheus.io/port", "9100"}}},
        {"ownerReferences", json::array({{{"apiVersion", "apps/v1"},
                                          {"kind", "ReplicaSet"},
                                          {"name", deployment + "-" + template_hash},
                                          {"uid", uid("rs", index / shape.namespaces)},
                                          {"controller", true},
                                          {"blockOwnerDeletion", true}}})},
        {"managedFields",
         json::array({managed_fields(
             "kube-controller-manager",
             {{"f:metadata",
               {{"f:generateName", json::object()},
                {"f:labels", {{"f:app", json::object()}, {"f:version", json::object()}}},
                {"f:ownerReferences", json::object()}}},
              {"f:spec",
               {{"f:containers", {{"k:{\"name\":\"app\"}", json::object()}}},
                {"f:volumes", json::object()}}}},
             nullptr)})}}},
      {"spec",
       {{"volumes",
         json::array(
             {{{"name", "ipcmesh-shm"},
               {"emptyDir", {{"medium", "Memory"}, {"sizeLimit", "80Mi"}}}},
              {{"name", "ipcmesh-control"}, {"emptyDir", json::object()}},
              {{"name", "config"},
               {"configMap", {{"name", deployment + "-config"}, {"defaultMode", 420}}}},
              {{"name", "kube-api-access-" + hash5(index + 7)},
               {"projected",
                {{"sources",
                  json::array(
                      {{{"serviceAccountToken", {{"expirationSeconds", 3607}, {"path", "token"}}}},
                       {{"configMap",
                         {{"name", "kube-root-ca.crt"},
                          {"items", json::array({{{"key", "ca.crt"}, {"path", "ca.crt"}}})}}}},
                       {{"downwardAPI",
                         {{"items", json::array({{{"path", "namespace"},
                                                  {"fieldRef",
                                                   {{"apiVersion", "v1"},
                                                    {"fieldPath", "metadata.namespace"}}}}})}}}}})},
                 {"defaultMode", 420}}}}})},
        {"containers", json::array({container("app", app_image, 8080, index),
                                    container("exporter", sidecar_image, 9100, index)})},
        {"restartPolicy", "Always"},
        {"terminationGracePeriodSeconds", 30},
        {"dnsPolicy", "ClusterFirst"},
        {"serviceAccountName", "default"},
        {"serviceAccount", "default"},
        {"nodeName", "node-" + std::to_string(index % 50)},
        {"securityContext", json::object()},
        {"schedulerName", "default-scheduler"},
        {"priority", 0},
        {"enableServiceLinks", true},
        {"preemptionPolicy", "PreemptLowerPriority"}}},
  };
  if (!with_status) {
    // A CREATE carries no status, no uid/resourceVersion yet, and is not injected yet.
    auto& metadata = pod["metadata"];
    metadata.erase("uid");
    metadata.erase("resourceVersion");
    metadata.erase("managedFields");
    metadata["annotations"].erase("ipcmesh.io/status");
    metadata.erase("name");
    pod["spec"].erase("nodeName");
    auto& volumes = pod["spec"]["volumes"];
    volumes.erase(volumes.begin(), volumes.begin() + 2);
    for (auto& c : pod["spec"]["containers"]) {
      auto& mounts = c["volumeMounts"];
      mounts.erase(mounts.begin());
    }
    return pod;
  }
  pod["status"] = {
      {"phase", "Running"},
      {"conditions", json::array({{{"type", "Initialized"},
                                   {"status", "True"},
                                   {"lastProbeTime", nullptr},
                                   {"lastTransitionTime", "2024-05-02T10:11:13Z"}},
                                  {{"type", "Ready"},
                                   {"status", "True"},
                                   {"lastProbeTime", nullptr},
                                   {"lastTransitionTime", "2024-05-02T10:11:25Z"}},
                                  {{"type", "ContainersReady"},
                                   {"status", "True"},
                                   {"lastProbeTime", nullptr},
                                   {"lastTransitionTime", "2024-05-02T10:11:25Z"}},
                                  {{"type", "PodScheduled"},
                                   {"status", "True"},
                                   {"lastProbeTime", nullptr},
                                   {"lastTransitionTime", "2024-05-02T10:11:12Z"}}})},
      {"hostIP", "10.0.1." + std::to_string(index % 50 + 10)},
      {"podIP", "10.244." + std::to_string(index % 250) + "." + std::to_string(index / 250 % 250)},
      {"podIPs", json::array({{{"ip", "10.244." + std::to_string(index % 250) + "." +
                                          std::to_string(index / 250 % 250)}}})},
      {"startTime", "2024-05-02T10:11:12Z"},
      // The relay the webhook injected, as a native sidecar: the one status the Pod record keeps.
      {"initContainerStatuses",
       json::array({container_status("ipcmesh-relay", "ipcmesh/relay:0.1.0", index)})},
      {"containerStatuses", json::array({container_status("app", app_image, index),
                                         container_status("exporter", sidecar_image, index)})},
      {"qosClass", "Burstable"},
  };
  return pod;
}

}  // namespace ipcmesh::bench::operator_bench
