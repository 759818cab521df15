// The ipcmesh operator as installed in the cluster: its Deployment, found by the labels the chart
// puts on it (app.kubernetes.io/part-of=ipcmesh, app.kubernetes.io/component=operator) in any
// namespace, its version (app.kubernetes.io/version), and the webhook policy it runs with (the
// chart's ConfigMap, read by the operator's own parser, operator_main::apply_yaml).
#pragma once

#include <string>
#include <vector>

#include "kube/kube_client.hpp"
#include "why_diagnosis.hpp"

namespace ipcmesh::cli {

inline constexpr const char* kOperatorSelector =
    "app.kubernetes.io/part-of=ipcmesh,app.kubernetes.io/component=operator";

struct OperatorDeployment {
  std::string namespace_name;
  std::string name;
  std::string version;     // the app.kubernetes.io/version label; "" without one
  std::string image;       // the operator container's image
  std::string config_map;  // the ConfigMap mounted into its Pods; "" without one
};

// Every operator Deployment, sorted by namespace and name. Throws kube::ApiError (e.g. 403 when
// the user may not list Deployments cluster-wide).
std::vector<OperatorDeployment> find_operator_deployments(kube::KubeClient& client);

// The policy of the first operator found; the defaults (with `source` saying so) when there is
// none or it cannot be read. Never throws for a missing or forbidden operator.
OperatorPolicy read_operator_policy(kube::KubeClient& client);

// The image's tag ("ipcmesh/relay:0.1.0" -> "0.1.0"; a digest or no tag gives "").
std::string image_tag(const std::string& image);

}  // namespace ipcmesh::cli
