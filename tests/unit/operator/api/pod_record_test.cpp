#include "api/pod_record.hpp"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "api/label_selector.hpp"

namespace ipcmesh::api {
namespace {

using nlohmann::json;

// A Pod as the API server lists it, with the bulk the operator does not read.
json full_pod() {
  return {
      {"apiVersion", "v1"},
      {"kind", "Pod"},
      {"metadata",
       {{"namespace", "team"},
        {"name", "worker-7d9f8c6b3-bcdfg"},
        {"uid", "0f5c2a8e-1b7d-4c3e-9a6f-2d8b4e1c7a90"},
        {"resourceVersion", "100017"},
        {"creationTimestamp", "2026-01-01T00:00:00Z"},
        {"generateName", "worker-7d9f8c6b3-"},
        {"labels", {{"app", "worker"}, {"app.kubernetes.io/part-of", "pipeline"}, {"tier", ""}}},
        {"annotations",
         {{"ipcmesh.io/status", R"({"version":"0.1.0","channels":[]})"},
          {"ipcmesh.io/channels", "frames,audio"},
          {"kubectl.kubernetes.io/last-applied-configuration", std::string(500, 'x')},
          {"prometheus.io/scrape", "true"}}},
        {"ownerReferences", json::array({{{"kind", "ReplicaSet"}, {"name", "worker"}}})},
        {"managedFields", json::array({{{"manager", "kubelet"}}})}}},
      {"spec", {{"containers", json::array({{{"name", "app"}, {"image", "busybox"}}})}}},
      {"status", {{"phase", "Running"}, {"podIP", "10.0.0.9"}}}};
}

// The record keeps identity, every label, the ipcmesh.io/* annotations and the phase; the other
// annotations and everything outside metadata/status.phase are gone.
TEST(PodRecord, KeepsIdentityLabelsOwnAnnotationsAndPhaseOnly) {
  const PodRecord record = pod_record_from_json(full_pod());
  EXPECT_EQ(record.namespace_name, "team");
  EXPECT_EQ(record.name, "worker-7d9f8c6b3-bcdfg");
  EXPECT_EQ(record.uid, "0f5c2a8e-1b7d-4c3e-9a6f-2d8b4e1c7a90");
  EXPECT_EQ(record.resource_version, "100017");
  EXPECT_EQ(resource_version_of(record), "100017");
  EXPECT_EQ(record.phase, "Running");
  EXPECT_FALSE(record.terminating);

  std::vector<std::pair<std::string, std::string>> labels(record.labels.begin(),
                                                          record.labels.end());
  EXPECT_EQ(labels,
            (std::vector<std::pair<std::string, std::string>>{
                {"app", "worker"}, {"app.kubernetes.io/part-of", "pipeline"}, {"tier", ""}}));
  EXPECT_EQ(record.label("tier"), "");
  EXPECT_EQ(record.label("missing"), std::nullopt);

  std::vector<std::pair<std::string, std::string>> annotations(record.annotations.begin(),
                                                               record.annotations.end());
  EXPECT_EQ(annotations, (std::vector<std::pair<std::string, std::string>>{
                             {"ipcmesh.io/channels", "frames,audio"},
                             {"ipcmesh.io/status", R"({"version":"0.1.0","channels":[]})"}}));
  EXPECT_EQ(record.annotation("ipcmesh.io/channels"), "frames,audio");
  EXPECT_EQ(record.annotation("prometheus.io/scrape"), "");
  EXPECT_EQ(record.annotation("ipcmesh.io/inject"), "");
}

// A selector decides the same from the record's labels as from the Pod's label map.
TEST(PodRecord, SelectorsMatchItsLabelsAsTheyMatchTheLabelMap) {
  const json pod = full_pod();
  const PodRecord record = pod_record_from_json(pod);
  const Labels labels = *labels_from_json(pod["metadata"]["labels"]);
  for (const char* text : {
           R"({})",
           R"({"matchLabels":{"app":"worker"}})",
           R"({"matchLabels":{"app":"other"}})",
           R"({"matchLabels":{"app":"worker","app.kubernetes.io/part-of":"pipeline"}})",
           R"({"matchExpressions":[{"key":"tier","operator":"Exists"}]})",
           R"({"matchExpressions":[{"key":"zone","operator":"DoesNotExist"}]})",
           R"({"matchExpressions":[{"key":"app","operator":"In","values":["a","worker"]}]})",
           R"({"matchExpressions":[{"key":"app","operator":"NotIn","values":["worker"]}]})",
           R"({"matchExpressions":[{"key":"zone","operator":"In","values":["a"]}]})",
       }) {
    const auto selector = label_selector_from_json(json::parse(text));
    ASSERT_TRUE(selector) << text;
    EXPECT_EQ(selector->matches([&](std::string_view key) { return record.label(key); }),
              selector->matches(labels))
        << text;
  }
}

// deletionTimestamp set means terminating (null does not); a Pod without status has no phase.
TEST(PodRecord, TerminatingAndPhaseFollowTheirFields) {
  json pod = {{"metadata", {{"name", "p"}, {"deletionTimestamp", "2026-02-01T00:00:00Z"}}}};
  PodRecord record = pod_record_from_json(pod);
  EXPECT_TRUE(record.terminating);
  EXPECT_EQ(record.phase, "");
  EXPECT_EQ(record.namespace_name, "");
  pod["metadata"]["deletionTimestamp"] = nullptr;
  EXPECT_FALSE(pod_record_from_json(pod).terminating);
}

// What the API server never sends still decodes as the controller read it from the JSON: labels
// that are not all strings are no labels, non-string annotations and phases are absent. A Pod
// without a name is an error.
TEST(PodRecord, MalformedFieldsCountAsAbsent) {
  const json pod = {
      {"metadata",
       {{"name", "p"},
        {"labels", {{"app", "x"}, {"replicas", 3}}},
        {"annotations", {{"ipcmesh.io/inject", false}, {"ipcmesh.io/channels", "a"}}}}},
      {"status", {{"phase", 7}}}};
  const PodRecord record = pod_record_from_json(pod);
  EXPECT_TRUE(record.labels.empty());
  EXPECT_EQ(record.annotation("ipcmesh.io/inject"), "");
  EXPECT_EQ(record.annotation("ipcmesh.io/channels"), "a");
  EXPECT_EQ(record.phase, "");
  EXPECT_THROW(pod_record_from_json(json{{"metadata", json::object()}}), json::exception);
}

json relay_entry(json state, json last_state = json::object(), int restarts = 0,
                 bool ready = false) {
  return {{"name", "ipcmesh-relay"},
          {"image", "ipcmesh/relay:0.1.0"},
          {"ready", ready},
          {"started", ready},
          {"restartCount", restarts},
          {"state", std::move(state)},
          {"lastState", std::move(last_state)}};
}

// The relay's status is read from initContainerStatuses (a native sidecar) or containerStatuses
// (a classic container), by the webhook's container name; other containers are ignored.
TEST(PodRecord, KeepsTheRelayContainersStatusWhereverTheRelayRuns) {
  using State = RelayContainerStatus::State;
  const json crash_looping = relay_entry(
      {{"waiting",
        {{"reason", "CrashLoopBackOff"}, {"message", "back-off 40s restarting failed container"}}}},
      {{"terminated",
        {{"reason", "Error"},
         {"exitCode", 1},
         {"message", "queue does not fit"},
         {"finishedAt", "2026-02-01T10:00:00Z"}}}},
      3);
  json pod = full_pod();
  pod["status"]["initContainerStatuses"] = json::array({crash_looping});
  json app = relay_entry({{"running", json::object()}}, {}, 0, true);
  app["name"] = "app";  // same shape, another container
  pod["status"]["containerStatuses"] = json::array({app});
  const RelayStatusPtr native = pod_record_from_json(pod).relay;
  ASSERT_TRUE(native);
  EXPECT_EQ(native->state, State::kWaiting);
  EXPECT_EQ(native->reason, "CrashLoopBackOff");
  EXPECT_FALSE(native->ready);
  EXPECT_EQ(native->restart_count, 3);
  EXPECT_EQ(native->last_termination, (ContainerTermination{"Error", 1}));

  // A classic sidecar: the relay is a container; running since a time, not ready yet.
  pod["status"].erase("initContainerStatuses");
  pod["status"]["containerStatuses"].push_back(
      relay_entry({{"running", {{"startedAt", "2026-02-01T10:00:05Z"}}}}));
  const RelayStatusPtr classic = pod_record_from_json(pod).relay;
  ASSERT_TRUE(classic);
  EXPECT_EQ(classic->state, State::kRunning);
  EXPECT_FALSE(classic->ready);
  EXPECT_EQ(classic->started_at, *parse_kube_time("2026-02-01T10:00:05Z"));
  EXPECT_EQ(classic->last_termination, std::nullopt);

  // Terminated now: its own reason and exit code.
  pod["status"]["containerStatuses"][1] =
      relay_entry({{"terminated", {{"reason", "OOMKilled"}, {"exitCode", 137}}}});
  const RelayStatusPtr ended = pod_record_from_json(pod).relay;
  EXPECT_EQ(ended->state, State::kTerminated);
  EXPECT_EQ(ended->reason, "OOMKilled");
  EXPECT_EQ(ended->exit_code, 137);

  // No relay among the statuses (an uninjected Pod, or the kubelet has not reported yet).
  pod["status"]["containerStatuses"].erase(1);
  EXPECT_FALSE(pod_record_from_json(pod).relay);
  EXPECT_FALSE(pod_record_from_json(full_pod()).relay);
}

// A relay that is ready and never restarted needs no start time: all such Pods share one status.
TEST(PodRecord, ReadyRelaysThatNeverRestartedShareOneStatus) {
  json first = full_pod();
  first["status"]["initContainerStatuses"] = json::array(
      {relay_entry({{"running", {{"startedAt", "2026-02-01T10:00:05Z"}}}}, {}, 0, true)});
  json second = first;
  second["status"]["initContainerStatuses"][0]["state"]["running"]["startedAt"] =
      "2026-03-01T08:00:00Z";
  const PodRecord a = pod_record_from_json(first);
  const PodRecord b = pod_record_from_json(second);
  ASSERT_TRUE(a.relay);
  EXPECT_EQ(a.relay.get(), b.relay.get());
  EXPECT_TRUE(a.relay->ready);
  EXPECT_EQ(a.relay->started_at, 0);
  json restarted = first;
  restarted["status"]["initContainerStatuses"][0]["restartCount"] = 1;
  const PodRecord c = pod_record_from_json(restarted);
  EXPECT_NE(c.relay.get(), a.relay.get());
  EXPECT_EQ(c.relay->restart_count, 1);
}

// Records compare their relay's status by value, also when one side has none.
TEST(PodRecord, ComparesTheRelayStatusByValue) {
  json pod = full_pod();
  pod["status"]["initContainerStatuses"] =
      json::array({relay_entry({{"running", json::object()}}, {}, 1)});
  const PodRecord first = pod_record_from_json(pod);
  EXPECT_EQ(first, pod_record_from_json(pod));
  const PodRecord copy = first;
  EXPECT_EQ(copy, first);
  pod["status"]["initContainerStatuses"][0]["restartCount"] = 2;
  EXPECT_NE(pod_record_from_json(pod), first);
  EXPECT_NE(pod_record_from_json(full_pod()), first);
  EXPECT_EQ(pod_record_from_json(full_pod()), pod_record_from_json(full_pod()));
}

// Fields of the wrong type count as unset, as elsewhere in the record.
TEST(PodRecord, MalformedRelayFieldsCountAsUnset) {
  json pod = full_pod();
  pod["status"]["initContainerStatuses"] =
      json::array({"not an object",
                   {{"name", "ipcmesh-relay"},
                    {"ready", "yes"},
                    {"restartCount", "3"},
                    {"state", {{"running", {{"startedAt", 12}}}}},
                    {"lastState", {{"terminated", {{"reason", 5}, {"exitCode", 4294967296}}}}}}});
  const RelayStatusPtr relay = pod_record_from_json(pod).relay;
  ASSERT_TRUE(relay);
  EXPECT_FALSE(relay->ready);
  EXPECT_EQ(relay->restart_count, 0);
  EXPECT_EQ(relay->state, RelayContainerStatus::State::kRunning);
  EXPECT_EQ(relay->started_at, 0);
  EXPECT_EQ(relay->last_termination, (ContainerTermination{"", 0}));
}

// metav1.Time as the API server writes it, with or without a fraction; anything else is no time.
TEST(PodRecord, ParsesKubernetesTimes) {
  EXPECT_EQ(parse_kube_time("1970-01-01T00:00:00Z"), 0);
  EXPECT_EQ(parse_kube_time("2026-11-28T12:00:05Z"), 1795867205);
  EXPECT_EQ(parse_kube_time("2026-11-28T12:00:05.123456Z"), 1795867205);
  EXPECT_EQ(parse_kube_time("2024-02-29T23:59:59Z"), 1709251199);
  for (const char* bad : {"", "2026-11-28", "2026-11-28T12:00:05", "2026-11-28T12:00:05+01:00",
                          "2026-02-30T00:00:00Z", "2026-11-28T25:00:00Z", "2026-11-28T12:00:05.Z",
                          "2026-1x-28T12:00:05Z", "2026-11-28 12:00:05Z"}) {
    EXPECT_EQ(parse_kube_time(bad), std::nullopt) << bad;
  }
}

// The packed map sorts by key, keeps the first of duplicate keys, and holds strings of any length
// (lengths of 128 bytes and more take two length bytes) and with any bytes.
TEST(PackedStringMap, FindsEachEntryInKeyOrder) {
  const std::string long_value(300, 'v');
  const std::string with_nul("a\0b", 3);
  const PackedStringMap map({{"zeta", "1"}, {"alpha", long_value}, {"zeta", "2"}, {"", with_nul}});
  EXPECT_EQ(map.size(), 3u);
  EXPECT_EQ(map.find("zeta"), "1");
  EXPECT_EQ(map.find("alpha"), long_value);
  EXPECT_EQ(map.find(""), with_nul);
  EXPECT_EQ(map.find("beta"), std::nullopt);
  std::vector<std::string> keys;
  for (const auto& [key, value] : map) keys.emplace_back(key);
  EXPECT_EQ(keys, (std::vector<std::string>{"", "alpha", "zeta"}));
  EXPECT_EQ(map, PackedStringMap({{"alpha", long_value}, {"", with_nul}, {"zeta", "1"}}));
  const PackedStringMap empty;
  EXPECT_TRUE(empty.empty());
  EXPECT_TRUE(empty.begin() == empty.end());
}

}  // namespace
}  // namespace ipcmesh::api
