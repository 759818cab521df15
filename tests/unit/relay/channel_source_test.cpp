#include "relay/channel_source.hpp"

#include <gtest/gtest.h>

#include <string>

namespace ipcmesh::relay {
namespace {

ChannelSet one_channel(const std::string& json) {
  auto set = parse_channel_set(R"({"version":1,"channels":[)" + json + "]}");
  EXPECT_TRUE(set) << set.error().message;
  return set ? *set : ChannelSet{};
}

// The relay's own rules on top of the contract, each naming the field at fault.
TEST(ChannelSource, RelayRulesNameTheField) {
  EXPECT_NE(validate_for_relay(ChannelSet{}).error().message.find("channels"), std::string::npos);
  const std::string ok = R"({"namespace":"a","name":"b","transport":"Both",
      "sharedMemory":{"size":"1Mi","maxMessageSize":"8Ki"},
      "messageQueue":{"maxMessages":10,"maxMessageSize":"8Ki"},
      "relay":{"bridge":{"shmToMq":true}}})";
  EXPECT_TRUE(validate_for_relay(one_channel(ok)));
  auto looping = one_channel(ok);
  looping.channels.front().bridge.mq_to_shm = true;  // both directions: the relay would echo
  EXPECT_NE(validate_for_relay(looping).error().message.find("channels[0].relay.bridge"),
            std::string::npos);
  auto oversized = one_channel(ok);
  oversized.channels.front().message_queue->max_message_size = 4096;
  oversized.channels.front().shared_memory->max_message_size = 8192;  // shm->mq: 8Ki into 4Ki
  EXPECT_NE(
      validate_for_relay(oversized).error().message.find("channels[0].sharedMemory.maxMessageSize"),
      std::string::npos);
  auto twice = one_channel(ok);
  twice.channels.push_back(twice.channels.front());
  EXPECT_NE(validate_for_relay(twice).error().message.find("used twice"), std::string::npos);
}

// --spec with a missing file names the file.
TEST(ChannelSource, MissingSpecFileIsNamed) {
  auto set = load_channel_set(std::string("/nonexistent/spec.json"));
  ASSERT_FALSE(set);
  EXPECT_NE(set.error().message.find("/nonexistent/spec.json"), std::string::npos);
}

}  // namespace
}  // namespace ipcmesh::relay
