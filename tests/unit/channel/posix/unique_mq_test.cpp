#include "ipcmesh/posix/unique_mq.hpp"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <string>
#include <utility>

#include "ipcmesh/posix/mq_name.hpp"

namespace ipcmesh::posix {
namespace {

std::string unique_name(const char* what) {
  return "/ipcmesh-posixtest-" + std::to_string(::getpid()) + "-" + what;
}

bool queue_exists(const std::string& name) {
  const mqd_t q = ::mq_open(name.c_str(), O_RDONLY);
  if (q == kNoQueue) return false;
  ::mq_close(q);
  return true;
}

mq_attr small_queue() {
  mq_attr attr{};
  attr.mq_maxmsg = 2;
  attr.mq_msgsize = 16;
  return attr;
}

// Proves the descriptor is closed on destruction (its number is free again) and moves once.
TEST(UniqueMq, ClosesTheQueueDescriptorAndMovesIt) {
  const std::string name = unique_name("fd");
  mq_attr attr = small_queue();
  mqd_t raw = kNoQueue;
  {
    UniqueMq first(::mq_open(name.c_str(), O_RDWR | O_CREAT | O_EXCL, 0600, &attr));
    ASSERT_TRUE(first);
    raw = first.get();
    UniqueMq second(std::move(first));
    EXPECT_FALSE(first);  // NOLINT(bugprone-use-after-move)
    EXPECT_EQ(second.get(), raw);
    mq_attr seen{};
    EXPECT_EQ(::mq_getattr(raw, &seen), 0);
  }
  mq_attr seen{};
  EXPECT_NE(::mq_getattr(raw, &seen), 0);
  ::mq_unlink(name.c_str());
}

TEST(MqName, OwnedNameIsUnlinkedWhenItGoesUnlessReleased) {
  const std::string owned = unique_name("owned");
  const std::string released = unique_name("released");
  mq_attr attr = small_queue();
  for (const auto& name : {owned, released}) {
    UniqueMq q(::mq_open(name.c_str(), O_RDWR | O_CREAT | O_EXCL, 0600, &attr));
    ASSERT_TRUE(q);
  }
  {
    MqName a(owned, /*owned=*/true);
    MqName b(released, /*owned=*/true);
    b.release();
    MqName moved(std::move(a));  // the move takes the duty along: `a` unlinks nothing
  }
  EXPECT_FALSE(queue_exists(owned));
  EXPECT_TRUE(queue_exists(released));
  EXPECT_TRUE(MqName::unlink(released));
  auto again = MqName::unlink(released);
  ASSERT_FALSE(again);
  EXPECT_NE(again.error().message.find(released), std::string::npos);
}

TEST(MqName, ANameOpenedWithoutOwnershipIsLeftAlone) {
  const std::string name = unique_name("opened");
  mq_attr attr = small_queue();
  UniqueMq q(::mq_open(name.c_str(), O_RDWR | O_CREAT | O_EXCL, 0600, &attr));
  ASSERT_TRUE(q);
  { const MqName opened(name, /*owned=*/false); }
  EXPECT_TRUE(queue_exists(name));
  MqName adopted(name, /*owned=*/false);
  adopted.own();
  EXPECT_TRUE(adopted.owned());
}

}  // namespace
}  // namespace ipcmesh::posix
