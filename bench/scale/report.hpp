// The scale bench's figures as a table and its targets (issue 13) met or MISSED. Pure: reads the
// JSON the scenario produced, so the unit tier checks the verdicts without a cluster.
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

namespace ipcmesh::bench::scale {

struct TargetRow {
  std::string measure;
  std::string value;
  std::string target;
  std::optional<bool> met;  // nullopt: not measured in this run (n/a)
};

std::vector<TargetRow> evaluate_targets(const nlohmann::json& results);
bool any_missed(const std::vector<TargetRow>& rows);
// The figures of each step, then the targets table.
std::string format_report(const nlohmann::json& results, const std::vector<TargetRow>& rows);

}  // namespace ipcmesh::bench::scale
