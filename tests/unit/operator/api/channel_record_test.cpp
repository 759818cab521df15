#include "api/channel_record.hpp"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

namespace ipcmesh::api {
namespace {

using nlohmann::json;

json channel(json spec, json status = nullptr) {
  json object = {{"apiVersion", "ipcmesh.io/v1alpha1"},
                 {"kind", "IpcChannel"},
                 {"metadata",
                  {{"namespace", "team"},
                   {"name", "frames"},
                   {"uid", "u1"},
                   {"generation", 3},
                   {"resourceVersion", "42"},
                   {"labels", {{"owner", "video"}}}}},
                 {"spec", std::move(spec)}};
  if (!status.is_null()) object["status"] = std::move(status);
  return object;
}

const json kValidSpec = {{"selector", {{"matchLabels", {{"app", "pipeline"}}}}},
                         {"transport", "SharedMemory"},
                         {"sharedMemory", {{"size", "8Mi"}, {"maxMessageSize", "64Ki"}}}};

// A valid channel decodes once into the parsed channel the webhook injects, with the identity,
// selector and status the controller reads beside it.
TEST(ChannelRecord, AValidChannelCarriesItsParsedSpecAndStatus) {
  const json status = {{"observedGeneration", 2},
                       {"selectedPods", 4},
                       {"injectedPods", 3},
                       {"pendingRestartPods", 1},
                       {"conditions", json::array()}};
  const ChannelRecord record = channel_record_from_json(channel(kValidSpec, status));
  ASSERT_TRUE(record.valid()) << record.spec_error;
  EXPECT_EQ(record.key(), "team/frames");
  EXPECT_EQ(record.metadata.uid, "u1");
  EXPECT_EQ(record.metadata.generation, 3);
  EXPECT_EQ(record.metadata.resource_version, "42");
  EXPECT_EQ(record.status.selected_pods, 4);
  EXPECT_EQ(record.status.observed_generation, 2);
  ASSERT_TRUE(record.selector);
  EXPECT_EQ(record.selector->match_labels.at("app"), "pipeline");
  EXPECT_EQ(record.channel->spec.shared_memory->size_bytes, 8u * 1024 * 1024);
  EXPECT_EQ(record.channel->metadata.labels.at("owner"), "video");
  EXPECT_EQ(record.reference()["metadata"]["uid"], "u1");
  EXPECT_EQ(record.reference()["kind"], "IpcChannel");
}

// An invalid spec keeps its error (the InvalidSpec condition) and still its selector, so the
// status can count the Pods it would select; a status that does not parse never makes the spec
// invalid; only a nameless object is refused.
TEST(ChannelRecord, AnInvalidSpecKeepsItsErrorAndSelector) {
  json bad = kValidSpec;
  bad["sharedMemory"]["size"] = "64Q";
  const ChannelRecord invalid = channel_record_from_json(channel(bad));
  EXPECT_FALSE(invalid.valid());
  EXPECT_NE(invalid.spec_error.find("spec.sharedMemory.size"), std::string::npos)
      << invalid.spec_error;
  ASSERT_TRUE(invalid.selector);
  EXPECT_EQ(invalid.selector->match_labels.at("app"), "pipeline");

  const ChannelRecord odd_status =
      channel_record_from_json(channel(kValidSpec, {{"selectedPods", "many"}}));
  EXPECT_TRUE(odd_status.valid()) << odd_status.spec_error;
  EXPECT_EQ(odd_status.status, IpcChannelStatus{});

  EXPECT_THROW(channel_record_from_json(json{{"metadata", {{"namespace", "team"}}}}),
               std::invalid_argument);
}

// A Pod's record of a channel is outdated when it names an older generation or another uid (the
// channel deleted and created again); a record without a uid is judged by its generation alone.
TEST(ChannelRecord, AnInjectionIsOutdatedByAnOlderGenerationOrAnotherUid) {
  const ObjectMeta meta = channel_record_from_json(channel(kValidSpec)).metadata;  // u1, gen 3
  EXPECT_FALSE(injection_is_outdated({"frames", "u1", 3}, meta));
  EXPECT_TRUE(injection_is_outdated({"frames", "u1", 2}, meta));
  EXPECT_TRUE(injection_is_outdated({"frames", "u0", 3}, meta));
  EXPECT_FALSE(injection_is_outdated({"frames", "", 3}, meta));
  EXPECT_TRUE(injection_is_outdated({"frames", "", 1}, meta));
}

}  // namespace
}  // namespace ipcmesh::api
