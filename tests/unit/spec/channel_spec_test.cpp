#include "ipcmesh/channel_spec.hpp"

#include <gtest/gtest.h>
#include <stdlib.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

namespace ipcmesh {
namespace {

using nlohmann::json;

json minimal(std::string transport = "SharedMemory") {
  return json{{"namespace", "default"}, {"name", "pipeline"}, {"transport", transport}};
}

// Proves that an absent sharedMemory/messageQueue object takes the struct defaults when the
// transport needs it, and stays unset when it does not.
TEST(ChannelSpecJson, AbsentObjectsTakeTheDefaultsTheTransportNeeds) {
  auto shm = channel_spec_from_json(minimal("SharedMemory"));
  ASSERT_TRUE(shm) << shm.error().message;
  ASSERT_TRUE(shm->shared_memory);
  EXPECT_FALSE(shm->message_queue);
  EXPECT_EQ(shm->shared_memory->size_bytes, SharedMemorySpec{}.size_bytes);
  EXPECT_EQ(shm->shared_memory->max_message_size, SharedMemorySpec{}.max_message_size);
  EXPECT_EQ(shm->shared_memory->wait_mode, WaitMode::kAdaptive);
  EXPECT_EQ(to_json(*shm)["sharedMemory"]["waitMode"], "Adaptive");
  EXPECT_EQ(shm->scope, Scope::kPod);
  EXPECT_EQ(shm->metrics_port, 9090);

  auto mq = channel_spec_from_json(minimal("MessageQueue"));
  ASSERT_TRUE(mq) << mq.error().message;
  EXPECT_FALSE(mq->shared_memory);
  ASSERT_TRUE(mq->message_queue);
  EXPECT_EQ(mq->message_queue->max_messages, MessageQueueSpec{}.max_messages);
  EXPECT_EQ(mq->mq_name(), "/ipcmesh.default.pipeline.mq");

  auto both = channel_spec_from_json(minimal("Both"));
  ASSERT_TRUE(both) << both.error().message;
  EXPECT_TRUE(both->shared_memory);
  EXPECT_TRUE(both->message_queue);

  auto implicit = channel_spec_from_json(json{{"namespace", "a"}, {"name", "b"}});
  ASSERT_TRUE(implicit) << implicit.error().message;
  EXPECT_EQ(implicit->transport, Transport::kSharedMemory);
}

// Proves every field of the CRD shape is read, quantities from strings and integers alike.
TEST(ChannelSpecJson, ReadsEveryFieldOfTheCrdShape) {
  const json object = json::parse(R"({
    "namespace": "video", "name": "frames", "transport": "Both", "scope": "Node",
    "sharedMemory": {"size": "256Mi", "maxMessageSize": 4194304, "slowConsumer": "DropOldest",
                     "maxSubscribers": 8, "waitMode": "BusyPoll"},
    "messageQueue": {"name": "/legacy_frames", "maxMessages": 8, "maxMessageSize": "4Ki"},
    "relay": {"bridge": {"mqToShm": true, "shmToMq": false}, "metricsPort": 9400},
    "selector": {"matchLabels": {"app": "x"}}
  })");
  auto spec = channel_spec_from_json(object);
  ASSERT_TRUE(spec) << spec.error().message;
  EXPECT_EQ(spec->id, (ChannelId{"video", "frames"}));
  EXPECT_EQ(spec->transport, Transport::kBoth);
  EXPECT_EQ(spec->scope, Scope::kNode);
  EXPECT_EQ(spec->shared_memory->size_bytes, 256ull << 20);
  EXPECT_EQ(spec->shared_memory->max_message_size, 4u << 20);
  EXPECT_EQ(spec->shared_memory->slow_consumer, SlowConsumerPolicy::kDropOldest);
  EXPECT_EQ(spec->shared_memory->max_subscribers, 8u);
  EXPECT_EQ(spec->shared_memory->wait_mode, WaitMode::kBusyPoll);
  EXPECT_EQ(spec->message_queue->name, "/legacy_frames");
  EXPECT_EQ(spec->message_queue->max_messages, 8u);
  EXPECT_EQ(spec->message_queue->max_message_size, 4u << 10);
  EXPECT_TRUE(spec->bridge.mq_to_shm);
  EXPECT_FALSE(spec->bridge.shm_to_mq);
  EXPECT_EQ(spec->metrics_port, 9400);
  EXPECT_EQ(spec->shm_name(), "/ipcmesh.video.frames");
  EXPECT_EQ(spec->mq_name(), "/legacy_frames");
}

// Proves to_json and channel_spec_from_json are inverse: a spec survives the round trip and the
// serialised form is stable (canonical quantities).
TEST(ChannelSpecJson, RoundTripsThroughJson) {
  ChannelSpec spec;
  spec.id = {"team-a", "orders.v1"};
  spec.transport = Transport::kBoth;
  spec.scope = Scope::kNode;
  spec.shared_memory = SharedMemorySpec{1ull << 30, 3u << 20, SlowConsumerPolicy::kDropNewest, 3,
                                        WaitMode::kSpinThenSleep};
  spec.message_queue = MessageQueueSpec{"/orders", 7, 1500};
  spec.bridge = {true, false};
  spec.metrics_port = 1;
  const json first = to_json(spec);
  EXPECT_EQ(first["sharedMemory"]["size"], "1Gi");
  EXPECT_EQ(first["messageQueue"]["maxMessageSize"], "1500");
  EXPECT_EQ(first["sharedMemory"]["waitMode"], "SpinThenSleep");
  auto back = channel_spec_from_json(first);
  ASSERT_TRUE(back) << back.error().message;
  EXPECT_EQ(to_json(*back), first);
  EXPECT_EQ(back->id, spec.id);
  EXPECT_EQ(back->shared_memory->max_message_size, spec.shared_memory->max_message_size);
  EXPECT_EQ(back->shared_memory->wait_mode, WaitMode::kSpinThenSleep);
  EXPECT_EQ(back->message_queue->name, spec.message_queue->name);
}

// Proves the Pod document round-trips and keeps channel order; find() looks channels up by name.
// Proves: JSON built in code (signed integers) reads the same as JSON parsed from text
// (unsigned integers), and negative numbers are still refused.
TEST(ChannelSpecJson, SignedAndUnsignedIntegersAreTheSameNumber) {
  json built = {
      {"namespace", "default"},
      {"name", "signed"},
      {"transport", "Both"},
      {"sharedMemory", {{"size", std::int64_t{65536}}, {"maxMessageSize", std::int64_t{1024}}}},
      {"messageQueue", {{"maxMessages", std::int64_t{8}}, {"maxMessageSize", std::int64_t{512}}}}};
  auto spec = channel_spec_from_json(built);
  ASSERT_TRUE(spec) << spec.error().message;
  EXPECT_EQ(spec->shared_memory->size_bytes, 65536u);
  EXPECT_EQ(spec->message_queue->max_messages, 8u);
  built["messageQueue"]["maxMessages"] = std::int64_t{-1};
  EXPECT_FALSE(channel_spec_from_json(built));
}

// Proves: a number too large for any JSON number type is a clear error, not an exception
// (found by spec_fuzz).
TEST(ChannelSet, OverflowingNumberIsAnErrorNotACrash) {
  auto set =
      parse_channel_set(R"({"version":1,"channels":[{"name":"a","namespace":"b","x":1E400}]})");
  ASSERT_FALSE(set);
  EXPECT_NE(set.error().message.find("not valid JSON"), std::string::npos) << set.error().message;
}

TEST(ChannelSet, DocumentRoundTripsAndFindsChannelsByName) {
  const std::string text = R"({"version":1,"channels":[
      {"namespace":"default","name":"a","transport":"MessageQueue"},
      {"namespace":"default","name":"b","sharedMemory":{"size":"1Mi","maxMessageSize":"64Ki"}}]})";
  auto set = parse_channel_set(text);
  ASSERT_TRUE(set) << set.error().message;
  ASSERT_EQ(set->channels.size(), 2u);
  ASSERT_NE(set->find("b"), nullptr);
  EXPECT_EQ(set->find("b")->shared_memory->size_bytes, 1u << 20);
  EXPECT_EQ(set->find("missing"), nullptr);
  auto again = parse_channel_set(serialize_channel_set(*set));
  ASSERT_TRUE(again) << again.error().message;
  EXPECT_EQ(serialize_channel_set(*again), serialize_channel_set(*set));
  EXPECT_EQ(json::parse(serialize_channel_set(*set))["version"], 1);
}

struct JsonErrorCase {
  const char* document;      // the whole Pod document
  const char* path_and_why;  // the message must start with this
  ErrorCode code = ErrorCode::kInvalidArgument;
};

class ChannelSetErrors : public ::testing::TestWithParam<JsonErrorCase> {};

// Proves a bad document is refused with a message that names the JSON path and the reason.
TEST_P(ChannelSetErrors, NameTheJsonPathAndTheReason) {
  const auto& c = GetParam();
  auto set = parse_channel_set(c.document);
  ASSERT_FALSE(set) << c.document;
  EXPECT_EQ(set.error().code, c.code);
  EXPECT_EQ(set.error().message.rfind(c.path_and_why, 0), 0u)
      << "got: " << set.error().message << "\nwant prefix: " << c.path_and_why;
}

#define DOC(channel) R"({"version":1,"channels":[)" channel "]}"
#define NS_NAME R"("namespace":"default","name":"c")"

INSTANTIATE_TEST_SUITE_P(
    Json, ChannelSetErrors,
    ::testing::Values(
        JsonErrorCase{"{", "not valid JSON"},
        JsonErrorCase{"[]", "the channel document must be an object"},
        JsonErrorCase{R"({"channels":[]})", "version: required"},
        JsonErrorCase{R"({"version":2,"channels":[]})", "version: 2 is not supported",
                      ErrorCode::kIncompatible},
        JsonErrorCase{R"({"version":1})", "channels: required"},
        JsonErrorCase{R"({"version":1,"channels":{}})", "channels: must be a list"},
        JsonErrorCase{DOC("5"), "channels[0]: must be an object"},
        JsonErrorCase{DOC(R"({"name":"c"})"), "channels[0].namespace: required"},
        JsonErrorCase{DOC(R"({"namespace":"default"})"), "channels[0].name: required"},
        JsonErrorCase{DOC(R"({"namespace":"Default","name":"c"})"), "channels[0].namespace: "},
        JsonErrorCase{DOC(R"({"namespace":"default","name":"a_b"})"), "channels[0].name: "},
        JsonErrorCase{DOC("{" NS_NAME R"(,"transport":"Shm"})"),
                      "channels[0].transport: unknown transport \"Shm\""},
        JsonErrorCase{DOC("{" NS_NAME R"(,"scope":"Cluster"})"), "channels[0].scope: unknown"},
        JsonErrorCase{DOC("{" NS_NAME R"(,"sharedMemory":[]})"),
                      "channels[0].sharedMemory: must be an object"},
        JsonErrorCase{DOC("{" NS_NAME R"(,"sharedMemory":{"size":"64MB"}})"),
                      "channels[0].sharedMemory.size: \"64MB\" is not a valid quantity"},
        JsonErrorCase{DOC("{" NS_NAME R"(,"sharedMemory":{"size":-5}})"),
                      "channels[0].sharedMemory.size: -5 is negative"},
        JsonErrorCase{DOC("{" NS_NAME R"(,"sharedMemory":{"size":1.5}})"),
                      "channels[0].sharedMemory.size: 1.5 is not a whole"},
        JsonErrorCase{DOC("{" NS_NAME R"(,"sharedMemory":{"size":true}})"),
                      "channels[0].sharedMemory.size: must be a quantity"},
        JsonErrorCase{DOC("{" NS_NAME R"(,"sharedMemory":{"size":"1Mi","maxMessageSize":"2Mi"}})"),
                      "channels[0].sharedMemory.maxMessageSize: 2Mi does not fit a 1Mi ring"},
        JsonErrorCase{DOC("{" NS_NAME R"(,"sharedMemory":{"maxMessageSize":"8Gi"}})"),
                      "channels[0].sharedMemory.maxMessageSize: 8Gi is larger than"},
        JsonErrorCase{DOC("{" NS_NAME R"(,"sharedMemory":{"slowConsumer":"block"}})"),
                      "channels[0].sharedMemory.slowConsumer: unknown slowConsumer policy"},
        JsonErrorCase{DOC("{" NS_NAME R"(,"sharedMemory":{"waitMode":"busypoll"}})"),
                      "channels[0].sharedMemory.waitMode: unknown wait mode \"busypoll\" (one of "
                      "Adaptive, SpinThenSleep, BusyPoll)"},
        JsonErrorCase{DOC("{" NS_NAME R"(,"sharedMemory":{"waitMode":2}})"),
                      "channels[0].sharedMemory.waitMode: must be a string, got number"},
        JsonErrorCase{DOC("{" NS_NAME R"(,"sharedMemory":{"maxSubscribers":0}})"),
                      "channels[0].sharedMemory.maxSubscribers: 0 is outside 1..1024"},
        JsonErrorCase{DOC("{" NS_NAME R"(,"sharedMemory":{"maxSubscribers":"8"}})"),
                      "channels[0].sharedMemory.maxSubscribers: must be an integer"},
        JsonErrorCase{
            DOC("{" NS_NAME R"(,"transport":"MessageQueue","messageQueue":{"name":"q"}})"),
            "channels[0].messageQueue.name: POSIX name \"q\" must start with '/'"},
        JsonErrorCase{
            DOC("{" NS_NAME R"(,"transport":"MessageQueue","messageQueue":{"maxMessages":0}})"),
            "channels[0].messageQueue.maxMessages: must be at least 1"},
        JsonErrorCase{
            DOC("{" NS_NAME R"(,"transport":"MessageQueue","messageQueue":{"maxMessages":-1}})"),
            "channels[0].messageQueue.maxMessages: -1 is outside"},
        JsonErrorCase{
            DOC("{" NS_NAME R"(,"transport":"MessageQueue","messageQueue":{"maxMessageSize":0}})"),
            "channels[0].messageQueue.maxMessageSize: must be at least 1"},
        JsonErrorCase{DOC("{" NS_NAME R"(,"messageQueue":{}})"),
                      "channels[0].messageQueue: set but transport is SharedMemory"},
        JsonErrorCase{DOC("{" NS_NAME R"(,"transport":"MessageQueue","sharedMemory":{}})"),
                      "channels[0].sharedMemory: set but transport is MessageQueue"},
        JsonErrorCase{DOC("{" NS_NAME R"(,"relay":{"metricsPort":0}})"),
                      "channels[0].relay.metricsPort: 0 is outside 1..65535"},
        JsonErrorCase{DOC("{" NS_NAME R"(,"relay":{"metricsPort":70000}})"),
                      "channels[0].relay.metricsPort: 70000 is outside 1..65535"},
        JsonErrorCase{DOC("{" NS_NAME R"(,"relay":{"bridge":{"mqToShm":"yes"}}})"),
                      "channels[0].relay.bridge.mqToShm: must be true or false"},
        JsonErrorCase{DOC("{" NS_NAME R"(,"relay":{"bridge":{"mqToShm":true}}})"),
                      "channels[0].relay.bridge.mqToShm: bridging needs transport Both"},
        JsonErrorCase{DOC("{" NS_NAME "},{" NS_NAME "}"),
                      "channels[1]: duplicate channel default/c (also channels[0])"}));

struct ValidateCase {
  const char* what;
  void (*mutate)(ChannelSpec&);
  const char* message_prefix;  // empty: valid
};

ChannelSpec valid_both() {
  ChannelSpec spec;
  spec.id = {"default", "pipeline"};
  spec.transport = Transport::kBoth;
  spec.shared_memory = SharedMemorySpec{};
  spec.message_queue = MessageQueueSpec{};
  return spec;
}

class Validate : public ::testing::TestWithParam<ValidateCase> {};

// Proves the cross-field rules (the CRD's CEL rules) accept and refuse exactly what they say.
TEST_P(Validate, AppliesTheCrossFieldRules) {
  const auto& c = GetParam();
  ChannelSpec spec = valid_both();
  c.mutate(spec);
  auto result = validate(spec);
  if (std::string(c.message_prefix).empty()) {
    EXPECT_TRUE(result) << c.what << ": " << result.error().message;
  } else {
    ASSERT_FALSE(result) << c.what;
    EXPECT_EQ(result.error().message.rfind(c.message_prefix, 0), 0u)
        << c.what << ": " << result.error().message;
  }
}

INSTANTIATE_TEST_SUITE_P(
    Rules, Validate,
    ::testing::Values(
        ValidateCase{"defaults", [](ChannelSpec&) {}, ""},
        // 1Mi ring: half is 524288; a record of maxMessageSize + 16 rounded to 8 must fit in it.
        ValidateCase{"largest message that fits half the ring",
                     [](ChannelSpec& s) {
                       s.shared_memory->size_bytes = 1 << 20;
                       s.shared_memory->max_message_size = (1 << 19) - 16;
                     },
                     ""},
        ValidateCase{"one byte more pads to a record past half the ring",
                     [](ChannelSpec& s) {
                       s.shared_memory->size_bytes = 1 << 20;
                       s.shared_memory->max_message_size = (1 << 19) - 15;
                     },
                     "sharedMemory.maxMessageSize: 524273 does not fit a 1Mi ring"},
        ValidateCase{"empty ring", [](ChannelSpec& s) { s.shared_memory->size_bytes = 0; },
                     "sharedMemory.size: 0 is outside 4Ki..16Gi"},
        ValidateCase{"smallest ring",
                     [](ChannelSpec& s) {
                       s.shared_memory->size_bytes = 4096;
                       s.shared_memory->max_message_size = 2048 - 16;
                     },
                     ""},
        ValidateCase{"largest ring",
                     [](ChannelSpec& s) { s.shared_memory->size_bytes = 16ull << 30; }, ""},
        ValidateCase{"ring above 16Gi",
                     [](ChannelSpec& s) { s.shared_memory->size_bytes = (16ull << 30) + 1; },
                     "sharedMemory.size: 17179869185 is outside 4Ki..16Gi"},
        ValidateCase{"message above 1Gi",
                     [](ChannelSpec& s) {
                       s.shared_memory->size_bytes = 16ull << 30;
                       s.shared_memory->max_message_size = (1u << 30) + 8;
                     },
                     "sharedMemory.maxMessageSize: 1073741832 is larger than 1Gi"},
        ValidateCase{"bridge in both directions",
                     [](ChannelSpec& s) {
                       s.bridge = {true, true};
                     },
                     "relay.bridge: choose one direction"},
        ValidateCase{"node scope within the kernel defaults",
                     [](ChannelSpec& s) {
                       s.scope = Scope::kNode;
                       s.message_queue->max_messages = 10;
                     },
                     ""},
        ValidateCase{"node scope beyond the kernel defaults",
                     [](ChannelSpec& s) {
                       s.scope = Scope::kNode;
                       s.message_queue->max_messages = 11;
                     },
                     "messageQueue: scope Node shares the host's IPC namespace"},
        ValidateCase{"zero max message size",
                     [](ChannelSpec& s) { s.shared_memory->max_message_size = 0; },
                     "sharedMemory.maxMessageSize: must be at least 1"},
        ValidateCase{"1024 subscribers",
                     [](ChannelSpec& s) { s.shared_memory->max_subscribers = 1024; }, ""},
        ValidateCase{"1025 subscribers",
                     [](ChannelSpec& s) { s.shared_memory->max_subscribers = 1025; },
                     "sharedMemory.maxSubscribers: 1025 is outside 1..1024"},
        ValidateCase{"legacy name with a second slash",
                     [](ChannelSpec& s) { s.message_queue->name = "/a/b"; },
                     "messageQueue.name: POSIX name \"/a/b\""},
        ValidateCase{"kernel hard limit of messages",
                     [](ChannelSpec& s) { s.message_queue->max_messages = 65537; },
                     "messageQueue.maxMessages: 65537 exceeds the kernel's hard limit of 65536"},
        ValidateCase{"kernel hard limit of message size",
                     [](ChannelSpec& s) { s.message_queue->max_message_size = (16 << 20) + 1; },
                     "messageQueue.maxMessageSize: 16777217 exceeds the kernel's hard limit"},
        ValidateCase{"shared memory missing", [](ChannelSpec& s) { s.shared_memory.reset(); },
                     "sharedMemory: required when transport is Both"},
        ValidateCase{"queue missing", [](ChannelSpec& s) { s.message_queue.reset(); },
                     "messageQueue: required when transport is Both"},
        ValidateCase{"bridge with both transports",
                     [](ChannelSpec& s) { s.bridge.shm_to_mq = true; }, ""},
        ValidateCase{"metrics port zero", [](ChannelSpec& s) { s.metrics_port = 0; },
                     "relay.metricsPort: 0 is outside 1..65535"},
        ValidateCase{"bad namespace", [](ChannelSpec& s) { s.id.namespace_name = ""; },
                     "namespace: must not be empty"}));

// Proves the enum spellings are exactly the CRD's and parse back.
TEST(ChannelSpecEnums, SpellingsMatchTheCrdAndParseBack) {
  for (auto t : {Transport::kSharedMemory, Transport::kMessageQueue, Transport::kBoth}) {
    EXPECT_EQ(*parse_transport(to_string(t)), t);
  }
  for (auto s : {Scope::kPod, Scope::kNode}) EXPECT_EQ(*parse_scope(to_string(s)), s);
  for (auto p : {SlowConsumerPolicy::kBlock, SlowConsumerPolicy::kDropOldest,
                 SlowConsumerPolicy::kDropNewest}) {
    EXPECT_EQ(*parse_slow_consumer_policy(to_string(p)), p);
  }
  for (auto w : {WaitMode::kAdaptive, WaitMode::kSpinThenSleep, WaitMode::kBusyPoll}) {
    EXPECT_EQ(*parse_wait_mode(to_string(w)), w);
  }
  EXPECT_EQ(to_string(WaitMode::kSpinThenSleep), "SpinThenSleep");
  EXPECT_FALSE(parse_wait_mode("busyPoll"));
  EXPECT_EQ(to_string(Transport::kSharedMemory), "SharedMemory");
  EXPECT_EQ(to_string(SlowConsumerPolicy::kDropOldest), "DropOldest");
  EXPECT_FALSE(parse_transport("sharedmemory"));
}

// Restores an environment variable on scope exit so tests do not leak into each other.
class ScopedEnv {
 public:
  ScopedEnv(const char* name, const char* value) : name_(name) {
    if (const char* old = getenv(name)) old_ = old;
    if (value) {
      setenv(name, value, 1);
    } else {
      unsetenv(name);
    }
  }
  ~ScopedEnv() {
    if (old_) {
      setenv(name_, old_->c_str(), 1);
    } else {
      unsetenv(name_);
    }
  }

 private:
  const char* name_;
  std::optional<std::string> old_;
};

// Proves the document is read from IPCMESH_CHANNELS first, then from IPCMESH_CHANNELS_FILE, and
// that errors say which source was bad.
TEST(ChannelSetEnvironment, ReadsTheVariableThenTheFile) {
  const std::string document = R"({"version":1,"channels":[{"namespace":"d","name":"env"}]})";
  {
    ScopedEnv text("IPCMESH_CHANNELS", document.c_str());
    ScopedEnv file("IPCMESH_CHANNELS_FILE", nullptr);
    auto set = channel_set_from_environment();
    ASSERT_TRUE(set) << set.error().message;
    EXPECT_NE(set->find("env"), nullptr);
  }
  const std::string path = "/tmp/ipcmesh-spec-test-" + std::to_string(getpid()) + ".json";
  {
    std::ofstream(path) << R"({"version":1,"channels":[{"namespace":"d","name":"file"}]})";
    ScopedEnv text("IPCMESH_CHANNELS", nullptr);
    ScopedEnv file("IPCMESH_CHANNELS_FILE", path.c_str());
    auto set = channel_set_from_environment();
    ASSERT_TRUE(set) << set.error().message;
    EXPECT_NE(set->find("file"), nullptr);
    std::ofstream(path) << "{broken";
    auto broken = channel_set_from_environment();
    ASSERT_FALSE(broken);
    EXPECT_EQ(broken.error().message.rfind(path + ": not valid JSON", 0), 0u)
        << broken.error().message;
  }
  std::remove(path.c_str());
  {
    ScopedEnv text("IPCMESH_CHANNELS", "{\"version\":1,\"channels\":[{}]}");
    auto set = channel_set_from_environment();
    ASSERT_FALSE(set);
    EXPECT_EQ(set.error().message.rfind("IPCMESH_CHANNELS: channels[0].namespace: required", 0), 0u)
        << set.error().message;
  }
  {
    ScopedEnv text("IPCMESH_CHANNELS", nullptr);
    ScopedEnv file("IPCMESH_CHANNELS_FILE", nullptr);
    auto set = channel_set_from_environment();
    ASSERT_FALSE(set);
    EXPECT_EQ(set.error().code, ErrorCode::kNotFound);
    ScopedEnv missing("IPCMESH_CHANNELS_FILE", "/nonexistent/ipcmesh.json");
    auto absent = channel_set_from_environment();
    ASSERT_FALSE(absent);
    EXPECT_NE(absent.error().message.find("/nonexistent/ipcmesh.json"), std::string::npos);
  }
}

struct WaitModeCase {
  const char* what;
  std::optional<WaitMode> channel;  // the channel's sharedMemory.waitMode; nullopt: no spec
  const char* env;                  // IPCMESH_WAIT_MODE; nullptr: unset
  WaitMode expected;
};

class SubscriberWaitMode : public ::testing::TestWithParam<WaitModeCase> {};

// Proves the order an app's subscriber picks its wait mode in: IPCMESH_WAIT_MODE, the channel's
// sharedMemory.waitMode, Adaptive.
TEST_P(SubscriberWaitMode, EnvironmentThenChannelThenAdaptive) {
  const auto& c = GetParam();
  ChannelSpec spec;
  spec.shared_memory = SharedMemorySpec{};
  if (c.channel) spec.shared_memory->wait_mode = *c.channel;
  auto mode = subscriber_wait_mode(c.channel ? &spec : nullptr, c.env);
  ASSERT_TRUE(mode) << c.what << ": " << mode.error().message;
  EXPECT_EQ(*mode, c.expected) << c.what;
}

INSTANTIATE_TEST_SUITE_P(
    Rules, SubscriberWaitMode,
    ::testing::Values(
        WaitModeCase{"POSIX name, no override", std::nullopt, nullptr, WaitMode::kAdaptive},
        WaitModeCase{"the channel's mode", WaitMode::kBusyPoll, nullptr, WaitMode::kBusyPoll},
        WaitModeCase{"the channel's mode, empty variable", WaitMode::kSpinThenSleep, "",
                     WaitMode::kSpinThenSleep},
        WaitModeCase{"the variable over the channel", WaitMode::kBusyPoll, "Adaptive",
                     WaitMode::kAdaptive},
        WaitModeCase{"the variable for a POSIX name", std::nullopt, "BusyPoll",
                     WaitMode::kBusyPoll}));

// Proves a channel without a ring (transport MessageQueue) counts as Adaptive, and a bad
// IPCMESH_WAIT_MODE is an error that names the variable and the choices, never a silent default.
TEST(SubscriberWaitModeOverride, ABadVariableIsAnErrorThatNamesIt) {
  ChannelSpec queue_only;
  queue_only.transport = Transport::kMessageQueue;
  queue_only.message_queue = MessageQueueSpec{};
  EXPECT_EQ(subscriber_wait_mode(&queue_only, nullptr).value(), WaitMode::kAdaptive);
  for (const char* bad : {"busypoll", "Fast", " Adaptive"}) {
    auto mode = subscriber_wait_mode(nullptr, bad);
    ASSERT_FALSE(mode) << bad;
    EXPECT_EQ(mode.error().code, ErrorCode::kInvalidArgument);
    EXPECT_EQ(mode.error().message, std::string("IPCMESH_WAIT_MODE: unknown wait mode \"") + bad +
                                        "\" (one of Adaptive, SpinThenSleep, BusyPoll)");
  }
}

// Proves subscriber_wait_mode_from_environment reads IPCMESH_WAIT_MODE from the process.
TEST(SubscriberWaitModeOverride, IsReadFromTheProcessEnvironment) {
  ChannelSpec spec;
  spec.shared_memory = SharedMemorySpec{};
  spec.shared_memory->wait_mode = WaitMode::kSpinThenSleep;
  {
    ScopedEnv unset("IPCMESH_WAIT_MODE", nullptr);
    EXPECT_EQ(subscriber_wait_mode_from_environment(&spec).value(), WaitMode::kSpinThenSleep);
  }
  {
    ScopedEnv set("IPCMESH_WAIT_MODE", "BusyPoll");
    EXPECT_EQ(subscriber_wait_mode_from_environment(&spec).value(), WaitMode::kBusyPoll);
  }
  {
    ScopedEnv bad("IPCMESH_WAIT_MODE", "sometimes");
    EXPECT_FALSE(subscriber_wait_mode_from_environment(&spec));
  }
}

// Proves system_error formats "what(name): errno text" and maps errno to the matching code.
TEST(Error, SystemErrorNamesTheCallTheObjectAndTheErrno) {
  const Error error = system_error("shm_open", "/ipcmesh.default.pipeline", ENOENT);
  EXPECT_EQ(error.message, "shm_open(/ipcmesh.default.pipeline): No such file or directory");
  EXPECT_EQ(error.code, ErrorCode::kNotFound);
  EXPECT_EQ(system_error("mq_open", "/q", EEXIST).code, ErrorCode::kAlreadyExists);
  EXPECT_EQ(system_error("x", "y", EIO).code, ErrorCode::kSystem);
  EXPECT_EQ(to_string(ErrorCode::kLimitExceeded), "limit exceeded");
}

}  // namespace
}  // namespace ipcmesh
