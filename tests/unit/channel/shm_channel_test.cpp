// The shared-memory broadcast channel in one process: API contract, policies, crash-safety rules
// that can be shown without killing processes (the ipc tier kills real ones).
#include "ipcmesh/shm_channel.hpp"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/mman.h>
#include <unistd.h>

#include <atomic>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "channel/shm_layout.hpp"

namespace ipcmesh {
namespace {

using namespace std::chrono_literals;

std::string unique_name(const char* tag) {
  static std::atomic<int> counter{0};
  return "/ipcmesh-test-" + std::string(tag) + "-" + std::to_string(::getpid()) + "-" +
         std::to_string(counter++);
}

ShmChannelOptions options_for(const char* tag,
                              SlowConsumerPolicy policy = SlowConsumerPolicy::kBlock,
                              std::uint64_t capacity = 64 * 1024,
                              std::uint32_t max_message = 1024) {
  ShmChannelOptions options;
  options.name = unique_name(tag);
  options.capacity_bytes = capacity;
  options.max_message_size = max_message;
  options.policy = policy;
  options.max_subscribers = 8;
  options.max_producers = 8;
  return options;
}

// A subscriber that goes to sleep as soon as the ring is empty (no spin).
SubscriberOptions sleeps_at_once() {
  SubscriberOptions options;
  options.wait_mode = WaitMode::kSpinThenSleep;
  options.spin_time = 0ns;
  return options;
}

std::vector<std::byte> bytes_of(std::uint64_t value, std::size_t size = sizeof(std::uint64_t)) {
  std::vector<std::byte> out(std::max(size, sizeof value));
  std::memcpy(out.data(), &value, sizeof value);
  out.resize(std::max(size, sizeof value));
  return out;
}

std::uint64_t value_of(std::span<const std::byte> data) {
  std::uint64_t value = 0;
  std::memcpy(&value, data.data(), std::min(data.size(), sizeof value));
  return value;
}

// Proves: a message published is received by every subscriber, byte for byte, in order.
TEST(ShmChannel, EverySubscriberReceivesEveryMessageInOrder) {
  auto channel = ShmChannel::create(options_for("basic"));
  ASSERT_TRUE(channel) << channel.error().message;
  auto first = Subscriber::attach(*channel);
  auto second = Subscriber::attach(*channel);
  auto publisher = Publisher::attach(*channel);
  ASSERT_TRUE(first && second && publisher);
  for (std::uint64_t i = 0; i < 1000; ++i) {
    ASSERT_TRUE(publisher->publish(bytes_of(i, 8 + i % 200))) << i;
    for (Subscriber* sub : {&*first, &*second}) {
      auto view = sub->receive(1s);
      ASSERT_TRUE(view) << view.error().message;
      EXPECT_EQ(value_of(view->data), i);
      EXPECT_EQ(view->data.size(), 8 + i % 200);
      ASSERT_TRUE(sub->release());
    }
  }
  const ChannelStats stats = channel->stats();
  EXPECT_EQ(stats.published_messages, 1000u);
  ASSERT_EQ(stats.subscribers.size(), 2u);
  EXPECT_EQ(stats.subscribers[0].delivered_messages, 1000u);
  EXPECT_EQ(stats.subscribers[0].lag_bytes, 0u);
}

// Proves: the zero-copy path writes in place and the reader sees exactly those bytes; records
// wrap around the ring end (padding) many times without loss.
TEST(ShmChannel, LoanCommitWrapsAroundTheRingManyTimes) {
  auto channel = ShmChannel::create(options_for("wrap", SlowConsumerPolicy::kBlock, 4096, 1000));
  ASSERT_TRUE(channel);
  auto sub = Subscriber::attach(*channel);
  auto pub = Publisher::attach(*channel);
  ASSERT_TRUE(sub && pub);
  for (std::uint64_t i = 0; i < 5000; ++i) {
    const std::size_t size = 9 + (i * 37) % 900;  // > 8: the last byte is fill, not the counter
    auto loan = pub->loan(size, 1s);
    ASSERT_TRUE(loan) << loan.error().message;
    std::memset(loan->data().data(), static_cast<int>(i & 0xff), size);
    std::memcpy(loan->data().data(), &i, sizeof i);
    ASSERT_TRUE(pub->commit(std::move(*loan)));
    auto view = sub->receive(1s);
    ASSERT_TRUE(view);
    ASSERT_EQ(view->data.size(), size);
    EXPECT_EQ(value_of(view->data), i);
    EXPECT_EQ(static_cast<unsigned>(view->data[size - 1]), i & 0xff);
  }
}

// Proves: Block makes a publisher wait for the slowest subscriber and time out cleanly.
TEST(ShmChannel, BlockPolicyTimesOutWhenTheRingIsFull) {
  auto channel = ShmChannel::create(options_for("block", SlowConsumerPolicy::kBlock, 4096, 256));
  ASSERT_TRUE(channel);
  auto sub = Subscriber::attach(*channel);
  auto pub = Publisher::attach(*channel);
  ASSERT_TRUE(sub && pub);
  int published = 0;
  for (;; ++published) {
    auto result = pub->publish(bytes_of(published, 200), 20ms);
    if (!result) {
      EXPECT_EQ(result.error().code, ErrorCode::kTimeout) << result.error().message;
      break;
    }
    ASSERT_LT(published, 1000) << "a full ring never blocked";
  }
  EXPECT_GT(published, 10);
  for (int i = 0; i < published; ++i) {
    auto view = sub->receive(1s);
    ASSERT_TRUE(view);
    EXPECT_EQ(value_of(view->data), static_cast<std::uint64_t>(i));
  }
  EXPECT_TRUE(pub->publish(bytes_of(99), 1s)) << "space was not given back";
}

// Proves: a blocked publisher is woken by the subscriber's release and loses nothing.
TEST(ShmChannel, BlockedPublisherResumesWhenTheSubscriberCatchesUp) {
  auto channel = ShmChannel::create(options_for("resume", SlowConsumerPolicy::kBlock, 4096, 256));
  ASSERT_TRUE(channel);
  auto sub = Subscriber::attach(*channel);
  ASSERT_TRUE(sub);
  constexpr std::uint64_t kCount = 20000;
  std::thread producer([&] {
    auto pub = Publisher::attach(*channel);
    ASSERT_TRUE(pub);
    for (std::uint64_t i = 0; i < kCount; ++i) ASSERT_TRUE(pub->publish(bytes_of(i, 100)));
  });
  for (std::uint64_t i = 0; i < kCount; ++i) {
    if (i % 1000 == 0) std::this_thread::sleep_for(1ms);  // let the ring fill
    auto view = sub->receive(5s);
    ASSERT_TRUE(view) << view.error().message;
    ASSERT_EQ(value_of(view->data), i);
  }
  producer.join();
}

// Proves rule S1: while a subscriber has more to read it publishes its cursor and delivered
// counters once per 64 messages (producers see a stale, lower cursor, which only makes them more
// careful); once it has caught up, everything it released is published.
TEST(ShmChannel, SubscriberPublishesItsCursorPerBatchAndWhenCaughtUp) {
  auto channel = ShmChannel::create(options_for("batch"));
  ASSERT_TRUE(channel);
  auto sub = Subscriber::attach(*channel);
  auto pub = Publisher::attach(*channel);
  ASSERT_TRUE(sub && pub);
  for (std::uint64_t i = 0; i < 100; ++i) ASSERT_TRUE(pub->publish(bytes_of(i, 32)));
  const auto delivered = [&] { return channel->stats().subscribers.at(0).delivered_messages; };
  const auto receive = [&](std::uint64_t count) {
    for (std::uint64_t i = 0; i < count; ++i) {
      auto view = sub->receive(1s);
      ASSERT_TRUE(view) << view.error().message;
      ASSERT_TRUE(sub->release());
    }
  };
  receive(10);
  EXPECT_EQ(delivered(), 0u);
  EXPECT_GT(channel->stats().subscribers.at(0).lag_bytes, 90u * 32u);
  receive(54);
  EXPECT_EQ(delivered(), 64u);
  receive(36);
  EXPECT_EQ(delivered(), 100u);
  EXPECT_EQ(channel->stats().subscribers.at(0).lag_bytes, 0u);
}

// The payloads of a batch, and the spans publish_batch takes.
struct Batch {
  std::vector<std::vector<std::byte>> payloads;
  std::vector<std::span<const std::byte>> spans;
  // Sizes size .. size + 49 unless `same_size`.
  Batch(std::uint64_t first, std::uint64_t count, std::size_t size, bool same_size = false) {
    for (std::uint64_t i = first; i < first + count; ++i) {
      payloads.push_back(bytes_of(i, same_size ? size : size + i % 50));
    }
    for (const auto& payload : payloads) spans.emplace_back(payload);
  }
};

// Proves rule P1: a batch arrives whole and in order at every subscriber, as single publishes do.
TEST(ShmChannel, PublishBatchDeliversEveryMessageInOrder) {
  auto channel = ShmChannel::create(options_for("batch-order"));
  ASSERT_TRUE(channel);
  auto first = Subscriber::attach(*channel);
  auto second = Subscriber::attach(*channel);
  auto pub = Publisher::attach(*channel);
  ASSERT_TRUE(first && second && pub);
  const Batch batch(0, 300, 16);
  auto published = pub->publish_batch(batch.spans);
  ASSERT_TRUE(published) << published.error().message;
  EXPECT_EQ(*published, 300u);
  for (Subscriber* sub : {&*first, &*second}) {
    for (std::uint64_t i = 0; i < 300; ++i) {
      auto view = sub->receive(1s);
      ASSERT_TRUE(view) << view.error().message;
      ASSERT_EQ(value_of(view->data), i);
      ASSERT_EQ(view->data.size(), 16 + i % 50);
    }
  }
  EXPECT_EQ(channel->stats().published_messages, 300u);
}

// Proves rule P1's second half: a batch larger than the ring, under Block, with a subscriber that
// falls asleep at once: the publisher wakes it before it waits for space, so neither waits for
// the other.
TEST(ShmChannel, PublishBatchWakesSleepersBeforeWaitingForSpace) {
  auto channel = ShmChannel::create(options_for("batch-block", SlowConsumerPolicy::kBlock, 4096));
  ASSERT_TRUE(channel);
  auto sub = Subscriber::attach(*channel, sleeps_at_once());
  ASSERT_TRUE(sub);
  constexpr std::uint64_t kCount = 3000;
  std::thread producer([&] {
    auto pub = Publisher::attach(*channel);
    ASSERT_TRUE(pub);
    for (std::uint64_t first = 0; first < kCount; first += 500) {
      const Batch batch(first, 500, 64);
      auto published = pub->publish_batch(batch.spans, 10s);
      ASSERT_TRUE(published) << published.error().message;
      ASSERT_EQ(*published, 500u);
    }
  });
  for (std::uint64_t i = 0; i < kCount; ++i) {
    auto view = sub->receive(5s);
    ASSERT_TRUE(view) << i << ": " << view.error().message;
    ASSERT_EQ(value_of(view->data), i);
  }
  producer.join();
}

// Proves: under DropNewest a batch that does not fit publishes what fits and says how many; a
// batch of which nothing fits is the policy's error.
TEST(ShmChannel, PublishBatchStopsWhereTheRingIsFullUnderDropNewest) {
  auto channel =
      ShmChannel::create(options_for("batch-full", SlowConsumerPolicy::kDropNewest, 4096));
  ASSERT_TRUE(channel);
  auto sub = Subscriber::attach(*channel);
  auto pub = Publisher::attach(*channel);
  ASSERT_TRUE(sub && pub);
  const Batch batch(0, 100, 100, true);
  auto published = pub->publish_batch(batch.spans);
  ASSERT_TRUE(published) << published.error().message;
  EXPECT_GT(*published, 0u);
  EXPECT_LT(*published, 100u);
  EXPECT_EQ(channel->stats().published_messages, *published);
  auto again = pub->publish_batch(batch.spans);
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error().code, ErrorCode::kWouldBlock);
  EXPECT_EQ(channel->stats().rejected_full, 2u) << "one refusal per batch that stopped";
  for (std::uint64_t i = 0; i < *published; ++i) {
    auto view = sub->receive(1s);
    ASSERT_TRUE(view) << view.error().message;
    ASSERT_EQ(value_of(view->data), i);
  }
}

// Proves: DropNewest refuses the new message with kWouldBlock and counts the refusal.
TEST(ShmChannel, DropNewestRejectsWhenFullAndCountsIt) {
  auto channel =
      ShmChannel::create(options_for("dropnew", SlowConsumerPolicy::kDropNewest, 4096, 256));
  ASSERT_TRUE(channel);
  auto sub = Subscriber::attach(*channel);
  auto pub = Publisher::attach(*channel);
  ASSERT_TRUE(sub && pub);
  int accepted = 0;
  int rejected = 0;
  for (int i = 0; i < 200; ++i) {
    auto result = pub->publish(bytes_of(i, 100));
    if (result) {
      ++accepted;
    } else {
      EXPECT_EQ(result.error().code, ErrorCode::kWouldBlock);
      ++rejected;
    }
  }
  EXPECT_GT(rejected, 0);
  EXPECT_EQ(channel->stats().rejected_full, static_cast<std::uint64_t>(rejected));
  for (int i = 0; i < accepted; ++i) {
    auto view = sub->receive(1s);
    ASSERT_TRUE(view);
    EXPECT_EQ(value_of(view->data), static_cast<std::uint64_t>(i));  // the oldest were kept
  }
  EXPECT_EQ(sub->receive(0ns).error().code, ErrorCode::kWouldBlock);
}

// Proves: DropOldest never blocks the publisher and the subscriber learns exactly how many
// messages it missed; what it does receive is the newest, in order.
TEST(ShmChannel, DropOldestCountsMissedMessagesExactly) {
  auto channel =
      ShmChannel::create(options_for("dropold", SlowConsumerPolicy::kDropOldest, 4096, 256));
  ASSERT_TRUE(channel);
  auto sub = Subscriber::attach(*channel);
  auto pub = Publisher::attach(*channel);
  ASSERT_TRUE(sub && pub);
  constexpr std::uint64_t kCount = 500;
  for (std::uint64_t i = 0; i < kCount; ++i) ASSERT_TRUE(pub->publish(bytes_of(i, 100), 0ns));
  std::uint64_t received = 0;
  std::uint64_t missed = 0;
  std::uint64_t expected_next = 0;
  std::array<std::byte, 256> buffer{};
  bool first = true;
  for (;;) {
    auto view = sub->receive(0ns);
    if (!view) break;
    missed += view->missed_before;
    const std::uint64_t value = value_of(view->data);
    if (first) {
      EXPECT_EQ(value, view->missed_before) << "missed count does not match the first value";
      first = false;
    } else {
      EXPECT_EQ(value, expected_next);
    }
    expected_next = value + 1;
    ++received;
  }
  (void)buffer;
  EXPECT_EQ(received + missed, kCount);
  EXPECT_EQ(sub->missed(), missed);
  EXPECT_GT(missed, 0u);
  EXPECT_EQ(channel->stats().dropped_oldest, missed);
}

// Proves: under DropOldest a held zero-copy view that gets overwritten is reported as kOverrun
// on release, and the copying receive never hands out such a message.
TEST(ShmChannel, DropOldestReportsAnOverwrittenView) {
  auto channel =
      ShmChannel::create(options_for("overrun", SlowConsumerPolicy::kDropOldest, 4096, 256));
  ASSERT_TRUE(channel);
  auto sub = Subscriber::attach(*channel);
  auto pub = Publisher::attach(*channel);
  ASSERT_TRUE(sub && pub);
  ASSERT_TRUE(pub->publish(bytes_of(1, 100)));
  auto view = sub->receive(1s);
  ASSERT_TRUE(view);
  for (int i = 0; i < 100; ++i) ASSERT_TRUE(pub->publish(bytes_of(100 + i, 100), 0ns));
  auto released = sub->release();
  ASSERT_FALSE(released);
  EXPECT_EQ(released.error().code, ErrorCode::kOverrun);
  std::array<std::byte, 256> buffer{};
  auto size = sub->receive_copy(buffer, 1s);
  ASSERT_TRUE(size);
  EXPECT_GE(value_of(std::span(buffer).first(*size)), 100u);
}

// Proves: an abandoned loan (destroyed without commit) becomes a gap, not a wedge.
TEST(ShmChannel, AbandonedLoanBecomesAGapAndTheChannelCarriesOn) {
  auto channel = ShmChannel::create(options_for("abandon"));
  ASSERT_TRUE(channel);
  auto sub = Subscriber::attach(*channel);
  auto pub = Publisher::attach(*channel);
  ASSERT_TRUE(sub && pub);
  {
    auto loan = pub->loan(64, 1s);
    ASSERT_TRUE(loan);
  }
  ASSERT_TRUE(pub->publish(bytes_of(7)));
  auto view = sub->receive(1s);
  ASSERT_TRUE(view);
  EXPECT_EQ(value_of(view->data), 7u);
  EXPECT_EQ(sub->gaps(), 1u);
  EXPECT_EQ(channel->stats().gaps, 1u);
}

// Proves: size limits are enforced with clear errors.
TEST(ShmChannel, OversizedMessageIsRefusedWithAClearError) {
  auto channel =
      ShmChannel::create(options_for("oversize", SlowConsumerPolicy::kBlock, 64 * 1024, 512));
  ASSERT_TRUE(channel);
  auto pub = Publisher::attach(*channel);
  ASSERT_TRUE(pub);
  auto result = pub->publish(std::vector<std::byte>(513));
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error().code, ErrorCode::kMessageTooLarge);
  EXPECT_NE(result.error().message.find("maxMessageSize 512"), std::string::npos);
}

// Proves: the copying receive leaves a too-large message unread so a retry can take it.
TEST(ShmChannel, ReceiveCopyIntoSmallBufferConsumesNothing) {
  auto channel = ShmChannel::create(options_for("small"));
  ASSERT_TRUE(channel);
  auto sub = Subscriber::attach(*channel);
  auto pub = Publisher::attach(*channel);
  ASSERT_TRUE(pub->publish(bytes_of(5, 100)));
  std::array<std::byte, 16> small{};
  EXPECT_EQ(sub->receive_copy(small, 1s).error().code, ErrorCode::kMessageTooLarge);
  std::array<std::byte, 128> large{};
  auto size = sub->receive_copy(large, 1s);
  ASSERT_TRUE(size);
  EXPECT_EQ(*size, 100u);
  EXPECT_EQ(value_of(large), 5u);
}

// Proves: a second creator does not clobber a live channel; a name whose creator is gone is
// reclaimed; the creator unlinks its name when it goes away.
TEST(ShmChannel, SecondCreatorCannotClobberALiveChannel) {
  const auto options = options_for("twice");
  {
    auto first = ShmChannel::create(options);
    ASSERT_TRUE(first);
    auto second = ShmChannel::create(options);
    ASSERT_FALSE(second);
    EXPECT_EQ(second.error().code, ErrorCode::kAlreadyExists);
    auto opened = ShmChannel::open(options.name);
    EXPECT_TRUE(opened) << "the live channel must still be intact";
  }
  EXPECT_EQ(ShmChannel::open(options.name).error().code, ErrorCode::kNotFound);
}

// Proves: an object left behind by a dead creator (no creator lock) is reclaimed by create().
TEST(ShmChannel, StaleSegmentOfADeadCreatorIsReclaimed) {
  const auto options = options_for("stale");
  {
    auto first = ShmChannel::create(options);
    ASSERT_TRUE(first);
    first->release_name();  // as if the creator crashed: name stays, lock goes with the fd
  }
  EXPECT_TRUE(ShmChannel::open(options.name)) << "stale object should still exist";
  auto again = ShmChannel::create(options);
  EXPECT_TRUE(again) << (again ? "" : again.error().message);
}

// Proves: adopt() takes over a channel whose creator is gone when it matches exactly: same
// generation, the subscriber attached before carries on, and the adopter now owns the name.
TEST(ShmChannel, AdoptTakesOverAMatchingChannelWhoseCreatorIsGone) {
  const auto options = options_for("adopt");
  EXPECT_EQ(ShmChannel::adopt(options).error().code, ErrorCode::kNotFound);
  auto first = ShmChannel::create(options);
  ASSERT_TRUE(first);
  const auto generation = first->stats().generation;
  EXPECT_EQ(ShmChannel::adopt(options).error().code, ErrorCode::kAlreadyExists)
      << "a live creator's channel is never adopted";
  // An app's own mapping (a subscriber's shares its channel's, and with it the creator's lock).
  auto app = ShmChannel::open(options.name);
  ASSERT_TRUE(app);
  auto sub = Subscriber::attach(*app);
  ASSERT_TRUE(sub);
  first->release_name();
  first = tl::unexpected(Error{ErrorCode::kNotFound, ""});  // the creator is gone, the name stays

  auto other = options;
  other.policy = SlowConsumerPolicy::kDropOldest;
  const auto mismatch = ShmChannel::adopt(other);
  ASSERT_FALSE(mismatch);
  EXPECT_EQ(mismatch.error().code, ErrorCode::kIncompatible);
  EXPECT_NE(mismatch.error().message.find("DropOldest"), std::string::npos)
      << mismatch.error().message;

  {
    auto adopted = ShmChannel::adopt(options);
    ASSERT_TRUE(adopted) << adopted.error().message;
    EXPECT_EQ(adopted->stats().generation, generation);
    auto pub = Publisher::attach(*adopted);
    ASSERT_TRUE(pub);
    const std::uint64_t value = 42;
    ASSERT_TRUE(pub->publish(std::as_bytes(std::span(&value, 1)), 1s));
    std::array<std::byte, 64> buffer{};
    auto size = sub->receive_copy(buffer, 1s);
    ASSERT_TRUE(size);
    EXPECT_EQ(value_of(buffer), 42u);
  }
  EXPECT_EQ(ShmChannel::open(options.name).error().code, ErrorCode::kNotFound)
      << "the adopter unlinks the name like a creator";
}

// Proves: foreign or damaged segments are a clear error, never undefined behaviour.
TEST(ShmChannel, CorruptedOrForeignHeaderIsAClearError) {
  struct Case {
    const char* what;
    std::size_t offset;
    std::uint64_t value;
    ErrorCode code;
  };
  const Case cases[] = {
      {"bad magic", 0, 0x1234, ErrorCode::kCorrupted},
      {"future layout", offsetof(shm::StaticHeader, layout_version), 99, ErrorCode::kIncompatible},
      {"damaged capacity", offsetof(shm::StaticHeader, capacity), 12345, ErrorCode::kCorrupted},
  };
  for (const Case& c : cases) {
    const auto options = options_for("corrupt");
    auto channel = ShmChannel::create(options);
    ASSERT_TRUE(channel);
    const int fd = ::shm_open(options.name.c_str(), O_RDWR, 0);
    ASSERT_GE(fd, 0);
    void* base = ::mmap(nullptr, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    ASSERT_NE(base, MAP_FAILED);
    std::uint64_t original = 0;
    const std::size_t width = c.offset == offsetof(shm::StaticHeader, layout_version) ? 4 : 8;
    std::memcpy(&original, static_cast<char*>(base) + c.offset, width);
    std::memcpy(static_cast<char*>(base) + c.offset, &c.value, width);
    auto opened = ShmChannel::open(options.name);
    ASSERT_FALSE(opened) << c.what;
    EXPECT_EQ(opened.error().code, c.code) << c.what << ": " << opened.error().message;
    EXPECT_NE(opened.error().message.find(options.name), std::string::npos) << c.what;
    std::memcpy(static_cast<char*>(base) + c.offset, &original, width);
    ::munmap(base, 4096);
    ::close(fd);
  }
  // Not an ipcmesh object at all: a small shm file of zeros and text.
  const std::string foreign = unique_name("foreign");
  const int fd = ::shm_open(foreign.c_str(), O_RDWR | O_CREAT | O_EXCL, 0600);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(::ftruncate(fd, 8192), 0);
  ASSERT_EQ(::pwrite(fd, "hello, not a channel", 20, 0), 20);
  auto opened = ShmChannel::open(foreign);
  ASSERT_FALSE(opened);
  EXPECT_EQ(opened.error().code, ErrorCode::kCorrupted) << opened.error().message;
  ::close(fd);
  ::shm_unlink(foreign.c_str());
}

// Proves: impossible geometries are refused before anything is created.
TEST(ShmChannel, InvalidOptionsAreRefused) {
  auto options = options_for("invalid", SlowConsumerPolicy::kBlock, 4096, 4096);
  EXPECT_EQ(ShmChannel::create(options).error().code, ErrorCode::kInvalidArgument);
  options = options_for("invalid2");
  options.name = "no-leading-slash";
  EXPECT_EQ(ShmChannel::create(options).error().code, ErrorCode::kInvalidArgument);
}

// Proves: the subscriber table has a fixed size and says so when full.
TEST(ShmChannel, FullSubscriberTableIsAClearError) {
  auto options = options_for("table");
  options.max_subscribers = 2;
  auto channel = ShmChannel::create(options);
  ASSERT_TRUE(channel);
  auto a = Subscriber::attach(*channel);
  auto b = Subscriber::attach(*channel);
  ASSERT_TRUE(a && b);
  auto c = Subscriber::attach(*channel);
  ASSERT_FALSE(c);
  EXPECT_EQ(c.error().code, ErrorCode::kTableFull);
}

// Proves: a subscriber that attaches late starts at the tail and is never handed old data.
TEST(ShmChannel, LateSubscriberStartsAtTheTail) {
  auto channel = ShmChannel::create(options_for("late"));
  ASSERT_TRUE(channel);
  auto pub = Publisher::attach(*channel);
  for (int i = 0; i < 10; ++i) ASSERT_TRUE(pub->publish(bytes_of(i)));
  auto sub = Subscriber::attach(*channel);
  ASSERT_TRUE(sub);
  EXPECT_EQ(sub->receive(0ns).error().code, ErrorCode::kWouldBlock);
  ASSERT_TRUE(pub->publish(bytes_of(42)));
  EXPECT_EQ(value_of(sub->receive(1s)->data), 42u);
}

// Proves: a sleeping subscriber (past its spin) is woken by a commit, in both wait modes.
TEST(ShmChannel, SleepingSubscriberIsWokenByACommit) {
  for (WaitMode mode : {WaitMode::kSpinThenSleep, WaitMode::kBusyPoll}) {
    auto channel = ShmChannel::create(options_for("wake"));
    ASSERT_TRUE(channel);
    SubscriberOptions sub_options;
    sub_options.wait_mode = mode;
    sub_options.spin_time = 10us;
    auto sub = Subscriber::attach(*channel, sub_options);
    ASSERT_TRUE(sub);
    std::thread producer([&] {
      auto pub = Publisher::attach(*channel);
      for (int i = 0; i < 50; ++i) {
        std::this_thread::sleep_for(2ms);
        ASSERT_TRUE(pub->publish(bytes_of(i)));
      }
    });
    for (int i = 0; i < 50; ++i) {
      auto view = sub->receive(10s);
      ASSERT_TRUE(view) << view.error().message;
      EXPECT_EQ(value_of(view->data), static_cast<std::uint64_t>(i));
    }
    producer.join();
  }
}

// The `sleeping` word of subscriber slot `slot`, mapped as another process would see it.
class RawSubscriberWord {
 public:
  RawSubscriberWord(const std::string& name, std::uint32_t slot) {
    const int fd = ::shm_open(name.c_str(), O_RDWR, 0);
    if (fd < 0) return;
    shm::StaticHeader header{};
    if (::pread(fd, &header, sizeof header, 0) == static_cast<ssize_t>(sizeof header)) {
      length_ = header.subscribers_offset + (slot + 1) * shm::kSlotBytes;
      base_ = ::mmap(nullptr, length_, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
      offset_ = header.subscribers_offset + slot * shm::kSlotBytes;
    }
    ::close(fd);
  }
  ~RawSubscriberWord() {
    if (base_ != MAP_FAILED) ::munmap(base_, length_);
  }
  bool ok() const { return base_ != MAP_FAILED; }
  std::atomic<std::uint32_t>& sleeping() {
    auto* slot = reinterpret_cast<shm::SubscriberSlot*>(static_cast<std::byte*>(base_) + offset_);
    return slot->sleeping;
  }

 private:
  void* base_ = MAP_FAILED;
  std::size_t length_ = 0;
  std::size_t offset_ = 0;
};

// Proves rule W1c's gate: a publisher commits without a fence while every subscriber issues the
// sleeper barrier, and goes back to seq_cst commits within one scan interval once a subscriber
// that does not (an older build, which stores only 0 or 1 in its word) is in the table, even on
// a channel too quiet to finish a lap.
TEST(ShmChannel, CommitsAreFencedAgainWhenASubscriberDoesNotIssueTheSleeperBarrier) {
  auto options = options_for("fenceless", SlowConsumerPolicy::kBlock, 1 << 20, 64);
  auto channel = ShmChannel::create(options);
  ASSERT_TRUE(channel);
  auto sub = Subscriber::attach(*channel);
  ASSERT_TRUE(sub);
  auto pub = Publisher::attach(*channel);
  ASSERT_TRUE(pub);
  ASSERT_TRUE(pub->publish(bytes_of(0)));
  EXPECT_TRUE(pub->commits_without_fence())
      << "this kernel offers membarrier(GLOBAL_EXPEDITED): both sides should use it";
  RawSubscriberWord word(options.name, sub->slot());
  ASSERT_TRUE(word.ok());
  EXPECT_EQ(word.sleeping().load(), shm::kSleepsWithBarrier);
  EXPECT_FALSE(channel->stats().subscribers.at(0).sleeping) << "the barrier bit is not a sleep";
  EXPECT_TRUE(channel->stats().subscribers.at(0).sleeps_with_barrier);
  word.sleeping().store(shm::kSleepingNow);  // what an older build's sleeper writes
  int loans = 0;
  for (; loans < 5000 && pub->commits_without_fence(); ++loans) {
    ASSERT_TRUE(pub->publish(bytes_of(loans)));
    auto view = sub->receive(1s);
    ASSERT_TRUE(view);
  }
  EXPECT_FALSE(pub->commits_without_fence());
  EXPECT_LE(loans, 4096) << "at most one scan interval, far less than a lap of this ring";
  EXPECT_TRUE(channel->stats().subscribers.at(0).sleeping);
  EXPECT_FALSE(channel->stats().subscribers.at(0).sleeps_with_barrier);
}

// Proves: the first sleep of a wait skips the sleeper barrier (it lasts at most 1 ms instead) and
// later sleeps of the same wait issue it: on a VM the barrier costs tens of microseconds while a
// producer runs, and most waits of a paced stream end within their first sleep.
TEST(ShmChannel, TheFirstSleepOfAWaitSkipsTheSleeperBarrier) {
  auto channel =
      ShmChannel::create(options_for("deferredbarrier", SlowConsumerPolicy::kBlock, 1 << 20, 64));
  ASSERT_TRUE(channel);
  auto sub = Subscriber::attach(*channel, sleeps_at_once());
  ASSERT_TRUE(sub);
  auto pub = Publisher::attach(*channel);
  ASSERT_TRUE(pub);
  for (int i = 0; i < 20; ++i) {
    EXPECT_FALSE(sub->receive(300us)) << "nothing was published";
  }
  EXPECT_EQ(sub->sleeper_barriers(), 0u) << "waits shorter than the first sleep need no barrier";
  EXPECT_FALSE(sub->receive(30ms));
  EXPECT_GE(sub->sleeper_barriers(), 1u) << "a wait past its first sleep issues the barrier";
  ASSERT_TRUE(pub->publish(bytes_of(7)));
  EXPECT_TRUE(sub->receive(1s));
}

// Proves: many producer threads and many subscriber threads: every subscriber gets every
// message exactly once and in order per producer (also the TSan workload for the ring).
TEST(ShmChannel, ManyProducersManySubscribersLoseNothingUnderBlock) {
  auto channel =
      ShmChannel::create(options_for("mpmc", SlowConsumerPolicy::kBlock, 16 * 1024, 256));
  ASSERT_TRUE(channel);
  constexpr int kProducers = 3;
  constexpr int kSubscribers = 3;
  constexpr std::uint64_t kPerProducer = 20000;
  std::vector<Subscriber> subscribers;
  for (int s = 0; s < kSubscribers; ++s)
    subscribers.push_back(std::move(*Subscriber::attach(*channel)));
  std::vector<std::thread> threads;
  std::atomic<int> failures{0};
  for (int s = 0; s < kSubscribers; ++s) {
    threads.emplace_back([&, s] {
      std::array<std::uint64_t, kProducers> next{};
      for (std::uint64_t n = 0; n < kProducers * kPerProducer; ++n) {
        auto view = subscribers[s].receive(10s);
        if (!view) {
          ++failures;
          return;
        }
        std::uint64_t words[2];
        std::memcpy(words, view->data.data(), sizeof words);
        if (words[0] >= kProducers || words[1] != next[words[0]]++) ++failures;
      }
    });
  }
  for (int p = 0; p < kProducers; ++p) {
    threads.emplace_back([&, p] {
      auto pub = Publisher::attach(*channel);
      if (!pub) {
        ++failures;
        return;
      }
      for (std::uint64_t i = 0; i < kPerProducer; ++i) {
        const std::uint64_t words[2] = {static_cast<std::uint64_t>(p), i};
        std::vector<std::byte> payload(16 + (i % 7) * 8);
        std::memcpy(payload.data(), words, sizeof words);
        if (!pub->publish(payload, 10s)) {
          ++failures;
          return;
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ(channel->stats().published_messages, kProducers * kPerProducer);
}

}  // namespace
}  // namespace ipcmesh

namespace ipcmesh {
namespace {

// Proves: a receive blocked without a timeout returns kCancelled once its cancel flag is set and
// the channel's sleepers are woken (how daemons stop without polling).
TEST(ShmChannel, BlockedReceiveWithoutTimeoutIsCancelledByFlagAndWake) {
  ShmChannelOptions options;
  options.name = "/ipcmesh-test-cancel-" + std::to_string(::getpid());
  options.capacity_bytes = 64 * 1024;
  options.max_message_size = 1024;
  auto channel = ShmChannel::create(options);
  ASSERT_TRUE(channel);
  std::atomic<bool> cancel{false};
  SubscriberOptions sub_options;
  sub_options.cancel = &cancel;
  sub_options.spin_time = std::chrono::microseconds(1);
  auto sub = Subscriber::attach(*channel, sub_options);
  ASSERT_TRUE(sub);
  std::atomic<bool> returned{false};
  ErrorCode code = ErrorCode::kSystem;
  std::thread waiter([&] {
    auto view = sub->receive(kWaitForever);
    if (!view) code = view.error().code;
    returned = true;
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  EXPECT_FALSE(returned.load()) << "receive returned before it was cancelled";
  cancel = true;
  channel->wake_all();
  waiter.join();
  EXPECT_EQ(code, ErrorCode::kCancelled);
}

}  // namespace
}  // namespace ipcmesh
