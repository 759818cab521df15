#include "relay/channel_source.hpp"

#include <fstream>
#include <set>
#include <sstream>

namespace ipcmesh::relay {

Result<ChannelSet> load_channel_set(const std::optional<std::string>& spec_file) {
  if (!spec_file) {
    auto set = channel_set_from_environment();
    if (!set) {
      return make_error(set.error().code, "channel spec from environment: " + set.error().message);
    }
    return set;
  }
  std::ifstream in(*spec_file, std::ios::binary);
  if (!in) {
    return make_error(ErrorCode::kNotFound, "--spec " + *spec_file + ": cannot be read");
  }
  std::ostringstream text;
  text << in.rdbuf();
  auto set = parse_channel_set(text.str());
  if (!set) {
    return make_error(set.error().code, "--spec " + *spec_file + ": " + set.error().message);
  }
  return set;
}

Result<void> validate_for_relay(const ChannelSet& set) {
  if (set.channels.empty()) {
    return make_error(ErrorCode::kInvalidArgument, "channels: the document names no channel");
  }
  std::set<std::string> names;
  for (std::size_t i = 0; i < set.channels.size(); ++i) {
    const ChannelSpec& spec = set.channels[i];
    const std::string path = "channels[" + std::to_string(i) + "]";
    if (auto valid = validate(spec); !valid) {
      // The contract's messages start with the field ("relay.bridge: ..."): join into one path.
      return make_error(valid.error().code, path + "." + valid.error().message);
    }
    // Two channels on one POSIX name would unlink each other's objects.
    if (spec.shared_memory && !names.insert(spec.shm_name()).second) {
      return make_error(ErrorCode::kInvalidArgument,
                        path + ".name: shared memory " + spec.shm_name() + " is used twice");
    }
    if (spec.message_queue && !names.insert(spec.mq_name()).second) {
      return make_error(ErrorCode::kInvalidArgument,
                        path + ".messageQueue.name: queue " + spec.mq_name() + " is used twice");
    }
    // validate() has already required transport Both and one direction for a bridge.
    // Whatever the bridge reads must fit what it writes.
    const bool to_ring = spec.bridge.mq_to_shm;
    if (to_ring || spec.bridge.shm_to_mq) {
      const std::uint64_t from =
          to_ring ? spec.message_queue->max_message_size : spec.shared_memory->max_message_size;
      const std::uint64_t to =
          to_ring ? spec.shared_memory->max_message_size : spec.message_queue->max_message_size;
      if (from > to) {
        return make_error(ErrorCode::kInvalidArgument,
                          path + (to_ring ? ".messageQueue" : ".sharedMemory") +
                              ".maxMessageSize: " + format_quantity(from) + " exceeds " +
                              (to_ring ? "sharedMemory" : "messageQueue") + ".maxMessageSize " +
                              format_quantity(to) + ", so bridged messages would not fit the " +
                              (to_ring ? "ring" : "queue"));
      }
    }
  }
  return {};
}

}  // namespace ipcmesh::relay
