// The name of a POSIX shared-memory object this process created (or adopted): shm_unlink on
// destruction unless released, as iceoryx's PosixSharedMemory does with its ownership flag. It
// never unlinks a name that refers to another object by then (a newer generation, something
// foreign): it remembers the object's device and inode and compares them first (rule G4).
#pragma once

#include <sys/types.h>

#include <string>
#include <utility>

#include "ipcmesh/error.hpp"

namespace ipcmesh::posix {

// What a shared-memory name refers to now, compared with an object a process holds open.
enum class NameTarget : std::uint8_t {
  kSame,     // still that object
  kMissing,  // unlinked and not (yet) created again
  kOther,    // another object
};

// The object a descriptor refers to, to tell it from whatever its name refers to later.
struct ObjectIdentity {
  dev_t device = 0;
  ino_t inode = 0;
  static Result<ObjectIdentity> of(int fd, const std::string& name);
  friend bool operator==(const ObjectIdentity&, const ObjectIdentity&) = default;
};

// stat of /dev/shm/<name> (glibc's shm_open names are files there) against `identity`.
NameTarget name_target(const std::string& name, const ObjectIdentity& identity);

class ShmName {
 public:
  ShmName() = default;
  ShmName(std::string name, ObjectIdentity identity)
      : name_(std::move(name)), identity_(identity), owned_(true) {}
  ShmName(ShmName&& other) noexcept
      : name_(std::move(other.name_)),
        identity_(other.identity_),
        owned_(std::exchange(other.owned_, false)) {}
  ShmName& operator=(ShmName&& other) noexcept;
  ShmName(const ShmName&) = delete;
  ShmName& operator=(const ShmName&) = delete;
  ~ShmName() { unlink_if_owned(); }

  bool owned() const noexcept { return owned_; }
  void release() noexcept { owned_ = false; }  // the name outlives this object

  // shm_unlink of any name: kNotFound when there is none, else the errno text.
  static Result<void> unlink(const std::string& name);

 private:
  void unlink_if_owned() noexcept;
  std::string name_;
  ObjectIdentity identity_{};
  bool owned_ = false;
};

}  // namespace ipcmesh::posix
