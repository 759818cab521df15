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

#include "channel_target.hpp"
#include "commands.hpp"
#include "relay/duration.hpp"
#include "stop_request.hpp"

namespace ipcmesh::cli {
namespace {

std::string generated_message(long long index, std::size_t size) {
  std::string text = std::to_string(index) + " ";
  text.resize(size, '.');
  return text;
}

}  // namespace

CLI::App* add_pub_command(CLI::App& app, PubArguments& arguments) {
  CLI::App* command =
      app.add_subcommand("pub", "publish messages into a channel (stdin lines or generated)");
  command_line::apply_conventions(*command);
  command->footer(
      "Publishes one message per stdin line (without the newline), or --count generated messages "
      "of\n--size bytes each (\"<index> \" padded with '.').");
  add_channel_flags(*command, arguments.channel);
  command
      ->add_option("--count", arguments.count,
                   "at most N messages from stdin; with --size, how many to generate (default 1)")
      ->check(CLI::Range(0ll, 1ll << 40))
      ->option_text("N");
  command
      ->add_option("--size", arguments.size,
                   "generate messages of this many bytes instead of reading stdin")
      ->check(CLI::Range(0ll, 1ll << 31))
      ->option_text("BYTES");
  command
      ->add_option("--timeout", arguments.timeout,
                   "how long to wait for the channel to exist and for room in it (default 10s)")
      ->option_text("DURATION");
  command->add_option("--priority", arguments.priority, "mq priority (default 0)")
      ->check(CLI::Range(0ll, 32767ll))
      ->option_text("P");
  command
      ->add_option("--interval", arguments.interval,
                   "pause between messages, e.g. 200ms for a steady trickle (default 0)")
      ->option_text("DURATION");
  return command;
}

int run_pub(const PubArguments& arguments) {
  const auto usage_error = [](const std::string& message) {
    std::cerr << command_line::usage_error("ipcmeshctl pub", message);
    return kExitUsage;
  };
  auto timeout = relay::parse_duration(arguments.timeout);
  if (!timeout) return usage_error("--timeout: " + timeout.error());
  auto interval = relay::parse_duration(arguments.interval);
  if (!interval) return usage_error("--interval: " + interval.error());
  auto target = resolve_target(arguments.channel.channel, arguments.channel.namespace_name);
  if (!target) return usage_error(target.error().message);
  const std::string& transport = arguments.channel.transport;
  const std::optional<long long>& count = arguments.count;

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
        return queue->send(payload, static_cast<unsigned>(arguments.priority), slice);
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
  if (arguments.size) {
    const long long total = count.value_or(1);
    for (long long index = 0; index < total; ++index) {
      if (!publish(generated_message(index, static_cast<std::size_t>(*arguments.size)))) break;
    }
    return failed ? kExitFailure : kExitOk;
  }
  std::string text;
  while ((!count || sent < *count) && std::getline(std::cin, text)) {
    if (!publish(text)) break;
  }
  return failed ? kExitFailure : kExitOk;
}

}  // namespace ipcmesh::cli
