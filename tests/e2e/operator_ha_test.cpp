// Operator high availability in the cluster: the leader's Pod is deleted while Pods are being
// created. The webhook's failurePolicy is Fail, so no Pod may be admitted without injection; the
// other replica takes the Lease and the channel's status converges on the Pods that exist.
#include <gtest/gtest.h>

#include "e2e.hpp"

namespace ipcmesh::e2e {
namespace {

std::string lease_holder() {
  const auto lease = kubectl({"get", "lease", "ipcmesh-operator", "-n", kReleaseNamespace, "-o",
                              "jsonpath={.spec.holderIdentity}"});
  return lease.ok() ? lease.out : "";
}

// The identity is <pod name>_<per-process suffix>.
std::string pod_of(const std::string& identity) {
  return identity.substr(0, identity.find('_'));
}

TEST(OperatorHaTest, LeaderDeletedWhilePodsAreCreated) {
  const std::string ns = create_namespace("e2e-ha");
  kubectl_ok({"apply", "-n", ns, "-f", "-"}, ipc_channel("ha", "app", "ha", kSmallRing));
  std::string leader;
  ASSERT_TRUE(eventually([&] { return !(leader = lease_holder()).empty(); }))
      << "no operator holds the Lease";

  kubectl_ok({"delete", "pod", pod_of(leader), "-n", kReleaseNamespace, "--wait=false"});
  int admitted = 0;
  std::string refusals;
  for (int i = 0; i < 30; ++i) {
    // Never scheduled (no node has the label): this test is about admission and status.
    const auto created = kubectl({"apply", "-n", ns, "-f", "-"}, R"(apiVersion: v1
kind: Pod
metadata: {name: ha-)" + std::to_string(i) + R"(, labels: {app: ha}}
spec:
  nodeSelector: {ipcmesh.io/e2e: nowhere}
  containers: [{name: app, image: )" + tools_image() + R"(}]
)");
    if (created.ok()) {
      ++admitted;
    } else {
      refusals += created.err;
    }
  }
  EXPECT_GT(admitted, 0) << refusals;

  const auto pods = kubectl_json({"get", "pods", "-n", ns, "-l", "app=ha"});
  EXPECT_EQ(static_cast<int>(pods["items"].size()), admitted);
  for (const auto& pod : pods["items"]) {
    const auto& init = pod["spec"].value("initContainers", nlohmann::json::array());
    EXPECT_TRUE(!init.empty() && init[0]["name"] == "ipcmesh-relay")
        << pod["metadata"]["name"] << " was admitted without injection";
  }

  std::string holder;
  EXPECT_TRUE(eventually(
      [&] { return !(holder = lease_holder()).empty() && pod_of(holder) != pod_of(leader); },
      std::chrono::seconds(90), std::chrono::seconds(1)))
      << "the Lease stayed with " << holder;
  nlohmann::json status;
  const bool converged = eventually(
      [&] {
        status = kubectl_json({"get", "ipcchannel", "ha", "-n", ns})["status"];
        return status.value("selectedPods", -1) == admitted &&
               status.value("injectedPods", -1) == admitted;
      },
      std::chrono::seconds(90), std::chrono::seconds(1));
  EXPECT_TRUE(converged) << "status " << status.dump() << " with " << admitted << " Pods";
  // The Deployment replaced the deleted Pod: both replicas serve the webhook again.
  const auto available = kubectl({"wait", "--for=condition=Available", "deployment", "--all", "-n",
                                  kReleaseNamespace, "--timeout=120s"});
  EXPECT_TRUE(available.ok()) << available.err;
  kubectl({"delete", "namespace", ns, "--wait=false"});
}

}  // namespace
}  // namespace ipcmesh::e2e
