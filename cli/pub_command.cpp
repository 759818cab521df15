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

namespace {

int usage_error(const std::string& message) {
  std::cerr << command_line::usage_error("ipcmeshctl pub", message);
  return kExitUsage;
}

int failure(const std::string& message) {
  std::cerr << "ipcmeshctl pub: " << message << "\n";
  return kExitFailure;
}

// The open channel of one transport and how to send into it. Waits for room (Block ring, full
// queue) run in slices so that a stop signal ends them.
class Sender {
 public:
  Sender(const PubArguments& arguments, std::chrono::nanoseconds timeout, const StopRequest& stop)
      : arguments_(arguments), timeout_(timeout), stop_(stop) {}

  Result<void> open(const ChannelTarget& target) {
    if (arguments_.channel.transport != "shm") {
      auto opened = open_queue_wait(target.mq_name, MessageQueue::Access::kWriteOnly, timeout_);
      if (!opened) return tl::unexpected(opened.error());
      queue_.emplace(std::move(*opened));
      return {};
    }
    auto opened = ShmChannel::open_wait(target.shm_name, timeout_);
    if (!opened) return tl::unexpected(opened.error());
    channel_.emplace(std::move(*opened));
    auto attached = Publisher::attach(*channel_);
    if (!attached) return tl::unexpected(attached.error());
    publisher_.emplace(std::move(*attached));
    return {};
  }

  Result<void> send(std::span<const std::byte> payload) {
    return stop_.in_slices(timeout_, [&](std::chrono::nanoseconds slice) {
      return publisher_ ? publisher_->publish(payload, slice)
                        : queue_->send(payload, static_cast<unsigned>(arguments_.priority), slice);
    });
  }

 private:
  const PubArguments& arguments_;
  std::chrono::nanoseconds timeout_;
  const StopRequest& stop_;
  std::optional<ShmChannel> channel_;
  std::optional<Publisher> publisher_;
  std::optional<MessageQueue> queue_;
};

// Sends messages one by one, paced by --interval, until one fails or a stop signal comes
// (stopping is a success).
struct Publishing {
  Sender& sender;
  const StopRequest& stop;
  std::chrono::nanoseconds interval;
  long long sent = 0;
  bool failed = false;

  // false: stop here.
  bool publish(const std::string& text) {
    // The pause goes before every message but the first, so the last one is not followed by a
    // sleep and `--count 1 --interval 1h` still returns at once.
    if (sent > 0 && interval.count() > 0 && !stop.sleep_for(interval)) return false;
    if (stop.requested()) return false;
    auto result = sender.send(std::as_bytes(std::span(text.data(), text.size())));
    if (!result) {
      if (result.error().code == ErrorCode::kCancelled) return false;
      failed = true;
      std::cerr << "ipcmeshctl pub: message " << sent + 1 << ": " << result.error().message << "\n";
      return false;
    }
    ++sent;
    return true;
  }
};

}  // namespace

int run_pub(const PubArguments& arguments) {
  auto timeout = relay::parse_duration(arguments.timeout);
  if (!timeout) return usage_error("--timeout: " + timeout.error());
  auto interval = relay::parse_duration(arguments.interval);
  if (!interval) return usage_error("--interval: " + interval.error());
  auto target = resolve_target(arguments.channel.channel, arguments.channel.namespace_name);
  if (!target) return usage_error(target.error().message);

  StopRequest stop;
  Sender sender(arguments, *timeout, stop);
  if (auto opened = sender.open(*target); !opened) return failure(opened.error().message);
  Publishing run{sender, stop, *interval};
  const std::optional<long long>& count = arguments.count;
  if (arguments.size) {
    const long long total = count.value_or(1);
    for (long long index = 0; index < total; ++index) {
      if (!run.publish(generated_message(index, static_cast<std::size_t>(*arguments.size)))) break;
    }
  } else {
    std::string text;
    while ((!count || run.sent < *count) && std::getline(std::cin, text)) {
      if (!run.publish(text)) break;
    }
  }
  return run.failed ? kExitFailure : kExitOk;
}

}  // namespace ipcmesh::cli
