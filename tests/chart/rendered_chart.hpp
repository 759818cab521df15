// charts/ipcmesh as the tests see it: helm run as a child process, and `helm template` output
// parsed into JSON objects (YAML's core schema: plain scalars become numbers, booleans and nulls,
// quoted ones stay strings) so tests read them with json pointers.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "process.hpp"

namespace ipcmesh::chart {

// The chart's folder in the source tree.
std::string chart_path();
std::string repo_path(const std::string& relative);
std::string read_file(const std::string& path);

// helm from $IPCMESH_TOOLS_BIN, else <build>/tools/bin, else <repo>/build/tools/bin; throws a
// message saying how to build it when none has it.
std::string helm_binary();
cluster::CommandResult helm(const std::vector<std::string>& args);

// Every document of a multi-document YAML stream, as JSON (empty documents dropped).
std::vector<nlohmann::json> parse_yaml_documents(const std::string& text);

inline constexpr const char* kReleaseName = "ipcmesh";
inline constexpr const char* kReleaseNamespace = "ipcmesh-system";

// `helm template ipcmesh <chart> -n ipcmesh-system --set ...` (each entry of `sets` is one
// --set's argument). The render must succeed: throws with helm's stderr otherwise.
class RenderedChart {
 public:
  explicit RenderedChart(const std::vector<std::string>& sets = {});

  const std::vector<nlohmann::json>& objects() const { return objects_; }
  // The one object of this kind (and name, when given); throws when there is none or several.
  const nlohmann::json& get(const std::string& kind, const std::string& name = "") const;
  std::size_t count(const std::string& kind) const;
  const std::string& text() const { return text_; }

 private:
  std::string text_;
  std::vector<nlohmann::json> objects_;
};

// A `helm template` that is expected to fail: its exit code and stderr.
cluster::CommandResult render_expecting_failure(const std::vector<std::string>& sets);

}  // namespace ipcmesh::chart
