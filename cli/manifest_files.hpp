// The objects named by kubectl-style -f arguments: a file, a directory (recursively: its .yaml,
// .yml and .json files, in path order, as `kubectl apply -R -f` reads them) or "-" (stdin).
#pragma once

#include <iosfwd>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace ipcmesh::cli {

struct Manifest {
  std::string source;     // the file it came from, or "-" for stdin
  nlohmann::json object;  // one YAML or JSON document
};

// Every document of every path, in order. Throws std::runtime_error naming the file that cannot
// be read or parsed. An empty result is for the caller to refuse ("no objects").
std::vector<Manifest> read_manifests(const std::vector<std::string>& paths, std::istream& in);

}  // namespace ipcmesh::cli
