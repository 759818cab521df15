#include "kube/event_recorder.hpp"

#include <gtest/gtest.h>

#include "fake_clock.hpp"
#include "scripted_transport.hpp"

namespace ipcmesh::kube {
namespace {

using nlohmann::json;
using testing::FakeClock;
using testing::ScriptedTransport;

const json kChannel = {{"apiVersion", "ipcmesh.io/v1alpha1"},
                       {"kind", "IpcChannel"},
                       {"metadata", {{"name", "frames"}, {"namespace", "team"}, {"uid", "u1"}}}};

constexpr const char* kNotFound = R"({"kind":"Status","reason":"NotFound","code":404})";

struct Recorder {
  ScriptedTransport transport;
  FakeClock clock;
  KubeClient client{transport};
  EventRecorder recorder{
      client, clock, "ipcmesh.io/operator", "pod-1", {std::chrono::minutes(6), 2}};
  EventOutcome warn(const std::string& reason, const std::string& note) {
    return recorder.record(kChannel, EventType::kWarning, reason, "Reconcile", note);
  }
};

// Events go to events.k8s.io/v1; a server without it gets a core v1 Event instead, and that
// Event's repeats patch its count.
TEST(EventRecorder, FallsBackToCoreV1AndCountsThere) {
  Recorder r;
  r.transport.push({404, kNotFound, {}, {}, {}});
  r.transport.push({201, "{}", {}, {}, {}});
  EXPECT_EQ(r.warn("InvalidSpec", "bad size"), EventOutcome::kCreated);
  const auto& requests = r.transport.requests();
  ASSERT_EQ(requests.size(), 2u);
  EXPECT_EQ(requests[0].path_and_query, "/apis/events.k8s.io/v1/namespaces/team/events");
  EXPECT_EQ(json::parse(requests[0].body)["regarding"]["uid"], "u1");
  EXPECT_EQ(requests[1].path_and_query, "/api/v1/namespaces/team/events");
  const json legacy = json::parse(requests[1].body);
  EXPECT_EQ(legacy["type"], "Warning");
  EXPECT_EQ(legacy["involvedObject"]["kind"], "IpcChannel");
  EXPECT_EQ(legacy["message"], "bad size");

  r.transport.push({200, "{}", {}, {}, {}});
  r.clock.advance(std::chrono::seconds(10));
  EXPECT_EQ(r.warn("InvalidSpec", "bad size"), EventOutcome::kAggregated);
  ASSERT_EQ(requests.size(), 3u);
  EXPECT_EQ(requests[2].method, "PATCH");
  EXPECT_EQ(requests[2].path_and_query,
            "/api/v1/namespaces/team/events/" + legacy["metadata"]["name"].get<std::string>());
  EXPECT_EQ(json::parse(requests[2].body)["count"], 2);
}

// The same Event again within the window is one series: the first is created, the next ones
// patch series.count; another note, reason or object is another Event.
TEST(EventRecorder, AggregatesIsomorphicEventsIntoASeries) {
  Recorder r;
  for (int i = 0; i < 4; ++i) r.transport.push({201, "{}", {}, {}, {}});
  EXPECT_EQ(r.warn("RelayRestarted", "the relay of Pod a restarted"), EventOutcome::kCreated);
  r.clock.advance(std::chrono::minutes(1));
  EXPECT_EQ(r.warn("RelayRestarted", "the relay of Pod a restarted"), EventOutcome::kAggregated);
  r.clock.advance(std::chrono::minutes(5));
  EXPECT_EQ(r.warn("RelayRestarted", "the relay of Pod a restarted"), EventOutcome::kAggregated);
  const auto& requests = r.transport.requests();
  ASSERT_EQ(requests.size(), 3u);
  const std::string name = json::parse(requests[0].body)["metadata"]["name"];
  EXPECT_EQ(requests[1].method, "PATCH");
  EXPECT_EQ(requests[1].path_and_query, "/apis/events.k8s.io/v1/namespaces/team/events/" + name);
  EXPECT_EQ(json::parse(requests[1].body)["series"]["count"], 2);
  EXPECT_EQ(json::parse(requests[2].body)["series"]["count"], 3);
  EXPECT_TRUE(json::parse(requests[2].body)["series"].contains("lastObservedTime"));

  EXPECT_EQ(r.warn("RelayRestarted", "the relay of Pod b restarted"), EventOutcome::kCreated);
  EXPECT_EQ(requests.back().method, "POST");
}

// A series whose last occurrence is older than the window ends: the next one is a new Event; so
// is one whose Event is gone (expired after an hour, or deleted).
TEST(EventRecorder, StartsANewEventAfterTheWindowOrWhenTheOldOneIsGone) {
  Recorder r;
  r.transport.push({201, "{}", {}, {}, {}});
  r.transport.push({201, "{}", {}, {}, {}});
  r.transport.push({404, kNotFound, {}, {}, {}});
  r.transport.push({201, "{}", {}, {}, {}});
  EXPECT_EQ(r.warn("RelayNotReady", "x"), EventOutcome::kCreated);
  r.clock.advance(std::chrono::minutes(7));
  EXPECT_EQ(r.warn("RelayNotReady", "x"), EventOutcome::kCreated);
  r.clock.advance(std::chrono::minutes(1));
  EXPECT_EQ(r.warn("RelayNotReady", "x"), EventOutcome::kCreated);  // patch 404, then create
  const auto& requests = r.transport.requests();
  ASSERT_EQ(requests.size(), 4u);
  EXPECT_EQ(requests[1].method, "POST");
  EXPECT_EQ(requests[2].method, "PATCH");
  EXPECT_EQ(requests[3].method, "POST");
}

// The recorder remembers at most max_series series (here 2), forgetting the least recently seen.
TEST(EventRecorder, ForgetsTheLeastRecentlySeenSeries) {
  Recorder r;
  for (int i = 0; i < 6; ++i) r.transport.push({201, "{}", {}, {}, {}});
  r.warn("A", "a");
  r.warn("B", "b");
  EXPECT_EQ(r.warn("A", "a"), EventOutcome::kAggregated);  // A is now the most recent
  r.warn("C", "c");                                        // evicts B
  EXPECT_EQ(r.warn("A", "a"), EventOutcome::kAggregated);
  EXPECT_EQ(r.warn("B", "b"), EventOutcome::kCreated);
}

// Failures never throw; the observer sees every outcome.
TEST(EventRecorder, NeverThrowsAndReportsOutcomes) {
  Recorder r;
  std::vector<EventOutcome> seen;
  r.recorder.on_recorded([&](EventOutcome outcome, EventType) { seen.push_back(outcome); });
  r.transport.push({500, R"({"kind":"Status","code":500})", {}, {}, {}});
  EXPECT_EQ(r.warn("A", "a"), EventOutcome::kFailed);
  r.transport.push({201, "{}", {}, {}, {}});
  EXPECT_EQ(r.warn("A", "a"), EventOutcome::kCreated);
  EXPECT_EQ(seen, (std::vector<EventOutcome>{EventOutcome::kFailed, EventOutcome::kCreated}));
}

}  // namespace
}  // namespace ipcmesh::kube
