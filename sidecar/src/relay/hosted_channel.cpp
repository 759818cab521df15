#include "relay/hosted_channel.hpp"

namespace ipcmesh::relay {

ShmChannelOptions shm_options(const ChannelSpec& spec) {
  ShmChannelOptions options;
  options.name = spec.shm_name();
  options.capacity_bytes = spec.shared_memory->size_bytes;
  options.max_message_size = spec.shared_memory->max_message_size;
  options.policy = spec.shared_memory->slow_consumer;
  options.max_subscribers = spec.shared_memory->max_subscribers;
  options.mode = 0660;
  return options;
}

MessageQueueOptions queue_options(const ChannelSpec& spec) {
  MessageQueueOptions options;
  options.name = spec.mq_name();
  options.max_messages = spec.message_queue->max_messages;
  options.max_message_size = spec.message_queue->max_message_size;
  options.mode = 0660;
  return options;
}

Result<HostedChannel> claim_channel(const ChannelSpec& spec, const std::string& lock_directory) {
  HostedChannel channel;
  channel.spec = spec;
  if (spec.shared_memory) {
    auto lock = OwnerLock::try_acquire(
        owner_lock_path(OwnedKind::kSharedMemory, spec.shm_name(), lock_directory));
    if (!lock) {
      return make_error(lock.error().code, spec.shm_name() + ": " + lock.error().message);
    }
    channel.shm_lock.emplace(std::move(*lock));
  }
  if (spec.message_queue) {
    auto lock = OwnerLock::try_acquire(
        owner_lock_path(OwnedKind::kMessageQueue, spec.mq_name(), lock_directory));
    if (!lock) {
      return make_error(lock.error().code, spec.mq_name() + ": " + lock.error().message);
    }
    channel.mq_lock.emplace(std::move(*lock));
  }
  return channel;
}

Result<void> create_channel_objects(HostedChannel& channel, spdlog::logger& logger,
                                    const std::shared_ptr<spdlog::logger>& bridge_logger) {
  const ChannelSpec& spec = channel.spec;
  if (spec.shared_memory) {
    const std::string name = spec.shm_name();
    if (ShmChannel::unlink(name)) {
      logger.warn("reclaimed stale shared memory {} left by a relay that is gone", name);
    }
    auto created = ShmChannel::create(shm_options(spec));
    if (!created) {
      return make_error(created.error().code, "create shared memory for channel " +
                                                  spec.id.namespace_name + "/" + spec.id.name +
                                                  ": " + created.error().message);
    }
    channel.shm.emplace(std::move(*created));
    logger.info("created shared memory {} ({} ring, {} max message, {})", name,
                format_quantity(channel.shm->capacity()),
                format_quantity(channel.shm->max_message_size()), to_string(channel.shm->policy()));
  }
  if (spec.message_queue) {
    const std::string name = spec.mq_name();
    if (MessageQueue::unlink(name)) {
      logger.warn("reclaimed stale message queue {} left by a relay that is gone", name);
    }
    auto created = MessageQueue::create(queue_options(spec));
    if (!created) {
      return make_error(created.error().code, "create message queue for channel " +
                                                  spec.id.namespace_name + "/" + spec.id.name +
                                                  ": " + created.error().message);
    }
    channel.queue.emplace(std::move(*created));
    logger.info("created message queue {} ({} messages of at most {})", name,
                channel.queue->max_messages(), format_quantity(channel.queue->max_message_size()));
  }
  if (spec.bridge.mq_to_shm || spec.bridge.shm_to_mq) {
    const auto direction =
        spec.bridge.mq_to_shm ? BridgeDirection::kMqToShm : BridgeDirection::kShmToMq;
    auto bridge = Bridge::start(direction, *channel.shm, *channel.queue, bridge_logger);
    if (!bridge) {
      return make_error(bridge.error().code, "start bridge " + std::string(to_string(direction)) +
                                                 " for " + spec.id.name + ": " +
                                                 bridge.error().message);
    }
    channel.bridge = std::move(*bridge);
    logger.info("bridging {} {} {}",
                direction == BridgeDirection::kMqToShm ? spec.mq_name() : spec.shm_name(), "->",
                direction == BridgeDirection::kMqToShm ? spec.shm_name() : spec.mq_name());
  }
  return {};
}

}  // namespace ipcmesh::relay
