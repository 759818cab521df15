// ipcmesh-test-peer: a real, separate process that plays one role on a shm channel for the ipc
// tests. Prints "ready" once attached, then a one-line summary; the tests parse both.
//   publish NAME ID COUNT SIZE            publish COUNT messages {ID, seq} (Block/DropOldest wait)
//   publish-nonblocking NAME ID COUNT SIZE count kWouldBlock refusals (DropNewest)
//   subscribe NAME TOTAL PRODUCERS DELAY_US [IDLE_MS]  receive until TOTAL seen or IDLE_MS idle
//   hold-loan NAME SIZE                   loan and never commit (to be killed mid-write)
//   hold-view NAME                        receive one message and never release (to be killed)
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
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

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3) return fail("usage: ipcmesh-test-peer ROLE NAME ...");
  const std::string role = argv[1];
  auto channel = ShmChannel::open_wait(argv[2], 10s);
  if (!channel) return fail(channel.error().message);

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
