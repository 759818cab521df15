// Processes for the cluster tier: run a command to completion and capture its output, or keep
// one running in the background (its output in a log file) and stop it on destruction.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <string>
#include <vector>

namespace ipcmesh::cluster {

struct CommandResult {
  int exit_code = -1;  // 128 + signal when killed
  std::string out;
  std::string err;
  bool ok() const { return exit_code == 0; }
};

// Runs argv[0] (searched in PATH) with `input` on stdin; throws only when it cannot start.
CommandResult run_command(const std::vector<std::string>& argv, const std::string& input = "",
                          const std::vector<std::string>& extra_environment = {});

class BackgroundProcess {
 public:
  BackgroundProcess() = default;
  // Starts argv in its own process group with stdout and stderr appended to log_file.
  BackgroundProcess(const std::vector<std::string>& argv, const std::string& log_file,
                    const std::vector<std::string>& extra_environment = {});
  BackgroundProcess(BackgroundProcess&& other) noexcept;
  BackgroundProcess& operator=(BackgroundProcess&& other) noexcept;
  BackgroundProcess(const BackgroundProcess&) = delete;
  BackgroundProcess& operator=(const BackgroundProcess&) = delete;
  ~BackgroundProcess();

  pid_t pid() const { return pid_; }
  bool running();
  // SIGTERM, then SIGKILL after `grace`; returns the exit code (128 + signal when killed).
  int stop(std::chrono::milliseconds grace = std::chrono::seconds(10));
  // SIGKILL at once: a crash, for failover tests.
  void kill_now();

 private:
  int reap(bool wait);
  pid_t pid_ = -1;
  int exit_code_ = -1;
};

}  // namespace ipcmesh::cluster
