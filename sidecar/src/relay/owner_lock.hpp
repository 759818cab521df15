// Who owns a channel's POSIX object: a lock file beside the objects, in /dev/shm, held with
// flock() for the relay's whole life. The kernel drops the lock when the relay dies (also on
// kill -9), so "lock acquired" proves that no live relay owns the object and a leftover object
// of that name is stale and may be unlinked. /dev/shm is shared exactly like the objects are
// (per Pod, or the host's with hostIPC), so two relays that could collide see the same lock.
#pragma once

#include <sys/types.h>

#include <string>
#include <string_view>

#include "ipcmesh/error.hpp"

namespace ipcmesh::relay {

enum class OwnedKind : std::uint8_t { kSharedMemory, kMessageQueue };

// "/dev/shm/.ipcmesh-owner.shm.ipcmesh.ns.name" (a hash replaces names that would not fit).
std::string owner_lock_path(OwnedKind kind, std::string_view posix_name,
                            std::string_view directory = "/dev/shm");

class OwnerLock {
 public:
  // Non-blocking. kAlreadyExists when a live process holds it; the message names its pid.
  static Result<OwnerLock> try_acquire(const std::string& path);

  OwnerLock(OwnerLock&& other) noexcept;
  OwnerLock& operator=(OwnerLock&& other) noexcept;
  OwnerLock(const OwnerLock&) = delete;
  OwnerLock& operator=(const OwnerLock&) = delete;
  ~OwnerLock();  // unlinks the file, then unlocks

  const std::string& path() const { return path_; }

 private:
  OwnerLock(int fd, std::string path) : fd_(fd), path_(std::move(path)) {}
  int fd_ = -1;
  std::string path_;
};

// The pid written into a lock file by its holder, 0 when unknown.
pid_t read_lock_holder(const std::string& path);

}  // namespace ipcmesh::relay
