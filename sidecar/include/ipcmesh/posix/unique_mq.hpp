// A POSIX message queue descriptor that closes itself (mq_close). Public because MessageQueue,
// which apps hold, keeps its descriptor in one.
#pragma once

#include <mqueue.h>

#include <cerrno>
#include <utility>

namespace ipcmesh::posix {

inline constexpr mqd_t kNoQueue = static_cast<mqd_t>(-1);

class UniqueMq {
 public:
  UniqueMq() = default;
  explicit UniqueMq(mqd_t descriptor) noexcept : descriptor_(descriptor) {}
  UniqueMq(UniqueMq&& other) noexcept : descriptor_(other.release()) {}
  UniqueMq& operator=(UniqueMq&& other) noexcept {
    if (this != &other) reset(other.release());
    return *this;
  }
  UniqueMq(const UniqueMq&) = delete;
  UniqueMq& operator=(const UniqueMq&) = delete;
  ~UniqueMq() { reset(); }

  mqd_t get() const noexcept { return descriptor_; }
  explicit operator bool() const noexcept { return descriptor_ != kNoQueue; }
  [[nodiscard]] mqd_t release() noexcept { return std::exchange(descriptor_, kNoQueue); }
  // errno is kept, as UniqueFd does.
  void reset(mqd_t descriptor = kNoQueue) noexcept {
    const mqd_t old = std::exchange(descriptor_, descriptor);
    if (old == kNoQueue) return;
    const int saved = errno;
    ::mq_close(old);
    errno = saved;
  }

 private:
  mqd_t descriptor_ = kNoQueue;
};

}  // namespace ipcmesh::posix
