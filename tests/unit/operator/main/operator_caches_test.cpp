#include "main/operator_caches.hpp"

#include <gtest/gtest.h>

#include "../kube/fake_clock.hpp"
#include "../kube/scripted_transport.hpp"
#include "controller/ipc_channel_reconciler.hpp"

namespace ipcmesh::operator_main {
namespace {

using nlohmann::json;

const std::string kStatusRecord =
    R"({"version":"0.1.0","contract":1,"channels":[{"name":"frames","uid":"uid-1","generation":1}]})";

// A Pod as the API server lists it, with the bulk the operator does not read.
json full_pod(const std::string& name, const std::string& phase, bool injected) {
  json annotations = {{"kubectl.kubernetes.io/last-applied-configuration", std::string(2000, 'x')},
                      {"prometheus.io/scrape", "true"},
                      {"ipcmesh.io/channels", "frames"}};
  if (injected) annotations["ipcmesh.io/status"] = kStatusRecord;
  return {{"metadata",
           {{"namespace", "team"},
            {"name", name},
            {"uid", "pod-" + name},
            {"resourceVersion", "7"},
            {"creationTimestamp", "2026-01-01T00:00:00Z"},
            {"generateName", "deploy-"},
            {"labels", {{"app", "pipeline"}, {"pod-template-hash", "abc"}}},
            {"annotations", annotations},
            {"ownerReferences", json::array({{{"kind", "ReplicaSet"}, {"name", "deploy"}}})},
            {"managedFields", json::array({{{"manager", "kubelet"}}})}}},
          {"spec", {{"containers", json::array({{{"name", "app"}, {"image", "busybox"}}})}}},
          {"status",
           {{"phase", phase},
            {"podIP", "10.0.0.9"},
            {"conditions", json::array({{{"type", "Ready"}, {"status", "True"}}})}}}};
}

json channel(bool with_bulk) {
  json object = {{"apiVersion", "ipcmesh.io/v1alpha1"},
                 {"kind", "IpcChannel"},
                 {"metadata",
                  {{"namespace", "team"},
                   {"name", "frames"},
                   {"uid", "uid-1"},
                   {"resourceVersion", "3"},
                   {"generation", 1},
                   {"annotations", {{"team.example/owner", "video"}}}}},
                 {"spec",
                  {{"selector", {{"matchLabels", {{"app", "pipeline"}}}}},
                   {"transport", "SharedMemory"},
                   {"sharedMemory", {{"size", "8Mi"}, {"maxMessageSize", "64Ki"}}}}},
                 {"status", {{"observedGeneration", 1}}}};
  if (with_bulk) {
    object["metadata"]["managedFields"] = json::array({{{"manager", "kubectl"}}});
    object["metadata"]["annotations"]["kubectl.kubernetes.io/last-applied-configuration"] =
        std::string(1000, 'y');
  }
  return object;
}

// trim_pod keeps exactly what the reconciler and the informer read: identity, labels, the
// ipcmesh.io/* annotations, deletionTimestamp and status.phase.
TEST(OperatorCaches, TrimPodKeepsWhatTheControllerReadsAndNothingElse) {
  json pod = full_pod("p", "Running", true);
  pod["metadata"]["deletionTimestamp"] = "2026-02-01T00:00:00Z";
  trim_pod(pod);
  const json expected = {
      {"metadata",
       {{"namespace", "team"},
        {"name", "p"},
        {"uid", "pod-p"},
        {"resourceVersion", "7"},
        {"deletionTimestamp", "2026-02-01T00:00:00Z"},
        {"labels", {{"app", "pipeline"}, {"pod-template-hash", "abc"}}},
        {"annotations",
         {{"ipcmesh.io/channels", "frames"}, {"ipcmesh.io/status", kStatusRecord}}}}},
      {"status", {{"phase", "Running"}}}};
  EXPECT_EQ(pod, expected);
}

// The parse filter and trim_pod, as the Pod informer runs them, cache the same Pod trim_pod alone
// makes, and the reconciler computes the same status from trimmed Pods as from full ones.
TEST(OperatorCaches, PodInformerCachesTrimmedPodsTheReconcilerCountsAlike) {
  const std::vector<json> pods = {full_pod("a", "Running", true), full_pod("b", "Running", false),
                                  full_pod("c", "Succeeded", true)};
  kube::testing::ScriptedTransport transport;
  kube::testing::FakeClock clock;
  transport.push(
      {200, json{{"metadata", {{"resourceVersion", "9"}}}, {"items", pods}}.dump(), {}, {}, {}});
  auto options = pod_informer_options();
  options.after_relist = nullptr;
  kube::Informer informer(transport, clock, options);
  kube::Cancellation cancellation;
  informer.run(cancellation);

  std::vector<kube::ObjectPtr> full;
  for (const auto& pod : pods) {
    json trimmed = pod;
    trim_pod(trimmed);
    const auto cached = informer.get("team/" + pod["metadata"]["name"].get<std::string>());
    ASSERT_TRUE(cached);
    EXPECT_EQ(*cached, trimmed);
    full.push_back(std::make_shared<const json>(pod));
  }
  const auto from_cache =
      controller::compute_status(channel(false), informer.list(), {}, "2026-03-01T00:00:00Z");
  const auto from_full =
      controller::compute_status(channel(false), full, {}, "2026-03-01T00:00:00Z");
  EXPECT_EQ(from_cache, from_full);
  EXPECT_EQ(from_cache.selected_pods, 2);
  EXPECT_EQ(from_cache.injected_pods, 1);
  EXPECT_EQ(from_cache.pending_restart_pods, 1);
}

// An IpcChannel loses only managedFields and kubectl's last-applied-configuration, whether
// dropped by the parse filter or by the transform; it still parses as the same channel.
TEST(OperatorCaches, ChannelCacheDropsOnlyManagedFieldsAndLastAppliedConfiguration) {
  json trimmed = channel(true);
  drop_managed_fields(trimmed);
  EXPECT_EQ(trimmed, channel(false));

  kube::testing::ScriptedTransport transport;
  kube::testing::FakeClock clock;
  transport.push({200,
                  json{{"metadata", {{"resourceVersion", "9"}}}, {"items", {channel(true)}}}.dump(),
                  {},
                  {},
                  {}});
  auto options = channel_informer_options();
  options.after_relist = nullptr;
  kube::Informer informer(transport, clock, options);
  kube::Cancellation cancellation;
  informer.run(cancellation);
  const auto cached = informer.get("team/frames");
  ASSERT_TRUE(cached);
  EXPECT_EQ(*cached, channel(false));
  auto parsed = api::ipc_channel_from_json(*cached);
  ASSERT_TRUE(parsed) << parsed.error().message;
  EXPECT_EQ(parsed->metadata.annotations.at("team.example/owner"), "video");
}

}  // namespace
}  // namespace ipcmesh::operator_main
