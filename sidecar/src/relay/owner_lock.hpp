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
#include "ipcmesh/posix/unique_fd.hpp"

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
  OwnerLock(posix::UniqueFd fd, std::string path) : fd_(std::move(fd)), path_(std::move(path)) {}
  void give_up() noexcept;
  posix::UniqueFd fd_;
  std::string path_;
};

// The relays of one node that serve a scope: Node channel (one per Pod) each hold a shared flock
// on its members file, "/dev/shm/.ipcmesh-members.<name>". The owner leaving asks for it
// exclusively: refused means other relays (and their Pods' apps) still use the channel, so the
// owner keeps the objects and one of them takes over; granted means it is the last one out.
class MemberLock {
 public:
  static Result<MemberLock> join(const std::string& path);

  MemberLock(MemberLock&& other) noexcept;
  MemberLock& operator=(MemberLock&& other) noexcept;
  MemberLock(const MemberLock&) = delete;
  MemberLock& operator=(const MemberLock&) = delete;
  ~MemberLock();  // leaves; the last member (last_one_out) also removes the file

  // True when no other relay is a member; the lock is then exclusive until destruction.
  bool last_one_out();

 private:
  MemberLock(posix::UniqueFd fd, std::string path) : fd_(std::move(fd)), path_(std::move(path)) {}
  void leave() noexcept;
  posix::UniqueFd fd_;
  std::string path_;
  bool exclusive_ = false;
};

std::string member_lock_path(std::string_view posix_name, std::string_view directory = "/dev/shm");

// The pid written into a lock file by its holder, 0 when unknown.
pid_t read_lock_holder(const std::string& path);

}  // namespace ipcmesh::relay
