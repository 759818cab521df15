#include "api/channel_record.hpp"

#include <nlohmann/json.hpp>
#include <stdexcept>

namespace ipcmesh::api {

using nlohmann::json;

namespace {

std::string string_at(const json& object, const char* key) {
  const auto it = object.find(key);
  return it != object.end() && it->is_string() ? it->get<std::string>() : std::string();
}

// Only what the controller and Events read: the labels and annotations stay in the parsed
// channel (the webhook's), not twice.
ObjectMeta identity_of(const json& metadata) {
  ObjectMeta out;
  out.namespace_name = string_at(metadata, "namespace");
  out.name = metadata.at("name").get<std::string>();
  out.uid = string_at(metadata, "uid");
  out.resource_version = string_at(metadata, "resourceVersion");
  if (const auto it = metadata.find("generation");
      it != metadata.end() && it->is_number_integer()) {
    out.generation = it->get<std::int64_t>();
  }
  return out;
}

// spec.selector alone, for a channel whose spec is otherwise invalid.
std::optional<LabelSelector> selector_of(const json& object) {
  const auto spec = object.find("spec");
  if (spec == object.end() || !spec->is_object()) return std::nullopt;
  const auto selector = spec->find("selector");
  if (selector == spec->end() || selector->is_null()) return std::nullopt;
  auto parsed = label_selector_from_json(*selector, "spec.selector");
  return parsed ? std::optional<LabelSelector>(std::move(*parsed)) : std::nullopt;
}

}  // namespace

json ChannelRecord::reference() const {
  return {{"apiVersion", kApiVersion},
          {"kind", kKind},
          {"metadata",
           {{"namespace", metadata.namespace_name},
            {"name", metadata.name},
            {"uid", metadata.uid},
            {"resourceVersion", metadata.resource_version}}}};
}

ChannelRecord channel_record_from_json(json&& object) {
  const auto metadata = object.find("metadata");
  if (metadata == object.end() || !metadata->is_object() || !metadata->contains("name") ||
      !(*metadata)["name"].is_string()) {
    throw std::invalid_argument("IpcChannel without metadata.name");
  }
  ChannelRecord record;
  record.metadata = identity_of(*metadata);
  // The status is the controller's to judge: one that does not parse is replaced by its next
  // write, it never makes the spec invalid.
  if (const auto status = object.find("status"); status != object.end()) {
    if (auto parsed = status_from_json(*status)) record.status = std::move(*parsed);
    object.erase(status);
  }
  auto parsed = ipc_channel_from_json(object);
  if (parsed) {
    record.selector = parsed->selector;
    record.channel = std::make_shared<const IpcChannel>(std::move(*parsed));
  } else {
    record.spec_error = parsed.error().message;
    record.selector = selector_of(object);
  }
  return record;
}

bool injection_is_outdated(const InjectedChannel& injected, const ObjectMeta& channel) {
  return injected.generation < channel.generation ||
         (!injected.uid.empty() && !channel.uid.empty() && injected.uid != channel.uid);
}

}  // namespace ipcmesh::api
