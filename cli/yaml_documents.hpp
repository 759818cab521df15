// YAML (1.2 core schema: plain scalars become null/bool/int/float, quoted ones stay strings) to
// JSON and back, for the manifests ipcmeshctl reads and the objects it prints.
#pragma once

#include <nlohmann/json_fwd.hpp>
#include <string>
#include <vector>

namespace ipcmesh::cli {

// Multi-document text gives one JSON value per document (empty documents are skipped). Throws
// std::runtime_error with the line of the problem.
std::vector<nlohmann::json> documents_from_yaml(const std::string& text);
// The documents as YAML, separated by "---".
std::string documents_to_yaml(const std::vector<nlohmann::json>& documents);

}  // namespace ipcmesh::cli
