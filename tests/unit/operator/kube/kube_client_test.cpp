#include "kube/kube_client.hpp"

#include <gtest/gtest.h>

#include "scripted_transport.hpp"

namespace ipcmesh::kube {
namespace {

using nlohmann::json;
using testing::ScriptedTransport;

const ResourcePath kChannels{"ipcmesh.io", "v1alpha1", "ipcchannels", "", "", ""};

std::string conflict() {
  return json{{"kind", "Status"},
              {"reason", "Conflict"},
              {"code", 409},
              {"message", "the object has been modified"}}
      .dump();
}

json channel(const std::string& version) {
  return {{"metadata", {{"name", "frames"}, {"namespace", "team"}, {"resourceVersion", version}}},
          {"status", json::object()}};
}

// Paths follow the API's layout for the core group, named groups, namespaces and subresources.
TEST(ResourcePath, BuildsCoreGroupNamespacedAndSubresourcePaths) {
  EXPECT_EQ(kPods.path(), "/api/v1/pods");
  EXPECT_EQ(kPods.in("default").named("web").path(), "/api/v1/namespaces/default/pods/web");
  EXPECT_EQ(kChannels.in("team").named("frames").sub("status").path(),
            "/apis/ipcmesh.io/v1alpha1/namespaces/team/ipcchannels/frames/status");
  EXPECT_EQ(kLeases.in("ipcmesh-system").path(),
            "/apis/coordination.k8s.io/v1/namespaces/ipcmesh-system/leases");
}

// A status write that meets 409 Conflict re-reads the object and writes again with the fresh
// resourceVersion, through the status subresource.
TEST(KubeClient, StatusWriteRetriesOnConflictWithAFreshRead) {
  ScriptedTransport transport;
  transport.push({200, channel("1").dump(), {}, {}, {}});
  transport.push({409, conflict(), {}, {}, {}});
  transport.push({200, channel("2").dump(), {}, {}, {}});
  transport.push({200, channel("3").dump(), {}, {}, {}});
  KubeClient client(transport);
  int calls = 0;
  const auto stored = client.update_status(kChannels.in("team").named("frames"), [&](json& o) {
    ++calls;
    o["status"]["selectedPods"] = 2;
    return true;
  });
  ASSERT_TRUE(stored);
  EXPECT_EQ(calls, 2);
  const auto& requests = transport.requests();
  ASSERT_EQ(requests.size(), 4u);
  EXPECT_EQ(requests[1].method, "PUT");
  EXPECT_EQ(requests[1].path_and_query,
            "/apis/ipcmesh.io/v1alpha1/namespaces/team/ipcchannels/frames/status");
  const json second = json::parse(requests[3].body);
  EXPECT_EQ(second["metadata"]["resourceVersion"], "2");
  EXPECT_EQ(second["status"]["selectedPods"], 2);
}

// Conflicts that never stop give up after five attempts with the API's error.
TEST(KubeClient, StatusWriteGivesUpAfterFiveConflicts) {
  ScriptedTransport transport;
  for (int i = 0; i < 5; ++i) {
    transport.push({200, channel(std::to_string(i)).dump(), {}, {}, {}});
    transport.push({409, conflict(), {}, {}, {}});
  }
  KubeClient client(transport);
  try {
    client.update_status(kChannels.in("team").named("frames"), [](json&) { return true; });
    FAIL() << "no error after five conflicts";
  } catch (const ApiError& error) {
    EXPECT_TRUE(error.conflict());
    EXPECT_EQ(error.reason(), "Conflict");
  }
  EXPECT_EQ(transport.requests().size(), 10u);
}

// An object gone before the write is not an error, and a declined mutation writes nothing.
TEST(KubeClient, StatusWriteSkipsMissingObjectsAndDeclinedMutations) {
  ScriptedTransport transport;
  transport.push({404, R"({"kind":"Status","reason":"NotFound","code":404})", {}, {}, {}});
  transport.push({200, channel("1").dump(), {}, {}, {}});
  KubeClient client(transport);
  const auto path = kChannels.in("team").named("frames");
  EXPECT_FALSE(client.update_status(path, [](json&) { return true; }));
  EXPECT_FALSE(client.update_status(path, [](json&) { return false; }));
  EXPECT_EQ(transport.requests().size(), 2u);
}

// /version: "30+" (managed clusters) and an empty minor with a gitVersion both read as 1.30.
TEST(KubeClient, ServerVersionReadsManagedClusterMinors) {
  EXPECT_EQ(parse_server_version({{"major", "1"}, {"minor", "30+"}}).minor, 30);
  const auto from_git =
      parse_server_version({{"major", ""}, {"minor", ""}, {"gitVersion", "v1.28.3"}});
  EXPECT_EQ(from_git.major, 1);
  EXPECT_EQ(from_git.minor, 28);
  ScriptedTransport transport;
  transport.push({200, R"({"major":"1","minor":"31","gitVersion":"v1.31.0"})", {}, {}, {}});
  KubeClient client(transport);
  EXPECT_EQ(client.server_version().minor, 31);
  EXPECT_EQ(transport.requests()[0].path_and_query, "/version");
}

// Timestamps are RFC 3339 UTC; MicroTime carries six fractional digits.
TEST(KubeClient, FormatsTimeAndMicroTime) {
  const auto time =
      std::chrono::system_clock::time_point(std::chrono::microseconds(1700000000123456));
  EXPECT_EQ(format_micro_time(time), "2023-11-14T22:13:20.123456Z");
  EXPECT_EQ(format_time(time), "2023-11-14T22:13:20Z");
}

}  // namespace
}  // namespace ipcmesh::kube
