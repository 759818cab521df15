#include "channel/sleeper_barrier.hpp"

#include <linux/membarrier.h>
#include <sys/syscall.h>
#include <unistd.h>

namespace ipcmesh::shm {
namespace {

long membarrier(int command) noexcept {
  return ::syscall(SYS_membarrier, command, 0U, 0);
}

}  // namespace

bool register_for_sleeper_barriers() noexcept {
  return membarrier(MEMBARRIER_CMD_REGISTER_GLOBAL_EXPEDITED) == 0;
}

bool sleeper_barrier_available() noexcept {
  const long offered = membarrier(MEMBARRIER_CMD_QUERY);
  if (offered < 0 || (offered & MEMBARRIER_CMD_GLOBAL_EXPEDITED) == 0) return false;
  return sleeper_barrier();
}

bool sleeper_barrier() noexcept {
  return membarrier(MEMBARRIER_CMD_GLOBAL_EXPEDITED) == 0;
}

}  // namespace ipcmesh::shm
