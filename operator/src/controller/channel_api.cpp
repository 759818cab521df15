#include "controller/channel_api.hpp"

namespace ipcmesh::controller {

bool KubeChannelApi::write_status(const api::ChannelRecord& channel,
                                  const api::IpcChannelStatus& status) {
  const auto path =
      kIpcChannels.in(channel.metadata.namespace_name).named(channel.metadata.name).sub("status");
  // A merge patch of the status subresource: no read before the write, and no conflict with a
  // concurrent spec edit (only the leader writes status). The uid makes it apply to this very
  // object: a channel deleted and created again under the same name is refused (409, "Precondition
  // failed: UID in precondition"), and a deleted one is not found. Without a resourceVersion in the
  // patch the API server retries its own write conflicts, so a 409 means only that.
  const nlohmann::json body = {{"metadata", {{"uid", channel.metadata.uid}}},
                               {"status", api::status_to_json(status)}};
  try {
    client_.patch(path, body, kube::PatchType::kMerge);
    return true;
  } catch (const kube::ApiError& error) {
    if (error.not_found() || error.conflict()) return false;
    throw;
  }
}

void KubeChannelApi::record_event(const api::ChannelRecord& channel, kube::EventType type,
                                  const std::string& reason, const std::string& note) {
  events_.record(channel.reference(), type, reason, "Reconcile", note);
}

}  // namespace ipcmesh::controller
