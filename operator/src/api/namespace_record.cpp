#include "api/namespace_record.hpp"

#include <algorithm>
#include <nlohmann/json.hpp>
#include <vector>

#include "api/label_selector.hpp"

namespace ipcmesh::api {

Result<NamespaceLabel> parse_namespace_label(std::string_view text) {
  const std::string quoted = "\"" + std::string(text) + "\"";
  const auto equals = std::count(text.begin(), text.end(), '=');
  if (equals != 1) {
    return make_error(
        ErrorCode::kInvalidArgument,
        quoted + " is not key=value with one '=' (e.g. ipcmesh.io/injection=enabled)");
  }
  const auto at = text.find('=');
  NamespaceLabel label{std::string(text.substr(0, at)), std::string(text.substr(at + 1))};
  if (label.key.empty()) {
    return make_error(ErrorCode::kInvalidArgument,
                      quoted + " has no label key before '=' (e.g. ipcmesh.io/injection=enabled)");
  }
  if (auto ok = validate_label_key(label.key); !ok) {
    return make_error(ErrorCode::kInvalidArgument, quoted + ": " + ok.error().message);
  }
  if (auto ok = validate_label_value(label.value); !ok) {
    return make_error(ErrorCode::kInvalidArgument, quoted + ": " + ok.error().message);
  }
  return label;
}

NamespaceRecord namespace_record_from_json(const nlohmann::json& object) {
  NamespaceRecord record;
  const nlohmann::json& metadata = object.at("metadata");
  record.name = metadata.at("name").get<std::string>();
  if (const auto version = metadata.find("resourceVersion");
      version != metadata.end() && version->is_string()) {
    record.resource_version = version->get<std::string>();
  }
  if (const auto labels = metadata.find("labels");
      labels != metadata.end() && labels->is_object()) {
    std::vector<PackedStringMap::Entry> entries;
    for (const auto& [key, value] : labels->items()) {
      if (!value.is_string()) return record;
      entries.emplace_back(key, value.get_ref<const std::string&>());
    }
    record.labels = PackedStringMap(std::move(entries));
  }
  return record;
}

}  // namespace ipcmesh::api
