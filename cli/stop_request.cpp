#include "stop_request.hpp"

#include <pthread.h>
#include <signal.h>

#include "relay/shutdown_signals.hpp"

namespace ipcmesh::cli {

StopRequest::StopRequest() {
  const sigset_t set = relay::shutdown_signal_set();
  // Blocked, a signal is queued even for PID 1 instead of being dropped as "no handler".
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  waiter_ = std::thread([this] { wait_for_signal(); });
}

StopRequest::~StopRequest() {
  closing_.store(true, std::memory_order_release);
  // Wake the waiter with a signal of our own; it sees closing_ and returns.
  pthread_kill(waiter_.native_handle(), SIGTERM);
  waiter_.join();
}

void StopRequest::on_stop(std::function<void()> wake) {
  std::lock_guard lock(mutex_);
  wake_ = std::move(wake);
}

bool StopRequest::sleep_for(std::chrono::nanoseconds duration) const {
  const auto deadline = std::chrono::steady_clock::now() + duration;
  while (!requested()) {
    const auto now = std::chrono::steady_clock::now();
    if (now >= deadline) return true;
    std::this_thread::sleep_for(
        std::min<std::chrono::nanoseconds>(deadline - now, std::chrono::milliseconds(50)));
  }
  return false;
}

void StopRequest::wait_for_signal() {
  const sigset_t set = relay::shutdown_signal_set();
  int signal_number = 0;
  while (sigwait(&set, &signal_number) != 0) {
  }
  if (closing_.load(std::memory_order_acquire)) return;
  requested_.store(true, std::memory_order_release);
  std::lock_guard lock(mutex_);
  if (wake_) wake_();
}

}  // namespace ipcmesh::cli
