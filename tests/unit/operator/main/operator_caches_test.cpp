#include "main/operator_caches.hpp"

#include <gtest/gtest.h>

#include "../kube/fake_clock.hpp"
#include "../kube/scripted_transport.hpp"
#include "../kube/watch_bodies.hpp"
#include "controller/ipc_channel_reconciler.hpp"
#include "controller/reconcile_loop.hpp"
#include "webhook/admission.hpp"

namespace ipcmesh::operator_main {
namespace {

using nlohmann::json;

const std::string kStatusRecord =
    R"({"version":"0.1.0","contract":1,"channels":[{"name":"frames","uid":"uid-1","generation":1}]})";

// A container's entry of status.containerStatuses / initContainerStatuses as the kubelet writes it.
json container_status(const std::string& name, int restarts, bool ready) {
  json entry = {{"name", name},
                {"image", "registry.example.com/" + name + ":1.0"},
                {"imageID", "registry.example.com/" + name + "@sha256:0123456789abcdef"},
                {"containerID", "containerd://" + std::string(64, 'c')},
                {"ready", ready},
                {"started", true},
                {"restartCount", restarts},
                {"state", {{"running", {{"startedAt", "2026-01-01T00:00:05Z"}}}}},
                {"lastState", json::object()}};
  if (restarts > 0) {
    entry["lastState"] = {{"terminated",
                           {{"reason", "Error"},
                            {"exitCode", 1},
                            {"startedAt", "2026-01-01T00:00:03Z"},
                            {"finishedAt", "2026-01-01T00:00:04Z"},
                            {"containerID", "containerd://" + std::string(64, 'd')}}}};
  }
  return entry;
}

// A Pod as the API server lists it, with the bulk the operator does not read. An injected one has
// the relay as a native sidecar (restarted once and not ready again yet).
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
            {"conditions", json::array({{{"type", "Ready"}, {"status", "True"}}})},
            {"initContainerStatuses",
             injected ? json::array({container_status("ipcmesh-relay", 1, false)}) : json::array()},
            {"containerStatuses", json::array({container_status("app", 0, true)})}}}};
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

// The Pod informer as the operator runs it (parse filter, PodRecord decoding) caches, for LISTed
// and for watched Pods, the record that the whole Pod makes: the filter drops nothing the record
// reads. The reconciler computes the same status from the cache as from the full Pods.
TEST(OperatorCaches, PodInformerCachesTheRecordsOfTheFullPodsTheReconcilerCountsAlike) {
  std::vector<json> pods = {full_pod("a", "Running", true), full_pod("b", "Running", false),
                            full_pod("c", "Succeeded", true)};
  json terminating = full_pod("d", "Running", true);
  terminating["metadata"]["resourceVersion"] = "12";
  terminating["metadata"]["deletionTimestamp"] = "2026-02-01T00:00:00Z";
  kube::testing::ScriptedTransport transport;
  kube::testing::FakeClock clock;
  transport.push(
      {200, json{{"metadata", {{"resourceVersion", "9"}}}, {"items", pods}}.dump(), {}, {}, {}});
  transport.push(
      {200, "", {json{{"type", "ADDED"}, {"object", terminating}}.dump()}, std::nullopt, {}});
  pods.push_back(terminating);
  auto options = pod_informer_options();
  options.after_relist = nullptr;
  controller::PodInformer informer(transport, clock, options, api::pod_record_from_json);
  kube::Cancellation cancellation;
  informer.run(cancellation);

  std::vector<controller::PodPtr> full;
  for (const auto& pod : pods) {
    const auto record = api::pod_record_from_json(pod);
    const auto cached = informer.get("team/" + record.name);
    ASSERT_TRUE(cached) << record.name;
    EXPECT_EQ(*cached, record) << record.name;
    full.push_back(std::make_shared<const api::PodRecord>(record));
  }
  EXPECT_TRUE(informer.get("team/d")->terminating);
  // Of the container statuses, only what the relay's record reads is parsed.
  for (const char* dropped : {"image", "imageID", "containerID", "started"}) {
    EXPECT_FALSE(
        keep_pod_field(std::vector<std::string>{"status", "containerStatuses", "", dropped}))
        << dropped;
  }
  EXPECT_FALSE(keep_pod_field(std::vector<std::string>{"status", "initContainerStatuses", "",
                                                       "lastState", "terminated", "message"}));
  EXPECT_TRUE(keep_pod_field(std::vector<std::string>{"status", "initContainerStatuses", "",
                                                      "lastState", "terminated", "exitCode"}));
  ASSERT_TRUE(informer.get("team/a")->relay);
  EXPECT_EQ(informer.get("team/a")->relay->restart_count, 1);
  EXPECT_FALSE(informer.get("team/b")->relay);
  const auto now = std::chrono::system_clock::time_point(
      std::chrono::seconds(*api::parse_kube_time("2026-03-01T00:00:00Z")));
  const auto record = api::channel_record_from_json(channel(false));
  const auto from_cache =
      controller::compute_status(record, controller::members_of(record, informer.list()), {}, now)
          .status;
  const auto from_full =
      controller::compute_status(record, controller::members_of(record, full), {}, now).status;
  EXPECT_EQ(from_cache, from_full);
  EXPECT_EQ(from_cache.selected_pods, 2);
  EXPECT_EQ(from_cache.injected_pods, 1);
  EXPECT_EQ(from_cache.pending_restart_pods, 1);
  EXPECT_EQ(from_cache.find_condition("Degraded")->reason, "RelayNotReady");
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

// The caches wired as the operator wires them: the channel cache feeds the webhook's catalog, so
// the webhook injects a Pod the cached channel selects (and only that one) without an API call;
// a Pod change the reconciler counts (labels, the relay's status) queues its namespace's
// channels, status churn (IPs, the app containers) does not.
TEST(OperatorCaches, TheWebhookAndTheQueueFollowTheCaches) {
  kube::testing::FakeClock clock;
  kube::testing::ScriptedTransport channel_server;
  channel_server.push(
      {200,
       json{{"metadata", {{"resourceVersion", "9"}}}, {"items", {channel(true)}}}.dump(),
       {},
       {},
       {}});
  auto channel_options = channel_informer_options();
  channel_options.after_relist = nullptr;
  controller::ChannelInformer channels(channel_server, clock, channel_options,
                                       api::channel_record_from_json);
  auto catalog = std::make_shared<webhook::ChannelSnapshot>();
  connect_channel_catalog(channels, catalog);
  // Wired before either cache fills, as the operator does.
  kube::testing::ScriptedTransport pod_server;
  auto pod_options = pod_informer_options();
  pod_options.after_relist = nullptr;
  controller::PodInformer pods(pod_server, clock, pod_options, api::pod_record_from_json);
  controller::WorkQueue queue;
  controller::ChannelPodIndex index;
  controller::StatusPacer pacer(clock, std::chrono::seconds(1));
  controller::connect_informers(channels, pods, index, pacer, queue);
  kube::Cancellation channels_done;
  channels.run(channels_done);
  EXPECT_EQ(queue.depth(), 1u);  // the channel itself

  webhook::AdmissionHandler admission(catalog, webhook::MutationOptions{});
  const auto review = [&](const json& labels) {
    const json pod = {
        {"metadata", {{"generateName", "deploy-"}, {"labels", labels}}},
        {"spec", {{"containers", json::array({{{"name", "app"}, {"image", "busybox"}}})}}}};
    const json request = {{"apiVersion", "admission.k8s.io/v1"},
                          {"kind", "AdmissionReview"},
                          {"request",
                           {{"uid", "uid-1"},
                            {"kind", {{"group", ""}, {"version", "v1"}, {"kind", "Pod"}}},
                            {"resource", {{"group", ""}, {"version", "v1"}, {"resource", "pods"}}},
                            {"namespace", "team"},
                            {"operation", "CREATE"},
                            {"object", pod}}}};
    return json::parse(admission.review(request.dump()).body)["response"];
  };
  const json selected = review({{"app", "pipeline"}});
  EXPECT_EQ(selected["allowed"], true);
  EXPECT_TRUE(selected.contains("patch")) << selected.dump();
  const json unselected = review({{"app", "other"}});
  EXPECT_EQ(unselected["allowed"], true);
  EXPECT_FALSE(unselected.contains("patch")) << unselected.dump();

  json pod = full_pod("a", "Running", true);
  pod_server.push(
      {200, json{{"metadata", {{"resourceVersion", "9"}}}, {"items", {pod}}}.dump(), {}, {}, {}});
  std::size_t queued_after_list = 0;
  pod_server.push({200, "", {}, std::nullopt, [&] {
                     queued_after_list = queue.depth();
                     const auto key = queue.get();
                     queue.done(*key);
                   }});
  pod["metadata"]["resourceVersion"] = "10";
  pod["status"]["podIP"] = "10.0.0.10";
  std::size_t queued_after_churn = 0;
  pod_server.push(
      {200, "", {json{{"type", "MODIFIED"}, {"object", pod}}.dump()}, std::nullopt, [&] {
         queued_after_churn = queue.depth();
       }});
  pod["metadata"]["resourceVersion"] = "11";
  pod["status"]["containerStatuses"][0]["restartCount"] = 1;  // the app's, not the relay's
  std::size_t queued_after_app_restart = 0;
  pod_server.push(
      {200, "", {json{{"type", "MODIFIED"}, {"object", pod}}.dump()}, std::nullopt, [&] {
         queued_after_app_restart = queue.depth();
       }});
  pod["metadata"]["resourceVersion"] = "12";
  pod["status"]["initContainerStatuses"][0]["ready"] = true;
  std::size_t queued_after_relay_ready = 0;
  pod_server.push(
      {200, "", {json{{"type", "MODIFIED"}, {"object", pod}}.dump()}, std::nullopt, [&] {
         queued_after_relay_ready = queue.depth();
         const auto key = queue.get();
         queue.done(*key);
       }});
  // Relabelled and no longer asking for the channel: still counted (injected), not selected.
  pod["metadata"]["resourceVersion"] = "13";
  pod["metadata"]["labels"]["app"] = "other";
  pod["metadata"]["annotations"].erase("ipcmesh.io/channels");
  std::size_t queued_after_relabel = 0;
  pod_server.push(
      {200, "", {json{{"type", "MODIFIED"}, {"object", pod}}.dump()}, std::nullopt, [&] {
         queued_after_relabel = queue.depth();
       }});
  kube::Cancellation pods_done;
  pods.run(pods_done);

  EXPECT_EQ(queued_after_list, 1u);
  EXPECT_EQ(queued_after_churn, 0u);
  EXPECT_EQ(queued_after_app_restart, 0u);
  EXPECT_EQ(queued_after_relay_ready, 1u);
  ASSERT_EQ(queued_after_relabel, 1u);  // before get(), which would wait for a key
  EXPECT_EQ(queue.get(), "team/frames");
  EXPECT_EQ(pods.get("team/a")->label("app"), "other");
  const auto members = index.members("team/frames");
  ASSERT_EQ(members.size(), 1u);
  EXPECT_EQ(members[0].pod->label("app"), "other");
  EXPECT_FALSE(members[0].selected);
  EXPECT_TRUE(members[0].injected);
}

json full_namespace(const std::string& name, const std::string& version, json labels) {
  labels["kubernetes.io/metadata.name"] = name;
  return {{"apiVersion", "v1"},
          {"kind", "Namespace"},
          {"metadata",
           {{"name", name},
            {"uid", "ns-" + name},
            {"resourceVersion", version},
            {"labels", labels},
            {"annotations", {{"kubectl.kubernetes.io/last-applied-configuration", "{}"}}},
            {"managedFields", json::array({{{"manager", "kubectl"}}})}}},
          {"spec", {{"finalizers", {"kubernetes"}}}},
          {"status", {{"phase", "Active"}}}};
}

// The Namespace cache as the operator runs it lists and watches /api/v1/namespaces and keeps the
// record the whole object makes; a namespace added or relabelled queues its channels, other
// namespace updates do not.
TEST(OperatorCaches, NamespaceCacheKeepsLabelsAndRelabellingQueuesTheNamespacesChannels) {
  EXPECT_TRUE(keep_namespace_field(std::vector<std::string>{"metadata", "labels"}));
  EXPECT_FALSE(keep_namespace_field(std::vector<std::string>{"metadata", "managedFields"}));
  EXPECT_FALSE(keep_namespace_field(std::vector<std::string>{"metadata", "annotations"}));
  EXPECT_FALSE(keep_namespace_field(std::vector<std::string>{"spec"}));

  kube::testing::FakeClock clock;
  kube::testing::ScriptedTransport channel_server;
  channel_server.push({200, kube::testing::list_body({channel(false)}, "9"), {}, std::nullopt, {}});
  auto channel_options = channel_informer_options();
  channel_options.after_relist = nullptr;
  controller::ChannelInformer channels(channel_server, clock, channel_options,
                                       api::channel_record_from_json);
  kube::Cancellation channels_done;
  channels.run(channels_done);

  controller::WorkQueue queue;
  const auto drain = [&queue] {
    const std::size_t depth = queue.depth();
    for (std::size_t i = 0; i < depth; ++i) queue.done(*queue.get());
    return depth;
  };
  kube::testing::ScriptedTransport namespace_server;
  namespace_server.push({200,
                         kube::testing::list_body({full_namespace("team", "5", json::object()),
                                                   full_namespace("quiet", "6", json::object())},
                                                  "9"),
                         {},
                         std::nullopt,
                         {}});
  std::size_t after_list = 0, after_churn = 0, after_label = 0;
  namespace_server.push({200, "", {}, std::nullopt, [&] { after_list = drain(); }});
  json annotated = full_namespace("team", "7", json::object());
  annotated["metadata"]["annotations"]["owner"] = "video";
  namespace_server.push({200, "", {kube::testing::event("MODIFIED", annotated)}, std::nullopt, [&] {
                           after_churn = drain();
                         }});
  const json labelled = full_namespace("team", "8", {{"ipcmesh.io/injection", "enabled"}});
  namespace_server.push({200, "", {kube::testing::event("MODIFIED", labelled)}, std::nullopt, [&] {
                           after_label = queue.depth();
                         }});
  controller::NamespaceInformer namespaces(namespace_server, clock, namespace_informer_options(),
                                           api::namespace_record_from_json);
  controller::connect_namespace_informer(channels, namespaces, queue);
  kube::Cancellation namespaces_done;
  namespaces.run(namespaces_done);

  EXPECT_EQ(namespace_server.requests().front().path_and_query.rfind("/api/v1/namespaces?", 0), 0u)
      << namespace_server.requests().front().path_and_query;
  EXPECT_EQ(after_list, 1u);  // "team" has a channel, "quiet" none
  EXPECT_EQ(after_churn, 0u);
  ASSERT_EQ(after_label, 1u);  // before get(), which would wait for a key
  EXPECT_EQ(queue.get(), "team/frames");
  const auto cached = namespaces.get("team");
  ASSERT_TRUE(cached);
  EXPECT_EQ(*cached, api::namespace_record_from_json(labelled));
  EXPECT_TRUE(cached->has(api::kDefaultInjectionLabel));
  EXPECT_FALSE(namespaces.get("quiet")->has(api::kDefaultInjectionLabel));
}

}  // namespace
}  // namespace ipcmesh::operator_main
