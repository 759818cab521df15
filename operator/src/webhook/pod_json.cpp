#include "webhook/pod_json.hpp"

namespace ipcmesh::webhook::pod_json {

const json* object_member(const json& parent, std::string_view key) {
  if (!parent.is_object()) return nullptr;
  const auto it = parent.find(key);
  return it != parent.end() && it->is_object() ? &*it : nullptr;
}

const json* array_member(const json& parent, std::string_view key) {
  if (!parent.is_object()) return nullptr;
  const auto it = parent.find(key);
  return it != parent.end() && it->is_array() ? &*it : nullptr;
}

std::string string_member(const json& parent, std::string_view key) {
  if (!parent.is_object()) return {};
  const auto it = parent.find(key);
  return it != parent.end() && it->is_string() ? it->get<std::string>() : std::string();
}

bool bool_member(const json& parent, std::string_view key) {
  if (!parent.is_object()) return false;
  const auto it = parent.find(key);
  return it != parent.end() && it->is_boolean() && it->get<bool>();
}

std::string annotation(const json& pod, std::string_view key) {
  const json* meta = object_member(pod, "metadata");
  const json* annotations = meta ? object_member(*meta, "annotations") : nullptr;
  return annotations ? string_member(*annotations, key) : std::string();
}

api::Labels labels(const json& pod) {
  api::Labels labels;
  const json* meta = object_member(pod, "metadata");
  const json* map = meta ? object_member(*meta, "labels") : nullptr;
  if (!map) return labels;
  for (const auto& [key, value] : map->items()) {
    if (value.is_string()) labels.emplace(key, value.get<std::string>());
  }
  return labels;
}

std::string display_name(const json& pod) {
  const json* meta = object_member(pod, "metadata");
  if (!meta) return "(unnamed)";
  if (auto name = string_member(*meta, "name"); !name.empty()) return name;
  if (auto prefix = string_member(*meta, "generateName"); !prefix.empty()) return prefix + "*";
  return "(unnamed)";
}

json& array_at(json& parent, const char* key) {
  auto& value = parent[key];
  if (!value.is_array()) value = json::array();
  return value;
}

json& object_at(json& parent, const char* key) {
  auto& value = parent[key];
  if (!value.is_object()) value = json::object();
  return value;
}

namespace {

std::string normalise_path(std::string path) {
  while (path.size() > 1 && path.back() == '/') path.pop_back();
  return path;
}

}  // namespace

std::string mounted_volume(const json& container, std::string_view path) {
  const json* mounts = array_member(container, "volumeMounts");
  if (!mounts) return {};
  for (const auto& mount : *mounts) {
    if (normalise_path(string_member(mount, "mountPath")) == path) {
      return string_member(mount, "name");
    }
  }
  return {};
}

std::string env_value(const json& container, std::string_view name) {
  const json* env = array_member(container, "env");
  if (!env) return {};
  for (const auto& entry : *env) {
    if (entry.is_object() && string_member(entry, "name") == name) {
      return string_member(entry, "value");
    }
  }
  return {};
}

void set_env(json& container, std::string_view name, const std::string& value) {
  auto& env = array_at(container, "env");
  for (auto& entry : env) {
    if (entry.is_object() && string_member(entry, "name") == name) {
      entry = json{{"name", name}, {"value", value}};
      return;
    }
  }
  env.push_back(json{{"name", name}, {"value", value}});
}

}  // namespace ipcmesh::webhook::pod_json
