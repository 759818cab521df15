// The typed IpcChannel (ipcmesh.io/v1alpha1), parsed from the custom resource's JSON as the API
// server sends it. crds/ipcchannel.yaml is the schema's source of truth; the channel part of the
// spec is the shared contract (ipcmesh/channel_spec.hpp) and is parsed by channel_spec_from_json,
// so the operator and the sidecar can never disagree on it. This file adds only what is
// operator-side: metadata, the Pod selector, the relay's resources and the status.
#pragma once

#include <cstdint>
#include <map>
#include <nlohmann/json_fwd.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "api/label_selector.hpp"
#include "ipcmesh/channel_spec.hpp"
#include "ipcmesh/error.hpp"

namespace ipcmesh::api {

inline constexpr std::string_view kGroup = "ipcmesh.io";
inline constexpr std::string_view kVersion = "v1alpha1";
inline constexpr std::string_view kApiVersion = "ipcmesh.io/v1alpha1";
inline constexpr std::string_view kKind = "IpcChannel";
inline constexpr std::string_view kPlural = "ipcchannels";

// Condition types and reasons the controller writes (status.conditions[].type/reason).
inline constexpr std::string_view kConditionReady = "Ready";
inline constexpr std::string_view kConditionDegraded = "Degraded";
// Whether the webhook is called for the channel's namespace (its namespaceSelector label).
inline constexpr std::string_view kConditionInjectionEnabled = "InjectionEnabled";

struct ObjectMeta {
  std::string namespace_name;
  std::string name;
  std::string uid;
  std::int64_t generation = 0;
  std::string resource_version;
  std::string creation_timestamp;  // RFC 3339 as sent by the API server, "" when absent
  Labels labels;
  Labels annotations;
};

// corev1.ResourceRequirements for the relay container, quantities kept as the user wrote them
// (numbers become their decimal string) so that the injected container shows the same text.
struct ResourceRequirements {
  std::map<std::string, std::string> requests;  // "cpu" -> "10m", "memory" -> "16Mi"
  std::map<std::string, std::string> limits;
  bool empty() const noexcept { return requests.empty() && limits.empty(); }
  friend bool operator==(const ResourceRequirements&, const ResourceRequirements&) = default;
};

struct Condition {
  std::string type;    // Ready | Degraded | InjectionEnabled
  std::string status;  // "True" | "False" | "Unknown"
  std::string reason;  // CamelCase, e.g. "PodsInjected"
  std::string message;
  std::int64_t observed_generation = 0;
  std::string last_transition_time;  // RFC 3339
  friend bool operator==(const Condition&, const Condition&) = default;
};

struct IpcChannelStatus {
  std::int64_t observed_generation = 0;
  std::vector<Condition> conditions;
  std::int32_t selected_pods = 0;
  std::int32_t injected_pods = 0;
  std::int32_t pending_restart_pods = 0;
  const Condition* find_condition(std::string_view type) const;
  friend bool operator==(const IpcChannelStatus&, const IpcChannelStatus&) = default;
};

struct IpcChannel {
  ObjectMeta metadata;
  // Absent selector: the channel selects no Pod by labels; Pods can still ask for it with the
  // ipcmesh.io/channels annotation. Present but empty ({}): every Pod of the namespace.
  std::optional<LabelSelector> selector;
  ChannelSpec spec;  // spec.id is {metadata.namespace, metadata.name}
  ResourceRequirements relay_resources;
  IpcChannelStatus status;

  // Does this channel apply to a Pod with these labels and this ipcmesh.io/channels annotation
  // value (comma-separated channel names, whitespace ignored)? Namespaces must already match.
  bool selects(const Labels& pod_labels, std::string_view channels_annotation) const;
};

// Parses a whole IpcChannel object ({"apiVersion","kind","metadata","spec","status"}). Checks
// apiVersion/kind when present, requires metadata.name and metadata.namespace, runs the contract's
// validate(). Errors name the JSON path: "spec.sharedMemory.size: \"64Q\" is not a quantity".
Result<IpcChannel> ipc_channel_from_json(const nlohmann::json& object);

// The status subresource body part: {"observedGeneration":..,"conditions":[..],...}.
nlohmann::json status_to_json(const IpcChannelStatus& status);
Result<IpcChannelStatus> status_from_json(const nlohmann::json& object,
                                          std::string_view path = "status");
nlohmann::json to_json(const ResourceRequirements& resources);

// "namespace/name", the work-queue and log key.
std::string object_key(const ObjectMeta& metadata);

// Splits the ipcmesh.io/channels annotation: "a, b,,c" -> {"a","b","c"}.
std::vector<std::string> split_channel_names(std::string_view annotation);

}  // namespace ipcmesh::api
