// SIGTERM/SIGINT handling without async handlers: main blocks them before any thread starts
// (threads inherit the mask), then waits for them synchronously with sigtimedwait. Nothing runs
// in signal context, so shutdown is ordinary code.
#pragma once

#include <signal.h>

#include <chrono>
#include <optional>

namespace ipcmesh::relay {

// SIGTERM and SIGINT: how Kubernetes (and a terminal) ask a process to stop.
sigset_t shutdown_signal_set();

class ShutdownSignals {
 public:
  // Blocks SIGTERM and SIGINT in the calling thread (and every thread it starts later) and
  // ignores SIGPIPE (a scraper that hangs up must not kill the relay).
  ShutdownSignals();
  // Returns the signal number, or nullopt when the timeout passed first.
  std::optional<int> wait(std::chrono::nanoseconds timeout) const;
  // Blocks until a signal arrives.
  int wait() const;
};

}  // namespace ipcmesh::relay
