#include "controller/channel_api.hpp"

namespace ipcmesh::controller {

bool KubeChannelApi::write_status(const api::ChannelRecord& channel,
                                  const api::IpcChannelStatus& status) {
  return patch_channel_status(client_, channel, status);
}

bool patch_channel_status(kube::KubeClient& client, const api::ChannelRecord& channel,
                          const api::IpcChannelStatus& status) {
  const auto object = kIpcChannels.in(channel.metadata.namespace_name).named(channel.metadata.name);
  // A JSON patch of the status subresource: no read before the write, no conflict with a
  // concurrent spec edit (only the leader writes status), and its test makes it apply to this very
  // object. The uid cannot ride in a merge patch: the status subresource keeps the stored metadata
  // and drops the patch's (measured: a merge patch with another uid is applied), while a failed
  // test refuses the whole patch (422).
  const nlohmann::json patch = nlohmann::json::array(
      {{{"op", "test"}, {"path", "/metadata/uid"}, {"value", channel.metadata.uid}},
       {{"op", "add"}, {"path", "/status"}, {"value", api::status_to_json(status)}}});
  try {
    client.patch(object.sub("status"), patch, kube::PatchType::kJson);
    return true;
  } catch (const kube::ApiError& error) {
    if (error.not_found()) return false;
    if (error.status_code() != 422) throw;
    // The test failed (the channel was deleted and created again under its name), or the status
    // itself is invalid: only the first is "gone".
    const auto current = client.get_if_exists(object);
    if (!current || current->at("metadata").value("uid", "") != channel.metadata.uid) return false;
    throw;
  }
}

void KubeChannelApi::record_event(const api::ChannelRecord& channel, kube::EventType type,
                                  const std::string& reason, const std::string& note) {
  events_.record(channel.reference(), type, reason, "Reconcile", note);
}

}  // namespace ipcmesh::controller
