// What the operator keeps of a Namespace, and the namespace label its webhook registration
// requires. The chart registers the webhook with a namespaceSelector (by default
// ipcmesh.io/injection=enabled), so the API server never calls the webhook for Pods of other
// namespaces: a channel there silently injects nothing. The controller reads each namespace's
// labels from a Namespace cache of these records (never the JSON: nothing else is read) and tells
// the user on the channel's status which label to add.
#pragma once

#include <nlohmann/json_fwd.hpp>
#include <string>
#include <string_view>

#include "api/pod_record.hpp"
#include "ipcmesh/error.hpp"

namespace ipcmesh::api {

// A label `key=value` that a namespace must carry for the webhook to be called for its Pods.
struct NamespaceLabel {
  std::string key;
  std::string value;
  std::string text() const { return key + "=" + value; }  // as kubectl label takes it
  friend bool operator==(const NamespaceLabel&, const NamespaceLabel&) = default;
};

// The chart's default namespaceSelector label.
inline const NamespaceLabel kDefaultInjectionLabel{"ipcmesh.io/injection", "enabled"};

// Parses "key=value": exactly one '=', a non-empty valid label key, a valid (possibly empty)
// label value. The error says what is wrong with the text as given.
Result<NamespaceLabel> parse_namespace_label(std::string_view text);

struct NamespaceRecord {
  std::string name;
  std::string resource_version;
  PackedStringMap labels;

  bool has(const NamespaceLabel& label) const { return labels.find(label.key) == label.value; }
  friend bool operator==(const NamespaceRecord&, const NamespaceRecord&) = default;
};

// The record of a Namespace object as listed or watched. Labels that are not all strings count as
// no labels (as for Pods). Throws only when metadata.name is missing or not a string.
NamespaceRecord namespace_record_from_json(const nlohmann::json& object);

// What kube::BasicInformer reads of a cached object (found by argument-dependent lookup).
inline std::string_view resource_version_of(const NamespaceRecord& record) noexcept {
  return record.resource_version;
}

}  // namespace ipcmesh::api
