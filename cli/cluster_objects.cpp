#include "cluster_objects.hpp"

#include <algorithm>

#include "controller/channel_pod_index.hpp"
#include "ipcmesh/channel_spec.hpp"
#include "webhook/pod_json.hpp"

namespace ipcmesh::cli {
namespace {

using nlohmann::json;
namespace pod_json = webhook::pod_json;

constexpr int kPageSize = 500;

std::string where(const kube::ResourcePath& collection) {
  return "GET " + collection.path();
}

}  // namespace

std::vector<json> list_all(kube::KubeClient& client, const kube::ResourcePath& collection,
                           const kube::ListOptions& options) {
  std::vector<json> items;
  kube::ListOptions page = options;
  page.limit = kPageSize;
  do {
    json list = client.list(collection, page);
    if (!list.is_object() || !list.contains("items") ||
        !(list["items"].is_array() || list["items"].is_null())) {
      throw MalformedObject(where(collection) + ": the answer is not a list (no items array)");
    }
    for (auto& item : list["items"]) {
      if (!item.is_object()) {
        throw MalformedObject(where(collection) + ": an item of the list is not an object");
      }
      items.push_back(std::move(item));
    }
    const json* meta = pod_json::object_member(list, "metadata");
    page.continue_token = meta ? pod_json::string_member(*meta, "continue") : "";
  } while (!page.continue_token.empty());
  return items;
}

ChannelObject channel_object_from_json(json object, const std::string& source) {
  try {
    json copy = object;
    ChannelObject channel{std::move(object), api::channel_record_from_json(std::move(copy))};
    // The operator's record leaves the creation time out (it never reads it); AGE and `why`
    // do.
    const json* meta = pod_json::object_member(channel.object, "metadata");
    if (meta)
      channel.record.metadata.creation_timestamp =
          pod_json::string_member(*meta, "creationTimestamp");
    return channel;
  } catch (const std::exception& error) {
    throw MalformedObject(source + ": an IpcChannel the operator cannot read: " + error.what());
  }
}

std::vector<ChannelObject> list_channels(kube::KubeClient& client,
                                         const std::string& namespace_name) {
  const kube::ResourcePath collection = kIpcChannels.in(namespace_name);
  std::vector<json> items;
  try {
    items = list_all(client, collection);
  } catch (const kube::ApiError& error) {
    if (!error.not_found()) throw;
    throw kube::ApiError(404, "NotFound",
                         "the server has no IpcChannel resource (ipcchannels.ipcmesh.io): install "
                         "the CRD (kubectl apply -f crds/ipcchannel.yaml) or the chart");
  }
  std::vector<ChannelObject> channels;
  for (auto& item : items) {
    channels.push_back(channel_object_from_json(std::move(item), where(collection)));
  }
  std::sort(channels.begin(), channels.end(), [](const auto& a, const auto& b) {
    return std::tie(a.record.metadata.namespace_name, a.record.metadata.name) <
           std::tie(b.record.metadata.namespace_name, b.record.metadata.name);
  });
  return channels;
}

ChannelObject get_channel(kube::KubeClient& client, const std::string& namespace_name,
                          const std::string& name) {
  const kube::ResourcePath path = kIpcChannels.in(namespace_name).named(name);
  return channel_object_from_json(client.get(path), where(path));
}

PodObject pod_object_from_json(json object, const std::string& source) {
  if (!object.is_object()) throw MalformedObject(source + ": a Pod that is not an object");
  try {
    auto record = std::make_shared<const api::PodRecord>(api::pod_record_from_json(object));
    return {std::move(object), std::move(record)};
  } catch (const std::exception& error) {
    throw MalformedObject(source + ": a Pod the operator cannot read: " + error.what());
  }
}

std::vector<PodObject> list_live_pods(kube::KubeClient& client, const std::string& namespace_name) {
  const kube::ResourcePath collection = kube::kPods.in(namespace_name);
  std::vector<PodObject> pods;
  for (auto& item : list_all(client, collection)) {
    PodObject pod = pod_object_from_json(std::move(item), where(collection));
    if (api::is_live(*pod.record)) pods.push_back(std::move(pod));
  }
  std::sort(pods.begin(), pods.end(),
            [](const PodObject& a, const PodObject& b) { return a.record->name < b.record->name; });
  return pods;
}

std::string_view to_string(PodInjection state) noexcept {
  switch (state) {
    case PodInjection::kInjected:
      return "injected";
    case PodInjection::kOutdated:
      return "outdated";
    case PodInjection::kPendingRestart:
      return "pending restart";
    case PodInjection::kNoLongerSelected:
      return "injected, no longer selected";
  }
  return "unknown";
}

std::vector<ChannelPod> channel_pods(const api::ChannelRecord& channel,
                                     const std::vector<PodObject>& pods) {
  std::vector<ChannelPod> members;
  for (const PodObject& pod : pods) {
    if (pod.record->namespace_name != channel.metadata.namespace_name) continue;
    const auto member = controller::member_of(channel, pod.record);
    if (!member) continue;
    ChannelPod out{pod, PodInjection::kInjected, 0};
    if (member->injected) out.injected_generation = member->injected->generation;
    if (!member->selected) {
      out.injection = PodInjection::kNoLongerSelected;
    } else if (!member->injected) {
      out.injection = PodInjection::kPendingRestart;
    } else if (api::injection_is_outdated(*member->injected, channel.metadata)) {
      out.injection = PodInjection::kOutdated;
    }
    members.push_back(std::move(out));
  }
  return members;
}

const json* relay_container(const json& pod) {
  const json* spec = pod_json::object_member(pod, "spec");
  if (!spec) return nullptr;
  const json* relay = nullptr;
  pod_json::for_each_container(*spec, [&](const json& container) {
    if (!relay && pod_json::string_member(container, "name") == api::kRelayContainerName) {
      relay = &container;
    }
  });
  return relay;
}

std::optional<int> relay_metrics_port(const json& pod) {
  const json* relay = relay_container(pod);
  const json* ports = relay ? pod_json::array_member(*relay, "ports") : nullptr;
  if (!ports) return std::nullopt;
  for (const json& port : *ports) {
    if (!port.is_object() || pod_json::string_member(port, "name") != kRelayMetricsPortName) {
      continue;
    }
    const auto number = port.find("containerPort");
    if (number != port.end() && number->is_number_integer()) return number->get<int>();
  }
  return std::nullopt;
}

RelayScrape scrape_relay(kube::HttpTransport& proxy, const json& pod,
                         const api::ChannelRecord& channel) {
  const auto port = relay_metrics_port(pod);
  if (!port) return {std::nullopt, "the Pod has no relay metrics port"};
  const json* meta = pod_json::object_member(pod, "metadata");
  const std::string name = meta ? pod_json::string_member(*meta, "name") : "";
  kube::HttpRequest request;
  request.path_and_query = "/api/v1/namespaces/" + channel.metadata.namespace_name + "/pods/" +
                           name + ":" + std::to_string(*port) + "/proxy" +
                           std::string(kRelayMetricsPath);
  request.headers["Accept"] = "text/plain";
  try {
    const kube::HttpResponse response = proxy.send(request);
    if (response.status < 200 || response.status > 299) {
      kube::throw_api_error(response, "GET " + request.path_and_query);
    }
    RelayCounters counters = relay_counters_from_metrics(
        response.body, channel.metadata.namespace_name, channel.metadata.name);
    if (!counters.channel_found) {
      return {std::nullopt, "the relay reports no metrics for this channel"};
    }
    return {std::move(counters), ""};
  } catch (const kube::ApiError& error) {
    return {std::nullopt, "unreachable: " + std::string(error.what())};
  } catch (const kube::TransportError& error) {
    return {std::nullopt, "unreachable: " + std::string(error.what())};
  }
}

}  // namespace ipcmesh::cli
