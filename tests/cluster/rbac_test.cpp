// The chart's RBAC is least privilege: `kubectl auth can-i` as the operator's ServiceAccount (the
// one ClusterEnvironment made from charts/ipcmesh, the one every OperatorProcess runs as) allows
// what the operator's code does and denies the rest. That the allowed set is *enough* is proven
// by the rest of the cluster tier, which runs every operator under it.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "cluster.hpp"

namespace ipcmesh::cluster {
namespace {

// One `kubectl auth can-i` question: verb, resource (resource.group, optionally /subresource)
// and namespace ("*" for all namespaces, "" for a cluster-scoped resource).
struct Access {
  std::string verb;
  std::string resource;
  std::string ns;
  std::string why;  // what the operator does with it, or why it must not
};

std::string describe(const Access& access) {
  return access.verb + " " + access.resource +
         (access.ns == "*"    ? " in every namespace"
          : access.ns.empty() ? ""
                              : " in " + access.ns);
}

// Asks the API server (SubjectAccessReview through impersonation) whether the operator's
// ServiceAccount, with the groups its token carries, may do `access`.
bool operator_can(const Access& access) {
  // "resource/sub" is a subresource here; can-i itself reads "type/x" as a resource name.
  const auto slash = access.resource.find('/');
  std::vector<std::string> args = {
      "auth", "can-i", access.verb, access.resource.substr(0, slash), "--as", operator_user()};
  for (const std::string& group : {std::string("system:serviceaccounts"),
                                   std::string("system:serviceaccounts:") + kOperatorNamespace,
                                   std::string("system:authenticated")}) {
    args.insert(args.end(), {"--as-group", group});
  }
  if (slash != std::string::npos) {
    args.push_back("--subresource=" + access.resource.substr(slash + 1));
  }
  if (access.ns == "*") {
    args.push_back("--all-namespaces");
  } else if (!access.ns.empty()) {
    args.insert(args.end(), {"--namespace", access.ns});
  }
  const CommandResult result = kubectl(args);
  // can-i prints "yes" and exits 0, or "no" and exits 1. A misspelt resource also gets "no", with
  // a warning: that would pass a deny case for nothing, so that warning fails the case. (Cluster-
  // scoped resources get a harmless "not namespace scoped" warning: the kubeconfig's default
  // namespace.)
  const bool yes = result.ok() && result.out.rfind("yes", 0) == 0;
  const bool no = result.exit_code == 1 && result.out.rfind("no", 0) == 0;
  if ((!yes && !no) || result.err.find("doesn't have a resource type") != std::string::npos) {
    ADD_FAILURE() << "kubectl auth can-i " << describe(access) << ": exit " << result.exit_code
                  << ", out '" << result.out << "', err '" << result.err << "'";
  }
  return yes;
}

// A namespace the tests never create: RBAC answers for namespaces that do not exist as well.
constexpr const char* kAppNamespace = "team-a";

// The operator needs each of these (operator/src: informers, controller, leader election).
const std::vector<Access> kAllowed = {
    {"list", "pods", "*", "the Pod informer lists every namespace"},
    {"watch", "pods", "*", "the Pod informer watches every namespace"},
    {"get", "pods", kAppNamespace, "reading one Pod is no more than listing them"},
    {"list", "ipcchannels.ipcmesh.io", "*", "the channel informer lists every namespace"},
    {"watch", "ipcchannels.ipcmesh.io", "*", "the channel informer watches every namespace"},
    {"get", "ipcchannels.ipcmesh.io", kAppNamespace, "status writes re-read the channel first"},
    {"update", "ipcchannels.ipcmesh.io/status", kAppNamespace, "status is written with PUT"},
    {"patch", "ipcchannels.ipcmesh.io/status", kAppNamespace, "status may be patched"},
    {"list", "namespaces", "",
     "channels in namespaces without the injection label get a condition"},
    {"watch", "namespaces", "", "the namespace label check follows label changes"},
    {"create", "events.events.k8s.io", kAppNamespace, "the controller reports on channels"},
    {"create", "events", kAppNamespace, "core v1 Events where events.k8s.io is missing"},
    {"patch", "events.events.k8s.io", kAppNamespace, "Event series (the chart's spec)"},
    {"get", "leases.coordination.k8s.io", kOperatorNamespace, "leader election reads its Lease"},
    {"create", "leases.coordination.k8s.io", kOperatorNamespace, "the first replica makes it"},
    {"update", "leases.coordination.k8s.io", kOperatorNamespace, "the leader renews it"},
};

// None of these: no Secrets, no writes to Pods or channel specs, no Leases elsewhere, nothing
// cluster-wide that an operator compromised through its webhook could use to spread.
const std::vector<Access> kDenied = {
    {"get", "secrets", kOperatorNamespace, "its certificate is a mounted file, not an API read"},
    {"get", "secrets", kAppNamespace, "app Secrets are none of its business"},
    {"list", "secrets", "*", "no Secret listing anywhere"},
    {"watch", "secrets", "*", "no Secret watching anywhere"},
    {"create", "pods", kAppNamespace, "the webhook patches Pods in its answer, never creates them"},
    {"delete", "pods", kAppNamespace, "a restart is the user's call, not the operator's"},
    {"update", "pods", kAppNamespace, "no Pod writes"},
    {"patch", "pods", kAppNamespace, "no Pod writes"},
    {"create", "pods/exec", kAppNamespace, "no way into app containers"},
    {"create", "ipcchannels.ipcmesh.io", kAppNamespace, "channels are the user's"},
    {"update", "ipcchannels.ipcmesh.io", kAppNamespace, "only status, never spec"},
    {"patch", "ipcchannels.ipcmesh.io", kAppNamespace, "only status, never spec"},
    {"delete", "ipcchannels.ipcmesh.io", kAppNamespace, "channels are the user's"},
    {"delete", "events.events.k8s.io", kAppNamespace, "it only adds Events"},
    {"update", "leases.coordination.k8s.io", kAppNamespace, "Leases only in its own namespace"},
    {"create", "leases.coordination.k8s.io", "kube-system", "Leases only in its own namespace"},
    {"delete", "leases.coordination.k8s.io", kOperatorNamespace, "leader election never deletes"},
    {"update", "mutatingwebhookconfigurations.admissionregistration.k8s.io", "",
     "Helm owns the webhook registration"},
    {"patch", "mutatingwebhookconfigurations.admissionregistration.k8s.io", "",
     "Helm owns the webhook registration"},
    {"update", "customresourcedefinitions.apiextensions.k8s.io", "", "Helm owns the CRD"},
    {"update", "namespaces", "", "it reads namespace labels, never sets them"},
    {"patch", "namespaces", "", "it reads namespace labels, never sets them"},
    {"create", "namespaces", "", "no namespace writes"},
    {"delete", "namespaces", "", "no namespace writes"},
    {"get", "nodes", "", "nothing on nodes"},
    {"list", "nodes", "", "nothing on nodes"},
    {"watch", "nodes", "", "nothing on nodes"},
    {"update", "nodes", "", "nothing on nodes"},
    {"patch", "nodes", "", "nothing on nodes"},
    {"get", "nodes/proxy", "", "nothing on nodes (the kubelet API)"},
    {"get", "configmaps", kOperatorNamespace, "its configuration is a mounted file"},
    {"create", "serviceaccounts/token", kOperatorNamespace, "no minting of other identities"},
    {"create", "rolebindings.rbac.authorization.k8s.io", kOperatorNamespace, "no RBAC writes"},
    {"create", "clusterrolebindings.rbac.authorization.k8s.io", "", "no RBAC writes"},
    {"impersonate", "users", "", "no impersonation"},
};

// Every permission the operator's code uses is granted to the chart's ServiceAccount.
TEST(ChartRbac, GrantsTheOperatorWhatItsCodeUses) {
  for (const Access& access : kAllowed) {
    EXPECT_TRUE(operator_can(access))
        << operator_user() << " may not " << describe(access) << ", but " << access.why;
  }
}

// Nothing beyond that is granted: no Secrets, no Pod or spec writes, no Leases elsewhere, no
// cluster-wide writes, nothing on nodes.
TEST(ChartRbac, DeniesEverythingTheOperatorDoesNotNeed) {
  for (const Access& access : kDenied) {
    EXPECT_FALSE(operator_can(access))
        << operator_user() << " may " << describe(access) << ", but " << access.why;
  }
}

// The operators of this tier really run as that account: the kubeconfig they get authenticates
// as the chart's ServiceAccount, and a real request outside its grant is Forbidden.
TEST(ChartRbac, TheTiersOperatorKubeconfigIsTheChartsServiceAccount) {
  const ControlPlane& plane = ClusterEnvironment::control_plane();
  const std::string kubectl_binary = plane.tools_bin + "/kubectl";
  const CommandResult whoami = run_command(
      {kubectl_binary, "--kubeconfig", plane.operator_kubeconfig, "auth", "whoami", "-o", "json"});
  ASSERT_TRUE(whoami.ok()) << whoami.err;
  const auto review = nlohmann::json::parse(whoami.out);
  EXPECT_EQ(review.at("status").at("userInfo").value("username", ""), operator_user());

  const CommandResult secrets =
      run_command({kubectl_binary, "--kubeconfig", plane.operator_kubeconfig, "get", "secrets",
                   "-n", kOperatorNamespace});
  EXPECT_FALSE(secrets.ok());
  EXPECT_NE(secrets.err.find("Forbidden"), std::string::npos) << secrets.err;
}

}  // namespace
}  // namespace ipcmesh::cluster
