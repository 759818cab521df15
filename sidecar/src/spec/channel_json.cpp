// The JSON form of a channel spec and of the document the operator writes into a Pod
// ({"version":1,"channels":[...]}), in the CRD's own field names. Unknown fields are ignored so
// that an older sidecar can read a document written by a newer operator.
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <limits>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>

#include "ipcmesh/channel_spec.hpp"

namespace ipcmesh {
namespace {

using nlohmann::json;

tl::unexpected<Error> invalid(std::string message) {
  return make_error(ErrorCode::kInvalidArgument, std::move(message));
}

std::string join(std::string_view path, std::string_view key) {
  if (path.empty()) return std::string(key);
  return std::string(path) + "." + std::string(key);
}

std::string type_name(const json& value) {
  return value.type_name();
}

// nullptr when absent or null (null means "not set", as with kubectl apply).
const json* field(const json& object, std::string_view key) {
  const auto it = object.find(key);
  if (it == object.end() || it->is_null()) return nullptr;
  return &*it;
}

Result<const json*> object_field(const json& object, std::string_view key, const std::string& at) {
  const json* value = field(object, key);
  if (value && !value->is_object()) {
    return invalid(at + ": must be an object, got " + type_name(*value));
  }
  return value;
}

Result<std::optional<std::string>> string_field(const json& object, std::string_view key,
                                                const std::string& at) {
  const json* value = field(object, key);
  if (!value) return std::optional<std::string>{};
  if (!value->is_string()) return invalid(at + ": must be a string, got " + type_name(*value));
  return std::optional<std::string>(value->get<std::string>());
}

Result<std::optional<bool>> bool_field(const json& object, std::string_view key,
                                       const std::string& at) {
  const json* value = field(object, key);
  if (!value) return std::optional<bool>{};
  if (!value->is_boolean()) return invalid(at + ": must be true or false, got " + value->dump());
  return std::optional<bool>(value->get<bool>());
}

// Counts (maxMessages, maxSubscribers, metricsPort) are plain integers within [min, max].
Result<std::optional<std::uint64_t>> integer_field(const json& object, std::string_view key,
                                                   const std::string& at, std::uint64_t min,
                                                   std::uint64_t max) {
  const json* value = field(object, key);
  if (!value) return std::optional<std::uint64_t>{};
  const std::string range = std::to_string(min) + ".." + std::to_string(max);
  // JSON built in code holds non-negative integers as signed numbers; text parsing makes them
  // unsigned. Both are the same number.
  const bool whole = value->is_number_unsigned() ||
                     (value->is_number_integer() && value->get<std::int64_t>() >= 0);
  if (whole) {
    const auto number = value->get<std::uint64_t>();
    if (number < min || number > max) {
      return invalid(at + ": " + std::to_string(number) + " is outside " + range);
    }
    return std::optional<std::uint64_t>(number);
  }
  if (value->is_number_integer() || value->is_number_float()) {
    return invalid(at + ": " + value->dump() + " is outside " + range + " or not a whole number");
  }
  return invalid(at + ": must be an integer, got " + type_name(*value));
}

// Quantities are strings ("64Mi") or non-negative integers (bytes), as in Kubernetes.
Result<std::optional<std::uint64_t>> quantity_field(const json& object, std::string_view key,
                                                    const std::string& at, std::uint64_t max) {
  const json* value = field(object, key);
  if (!value) return std::optional<std::uint64_t>{};
  std::uint64_t bytes = 0;
  if (value->is_string()) {
    auto parsed = parse_quantity(value->get<std::string>());
    if (!parsed) return invalid(at + ": " + parsed.error().message);
    bytes = *parsed;
  } else if (value->is_number_unsigned() ||
             (value->is_number_integer() && value->get<std::int64_t>() >= 0)) {
    bytes = value->get<std::uint64_t>();
  } else if (value->is_number_integer()) {
    return invalid(at + ": " + value->dump() + " is negative, sizes cannot be");
  } else if (value->is_number_float()) {
    const double number = value->get<double>();
    // 2^64 is exactly representable; anything at or above it does not fit.
    if (!(number >= 0) || number >= 18446744073709551616.0 || std::floor(number) != number) {
      return invalid(at + ": " + value->dump() + " is not a whole, non-negative number of bytes");
    }
    bytes = static_cast<std::uint64_t>(number);
  } else {
    return invalid(at + ": must be a quantity such as \"64Mi\" or an integer, got " +
                   type_name(*value));
  }
  if (bytes > max) {
    return invalid(at + ": " + format_quantity(bytes) + " is larger than " + format_quantity(max));
  }
  return std::optional<std::uint64_t>(bytes);
}

#define IPCMESH_TRY(var, expr) \
  auto var = (expr);           \
  if (!var) return tl::unexpected(var.error())

Result<SharedMemorySpec> shared_memory_from_json(const json& object, const std::string& at) {
  SharedMemorySpec shm;
  IPCMESH_TRY(size, quantity_field(object, "size", join(at, "size"),
                                   std::numeric_limits<std::uint64_t>::max()));
  if (*size) shm.size_bytes = **size;
  IPCMESH_TRY(max_message, quantity_field(object, "maxMessageSize", join(at, "maxMessageSize"),
                                          std::numeric_limits<std::uint32_t>::max()));
  if (*max_message) shm.max_message_size = static_cast<std::uint32_t>(**max_message);
  IPCMESH_TRY(policy, string_field(object, "slowConsumer", join(at, "slowConsumer")));
  if (*policy) {
    auto parsed = parse_slow_consumer_policy(**policy);
    if (!parsed) return invalid(join(at, "slowConsumer") + ": " + parsed.error().message);
    shm.slow_consumer = *parsed;
  }
  IPCMESH_TRY(subscribers, integer_field(object, "maxSubscribers", join(at, "maxSubscribers"), 0,
                                         std::numeric_limits<std::uint32_t>::max()));
  if (*subscribers) shm.max_subscribers = static_cast<std::uint32_t>(**subscribers);
  IPCMESH_TRY(wait_mode, string_field(object, "waitMode", join(at, "waitMode")));
  if (*wait_mode) {
    auto parsed = parse_wait_mode(**wait_mode);
    if (!parsed) return invalid(join(at, "waitMode") + ": " + parsed.error().message);
    shm.wait_mode = *parsed;
  }
  return shm;
}

Result<MessageQueueSpec> message_queue_from_json(const json& object, const std::string& at) {
  MessageQueueSpec mq;
  IPCMESH_TRY(name, string_field(object, "name", join(at, "name")));
  mq.name = std::move(*name);
  IPCMESH_TRY(max_messages, integer_field(object, "maxMessages", join(at, "maxMessages"), 0,
                                          std::numeric_limits<std::uint32_t>::max()));
  if (*max_messages) mq.max_messages = static_cast<std::uint32_t>(**max_messages);
  IPCMESH_TRY(max_message, quantity_field(object, "maxMessageSize", join(at, "maxMessageSize"),
                                          std::numeric_limits<std::uint32_t>::max()));
  if (*max_message) mq.max_message_size = static_cast<std::uint32_t>(**max_message);
  return mq;
}

}  // namespace

Result<ChannelSpec> channel_spec_from_json(const json& object, std::string_view path) {
  const std::string at(path);
  if (!object.is_object()) {
    return invalid((at.empty() ? std::string("channel") : at) + ": must be an object, got " +
                   type_name(object));
  }
  ChannelSpec spec;
  IPCMESH_TRY(ns, string_field(object, "namespace", join(at, "namespace")));
  if (!*ns) return invalid(join(at, "namespace") + ": required");
  spec.id.namespace_name = std::move(**ns);
  IPCMESH_TRY(name, string_field(object, "name", join(at, "name")));
  if (!*name) return invalid(join(at, "name") + ": required");
  spec.id.name = std::move(**name);

  IPCMESH_TRY(transport, string_field(object, "transport", join(at, "transport")));
  if (*transport) {
    auto parsed = parse_transport(**transport);
    if (!parsed) return invalid(join(at, "transport") + ": " + parsed.error().message);
    spec.transport = *parsed;
  }
  IPCMESH_TRY(scope, string_field(object, "scope", join(at, "scope")));
  if (*scope) {
    auto parsed = parse_scope(**scope);
    if (!parsed) return invalid(join(at, "scope") + ": " + parsed.error().message);
    spec.scope = *parsed;
  }

  IPCMESH_TRY(shm_object, object_field(object, "sharedMemory", join(at, "sharedMemory")));
  if (*shm_object) {
    IPCMESH_TRY(shm, shared_memory_from_json(**shm_object, join(at, "sharedMemory")));
    spec.shared_memory = *shm;
  } else if (spec.transport != Transport::kMessageQueue) {
    spec.shared_memory = SharedMemorySpec{};  // defaults when the transport needs it
  }
  IPCMESH_TRY(mq_object, object_field(object, "messageQueue", join(at, "messageQueue")));
  if (*mq_object) {
    IPCMESH_TRY(mq, message_queue_from_json(**mq_object, join(at, "messageQueue")));
    spec.message_queue = std::move(*mq);
  } else if (spec.transport != Transport::kSharedMemory) {
    spec.message_queue = MessageQueueSpec{};
  }

  IPCMESH_TRY(relay, object_field(object, "relay", join(at, "relay")));
  if (*relay) {
    const std::string relay_at = join(at, "relay");
    IPCMESH_TRY(bridge, object_field(**relay, "bridge", join(relay_at, "bridge")));
    if (*bridge) {
      const std::string bridge_at = join(relay_at, "bridge");
      IPCMESH_TRY(mq_to_shm, bool_field(**bridge, "mqToShm", join(bridge_at, "mqToShm")));
      IPCMESH_TRY(shm_to_mq, bool_field(**bridge, "shmToMq", join(bridge_at, "shmToMq")));
      spec.bridge.mq_to_shm = mq_to_shm->value_or(false);
      spec.bridge.shm_to_mq = shm_to_mq->value_or(false);
    }
    IPCMESH_TRY(port,
                integer_field(**relay, "metricsPort", join(relay_at, "metricsPort"), 1, 65535));
    if (*port) spec.metrics_port = static_cast<std::uint16_t>(**port);
  }

  // validate() names fields relative to the channel object; put them under this object's path.
  if (auto ok = validate(spec); !ok) {
    return make_error(ok.error().code, join(at, ok.error().message));
  }
  return spec;
}

json to_json(const ChannelSpec& spec) {
  json out = {{"namespace", spec.id.namespace_name},
              {"name", spec.id.name},
              {"transport", std::string(to_string(spec.transport))},
              {"scope", std::string(to_string(spec.scope))}};
  if (const auto& shm = spec.shared_memory) {
    out["sharedMemory"] = {{"size", format_quantity(shm->size_bytes)},
                           {"maxMessageSize", format_quantity(shm->max_message_size)},
                           {"slowConsumer", std::string(to_string(shm->slow_consumer))},
                           {"maxSubscribers", shm->max_subscribers},
                           {"waitMode", std::string(to_string(shm->wait_mode))}};
  }
  if (const auto& mq = spec.message_queue) {
    json queue = {{"maxMessages", mq->max_messages},
                  {"maxMessageSize", format_quantity(mq->max_message_size)}};
    if (mq->name) queue["name"] = *mq->name;
    out["messageQueue"] = std::move(queue);
  }
  out["relay"] = {
      {"bridge", {{"mqToShm", spec.bridge.mq_to_shm}, {"shmToMq", spec.bridge.shm_to_mq}}},
      {"metricsPort", spec.metrics_port}};
  return out;
}

Result<ChannelSet> parse_channel_set(std::string_view json_text) {
  json document;
  try {
    document = json::parse(json_text);
  } catch (const json::exception& error) {
    // parse_error for bad syntax, out_of_range for numbers that overflow (found by spec_fuzz).
    return invalid(std::string("not valid JSON: ") + error.what());
  }
  if (!document.is_object()) {
    return invalid(
        "the channel document must be an object {\"version\":1,\"channels\":[...]}, got " +
        type_name(document));
  }
  const json* version = field(document, "version");
  if (!version) return invalid("version: required (this library reads version 1)");
  if (!version->is_number_integer()) {
    return invalid("version: must be an integer, got " + version->dump());
  }
  if (version->get<std::int64_t>() != kContractVersion) {
    return make_error(ErrorCode::kIncompatible, "version: " + version->dump() +
                                                    " is not supported (this library reads " +
                                                    std::to_string(kContractVersion) + ")");
  }
  const json* channels = field(document, "channels");
  if (!channels) return invalid("channels: required (may be an empty list)");
  if (!channels->is_array())
    return invalid("channels: must be a list, got " + type_name(*channels));

  ChannelSet set;
  set.channels.reserve(channels->size());
  for (std::size_t i = 0; i < channels->size(); ++i) {
    const std::string at = "channels[" + std::to_string(i) + "]";
    IPCMESH_TRY(spec, channel_spec_from_json((*channels)[i], at));
    for (std::size_t j = 0; j < set.channels.size(); ++j) {
      if (set.channels[j].id == spec->id) {
        return invalid(at + ": duplicate channel " + spec->id.namespace_name + "/" + spec->id.name +
                       " (also channels[" + std::to_string(j) + "])");
      }
    }
    set.channels.push_back(std::move(*spec));
  }
  return set;
}

std::string serialize_channel_set(const ChannelSet& set) {
  json channels = json::array();
  for (const auto& spec : set.channels) channels.push_back(to_json(spec));
  return json{{"version", kContractVersion}, {"channels", std::move(channels)}}.dump();
}

Result<ChannelSet> channel_set_from_environment() {
  const std::string env_name(kEnvChannels);
  const std::string file_env_name(kEnvChannelsFile);
  if (const char* text = std::getenv(env_name.c_str()); text != nullptr && *text != '\0') {
    auto set = parse_channel_set(text);
    if (!set) return make_error(set.error().code, env_name + ": " + set.error().message);
    return set;
  }
  const char* file = std::getenv(file_env_name.c_str());
  if (file == nullptr || *file == '\0') {
    return make_error(ErrorCode::kNotFound, "neither " + env_name + " nor " + file_env_name +
                                                " is set (is this Pod injected by ipcmesh?)");
  }
  std::ifstream in(file, std::ios::binary);
  if (!in) {
    return tl::unexpected(system_error("open " + file_env_name + " file", file, errno));
  }
  std::ostringstream content;
  content << in.rdbuf();
  auto set = parse_channel_set(content.str());
  if (!set) return make_error(set.error().code, std::string(file) + ": " + set.error().message);
  return set;
}

}  // namespace ipcmesh
