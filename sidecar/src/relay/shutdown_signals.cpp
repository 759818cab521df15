#include "relay/shutdown_signals.hpp"

#include <pthread.h>
#include <signal.h>

#include <cerrno>

namespace ipcmesh::relay {
sigset_t shutdown_signal_set() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  return set;
}

ShutdownSignals::ShutdownSignals() {
  const sigset_t set = shutdown_signal_set();
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  signal(SIGPIPE, SIG_IGN);
}

std::optional<int> ShutdownSignals::wait(std::chrono::nanoseconds timeout) const {
  const sigset_t set = shutdown_signal_set();
  const auto seconds = std::chrono::duration_cast<std::chrono::seconds>(timeout);
  timespec limit{.tv_sec = static_cast<time_t>(seconds.count()),
                 .tv_nsec = static_cast<long>((timeout - seconds).count())};
  for (;;) {
    const int signal_number = sigtimedwait(&set, nullptr, &limit);
    if (signal_number > 0) {
      return signal_number;
    }
    if (errno != EINTR) {
      return std::nullopt;
    }
  }
}

int ShutdownSignals::wait() const {
  const sigset_t set = shutdown_signal_set();
  int signal_number = 0;
  while (sigwait(&set, &signal_number) != 0) {
  }
  return signal_number;
}

}  // namespace ipcmesh::relay
