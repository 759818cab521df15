// ipcmesh-test-peer: a real, separate process that plays one role on a shm channel for the ipc
// tests. Prints "ready" once attached, then a one-line summary; the tests parse both.
//   publish NAME ID COUNT SIZE            publish COUNT messages {ID, seq} (Block/DropOldest wait)
//   publish-nonblocking NAME ID COUNT SIZE count kWouldBlock refusals (DropNewest)
//   subscribe NAME TOTAL PRODUCERS DELAY_US [IDLE_MS]  receive until TOTAL seen or IDLE_MS idle
//   hold-loan NAME SIZE                   loan and never commit (to be killed mid-write)
//   hold-view NAME                        receive one message and never release (to be killed)
//   stream NAME COUNT INTERVAL_US         publish {seq} COUNT times, one per interval, following
//                                         the channel's generations; "published N reattached R"
//   follow NAME COUNT                     receive COUNT messages {seq} in order, following the
//                                         channel's generations; "received N in_order B
//                                         reattached R unlinked_mappings M"
//   wait-error NAME                       receive (and drop) until an error; "error CODE MESSAGE"
//   blocked-publish NAME SIZE             publish (Block) until an error; "error CODE MESSAGE"
//   truncate NAME BYTES                   what a raw-mmap app does to a name it thinks is its own
//   wake-ping NAME COUNT LATE_MS          COUNT pings on NAME, each answered on NAME.pong (busy
//                                         poll), ping k sent k % 64 us after its answer;
//                                         "round_trips N in_order B late L max_us M
//                                         fenceless F" (late: a round trip of LATE_MS or more)
//   wake-pong NAME COUNT LATE_MS          answers COUNT pings, sleeping on every wait (no spin);
//                                         "answered N sleeps S" (voluntary context switches)
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "ipcmesh/shm_channel.hpp"

using namespace ipcmesh;
using namespace std::chrono_literals;

namespace {

int fail(const std::string& what) {
  std::fprintf(stderr, "ipcmesh-test-peer: %s\n", what.c_str());
  return 1;
}

void say(const char* line) {
  std::printf("%s\n", line);
  std::fflush(stdout);
}

void sleep_forever() {
  for (;;) ::pause();
}

int report_error(const Error& error) {
  std::printf("error %s %s\n", std::string(to_string(error.code)).c_str(), error.message.c_str());
  return 0;
}

// Mappings of this process whose object was unlinked: an old generation still held.
int unlinked_mappings(const std::string& name) {
  std::ifstream maps("/proc/self/maps");
  int count = 0;
  for (std::string line; std::getline(maps, line);) {
    if (line.find("/dev/shm" + name) != std::string::npos &&
        line.find("(deleted)") != std::string::npos) {
      ++count;
    }
  }
  return count;
}

long voluntary_switches() {
  rusage usage{};
  ::getrusage(RUSAGE_SELF, &usage);
  return usage.ru_nvcsw;
}

// Rule W1/W1c, the pinging side: publishes {seq} and busy-polls for the answer. Ping k is
// committed k % 64 us after the answer, so the commits sweep the whole of the other side's way to
// sleep (announce, barrier, re-check, futex) and beyond it, whatever that way costs on this
// machine; and each ping is the last message until it is answered, so a lost wake-up is not
// hidden by the next commit. A round trip of LATE_MS or more counts as late.
int wake_ping(const ShmChannel& pings, const ShmChannel& pongs, std::uint64_t count,
              std::uint64_t late_ms) {
  auto publisher = Publisher::attach(pings);
  if (!publisher) return fail(publisher.error().message);
  SubscriberOptions busy;
  busy.wait_mode = WaitMode::kBusyPoll;
  auto answers = Subscriber::attach(pongs, busy);
  if (!answers) return fail(answers.error().message);
  say("ready");
  std::uint64_t late = 0, max_ns = 0;
  bool in_order = true;
  for (std::uint64_t seq = 0; seq < count; ++seq) {
    // Busy, not sleeping: a sleep's own wake-up latency would blur the sweep.
    const auto answered_at = std::chrono::steady_clock::now();
    while (std::chrono::steady_clock::now() - answered_at < std::chrono::microseconds(seq % 64)) {
    }
    const auto sent = std::chrono::steady_clock::now();
    auto published = publisher->publish(std::as_bytes(std::span(&seq, 1)), 30s);
    if (!published) return fail("ping " + std::to_string(seq) + ": " + published.error().message);
    auto answer = answers->receive(30s);
    if (!answer) return fail("pong " + std::to_string(seq) + ": " + answer.error().message);
    std::uint64_t echoed = 0;
    std::memcpy(&echoed, answer->data.data(), sizeof echoed);
    in_order = in_order && echoed == seq;
    const auto took =
        static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(
                                       std::chrono::steady_clock::now() - sent)
                                       .count());
    max_ns = std::max(max_ns, took);
    if (took >= late_ms * 1'000'000) ++late;
  }
  std::printf("round_trips %llu in_order %d late %llu max_us %llu fenceless %d\n",
              static_cast<unsigned long long>(count), in_order ? 1 : 0,
              static_cast<unsigned long long>(late), static_cast<unsigned long long>(max_ns / 1000),
              publisher->commits_without_fence() ? 1 : 0);
  return 0;
}

// The answering side: sleeps on every wait (no spin), answers each ping with its number.
int wake_pong(const ShmChannel& pings, const ShmChannel& pongs, std::uint64_t count) {
  SubscriberOptions sleepy;
  sleepy.wait_mode = WaitMode::kSpinThenSleep;
  sleepy.spin_time = 0ns;
  sleepy.ring_check_interval = 10s;  // a lost wake-up shows as a long sleep
  auto subscriber = Subscriber::attach(pings, sleepy);
  if (!subscriber) return fail(subscriber.error().message);
  auto publisher = Publisher::attach(pongs);
  if (!publisher) return fail(publisher.error().message);
  say("ready");
  const long switches_before = voluntary_switches();
  for (std::uint64_t answered = 0; answered < count; ++answered) {
    auto ping = subscriber->receive(30s);
    if (!ping) return fail("ping " + std::to_string(answered) + ": " + ping.error().message);
    auto published = publisher->publish(ping->data, 30s);
    if (!published) return fail("pong: " + published.error().message);
  }
  std::printf("answered %llu sleeps %ld\n", static_cast<unsigned long long>(count),
              voluntary_switches() - switches_before);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3) return fail("usage: ipcmesh-test-peer ROLE NAME ...");
  const std::string role = argv[1];
  if (role == "truncate") {
    if (argc < 4) return fail("truncate NAME BYTES");
    const int fd = ::shm_open(argv[2], O_RDWR, 0);
    if (fd < 0) return fail(std::string("shm_open: ") + std::strerror(errno));
    if (::ftruncate(fd, static_cast<off_t>(std::strtoll(argv[3], nullptr, 10))) != 0) {
      return fail(std::string("ftruncate: ") + std::strerror(errno));
    }
    ::close(fd);
    return 0;
  }
  auto channel = ShmChannel::open_wait(argv[2], 10s);
  if (!channel) return fail(channel.error().message);
  if (role == "wake-ping" || role == "wake-pong") {
    if (argc < 5) return fail(role + " NAME COUNT LATE_MS");
    auto pongs = ShmChannel::open_wait(std::string(argv[2]) + ".pong", 10s);
    if (!pongs) return fail(pongs.error().message);
    const std::uint64_t count = std::strtoull(argv[3], nullptr, 10);
    return role == "wake-ping"
               ? wake_ping(*channel, *pongs, count, std::strtoull(argv[4], nullptr, 10))
               : wake_pong(*channel, *pongs, count);
  }

  if (role == "publish" || role == "publish-nonblocking") {
    if (argc < 6) return fail("publish NAME ID COUNT SIZE");
    const std::uint64_t id = std::strtoull(argv[3], nullptr, 10);
    const std::uint64_t count = std::strtoull(argv[4], nullptr, 10);
    const std::size_t size = std::max<std::size_t>(16, std::strtoull(argv[5], nullptr, 10));
    auto publisher = Publisher::attach(*channel);
    if (!publisher) return fail(publisher.error().message);
    say("ready");
    std::uint64_t rejected = 0;
    std::vector<std::byte> payload(size);
    for (std::uint64_t seq = 0; seq < count; ++seq) {
      const std::uint64_t words[2] = {id, seq};
      std::memcpy(payload.data(), words, sizeof words);
      for (;;) {
        auto result = publisher->publish(payload, role == "publish" ? 30s : 0ns);
        if (result) break;
        if (result.error().code != ErrorCode::kWouldBlock) return fail(result.error().message);
        ++rejected;
        if (role == "publish-nonblocking") break;  // DropNewest: the message is lost, say so
      }
    }
    std::printf("published %llu rejected %llu\n", static_cast<unsigned long long>(count - rejected),
                static_cast<unsigned long long>(rejected));
    return 0;
  }

  if (role == "subscribe") {
    if (argc < 6) return fail("subscribe NAME TOTAL PRODUCERS DELAY_US");
    const std::uint64_t total = std::strtoull(argv[3], nullptr, 10);
    const std::size_t producers = std::strtoull(argv[4], nullptr, 10);
    const auto delay = std::chrono::microseconds(std::strtoull(argv[5], nullptr, 10));
    const auto idle =
        std::chrono::milliseconds(argc > 6 ? std::strtoull(argv[6], nullptr, 10) : 10000);
    auto subscriber = Subscriber::attach(*channel);
    if (!subscriber) return fail(subscriber.error().message);
    say("ready");
    std::vector<std::uint64_t> next(producers, 0);
    std::uint64_t received = 0;
    std::uint64_t out_of_order = 0;
    std::vector<std::byte> buffer(channel->max_message_size());
    while (received + subscriber->missed() < total) {
      auto size = subscriber->receive_copy(buffer, idle);
      if (!size) {
        if (size.error().code == ErrorCode::kTimeout) break;
        return fail(size.error().message);
      }
      std::uint64_t words[2];
      std::memcpy(words, buffer.data(), sizeof words);
      // Per producer, sequence numbers only go up (drops may skip some, never reorder).
      if (words[0] >= producers || words[1] < next[words[0]]) {
        ++out_of_order;
      } else {
        next[words[0]] = words[1] + 1;
      }
      ++received;
      if (delay.count() > 0) std::this_thread::sleep_for(delay);
    }
    std::printf("received %llu missed %llu out_of_order %llu gaps %llu\n",
                static_cast<unsigned long long>(received),
                static_cast<unsigned long long>(subscriber->missed()),
                static_cast<unsigned long long>(out_of_order),
                static_cast<unsigned long long>(subscriber->gaps()));
    return 0;
  }

  if (role == "hold-loan") {
    auto publisher = Publisher::attach(*channel);
    if (!publisher) return fail(publisher.error().message);
    auto loan = publisher->loan(argc > 3 ? std::strtoull(argv[3], nullptr, 10) : 64);
    if (!loan) return fail(loan.error().message);
    std::memset(loan->data().data(), 0xab, loan->size());  // half-written, never committed
    say("ready");
    sleep_forever();
  }

  if (role == "stream") {
    if (argc < 5) return fail("stream NAME COUNT INTERVAL_US");
    const std::uint64_t count = std::strtoull(argv[3], nullptr, 10);
    const auto interval = std::chrono::microseconds(std::strtoull(argv[4], nullptr, 10));
    auto publisher = Publisher::attach(*channel);
    if (!publisher) return fail(publisher.error().message);
    say("ready");
    for (std::uint64_t seq = 0; seq < count; ++seq) {
      auto published = publisher->publish(std::as_bytes(std::span(&seq, 1)), 30s);
      if (!published)
        return fail("message " + std::to_string(seq) + ": " + published.error().message);
      std::this_thread::sleep_for(interval);
    }
    std::printf("published %llu reattached %llu unlinked_mappings %d\n",
                static_cast<unsigned long long>(count),
                static_cast<unsigned long long>(publisher->reattached()),
                unlinked_mappings(argv[2]));
    return 0;
  }

  if (role == "follow") {
    if (argc < 4) return fail("follow NAME COUNT");
    const std::uint64_t count = std::strtoull(argv[3], nullptr, 10);
    auto subscriber = Subscriber::attach(*channel);
    if (!subscriber) return fail(subscriber.error().message);
    say("ready");
    std::uint64_t received = 0;
    bool in_order = true;
    std::vector<std::byte> buffer(64);
    while (received < count) {
      auto size = subscriber->receive_copy(buffer, 30s);
      if (!size) return fail("after " + std::to_string(received) + ": " + size.error().message);
      std::uint64_t seq = 0;
      std::memcpy(&seq, buffer.data(), sizeof seq);
      in_order = in_order && seq == received;
      ++received;
    }
    std::printf("received %llu in_order %d reattached %llu unlinked_mappings %d\n",
                static_cast<unsigned long long>(received), in_order ? 1 : 0,
                static_cast<unsigned long long>(subscriber->reattached()),
                unlinked_mappings(argv[2]));
    return 0;
  }

  if (role == "wait-error") {
    auto subscriber = Subscriber::attach(*channel);
    if (!subscriber) return fail(subscriber.error().message);
    say("ready");
    for (;;) {
      auto view = subscriber->receive(kWaitForever);
      if (!view) return report_error(view.error());
    }
  }

  if (role == "blocked-publish") {
    if (argc < 4) return fail("blocked-publish NAME SIZE");
    auto publisher = Publisher::attach(*channel);
    if (!publisher) return fail(publisher.error().message);
    std::vector<std::byte> payload(std::strtoull(argv[3], nullptr, 10));
    say("ready");
    for (;;) {
      auto published = publisher->publish(payload, kWaitForever);
      if (!published) return report_error(published.error());
    }
  }

  if (role == "hold-view") {
    auto subscriber = Subscriber::attach(*channel);
    if (!subscriber) return fail(subscriber.error().message);
    say("ready");
    auto view = subscriber->receive(30s);
    if (!view) return fail(view.error().message);
    say("holding");
    sleep_forever();
  }
  return fail("unknown role " + role);
}
