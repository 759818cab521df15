#include "channel/posix/shm_name.hpp"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/mman.h>
#include <unistd.h>

#include <string>
#include <utility>

#include "ipcmesh/posix/unique_fd.hpp"

namespace ipcmesh::posix {
namespace {

std::string unique_name(const char* what) {
  return "/ipcmesh-shmname-test-" + std::to_string(::getpid()) + "-" + what;
}

struct Created {
  UniqueFd fd;
  ObjectIdentity identity;
};

Created create(const std::string& name) {
  Created created{UniqueFd(::shm_open(name.c_str(), O_RDWR | O_CREAT | O_EXCL, 0600)), {}};
  if (created.fd) created.identity = *ObjectIdentity::of(created.fd.get(), name);
  return created;
}

bool exists(const std::string& name) {
  return UniqueFd(::shm_open(name.c_str(), O_RDONLY, 0)).get() >= 0;
}

// Proves the creator's name goes with it, and only then.
TEST(ShmName, AnOwnedNameIsUnlinkedWhenItGoesUnlessReleased) {
  const std::string owned = unique_name("owned");
  const std::string released = unique_name("released");
  const Created a = create(owned);
  const Created b = create(released);
  ASSERT_TRUE(a.fd && b.fd);
  {
    ShmName first(owned, a.identity);
    ShmName second(released, b.identity);
    second.release();
    const ShmName moved(std::move(first));
    EXPECT_FALSE(first.owned());  // NOLINT(bugprone-use-after-move)
  }
  EXPECT_FALSE(exists(owned));
  EXPECT_TRUE(exists(released));
  EXPECT_TRUE(ShmName::unlink(released));
}

// Proves rule G4's guard: a name that refers to a newer object is never unlinked by the old one.
TEST(ShmName, ANameThatNowRefersToAnotherObjectIsLeftAlone) {
  const std::string name = unique_name("replaced");
  const Created old_object = create(name);
  ASSERT_TRUE(old_object.fd);
  EXPECT_EQ(name_target(name, old_object.identity), NameTarget::kSame);
  {
    const ShmName owner(name, old_object.identity);
    ASSERT_TRUE(ShmName::unlink(name));
    EXPECT_EQ(name_target(name, old_object.identity), NameTarget::kMissing);
    const Created replacement = create(name);
    ASSERT_TRUE(replacement.fd);
    EXPECT_EQ(name_target(name, old_object.identity), NameTarget::kOther);
  }
  EXPECT_TRUE(exists(name));
  EXPECT_TRUE(ShmName::unlink(name));
}

TEST(ShmName, UnlinkingANameThatDoesNotExistIsNotFound) {
  auto unlinked = ShmName::unlink(unique_name("never"));
  ASSERT_FALSE(unlinked);
  EXPECT_EQ(unlinked.error().code, ErrorCode::kNotFound);
}

}  // namespace
}  // namespace ipcmesh::posix
