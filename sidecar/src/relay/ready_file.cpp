#include "relay/ready_file.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>

#include "ipcmesh/channel_spec.hpp"
#include "ipcmesh/posix/unique_fd.hpp"

namespace ipcmesh::relay {

Result<ReadyFile> ReadyFile::write(const std::string& control_dir, const std::string& content) {
  if (::mkdir(control_dir.c_str(), 0775) != 0 && errno != EEXIST) {
    return tl::unexpected(system_error("mkdir control dir", control_dir, errno));
  }
  const std::string path = control_dir + "/" + std::string(kReadyFileName);
  const std::string temp = path + ".tmp." + std::to_string(::getpid());
  posix::UniqueFd fd(::open(temp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
  if (!fd) {
    return tl::unexpected(system_error("create ready file", temp, errno));
  }
  const bool written =
      ::write(fd.get(), content.data(), content.size()) == static_cast<ssize_t>(content.size());
  const int write_error = errno;
  fd.reset();  // closed before the rename: readers see the whole file or none
  if (!written) {
    ::unlink(temp.c_str());
    return tl::unexpected(system_error("write ready file", temp, write_error));
  }
  if (::rename(temp.c_str(), path.c_str()) != 0) {
    const int error = errno;
    ::unlink(temp.c_str());
    return tl::unexpected(system_error("rename ready file", path, error));
  }
  return ReadyFile(path);
}

void ReadyFile::remove() {
  if (!path_.empty()) {
    ::unlink(path_.c_str());
    path_.clear();
  }
}

}  // namespace ipcmesh::relay
