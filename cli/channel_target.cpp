#include "channel_target.hpp"

#include <cstdlib>
#include <thread>

#include "ipcmesh/channel_spec.hpp"

namespace ipcmesh::cli {

void add_channel_flags(CLI::App& command, ChannelFlags& flags) {
  command
      .add_option("--channel", flags.channel,
                  "channel name (looked up in IPCMESH_CHANNELS, else derived) or a POSIX name "
                  "such as /posix_mq_example")
      ->required()
      ->option_text("NAME");
  command
      .add_option("-n,--namespace", flags.namespace_name,
                  "the channel's namespace (default \"default\")")
      ->option_text("NS");
  command.add_option("--transport", flags.transport, "shm (default) or mq")
      ->check(CLI::IsMember({"shm", "mq"}))
      ->option_text("T");
}

Result<ChannelTarget> resolve_target(const std::string& channel,
                                     const std::optional<std::string>& namespace_name) {
  if (channel.empty()) {
    return make_error(ErrorCode::kInvalidArgument, "--channel is required");
  }
  if (channel.front() == '/') {
    if (auto valid = validate_posix_name(channel); !valid) {
      return make_error(ErrorCode::kInvalidArgument, "--channel: " + valid.error().message);
    }
    return ChannelTarget{channel, channel, std::nullopt};
  }
  const bool have_document = std::getenv(std::string(kEnvChannels).c_str()) != nullptr ||
                             std::getenv(std::string(kEnvChannelsFile).c_str()) != nullptr;
  if (have_document) {
    auto set = channel_set_from_environment();
    if (!set) {
      return make_error(set.error().code, "channel document: " + set.error().message);
    }
    for (const ChannelSpec& spec : set->channels) {
      if (spec.id.name == channel &&
          (!namespace_name || spec.id.namespace_name == *namespace_name)) {
        return ChannelTarget{spec.shm_name(), spec.mq_name(), spec};
      }
    }
  }
  const ChannelId id{namespace_name.value_or("default"), channel};
  if (auto valid = validate_dns1123_label(id.namespace_name); !valid) {
    return make_error(ErrorCode::kInvalidArgument, "--namespace: " + valid.error().message);
  }
  if (auto valid = validate_dns1123_subdomain(id.name); !valid) {
    return make_error(ErrorCode::kInvalidArgument, "--channel: " + valid.error().message);
  }
  return ChannelTarget{shm_object_name(id), mq_object_name(id), std::nullopt};
}

Result<MessageQueue> open_queue_wait(const std::string& name, MessageQueue::Access access,
                                     std::chrono::nanoseconds timeout) {
  const auto now = std::chrono::steady_clock::now();
  const auto deadline = timeout >= std::chrono::hours(24 * 365)
                            ? std::chrono::steady_clock::time_point::max()
                            : now + timeout;
  for (;;) {
    auto queue = MessageQueue::open(name, access);
    if (queue || queue.error().code != ErrorCode::kNotFound ||
        std::chrono::steady_clock::now() >= deadline) {
      return queue;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

}  // namespace ipcmesh::cli
