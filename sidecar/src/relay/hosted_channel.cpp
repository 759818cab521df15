#include "relay/hosted_channel.hpp"

namespace ipcmesh::relay {

RingHealth::RingHealth(std::string channel, RingFaultGuard::Watch watch,
                       std::shared_ptr<spdlog::logger> logger)
    : channel_(std::move(channel)), watch_(std::move(watch)), logger_(std::move(logger)) {}

bool RingHealth::check(const ShmChannel& ring) {
  if (corrupted()) return false;
  std::string problem;
  if (auto intact = ring.verify(); !intact) {
    problem = intact.error().message;
  } else if (watch_.faulted()) {
    problem = "shm " + ring.name() +
              ": an access faulted (SIGBUS): another program truncated it under the relay";
  } else {
    return true;
  }
  std::lock_guard lock(mutex_);
  if (!corrupted_.exchange(true, std::memory_order_acq_rel)) {
    problem_ = std::move(problem);
    logger_->error(
        "channel {}: the ring is corrupted and the relay no longer uses it (its bridge stops; the "
        "other channels carry on): {}. Stop whatever maps the channel's name itself, then "
        "restart the relay: it replaces the ring, and attached apps move to the new one",
        channel_, problem_);
  }
  return false;
}

std::string RingHealth::problem() const {
  std::lock_guard lock(mutex_);
  return problem_;
}

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

namespace {

std::string channel_ref(const ChannelSpec& spec) {
  return spec.id.namespace_name + "/" + spec.id.name;
}

// Rule G1 for a ring of another spec: close it, so that the publishers and subscribers attached
// to it move to the new generation by themselves (a subscriber after reading what is left), then
// unlink it. A damaged ring, or one of another layout version, is not written to: apps on it
// notice the new one when they next wait (rule G4). The fault guard watches the old ring while
// the relay writes to it.
void replace_ring(const ChannelSpec& spec, const Error& mismatch, RingFaultGuard& fault_guard,
                  spdlog::logger& logger) {
  const std::string name = spec.shm_name();
  bool closed = false;
  if (mismatch.code == ErrorCode::kIncompatible) {
    if (auto old = ShmChannel::open(name)) {
      auto watch = fault_guard.watch(old->mapping());
      closed = watch && old->supersede().has_value() && !watch->faulted();
    }
  }
  logger.warn("replacing shared memory {}: {}; {}", name, mismatch.message,
              closed ? "closed it first: apps attached to it move to the new ring by themselves"
                     : "apps still attached to it move to the new ring when they next wait");
  (void)ShmChannel::unlink(name);
}

// A relay restarted under running apps (OOM kill, failed liveness probe) finds its predecessor's
// ring: adopting it keeps the apps' publishers and subscribers on the one ring the Pod has, and
// needs no second ring's worth of /dev/shm. Only a ring that does not match the spec, or is
// damaged, is replaced.
Result<ShmChannel> adopt_or_create_ring(const ChannelSpec& spec, RingFaultGuard& fault_guard,
                                        spdlog::logger& logger) {
  const std::string name = spec.shm_name();
  auto adopted = ShmChannel::adopt(shm_options(spec));
  if (adopted) {
    const std::uint32_t reaped = adopted->reap_dead_peers();
    const auto stats = adopted->stats();
    logger.warn(
        "adopted shared memory {} left by a relay that is gone (generation {}, {} published, {} "
        "subscribers and {} producers attached, {} dead peers reaped)",
        name, stats.generation, stats.published_messages, stats.subscribers.size(), stats.producers,
        reaped);
    return adopted;
  }
  const ErrorCode code = adopted.error().code;
  if (code == ErrorCode::kIncompatible || code == ErrorCode::kCorrupted) {
    replace_ring(spec, adopted.error(), fault_guard, logger);
  } else if (code != ErrorCode::kNotFound) {
    return make_error(code, "adopt shared memory for channel " + channel_ref(spec) + ": " +
                                adopted.error().message);
  }
  auto created = ShmChannel::create(shm_options(spec));
  if (!created) {
    return make_error(created.error().code, "create shared memory for channel " +
                                                channel_ref(spec) + ": " + created.error().message);
  }
  logger.info("created shared memory {} ({} ring, {} max message, {})", name,
              format_quantity(created->capacity()), format_quantity(created->max_message_size()),
              to_string(created->policy()));
  return created;
}

// A queue that exists already was made by a relay that is gone or by an app that opened it first
// (O_CREAT): either way an app may hold it, so it is adopted with its messages when it fits and
// never deleted when it does not.
Result<MessageQueue> adopt_or_create_queue(const ChannelSpec& spec, spdlog::logger& logger) {
  const std::string name = spec.mq_name();
  auto adopted = MessageQueue::adopt(queue_options(spec));
  if (adopted) {
    logger.warn(
        "adopted message queue {} that already existed ({} messages of at most {}, {} waiting)",
        name, adopted->max_messages(), format_quantity(adopted->max_message_size()),
        adopted->current_messages());
    return adopted;
  }
  if (adopted.error().code != ErrorCode::kNotFound) {
    return make_error(adopted.error().code,
                      "message queue for channel " + channel_ref(spec) + ": " +
                          adopted.error().message +
                          ". The relay never deletes a queue an app may hold: remove it "
                          "(mq_unlink) or change the channel's messageQueue to fit it");
  }
  auto created = MessageQueue::create(queue_options(spec));
  if (!created) {
    return make_error(created.error().code, "create message queue for channel " +
                                                channel_ref(spec) + ": " + created.error().message);
  }
  logger.info("created message queue {} ({} messages of at most {})", name, created->max_messages(),
              format_quantity(created->max_message_size()));
  return created;
}

}  // namespace

Result<void> create_channel_objects(HostedChannel& channel, RingFaultGuard& fault_guard,
                                    const std::shared_ptr<spdlog::logger>& logger) {
  const ChannelSpec& spec = channel.spec;
  if (spec.shared_memory) {
    auto ring = adopt_or_create_ring(spec, fault_guard, *logger);
    if (!ring) return tl::unexpected(ring.error());
    channel.shm.emplace(std::move(*ring));
    auto watch = fault_guard.watch(channel.shm->mapping());
    if (!watch) {
      return make_error(watch.error().code, "watch shared memory for channel " + channel_ref(spec) +
                                                ": " + watch.error().message);
    }
    channel.ring_health =
        std::make_unique<RingHealth>(channel_ref(spec), std::move(*watch), logger);
  }
  if (spec.message_queue) {
    auto queue = adopt_or_create_queue(spec, *logger);
    if (!queue) return tl::unexpected(queue.error());
    channel.queue.emplace(std::move(*queue));
  }
  if (spec.bridge.mq_to_shm || spec.bridge.shm_to_mq) {
    const auto direction =
        spec.bridge.mq_to_shm ? BridgeDirection::kMqToShm : BridgeDirection::kShmToMq;
    auto bridge = Bridge::start(direction, *channel.shm, *channel.ring_health, *channel.queue,
                                spec.shared_memory->wait_mode, logger);
    if (!bridge) {
      return make_error(bridge.error().code, "start bridge " + std::string(to_string(direction)) +
                                                 " for " + spec.id.name + ": " +
                                                 bridge.error().message);
    }
    channel.bridge = std::move(*bridge);
    logger->info("bridging {} {} {}",
                 direction == BridgeDirection::kMqToShm ? spec.mq_name() : spec.shm_name(), "->",
                 direction == BridgeDirection::kMqToShm ? spec.shm_name() : spec.mq_name());
  }
  return {};
}

}  // namespace ipcmesh::relay
