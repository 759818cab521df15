// Reading and editing a Pod as untyped JSON, the way the mutation needs it: readers never throw
// on a field of the wrong type (the Pod comes from any client), writers create what is missing.
// Internal to the webhook.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "api/label_selector.hpp"

namespace ipcmesh::webhook::pod_json {

using nlohmann::json;

// A member that must be an object (array): nullptr when absent, null or another type.
const json* object_member(const json& parent, std::string_view key);
const json* array_member(const json& parent, std::string_view key);
std::string string_member(const json& parent, std::string_view key);  // "" unless a string
bool bool_member(const json& parent, std::string_view key);           // false unless true

std::string annotation(const json& pod, std::string_view key);
api::Labels labels(const json& pod);
std::string display_name(const json& pod);  // name, generateName + "*", or "(unnamed)"

// parent[key] as an array (object), replacing whatever else was there.
json& array_at(json& parent, const char* key);
json& object_at(json& parent, const char* key);

// The volume a container mounts at `path` (trailing slashes ignored), "" when none.
std::string mounted_volume(const json& container, std::string_view path);
// The literal env value of `name`, "" when absent or not a literal value.
std::string env_value(const json& container, std::string_view name);
// Sets (replacing a previous entry of the same name) a literal env value.
void set_env(json& container, std::string_view name, const std::string& value);

// Visits the init containers, then the containers, of a Pod spec; entries that are not lists
// are skipped.
template <typename F>
void for_each_container(json& spec, F&& visit) {
  for (const char* list : {"initContainers", "containers"}) {
    if (!spec.contains(list) || !spec[list].is_array()) continue;
    for (auto& container : spec[list]) visit(container);
  }
}

template <typename F>
void for_each_container(const json& spec, F&& visit) {
  for (const char* list : {"initContainers", "containers"}) {
    const json* items = array_member(spec, list);
    if (!items) continue;
    for (const auto& container : *items) visit(container);
  }
}

}  // namespace ipcmesh::webhook::pod_json
