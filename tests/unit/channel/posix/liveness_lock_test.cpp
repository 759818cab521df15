#include "channel/posix/liveness_lock.hpp"

#include <gtest/gtest.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ipcmesh/posix/unique_fd.hpp"

namespace ipcmesh::posix {
namespace {

constexpr std::int64_t kByte = std::int64_t{1} << 40;  // beyond the end, as the protocol's are

UniqueFd object() {
  return UniqueFd(::memfd_create("ipcmesh-liveness-test", MFD_CLOEXEC));
}

// Proves that a lock lives as long as the description it was taken through, and that another
// description of the same file (in the same process) sees it as someone else's.
TEST(LivenessLock, ALockLivesExactlyAsLongAsItsOwnDescription) {
  const UniqueFd file = object();
  ASSERT_TRUE(file);
  {
    auto own = open_own_description(file.get(), "test");
    ASSERT_TRUE(own);
    ASSERT_TRUE(try_lock_byte(own->get(), kByte));
    EXPECT_TRUE(locked_by_other(file.get(), kByte));
    EXPECT_FALSE(try_lock_byte(file.get(), kByte));
    EXPECT_FALSE(locked_by_other(own->get(), kByte));  // one's own lock is not someone else's
  }
  EXPECT_FALSE(locked_by_other(file.get(), kByte));  // closing the description dropped it
}

TEST(LivenessLock, UnlockFreesTheByteWhileTheDescriptionStaysOpen) {
  const UniqueFd file = object();
  auto own = open_own_description(file.get(), "test");
  ASSERT_TRUE(own);
  ASSERT_TRUE(try_lock_byte(own->get(), kByte + 1));
  unlock_byte(own->get(), kByte + 1);
  EXPECT_FALSE(locked_by_other(file.get(), kByte + 1));
}

// Proves the property liveness rests on: the kernel drops a dead process's lock.
TEST(LivenessLock, ALockDiesWithItsProcess) {
  const UniqueFd file = object();
  int ready[2];
  ASSERT_EQ(::pipe(ready), 0);
  const UniqueFd read_end(ready[0]);
  UniqueFd write_end(ready[1]);
  const pid_t child = ::fork();
  if (child == 0) {
    auto own = open_own_description(file.get(), "test");
    const char ok = own && try_lock_byte(own->get(), kByte) ? 'y' : 'n';
    (void)!::write(write_end.get(), &ok, 1);
    ::pause();
    ::_exit(0);
  }
  write_end.reset();
  char ok = 0;
  ASSERT_EQ(::read(read_end.get(), &ok, 1), 1);
  ASSERT_EQ(ok, 'y');
  EXPECT_TRUE(locked_by_other(file.get(), kByte));
  ::kill(child, SIGKILL);
  ::waitpid(child, nullptr, 0);
  EXPECT_FALSE(locked_by_other(file.get(), kByte));
}

TEST(LivenessLock, ABadDescriptorIsAClearErrorAndCountsAsAlive) {
  auto own = open_own_description(-1, "/ipcmesh.ns.ring");
  ASSERT_FALSE(own);
  EXPECT_NE(own.error().message.find("/ipcmesh.ns.ring"), std::string::npos);
  EXPECT_TRUE(locked_by_other(-1, kByte));  // "cannot tell" must never reap anyone
}

}  // namespace
}  // namespace ipcmesh::posix
