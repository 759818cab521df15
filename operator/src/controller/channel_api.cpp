#include "controller/channel_api.hpp"

namespace ipcmesh::controller {

void KubeChannelApi::write_status(const nlohmann::json& channel, const nlohmann::json& status) {
  const auto& metadata = channel.at("metadata");
  const auto path = kIpcChannels.in(metadata.at("namespace").get<std::string>())
                        .named(metadata.at("name").get<std::string>());
  const std::string uid = metadata.value("uid", "");
  client_.update_status(path, [&](nlohmann::json& current) {
    // A channel deleted and re-created under the same name is another object: leave it alone.
    if (!uid.empty() && current["metadata"].value("uid", "") != uid) return false;
    current["status"] = status;
    return true;
  });
}

void KubeChannelApi::record_event(const nlohmann::json& channel, kube::EventType type,
                                  const std::string& reason, const std::string& note) {
  client_.record_event(channel, type, reason, "Reconcile", note, "ipcmesh.io/operator",
                       reporting_instance_);
}

}  // namespace ipcmesh::controller
