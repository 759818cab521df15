// Enumerations, lookups and the cross-field rules of a channel spec (the same rules the CRD's CEL
// validations state, so the API server and the sidecar refuse the same channels).
#include "ipcmesh/channel_spec.hpp"

#include <cstdlib>
#include <string>

namespace ipcmesh {
namespace {

// Each shm record carries a 16-byte header and is padded to 8 bytes (docs/protocol.md); a ring
// must hold at least two of the largest records so that one producer never waits on itself.
constexpr std::uint64_t kRecordHeaderBytes = 16;
constexpr std::uint64_t kRecordAlignment = 8;
constexpr std::uint32_t kMaxSubscribersLimit = 1024;
// Bounds the CRD states (crds/ipcchannel.yaml): a ring of 4Ki..16Gi, messages of at most 1Gi.
constexpr std::uint64_t kMinRingBytes = 4ull << 10;
constexpr std::uint64_t kMaxRingBytes = 16ull << 30;
constexpr std::uint64_t kMaxShmMessageBytes = 1ull << 30;
// scope: Node shares the host's IPC namespace, where Pod sysctls fs.mqueue.* are refused, so a
// Node channel's queue must fit the kernel defaults.
constexpr std::uint32_t kNodeScopeMaxMessages = 10;
constexpr std::uint32_t kNodeScopeMaxMessageSize = 8192;
// The kernel's hard ceilings, even with CAP_SYS_RESOURCE (HARD_MSGMAX, HARD_MSGSIZEMAX).
constexpr std::uint32_t kMqHardMaxMessages = 65536;
constexpr std::uint32_t kMqHardMaxMessageSize = 16u << 20;

tl::unexpected<Error> invalid(std::string message) {
  return make_error(ErrorCode::kInvalidArgument, std::move(message));
}

template <typename T>
tl::unexpected<Error> unknown_value(std::string_view what, std::string_view text,
                                    std::initializer_list<T> allowed) {
  std::string message = "unknown " + std::string(what) + " \"" + std::string(text) + "\" (one of";
  const char* separator = " ";
  for (T value : allowed) {
    message.append(separator).append(to_string(value));
    separator = ", ";
  }
  return invalid(message + ")");
}

}  // namespace

std::string_view to_string(Transport value) noexcept {
  switch (value) {
    case Transport::kSharedMemory:
      return "SharedMemory";
    case Transport::kMessageQueue:
      return "MessageQueue";
    case Transport::kBoth:
      return "Both";
  }
  return "?";
}

std::string_view to_string(Scope value) noexcept {
  switch (value) {
    case Scope::kPod:
      return "Pod";
    case Scope::kNode:
      return "Node";
  }
  return "?";
}

std::string_view to_string(SlowConsumerPolicy value) noexcept {
  switch (value) {
    case SlowConsumerPolicy::kBlock:
      return "Block";
    case SlowConsumerPolicy::kDropOldest:
      return "DropOldest";
    case SlowConsumerPolicy::kDropNewest:
      return "DropNewest";
  }
  return "?";
}

std::string_view to_string(WaitMode value) noexcept {
  switch (value) {
    case WaitMode::kAdaptive:
      return "Adaptive";
    case WaitMode::kSpinThenSleep:
      return "SpinThenSleep";
    case WaitMode::kBusyPoll:
      return "BusyPoll";
  }
  return "?";
}

// Enum values are case-sensitive, as in the CRD's OpenAPI enums.
Result<Transport> parse_transport(std::string_view text) {
  for (Transport value : {Transport::kSharedMemory, Transport::kMessageQueue, Transport::kBoth}) {
    if (text == to_string(value)) return value;
  }
  return unknown_value("transport", text,
                       {Transport::kSharedMemory, Transport::kMessageQueue, Transport::kBoth});
}

Result<Scope> parse_scope(std::string_view text) {
  for (Scope value : {Scope::kPod, Scope::kNode}) {
    if (text == to_string(value)) return value;
  }
  return unknown_value("scope", text, {Scope::kPod, Scope::kNode});
}

Result<SlowConsumerPolicy> parse_slow_consumer_policy(std::string_view text) {
  const auto kAll = {SlowConsumerPolicy::kBlock, SlowConsumerPolicy::kDropOldest,
                     SlowConsumerPolicy::kDropNewest};
  for (SlowConsumerPolicy value : kAll) {
    if (text == to_string(value)) return value;
  }
  return unknown_value("slowConsumer policy", text, kAll);
}

Result<WaitMode> parse_wait_mode(std::string_view text) {
  const auto kAll = {WaitMode::kAdaptive, WaitMode::kSpinThenSleep, WaitMode::kBusyPoll};
  for (WaitMode value : kAll) {
    if (text == to_string(value)) return value;
  }
  return unknown_value("wait mode", text, kAll);
}

Result<WaitMode> subscriber_wait_mode(const ChannelSpec* spec, const char* env_value) {
  if (env_value != nullptr && *env_value != '\0') {
    auto parsed = parse_wait_mode(env_value);
    if (!parsed) return invalid(std::string(kEnvWaitMode) + ": " + parsed.error().message);
    return parsed;
  }
  if (spec != nullptr && spec->shared_memory) return spec->shared_memory->wait_mode;
  return WaitMode::kAdaptive;
}

Result<WaitMode> subscriber_wait_mode_from_environment(const ChannelSpec* spec) {
  return subscriber_wait_mode(spec, std::getenv(std::string(kEnvWaitMode).c_str()));
}

std::string ChannelSpec::mq_name() const {
  if (message_queue && message_queue->name) return *message_queue->name;
  return mq_object_name(id);
}

const ChannelSpec* ChannelSet::find(std::string_view name) const {
  for (const auto& channel : channels) {
    if (channel.id.name == name) return &channel;
  }
  return nullptr;
}

namespace {

Result<void> validate_transport(const ChannelSpec& spec) {
  const bool wants_shm = spec.transport != Transport::kMessageQueue;
  const bool wants_mq = spec.transport != Transport::kSharedMemory;
  const std::string transport(to_string(spec.transport));
  if (wants_shm && !spec.shared_memory) {
    return invalid("sharedMemory: required when transport is " + transport);
  }
  if (!wants_shm && spec.shared_memory) {
    return invalid("sharedMemory: set but transport is " + transport + " (use Both)");
  }
  if (wants_mq && !spec.message_queue) {
    return invalid("messageQueue: required when transport is " + transport);
  }
  if (!wants_mq && spec.message_queue) {
    return invalid("messageQueue: set but transport is " + transport + " (use Both)");
  }
  return {};
}

Result<void> validate_shared_memory(const SharedMemorySpec& shm) {
  if (shm.size_bytes < kMinRingBytes || shm.size_bytes > kMaxRingBytes) {
    return invalid("sharedMemory.size: " + format_quantity(shm.size_bytes) + " is outside " +
                   format_quantity(kMinRingBytes) + ".." + format_quantity(kMaxRingBytes));
  }
  if (shm.max_message_size == 0) return invalid("sharedMemory.maxMessageSize: must be at least 1");
  if (shm.max_message_size > kMaxShmMessageBytes) {
    return invalid("sharedMemory.maxMessageSize: " + format_quantity(shm.max_message_size) +
                   " is larger than " + format_quantity(kMaxShmMessageBytes));
  }
  const std::uint64_t record =
      (shm.max_message_size + kRecordHeaderBytes + kRecordAlignment - 1) & ~(kRecordAlignment - 1);
  if (record > shm.size_bytes / 2) {
    return invalid("sharedMemory.maxMessageSize: " + format_quantity(shm.max_message_size) +
                   " does not fit a " + format_quantity(shm.size_bytes) + " ring (a record of " +
                   std::to_string(record) +
                   " bytes, header included, must be at most half the ring, " +
                   std::to_string(shm.size_bytes / 2) + " bytes)");
  }
  if (shm.max_subscribers < 1 || shm.max_subscribers > kMaxSubscribersLimit) {
    return invalid("sharedMemory.maxSubscribers: " + std::to_string(shm.max_subscribers) +
                   " is outside 1.." + std::to_string(kMaxSubscribersLimit));
  }
  return {};
}

Result<void> validate_message_queue(const MessageQueueSpec& mq) {
  if (mq.name) {
    if (auto ok = validate_posix_name(*mq.name); !ok) {
      return invalid("messageQueue.name: " + ok.error().message);
    }
  }
  if (mq.max_messages < 1) return invalid("messageQueue.maxMessages: must be at least 1");
  if (mq.max_messages > kMqHardMaxMessages) {
    return invalid("messageQueue.maxMessages: " + std::to_string(mq.max_messages) +
                   " exceeds the kernel's hard limit of " + std::to_string(kMqHardMaxMessages));
  }
  if (mq.max_message_size < 1) return invalid("messageQueue.maxMessageSize: must be at least 1");
  if (mq.max_message_size > kMqHardMaxMessageSize) {
    return invalid("messageQueue.maxMessageSize: " + format_quantity(mq.max_message_size) +
                   " exceeds the kernel's hard limit of " + format_quantity(kMqHardMaxMessageSize));
  }
  return {};
}

// Rules across fields: node-scope queue limits, the bridge's direction and transport, the port.
Result<void> validate_combination(const ChannelSpec& spec) {
  if (spec.scope == Scope::kNode && spec.message_queue &&
      (spec.message_queue->max_messages > kNodeScopeMaxMessages ||
       spec.message_queue->max_message_size > kNodeScopeMaxMessageSize)) {
    return invalid(
        "messageQueue: scope Node shares the host's IPC namespace, where Pod sysctls "
        "(fs.mqueue.*) are refused: keep maxMessages <= 10 and maxMessageSize <= 8Ki "
        "(asked for " +
        std::to_string(spec.message_queue->max_messages) + " of " +
        format_quantity(spec.message_queue->max_message_size) + "), or use scope Pod");
  }
  if (spec.bridge.mq_to_shm && spec.bridge.shm_to_mq) {
    return invalid(
        "relay.bridge: choose one direction, mqToShm or shmToMq; both would loop "
        "messages");
  }
  if ((spec.bridge.mq_to_shm || spec.bridge.shm_to_mq) && spec.transport != Transport::kBoth) {
    return invalid(std::string("relay.bridge.") + (spec.bridge.mq_to_shm ? "mqToShm" : "shmToMq") +
                   ": bridging needs transport Both, not " +
                   std::string(to_string(spec.transport)));
  }
  if (spec.metrics_port < 1) return invalid("relay.metricsPort: 0 is outside 1..65535");
  return {};
}

}  // namespace

Result<void> validate(const ChannelSpec& spec) {
  if (auto ok = validate_dns1123_label(spec.id.namespace_name); !ok) {
    return invalid("namespace: " + ok.error().message);
  }
  if (auto ok = validate_dns1123_subdomain(spec.id.name); !ok) {
    return invalid("name: " + ok.error().message);
  }
  if (auto ok = validate_transport(spec); !ok) return ok;
  if (spec.shared_memory) {
    if (auto ok = validate_shared_memory(*spec.shared_memory); !ok) return ok;
  }
  if (spec.message_queue) {
    if (auto ok = validate_message_queue(*spec.message_queue); !ok) return ok;
  }
  return validate_combination(spec);
}

}  // namespace ipcmesh
