// The Kubernetes API as the IpcChannel controller sees it: reads come from the caches (the
// IpcChannel informer and the channel->Pods index), writes go to the API server. The seam the
// reconciler's tests fake.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "api/channel_record.hpp"
#include "api/namespace_record.hpp"
#include "api/pod_record.hpp"
#include "controller/channel_pod_index.hpp"
#include "kube/event_recorder.hpp"
#include "kube/informer.hpp"
#include "kube/kube_client.hpp"

namespace ipcmesh::controller {

// The operator's Pod cache keeps a small record per Pod, not its JSON (api/pod_record.hpp).
using PodInformer = kube::BasicInformer<api::PodRecord>;
// IpcChannels are cached decoded once (api/channel_record.hpp).
using ChannelInformer = kube::BasicInformer<api::ChannelRecord>;
// Namespaces are cached as a name and labels only (api/namespace_record.hpp).
using NamespaceInformer = kube::BasicInformer<api::NamespaceRecord>;
using NamespacePtr = NamespaceInformer::Ptr;

class ChannelApi {
 public:
  virtual ~ChannelApi() = default;
  // The cached IpcChannel "namespace/name", or nullptr when it is gone.
  virtual ChannelPtr channel(const std::string& key) = 0;
  // The Pods the channel counts (channel_pod_index.hpp), ordered by name.
  virtual std::vector<ChannelMember> members(const std::string& key) = 0;
  // The cached Namespace, or nullptr when the cache has not seen it (or namespaces are not
  // watched: the namespace-label check is off).
  virtual NamespacePtr namespace_record(const std::string& name) = 0;
  // Patches the status subresource of this very channel (its uid): false when it is gone, or was
  // deleted and created again under the same name. Throws on other failures.
  virtual bool write_status(const api::ChannelRecord& channel,
                            const api::IpcChannelStatus& status) = 0;
  // Best effort; isomorphic Events aggregate into a series (kube/event_recorder.hpp).
  virtual void record_event(const api::ChannelRecord& channel, kube::EventType type,
                            const std::string& reason, const std::string& note) = 0;
};

inline const kube::ResourcePath kIpcChannels{"ipcmesh.io", "v1alpha1", "ipcchannels", "", "", ""};

// ChannelApi::write_status against the API server.
bool patch_channel_status(kube::KubeClient& client, const api::ChannelRecord& channel,
                          const api::IpcChannelStatus& status);

class KubeChannelApi final : public ChannelApi {
 public:
  // `namespaces` may be null: the operator watches namespaces only when it checks their label.
  KubeChannelApi(ChannelInformer& channels, const ChannelPodIndex& index, kube::KubeClient& client,
                 kube::EventRecorder& events, NamespaceInformer* namespaces = nullptr)
      : channels_(channels),
        index_(index),
        namespaces_(namespaces),
        client_(client),
        events_(events) {}

  ChannelPtr channel(const std::string& key) override { return channels_.get(key); }
  std::vector<ChannelMember> members(const std::string& key) override {
    return index_.members(key);
  }
  NamespacePtr namespace_record(const std::string& name) override {
    return namespaces_ ? namespaces_->get(name) : nullptr;
  }
  bool write_status(const api::ChannelRecord& channel,
                    const api::IpcChannelStatus& status) override;
  void record_event(const api::ChannelRecord& channel, kube::EventType type,
                    const std::string& reason, const std::string& note) override;

 private:
  ChannelInformer& channels_;
  const ChannelPodIndex& index_;
  NamespaceInformer* namespaces_;
  kube::KubeClient& client_;
  kube::EventRecorder& events_;
};

}  // namespace ipcmesh::controller
