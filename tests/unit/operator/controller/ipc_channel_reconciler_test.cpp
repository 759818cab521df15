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

using WallTime = std::chrono::system_clock::time_point;

WallTime at(const std::string& rfc3339) {
  return WallTime(std::chrono::seconds(api::parse_kube_time(rfc3339).value()));
}

const WallTime kNow = at("2026-11-28T12:00:00Z");

// compute_status as the reconciler calls it: the channel decoded into its record, the Pods
// filtered into its members as the index keeps them.
ChannelReport compute(const json& channel, const std::vector<PodPtr>& pods,
                      const api::IpcChannelStatus& previous, WallTime now,
                      const NamespaceInjection& injection = {}) {
  const auto record = api::channel_record_from_json(json(channel));
  return compute_status(record, members_of(record, pods), previous, now, injection);
}

struct PodFixture {
  std::string name;
  std::map<std::string, std::string> labels;
  std::map<std::string, std::string> annotations;
  std::string phase = "Running";
  bool terminating = false;
  // The relay's entry of status.initContainerStatuses (a native sidecar); null: none reported.
  json relay = nullptr;
  std::string uid = "";  // "" : "uid-" + name
};

// Built as the Pod cache builds it: the Pod's JSON decoded into its record.
PodPtr make_pod(const PodFixture& f) {
  json pod = {
      {"metadata",
       {{"namespace", "team"}, {"name", f.name}, {"uid", f.uid.empty() ? "uid-" + f.name : f.uid}}},
      {"status", {{"phase", f.phase}}}};
  if (!f.labels.empty()) pod["metadata"]["labels"] = f.labels;
  if (!f.annotations.empty()) pod["metadata"]["annotations"] = f.annotations;
  if (f.terminating) pod["metadata"]["deletionTimestamp"] = "2026-01-01T00:00:00Z";
  if (!f.relay.is_null()) pod["status"]["initContainerStatuses"] = json::array({f.relay});
  return std::make_shared<const api::PodRecord>(api::pod_record_from_json(pod));
}

const std::map<std::string, std::string> kSelected = {{"app", "pipeline"}};

// The relay's entry of status.initContainerStatuses, as the kubelet writes it.
json relay_status(bool ready, int restarts, json state, json last_state = json::object()) {
  return {{"name", "ipcmesh-relay"},   {"ready", ready},
          {"started", ready},          {"restartCount", restarts},
          {"state", std::move(state)}, {"lastState", std::move(last_state)}};
}
json running_since(const std::string& started) {
  return {{"running", {{"startedAt", started}}}};
}
json relay_ready() {
  return relay_status(true, 0, running_since("2026-11-28T11:00:00Z"));
}
json exited_with_error(int code = 1) {
  return {{"terminated", {{"reason", "Error"}, {"exitCode", code}}}};
}
json relay_crash_looping(int restarts) {
  return relay_status(false, restarts, {{"waiting", {{"reason", "CrashLoopBackOff"}}}},
                      exited_with_error());
}
json relay_waiting(const std::string& reason) {
  return relay_status(false, 0, {{"waiting", {{"reason", reason}}}});
}

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
    const auto status = compute(c.channel, pods, {}, kNow).status;
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
  const auto first = compute(channel_json(1), one, {}, at("2026-11-28T12:00:01Z")).status;
  auto two = one;
  two.push_back(make_pod({"b", kSelected, {{"ipcmesh.io/status", record("frames", 1)}}}));
  const auto second = compute(channel_json(1), two, first, at("2026-11-28T12:00:02Z")).status;
  EXPECT_EQ(second.find_condition("Ready")->last_transition_time, "2026-11-28T12:00:01Z");
  two.push_back(make_pod({"latecomer", kSelected, {}}));
  const auto third = compute(channel_json(1), two, second, at("2026-11-28T12:00:03Z")).status;
  EXPECT_EQ(third.find_condition("Ready")->last_transition_time, "2026-11-28T12:00:03Z");
  EXPECT_EQ(third.find_condition("Degraded")->last_transition_time, "2026-11-28T12:00:01Z");
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
    const auto status = compute(c.channel, pods, {}, kNow, c.injection).status;
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
    EXPECT_EQ(enabled->last_transition_time, "2026-11-28T12:00:00Z");
    EXPECT_NE(enabled->message.find("\"team\""), std::string::npos) << enabled->message;
  }
}

// The message says which label is missing and gives the command that adds it, in both conditions.
TEST(ComputeStatus, NotEnabledMessageNamesTheLabelAndTheCommand) {
  const NamespaceInjection custom{api::NamespaceLabel{"mesh.example.com/ipc", "on"}, false};
  const auto status = compute(channel_json(1), {}, {}, kNow, custom).status;
  const std::string expected =
      "namespace \"team\" is not labelled mesh.example.com/ipc=on, so the webhook is not called "
      "for its Pods: kubectl label namespace team mesh.example.com/ipc=on";
  EXPECT_EQ(status.find_condition("InjectionEnabled")->message, expected);
  EXPECT_EQ(status.find_condition("Ready")->message, expected);
}

std::map<std::string, std::string> injected(std::int64_t generation = 1) {
  return {{"ipcmesh.io/status", record("frames", generation)}};
}

struct RelayCase {
  const char* name;
  json channel;
  std::vector<PodFixture> pods;
  std::string ready_status, ready_reason, degraded_status, degraded_reason;
  std::string message_part;  // in Degraded's message ("" : not checked)
  std::optional<std::chrono::seconds> recompute_after;
};

// The relay of each selected, injected, live Pod counts: crash-looping, restarted and not ready
// again, terminated, or not ready 30 s after its first start makes the channel Degraded and not
// Ready (RelayNotReady, naming the Pod and what its relay does); a relay still being created or
// within its start grace does not (and the grace's end is when to look again).
TEST(ComputeStatus, AFailingRelayInASelectedPodMakesTheChannelDegraded) {
  const std::vector<RelayCase> cases = {
      {"ready relay",
       channel_json(1),
       {{"a", kSelected, injected(), "Running", false, relay_ready()}},
       "True",
       "AllPodsInjected",
       "False",
       "AsExpected",
       "",
       std::nullopt},
      {"crash-looping relay",
       channel_json(1),
       {{"a", kSelected, injected(), "Running", false, relay_crash_looping(3)},
        {"b", kSelected, injected(), "Running", false, relay_ready()}},
       "False",
       "RelayNotReady",
       "True",
       "RelayNotReady",
       "the relay is not ready in 1 of 2 selected Pods: a (relay restarted 3 times, last exit: "
       "Error, exit code 1; waiting: CrashLoopBackOff)",
       std::nullopt},
      {"crash-looping from the start: the Pod stays Pending behind its native sidecar",
       channel_json(1),
       {{"a", kSelected, injected(), "Pending", false, relay_crash_looping(1)}},
       "False",
       "RelayNotReady",
       "True",
       "RelayNotReady",
       "a (relay restarted 1 time, last exit: Error, exit code 1; waiting: CrashLoopBackOff)",
       std::nullopt},
      {"restarted and running again, not ready yet",
       channel_json(1),
       {{"a", kSelected, injected(), "Running", false,
         relay_status(false, 1, running_since("2026-11-28T11:59:59Z"), exited_with_error(137))}},
       "False",
       "RelayNotReady",
       "True",
       "RelayNotReady",
       "a (relay restarted 1 time, last exit: Error, exit code 137; running, not ready)",
       std::nullopt},
      {"first start within the grace",
       channel_json(1),
       {{"a", kSelected, injected(), "Pending", false,
         relay_status(false, 0, running_since("2026-11-28T11:59:50Z"))}},
       "True",
       "AllPodsInjected",
       "False",
       "AsExpected",
       "",
       std::chrono::seconds(20)},
      {"first start past the grace",
       channel_json(1),
       {{"a", kSelected, injected(), "Pending", false,
         relay_status(false, 0, running_since("2026-11-28T11:59:30Z"))}},
       "False",
       "RelayNotReady",
       "True",
       "RelayNotReady",
       "a (relay running, not ready)",
       std::nullopt},
      {"unready hours after its start: its readiness probe fails (a channel broke under it)",
       channel_json(1),
       {{"a", kSelected, injected(), "Running", false,
         relay_status(false, 0, running_since("2026-11-28T09:00:00Z"))}},
       "False",
       "RelayNotReady",
       "True",
       "RelayNotReady",
       "a (relay running, not ready)",
       std::nullopt},
      {"relay being created",
       channel_json(1),
       {{"a", kSelected, injected(), "Pending", false, relay_waiting("ContainerCreating")},
        {"b", kSelected, injected(), "Pending", false, relay_waiting("PodInitializing")},
        {"c", kSelected, injected(), "Pending", false, nullptr}},
       "True",
       "AllPodsInjected",
       "False",
       "AsExpected",
       "",
       std::nullopt},
      {"relay image cannot be pulled",
       channel_json(1),
       {{"a", kSelected, injected(), "Pending", false, relay_waiting("ImagePullBackOff")}},
       "False",
       "RelayNotReady",
       "True",
       "RelayNotReady",
       "a (relay waiting: ImagePullBackOff)",
       std::nullopt},
      {"relay terminated",
       channel_json(1),
       {{"a", kSelected, injected(), "Running", false,
         relay_status(false, 0, exited_with_error(2))}},
       "False",
       "RelayNotReady",
       "True",
       "RelayNotReady",
       "a (relay terminated: Error, exit code 2)",
       std::nullopt},
      {"failing relays of Pods not selected, terminating or finished do not count",
       channel_json(1),
       {{"web", {{"app", "web"}}, injected(), "Running", false, relay_crash_looping(4)},
        {"going", kSelected, injected(), "Running", true, relay_crash_looping(4)},
        {"failed", kSelected, injected(), "Failed", false, relay_crash_looping(4)},
        {"a", kSelected, injected(), "Running", false, relay_ready()}},
       "True",
       "AllPodsInjected",
       "False",
       "AsExpected",
       "",
       std::nullopt},
      {"failing and outdated: one Degraded, the relay first, both named",
       channel_json(2),
       {{"a", kSelected, injected(1), "Running", false, relay_crash_looping(2)},
        {"b", kSelected, injected(1), "Running", false, relay_ready()}},
       "False",
       "RelayNotReady",
       "True",
       "RelayNotReady",
       "the relay is not ready in 1 of 2 selected Pods: a (relay restarted 2 times, last exit: "
       "Error, exit code 1; waiting: CrashLoopBackOff); also 2 Pods run an older generation of "
       "this channel: a, b",
       std::nullopt},
      {"invalid spec comes first",
       channel_json(1, "uid-1", "8Mi"),
       {{"a", kSelected, injected(), "Running", false, relay_crash_looping(2)}},
       "False",
       "InvalidSpec",
       "True",
       "InvalidSpec",
       "",
       std::nullopt},
  };
  for (const RelayCase& c : cases) {
    SCOPED_TRACE(c.name);
    std::vector<PodPtr> pods;
    for (const auto& p : c.pods) pods.push_back(make_pod(p));
    const auto report = compute(c.channel, pods, {}, kNow);
    const auto* ready = report.status.find_condition("Ready");
    const auto* degraded = report.status.find_condition("Degraded");
    ASSERT_NE(ready, nullptr);
    ASSERT_NE(degraded, nullptr);
    EXPECT_EQ(ready->status, c.ready_status);
    EXPECT_EQ(ready->reason, c.ready_reason) << ready->message;
    EXPECT_EQ(degraded->status, c.degraded_status);
    EXPECT_EQ(degraded->reason, c.degraded_reason) << degraded->message;
    EXPECT_NE(degraded->message.find(c.message_part), std::string::npos) << degraded->message;
    if (c.degraded_reason == "RelayNotReady") {
      // Ready says the same, so `kubectl get ipch` (which shows Ready) names the Pods too.
      EXPECT_EQ(ready->message.substr(0, ready->message.find("; also")),
                degraded->message.substr(0, degraded->message.find("; also")));
    }
    EXPECT_EQ(report.recompute_after, c.recompute_after);
  }
}

// Ready names the relays first and the Pods pending a restart after them.
TEST(ComputeStatus, ReadyMentionsPendingRestartsAfterFailingRelays) {
  const std::vector<PodPtr> pods = {
      make_pod({"a", kSelected, injected(), "Running", false, relay_crash_looping(2)}),
      make_pod({"old", kSelected, {}})};
  const auto status = compute(channel_json(1), pods, {}, kNow).status;
  EXPECT_EQ(status.find_condition("Ready")->message,
            "the relay is not ready in 1 of 2 selected Pods: a (relay restarted 2 times, last "
            "exit: Error, exit code 1; waiting: CrashLoopBackOff); also 1 of 2 selected Pods need "
            "a restart to get the current channel");
}

// A namespace without the injection label stays Ready's reason; Degraded still reports relays.
TEST(ComputeStatus, AnUnlabelledNamespaceStaysReadysReasonWhileRelaysFail) {
  const std::vector<PodPtr> pods = {
      make_pod({"a", kSelected, injected(), "Running", false, relay_crash_looping(2)})};
  const auto status = compute(channel_json(1), pods, {}, kNow, kNotLabelled).status;
  EXPECT_EQ(status.find_condition("Ready")->reason, "NamespaceNotEnabled");
  EXPECT_EQ(status.find_condition("Degraded")->reason, "RelayNotReady");
}

class FakeChannelApi final : public ChannelApi {
 public:
  ChannelPtr channel(const std::string& key) override {
    if (key != "team/frames" || !channel_) return nullptr;
    return std::make_shared<const api::ChannelRecord>(
        api::channel_record_from_json(json(*channel_)));
  }
  std::vector<ChannelMember> members(const std::string& key) override {
    const auto record = channel(key);
    return record ? members_of(*record, pods_) : std::vector<ChannelMember>{};
  }
  NamespacePtr namespace_record(const std::string& name) override {
    return name == "team" ? namespace_ : nullptr;
  }
  bool write_status(const api::ChannelRecord&, const api::IpcChannelStatus& status) override {
    writes.push_back(api::status_to_json(status));
    // The watch would bring the written status back into the cache, with a new version.
    json updated = *channel_;
    updated["status"] = writes.back();
    updated["metadata"]["resourceVersion"] = std::to_string(++version_);
    (cache_lags ? behind_ : channel_) = std::make_shared<const json>(updated);
    return true;
  }
  void record_event(const api::ChannelRecord&, kube::EventType type, const std::string& reason,
                    const std::string& note) override {
    events.push_back((type == kube::EventType::kWarning ? "Warning " : "Normal ") + reason);
    notes.push_back(note);
  }

  // Sets the cached "team" Namespace's labels.
  void label_namespace(std::vector<api::PackedStringMap::Entry> labels) {
    api::NamespaceRecord record{"team", std::to_string(++namespace_version_),
                                api::PackedStringMap(std::move(labels))};
    namespace_ = std::make_shared<const api::NamespaceRecord>(std::move(record));
  }

  std::shared_ptr<const json> channel_;
  // When set, writes reach the cache only at catch_up() (the watch event not yet delivered).
  bool cache_lags = false;
  std::shared_ptr<const json> behind_;
  void catch_up() { channel_ = behind_; }
  int version_ = 0;
  std::vector<PodPtr> pods_;
  NamespacePtr namespace_;
  int namespace_version_ = 0;
  std::vector<json> writes;
  std::vector<std::string> events;
  std::vector<std::string> notes;  // of `events`, in order
};

// The reconciler writes the status subresource only when the status changes, and records Events
// for condition transitions only (a count change is in the status, not an Event).
TEST(IpcChannelReconciler, WritesOnlyChangesAndRecordsTransitionEvents) {
  FakeChannelApi api;
  kube::testing::FakeClock clock;
  IpcChannelReconciler reconciler(api, clock);
  api.channel_ = std::make_shared<const json>(channel_json(1));
  api.pods_ = {make_pod({"a", kSelected, {{"ipcmesh.io/status", record("frames", 1)}}})};

  EXPECT_TRUE(reconciler.reconcile("team/frames").status_written);
  ASSERT_EQ(api.writes.size(), 1u);
  EXPECT_EQ(api.writes[0]["selectedPods"], 1);
  EXPECT_EQ(api.writes[0]["observedGeneration"], 1);
  EXPECT_EQ(api.events, std::vector<std::string>{});  // the first healthy status is not news

  clock.advance(std::chrono::minutes(5));
  EXPECT_FALSE(reconciler.reconcile("team/frames").status_written);  // level: nothing changed
  EXPECT_EQ(api.writes.size(), 1u);

  api.pods_.push_back(make_pod({"new", kSelected, {}}));
  EXPECT_TRUE(reconciler.reconcile("team/frames").status_written);
  EXPECT_EQ(api.writes.back()["pendingRestartPods"], 1);
  EXPECT_EQ(api.events, std::vector<std::string>{"Warning PodsPendingRestart"});

  // Another selected Pod: a new count, no new transition, no Event.
  api.pods_.push_back(make_pod({"b", kSelected, {{"ipcmesh.io/status", record("frames", 1)}}}));
  EXPECT_TRUE(reconciler.reconcile("team/frames").status_written);
  EXPECT_EQ(api.writes.back()["selectedPods"], 3);
  EXPECT_EQ(api.events, std::vector<std::string>{"Warning PodsPendingRestart"});

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

// Events recorded after `from` (an index into api.events).
std::vector<std::string> events_since(const FakeChannelApi& api, std::size_t from) {
  return {api.events.begin() + static_cast<std::ptrdiff_t>(from), api.events.end()};
}

// A relay whose restartCount rose since the last reconcile gets one Warning RelayRestarted Event
// on the channel; the first sighting (after an operator start) is a baseline without one, and a
// Pod that left and came back is seen afresh. Recovery clears Degraded.
TEST(IpcChannelReconciler, RecordsEachRelayRestartOnceAfterABaseline) {
  FakeChannelApi api;
  kube::testing::FakeClock clock;
  IpcChannelReconciler reconciler(api, clock);
  api.channel_ = std::make_shared<const json>(channel_json(1));
  auto crash_looping = [](int restarts) {
    return make_pod({"a", kSelected, injected(), "Running", false, relay_crash_looping(restarts)});
  };

  api.pods_ = {crash_looping(2)};
  EXPECT_TRUE(reconciler.reconcile("team/frames").status_written);
  EXPECT_EQ(api.events, (std::vector<std::string>{"Warning RelayNotReady"}));
  EXPECT_NE(api.notes.back().find("Ready=False: the relay is not ready in 1 of 1 selected Pods: "
                                  "a (relay restarted 2 times"),
            std::string::npos)
      << api.notes.back();

  api.pods_ = {crash_looping(3)};
  std::size_t before = api.events.size();
  EXPECT_TRUE(reconciler.reconcile("team/frames").status_written);  // the message names 3
  EXPECT_EQ(events_since(api, before), std::vector<std::string>{"Warning RelayRestarted"});
  // No counts in the note: the next restarts are the same Event again (a series).
  EXPECT_EQ(api.notes.back(), "the relay of Pod a restarted (last exit: Error, exit code 1)");

  before = api.events.size();
  EXPECT_FALSE(reconciler.reconcile("team/frames").status_written);
  EXPECT_EQ(events_since(api, before), std::vector<std::string>{});

  // Gone (deleted or no longer selected), then back: no count to compare with.
  api.pods_ = {};
  reconciler.reconcile("team/frames");
  api.pods_ = {crash_looping(5)};
  before = api.events.size();
  reconciler.reconcile("team/frames");
  for (const auto& event : events_since(api, before)) EXPECT_NE(event, "Warning RelayRestarted");

  api.pods_ = {make_pod(
      {"a", kSelected, injected(), "Running", false,
       relay_status(true, 5, running_since("2026-11-28T11:00:00Z"), exited_with_error())})};
  before = api.events.size();
  EXPECT_TRUE(reconciler.reconcile("team/frames").status_written);
  const auto healthy = api::status_from_json(api.writes.back());
  EXPECT_EQ(healthy->find_condition("Degraded")->status, "False");
  EXPECT_EQ(healthy->find_condition("Ready")->reason, "AllPodsInjected");
  EXPECT_EQ(events_since(api, before),
            (std::vector<std::string>{"Normal AllPodsInjected", "Normal AsExpected"}));
}

// A relay starting for the first time is left alone for kRelayStartGrace: the reconcile asks to
// run again when the grace ends, and then reports the relay if it is still not ready.
TEST(IpcChannelReconciler, LooksAgainWhenAStartingRelaysGraceEnds) {
  FakeChannelApi api;
  kube::testing::FakeClock clock;
  IpcChannelReconciler reconciler(api, clock);
  api.channel_ = std::make_shared<const json>(channel_json(1));
  const std::string started = kube::format_time(clock.wall_now() - std::chrono::seconds(10));
  api.pods_ = {make_pod({"a", kSelected, injected(), "Pending", false,
                         relay_status(false, 0, running_since(started))})};

  const ReconcileResult starting = reconciler.reconcile("team/frames");
  EXPECT_EQ(api::status_from_json(api.writes.back())->find_condition("Ready")->status, "True");
  EXPECT_EQ(starting.requeue_after, std::chrono::seconds(20));

  clock.advance(std::chrono::seconds(20));
  const ReconcileResult stuck = reconciler.reconcile("team/frames");
  EXPECT_TRUE(stuck.status_written);
  EXPECT_EQ(stuck.requeue_after, std::nullopt);
  const auto status = api::status_from_json(api.writes.back());
  EXPECT_EQ(status->find_condition("Degraded")->reason, "RelayNotReady");
  EXPECT_EQ(status->find_condition("Degraded")->message,
            "the relay is not ready in 1 of 1 selected Pods: a (relay running, not ready)");
}

// A reconcile that runs before the watch brought its own write back into the cache compares with
// what it wrote, not with the stale cache: no second write of the same status, no repeated
// Events. Once the cache has caught up it is the truth again.
TEST(IpcChannelReconciler, AReconcileBeforeTheCacheSeesItsWriteDoesNotWriteAgain) {
  FakeChannelApi api;
  kube::testing::FakeClock clock;
  StatusPacer pacer(clock, std::chrono::seconds(1));
  IpcChannelReconciler reconciler(api, clock, std::nullopt, &pacer);
  api.channel_ = std::make_shared<const json>(channel_json(1));
  api.pods_ = {make_pod({"old", kSelected, {}})};
  api.cache_lags = true;

  EXPECT_TRUE(reconciler.reconcile("team/frames").status_written);
  EXPECT_EQ(api.events, std::vector<std::string>{"Warning PodsPendingRestart"});
  EXPECT_EQ(pacer.delay("team/frames"), std::chrono::seconds(1));
  clock.advance(std::chrono::milliseconds(300));
  EXPECT_EQ(pacer.delay("team/frames"), std::chrono::milliseconds(700));

  EXPECT_FALSE(reconciler.reconcile("team/frames").status_written);
  EXPECT_EQ(api.writes.size(), 1u);
  EXPECT_EQ(api.events.size(), 1u);

  api.catch_up();
  EXPECT_FALSE(reconciler.reconcile("team/frames").status_written);
  // A change within the window waits for its end (at most one write per window).
  api.pods_.clear();
  const ReconcileResult early = reconciler.reconcile("team/frames");
  EXPECT_FALSE(early.status_written);
  EXPECT_EQ(early.requeue_after, std::chrono::milliseconds(700));
  clock.advance(std::chrono::milliseconds(700));
  EXPECT_TRUE(reconciler.reconcile("team/frames").status_written);
  EXPECT_EQ(api.writes.back()["selectedPods"], 0);
  clock.advance(std::chrono::seconds(2));
  EXPECT_EQ(pacer.delay("team/frames"), std::chrono::nanoseconds::zero());
}

}  // namespace
}  // namespace ipcmesh::controller
