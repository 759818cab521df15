// ipcmeshctl sub: receive from a shm channel or a message queue and print each message on its own
// line (raw, or --hex), or only the final count (--quiet).
#include <cstdio>
#include <iostream>
#include <optional>
#include <string>
#include <vector>

#include "channel_target.hpp"
#include "commands.hpp"
#include "relay/duration.hpp"
#include "stop_request.hpp"

namespace ipcmesh::cli {
namespace {

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

CLI::App* add_sub_command(CLI::App& app, SubArguments& arguments) {
  CLI::App* command = app.add_subcommand("sub", "receive and print messages from a channel");
  command_line::apply_conventions(*command);
  command->footer("Prints every message it receives on its own line.");
  add_channel_flags(*command, arguments.channel);
  command
      ->add_option("--count", arguments.count,
                   "stop after N messages (exit 1 if --timeout passes first)")
      ->check(CLI::Range(1ll, 1ll << 40))
      ->option_text("N");
  command
      ->add_option("--timeout", arguments.timeout,
                   "give up when no message arrives for this long (default: wait forever); "
                   "without --count this ends a successful run")
      ->option_text("DURATION");
  command
      ->add_option("--wait-mode", arguments.wait_mode,
                   "how a shm subscriber waits: Adaptive, SpinThenSleep or BusyPoll (BusyPoll "
                   "only on a pinned, dedicated core). Default: $IPCMESH_WAIT_MODE, else the "
                   "channel's sharedMemory.waitMode, else Adaptive")
      ->option_text("MODE");
  command->add_flag("--hex", arguments.hex, "print payloads as hex");
  command->add_flag("--quiet", arguments.quiet, "print nothing per message, only the final count");
  return command;
}

namespace {

int usage_error(const std::string& message) {
  std::cerr << command_line::usage_error("ipcmeshctl sub", message);
  return kExitUsage;
}

int failure(const std::string& message) {
  std::cerr << "ipcmeshctl sub: " << message << "\n";
  return kExitFailure;
}

// One run's state: what was asked, what arrived, and how it ends.
struct Receiving {
  const SubArguments& arguments;
  std::chrono::nanoseconds timeout;
  StopRequest stop;
  long long received = 0;

  bool wants_more() const { return !arguments.count || received < *arguments.count; }

  void deliver(std::span<const std::byte> data) {
    if (!arguments.quiet) print_message(data, arguments.hex);
    ++received;
  }

  // Prints the count (--quiet); a timeout before --count messages arrived is a failure.
  int finish(bool timed_out) const {
    std::fflush(stdout);
    if (arguments.quiet) {
      std::printf("%lld\n", received);
      std::fflush(stdout);
    }
    if (timed_out && arguments.count) {
      std::cerr << "ipcmeshctl sub: timed out after " << relay::format_duration(timeout)
                << " without a message, " << received << " of " << *arguments.count
                << " received\n";
      return kExitFailure;
    }
    return kExitOk;
  }
};

// Attaches at the tail: messages published before this point are not seen. A stop signal
// cancels a blocked receive through the channel's wake-up.
int receive_from_ring(Receiving& run, const ChannelTarget& target, WaitMode wait_mode) {
  auto channel = run.stop.in_slices(
      run.timeout,
      [&](std::chrono::nanoseconds slice) { return ShmChannel::open_wait(target.shm_name, slice); },
      ErrorCode::kNotFound);
  if (!channel) {
    return channel.error().code == ErrorCode::kCancelled ? run.finish(false)
                                                         : failure(channel.error().message);
  }
  SubscriberOptions options;
  options.wait_mode = wait_mode;
  options.cancel = run.stop.flag();
  auto subscriber = Subscriber::attach(*channel, options);
  if (!subscriber) return failure(subscriber.error().message);
  run.stop.on_stop([&] { channel->wake_all(); });
  bool timed_out = false;
  while (run.wants_more() && !run.stop.requested()) {
    auto view = subscriber->receive(run.timeout);
    if (!view) {
      timed_out = view.error().code == ErrorCode::kTimeout;
      if (timed_out || view.error().code == ErrorCode::kCancelled) break;
      run.stop.on_stop(nullptr);
      return failure(view.error().message);
    }
    run.deliver(view->data);
    if (auto released = subscriber->release(); !released) {
      std::cerr << "ipcmeshctl sub: " << released.error().message << "\n";
    }
  }
  run.stop.on_stop(nullptr);
  return run.finish(timed_out);
}

int receive_from_queue(Receiving& run, const ChannelTarget& target) {
  auto queue = run.stop.in_slices(
      run.timeout,
      [&](std::chrono::nanoseconds slice) {
        return open_queue_wait(target.mq_name, MessageQueue::Access::kReadOnly, slice);
      },
      ErrorCode::kNotFound);
  if (!queue) {
    return queue.error().code == ErrorCode::kCancelled ? run.finish(false)
                                                       : failure(queue.error().message);
  }
  std::vector<std::byte> buffer(queue->max_message_size());
  while (run.wants_more()) {
    auto message = run.stop.in_slices(
        run.timeout, [&](std::chrono::nanoseconds slice) { return queue->receive(buffer, slice); });
    if (!message) {
      if (message.error().code == ErrorCode::kTimeout) return run.finish(true);
      if (message.error().code == ErrorCode::kCancelled) break;
      return failure(message.error().message);
    }
    run.deliver(std::span(buffer.data(), message->size));
  }
  return run.finish(false);
}

}  // namespace

int run_sub(const SubArguments& arguments) {
  std::chrono::nanoseconds timeout = kWaitForever;
  if (arguments.timeout) {
    auto parsed = relay::parse_duration(*arguments.timeout);
    if (!parsed) return usage_error("--timeout: " + parsed.error());
    timeout = *parsed;
  }
  auto target = resolve_target(arguments.channel.channel, arguments.channel.namespace_name);
  if (!target) return usage_error(target.error().message);
  const bool ring = arguments.channel.transport == "shm";
  if (!ring && arguments.wait_mode) {
    return usage_error(
        "--wait-mode: only for --transport shm (a queue receiver sleeps in the kernel)");
  }
  Receiving run{arguments, timeout, {}, 0};
  if (!ring) return receive_from_queue(run, *target);
  // Before waiting for the ring: a bad mode is a usage error at once.
  auto wait_mode = chosen_wait_mode(arguments.wait_mode, *target);
  if (!wait_mode) return usage_error(wait_mode.error().message);
  return receive_from_ring(run, *target, *wait_mode);
}

}  // namespace ipcmesh::cli
