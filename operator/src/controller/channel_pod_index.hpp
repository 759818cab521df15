// Which Pods each IpcChannel has to count, kept up to date from the informers' events, so that a
// Pod event costs work in the channels it concerns only and a reconcile reads its own Pods only
// (the namespace may hold thousands of others). A Pod is a member of a channel when the channel
// selects it (label selector or the ipcmesh.io/channels annotation, unless it opted out) or when
// its ipcmesh.io/status record names the channel (it was injected with it). The Pod's record is
// parsed once per Pod event, here, and kept in the member.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <unordered_map>
#include <vector>

#include "api/channel_record.hpp"
#include "api/injection_status.hpp"
#include "api/pod_record.hpp"

namespace ipcmesh::controller {

using PodPtr = std::shared_ptr<const api::PodRecord>;
using ChannelPtr = std::shared_ptr<const api::ChannelRecord>;

struct ChannelMember {
  PodPtr pod;
  bool selected = false;
  // The Pod's injection record of this channel, when it has one.
  std::optional<api::InjectedChannel> injected;
};

// Whether `pod` is a member of `channel`, and how; nullopt when it is not. `record` is the Pod's
// parsed ipcmesh.io/status annotation (nullptr when it has none or it does not parse).
std::optional<ChannelMember> member_of(const api::ChannelRecord& channel, const PodPtr& pod,
                                       const api::InjectionStatus* record);
// The same, parsing the Pod's record (for one-off use: the index parses it once per event).
std::optional<ChannelMember> member_of(const api::ChannelRecord& channel, const PodPtr& pod);

// The members of `channel` among `pods`, in their order: what the index holds for it, computed
// at once (tests, and anything holding a plain list of Pods).
std::vector<ChannelMember> members_of(const api::ChannelRecord& channel,
                                      const std::vector<PodPtr>& pods);

// Whether a Pod changed in a field a channel's status is computed from.
bool counted_fields_differ(const api::PodRecord& a, const api::PodRecord& b);

// Thread-safe: the Pod and IpcChannel informers call it from their own threads.
class ChannelPodIndex {
 public:
  // A channel added or changed. `list_pods` gives the cached Pods of its namespace; it is called
  // only when the selector changed (a status write, the usual update, keeps the members).
  void upsert_channel(const ChannelPtr& channel,
                      const std::function<std::vector<PodPtr>()>& list_pods);
  void remove_channel(const std::string& key);

  // A Pod added, changed or deleted: returns the keys of the channels whose view of it changed
  // (membership, selection, injection record, or a field the status reads: phase, deletion, the
  // relay's status).
  std::vector<std::string> upsert_pod(const PodPtr& pod);
  std::vector<std::string> remove_pod(const PodPtr& pod);

  // The channel's members, ordered by Pod name; empty when the channel is unknown.
  std::vector<ChannelMember> members(const std::string& channel_key) const;
  std::size_t channel_count() const;
  std::size_t membership_count() const;  // sum over channels of their members

 private:
  struct Entry {
    ChannelPtr channel;
    std::map<std::string, ChannelMember> members;  // by Pod key
  };
  void set_member_locked(const std::string& channel_key, Entry& entry, const std::string& pod_key,
                         std::optional<ChannelMember> member, std::vector<std::string>& changed);
  // pod_channels_ holds exactly the memberships that channels_' members do.
  bool is_member_locked(const std::string& pod_key, const std::string& channel_key) const;

  mutable std::mutex mutex_;
  std::unordered_map<std::string, Entry> channels_;                      // by channel key
  std::unordered_map<std::string, std::set<std::string>> by_namespace_;  // channel keys
  std::unordered_map<std::string, std::set<std::string>> pod_channels_;  // pod key -> channels
};

}  // namespace ipcmesh::controller
