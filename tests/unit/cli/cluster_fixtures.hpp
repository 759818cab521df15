// Objects as kube-apiserver returns them, for the cluster commands' unit tests: IpcChannels,
// Pods (injected by the real webhook code, webhook::mutate_pod), Namespaces, the chart's operator
// Deployment and ConfigMap, a relay's metrics. Header-only.
#pragma once

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <sstream>
#include <string>

#include "api/ipc_channel.hpp"
#include "api/pod_record.hpp"
#include "cluster_access.hpp"
#include "fake_api_server.hpp"
#include "webhook/pod_mutation.hpp"

namespace ipcmesh::cli::testing {

using nlohmann::json;

inline constexpr const char* kTeam = "team";
inline constexpr const char* kEarly = "2026-12-02T11:00:00Z";  // before the channels
inline constexpr const char* kCreated = "2026-12-02T12:00:00Z";
inline constexpr const char* kLater = "2026-12-02T12:01:00Z";
inline const std::int64_t kNow = *api::parse_kube_time("2026-12-02T12:05:00Z");

inline json channel_json(const std::string& name, const std::string& app,
                         std::int64_t generation = 1, const std::string& created = kCreated,
                         json spec_extra = json::object()) {
  json spec = {{"selector", {{"matchLabels", {{"app", app}}}}},
               {"transport", "SharedMemory"},
               {"sharedMemory", {{"size", "8Mi"}, {"maxMessageSize", "4Ki"}}}};
  spec.update(spec_extra);
  return {{"apiVersion", "ipcmesh.io/v1alpha1"},
          {"kind", "IpcChannel"},
          {"metadata",
           {{"namespace", kTeam},
            {"name", name},
            {"uid", "uid-" + name},
            {"generation", generation},
            {"resourceVersion", "7"},
            {"creationTimestamp", created}}},
          {"spec", spec}};
}

inline json with_status(json channel, int selected, int injected, int pending, bool ready) {
  channel["status"] = {
      {"observedGeneration", channel["metadata"]["generation"]},
      {"selectedPods", selected},
      {"injectedPods", injected},
      {"pendingRestartPods", pending},
      {"conditions", json::array({{{"type", "Ready"},
                                   {"status", ready ? "True" : "False"},
                                   {"reason", ready ? "AllPodsInjected" : "PodsPendingRestart"},
                                   {"message", ready ? "all fine" : "1 of 2 need a restart"},
                                   {"lastTransitionTime", kCreated}},
                                  {{"type", "Degraded"},
                                   {"status", "False"},
                                   {"reason", "AsExpected"},
                                   {"message", "ok"},
                                   {"lastTransitionTime", kCreated}}})}};
  return channel;
}

inline json pod_json(const std::string& name, const std::string& app,
                     const std::string& created = kLater, json annotations = json::object()) {
  json pod = {
      {"apiVersion", "v1"},
      {"kind", "Pod"},
      {"metadata",
       {{"namespace", kTeam},
        {"name", name},
        {"uid", "pod-" + name},
        {"creationTimestamp", created},
        {"labels", {{"app", app}}}}},
      {"spec", {{"containers", json::array({{{"name", "app"}, {"image", "busybox:1.36"}}})}}},
      {"status", {{"phase", "Pending"}}}};
  if (!annotations.empty()) pod["metadata"]["annotations"] = annotations;
  return pod;
}

// The Pod as the webhook injects it with these channels (the operator's own mutation).
inline json injected(const json& pod, const std::vector<json>& channels) {
  std::vector<api::IpcChannel> catalog;
  for (const json& channel : channels) catalog.push_back(*api::ipc_channel_from_json(channel));
  auto result = webhook::mutate_pod(pod, kTeam, catalog, webhook::MutationOptions{});
  EXPECT_EQ(result.outcome, webhook::MutationOutcome::kMutated) << result.message;
  return result.pod;
}

inline json list_of(const std::vector<json>& items) {
  return {{"apiVersion", "v1"}, {"kind", "List"}, {"metadata", json::object()}, {"items", items}};
}

inline json namespace_json(const std::string& name, bool enabled) {
  json labels = {{"kubernetes.io/metadata.name", name}};
  if (enabled) labels["ipcmesh.io/injection"] = "enabled";
  return {{"apiVersion", "v1"},
          {"kind", "Namespace"},
          {"metadata", {{"name", name}, {"labels", labels}}}};
}

// What the chart installs: the operator's Deployment (labelled with its version; its config a
// source of a projected volume, as the chart mounts it) and ConfigMap.
inline json operator_deployment(const std::string& version) {
  return {{"metadata",
           {{"namespace", "ipcmesh-system"},
            {"name", "ipcmesh-operator"},
            {"labels",
             {{"app.kubernetes.io/part-of", "ipcmesh"},
              {"app.kubernetes.io/component", "operator"},
              {"app.kubernetes.io/version", version}}}}},
          {"spec",
           {{"template",
             {{"spec",
               {{"containers",
                 json::array({{{"name", "operator"}, {"image", "ipcmesh/operator:" + version}}})},
                {"volumes",
                 json::array(
                     {{{"name", "config"},
                       {"projected",
                        {{"sources", json::array({{{"configMap", {{"name", "ipcmesh-config"}}}},
                                                  {{"secret", {{"name", "tls"}}}}})}}}}})}}}}}}}};
}

inline std::string relay_metrics_text(const std::string& channel, int published, int delivered) {
  std::ostringstream text;
  text << "# TYPE ipcmesh_build_info gauge\n"
       << "ipcmesh_build_info{component=\"relay\",version=\"" IPCMESH_VERSION "\"} 1\n"
       << "ipcmesh_channel_published_messages_total{channel_namespace=\"team\",channel=\""
       << channel << "\"} " << published << "\n"
       << "ipcmesh_channel_subscribers{channel_namespace=\"team\",channel=\"" << channel
       << "\"} 1\n"
       << "ipcmesh_subscriber_delivered_messages_total{channel_namespace=\"team\",channel=\""
       << channel << "\",slot=\"0\"} " << delivered << "\n"
       << "ipcmesh_subscriber_lag_bytes{channel_namespace=\"team\",channel=\"" << channel
       << "\",slot=\"0\"} 2048\n"
       << "ipcmesh_channel_rejected_full_total{channel_namespace=\"team\",channel=\"" << channel
       << "\"} 3\n"
       << "ipcmesh_channel_published_messages_total{channel_namespace=\"other\",channel=\""
       << channel << "\"} 999\n";
  return text.str();
}

inline const std::string kChannelsPath = "/apis/ipcmesh.io/v1alpha1/namespaces/team/ipcchannels";
inline const std::string kPodsPath = "/api/v1/namespaces/team/pods";

// A fake cluster and the access the commands take.
struct FakeCluster {
  FakeApiServer server;
  kube::KubeClient client{server};
  ClusterAccess access{client, server, kTeam, kNow, "https://fake:6443"};
};

}  // namespace ipcmesh::cli::testing
