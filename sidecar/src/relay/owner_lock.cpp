#include "relay/owner_lock.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <thread>

namespace ipcmesh::relay {
namespace {

// Whether `path` still names the file open as `fd`: lock files are unlinked by their last holder,
// so a file locked after that is not the current one and the caller retries.
bool path_names(const std::string& path, int fd) {
  struct stat held {};
  struct stat named {};
  return ::fstat(fd, &held) == 0 && ::stat(path.c_str(), &named) == 0 &&
         held.st_ino == named.st_ino && held.st_dev == named.st_dev;
}

constexpr std::size_t kFileNameMax = 255;

std::string fnv1a_hex(std::string_view text) {
  std::uint64_t hash = 0xcbf29ce484222325ull;
  for (char c : text) {
    hash ^= static_cast<unsigned char>(c);
    hash *= 0x100000001b3ull;
  }
  char buffer[17];
  std::snprintf(buffer, sizeof buffer, "%016llx", static_cast<unsigned long long>(hash));
  return buffer;
}

}  // namespace

std::string owner_lock_path(OwnedKind kind, std::string_view posix_name,
                            std::string_view directory) {
  std::string_view bare = posix_name;
  if (!bare.empty() && bare.front() == '/') {
    bare.remove_prefix(1);
  }
  const std::string prefix =
      kind == OwnedKind::kSharedMemory ? ".ipcmesh-owner.shm." : ".ipcmesh-owner.mq.";
  std::string file = prefix + std::string(bare);
  if (file.size() > kFileNameMax) {
    file = prefix + std::string(bare.substr(0, 64)) + "." + fnv1a_hex(posix_name);
  }
  return std::string(directory) + "/" + file;
}

Result<OwnerLock> OwnerLock::try_acquire(const std::string& path) {
  // The holder unlinks the file when it exits; a contender may have opened the old inode just
  // before, so after locking we check that the path still names our inode, else retry.
  for (int attempt = 0; attempt < 16; ++attempt) {
    posix::UniqueFd fd(::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0660));
    if (!fd) {
      return tl::unexpected(system_error("open owner lock", path, errno));
    }
    if (::flock(fd.get(), LOCK_EX | LOCK_NB) != 0) {
      const int error = errno;
      if (error == EWOULDBLOCK) {
        const pid_t holder = read_lock_holder(path);
        return make_error(
            ErrorCode::kAlreadyExists,
            "owned by a live relay (pid " + std::to_string(holder) + ", lock " + path + ")");
      }
      return tl::unexpected(system_error("flock owner lock", path, error));
    }
    if (!path_names(path, fd.get())) continue;
    const std::string pid = std::to_string(::getpid()) + "\n";
    if (::ftruncate(fd.get(), 0) != 0 || ::pwrite(fd.get(), pid.data(), pid.size(), 0) < 0) {
      return tl::unexpected(system_error("write owner lock", path, errno));
    }
    return OwnerLock(std::move(fd), path);
  }
  return make_error(ErrorCode::kSystem, "owner lock " + path + " keeps being replaced");
}

OwnerLock::OwnerLock(OwnerLock&& other) noexcept
    : fd_(std::move(other.fd_)), path_(std::move(other.path_)) {}

OwnerLock& OwnerLock::operator=(OwnerLock&& other) noexcept {
  if (this != &other) {
    give_up();
    fd_ = std::move(other.fd_);
    path_ = std::move(other.path_);
  }
  return *this;
}

OwnerLock::~OwnerLock() {
  give_up();
}

void OwnerLock::give_up() noexcept {
  if (!fd_) return;
  // Unlink while still holding the lock, so nobody can lock this inode and believe it current.
  ::unlink(path_.c_str());
  fd_.reset();
}

std::string member_lock_path(std::string_view posix_name, std::string_view directory) {
  // Same naming (and shortening) as the owner locks, with its own prefix.
  std::string path = owner_lock_path(OwnedKind::kSharedMemory, posix_name, directory);
  const std::string from = ".ipcmesh-owner.shm.";
  path.replace(path.rfind(from), from.size(), ".ipcmesh-members.");
  return path;
}

Result<MemberLock> MemberLock::join(const std::string& path) {
  // The last member removes the file while holding it exclusively: a relay that opened that
  // inode just before must not believe itself a member of the current channel, so it checks that
  // the path still names what it locked, else retries. An exclusive holder is leaving: wait.
  for (int attempt = 0; attempt < 400; ++attempt) {
    posix::UniqueFd fd(::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0660));
    if (!fd) return tl::unexpected(system_error("open members lock", path, errno));
    if (::flock(fd.get(), LOCK_SH | LOCK_NB) != 0) {
      const int error = errno;
      if (error != EWOULDBLOCK)
        return tl::unexpected(system_error("flock members lock", path, error));
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
      continue;
    }
    if (!path_names(path, fd.get())) continue;
    return MemberLock(std::move(fd), path);
  }
  return make_error(ErrorCode::kSystem, "members lock " + path + " stays exclusively held");
}

MemberLock::MemberLock(MemberLock&& other) noexcept
    : fd_(std::move(other.fd_)),
      path_(std::move(other.path_)),
      exclusive_(std::exchange(other.exclusive_, false)) {}

MemberLock& MemberLock::operator=(MemberLock&& other) noexcept {
  if (this != &other) {
    leave();
    fd_ = std::move(other.fd_);
    path_ = std::move(other.path_);
    exclusive_ = std::exchange(other.exclusive_, false);
  }
  return *this;
}

MemberLock::~MemberLock() {
  leave();
}

void MemberLock::leave() noexcept {
  if (!fd_) return;
  if (exclusive_ || ::flock(fd_.get(), LOCK_EX | LOCK_NB) == 0) ::unlink(path_.c_str());
  fd_.reset();
  exclusive_ = false;
}

bool MemberLock::last_one_out() {
  if (!exclusive_) exclusive_ = ::flock(fd_.get(), LOCK_EX | LOCK_NB) == 0;
  return exclusive_;
}

pid_t read_lock_holder(const std::string& path) {
  std::ifstream in(path);
  long pid = 0;
  in >> pid;
  return in ? static_cast<pid_t>(pid) : 0;
}

}  // namespace ipcmesh::relay
