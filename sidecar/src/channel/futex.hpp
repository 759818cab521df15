// Cross-process futex wait/wake on a 32-bit word in shared memory (no FUTEX_PRIVATE_FLAG).
#pragma once

#include <linux/futex.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <climits>
#include <cstdint>

namespace ipcmesh::shm {

// Sleeps while *word == expected, at most `timeout` (relative). Spurious returns are fine: every
// caller re-checks its condition.
inline void futex_wait(std::atomic<std::uint32_t>& word, std::uint32_t expected,
                       std::chrono::nanoseconds timeout) {
  if (timeout == std::chrono::nanoseconds::max()) {  // no timeout: sleep until woken
    syscall(SYS_futex, reinterpret_cast<std::uint32_t*>(&word), FUTEX_WAIT, expected, nullptr,
            nullptr, 0);
    return;
  }
  timespec ts{};
  const auto secs = std::chrono::duration_cast<std::chrono::seconds>(timeout);
  ts.tv_sec = static_cast<time_t>(secs.count());
  ts.tv_nsec = static_cast<long>((timeout - secs).count());
  syscall(SYS_futex, reinterpret_cast<std::uint32_t*>(&word), FUTEX_WAIT, expected, &ts, nullptr,
          0);
}

inline void futex_wake_all(std::atomic<std::uint32_t>& word) {
  syscall(SYS_futex, reinterpret_cast<std::uint32_t*>(&word), FUTEX_WAKE, INT_MAX, nullptr, nullptr,
          0);
}

inline void cpu_relax() {
  __builtin_ia32_pause();
}

}  // namespace ipcmesh::shm
