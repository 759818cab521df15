#include "channel/posix/shm_name.hpp"

#include <sys/mman.h>
#include <sys/stat.h>

#include <cerrno>

namespace ipcmesh::posix {

Result<ObjectIdentity> ObjectIdentity::of(int fd, const std::string& name) {
  struct stat st {};
  if (::fstat(fd, &st) != 0) return tl::unexpected(system_error("fstat", name, errno));
  return ObjectIdentity{st.st_dev, st.st_ino};
}

NameTarget name_target(const std::string& name, const ObjectIdentity& identity) {
  const std::string path = "/dev/shm" + name;
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return NameTarget::kMissing;
  return ObjectIdentity{st.st_dev, st.st_ino} == identity ? NameTarget::kSame : NameTarget::kOther;
}

ShmName& ShmName::operator=(ShmName&& other) noexcept {
  if (this != &other) {
    unlink_if_owned();
    name_ = std::move(other.name_);
    identity_ = other.identity_;
    owned_ = std::exchange(other.owned_, false);
  }
  return *this;
}

Result<void> ShmName::unlink(const std::string& name) {
  if (::shm_unlink(name.c_str()) != 0) {
    if (errno == ENOENT) return make_error(ErrorCode::kNotFound, "shm " + name + " does not exist");
    return tl::unexpected(system_error("shm_unlink", name, errno));
  }
  return {};
}

void ShmName::unlink_if_owned() noexcept {
  if (!std::exchange(owned_, false)) return;
  const int saved = errno;
  // The name may refer to a newer object by now (someone replaced this one): never unlink that.
  if (name_target(name_, identity_) != NameTarget::kOther) ::shm_unlink(name_.c_str());
  errno = saved;
}

}  // namespace ipcmesh::posix
