#include "channel/posix/liveness_lock.hpp"

#include <fcntl.h>

#include <cerrno>
#include <string>

namespace ipcmesh::posix {
namespace {
bool set_lock(int fd, std::int64_t offset, short type, int command, struct flock* out = nullptr) {
  struct flock lock {};
  lock.l_type = type;
  lock.l_whence = SEEK_SET;
  lock.l_start = offset;
  lock.l_len = 1;
  const bool ok = ::fcntl(fd, command, &lock) == 0;
  if (out != nullptr) *out = lock;
  return ok;
}
}  // namespace

bool try_lock_byte(int fd, std::int64_t offset) {
  return set_lock(fd, offset, F_WRLCK, F_OFD_SETLK);
}

void unlock_byte(int fd, std::int64_t offset) {
  set_lock(fd, offset, F_UNLCK, F_OFD_SETLK);
}

bool locked_by_other(int fd, std::int64_t offset) {
  struct flock lock {};
  if (!set_lock(fd, offset, F_WRLCK, F_OFD_GETLK, &lock)) return true;
  return lock.l_type != F_UNLCK;
}

Result<UniqueFd> open_own_description(int fd, std::string_view name) {
  const std::string path = "/proc/self/fd/" + std::to_string(fd);
  UniqueFd own(::open(path.c_str(), O_RDWR | O_CLOEXEC));
  if (!own) return tl::unexpected(system_error("open(" + path + ")", name, errno));
  return own;
}

}  // namespace ipcmesh::posix
