// ipcmeshctl sub: receive from a shm channel or a message queue and print each message on its own
// line (raw, or --hex), or only the final count (--quiet).
#include <cstdio>
#include <iostream>
#include <optional>
#include <string>
#include <vector>

#include "cli/channel_target.hpp"
#include "cli/commands.hpp"
#include "cli/stop_request.hpp"
#include "relay/command_line.hpp"
#include "relay/duration.hpp"

namespace ipcmesh::cli {
namespace {

constexpr std::string_view kSubUsage = R"(Usage: ipcmeshctl sub --channel NAME [flags]

Prints every message it receives on its own line.

Flags:
  --channel NAME       channel name (looked up in IPCMESH_CHANNELS, else derived) or a POSIX name
  --namespace NS       the channel's namespace (default "default")
  --transport T        shm (default) or mq
  --count N            stop after N messages (exit 1 if --timeout passes first)
  --timeout D          give up when no message arrives for D (default: wait forever); without
                       --count this ends a successful run
  --wait-mode M        how a shm subscriber waits: Adaptive, SpinThenSleep or BusyPoll (BusyPoll
                       only on a pinned, dedicated core). Default: $IPCMESH_WAIT_MODE, else the
                       channel's sharedMemory.waitMode, else Adaptive
  --hex                print payloads as hex
  --quiet              print nothing per message, only the final count
  --help               this text
)";

void print_message(std::span<const std::byte> data, bool hex) {
  if (hex) {
    static constexpr char kDigits[] = "0123456789abcdef";
    std::string text;
    text.reserve(data.size() * 2 + 1);
    for (std::byte b : data) {
      text += kDigits[static_cast<unsigned>(b) >> 4];
      text += kDigits[static_cast<unsigned>(b) & 0xf];
    }
    text += '\n';
    std::fwrite(text.data(), 1, text.size(), stdout);
  } else {
    std::fwrite(data.data(), 1, data.size(), stdout);
    std::fputc('\n', stdout);
  }
  // Line by line even into a pipe: a container runtime's log is a pipe, and `kubectl logs`
  // should show each message when it arrives, not in 4 KiB blocks (--quiet skips all this).
  std::fflush(stdout);
}

// --wait-mode, else IPCMESH_WAIT_MODE, else the channel's sharedMemory.waitMode, else Adaptive.
Result<WaitMode> chosen_wait_mode(const std::optional<std::string>& flag,
                                  const ChannelTarget& target) {
  if (flag) {
    auto parsed = parse_wait_mode(*flag);
    if (!parsed) return make_error(parsed.error().code, "--wait-mode: " + parsed.error().message);
    return parsed;
  }
  return subscriber_wait_mode_from_environment(target.spec ? &*target.spec : nullptr);
}

}  // namespace

int run_sub(const std::vector<std::string>& args) {
  static const std::vector<relay::FlagSpec> kFlags = {
      {"channel"},   {"namespace"},  {"transport"},    {"count"},      {"timeout"},
      {"wait-mode"}, {"hex", false}, {"quiet", false}, {"help", false}};
  auto line = relay::CommandLine::parse(args, kFlags);
  if (!line) {
    std::cerr << "ipcmeshctl sub: " << line.error() << "\n";
    return kExitUsage;
  }
  if (line->has("help")) {
    std::cout << kSubUsage;
    return kExitOk;
  }
  const std::string transport = line->value_or("transport", "shm");
  if (transport != "shm" && transport != "mq") {
    std::cerr << "ipcmeshctl sub: --transport: '" << transport << "' is not shm or mq\n";
    return kExitUsage;
  }
  auto count = line->integer("count", 1, 1ll << 40);
  if (!count) {
    std::cerr << "ipcmeshctl sub: " << count.error() << "\n";
    return kExitUsage;
  }
  std::chrono::nanoseconds timeout = kWaitForever;
  if (auto text = line->value("timeout")) {
    auto parsed = relay::parse_duration(*text);
    if (!parsed) {
      std::cerr << "ipcmeshctl sub: --timeout: " << parsed.error() << "\n";
      return kExitUsage;
    }
    timeout = *parsed;
  }
  auto target = resolve_target(line->value_or("channel", ""), line->value("namespace"));
  if (!target) {
    std::cerr << "ipcmeshctl sub: " << target.error().message << "\n";
    return kExitUsage;
  }
  if (transport == "mq" && line->has("wait-mode")) {
    std::cerr << "ipcmeshctl sub: --wait-mode: only for --transport shm (a queue receiver sleeps "
                 "in the kernel)\n";
    return kExitUsage;
  }
  const bool hex = line->has("hex");
  const bool quiet = line->has("quiet");

  StopRequest stop;
  long long received = 0;
  auto finish = [&](bool timed_out) {
    std::fflush(stdout);
    if (quiet) {
      std::printf("%lld\n", received);
      std::fflush(stdout);
    }
    if (timed_out && *count) {
      std::cerr << "ipcmeshctl sub: timed out after " << relay::format_duration(timeout)
                << " without a message, " << received << " of " << **count << " received\n";
      return kExitFailure;
    }
    return kExitOk;
  };

  if (transport == "shm") {
    // Before waiting for the ring: a bad mode is a usage error at once.
    auto wait_mode = chosen_wait_mode(line->value("wait-mode"), *target);
    if (!wait_mode) {
      std::cerr << "ipcmeshctl sub: " << wait_mode.error().message << "\n";
      return kExitUsage;
    }
    auto channel = stop.in_slices(
        timeout,
        [&](std::chrono::nanoseconds slice) {
          return ShmChannel::open_wait(target->shm_name, slice);
        },
        ErrorCode::kNotFound);
    if (!channel) {
      if (channel.error().code == ErrorCode::kCancelled) return finish(false);
      std::cerr << "ipcmeshctl sub: " << channel.error().message << "\n";
      return kExitFailure;
    }
    // Attaches at the tail: messages published before this point are not seen. A stop signal
    // cancels a blocked receive through the channel's wake-up.
    SubscriberOptions options;
    options.wait_mode = *wait_mode;
    options.cancel = stop.flag();
    auto subscriber = Subscriber::attach(*channel, options);
    if (!subscriber) {
      std::cerr << "ipcmeshctl sub: " << subscriber.error().message << "\n";
      return kExitFailure;
    }
    stop.on_stop([&] { channel->wake_all(); });
    while ((!*count || received < **count) && !stop.requested()) {
      auto view = subscriber->receive(timeout);
      if (!view) {
        if (view.error().code == ErrorCode::kTimeout) {
          stop.on_stop(nullptr);
          return finish(true);
        }
        if (view.error().code == ErrorCode::kCancelled) break;
        std::cerr << "ipcmeshctl sub: " << view.error().message << "\n";
        return kExitFailure;
      }
      if (!quiet) {
        print_message(view->data, hex);
      }
      ++received;
      if (auto released = subscriber->release(); !released) {
        std::cerr << "ipcmeshctl sub: " << released.error().message << "\n";
      }
    }
    stop.on_stop(nullptr);
    return finish(false);
  }

  auto queue = stop.in_slices(
      timeout,
      [&](std::chrono::nanoseconds slice) {
        return open_queue_wait(target->mq_name, MessageQueue::Access::kReadOnly, slice);
      },
      ErrorCode::kNotFound);
  if (!queue) {
    if (queue.error().code == ErrorCode::kCancelled) return finish(false);
    std::cerr << "ipcmeshctl sub: " << queue.error().message << "\n";
    return kExitFailure;
  }
  std::vector<std::byte> buffer(queue->max_message_size());
  while (!*count || received < **count) {
    auto message = stop.in_slices(
        timeout, [&](std::chrono::nanoseconds slice) { return queue->receive(buffer, slice); });
    if (!message) {
      if (message.error().code == ErrorCode::kTimeout) {
        return finish(true);
      }
      if (message.error().code == ErrorCode::kCancelled) break;
      std::cerr << "ipcmeshctl sub: " << message.error().message << "\n";
      return kExitFailure;
    }
    if (!quiet) {
      print_message(std::span(buffer.data(), message->size), hex);
    }
    ++received;
  }
  return finish(false);
}

}  // namespace ipcmesh::cli
