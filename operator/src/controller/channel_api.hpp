// The Kubernetes API as the IpcChannel controller sees it: reads come from the informer caches,
// writes go to the API server. The seam the reconciler's tests fake.
#pragma once

#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "api/namespace_record.hpp"
#include "api/pod_record.hpp"
#include "kube/informer.hpp"
#include "kube/kube_client.hpp"

namespace ipcmesh::controller {

// The operator's Pod cache keeps a small record per Pod, not its JSON (api/pod_record.hpp).
using PodInformer = kube::BasicInformer<api::PodRecord>;
using PodPtr = PodInformer::Ptr;
// Namespaces are cached as a name and labels only (api/namespace_record.hpp).
using NamespaceInformer = kube::BasicInformer<api::NamespaceRecord>;
using NamespacePtr = NamespaceInformer::Ptr;

class ChannelApi {
 public:
  virtual ~ChannelApi() = default;
  // The cached IpcChannel "namespace/name", or nullptr when it is gone.
  virtual kube::ObjectPtr channel(const std::string& key) = 0;
  virtual std::vector<kube::ObjectPtr> channels_in(const std::string& ns) = 0;
  virtual std::vector<PodPtr> pods_in(const std::string& ns) = 0;
  // The cached Namespace, or nullptr when the cache has not seen it (or namespaces are not
  // watched: the namespace-label check is off).
  virtual NamespacePtr namespace_record(const std::string& name) = 0;
  // Writes `status` through the status subresource (conflict-retried). Throws on failure.
  virtual void write_status(const nlohmann::json& channel, const nlohmann::json& status) = 0;
  // Best effort.
  virtual void record_event(const nlohmann::json& channel, kube::EventType type,
                            const std::string& reason, const std::string& note) = 0;
};

inline const kube::ResourcePath kIpcChannels{"ipcmesh.io", "v1alpha1", "ipcchannels", "", "", ""};

class KubeChannelApi final : public ChannelApi {
 public:
  // `namespaces` may be null: the operator watches namespaces only when it checks their label.
  KubeChannelApi(kube::Informer& channels, PodInformer& pods, kube::KubeClient& client,
                 std::string reporting_instance, NamespaceInformer* namespaces = nullptr)
      : channels_(channels),
        pods_(pods),
        namespaces_(namespaces),
        client_(client),
        reporting_instance_(std::move(reporting_instance)) {}

  kube::ObjectPtr channel(const std::string& key) override { return channels_.get(key); }
  std::vector<kube::ObjectPtr> channels_in(const std::string& ns) override {
    return channels_.list_namespace(ns);
  }
  std::vector<PodPtr> pods_in(const std::string& ns) override { return pods_.list_namespace(ns); }
  NamespacePtr namespace_record(const std::string& name) override {
    return namespaces_ ? namespaces_->get(name) : nullptr;
  }
  void write_status(const nlohmann::json& channel, const nlohmann::json& status) override;
  void record_event(const nlohmann::json& channel, kube::EventType type, const std::string& reason,
                    const std::string& note) override;

 private:
  kube::Informer& channels_;
  PodInformer& pods_;
  NamespaceInformer* namespaces_;
  kube::KubeClient& client_;
  std::string reporting_instance_;
};

}  // namespace ipcmesh::controller
