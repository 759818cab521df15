// What the cluster commands read from the API server, decoded with the operator's own records
// (api::ChannelRecord, api::PodRecord, controller::member_of), so that ipcmeshctl and the
// operator never disagree on which Pods a channel selects or whether a Pod is up to date.
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "api/channel_record.hpp"
#include "api/pod_record.hpp"
#include "kube/kube_client.hpp"
#include "relay_metrics.hpp"

namespace ipcmesh::cli {

// An object from the API server that is not what its kind promises (a list without items, an
// IpcChannel without a name): the message names the request and what is wrong.
class MalformedObject : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

inline const kube::ResourcePath kIpcChannels{"ipcmesh.io", "v1alpha1", "ipcchannels", "", "", ""};
inline const kube::ResourcePath kDeployments{"apps", "v1", "deployments", "", "", ""};
inline const kube::ResourcePath kReplicaSets{"apps", "v1", "replicasets", "", "", ""};
inline const kube::ResourcePath kConfigMaps{"", "v1", "configmaps", "", "", ""};

// An IpcChannel as stored (for -o json|yaml) and as the operator decodes it.
struct ChannelObject {
  nlohmann::json object;
  api::ChannelRecord record;
};

// Every object of a collection (following metadata.continue), checked to be a list of objects.
std::vector<nlohmann::json> list_all(kube::KubeClient& client, const kube::ResourcePath& collection,
                                     const kube::ListOptions& options = {});

// The channels of `namespace_name` ("" for every namespace), sorted by namespace and name. A CRD
// that is not installed is a clear error, not a 404.
std::vector<ChannelObject> list_channels(kube::KubeClient& client,
                                         const std::string& namespace_name);
// Throws kube::ApiError (404 when there is no such channel).
ChannelObject get_channel(kube::KubeClient& client, const std::string& namespace_name,
                          const std::string& name);
ChannelObject channel_object_from_json(nlohmann::json object, const std::string& source);

// The Pods of a namespace as the controller counts them: live ones only (not terminating, not
// Succeeded or Failed), sorted by name; each keeps its JSON (the webhook reads the whole Pod).
struct PodObject {
  nlohmann::json object;
  std::shared_ptr<const api::PodRecord> record;
};
std::vector<PodObject> list_live_pods(kube::KubeClient& client, const std::string& namespace_name);
PodObject pod_object_from_json(nlohmann::json object, const std::string& source);

// How a Pod stands with a channel, as the controller counts it (docs/operator.md, "Counts").
enum class PodInjection { kInjected, kOutdated, kPendingRestart, kNoLongerSelected };
std::string_view to_string(PodInjection state) noexcept;

struct ChannelPod {
  PodObject pod;
  PodInjection injection = PodInjection::kInjected;
  std::int64_t injected_generation = 0;  // from the Pod's record; 0 when not injected
};
// The members of `channel` among `pods` (controller::member_of), with their state.
std::vector<ChannelPod> channel_pods(const api::ChannelRecord& channel,
                                     const std::vector<PodObject>& pods);

// A relay's counters fetched through the API server's Pod proxy
// (/api/v1/namespaces/NS/pods/NAME:PORT/proxy/metrics). Never throws: a relay that cannot be
// reached is `error`.
struct RelayScrape {
  std::optional<RelayCounters> counters;
  std::string error;  // why there are no counters
};
RelayScrape scrape_relay(kube::HttpTransport& proxy, const nlohmann::json& pod,
                         const api::ChannelRecord& channel);
// The relay container's metrics port (its port named ipcmesh-metrics), nullopt without one.
std::optional<int> relay_metrics_port(const nlohmann::json& pod);
// The relay container of an injected Pod (native sidecar or classic container), or nullptr.
const nlohmann::json* relay_container(const nlohmann::json& pod);

}  // namespace ipcmesh::cli
