#include "operator_discovery.hpp"

#include <algorithm>

#include "cluster_objects.hpp"
#include "main/operator_config.hpp"
#include "webhook/pod_json.hpp"

namespace ipcmesh::cli {
namespace {

using nlohmann::json;
namespace pod_json = webhook::pod_json;

const json* template_spec(const json& deployment) {
  const json* spec = pod_json::object_member(deployment, "spec");
  const json* pod_template = spec ? pod_json::object_member(*spec, "template") : nullptr;
  return pod_template ? pod_json::object_member(*pod_template, "spec") : nullptr;
}

// The ConfigMap the operator's Pods mount: a configMap volume, or a source of a projected one
// (the chart projects the config and the webhook's key pair into one volume).
std::string config_map_of(const json& pod_spec) {
  const json* volumes = pod_json::array_member(pod_spec, "volumes");
  if (!volumes) return "";
  for (const json& volume : *volumes) {
    if (const json* config_map = pod_json::object_member(volume, "configMap")) {
      return pod_json::string_member(*config_map, "name");
    }
    const json* projected = pod_json::object_member(volume, "projected");
    const json* sources = projected ? pod_json::array_member(*projected, "sources") : nullptr;
    if (!sources) continue;
    for (const json& source : *sources) {
      if (const json* config_map = pod_json::object_member(source, "configMap")) {
        return pod_json::string_member(*config_map, "name");
      }
    }
  }
  return "";
}

OperatorDeployment deployment_from_json(const json& object) {
  OperatorDeployment deployment;
  const json* meta = pod_json::object_member(object, "metadata");
  if (!meta) throw MalformedObject("an operator Deployment without metadata");
  deployment.namespace_name = pod_json::string_member(*meta, "namespace");
  deployment.name = pod_json::string_member(*meta, "name");
  if (const json* labels = pod_json::object_member(*meta, "labels")) {
    deployment.version = pod_json::string_member(*labels, "app.kubernetes.io/version");
  }
  if (const json* spec = template_spec(object)) {
    const json* containers = pod_json::array_member(*spec, "containers");
    if (containers && !containers->empty() && containers->front().is_object()) {
      deployment.image = pod_json::string_member(containers->front(), "image");
    }
    deployment.config_map = config_map_of(*spec);
  }
  return deployment;
}

}  // namespace

std::vector<OperatorDeployment> find_operator_deployments(kube::KubeClient& client) {
  kube::ListOptions options;
  options.label_selector = kOperatorSelector;
  std::vector<OperatorDeployment> found;
  for (const json& item : list_all(client, kDeployments, options)) {
    found.push_back(deployment_from_json(item));
  }
  std::sort(found.begin(), found.end(), [](const auto& a, const auto& b) {
    return std::tie(a.namespace_name, a.name) < std::tie(b.namespace_name, b.name);
  });
  return found;
}

OperatorPolicy read_operator_policy(kube::KubeClient& client) {
  OperatorPolicy policy;
  try {
    const auto deployments = find_operator_deployments(client);
    if (deployments.empty()) {
      policy.source = "the operator's defaults (no operator Deployment found)";
      return policy;
    }
    const OperatorDeployment& found = deployments.front();
    operator_main::OperatorConfig config;
    const std::string where = found.namespace_name + "/" + found.config_map;
    if (!found.config_map.empty()) {
      const json map = client.get(kConfigMaps.in(found.namespace_name).named(found.config_map));
      const json* data = pod_json::object_member(map, "data");
      operator_main::apply_yaml(config, data ? pod_json::string_member(*data, "config.yaml") : "");
    }
    config.mutation.policy.operator_namespace = found.namespace_name;
    policy.mutation = config.mutation;
    policy.namespace_label = config.namespace_label;
    policy.source =
        found.config_map.empty()
            ? "the defaults of operator " + found.namespace_name + "/" + found.name
            : "ConfigMap " + where + " of operator " + found.namespace_name + "/" + found.name;
  } catch (const std::exception& error) {
    policy = OperatorPolicy{};
    policy.source = std::string("the operator's defaults (its configuration could not be read: ") +
                    error.what() + ")";
  }
  return policy;
}

std::string image_tag(const std::string& image) {
  if (image.find('@') != std::string::npos) return "";
  const auto colon = image.rfind(':');
  const auto slash = image.rfind('/');
  if (colon == std::string::npos || (slash != std::string::npos && colon < slash)) return "";
  return image.substr(colon + 1);
}

}  // namespace ipcmesh::cli
