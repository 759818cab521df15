#include "ipcmesh/posix/mq_name.hpp"

#include <mqueue.h>

#include <cerrno>

namespace ipcmesh::posix {

MqName& MqName::operator=(MqName&& other) noexcept {
  if (this != &other) {
    unlink_if_owned();
    name_ = std::move(other.name_);
    owned_ = std::exchange(other.owned_, false);
  }
  return *this;
}

Result<void> MqName::unlink(const std::string& name) {
  if (::mq_unlink(name.c_str()) != 0) return tl::unexpected(system_error("mq_unlink", name, errno));
  return {};
}

void MqName::unlink_if_owned() noexcept {
  if (!std::exchange(owned_, false)) return;
  const int saved = errno;
  ::mq_unlink(name_.c_str());  // gone already (someone unlinked it by hand) is fine
  errno = saved;
}

}  // namespace ipcmesh::posix
