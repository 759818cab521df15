#include "main/operator_caches.hpp"

#include <spdlog/spdlog.h>

namespace ipcmesh::operator_main {

using nlohmann::json;

void trim_pod(json& pod) {
  json metadata = json::object();
  for (const char* key : {"name", "namespace", "uid", "resourceVersion", "labels", "annotations",
                          "deletionTimestamp", "creationTimestamp"}) {
    if (auto it = pod["metadata"].find(key); it != pod["metadata"].end()) metadata[key] = *it;
  }
  json trimmed = {{"metadata", std::move(metadata)}};
  if (auto status = pod.find("status"); status != pod.end() && status->contains("phase")) {
    trimmed["status"] = {{"phase", (*status)["phase"]}};
  }
  pod = std::move(trimmed);
}

void drop_managed_fields(json& object) {
  if (auto metadata = object.find("metadata"); metadata != object.end()) {
    metadata->erase("managedFields");
  }
}

void connect_channel_catalog(kube::Informer& channels,
                             std::shared_ptr<webhook::ChannelSnapshot> catalog) {
  auto upsert = [catalog](const kube::ObjectPtr& object) {
    const auto& metadata = object->at("metadata");
    auto parsed = api::ipc_channel_from_json(*object);
    if (parsed) {
      catalog->upsert(std::move(*parsed));
    } else {
      catalog->remove(metadata.value("namespace", ""), metadata.value("name", ""));
      spdlog::warn("IpcChannel {} is invalid and will not be injected: {}",
                   kube::object_key(*object), parsed.error().message);
    }
  };
  channels.add_handlers(
      {upsert, [upsert](const kube::ObjectPtr&, const kube::ObjectPtr& now) { upsert(now); },
       [catalog](const kube::ObjectPtr& object) {
         const auto& metadata = object->at("metadata");
         catalog->remove(metadata.value("namespace", ""), metadata.value("name", ""));
       }});
}

}  // namespace ipcmesh::operator_main
