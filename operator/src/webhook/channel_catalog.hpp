// The webhook's view of the IpcChannels: an immutable snapshot swapped atomically. The informer
// (operator main) feeds it from watch events; the admission path only reads, never calls the API
// server, and never copies the channels (a Pod admission takes one shared_ptr).
#pragma once

#include <memory>
#include <mutex>
#include <string_view>
#include <vector>

#include "api/ipc_channel.hpp"

namespace ipcmesh::webhook {

using ChannelList = std::vector<api::IpcChannel>;

class ChannelCatalog {
 public:
  virtual ~ChannelCatalog() = default;
  // Never null.
  virtual std::shared_ptr<const ChannelList> snapshot() const = 0;
};

// Copy-on-write store: writers build a new list, readers keep the one they took.
class ChannelSnapshot final : public ChannelCatalog {
 public:
  ChannelSnapshot() : channels_(std::make_shared<const ChannelList>()) {}

  std::shared_ptr<const ChannelList> snapshot() const override {
    std::lock_guard lock(mutex_);
    return channels_;
  }
  // A relist: the whole set at once.
  void replace(ChannelList channels) {
    auto next = std::make_shared<const ChannelList>(std::move(channels));
    std::lock_guard lock(mutex_);
    channels_ = std::move(next);
  }
  // ADDED/MODIFIED: replaces the channel of the same namespace/name or appends it.
  void upsert(api::IpcChannel channel) {
    std::lock_guard lock(mutex_);
    auto next = std::make_shared<ChannelList>(*channels_);
    bool replaced = false;
    for (auto& existing : *next) {
      if (existing.metadata.namespace_name == channel.metadata.namespace_name &&
          existing.metadata.name == channel.metadata.name) {
        existing = std::move(channel);
        replaced = true;
        break;
      }
    }
    if (!replaced) next->push_back(std::move(channel));
    channels_ = std::move(next);
  }
  // DELETED.
  void remove(std::string_view namespace_name, std::string_view name) {
    std::lock_guard lock(mutex_);
    auto next = std::make_shared<ChannelList>(*channels_);
    std::erase_if(*next, [&](const api::IpcChannel& c) {
      return c.metadata.namespace_name == namespace_name && c.metadata.name == name;
    });
    channels_ = std::move(next);
  }

 private:
  mutable std::mutex mutex_;
  std::shared_ptr<const ChannelList> channels_;
};

}  // namespace ipcmesh::webhook
