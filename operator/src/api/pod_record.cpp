#include "api/pod_record.hpp"

#include <algorithm>
#include <nlohmann/json.hpp>

namespace ipcmesh::api {
namespace {

using nlohmann::json;

std::size_t length_size(std::size_t length) {
  std::size_t bytes = 1;
  while (length >= 0x80) {
    length >>= 7;
    ++bytes;
  }
  return bytes;
}

void append(std::string& out, std::string_view text) {
  std::size_t length = text.size();
  while (length >= 0x80) {
    out += static_cast<char>(0x80 | (length & 0x7f));
    length >>= 7;
  }
  out += static_cast<char>(length);
  out += text;
}

// Reads the string at `at` and moves `at` past it. Only bytes append() wrote are read.
std::string_view read(std::string_view bytes, std::size_t& at) {
  std::size_t length = 0;
  for (int shift = 0;; shift += 7) {
    const auto byte = static_cast<unsigned char>(bytes[at++]);
    length |= static_cast<std::size_t>(byte & 0x7f) << shift;
    if ((byte & 0x80) == 0) break;
  }
  const std::string_view text = bytes.substr(at, length);
  at += length;
  return text;
}

std::string string_or_empty(const json& object, const char* key) {
  const auto it = object.find(key);
  return it != object.end() && it->is_string() ? it->get<std::string>() : std::string();
}

}  // namespace

PackedStringMap::Entry PackedStringMap::Iterator::operator*() const {
  std::size_t at = at_;
  const std::string_view key = read(bytes_, at);
  return {key, read(bytes_, at)};
}

PackedStringMap::Iterator& PackedStringMap::Iterator::operator++() {
  read(bytes_, at_);
  read(bytes_, at_);
  return *this;
}

PackedStringMap::PackedStringMap(std::vector<Entry> entries) {
  std::stable_sort(entries.begin(), entries.end(),
                   [](const Entry& a, const Entry& b) { return a.first < b.first; });
  entries.erase(std::unique(entries.begin(), entries.end(),
                            [](const Entry& a, const Entry& b) { return a.first == b.first; }),
                entries.end());
  std::size_t size = 0;
  for (const auto& [key, value] : entries) {
    size += length_size(key.size()) + key.size() + length_size(value.size()) + value.size();
  }
  bytes_.reserve(size);  // exactly: the map never grows, so no slack is kept
  for (const auto& [key, value] : entries) {
    append(bytes_, key);
    append(bytes_, value);
  }
}

std::optional<std::string_view> PackedStringMap::find(std::string_view key) const {
  for (const auto& [entry_key, value] : *this) {
    if (entry_key == key) return value;
    if (entry_key > key) break;  // sorted
  }
  return std::nullopt;
}

std::size_t PackedStringMap::size() const {
  return static_cast<std::size_t>(std::distance(begin(), end()));
}

PodRecord pod_record_from_json(const json& pod) {
  PodRecord record;
  const json& metadata = pod.at("metadata");
  record.name = metadata.at("name").get<std::string>();
  record.namespace_name = string_or_empty(metadata, "namespace");
  record.uid = string_or_empty(metadata, "uid");
  record.resource_version = string_or_empty(metadata, "resourceVersion");

  if (const auto labels = metadata.find("labels");
      labels != metadata.end() && labels->is_object()) {
    std::vector<PackedStringMap::Entry> entries;
    bool all_strings = true;
    for (const auto& [key, value] : labels->items()) {
      if (!value.is_string()) {
        all_strings = false;
        break;
      }
      entries.emplace_back(key, value.get_ref<const std::string&>());
    }
    if (all_strings) record.labels = PackedStringMap(std::move(entries));
  }
  if (const auto annotations = metadata.find("annotations");
      annotations != metadata.end() && annotations->is_object()) {
    std::vector<PackedStringMap::Entry> entries;
    for (const auto& [key, value] : annotations->items()) {
      if (std::string_view(key).starts_with(kOwnAnnotationPrefix) && value.is_string()) {
        entries.emplace_back(key, value.get_ref<const std::string&>());
      }
    }
    record.annotations = PackedStringMap(std::move(entries));
  }
  if (const auto deletion = metadata.find("deletionTimestamp"); deletion != metadata.end()) {
    record.terminating = !deletion->is_null();
  }
  if (const auto status = pod.find("status"); status != pod.end() && status->is_object()) {
    record.phase = string_or_empty(*status, "phase");
  }
  return record;
}

}  // namespace ipcmesh::api
