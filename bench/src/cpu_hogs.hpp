// Competing CPU load for `--hog N` (issue 12): N processes that spin for the whole run on the
// cores the measured sides use, with the sides' own scheduling weight (a session each, autogroup
// nice -20), as a busy neighbour on a Kubernetes node would take the cores. What a transport
// keeps of its quiet figure then shows how its waiting behaves when the cores are shared.
#pragma once

#include <sys/types.h>

#include <nlohmann/json.hpp>
#include <vector>

namespace ipcmesh::bench {

class CpuHogs {
 public:
  // Starts `count` spinning processes, hog i pinned to cores[i % cores.size()]. They die with the
  // bench (PR_SET_PDEATHSIG) and are killed by the destructor. A hog that cannot be forked is
  // reported by describe(), not thrown: the run then says how many actually competed.
  CpuHogs(unsigned count, const std::vector<int>& cores);
  ~CpuHogs();
  CpuHogs(const CpuHogs&) = delete;
  CpuHogs& operator=(const CpuHogs&) = delete;

  // {"count", "running", "cores", "what"} for the report's settings.
  nlohmann::json describe() const;

 private:
  std::vector<pid_t> pids_;
  std::vector<int> cores_;
  unsigned requested_ = 0;
};

}  // namespace ipcmesh::bench
