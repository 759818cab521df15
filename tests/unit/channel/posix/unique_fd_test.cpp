#include "ipcmesh/posix/unique_fd.hpp"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/eventfd.h>

#include <cerrno>
#include <utility>

namespace ipcmesh::posix {
namespace {

bool is_open(int fd) {
  return ::fcntl(fd, F_GETFD) != -1;
}

// Proves that the owner closes exactly once, whoever holds it last.
TEST(UniqueFd, ClosesWhatItHoldsWhenItGoes) {
  int raw = -1;
  {
    const UniqueFd fd(::eventfd(0, EFD_CLOEXEC));
    ASSERT_TRUE(fd);
    raw = fd.get();
    EXPECT_TRUE(is_open(raw));
  }
  EXPECT_FALSE(is_open(raw));
}

TEST(UniqueFd, MovingHandsTheDescriptorOverAndLeavesNothingBehind) {
  UniqueFd first(::eventfd(0, EFD_CLOEXEC));
  const int raw = first.get();
  UniqueFd second(std::move(first));
  EXPECT_FALSE(first);  // NOLINT(bugprone-use-after-move): the moved-from state is the point
  EXPECT_EQ(second.get(), raw);
  UniqueFd third;
  third = std::move(second);
  EXPECT_EQ(third.get(), raw);
  EXPECT_TRUE(is_open(raw));
}

TEST(UniqueFd, AssigningOverAnOpenDescriptorClosesTheOldOne) {
  UniqueFd kept(::eventfd(0, EFD_CLOEXEC));
  const int old = kept.get();
  kept = UniqueFd(::eventfd(0, EFD_CLOEXEC));
  EXPECT_NE(kept.get(), -1);
  // The kernel reuses the lowest free number, so compare by state rather than by number.
  if (kept.get() != old) {
    EXPECT_FALSE(is_open(old));
  }
}

TEST(UniqueFd, ReleasedDescriptorIsTheCallersToClose) {
  UniqueFd fd(::eventfd(0, EFD_CLOEXEC));
  const int raw = fd.release();
  EXPECT_FALSE(fd);
  EXPECT_TRUE(is_open(raw));
  ::close(raw);
}

TEST(UniqueFd, ClosingKeepsTheErrnoOfTheCallThatFailed) {
  UniqueFd fd(::eventfd(0, EFD_CLOEXEC));
  errno = ENOSPC;
  fd.reset();
  EXPECT_EQ(errno, ENOSPC);
}

}  // namespace
}  // namespace ipcmesh::posix
