#include "controller/channel_pod_index.hpp"

#include <algorithm>

#include "ipcmesh/channel_spec.hpp"

namespace ipcmesh::controller {
namespace {

std::string pod_key(const api::PodRecord& pod) {
  return pod.namespace_name + "/" + pod.name;
}

bool selects(const api::ChannelRecord& channel, const api::PodRecord& pod) {
  if (pod.annotation(kAnnotationInject) == "false") return false;
  if (channel.selector &&
      channel.selector->matches([&pod](std::string_view key) { return pod.label(key); })) {
    return true;
  }
  const auto names = api::split_channel_names(pod.annotation(kAnnotationChannels));
  return std::find(names.begin(), names.end(), channel.metadata.name) != names.end();
}

std::optional<api::InjectionStatus> parse_record(const api::PodRecord& pod) {
  const std::string_view text = pod.annotation(kAnnotationStatus);
  if (text.empty()) return std::nullopt;
  auto parsed = api::parse_injection_status(text);
  return parsed ? std::optional<api::InjectionStatus>(std::move(*parsed)) : std::nullopt;
}

// Whether a channel's status could differ between the two: what compute_status reads of a member.
// Labels and annotations count only through `selected` and `injected`, so a label no selector
// reads (a rollout hash, a tick) changes nothing.
bool same_member(const ChannelMember& a, const ChannelMember& b) {
  if (a.selected != b.selected || a.injected != b.injected) return false;
  if (a.pod == b.pod) return true;
  const api::PodRecord& x = *a.pod;
  const api::PodRecord& y = *b.pod;
  return x.name == y.name && x.uid == y.uid && x.terminating == y.terminating &&
         x.phase == y.phase && x.relay == y.relay;
}

}  // namespace

std::optional<ChannelMember> member_of(const api::ChannelRecord& channel, const PodPtr& pod,
                                       const api::InjectionStatus* record) {
  ChannelMember member{pod, selects(channel, *pod), std::nullopt};
  if (record) {
    if (const auto* entry = record->find_channel(channel.metadata.name)) member.injected = *entry;
  }
  if (!member.selected && !member.injected) return std::nullopt;
  return member;
}

std::optional<ChannelMember> member_of(const api::ChannelRecord& channel, const PodPtr& pod) {
  const auto record = parse_record(*pod);
  return member_of(channel, pod, record ? &*record : nullptr);
}

std::vector<ChannelMember> members_of(const api::ChannelRecord& channel,
                                      const std::vector<PodPtr>& pods) {
  std::vector<ChannelMember> out;
  for (const auto& pod : pods) {
    if (auto member = member_of(channel, pod)) out.push_back(std::move(*member));
  }
  return out;
}

bool counted_fields_differ(const api::PodRecord& a, const api::PodRecord& b) {
  return a.labels != b.labels || a.annotations != b.annotations || a.terminating != b.terminating ||
         a.phase != b.phase || a.relay != b.relay;
}

void ChannelPodIndex::upsert_channel(const ChannelPtr& channel,
                                     const std::function<std::vector<PodPtr>()>& list_pods) {
  const std::string key = channel->key();
  std::lock_guard lock(mutex_);
  auto [it, added] = channels_.try_emplace(key);
  Entry& entry = it->second;
  const bool reselect = added || entry.channel->selector != channel->selector;
  entry.channel = channel;
  by_namespace_[channel->metadata.namespace_name].insert(key);
  if (!reselect) return;
  // Under the index's lock: a Pod event waits, then sees the channel with its members.
  std::map<std::string, ChannelMember> members;
  for (const auto& pod : list_pods()) {
    if (auto member = member_of(*channel, pod)) members.emplace(pod_key(*pod), std::move(*member));
  }
  for (const auto& [pod, member] : entry.members) {
    if (members.contains(pod)) continue;
    auto found = pod_channels_.find(pod);
    if (found == pod_channels_.end()) continue;
    found->second.erase(key);
    if (found->second.empty()) pod_channels_.erase(found);
  }
  for (const auto& [pod, member] : members) pod_channels_[pod].insert(key);
  entry.members = std::move(members);
}

void ChannelPodIndex::remove_channel(const std::string& key) {
  std::lock_guard lock(mutex_);
  const auto it = channels_.find(key);
  if (it == channels_.end()) return;
  for (const auto& [pod, member] : it->second.members) {
    auto found = pod_channels_.find(pod);
    if (found == pod_channels_.end()) continue;
    found->second.erase(key);
    if (found->second.empty()) pod_channels_.erase(found);
  }
  const std::string& ns = it->second.channel->metadata.namespace_name;
  if (auto in_ns = by_namespace_.find(ns); in_ns != by_namespace_.end()) {
    in_ns->second.erase(key);
    if (in_ns->second.empty()) by_namespace_.erase(in_ns);
  }
  channels_.erase(it);
}

void ChannelPodIndex::set_member_locked(const std::string& channel_key, Entry& entry,
                                        const std::string& pod_key,
                                        std::optional<ChannelMember> member,
                                        std::vector<std::string>& changed) {
  const auto existing = entry.members.find(pod_key);
  if (!member) {
    if (existing == entry.members.end()) return;
    entry.members.erase(existing);
    auto found = pod_channels_.find(pod_key);
    if (found != pod_channels_.end()) {
      found->second.erase(channel_key);
      if (found->second.empty()) pod_channels_.erase(found);
    }
    changed.push_back(channel_key);
    return;
  }
  if (existing == entry.members.end()) {
    entry.members.emplace(pod_key, std::move(*member));
    pod_channels_[pod_key].insert(channel_key);
    changed.push_back(channel_key);
    return;
  }
  if (!same_member(existing->second, *member)) changed.push_back(channel_key);
  // Always the latest record, even when nothing counted changed (the reconcile reads it).
  existing->second = std::move(*member);
}

std::vector<std::string> ChannelPodIndex::upsert_pod(const PodPtr& pod) {
  const std::string key = pod_key(*pod);
  const auto record = parse_record(*pod);
  std::vector<std::string> changed;
  std::lock_guard lock(mutex_);
  const auto in_ns = by_namespace_.find(pod->namespace_name);
  if (in_ns == by_namespace_.end()) return changed;
  for (const auto& channel_key : in_ns->second) {
    Entry& entry = channels_.at(channel_key);
    auto member = member_of(*entry.channel, pod, record ? &*record : nullptr);
    // Most channels of a namespace neither had the Pod nor have it now: skip the search of their
    // members (hundreds of long keys each) for one hash lookup.
    if (!member && !is_member_locked(key, channel_key)) continue;
    set_member_locked(channel_key, entry, key, std::move(member), changed);
  }
  return changed;
}

bool ChannelPodIndex::is_member_locked(const std::string& pod_key,
                                       const std::string& channel_key) const {
  const auto found = pod_channels_.find(pod_key);
  return found != pod_channels_.end() && found->second.contains(channel_key);
}

std::vector<std::string> ChannelPodIndex::remove_pod(const PodPtr& pod) {
  const std::string key = pod_key(*pod);
  std::vector<std::string> changed;
  std::lock_guard lock(mutex_);
  const auto found = pod_channels_.find(key);
  if (found == pod_channels_.end()) return changed;
  const std::set<std::string> channels = found->second;  // set_member_locked edits it
  for (const auto& channel_key : channels) {
    set_member_locked(channel_key, channels_.at(channel_key), key, std::nullopt, changed);
  }
  return changed;
}

std::vector<ChannelMember> ChannelPodIndex::members(const std::string& channel_key) const {
  std::lock_guard lock(mutex_);
  std::vector<ChannelMember> out;
  const auto it = channels_.find(channel_key);
  if (it == channels_.end()) return out;
  out.reserve(it->second.members.size());
  for (const auto& [pod, member] : it->second.members) out.push_back(member);
  return out;
}

std::size_t ChannelPodIndex::channel_count() const {
  std::lock_guard lock(mutex_);
  return channels_.size();
}

std::size_t ChannelPodIndex::membership_count() const {
  std::lock_guard lock(mutex_);
  std::size_t total = 0;
  for (const auto& [key, entry] : channels_) total += entry.members.size();
  return total;
}

}  // namespace ipcmesh::controller
