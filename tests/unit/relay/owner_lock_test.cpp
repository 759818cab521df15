#include "relay/owner_lock.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <string>

namespace ipcmesh::relay {
namespace {

// An ownership lock is exclusive while held (the contender learns the holder's pid), and its
// file is gone once released, so a new owner can take it.
TEST(OwnerLock, IsExclusiveNamesItsHolderAndVanishesOnRelease) {
  const std::string path = "/tmp/.ipcmesh-owner-test." + std::to_string(::getpid());
  {
    auto first = OwnerLock::try_acquire(path);
    ASSERT_TRUE(first) << first.error().message;
    auto second = OwnerLock::try_acquire(path);
    ASSERT_FALSE(second);
    EXPECT_EQ(second.error().code, ErrorCode::kAlreadyExists);
    EXPECT_NE(second.error().message.find("pid " + std::to_string(::getpid())), std::string::npos);
  }
  EXPECT_NE(::access(path.c_str(), F_OK), 0);
  auto again = OwnerLock::try_acquire(path);
  EXPECT_TRUE(again);
}

// Lock file names follow the object's POSIX name and stay within NAME_MAX for long names.
TEST(OwnerLock, PathFollowsThePosixNameAndFitsNameMax) {
  EXPECT_EQ(owner_lock_path(OwnedKind::kSharedMemory, "/ipcmesh.ns.orders"),
            "/dev/shm/.ipcmesh-owner.shm.ipcmesh.ns.orders");
  EXPECT_EQ(owner_lock_path(OwnedKind::kMessageQueue, "/posix_mq_example", "/x"),
            "/x/.ipcmesh-owner.mq.posix_mq_example");
  const std::string long_name = "/" + std::string(250, 'a');
  const std::string lock = owner_lock_path(OwnedKind::kSharedMemory, long_name, "/d");
  EXPECT_LE(lock.size() - 3, 255u);
  EXPECT_NE(lock, owner_lock_path(OwnedKind::kSharedMemory, long_name + "b", "/d"));
}

// The members lock of a Node channel: a relay asking while another one is still a member is not
// the last one out (and leaves the file), the one that asks after everyone else left is, and it
// removes the file. (last_one_out is asked on the way out only: a refused flock conversion drops
// the shared lock, flock(2).)
TEST(MemberLock, TheLastMemberOutIsToldSoAndRemovesTheFile) {
  const std::string path =
      member_lock_path("/ipcmesh.ns.members-" + std::to_string(::getpid()), "/tmp");
  {
    auto owner = MemberLock::join(path);
    ASSERT_TRUE(owner) << owner.error().message;
    {
      auto other = MemberLock::join(path);
      ASSERT_TRUE(other) << other.error().message;
      EXPECT_FALSE(other->last_one_out());
    }
    EXPECT_EQ(::access(path.c_str(), F_OK), 0);  // a member that leaves early keeps the file
    EXPECT_TRUE(owner->last_one_out());
  }
  EXPECT_NE(::access(path.c_str(), F_OK), 0);
}

// Moving a lock hands over the duty to remove its file; assigning over a held lock releases it.
TEST(OwnerLock, MovingHandsOverTheLockAndAssigningReleasesTheOldOne) {
  const std::string first_path = "/tmp/.ipcmesh-owner-move-a." + std::to_string(::getpid());
  const std::string second_path = "/tmp/.ipcmesh-owner-move-b." + std::to_string(::getpid());
  auto first = OwnerLock::try_acquire(first_path);
  auto second = OwnerLock::try_acquire(second_path);
  ASSERT_TRUE(first && second);
  OwnerLock moved(std::move(*first));
  EXPECT_EQ(::access(first_path.c_str(), F_OK), 0);
  moved = std::move(*second);
  EXPECT_NE(::access(first_path.c_str(), F_OK), 0);
  EXPECT_TRUE(OwnerLock::try_acquire(first_path));
  EXPECT_FALSE(OwnerLock::try_acquire(second_path));
}

}  // namespace
}  // namespace ipcmesh::relay
