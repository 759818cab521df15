// What the ring does when it is replaced or damaged under attached publishers and subscribers
// (docs/protocol.md, sections 5 and 6), in one process: a superseded generation is drained and
// left for the next by itself, a name that points at another ring is followed, and a ring
// truncated by a foreign program is an error, never a SIGBUS, wherever the library checks it.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/mman.h>
#include <unistd.h>

#include <atomic>
#include <cstring>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "ipcmesh/shm_channel.hpp"

namespace ipcmesh {
namespace {

using namespace std::chrono_literals;

std::string unique_name(const char* tag) {
  static std::atomic<int> counter{0};
  return "/ipcmesh-test-gen-" + std::string(tag) + "-" + std::to_string(::getpid()) + "-" +
         std::to_string(counter++);
}

ShmChannelOptions ring(const std::string& name, std::uint64_t capacity = 64 * 1024) {
  ShmChannelOptions options;
  options.name = name;
  options.capacity_bytes = capacity;
  options.max_message_size = 1024;
  options.max_subscribers = 8;
  options.max_producers = 8;
  return options;
}

std::vector<std::byte> bytes_of(std::uint64_t value) {
  std::vector<std::byte> out(sizeof value);
  std::memcpy(out.data(), &value, sizeof value);
  return out;
}

std::uint64_t value_of(std::span<const std::byte> data) {
  std::uint64_t value = 0;
  std::memcpy(&value, data.data(), std::min(data.size(), sizeof value));
  return value;
}

// What a raw-mmap app does to a name it thinks is its own: ftruncate it to its size.
void truncate_object(const std::string& name, off_t size) {
  const int fd = ::shm_open(name.c_str(), O_RDWR, 0);
  ASSERT_GE(fd, 0) << std::strerror(errno);
  ASSERT_EQ(::ftruncate(fd, size), 0) << std::strerror(errno);
  ::close(fd);
}

// True while this process still maps an object of that name that has been unlinked.
bool maps_unlinked_object(const std::string& name) {
  std::ifstream maps("/proc/self/maps");
  for (std::string line; std::getline(maps, line);) {
    if (line.find("/dev/shm" + name) != std::string::npos &&
        line.find("(deleted)") != std::string::npos) {
      return true;
    }
  }
  return false;
}

// The relay's part of rule G1: close the old generation, unlink it, create the next.
Result<ShmChannel> replace_ring(std::optional<ShmChannel>& creator, const ShmChannelOptions& next) {
  if (auto closed = creator->supersede(); !closed) return tl::unexpected(closed.error());
  creator.reset();  // the creator's handle unlinks the name
  return ShmChannel::create(next);
}

// Proves: when the relay replaces the ring (spec change), a publisher and a subscriber attached
// to it move to the new generation by themselves: the subscriber first reads what is left in
// the old ring, then everything published into the new one, in order; each counts one move, the
// new segment counts two, and the old segment is no longer mapped by this process.
TEST(ShmGeneration, SupersededRingMovesPublisherAndSubscriberToTheNextGeneration) {
  const std::string name = unique_name("move");
  std::optional<ShmChannel> creator;
  {
    auto created = ShmChannel::create(ring(name));
    ASSERT_TRUE(created) << created.error().message;
    creator.emplace(std::move(*created));
  }
  auto app = ShmChannel::open(name);
  ASSERT_TRUE(app);
  auto publisher = Publisher::attach(*app);
  auto subscriber = Subscriber::attach(*app);
  ASSERT_TRUE(publisher && subscriber);
  for (std::uint64_t i = 0; i < 10; ++i) ASSERT_TRUE(publisher->publish(bytes_of(i)));
  for (std::uint64_t i = 0; i < 5; ++i) EXPECT_EQ(value_of(subscriber->receive(1s)->data), i);
  const auto old_generation = app->stats().generation;

  auto next = replace_ring(creator, ring(name, 128 * 1024));
  ASSERT_TRUE(next) << next.error().message;
  for (std::uint64_t i = 10; i < 20; ++i) {
    auto published = publisher->publish(bytes_of(i), 1s);
    ASSERT_TRUE(published) << i << ": " << published.error().message;
  }
  for (std::uint64_t i = 5; i < 20; ++i) {
    auto view = subscriber->receive(1s);
    ASSERT_TRUE(view) << i << ": " << view.error().message;
    EXPECT_EQ(value_of(view->data), i);
  }
  EXPECT_EQ(publisher->reattached(), 1u);
  EXPECT_EQ(subscriber->reattached(), 1u);
  const ChannelStats stats = next->stats();
  EXPECT_EQ(stats.reattached, 2u);
  EXPECT_EQ(stats.published_messages, 10u);
  EXPECT_EQ(app->stats().generation, stats.generation) << "the handle follows its peers";
  EXPECT_NE(stats.generation, old_generation);
  EXPECT_EQ(app->capacity(), 128u * 1024);
  EXPECT_FALSE(maps_unlinked_object(name)) << "the old generation is still mapped";
}

// Proves: a subscriber asleep on a ring that is superseded is woken by the close, and a
// publisher that publishes while the next generation does not exist yet waits for it.
TEST(ShmGeneration, SleepersAreWokenAndPublishersWaitForTheNextGeneration) {
  const std::string name = unique_name("wake");
  std::optional<ShmChannel> creator;
  creator.emplace(std::move(*ShmChannel::create(ring(name))));
  auto app = ShmChannel::open(name);
  ASSERT_TRUE(app);
  SubscriberOptions slow_checks;
  slow_checks.ring_check_interval = kWaitForever;  // only the close can wake it
  auto subscriber = Subscriber::attach(*app, slow_checks);
  auto publisher = Publisher::attach(*app);
  ASSERT_TRUE(subscriber && publisher);
  std::uint64_t received = ~0ull;
  std::string receive_error;
  std::thread reader([&] {
    auto view = subscriber->receive(10s);
    if (view) {
      received = value_of(view->data);
    } else {
      receive_error = view.error().message;
    }
  });
  std::this_thread::sleep_for(50ms);  // asleep on the futex by now
  ASSERT_TRUE(creator->supersede());
  creator.reset();
  std::thread writer([&] {
    auto published = publisher->publish(bytes_of(7), 10s);
    EXPECT_TRUE(published) << published.error().message;
  });
  std::this_thread::sleep_for(50ms);  // the publisher waits for the next generation meanwhile
  auto next = ShmChannel::create(ring(name));
  ASSERT_TRUE(next);
  writer.join();
  reader.join();
  EXPECT_EQ(receive_error, "");
  EXPECT_EQ(received, 7u);
  EXPECT_EQ(next->stats().reattached, 2u);
}

// Proves: rule G4: when the name points at a new ring without the old one being closed (its
// replacement could not mark it), a subscriber notices on its slow path, closes the old ring for
// everyone, drains it and moves; the publisher follows the close.
TEST(ShmGeneration, ANameThatPointsAtAnotherRingIsFollowedWithoutAClose) {
  const std::string name = unique_name("g4");
  auto first = ShmChannel::create(ring(name));
  ASSERT_TRUE(first);
  first->release_name();
  auto app = ShmChannel::open(name);
  ASSERT_TRUE(app);
  SubscriberOptions quick_checks;
  quick_checks.ring_check_interval = 20ms;
  auto subscriber = Subscriber::attach(*app, quick_checks);
  auto publisher = Publisher::attach(*app);
  ASSERT_TRUE(subscriber && publisher);
  for (std::uint64_t i = 0; i < 5; ++i) ASSERT_TRUE(publisher->publish(bytes_of(i)));
  for (std::uint64_t i = 0; i < 3; ++i) EXPECT_EQ(value_of(subscriber->receive(1s)->data), i);

  ASSERT_TRUE(ShmChannel::unlink(name));
  auto second = ShmChannel::create(ring(name, 32 * 1024));
  ASSERT_TRUE(second) << second.error().message;
  for (std::uint64_t i = 3; i < 5; ++i) EXPECT_EQ(value_of(subscriber->receive(1s)->data), i);
  // Nothing more in the old ring: the subscriber's next wait checks the name and moves.
  EXPECT_FALSE(subscriber->receive(200ms));
  EXPECT_EQ(subscriber->reattached(), 1u);
  EXPECT_TRUE(first->stats().superseded) << "the subscriber closed the orphaned ring";
  ASSERT_TRUE(publisher->publish(bytes_of(5), 1s));
  EXPECT_EQ(publisher->reattached(), 1u);
  auto view = subscriber->receive(1s);
  ASSERT_TRUE(view) << view.error().message;
  EXPECT_EQ(value_of(view->data), 5u);
  EXPECT_EQ(second->stats().reattached, 2u);
}

// Proves: rule G3: the subscriber joins the next generation at its start, so what publishers
// put there before it arrived is delivered; once the new ring may have wrapped, it joins at the
// tail instead and is never handed overwritten data.
TEST(ShmGeneration, SubscriberJoinsTheNextGenerationAtItsStartUnlessItWrapped) {
  for (const bool wrapped : {false, true}) {
    SCOPED_TRACE(wrapped ? "wrapped" : "not wrapped");
    const std::string name = unique_name("start");
    std::optional<ShmChannel> creator;
    creator.emplace(std::move(*ShmChannel::create(ring(name, 4096 * 4))));
    auto app = ShmChannel::open(name);
    auto publisher = Publisher::attach(*app);
    auto subscriber = Subscriber::attach(*app);
    ASSERT_TRUE(publisher && subscriber);
    auto next = replace_ring(creator, ring(name, 4096 * 4));
    ASSERT_TRUE(next);
    // 1040-byte records: 4 fill a quarter of the ring, 40 lap it more than twice.
    const std::uint64_t count = wrapped ? 40 : 4;
    std::vector<std::byte> payload(1024);
    for (std::uint64_t i = 0; i < count; ++i) {
      std::memcpy(payload.data(), &i, sizeof i);
      ASSERT_TRUE(publisher->publish(payload, 1s)) << i;
    }
    if (!wrapped) {
      for (std::uint64_t i = 0; i < count; ++i) {
        auto view = subscriber->receive(1s);
        ASSERT_TRUE(view) << i << ": " << view.error().message;
        EXPECT_EQ(value_of(view->data), i);
      }
    } else {
      EXPECT_FALSE(subscriber->receive(0ns)) << "joined a wrapped generation at its start";
    }
    ASSERT_TRUE(publisher->publish(bytes_of(1000), 1s));
    auto view = subscriber->receive(1s);
    ASSERT_TRUE(view) << view.error().message;
    EXPECT_EQ(value_of(view->data), 1000u);
    EXPECT_EQ(subscriber->reattached(), 1u);
  }
}

// Proves: a publisher holding a loan when the ring closes commits it into the old generation
// (where the subscriber still reads it) and cannot move before that.
TEST(ShmGeneration, APublisherMovesOnlyWithoutAnOutstandingLoan) {
  const std::string name = unique_name("loan");
  std::optional<ShmChannel> creator;
  creator.emplace(std::move(*ShmChannel::create(ring(name))));
  auto app = ShmChannel::open(name);
  auto publisher = Publisher::attach(*app);
  auto subscriber = Subscriber::attach(*app);
  ASSERT_TRUE(publisher && subscriber);
  auto held = publisher->loan(8);
  ASSERT_TRUE(held);
  auto next = replace_ring(creator, ring(name));
  ASSERT_TRUE(next);
  auto second = publisher->loan(8, 100ms);
  ASSERT_FALSE(second);
  EXPECT_EQ(second.error().code, ErrorCode::kInvalidArgument) << second.error().message;
  const auto one = bytes_of(1);
  std::memcpy(held->data().data(), one.data(), one.size());
  ASSERT_TRUE(publisher->commit(std::move(*held)));
  ASSERT_TRUE(publisher->publish(bytes_of(2), 1s));
  EXPECT_EQ(value_of(subscriber->receive(1s)->data), 1u);
  EXPECT_EQ(value_of(subscriber->receive(1s)->data), 2u);
  EXPECT_EQ(publisher->reattached(), 1u);
}

struct TruncationCase {
  const char* what;
  off_t size;  // bytes left
};

// Proves: a ring truncated under the process (to nothing, or to less than its size) fails a
// sleeping subscriber and a blocked publisher with kCorrupted instead of SIGBUS; afterwards no
// call of this process on that ring faults (its mapping is quarantined): publishing, receiving,
// attaching and the handle's verify() all say kCorrupted.
TEST(ShmGeneration, RingTruncatedUnderTheProcessIsAnErrorNotACrash) {
  for (const TruncationCase& truncation :
       {TruncationCase{"to zero", 0}, TruncationCase{"to half", 32 * 1024}}) {
    SCOPED_TRACE(truncation.what);
    const std::string name = unique_name("truncate");
    auto creator = ShmChannel::create(ring(name));
    ASSERT_TRUE(creator);
    auto app = ShmChannel::open(name);
    ASSERT_TRUE(app);
    SubscriberOptions quick_checks;
    quick_checks.ring_check_interval = 20ms;
    auto idle = Subscriber::attach(*app, quick_checks);  // waits on an empty ring
    auto stalled = Subscriber::attach(*app);             // never reads: the ring fills up
    auto publisher = Publisher::attach(*app);
    ASSERT_TRUE(idle && stalled && publisher);
    std::vector<std::byte> payload(1000);
    while (publisher->publish(payload, 0ns)) {
    }
    while (idle->receive(0ns)) {
    }
    ErrorCode idle_code = ErrorCode::kSystem;
    std::string idle_message;
    ErrorCode blocked_code = ErrorCode::kSystem;
    std::thread reader([&] {
      auto view = idle->receive(10s);
      idle_code = view ? ErrorCode::kSystem : view.error().code;
      idle_message = view ? "" : view.error().message;
    });
    std::thread writer([&] {
      auto published = publisher->publish(payload, 10s);
      blocked_code = published ? ErrorCode::kSystem : published.error().code;
    });
    std::this_thread::sleep_for(100ms);  // both asleep on futexes by now
    truncate_object(name, truncation.size);
    reader.join();
    writer.join();
    EXPECT_EQ(idle_code, ErrorCode::kCorrupted);
    EXPECT_NE(idle_message.find("resized to " + std::to_string(truncation.size) + " bytes"),
              std::string::npos)
        << idle_message;
    EXPECT_EQ(blocked_code, ErrorCode::kCorrupted);
    // Everything after detection: errors, and nothing in this process faults.
    EXPECT_EQ(publisher->publish(payload, 0ns).error().code, ErrorCode::kCorrupted);
    EXPECT_EQ(stalled->receive(0ns).error().code, ErrorCode::kCorrupted);
    EXPECT_EQ(idle->receive(0ns).error().code, ErrorCode::kCorrupted);
    EXPECT_EQ(Publisher::attach(*app).error().code, ErrorCode::kCorrupted);
    EXPECT_EQ(app->verify().error().code, ErrorCode::kCorrupted);
    EXPECT_EQ(creator->verify().error().code, ErrorCode::kCorrupted);
  }
}

// Proves: after a truncated ring was reported, a subscriber and a publisher move to the ring that
// replaces it under the same name (the relay's recovery), without waiting for one before.
TEST(ShmGeneration, ATruncatedRingIsLeftForItsReplacement) {
  const std::string name = unique_name("recover");
  auto creator = ShmChannel::create(ring(name));
  ASSERT_TRUE(creator);
  creator->release_name();
  auto app = ShmChannel::open(name);
  auto publisher = Publisher::attach(*app);
  auto subscriber = Subscriber::attach(*app);
  ASSERT_TRUE(publisher && subscriber);
  truncate_object(name, 0);
  // Any check (here the handle's) quarantines the mapping for every peer of the process.
  ASSERT_EQ(app->verify().error().code, ErrorCode::kCorrupted);
  EXPECT_EQ(subscriber->receive(0ns).error().code, ErrorCode::kCorrupted);
  EXPECT_EQ(publisher->publish(bytes_of(1), 0ns).error().code, ErrorCode::kCorrupted);

  ASSERT_TRUE(ShmChannel::unlink(name));
  auto replacement = ShmChannel::create(ring(name));
  ASSERT_TRUE(replacement);
  ASSERT_TRUE(publisher->publish(bytes_of(2), 1s));
  auto view = subscriber->receive(1s);
  ASSERT_TRUE(view) << view.error().message;
  EXPECT_EQ(value_of(view->data), 2u);
  EXPECT_EQ(replacement->stats().reattached, 2u);
}

}  // namespace
}  // namespace ipcmesh
