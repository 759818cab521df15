#include "kube/kube_client.hpp"

#include <gtest/gtest.h>

#include "scripted_transport.hpp"

namespace ipcmesh::kube {
namespace {

using nlohmann::json;
using testing::ScriptedTransport;

const ResourcePath kChannels{"ipcmesh.io", "v1alpha1", "ipcchannels", "", "", ""};

// Paths follow the API's layout for the core group, named groups, namespaces and subresources.
TEST(ResourcePath, BuildsCoreGroupNamespacedAndSubresourcePaths) {
  EXPECT_EQ(kPods.path(), "/api/v1/pods");
  EXPECT_EQ(kPods.in("default").named("web").path(), "/api/v1/namespaces/default/pods/web");
  EXPECT_EQ(kChannels.in("team").named("frames").sub("status").path(),
            "/apis/ipcmesh.io/v1alpha1/namespaces/team/ipcchannels/frames/status");
  EXPECT_EQ(kLeases.in("ipcmesh-system").path(),
            "/apis/coordination.k8s.io/v1/namespaces/ipcmesh-system/leases");
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
