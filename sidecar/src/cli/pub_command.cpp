// ipcmeshctl pub: publish messages from stdin (one per line) or generated (--size) into a shm
// channel or a message queue.
#include <chrono>
#include <functional>
#include <iostream>
#include <optional>
#include <span>
#include <string>
#include <thread>
#include <vector>

#include "cli/channel_target.hpp"
#include "cli/commands.hpp"
#include "cli/stop_request.hpp"
#include "relay/command_line.hpp"
#include "relay/duration.hpp"

namespace ipcmesh::cli {
namespace {

constexpr std::string_view kPubUsage = R"(Usage: ipcmeshctl pub --channel NAME [flags] < messages

Publishes one message per stdin line (without the newline), or --count generated messages of
--size bytes each ("<index> " padded with '.').

Flags:
  --channel NAME       channel name (looked up in IPCMESH_CHANNELS, else derived) or a POSIX
                       name such as /posix_mq_example
  --namespace NS       the channel's namespace (default "default")
  --transport T        shm (default) or mq
  --count N            at most N messages from stdin; with --size, how many to generate (default 1)
  --size BYTES         generate messages of this many bytes instead of reading stdin
  --timeout D          how long to wait for the channel to exist and for room in it (default 10s)
  --priority P         mq priority (default 0)
  --interval D         pause D between messages, e.g. 200ms for a steady trickle (default 0)
  --help               this text
)";

std::string generated_message(long long index, std::size_t size) {
  std::string text = std::to_string(index) + " ";
  text.resize(size, '.');
  return text;
}

}  // namespace

int run_pub(const std::vector<std::string>& args) {
  static const std::vector<relay::FlagSpec> kFlags = {{"channel"},  {"namespace"}, {"transport"},
                                                      {"count"},    {"size"},      {"timeout"},
                                                      {"priority"}, {"interval"},  {"help", false}};
  auto line = relay::CommandLine::parse(args, kFlags);
  if (!line) {
    std::cerr << "ipcmeshctl pub: " << line.error() << "\n";
    return kExitUsage;
  }
  if (line->has("help")) {
    std::cout << kPubUsage;
    return kExitOk;
  }
  const std::string transport = line->value_or("transport", "shm");
  if (transport != "shm" && transport != "mq") {
    std::cerr << "ipcmeshctl pub: --transport: '" << transport << "' is not shm or mq\n";
    return kExitUsage;
  }
  auto count = line->integer("count", 0, 1ll << 40);
  auto size = line->integer("size", 0, 1ll << 31);
  auto priority = line->integer("priority", 0, 32767);
  auto timeout = relay::parse_duration(line->value_or("timeout", "10s"));
  auto interval = relay::parse_duration(line->value_or("interval", "0"));
  if (!count || !size || !priority || !timeout || !interval) {
    std::cerr << "ipcmeshctl pub: "
              << (!count      ? count.error()
                  : !size     ? size.error()
                  : !priority ? priority.error()
                  : !timeout  ? "--timeout: " + timeout.error()
                              : "--interval: " + interval.error())
              << "\n";
    return kExitUsage;
  }
  auto target = resolve_target(line->value_or("channel", ""), line->value("namespace"));
  if (!target) {
    std::cerr << "ipcmeshctl pub: " << target.error().message << "\n";
    return kExitUsage;
  }

  StopRequest stop;
  // One sender per transport; both take a payload and say whether it went out. Waits for room
  // (Block ring, full queue) run in slices so that a stop signal ends them.
  std::function<Result<void>(std::span<const std::byte>)> send;
  std::optional<ShmChannel> channel;
  std::optional<Publisher> publisher;
  std::optional<MessageQueue> queue;
  if (transport == "shm") {
    auto opened = ShmChannel::open_wait(target->shm_name, *timeout);
    if (!opened) {
      std::cerr << "ipcmeshctl pub: " << opened.error().message << "\n";
      return kExitFailure;
    }
    channel.emplace(std::move(*opened));
    auto attached = Publisher::attach(*channel);
    if (!attached) {
      std::cerr << "ipcmeshctl pub: " << attached.error().message << "\n";
      return kExitFailure;
    }
    publisher.emplace(std::move(*attached));
    send = [&](std::span<const std::byte> payload) {
      return stop.in_slices(*timeout, [&](std::chrono::nanoseconds slice) {
        return publisher->publish(payload, slice);
      });
    };
  } else {
    auto opened = open_queue_wait(target->mq_name, MessageQueue::Access::kWriteOnly, *timeout);
    if (!opened) {
      std::cerr << "ipcmeshctl pub: " << opened.error().message << "\n";
      return kExitFailure;
    }
    queue.emplace(std::move(*opened));
    send = [&](std::span<const std::byte> payload) {
      return stop.in_slices(*timeout, [&](std::chrono::nanoseconds slice) {
        return queue->send(payload, static_cast<unsigned>(priority->value_or(0)), slice);
      });
    };
  }

  long long sent = 0;
  // false: stop here (an error, said on stderr, or a stop signal: stopping is a success).
  bool failed = false;
  auto publish = [&](const std::string& text) {
    // The pause goes before every message but the first, so the last one is not followed by a
    // sleep and `--count 1 --interval 1h` still returns at once.
    if (sent > 0 && interval->count() > 0 && !stop.sleep_for(*interval)) return false;
    if (stop.requested()) return false;
    auto result = send(std::as_bytes(std::span(text.data(), text.size())));
    if (!result) {
      if (result.error().code == ErrorCode::kCancelled) return false;
      failed = true;
      std::cerr << "ipcmeshctl pub: message " << sent + 1 << ": " << result.error().message << "\n";
      return false;
    }
    ++sent;
    return true;
  };
  if (*size) {
    const long long total = count->value_or(1);
    for (long long index = 0; index < total; ++index) {
      if (!publish(generated_message(index, static_cast<std::size_t>(**size)))) break;
    }
    return failed ? kExitFailure : kExitOk;
  }
  std::string text;
  while ((!*count || sent < **count) && std::getline(std::cin, text)) {
    if (!publish(text)) break;
  }
  return failed ? kExitFailure : kExitOk;
}

}  // namespace ipcmesh::cli
