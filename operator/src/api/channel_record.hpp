// What the operator keeps of each IpcChannel: one decode per watch event, read alike by the
// webhook (the parsed channel) and the controller (identity, selector, spec error, status). The
// channel's JSON is never kept: re-parsing it on every reconcile and admission was the cost this
// record removes, and a typed record is a fraction of the JSON DOM's heap.
#pragma once

#include <cstdint>
#include <memory>
#include <nlohmann/json_fwd.hpp>
#include <optional>
#include <string>
#include <string_view>

#include "api/injection_status.hpp"
#include "api/ipc_channel.hpp"
#include "api/label_selector.hpp"

namespace ipcmesh::api {

struct ChannelRecord {
  // namespace, name, uid, generation, resourceVersion (labels and annotations are not kept).
  ObjectMeta metadata;
  // spec.selector, also when the rest of the spec is invalid, so that the user still sees which
  // Pods the channel would select.
  std::optional<LabelSelector> selector;
  // The parsed channel (its status left empty: `status` below holds it); null when the spec is
  // invalid. Shared: the webhook's catalog holds the same object.
  std::shared_ptr<const IpcChannel> channel;
  std::string spec_error;  // why `channel` is null
  // The status as stored; empty when the object has none or it does not parse (the controller
  // then writes a whole new one).
  IpcChannelStatus status;

  bool valid() const noexcept { return channel != nullptr; }
  std::string key() const { return object_key(metadata); }
  // {"apiVersion","kind","metadata":{namespace,name,uid,resourceVersion}}: what an Event's
  // `regarding` reference is made from.
  nlohmann::json reference() const;
};

using ChannelRecordPtr = std::shared_ptr<const ChannelRecord>;

// Decodes a whole IpcChannel object as listed or watched. Never fails on the spec (the error is
// kept in the record); throws only when metadata.name is missing or not a string.
ChannelRecord channel_record_from_json(nlohmann::json&& object);

// Whether a Pod injected with `injected` runs an older copy of the channel: an older generation,
// or another channel of the same name (a uid that differs; a record without a uid cannot tell).
// The controller counts such Pods as outdated and pending restart; ipcmeshctl shows them so.
bool injection_is_outdated(const InjectedChannel& injected, const ObjectMeta& channel);

// What kube::BasicInformer reads of a cached object (found by argument-dependent lookup).
inline std::string_view resource_version_of(const ChannelRecord& record) noexcept {
  return record.metadata.resource_version;
}

}  // namespace ipcmesh::api
