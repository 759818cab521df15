// A container of the local Docker engine, started detached by `docker run -d` and removed (with
// its anonymous volumes) on destruction, so a failing test leaves none behind. For the image tier
// and the cluster tier's run of the operator image.
#pragma once

#include <chrono>
#include <string>
#include <vector>

namespace ipcmesh::cluster {

class DockerContainer {
 public:
  // `docker run -d --name <prefix>-<pid>-<random> RUN_ARGS...`; started() says whether it ran.
  DockerContainer(const std::string& name_prefix, const std::vector<std::string>& run_args);
  ~DockerContainer();
  DockerContainer(const DockerContainer&) = delete;
  DockerContainer& operator=(const DockerContainer&) = delete;

  bool started() const { return start_error_.empty(); }
  const std::string& start_error() const { return start_error_; }
  const std::string& name() const { return name_; }
  // stdout and stderr of the container, the last `tail` lines (0: all).
  std::string logs(int tail = 0) const;
  // Waits for the container to exit; its exit code, or -1 when `timeout` passes first.
  int wait(std::chrono::seconds timeout) const;

 private:
  std::string name_;
  std::string start_error_;
};

}  // namespace ipcmesh::cluster
