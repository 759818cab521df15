// Liveness through open-file-description locks (docs/protocol.md, section 4): one byte each,
// beyond the end of the object, held by a live owner and dropped by the kernel when it dies (in
// any PID namespace). A lock lives exactly as long as the description it was taken through, so
// the owner of a liveness lock is the UniqueFd of that description: closing it is the unlock.
#pragma once

#include <cstdint>
#include <string_view>

#include "ipcmesh/error.hpp"
#include "ipcmesh/posix/unique_fd.hpp"

namespace ipcmesh::posix {

// Takes the byte at `offset` through `fd`'s description; false when another description holds it.
bool try_lock_byte(int fd, std::int64_t offset);
void unlock_byte(int fd, std::int64_t offset);
// Whether a description other than `fd`'s holds the byte. On error it cannot tell and says
// "held", so that nothing is ever reaped by mistake.
bool locked_by_other(int fd, std::int64_t offset);

// A new open file description of the file `fd` refers to (through /proc/self/fd, not dup: a dup
// shares the description and so its locks). Each Publisher and Subscriber holds one, so that a
// checker in the same process still sees their locks as someone else's.
Result<UniqueFd> open_own_description(int fd, std::string_view name);

}  // namespace ipcmesh::posix
