#include "cpu_hogs.hpp"

#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "environment.hpp"

namespace ipcmesh::bench {
namespace {

[[noreturn]] void spin_forever(int core, pid_t bench) {
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (::getppid() != bench) ::_exit(0);  // the bench died before the line above took effect
  raise_to_side_priority();
  (void)pin_to_core(core);
  volatile unsigned long spins = 0;
  for (;;) spins = spins + 1;
}

}  // namespace

CpuHogs::CpuHogs(unsigned count, const std::vector<int>& cores) : requested_(count) {
  const pid_t bench = ::getpid();
  for (unsigned i = 0; i < count && !cores.empty(); ++i) {
    const int core = cores[i % cores.size()];
    const pid_t pid = ::fork();
    if (pid == 0) spin_forever(core, bench);
    if (pid > 0) {
      pids_.push_back(pid);
      cores_.push_back(core);
    }
  }
}

CpuHogs::~CpuHogs() {
  for (const pid_t pid : pids_) ::kill(pid, SIGKILL);
  for (const pid_t pid : pids_) ::waitpid(pid, nullptr, 0);
}

nlohmann::json CpuHogs::describe() const {
  return {{"count", requested_},
          {"running", pids_.size()},
          {"cores", cores_},
          {"what",
           "busy-loop processes, each in its own session with autogroup nice -20 and "
           "setpriority(-20) like the measured sides (best effort: both need privileges), "
           "pinned round-robin to the sides' cores, for the whole run"}};
}

}  // namespace ipcmesh::bench
