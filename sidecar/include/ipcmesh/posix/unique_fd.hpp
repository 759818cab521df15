// A file descriptor that closes itself: every fd the library and the relay open (shm objects,
// liveness descriptions, sockets, eventfds, lock files) is held by one of these, so no early
// return can leak one. Public because the handle classes apps hold (Publisher, Subscriber) keep
// their liveness descriptor in one.
#pragma once

#include <unistd.h>

#include <cerrno>
#include <utility>

namespace ipcmesh::posix {

class UniqueFd {
 public:
  UniqueFd() = default;
  explicit UniqueFd(int fd) noexcept : fd_(fd) {}
  UniqueFd(UniqueFd&& other) noexcept : fd_(other.release()) {}
  UniqueFd& operator=(UniqueFd&& other) noexcept {
    if (this != &other) reset(other.release());
    return *this;
  }
  UniqueFd(const UniqueFd&) = delete;
  UniqueFd& operator=(const UniqueFd&) = delete;
  ~UniqueFd() { reset(); }

  int get() const noexcept { return fd_; }
  explicit operator bool() const noexcept { return fd_ >= 0; }
  // Hands the descriptor to the caller, who closes it from now on.
  [[nodiscard]] int release() noexcept { return std::exchange(fd_, -1); }
  // Closes what it held (dropping every lock taken through that description) and takes `fd`.
  // errno is kept: callers build their error message from the errno of the call that failed,
  // often after the owner of a half-made resource has closed it.
  void reset(int fd = -1) noexcept {
    const int old = std::exchange(fd_, fd);
    if (old < 0) return;
    const int saved = errno;
    ::close(old);
    errno = saved;
  }

 private:
  int fd_ = -1;
};

}  // namespace ipcmesh::posix
