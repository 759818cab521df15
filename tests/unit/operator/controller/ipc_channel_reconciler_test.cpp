#include "controller/ipc_channel_reconciler.hpp"

#include <gtest/gtest.h>

#include <map>

#include "../kube/fake_clock.hpp"

namespace ipcmesh::controller {
namespace {

using nlohmann::json;

json channel_json(std::int64_t generation, const std::string& uid = "uid-1",
                  const std::string& max_message = "64Ki") {
  return {{"apiVersion", "ipcmesh.io/v1alpha1"},
          {"kind", "IpcChannel"},
          {"metadata",
           {{"namespace", "team"}, {"name", "frames"}, {"uid", uid}, {"generation", generation}}},
          {"spec",
           {{"selector", {{"matchLabels", {{"app", "pipeline"}}}}},
            {"transport", "SharedMemory"},
            {"sharedMemory", {{"size", "8Mi"}, {"maxMessageSize", max_message}}}}}};
}

std::string record(const std::string& channel, std::int64_t generation,
                   const std::string& uid = "uid-1") {
  return json{{"version", "0.1.0"},
              {"contract", 1},
              {"channels", {{{"name", channel}, {"uid", uid}, {"generation", generation}}}}}
      .dump();
}

struct PodFixture {
  std::string name;
  std::map<std::string, std::string> labels;
  std::map<std::string, std::string> annotations;
  std::string phase = "Running";
  bool terminating = false;
};

// Built as the Pod cache builds it: the Pod's JSON decoded into its record.
PodPtr make_pod(const PodFixture& f) {
  json pod = {{"metadata", {{"namespace", "team"}, {"name", f.name}}},
              {"status", {{"phase", f.phase}}}};
  if (!f.labels.empty()) pod["metadata"]["labels"] = f.labels;
  if (!f.annotations.empty()) pod["metadata"]["annotations"] = f.annotations;
  if (f.terminating) pod["metadata"]["deletionTimestamp"] = "2026-01-01T00:00:00Z";
  return std::make_shared<const api::PodRecord>(api::pod_record_from_json(pod));
}

const std::map<std::string, std::string> kSelected = {{"app", "pipeline"}};

struct Case {
  const char* name;
  json channel;
  std::vector<PodFixture> pods;
  int selected, injected, pending;
  std::string ready_status, ready_reason, degraded_status, degraded_reason;
};

// The status for each shape of cluster: the counts and both conditions, from the caches alone.
TEST(ComputeStatus, CountsPodsAndSetsConditionsForEachShape) {
  const std::vector<Case> cases = {
      {"no pods", channel_json(1), {}, 0, 0, 0, "True", "NoPodsSelected", "False", "AsExpected"},
      {"all injected",
       channel_json(2),
       {{"a", kSelected, {{"ipcmesh.io/status", record("frames", 2)}}},
        {"b", kSelected, {{"ipcmesh.io/status", record("frames", 2)}}}},
       2,
       2,
       0,
       "True",
       "AllPodsInjected",
       "False",
       "AsExpected"},
      {"pod predates the channel",
       channel_json(1),
       {{"a", kSelected, {{"ipcmesh.io/status", record("frames", 1)}}}, {"old", kSelected, {}}},
       2,
       1,
       1,
       "False",
       "PodsPendingRestart",
       "False",
       "AsExpected"},
      {"outdated generation",
       channel_json(3),
       {{"a", kSelected, {{"ipcmesh.io/status", record("frames", 2)}}}},
       1,
       1,
       1,
       "False",
       "PodsPendingRestart",
       "True",
       "OutdatedInjection"},
      {"channel recreated under the same name",
       channel_json(1, "uid-2"),
       {{"a", kSelected, {{"ipcmesh.io/status", record("frames", 1, "uid-1")}}}},
       1,
       1,
       1,
       "False",
       "PodsPendingRestart",
       "True",
       "OutdatedInjection"},
      {"selected by annotation, other channel's record",
       channel_json(1),
       {{"a",
         {},
         {{"ipcmesh.io/channels", "logs, frames"}, {"ipcmesh.io/status", record("logs", 1)}}}},
       1,
       0,
       1,
       "False",
       "PodsPendingRestart",
       "False",
       "AsExpected"},
      {"opted out, unrelated, finished and terminating pods do not count",
       channel_json(1),
       {{"out", kSelected, {{"ipcmesh.io/inject", "false"}}},
        {"other", {{"app", "web"}}, {}},
        {"done", kSelected, {}, "Succeeded"},
        {"going", kSelected, {}, "Running", true}},
       0,
       0,
       0,
       "True",
       "NoPodsSelected",
       "False",
       "AsExpected"},
      {"injected but no longer selected",
       channel_json(1),
       {{"a", {{"app", "web"}}, {{"ipcmesh.io/status", record("frames", 1)}}}},
       0,
       1,
       0,
       "True",
       "NoPodsSelected",
       "False",
       "AsExpected"},
      {"unreadable record counts as not injected",
       channel_json(1),
       {{"a", kSelected, {{"ipcmesh.io/status", "{not json"}}}},
       1,
       0,
       1,
       "False",
       "PodsPendingRestart",
       "False",
       "AsExpected"},
      {"invalid spec still counts its pods",
       channel_json(1, "uid-1", "8Mi"),
       {{"a", kSelected, {}}},
       1,
       0,
       1,
       "False",
       "InvalidSpec",
       "True",
       "InvalidSpec"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    std::vector<PodPtr> pods;
    for (const auto& p : c.pods) pods.push_back(make_pod(p));
    const auto status = compute_status(c.channel, pods, {}, "2026-11-28T12:00:00Z");
    EXPECT_EQ(status.observed_generation, c.channel["metadata"]["generation"].get<int>());
    EXPECT_EQ(status.selected_pods, c.selected);
    EXPECT_EQ(status.injected_pods, c.injected);
    EXPECT_EQ(status.pending_restart_pods, c.pending);
    const auto* ready = status.find_condition("Ready");
    const auto* degraded = status.find_condition("Degraded");
    ASSERT_NE(ready, nullptr);
    ASSERT_NE(degraded, nullptr);
    EXPECT_EQ(ready->status, c.ready_status);
    EXPECT_EQ(ready->reason, c.ready_reason);
    EXPECT_EQ(degraded->status, c.degraded_status);
    EXPECT_EQ(degraded->reason, c.degraded_reason);
    EXPECT_FALSE(ready->message.empty());
    EXPECT_EQ(ready->observed_generation, status.observed_generation);
    EXPECT_EQ(ready->last_transition_time, "2026-11-28T12:00:00Z");
  }
}

// lastTransitionTime moves only when a condition's status flips, not when its message changes.
TEST(ComputeStatus, KeepsTransitionTimeWhileTheStatusHolds) {
  const std::vector<PodPtr> one = {
      make_pod({"a", kSelected, {{"ipcmesh.io/status", record("frames", 1)}}})};
  const auto first = compute_status(channel_json(1), one, {}, "T1");
  auto two = one;
  two.push_back(make_pod({"b", kSelected, {{"ipcmesh.io/status", record("frames", 1)}}}));
  const auto second = compute_status(channel_json(1), two, first, "T2");
  EXPECT_EQ(second.find_condition("Ready")->last_transition_time, "T1");
  two.push_back(make_pod({"latecomer", kSelected, {}}));
  const auto third = compute_status(channel_json(1), two, second, "T3");
  EXPECT_EQ(third.find_condition("Ready")->last_transition_time, "T3");
  EXPECT_EQ(third.find_condition("Degraded")->last_transition_time, "T1");
  EXPECT_NE(third.find_condition("Ready")->message.find("latecomer"), std::string::npos);
}

class FakeChannelApi final : public ChannelApi {
 public:
  kube::ObjectPtr channel(const std::string& key) override {
    return key == "team/frames" ? channel_ : nullptr;
  }
  std::vector<kube::ObjectPtr> channels_in(const std::string&) override { return {channel_}; }
  std::vector<PodPtr> pods_in(const std::string& ns) override {
    return ns == "team" ? pods_ : std::vector<PodPtr>{};
  }
  void write_status(const json& channel, const json& status) override {
    writes.push_back(status);
    // The watch would bring the written status back into the cache.
    json updated = channel;
    updated["status"] = status;
    channel_ = std::make_shared<const json>(updated);
  }
  void record_event(const json&, kube::EventType type, const std::string& reason,
                    const std::string&) override {
    events.push_back((type == kube::EventType::kWarning ? "Warning " : "Normal ") + reason);
  }

  kube::ObjectPtr channel_;
  std::vector<PodPtr> pods_;
  std::vector<json> writes;
  std::vector<std::string> events;
};

// The reconciler writes the status subresource only when the status changes, and records Events
// for count changes and for conditions turning bad.
TEST(IpcChannelReconciler, WritesOnlyChangesAndRecordsEvents) {
  FakeChannelApi api;
  kube::testing::FakeClock clock;
  IpcChannelReconciler reconciler(api, clock);
  api.channel_ = std::make_shared<const json>(channel_json(1));
  api.pods_ = {make_pod({"a", kSelected, {{"ipcmesh.io/status", record("frames", 1)}}})};

  EXPECT_TRUE(reconciler.reconcile("team/frames").status_written);
  ASSERT_EQ(api.writes.size(), 1u);
  EXPECT_EQ(api.writes[0]["selectedPods"], 1);
  EXPECT_EQ(api.writes[0]["observedGeneration"], 1);
  EXPECT_EQ(api.events, std::vector<std::string>{"Normal PodsChanged"});

  clock.advance(std::chrono::minutes(5));
  EXPECT_FALSE(reconciler.reconcile("team/frames").status_written);  // level: nothing changed
  EXPECT_EQ(api.writes.size(), 1u);

  api.pods_.push_back(make_pod({"new", kSelected, {}}));
  EXPECT_TRUE(reconciler.reconcile("team/frames").status_written);
  EXPECT_EQ(api.writes.back()["pendingRestartPods"], 1);
  EXPECT_EQ(api.events, (std::vector<std::string>{"Normal PodsChanged", "Normal PodsChanged",
                                                  "Warning PodsPendingRestart"}));

  // A deleted channel is nothing to do.
  EXPECT_FALSE(reconciler.reconcile("team/gone").status_written);
}

}  // namespace
}  // namespace ipcmesh::controller
