#include "main/operator_caches.hpp"

#include <malloc.h>
#include <spdlog/spdlog.h>

#include <string_view>

#include "api/pod_record.hpp"
#include "controller/channel_api.hpp"
#include "kube/kube_client.hpp"

namespace ipcmesh::operator_main {

using nlohmann::json;

namespace {

constexpr std::string_view kLastApplied = "kubectl.kubernetes.io/last-applied-configuration";

bool is_one_of(const std::string& value, std::initializer_list<std::string_view> names) {
  for (auto name : names) {
    if (value == name) return true;
  }
  return false;
}

// Of each container status (the relay is one of them; its name is only known once the element
// is parsed), what api::RelayContainerStatus reads: not the image, ids, resources, mounts, nor the
// termination message (up to 4 KiB of log with FallbackToLogsOnError).
bool keep_container_status_field(std::span<const std::string> path) {
  switch (path.size()) {
    case 1:
      return is_one_of(path[0], {"name", "ready", "restartCount", "state", "lastState"});
    case 2:
      return is_one_of(path[1], {"waiting", "running", "terminated"});
    case 3:
      return is_one_of(path[2], {"reason", "startedAt", "exitCode"});
    default:
      return false;
  }
}

bool keep_pod_metadata(const std::string& key) {
  return is_one_of(key, {"name", "namespace", "uid", "resourceVersion", "labels", "annotations",
                         "deletionTimestamp"});
}

// After a relist swapped a cache, glibc keeps the freed pages of the old objects and of the
// parsed pages; giving them back keeps the resident size near the live heap.
void release_free_memory() {
  ::malloc_trim(0);
}

}  // namespace

bool keep_pod_field(std::span<const std::string> path) {
  if (path.empty()) return true;
  // apiVersion and kind are left out too: every cached Pod is a v1 Pod, and nothing reads them.
  if (path.size() == 1) return is_one_of(path[0], {"metadata", "status"});
  if (path[0] == "metadata") {
    if (path.size() == 2) return keep_pod_metadata(path[1]);
    if (path[1] == "annotations" && path.size() == 3) {
      return std::string_view(path[2]).starts_with(api::kOwnAnnotationPrefix);
    }
    return true;  // inside labels
  }
  if (path[0] == "status") {
    if (path.size() == 2) {
      return is_one_of(path[1], {"phase", "initContainerStatuses", "containerStatuses"});
    }
    return keep_container_status_field(path.subspan(3));  // path[2] is "": each element
  }
  return true;
}

bool keep_channel_field(std::span<const std::string> path) {
  if (path.size() < 2 || path[0] != "metadata") return true;
  if (path.size() == 2) return path[1] != "managedFields";
  return !(path.size() == 3 && path[1] == "annotations" && path[2] == kLastApplied);
}

bool keep_namespace_field(std::span<const std::string> path) {
  if (path.empty()) return true;
  if (path[0] != "metadata") return false;
  if (path.size() == 1) return true;
  return path.size() > 2 || is_one_of(path[1], {"name", "resourceVersion", "labels"});
}

void drop_managed_fields(json& object) {
  if (auto metadata = object.find("metadata"); metadata != object.end() && metadata->is_object()) {
    metadata->erase("managedFields");
    if (auto annotations = metadata->find("annotations");
        annotations != metadata->end() && annotations->is_object()) {
      annotations->erase(std::string(kLastApplied));
      if (annotations->empty()) metadata->erase("annotations");
    }
  }
}

kube::InformerOptions channel_informer_options() {
  kube::InformerOptions options;
  options.collection = controller::kIpcChannels;
  options.api_version = "ipcmesh.io/v1alpha1";
  options.kind = "IpcChannel";
  options.transform = drop_managed_fields;
  options.parse_filter = keep_channel_field;
  options.after_relist = release_free_memory;
  options.name = "ipcchannels";
  return options;
}

kube::InformerOptions pod_informer_options() {
  kube::InformerOptions options;
  options.collection = kube::kPods;  // no api_version/kind stamp: the record has neither
  options.parse_filter = keep_pod_field;
  options.after_relist = release_free_memory;
  options.name = "pods";
  return options;
}

kube::InformerOptions namespace_informer_options() {
  kube::InformerOptions options;
  options.collection = kube::kNamespaces;
  options.parse_filter = keep_namespace_field;
  options.name = "namespaces";
  return options;
}

void use_fixed_mmap_threshold() {
  constexpr int kThreshold = 128 * 1024;  // glibc's initial value, now kept
  if (::mallopt(M_MMAP_THRESHOLD, kThreshold) != 1) {
    spdlog::warn("mallopt(M_MMAP_THRESHOLD, {}) failed: LIST pages may fragment the heap",
                 kThreshold);
  }
}

void connect_channel_catalog(controller::ChannelInformer& channels,
                             std::shared_ptr<webhook::ChannelSnapshot> catalog) {
  auto upsert = [catalog](const controller::ChannelPtr& record) {
    if (record->valid()) {
      catalog->upsert(*record->channel);
    } else {
      catalog->remove(record->metadata.namespace_name, record->metadata.name);
      spdlog::warn("IpcChannel {} is invalid and will not be injected: {}", record->key(),
                   record->spec_error);
    }
  };
  channels.add_handlers(
      {upsert,
       [upsert](const controller::ChannelPtr&, const controller::ChannelPtr& now) { upsert(now); },
       [catalog](const controller::ChannelPtr& record) {
         catalog->remove(record->metadata.namespace_name, record->metadata.name);
       }});
}

}  // namespace ipcmesh::operator_main
