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

const api::NamespaceLabel kLabel = api::kDefaultInjectionLabel;
const NamespaceInjection kLabelled{kLabel, true};
const NamespaceInjection kNotLabelled{kLabel, false};
const NamespaceInjection kNotObserved{kLabel, std::nullopt};

struct InjectionCase {
  const char* name;
  json channel;
  std::vector<PodFixture> pods;
  NamespaceInjection injection;
  std::string ready_status, ready_reason;
  std::string enabled_status, enabled_reason;  // "" : no InjectionEnabled condition
};

// InjectionEnabled follows the namespace's label; without the label Ready is False too (a Pod
// created now would not get the channel), except that an invalid spec stays Ready's reason.
TEST(ComputeStatus, InjectionEnabledFollowsTheNamespaceLabelAndHoldsReadyFalseWithoutIt) {
  const std::vector<InjectionCase> cases = {
      {"check off: no condition", channel_json(1), {}, {}, "True", "NoPodsSelected", "", ""},
      {"labelled",
       channel_json(1),
       {{"a", kSelected, {{"ipcmesh.io/status", record("frames", 1)}}}},
       kLabelled,
       "True",
       "AllPodsInjected",
       "True",
       "NamespaceEnabled"},
      {"not labelled, no pods",
       channel_json(1),
       {},
       kNotLabelled,
       "False",
       "NamespaceNotEnabled",
       "False",
       "NamespaceNotEnabled"},
      {"not labelled: uninjected pods are not sent restarting",
       channel_json(1),
       {{"a", kSelected, {}}},
       kNotLabelled,
       "False",
       "NamespaceNotEnabled",
       "False",
       "NamespaceNotEnabled"},
      {"not labelled, pods injected before the label went",
       channel_json(1),
       {{"a", kSelected, {{"ipcmesh.io/status", record("frames", 1)}}}},
       kNotLabelled,
       "False",
       "NamespaceNotEnabled",
       "False",
       "NamespaceNotEnabled"},
      {"namespace not in the cache yet",
       channel_json(1),
       {},
       kNotObserved,
       "True",
       "NoPodsSelected",
       "Unknown",
       "NamespaceNotObserved"},
      {"invalid spec and not labelled",
       channel_json(1, "uid-1", "8Mi"),
       {},
       kNotLabelled,
       "False",
       "InvalidSpec",
       "False",
       "NamespaceNotEnabled"},
  };
  for (const InjectionCase& c : cases) {
    SCOPED_TRACE(c.name);
    std::vector<PodPtr> pods;
    for (const auto& p : c.pods) pods.push_back(make_pod(p));
    const auto status = compute_status(c.channel, pods, {}, "T1", c.injection);
    const auto* ready = status.find_condition("Ready");
    ASSERT_NE(ready, nullptr);
    EXPECT_EQ(ready->status, c.ready_status);
    EXPECT_EQ(ready->reason, c.ready_reason);
    ASSERT_NE(status.find_condition("Degraded"), nullptr);
    const auto* enabled = status.find_condition("InjectionEnabled");
    if (c.enabled_status.empty()) {
      EXPECT_EQ(enabled, nullptr);
      continue;
    }
    ASSERT_NE(enabled, nullptr);
    EXPECT_EQ(enabled->status, c.enabled_status);
    EXPECT_EQ(enabled->reason, c.enabled_reason);
    EXPECT_EQ(enabled->observed_generation, 1);
    EXPECT_EQ(enabled->last_transition_time, "T1");
    EXPECT_NE(enabled->message.find("\"team\""), std::string::npos) << enabled->message;
  }
}

// The message says which label is missing and gives the command that adds it, in both conditions.
TEST(ComputeStatus, NotEnabledMessageNamesTheLabelAndTheCommand) {
  const NamespaceInjection custom{api::NamespaceLabel{"mesh.example.com/ipc", "on"}, false};
  const auto status = compute_status(channel_json(1), {}, {}, "T1", custom);
  const std::string expected =
      "namespace \"team\" is not labelled mesh.example.com/ipc=on, so the webhook is not called "
      "for its Pods: kubectl label namespace team mesh.example.com/ipc=on";
  EXPECT_EQ(status.find_condition("InjectionEnabled")->message, expected);
  EXPECT_EQ(status.find_condition("Ready")->message, expected);
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
  NamespacePtr namespace_record(const std::string& name) override {
    return name == "team" ? namespace_ : nullptr;
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

  // Sets the cached "team" Namespace's labels.
  void label_namespace(std::vector<api::PackedStringMap::Entry> labels) {
    api::NamespaceRecord record{"team", std::to_string(++namespace_version_),
                                api::PackedStringMap(std::move(labels))};
    namespace_ = std::make_shared<const api::NamespaceRecord>(std::move(record));
  }

  kube::ObjectPtr channel_;
  std::vector<PodPtr> pods_;
  NamespacePtr namespace_;
  int namespace_version_ = 0;
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

// A channel in a namespace without the label gets InjectionEnabled=False and Ready=False with one
// Warning Event; nothing more is written while that holds; labelling the namespace turns both
// True in one write.
TEST(IpcChannelReconciler, ReportsAnUnlabelledNamespaceOnceAndClearsItWhenLabelled) {
  FakeChannelApi api;
  kube::testing::FakeClock clock;
  IpcChannelReconciler reconciler(api, clock, kLabel);
  api.channel_ = std::make_shared<const json>(channel_json(1));
  api.label_namespace({{"team.example/owner", "video"}, {"ipcmesh.io/injection", "disabled"}});

  EXPECT_TRUE(reconciler.reconcile("team/frames").status_written);
  ASSERT_EQ(api.writes.size(), 1u);
  const auto written = api::status_from_json(api.writes[0]);
  ASSERT_TRUE(written) << written.error().message;
  EXPECT_EQ(written->find_condition("InjectionEnabled")->status, "False");
  EXPECT_EQ(written->find_condition("Ready")->reason, "NamespaceNotEnabled");
  EXPECT_EQ(api.events, std::vector<std::string>{"Warning NamespaceNotEnabled"});

  clock.advance(std::chrono::minutes(1));
  api.label_namespace({{"team.example/owner", "audio"}, {"ipcmesh.io/injection", "disabled"}});
  EXPECT_FALSE(reconciler.reconcile("team/frames").status_written);  // still not enabled
  EXPECT_EQ(api.writes.size(), 1u);

  clock.advance(std::chrono::minutes(1));
  api.label_namespace({{"ipcmesh.io/injection", "enabled"}});
  EXPECT_TRUE(reconciler.reconcile("team/frames").status_written);
  ASSERT_EQ(api.writes.size(), 2u);
  const auto cleared = api::status_from_json(api.writes[1]);
  ASSERT_TRUE(cleared) << cleared.error().message;
  EXPECT_EQ(cleared->find_condition("InjectionEnabled")->status, "True");
  EXPECT_EQ(cleared->find_condition("InjectionEnabled")->reason, "NamespaceEnabled");
  EXPECT_EQ(cleared->find_condition("Ready")->status, "True");
  EXPECT_EQ(api.events,
            (std::vector<std::string>{"Warning NamespaceNotEnabled", "Normal NoPodsSelected",
                                      "Normal NamespaceEnabled"}));
  EXPECT_FALSE(reconciler.reconcile("team/frames").status_written);
}

// With the check off the reconciler never asks for the namespace and writes no InjectionEnabled;
// with it on, a namespace the cache has not seen is Unknown, not a false alarm.
TEST(IpcChannelReconciler, WritesNoInjectionConditionWhenOffAndUnknownBeforeTheNamespaceIsSeen) {
  FakeChannelApi api;
  kube::testing::FakeClock clock;
  api.channel_ = std::make_shared<const json>(channel_json(1));
  IpcChannelReconciler unchecked(api, clock);
  EXPECT_TRUE(unchecked.reconcile("team/frames").status_written);
  EXPECT_FALSE(api::status_from_json(api.writes.back())->find_condition("InjectionEnabled"));

  IpcChannelReconciler checked(api, clock, kLabel);
  EXPECT_TRUE(checked.reconcile("team/frames").status_written);
  const auto status = api::status_from_json(api.writes.back());
  EXPECT_EQ(status->find_condition("InjectionEnabled")->status, "Unknown");
  EXPECT_EQ(status->find_condition("Ready")->status, "True");
  EXPECT_EQ(api.events, std::vector<std::string>{});
}

}  // namespace
}  // namespace ipcmesh::controller
