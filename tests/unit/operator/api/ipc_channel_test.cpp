#include "api/ipc_channel.hpp"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "api/injection_status.hpp"

namespace ipcmesh::api {
namespace {

using nlohmann::json;

json channel_json() {
  return json::parse(R"({
    "apiVersion":"ipcmesh.io/v1alpha1","kind":"IpcChannel",
    "metadata":{"name":"frames","namespace":"team","uid":"u-1","generation":4,
                "resourceVersion":"991","creationTimestamp":"2024-05-01T10:00:00Z",
                "labels":{"owner":"me"}},
    "spec":{"selector":{"matchLabels":{"app":"pipeline"}},
            "transport":"Both","scope":"Pod",
            "sharedMemory":{"size":"16Mi","maxMessageSize":"64Ki","slowConsumer":"DropOldest",
                            "waitMode":"BusyPoll"},
            "messageQueue":{"name":"/posix_mq_example","maxMessages":10,"maxMessageSize":8192},
            "relay":{"bridge":{"mqToShm":true},"metricsPort":9191,
                     "resources":{"requests":{"cpu":"10m","memory":"16Mi"},"limits":{"memory":67108864}}}},
    "status":{"observedGeneration":3,"selectedPods":2,"injectedPods":1,"pendingRestartPods":1,
              "conditions":[{"type":"Ready","status":"True","reason":"PodsInjected","message":"ok",
                             "observedGeneration":3,"lastTransitionTime":"2024-05-01T10:01:00Z"}]}})");
}

// A full custom resource parses into metadata, selector, the shared contract spec, relay
// resources and status.
TEST(IpcChannel, ParsesTheWholeCustomResource) {
  auto channel = ipc_channel_from_json(channel_json());
  ASSERT_TRUE(channel.has_value()) << channel.error().message;
  EXPECT_EQ(channel->metadata.namespace_name, "team");
  EXPECT_EQ(channel->metadata.name, "frames");
  EXPECT_EQ(channel->metadata.uid, "u-1");
  EXPECT_EQ(channel->metadata.generation, 4);
  EXPECT_EQ(channel->metadata.resource_version, "991");
  EXPECT_EQ(channel->metadata.creation_timestamp, "2024-05-01T10:00:00Z");
  ASSERT_TRUE(channel->selector.has_value());
  EXPECT_TRUE(channel->selector->matches({{"app", "pipeline"}}));
  EXPECT_EQ(channel->spec.id, (ChannelId{"team", "frames"}));
  EXPECT_EQ(channel->spec.transport, Transport::kBoth);
  ASSERT_TRUE(channel->spec.shared_memory.has_value());
  EXPECT_EQ(channel->spec.shared_memory->size_bytes, 16u << 20);
  EXPECT_EQ(channel->spec.shared_memory->slow_consumer, SlowConsumerPolicy::kDropOldest);
  EXPECT_EQ(channel->spec.shared_memory->wait_mode, WaitMode::kBusyPoll);
  ASSERT_TRUE(channel->spec.message_queue.has_value());
  EXPECT_EQ(channel->spec.mq_name(), "/posix_mq_example");
  EXPECT_TRUE(channel->spec.bridge.mq_to_shm);
  EXPECT_EQ(channel->spec.metrics_port, 9191);
  EXPECT_EQ(channel->relay_resources.requests.at("cpu"), "10m");
  EXPECT_EQ(channel->relay_resources.limits.at("memory"), "67108864");
  EXPECT_EQ(channel->status.observed_generation, 3);
  EXPECT_EQ(channel->status.selected_pods, 2);
  ASSERT_NE(channel->status.find_condition(kConditionReady), nullptr);
  EXPECT_EQ(channel->status.find_condition(kConditionReady)->reason, "PodsInjected");
}

// The status serializes and parses back to the same value (the controller's write path).
TEST(IpcChannel, StatusRoundTripsThroughJson) {
  auto channel = ipc_channel_from_json(channel_json());
  ASSERT_TRUE(channel.has_value());
  auto again = status_from_json(status_to_json(channel->status));
  ASSERT_TRUE(again.has_value()) << again.error().message;
  EXPECT_EQ(*again, channel->status);
}

// Bad channels are refused with the JSON path of the field and the reason.
TEST(IpcChannel, InvalidChannelsNameTheFieldAndTheReason) {
  struct Case {
    std::function<void(json&)> edit;
    const char* expected;
  };
  const Case cases[] = {
      {[](json& j) { j["metadata"].erase("namespace"); }, "metadata.namespace: required"},
      {[](json& j) { j["metadata"].erase("name"); }, "metadata.name: required"},
      {[](json& j) { j["kind"] = "Pod"; }, "kind: expected IpcChannel"},
      {[](json& j) { j.erase("spec"); }, "spec: required"},
      {[](json& j) { j["spec"]["sharedMemory"]["size"] = "64Q"; }, "spec.sharedMemory.size"},
      {[](json& j) { j["spec"]["sharedMemory"]["maxMessageSize"] = "16Mi"; }, "does not fit"},
      {[](json& j) { j["spec"]["sharedMemory"]["waitMode"] = "Spin"; },
       "spec.sharedMemory.waitMode: unknown wait mode \"Spin\""},
      {[](json& j) { j["spec"]["messageQueue"]["name"] = "no-slash"; }, "messageQueue.name"},
      {[](json& j) { j["spec"]["transport"] = "SharedMemory"; }, "messageQueue"},
      {[](json& j) { j["spec"]["selector"]["matchLabels"]["app"] = 1; },
       "spec.selector.matchLabels.app"},
      {[](json& j) { j["spec"]["relay"]["resources"]["limits"]["memory"] = true; },
       "spec.relay.resources.limits.memory"},
  };
  for (const auto& c : cases) {
    auto object = channel_json();
    c.edit(object);
    auto channel = ipc_channel_from_json(object);
    ASSERT_FALSE(channel.has_value()) << c.expected;
    EXPECT_NE(channel.error().message.find(c.expected), std::string::npos)
        << "want \"" << c.expected << "\" in: " << channel.error().message;
  }
}

// A minimal channel takes the contract's defaults; without a selector only the annotation
// selects it, with an empty one every Pod does.
TEST(IpcChannel, SelectionIsBySelectorOrByAnnotation) {
  auto minimal = ipc_channel_from_json(
      json::parse(R"({"metadata":{"name":"bus","namespace":"ns"},"spec":{}})"));
  ASSERT_TRUE(minimal.has_value()) << minimal.error().message;
  EXPECT_EQ(minimal->spec.transport, Transport::kSharedMemory);
  EXPECT_FALSE(minimal->selector.has_value());
  EXPECT_FALSE(minimal->selects({{"app", "x"}}, ""));
  EXPECT_TRUE(minimal->selects({}, "other, bus"));
  EXPECT_FALSE(minimal->selects({}, "other,busy"));

  auto everything = ipc_channel_from_json(
      json::parse(R"({"metadata":{"name":"bus","namespace":"ns"},"spec":{"selector":{}}})"));
  ASSERT_TRUE(everything.has_value());
  EXPECT_TRUE(everything->selects({{"any", "thing"}}, ""));
}

// The annotation list tolerates spaces and empty items.
TEST(IpcChannel, ChannelAnnotationSplitsOnCommas) {
  EXPECT_EQ(split_channel_names(" a, b,,c ,"), (std::vector<std::string>{"a", "b", "c"}));
  EXPECT_TRUE(split_channel_names("").empty());
}

// The injection record survives serialize/parse; garbage is an error, not a crash.
TEST(InjectionStatus, RoundTripsAndRejectsGarbage) {
  InjectionStatus status;
  status.version = "0.1.0";
  status.contract = 1;
  status.channels = {{"frames", "u1", 3}, {"jobs", "u2", 1}};
  status.sidecar = "native";
  status.containers = {"ipcmesh-relay"};
  status.volumes = {"ipcmesh-shm", "ipcmesh-control"};
  status.dev_shm_source = "injected";
  status.dev_shm_volume = "ipcmesh-shm";
  status.dev_shm_size_limit = "130Mi";
  status.sysctls = {{"fs.mqueue.msg_max", "64"}};
  auto again = parse_injection_status(serialize_injection_status(status));
  ASSERT_TRUE(again.has_value()) << again.error().message;
  EXPECT_EQ(*again, status);
  ASSERT_NE(again->find_channel("jobs"), nullptr);
  EXPECT_EQ(again->find_channel("jobs")->generation, 1);

  EXPECT_FALSE(parse_injection_status("not json"));
  EXPECT_FALSE(parse_injection_status("[]"));
  EXPECT_FALSE(parse_injection_status(R"({"channels":7})"));
  EXPECT_FALSE(parse_injection_status(R"({"version":7})"));
}

}  // namespace
}  // namespace ipcmesh::api
