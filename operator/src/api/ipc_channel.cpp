#include "api/ipc_channel.hpp"

#include <algorithm>
#include <nlohmann/json.hpp>

namespace ipcmesh::api {
namespace {

using nlohmann::json;

tl::unexpected<Error> invalid(std::string message) {
  return make_error(ErrorCode::kInvalidArgument, std::move(message));
}

// Optional string field: absent/null gives "", anything but a string is an error.
Result<std::string> optional_string(const json& object, std::string_view key,
                                    std::string_view path) {
  const auto it = object.find(key);
  if (it == object.end() || it->is_null()) return std::string();
  if (!it->is_string())
    return invalid(std::string(path) + "." + std::string(key) + ": must be a string");
  return it->get<std::string>();
}

Result<std::int64_t> optional_integer(const json& object, std::string_view key,
                                      std::string_view path) {
  const auto it = object.find(key);
  if (it == object.end() || it->is_null()) return 0;
  if (!it->is_number_integer()) {
    return invalid(std::string(path) + "." + std::string(key) + ": must be an integer");
  }
  return it->get<std::int64_t>();
}

Result<ObjectMeta> metadata_from_json(const json& object) {
  if (!object.is_object()) return invalid("metadata: required object");
  ObjectMeta meta;
  auto name = optional_string(object, "name", "metadata");
  if (!name) return tl::unexpected(name.error());
  auto ns = optional_string(object, "namespace", "metadata");
  if (!ns) return tl::unexpected(ns.error());
  if (name->empty()) return invalid("metadata.name: required");
  if (ns->empty()) return invalid("metadata.namespace: required (IpcChannel is namespaced)");
  if (auto ok = validate_dns1123_subdomain(*name); !ok) {
    return invalid("metadata.name: " + ok.error().message);
  }
  if (auto ok = validate_dns1123_label(*ns); !ok) {
    return invalid("metadata.namespace: " + ok.error().message);
  }
  meta.name = std::move(*name);
  meta.namespace_name = std::move(*ns);
  for (auto [key, field] :
       {std::pair{"uid", &meta.uid}, std::pair{"resourceVersion", &meta.resource_version},
        std::pair{"creationTimestamp", &meta.creation_timestamp}}) {
    auto value = optional_string(object, key, "metadata");
    if (!value) return tl::unexpected(value.error());
    *field = std::move(*value);
  }
  auto generation = optional_integer(object, "generation", "metadata");
  if (!generation) return tl::unexpected(generation.error());
  meta.generation = *generation;
  if (auto it = object.find("labels"); it != object.end()) {
    auto labels = labels_from_json(*it, "metadata.labels");
    if (!labels) return tl::unexpected(labels.error());
    meta.labels = std::move(*labels);
  }
  if (auto it = object.find("annotations"); it != object.end()) {
    auto annotations = labels_from_json(*it, "metadata.annotations");
    if (!annotations) return tl::unexpected(annotations.error());
    meta.annotations = std::move(*annotations);
  }
  return meta;
}

Result<std::map<std::string, std::string>> quantity_map(const json& object,
                                                        const std::string& path) {
  std::map<std::string, std::string> out;
  if (object.is_null()) return out;
  if (!object.is_object()) return invalid(path + ": must be an object");
  for (const auto& [key, value] : object.items()) {
    if (value.is_string()) {
      out.emplace(key, value.get<std::string>());
    } else if (value.is_number_integer()) {
      out.emplace(key, std::to_string(value.get<std::int64_t>()));
    } else if (value.is_number()) {
      out.emplace(key, value.dump());
    } else {
      return invalid(path + "." + key + ": must be a quantity (string or number)");
    }
  }
  return out;
}

Result<ResourceRequirements> resources_from_json(const json& object, const std::string& path) {
  ResourceRequirements resources;
  if (object.is_null()) return resources;
  if (!object.is_object()) return invalid(path + ": must be an object");
  if (auto it = object.find("requests"); it != object.end()) {
    auto map = quantity_map(*it, path + ".requests");
    if (!map) return tl::unexpected(map.error());
    resources.requests = std::move(*map);
  }
  if (auto it = object.find("limits"); it != object.end()) {
    auto map = quantity_map(*it, path + ".limits");
    if (!map) return tl::unexpected(map.error());
    resources.limits = std::move(*map);
  }
  return resources;
}

// Error paths from channel_spec_from_json are relative to what we passed; prefix them with
// "spec" so a user reads "spec.sharedMemory.size: ...".
Error prefixed(const Error& error, std::string_view prefix) {
  if (error.message.rfind(prefix, 0) == 0) return error;
  return Error{error.code, std::string(prefix) + "." + error.message};
}

}  // namespace

const Condition* IpcChannelStatus::find_condition(std::string_view type) const {
  const auto it = std::find_if(conditions.begin(), conditions.end(),
                               [&](const Condition& c) { return c.type == type; });
  return it == conditions.end() ? nullptr : &*it;
}

std::vector<std::string> split_channel_names(std::string_view annotation) {
  std::vector<std::string> names;
  std::size_t start = 0;
  while (start <= annotation.size()) {
    std::size_t end = annotation.find(',', start);
    if (end == std::string_view::npos) end = annotation.size();
    std::string_view part = annotation.substr(start, end - start);
    while (!part.empty() && (part.front() == ' ' || part.front() == '\t')) part.remove_prefix(1);
    while (!part.empty() && (part.back() == ' ' || part.back() == '\t')) part.remove_suffix(1);
    if (!part.empty()) names.emplace_back(part);
    start = end + 1;
  }
  return names;
}

bool IpcChannel::selects(const Labels& pod_labels, std::string_view channels_annotation) const {
  if (selector && selector->matches(pod_labels)) return true;
  const auto names = split_channel_names(channels_annotation);
  return std::find(names.begin(), names.end(), metadata.name) != names.end();
}

std::string object_key(const ObjectMeta& metadata) {
  return metadata.namespace_name + "/" + metadata.name;
}

Result<IpcChannelStatus> status_from_json(const json& object, std::string_view path) {
  IpcChannelStatus status;
  if (object.is_null()) return status;
  if (!object.is_object()) return invalid(std::string(path) + ": must be an object");
  const std::string at(path);
  auto observed = optional_integer(object, "observedGeneration", at);
  if (!observed) return tl::unexpected(observed.error());
  status.observed_generation = *observed;
  for (auto [key, field] : {std::pair{"selectedPods", &status.selected_pods},
                            std::pair{"injectedPods", &status.injected_pods},
                            std::pair{"pendingRestartPods", &status.pending_restart_pods}}) {
    auto value = optional_integer(object, key, at);
    if (!value) return tl::unexpected(value.error());
    *field = static_cast<std::int32_t>(std::clamp<std::int64_t>(*value, 0, INT32_MAX));
  }
  if (auto it = object.find("conditions"); it != object.end() && !it->is_null()) {
    if (!it->is_array()) return invalid(at + ".conditions: must be a list");
    for (std::size_t i = 0; i < it->size(); ++i) {
      const auto& item = (*it)[i];
      const std::string item_path = at + ".conditions[" + std::to_string(i) + "]";
      if (!item.is_object()) return invalid(item_path + ": must be an object");
      Condition condition;
      for (auto [key, field] :
           {std::pair{"type", &condition.type}, std::pair{"status", &condition.status},
            std::pair{"reason", &condition.reason}, std::pair{"message", &condition.message},
            std::pair{"lastTransitionTime", &condition.last_transition_time}}) {
        auto value = optional_string(item, key, item_path);
        if (!value) return tl::unexpected(value.error());
        *field = std::move(*value);
      }
      auto generation = optional_integer(item, "observedGeneration", item_path);
      if (!generation) return tl::unexpected(generation.error());
      condition.observed_generation = *generation;
      status.conditions.push_back(std::move(condition));
    }
  }
  return status;
}

json status_to_json(const IpcChannelStatus& status) {
  json conditions = json::array();
  for (const auto& c : status.conditions) {
    json item{{"type", c.type},
              {"status", c.status},
              {"reason", c.reason},
              {"message", c.message},
              {"observedGeneration", c.observed_generation}};
    if (!c.last_transition_time.empty()) item["lastTransitionTime"] = c.last_transition_time;
    conditions.push_back(std::move(item));
  }
  return json{{"observedGeneration", status.observed_generation},
              {"conditions", std::move(conditions)},
              {"selectedPods", status.selected_pods},
              {"injectedPods", status.injected_pods},
              {"pendingRestartPods", status.pending_restart_pods}};
}

json to_json(const ResourceRequirements& resources) {
  json out = json::object();
  if (!resources.requests.empty()) out["requests"] = resources.requests;
  if (!resources.limits.empty()) out["limits"] = resources.limits;
  return out;
}

Result<IpcChannel> ipc_channel_from_json(const json& object) {
  if (!object.is_object()) return invalid("IpcChannel: must be a JSON object");
  if (auto it = object.find("apiVersion"); it != object.end() && !it->is_null()) {
    if (!it->is_string() || it->get<std::string>() != kApiVersion) {
      return invalid("apiVersion: expected " + std::string(kApiVersion) + ", got " + it->dump());
    }
  }
  if (auto it = object.find("kind"); it != object.end() && !it->is_null()) {
    if (!it->is_string() || it->get<std::string>() != kKind) {
      return invalid("kind: expected " + std::string(kKind) + ", got " + it->dump());
    }
  }
  IpcChannel channel;
  const auto meta_it = object.find("metadata");
  auto meta = metadata_from_json(meta_it == object.end() ? json() : *meta_it);
  if (!meta) return tl::unexpected(meta.error());
  channel.metadata = std::move(*meta);

  const auto spec_it = object.find("spec");
  if (spec_it == object.end() || !spec_it->is_object()) return invalid("spec: required object");
  const json& spec = *spec_it;

  if (auto it = spec.find("selector"); it != spec.end() && !it->is_null()) {
    auto selector = label_selector_from_json(*it, "spec.selector");
    if (!selector) return tl::unexpected(selector.error());
    channel.selector = std::move(*selector);
  }

  // The contract parser sees the spec minus the operator-only fields (selector, relay resources)
  // plus the channel identity, exactly the shape it documents.
  json contract = spec;
  contract.erase("selector");
  if (auto relay = contract.find("relay"); relay != contract.end() && relay->is_object()) {
    if (auto it = relay->find("resources"); it != relay->end()) {
      auto resources = resources_from_json(*it, "spec.relay.resources");
      if (!resources) return tl::unexpected(resources.error());
      channel.relay_resources = std::move(*resources);
    }
    relay->erase("resources");
  }
  contract["namespace"] = channel.metadata.namespace_name;
  contract["name"] = channel.metadata.name;
  auto parsed = channel_spec_from_json(contract, "spec");
  if (!parsed) return tl::unexpected(prefixed(parsed.error(), "spec"));
  if (auto ok = validate(*parsed); !ok) return tl::unexpected(prefixed(ok.error(), "spec"));
  channel.spec = std::move(*parsed);

  if (auto it = object.find("status"); it != object.end()) {
    auto status = status_from_json(*it);
    if (!status) return tl::unexpected(status.error());
    channel.status = std::move(*status);
  }
  return channel;
}

}  // namespace ipcmesh::api
