// ipcmesh-scale-bench: the operator at scale against a real control plane (issue 13). Thin:
// parse the options, run the scenario (scenario.hpp), print the figures and the targets, write
// --json-out. A missed target is reported, never silent; --fail-on-miss turns it into exit 1.
#include <spdlog/spdlog.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>

#include "report.hpp"
#include "scale_options.hpp"
#include "scenario.hpp"

int main(int argc, char** argv) {
  using namespace ipcmesh::bench::scale;
  const ScaleOptionsOutcome parsed = parse_scale_options(argc, argv);
  if (!parsed.options) {
    (parsed.exit_code == 0 ? std::cout : std::cerr) << parsed.output;
    return parsed.exit_code;
  }
  const ScaleOptions& options = *parsed.options;
  spdlog::set_level(spdlog::level::warn);  // the bench's informer logs only trouble
  nlohmann::json results;
  try {
    results = run_scale_scenario(options);
  } catch (const std::exception& error) {
    std::cerr << "ipcmesh-scale-bench: " << error.what() << "\n(control plane logs in "
              << options.cluster_dir << "/logs)\n";
    return 1;
  }
  const std::vector<TargetRow> rows = evaluate_targets(results);
  nlohmann::json targets = nlohmann::json::array();
  for (const auto& row : rows) {
    targets.push_back({{"measure", row.measure},
                       {"value", row.value},
                       {"target", row.target},
                       {"met", row.met ? nlohmann::json(*row.met) : nlohmann::json(nullptr)}});
  }
  results["targets"] = targets;
  std::cout << format_report(results, rows);
  if (!options.json_out.empty()) {
    const std::filesystem::path path(options.json_out);
    if (path.has_parent_path()) std::filesystem::create_directories(path.parent_path());
    std::ofstream out(path);
    out << results.dump(2) << "\n";
    if (!out) {
      std::cerr << "ipcmesh-scale-bench: cannot write " << options.json_out << "\n";
      return 1;
    }
    std::cout << "wrote " << options.json_out << "\n";
  }
  if (any_missed(rows)) {
    std::cout << "some targets were MISSED" << (options.fail_on_miss ? " (--fail-on-miss)" : "")
              << "\n";
    if (options.fail_on_miss) return 1;
  }
  return 0;
}
