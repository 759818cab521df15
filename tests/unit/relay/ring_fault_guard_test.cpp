// The relay's SIGBUS guard: an access to a watched ring truncated under the process survives and
// is reported, every other SIGBUS keeps its default action.
#include "relay/ring_fault_guard.hpp"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <unistd.h>

#include <atomic>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "ipcmesh/shm_channel.hpp"

namespace ipcmesh::relay {
namespace {

std::string unique_name(const char* tag) {
  static int counter = 0;
  return "/ipcmesh-test-guard-" + std::string(tag) + "-" + std::to_string(::getpid()) + "-" +
         std::to_string(counter++);
}

ShmChannelOptions ring(const std::string& name) {
  ShmChannelOptions options;
  options.name = name;
  options.capacity_bytes = 256 * 1024;
  options.max_message_size = 1024;
  return options;
}

void truncate_object(const std::string& name, off_t size) {
  const int fd = ::shm_open(name.c_str(), O_RDWR, 0);
  ASSERT_GE(fd, 0) << std::strerror(errno);
  ASSERT_EQ(::ftruncate(fd, size), 0) << std::strerror(errno);
  ::close(fd);
}

// The death tests' children die of SIGBUS on purpose: no core file for them.
void no_core_file() {
  const rlimit none{0, 0};
  ::setrlimit(RLIMIT_CORE, &none);
}

// Reads every page of the mapping; volatile so that the compiler keeps each access.
std::uint64_t touch_every_page(std::span<std::byte> mapping) {
  std::uint64_t sum = 0;
  for (std::size_t offset = 0; offset < mapping.size(); offset += 4096) {
    sum += static_cast<std::uint8_t>(*reinterpret_cast<volatile std::byte*>(&mapping[offset]));
  }
  return sum;
}

// Proves: threads that read and write a watched ring after a foreign program truncated it keep
// running; the watch says faulted and the ring now reads as a closed, superseded generation
// whose handle reports kCorrupted.
TEST(RingFaultGuard, AWatchedRingTruncatedUnderItsReadersDoesNotKillTheProcess) {
  auto guard = RingFaultGuard::install();
  ASSERT_TRUE(guard) << guard.error().message;
  const std::string name = unique_name("watched");
  auto channel = ShmChannel::create(ring(name));
  ASSERT_TRUE(channel) << channel.error().message;
  auto watch = (*guard)->watch(channel->mapping());
  ASSERT_TRUE(watch);
  EXPECT_FALSE(watch->faulted());
  touch_every_page(channel->mapping());
  truncate_object(name, 0);

  std::vector<std::thread> threads;
  std::atomic<int> survived{0};
  for (int i = 0; i < 4; ++i) {
    threads.emplace_back([&, i] {
      const auto mapping = channel->mapping();
      touch_every_page(mapping);
      mapping[4096 * (i + 1)] = std::byte{1};  // a write faults the same way
      ++survived;
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(survived.load(), 4);
  EXPECT_TRUE(watch->faulted());
  EXPECT_EQ(channel->verify().error().code, ErrorCode::kCorrupted);
  EXPECT_TRUE(channel->stats().superseded) << "the quarantined memory reads as closed";
}

// Proves: a fault in memory the guard does not watch (never watched, or no longer) kills the
// process with SIGBUS, as without the guard.
TEST(RingFaultGuardDeathTest, AFaultOutsideAWatchedRingKeepsItsDefaultAction) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  for (const bool watched_before : {false, true}) {
    EXPECT_EXIT(
        {
          no_core_file();
          auto guard = RingFaultGuard::install();
          const std::string name = unique_name("unwatched");
          auto channel = ShmChannel::create(ring(name));
          if (!guard || !channel) ::_exit(3);
          if (watched_before) {
            auto watch = (*guard)->watch(channel->mapping());  // destroyed at once
          }
          truncate_object(name, 0);
          touch_every_page(channel->mapping());
          ::_exit(0);
        },
        ::testing::KilledBySignal(SIGBUS), "");
  }
}

// Proves: a SIGBUS sent with kill (not a fault) also keeps its default action.
TEST(RingFaultGuardDeathTest, ASentSigbusKeepsItsDefaultAction) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_EXIT(
      {
        no_core_file();
        auto guard = RingFaultGuard::install();
        if (!guard) ::_exit(3);
        ::kill(::getpid(), SIGBUS);
        ::_exit(0);
      },
      ::testing::KilledBySignal(SIGBUS), "");
}

// Proves: one guard per process; after it is gone another can be installed.
TEST(RingFaultGuard, OneGuardPerProcess) {
  auto first = RingFaultGuard::install();
  ASSERT_TRUE(first);
  auto second = RingFaultGuard::install();
  ASSERT_FALSE(second);
  EXPECT_EQ(second.error().code, ErrorCode::kAlreadyExists);
  first->reset();
  EXPECT_TRUE(RingFaultGuard::install());
}

}  // namespace
}  // namespace ipcmesh::relay
