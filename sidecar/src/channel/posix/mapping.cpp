#include "channel/posix/mapping.hpp"

#include <sys/mman.h>

#include <cerrno>

namespace ipcmesh::posix {

Result<Mapping> Mapping::map_shared(int fd, std::uint64_t bytes, std::string_view name) {
  void* base = ::mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  if (base == MAP_FAILED) return tl::unexpected(system_error("mmap", name, errno));
  return Mapping(static_cast<std::byte*>(base), bytes);
}

void Mapping::unmap() noexcept {
  if (data_ == nullptr) return;
  // Also right after a quarantine (rule F2): the private pages replaced the shared ones at the
  // same addresses, so this unmaps them.
  const int saved = errno;
  ::munmap(std::exchange(data_, nullptr), std::exchange(size_, 0));
  errno = saved;
}

}  // namespace ipcmesh::posix
