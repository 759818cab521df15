#include "controller/channel_pod_index.hpp"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

namespace ipcmesh::controller {
namespace {

using nlohmann::json;

ChannelPtr channel(const std::string& ns, const std::string& name, const std::string& app,
                   const std::string& version = "1") {
  json object = {{"apiVersion", "ipcmesh.io/v1alpha1"},
                 {"kind", "IpcChannel"},
                 {"metadata",
                  {{"namespace", ns},
                   {"name", name},
                   {"uid", "uid-" + name},
                   {"generation", 1},
                   {"resourceVersion", version}}},
                 {"spec",
                  {{"selector", {{"matchLabels", {{"app", app}}}}},
                   {"transport", "SharedMemory"},
                   {"sharedMemory", {{"size", "8Mi"}, {"maxMessageSize", "64Ki"}}}}}};
  return std::make_shared<const api::ChannelRecord>(
      api::channel_record_from_json(std::move(object)));
}

PodPtr pod(const std::string& ns, const std::string& name, json labels,
           json annotations = json::object(), const std::string& phase = "Running") {
  json object = {{"metadata",
                  {{"namespace", ns},
                   {"name", name},
                   {"uid", "uid-" + name},
                   {"labels", std::move(labels)},
                   {"annotations", std::move(annotations)}}},
                 {"status", {{"phase", phase}}}};
  return std::make_shared<const api::PodRecord>(api::pod_record_from_json(object));
}

std::string injected_with(const std::string& channel_name) {
  return json{
      {"version", "0.1.0"},
      {"contract", 1},
      {"channels", {{{"name", channel_name}, {"uid", "uid-" + channel_name}, {"generation", 1}}}}}
      .dump();
}

std::vector<std::string> names(const std::vector<ChannelMember>& members) {
  std::vector<std::string> out;
  for (const auto& member : members) out.push_back(member.pod->name);
  return out;
}

auto no_pods() {
  return [] { return std::vector<PodPtr>{}; };
}

using Keys = std::vector<std::string>;

// A Pod event concerns only the channels of its namespace that select it, or that its injection
// record names; the others never see it.
TEST(ChannelPodIndex, APodEventConcernsOnlyItsOwnChannels) {
  ChannelPodIndex index;
  index.upsert_channel(channel("team", "frames", "video"), no_pods());
  index.upsert_channel(channel("team", "audio", "sound"), no_pods());
  index.upsert_channel(channel("other", "frames", "video"), no_pods());

  EXPECT_EQ(index.upsert_pod(pod("team", "a", {{"app", "video"}})), Keys{"team/frames"});
  EXPECT_EQ(index.upsert_pod(pod("team", "b", {{"app", "web"}})), Keys{});
  // By annotation, and opted out.
  EXPECT_EQ(
      index.upsert_pod(pod("team", "c", {{"app", "web"}}, {{"ipcmesh.io/channels", "audio"}})),
      Keys{"team/audio"});
  EXPECT_EQ(
      index.upsert_pod(pod("team", "d", {{"app", "video"}}, {{"ipcmesh.io/inject", "false"}})),
      Keys{});
  EXPECT_EQ(names(index.members("team/frames")), Keys{"a"});
  EXPECT_EQ(names(index.members("team/audio")), Keys{"c"});
  EXPECT_EQ(index.members("other/frames").size(), 0u);
  EXPECT_EQ(index.membership_count(), 2u);

  // Relabelled away but injected with the channel: still counted (as injected, not selected).
  EXPECT_EQ(index.upsert_pod(pod("team", "a", {{"app", "web"}},
                                 {{"ipcmesh.io/status", injected_with("frames")}})),
            Keys{"team/frames"});
  const auto members = index.members("team/frames");
  ASSERT_EQ(members.size(), 1u);
  EXPECT_FALSE(members[0].selected);
  ASSERT_TRUE(members[0].injected);
  EXPECT_EQ(members[0].injected->uid, "uid-frames");

  EXPECT_EQ(index.remove_pod(pod("team", "a", {})), Keys{"team/frames"});
  EXPECT_EQ(index.remove_pod(pod("team", "b", {})), Keys{});
  EXPECT_EQ(index.members("team/frames").size(), 0u);
}

// A Pod update that changes nothing a channel counts concerns no channel; a phase change does.
TEST(ChannelPodIndex, OnlyCountedChangesConcernAChannel) {
  ChannelPodIndex index;
  index.upsert_channel(channel("team", "frames", "video"), no_pods());
  EXPECT_EQ(index.upsert_pod(pod("team", "a", {{"app", "video"}}, {}, "Pending")),
            Keys{"team/frames"});
  EXPECT_EQ(index.upsert_pod(pod("team", "a", {{"app", "video"}}, {}, "Pending")), Keys{});
  EXPECT_EQ(index.upsert_pod(pod("team", "a", {{"app", "video"}}, {}, "Running")),
            Keys{"team/frames"});
  EXPECT_EQ(index.members("team/frames")[0].pod->phase, "Running");
  // A label no selector reads (a tick, a rollout hash) changes no count: no channel to reconcile.
  EXPECT_EQ(index.upsert_pod(pod("team", "a", {{"app", "video"}, {"tick", "1"}}, {}, "Running")),
            Keys{});
  EXPECT_EQ(index.members("team/frames")[0].pod->label("tick"), "1");  // the latest record
}

// A channel update that keeps its selector (a status write, the common case) keeps its members
// without listing the namespace's Pods; a new selector recomputes them from the cache.
TEST(ChannelPodIndex, OnlyANewSelectorRereadsTheNamespace) {
  ChannelPodIndex index;
  const std::vector<PodPtr> cached = {pod("team", "a", {{"app", "video"}}),
                                      pod("team", "b", {{"app", "sound"}})};
  int listed = 0;
  const auto list = [&] {
    ++listed;
    return cached;
  };
  index.upsert_channel(channel("team", "frames", "video"), list);
  EXPECT_EQ(listed, 1);
  EXPECT_EQ(names(index.members("team/frames")), Keys{"a"});
  index.upsert_channel(channel("team", "frames", "video", "2"), list);
  EXPECT_EQ(listed, 1);
  EXPECT_EQ(names(index.members("team/frames")), Keys{"a"});
  index.upsert_channel(channel("team", "frames", "sound", "3"), list);
  EXPECT_EQ(listed, 2);
  EXPECT_EQ(names(index.members("team/frames")), Keys{"b"});
  // The old member no longer points at the channel: its deletion concerns no channel.
  EXPECT_EQ(index.remove_pod(cached[0]), Keys{});
  EXPECT_EQ(index.remove_pod(cached[1]), Keys{"team/frames"});

  index.remove_channel("team/frames");
  EXPECT_EQ(index.channel_count(), 0u);
  EXPECT_EQ(index.upsert_pod(cached[1]), Keys{});
}

}  // namespace
}  // namespace ipcmesh::controller
