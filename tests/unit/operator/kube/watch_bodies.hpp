// What a scripted API server answers to the informer: a LIST page and one WATCH event line.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace ipcmesh::kube::testing {

inline std::string list_body(std::vector<nlohmann::json> items, const std::string& version,
                             const std::string& next = "") {
  nlohmann::json metadata = {{"resourceVersion", version}};
  if (!next.empty()) metadata["continue"] = next;
  return nlohmann::json{{"kind", "PodList"}, {"metadata", metadata}, {"items", items}}.dump();
}

inline std::string event(const std::string& type, const nlohmann::json& object) {
  return nlohmann::json{{"type", type}, {"object", object}}.dump();
}

}  // namespace ipcmesh::kube::testing
