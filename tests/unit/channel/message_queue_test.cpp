#include "ipcmesh/message_queue.hpp"

#include <gtest/gtest.h>
#include <linux/capability.h>
#include <sched.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <chrono>
#include <cstring>
#include <fstream>
#include <functional>
#include <string>
#include <thread>

namespace ipcmesh {
namespace {

using namespace std::chrono_literals;

std::string unique_name(const char* what) {
  static int counter = 0;
  return "/ipcmesh-mqtest-" + std::to_string(getpid()) + "-" + what + "-" +
         std::to_string(++counter);
}

std::span<const std::byte> bytes(std::string_view text) {
  return std::as_bytes(std::span<const char>(text.data(), text.size()));
}

std::string text(std::span<const std::byte> data, std::size_t size) {
  return std::string(reinterpret_cast<const char*>(data.data()), size);
}

MessageQueueOptions options(const std::string& name, std::uint32_t messages = 4,
                            std::uint32_t size = 128) {
  MessageQueueOptions o;
  o.name = name;
  o.max_messages = messages;
  o.max_message_size = size;
  return o;
}

// Runs `body` in a forked child and returns what it returned (through a pipe). The child may
// change its IPC namespace, limits and capabilities without touching this process.
std::string in_child(const std::function<std::string()>& body) {
  int fds[2];
  if (pipe(fds) != 0) return "pipe failed";
  const pid_t pid = fork();
  if (pid == 0) {
    close(fds[0]);
    const std::string out = body();
    const char* p = out.data();
    std::size_t left = out.size();
    while (left > 0) {
      const ssize_t n = write(fds[1], p, left);
      if (n <= 0) break;
      p += n;
      left -= static_cast<std::size_t>(n);
    }
    _exit(0);
  }
  close(fds[1]);
  std::string out;
  char buffer[512];
  ssize_t n;
  while ((n = read(fds[0], buffer, sizeof buffer)) > 0) out.append(buffer, n);
  close(fds[0]);
  int status = 0;
  waitpid(pid, &status, 0);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) out += " [child failed]";
  return out;
}

bool write_sysctl(const char* path, long value) {
  std::ofstream out(path);
  out << value;
  out.flush();
  return static_cast<bool>(out);
}

// Root may exceed msg_max, msgsize_max and queues_max with CAP_SYS_RESOURCE; a Pod's processes
// normally lack it. Dropping it makes the kernel apply the sysctls as an app would see them.
bool drop_cap_sys_resource() {
  __user_cap_header_struct header{_LINUX_CAPABILITY_VERSION_3, 0};
  __user_cap_data_struct data[2]{};
  if (syscall(SYS_capget, &header, data) != 0) return false;
  const unsigned index = CAP_SYS_RESOURCE / 32;
  const unsigned bit = 1u << (CAP_SYS_RESOURCE % 32);
  data[index].effective &= ~bit;
  data[index].permitted &= ~bit;
  return syscall(SYS_capset, &header, data) == 0;
}

// Proves the basic life of a queue: create, open by name from a second handle, send, receive.
TEST(MessageQueue, CreatedQueueCarriesAMessageToASecondHandle) {
  const std::string name = unique_name("basic");
  auto created = MessageQueue::create(options(name));
  ASSERT_TRUE(created) << created.error().message;
  EXPECT_EQ(created->max_messages(), 4u);
  EXPECT_EQ(created->max_message_size(), 128u);
  auto reader = MessageQueue::open(name, MessageQueue::Access::kReadOnly);
  ASSERT_TRUE(reader) << reader.error().message;
  EXPECT_EQ(reader->max_message_size(), 128u);

  ASSERT_TRUE(created->send(bytes("hello"), 3));
  EXPECT_EQ(created->current_messages(), 1);
  std::array<std::byte, 128> buffer{};
  auto received = reader->receive(buffer);
  ASSERT_TRUE(received) << received.error().message;
  EXPECT_EQ(text(buffer, received->size), "hello");
  EXPECT_EQ(received->priority, 3u);
}

// Proves messages of higher priority overtake older ones of lower priority (mq semantics).
TEST(MessageQueue, HigherPriorityMessagesAreReceivedFirst) {
  auto queue = MessageQueue::create(options(unique_name("prio")));
  ASSERT_TRUE(queue) << queue.error().message;
  ASSERT_TRUE(queue->send(bytes("low"), 1));
  ASSERT_TRUE(queue->send(bytes("high"), 9));
  ASSERT_TRUE(queue->send(bytes("mid"), 5));
  std::array<std::byte, 128> buffer{};
  for (const char* expected : {"high", "mid", "low"}) {
    auto received = queue->receive(buffer, 0ns);
    ASSERT_TRUE(received) << received.error().message;
    EXPECT_EQ(text(buffer, received->size), expected);
  }
  auto bad = queue->send(bytes("x"), MQ_PRIO_MAX);
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().code, ErrorCode::kInvalidArgument);
}

// Proves timeout 0 tries once: an empty queue's receive and a full queue's send say kWouldBlock.
TEST(MessageQueue, ZeroTimeoutTriesOnceAndSaysWouldBlock) {
  auto queue = MessageQueue::create(options(unique_name("once"), 2));
  ASSERT_TRUE(queue) << queue.error().message;
  std::array<std::byte, 128> buffer{};
  auto empty = queue->receive(buffer, 0ns);
  ASSERT_FALSE(empty);
  EXPECT_EQ(empty.error().code, ErrorCode::kWouldBlock);
  ASSERT_TRUE(queue->send(bytes("1"), 0, 0ns));
  ASSERT_TRUE(queue->send(bytes("2"), 0, 0ns));
  auto full = queue->send(bytes("3"), 0, 0ns);
  ASSERT_FALSE(full);
  EXPECT_EQ(full.error().code, ErrorCode::kWouldBlock);
  EXPECT_NE(full.error().message.find("full"), std::string::npos) << full.error().message;
}

// Proves a finite timeout waits (at least as long as asked) and then says kTimeout.
TEST(MessageQueue, FiniteTimeoutWaitsThenSaysTimeout) {
  auto queue = MessageQueue::create(options(unique_name("timeout"), 1));
  ASSERT_TRUE(queue) << queue.error().message;
  std::array<std::byte, 128> buffer{};
  const auto start = std::chrono::steady_clock::now();
  auto received = queue->receive(buffer, 50ms);
  ASSERT_FALSE(received);
  EXPECT_EQ(received.error().code, ErrorCode::kTimeout);
  EXPECT_GE(std::chrono::steady_clock::now() - start,
            40ms);  // lower bound only: a loaded box is slow
  ASSERT_TRUE(queue->send(bytes("fill")));
  auto sent = queue->send(bytes("more"), 0, 20ms);
  ASSERT_FALSE(sent);
  EXPECT_EQ(sent.error().code, ErrorCode::kTimeout);
}

// Proves a blocking receive wakes when another thread sends, and a long timeout is not cut short.
TEST(MessageQueue, BlockingReceiveWakesWhenAMessageArrives) {
  const std::string name = unique_name("wake");
  auto queue = MessageQueue::create(options(name));
  ASSERT_TRUE(queue) << queue.error().message;
  std::thread sender([&name] {
    std::this_thread::sleep_for(30ms);
    auto writer = MessageQueue::open(name, MessageQueue::Access::kWriteOnly);
    if (writer) (void)writer->send(bytes("late"));
  });
  std::array<std::byte, 128> buffer{};
  auto forever = queue->receive(buffer);
  sender.join();
  ASSERT_TRUE(forever) << forever.error().message;
  EXPECT_EQ(text(buffer, forever->size), "late");

  std::thread second([&name] {
    std::this_thread::sleep_for(30ms);
    auto writer = MessageQueue::open(name, MessageQueue::Access::kWriteOnly);
    if (writer) (void)writer->send(bytes("again"));
  });
  auto bounded = queue->receive(buffer, std::chrono::hours(1));
  second.join();
  ASSERT_TRUE(bounded) << bounded.error().message;
  EXPECT_EQ(text(buffer, bounded->size), "again");
}

// Proves size rules: a payload above max_message_size and a receive buffer below it are refused
// before the kernel sees them, with kMessageTooLarge; a payload of exactly the maximum passes.
TEST(MessageQueue, OversizedPayloadsAndUndersizedBuffersAreRefused) {
  auto queue = MessageQueue::create(options(unique_name("size"), 2, 16));
  ASSERT_TRUE(queue) << queue.error().message;
  const std::string sixteen(16, 'a');
  EXPECT_TRUE(queue->send(bytes(sixteen)));
  auto big = queue->send(bytes(sixteen + "b"));
  ASSERT_FALSE(big);
  EXPECT_EQ(big.error().code, ErrorCode::kMessageTooLarge);
  std::array<std::byte, 15> small{};
  auto tiny = queue->receive(small);
  ASSERT_FALSE(tiny);
  EXPECT_EQ(tiny.error().code, ErrorCode::kMessageTooLarge);
  EXPECT_EQ(queue->current_messages(), 1);  // nothing was consumed
}

// Proves name errors: bad names are kInvalidArgument, a second create is kAlreadyExists, and
// opening a queue that does not exist is kNotFound with a message that says so.
TEST(MessageQueue, NameErrorsHaveTheirOwnCodes) {
  auto bad = MessageQueue::create(options("no-slash"));
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().code, ErrorCode::kInvalidArgument);
  const std::string name = unique_name("dup");
  auto first = MessageQueue::create(options(name));
  ASSERT_TRUE(first) << first.error().message;
  auto second = MessageQueue::create(options(name));
  ASSERT_FALSE(second);
  EXPECT_EQ(second.error().code, ErrorCode::kAlreadyExists);
  auto missing = MessageQueue::open(unique_name("missing"));
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().code, ErrorCode::kNotFound);
  EXPECT_NE(missing.error().message.find("does not exist"), std::string::npos);
  auto unlinked = MessageQueue::unlink(unique_name("missing"));
  ASSERT_FALSE(unlinked);
  EXPECT_EQ(unlinked.error().code, ErrorCode::kNotFound);
}

// Proves create_or_open joins a queue with the same attributes and refuses one that differs.
TEST(MessageQueue, CreateOrOpenJoinsMatchingQueuesAndRefusesOthers) {
  const std::string name = unique_name("join");
  auto owner = MessageQueue::create_or_open(options(name, 3, 64));
  ASSERT_TRUE(owner) << owner.error().message;
  auto joined = MessageQueue::create_or_open(options(name, 3, 64));
  ASSERT_TRUE(joined) << joined.error().message;
  ASSERT_TRUE(joined->send(bytes("shared")));
  EXPECT_EQ(owner->current_messages(), 1);
  auto other = MessageQueue::create_or_open(options(name, 5, 64));
  ASSERT_FALSE(other);
  EXPECT_EQ(other.error().code, ErrorCode::kIncompatible);
  EXPECT_NE(other.error().message.find("3 messages of 64 bytes"), std::string::npos)
      << other.error().message;
}

// Proves adopt(): a queue that has room for what the options ask is taken over with its messages
// and owned from then on; one with less room is kIncompatible and stays as it is.
TEST(MessageQueue, AdoptTakesOverAQueueThatFitsAndLeavesOthersAlone) {
  const std::string name = unique_name("adopt");
  EXPECT_EQ(MessageQueue::adopt(options(name, 3, 64)).error().code, ErrorCode::kNotFound);
  {
    auto app = MessageQueue::create(options(name, 4, 128));
    ASSERT_TRUE(app) << app.error().message;
    app->release_name();
    ASSERT_TRUE(app->send(bytes("waiting")));
  }
  const auto too_big = MessageQueue::adopt(options(name, 8, 128));
  ASSERT_FALSE(too_big);
  EXPECT_EQ(too_big.error().code, ErrorCode::kIncompatible);
  EXPECT_NE(too_big.error().message.find("room for 4 messages of 128 bytes"), std::string::npos)
      << too_big.error().message;
  EXPECT_TRUE(MessageQueue::open(name)) << "a queue that does not fit is never removed";
  {
    auto adopted = MessageQueue::adopt(options(name, 3, 64));
    ASSERT_TRUE(adopted) << adopted.error().message;
    EXPECT_EQ(adopted->current_messages(), 1);
  }
  EXPECT_EQ(MessageQueue::open(name).error().code, ErrorCode::kNotFound)
      << "the adopter owns the name";
}

// Proves RAII ownership: the creator unlinks the name when destroyed unless it released it, and
// a moved-from object owns nothing.
TEST(MessageQueue, CreatorUnlinksOnDestructionUnlessReleased) {
  const std::string owned = unique_name("owned");
  {
    auto queue = MessageQueue::create(options(owned));
    ASSERT_TRUE(queue) << queue.error().message;
    MessageQueue moved = std::move(*queue);
    EXPECT_TRUE(MessageQueue::open(owned));
  }
  EXPECT_EQ(MessageQueue::open(owned).error().code, ErrorCode::kNotFound);

  const std::string kept = unique_name("kept");
  {
    auto queue = MessageQueue::create(options(kept));
    ASSERT_TRUE(queue) << queue.error().message;
    queue->release_name();
  }
  EXPECT_TRUE(MessageQueue::open(kept));
  EXPECT_TRUE(MessageQueue::unlink(kept));
}

// Proves the EINVAL explanation: in a fresh IPC namespace with fs.mqueue.msg_max lowered to 4 and
// without CAP_SYS_RESOURCE (like an app in a Pod), asking for 5 messages names the sysctl, its
// value and the request, and prints the current limits.
TEST(MessageQueueLimits, AskingForMoreThanMsgMaxExplainsTheSysctl) {
  const std::string name = unique_name("msgmax");
  const std::string message = in_child([&] {
    if (unshare(CLONE_NEWIPC) != 0) return std::string("unshare failed: ") + strerror(errno);
    if (!write_sysctl("/proc/sys/fs/mqueue/msg_max", 4)) return std::string("sysctl failed");
    if (!drop_cap_sys_resource()) return std::string("capset failed");
    if (MessageQueueLimits::read_current().msg_max != 4) return std::string("limit not read");
    if (!MessageQueue::create(options(name, 4, 64))) return std::string("4 should fit");
    auto queue = MessageQueue::create(options(name + "b", 5, 64));
    if (queue) return std::string("unexpected success");
    return std::string(to_string(queue.error().code)) + "|" + queue.error().message;
  });
  EXPECT_EQ(message.rfind("limit exceeded|", 0), 0u) << message;
  EXPECT_NE(message.find("fs.mqueue.msg_max is 4, the channel asks for 5 messages"),
            std::string::npos)
      << message;
  EXPECT_NE(message.find("current limits: fs.mqueue.msg_max=4"), std::string::npos) << message;
}

// Proves the same for fs.mqueue.msgsize_max.
TEST(MessageQueueLimits, AskingForLargerMessagesThanMsgsizeMaxExplainsTheSysctl) {
  const std::string name = unique_name("msgsize");
  const std::string message = in_child([&] {
    if (unshare(CLONE_NEWIPC) != 0) return std::string("unshare failed");
    if (!write_sysctl("/proc/sys/fs/mqueue/msgsize_max", 1024)) return std::string("sysctl failed");
    if (!drop_cap_sys_resource()) return std::string("capset failed");
    auto queue = MessageQueue::create(options(name, 2, 2048));
    if (queue) return std::string("unexpected success");
    return queue.error().message;
  });
  EXPECT_NE(message.find("fs.mqueue.msgsize_max is 1024, the channel asks for 2048 bytes"),
            std::string::npos)
      << message;
}

// Proves that beyond the kernel's hard ceiling even root is refused, and the message says so.
TEST(MessageQueueLimits, BeyondTheHardCeilingEvenRootIsRefused) {
  auto queue = MessageQueue::create(options(unique_name("hard"), 65537, 64));
  ASSERT_FALSE(queue);
  EXPECT_EQ(queue.error().code, ErrorCode::kLimitExceeded);
  EXPECT_NE(queue.error().message.find("never allows more than 65536 messages"), std::string::npos)
      << queue.error().message;
}

// Proves ENOSPC is explained as fs.mqueue.queues_max, in a namespace that allows one queue.
TEST(MessageQueueLimits, TooManyQueuesExplainsQueuesMax) {
  const std::string name = unique_name("queues");
  const std::string message = in_child([&] {
    if (unshare(CLONE_NEWIPC) != 0) return std::string("unshare failed");
    if (!write_sysctl("/proc/sys/fs/mqueue/queues_max", 1)) return std::string("sysctl failed");
    if (!drop_cap_sys_resource()) return std::string("capset failed");
    auto first = MessageQueue::create(options(name + "a"));
    if (!first) return "first failed: " + first.error().message;
    auto second = MessageQueue::create(options(name + "b"));
    if (second) return std::string("unexpected success");
    return std::string(to_string(second.error().code)) + "|" + second.error().message;
  });
  EXPECT_EQ(message.rfind("limit exceeded|", 0), 0u) << message;
  EXPECT_NE(message.find("fs.mqueue.queues_max (1) queues already exist"), std::string::npos)
      << message;
}

// Proves EMFILE is explained as RLIMIT_MSGQUEUE with its value when the byte budget is too small.
TEST(MessageQueueLimits, ExhaustedRlimitMsgqueueExplainsTheRlimit) {
  const std::string name = unique_name("rlimit");
  const std::string message = in_child([&] {
    const rlimit small{4096, 4096};
    if (setrlimit(RLIMIT_MSGQUEUE, &small) != 0) return std::string("setrlimit failed");
    auto queue = MessageQueue::create(options(name, 10, 8192));
    if (queue) return std::string("unexpected success");
    return queue.error().message;
  });
  EXPECT_NE(message.find("RLIMIT_MSGQUEUE (4096 bytes) cannot hold another queue of about 81920 "
                         "bytes"),
            std::string::npos)
      << message;
}

// Proves MessageQueueLimits reads this namespace's sysctls (here the kernel defaults of a fresh
// namespace) and RLIMIT_MSGQUEUE.
TEST(MessageQueueLimits, ReadsTheSysctlsOfTheCurrentNamespace) {
  const std::string message = in_child([] {
    if (unshare(CLONE_NEWIPC) != 0) return std::string("unshare failed");
    const rlimit limit{12345, 12345};
    setrlimit(RLIMIT_MSGQUEUE, &limit);
    const auto limits = MessageQueueLimits::read_current();
    return std::to_string(limits.msg_max) + " " + std::to_string(limits.msgsize_max) + " " +
           std::to_string(limits.queues_max) + " " + std::to_string(limits.rlimit_msgqueue);
  });
  EXPECT_EQ(message, "10 8192 256 12345");
}

}  // namespace
}  // namespace ipcmesh
