#include "webhook/relay_container.hpp"

#include <limits>

#include "ipcmesh/channel_spec.hpp"

namespace ipcmesh::webhook {
namespace {

using nlohmann::json;

const api::ResourceRequirements& configured_relay_resources(
    const std::vector<const api::IpcChannel*>& channels, const MutationOptions& options) {
  // The first channel (by name) that sets resources wins; the choice is recorded nowhere else, so
  // keep it deterministic.
  for (const auto* channel : channels) {
    if (!channel->relay_resources.empty()) return channel->relay_resources;
  }
  return options.default_relay_resources;
}

json relay_env(const InjectionPlan& plan) {
  const auto field = [](const char* path) { return json{{"fieldRef", {{"fieldPath", path}}}}; };
  return json::array(
      {json{{"name", kEnvChannels}, {"value", plan.document}},
       json{{"name", kEnvControlDir}, {"value", plan.control_dir}},
       json{{"name", kEnvPodName}, {"valueFrom", field("metadata.name")}},
       json{{"name", kEnvPodNamespace}, {"valueFrom", field("metadata.namespace")}}});
}

json relay_ports(const InjectionPlan& plan, std::vector<std::string>& warnings) {
  const std::uint16_t port = plan.metrics_port;
  json relay_port{{"name", kRelayMetricsPortName}, {"containerPort", port}, {"protocol", "TCP"}};
  if (plan.metrics_host_port) {
    // docs/webhook.md "hostNetwork Pods": the relay's port is then a node port. Declaring it as a
    // hostPort lets the scheduler keep two such Pods off one node instead of failing at bind().
    relay_port["hostPort"] = port;
    warnings.push_back("ipcmesh: hostNetwork Pod: the relay listens on node port " +
                       std::to_string(port) +
                       " (declared as a hostPort, so one such Pod per node)");
  }
  return json::array({relay_port});
}

json http_probe(std::string_view path, int period, int timeout, int failures) {
  return json{{"httpGet", {{"path", path}, {"port", kRelayMetricsPortName}}},
              {"periodSeconds", period},
              {"timeoutSeconds", timeout},
              {"failureThreshold", failures}};
}

void add_probes(json& relay) {
  // The relay creates the channel's objects before reporting ready; with a native sidecar the
  // kubelet starts the app containers only after this probe succeeds (no start-up race).
  relay["startupProbe"] = http_probe(kRelayReadyzPath, 1, 1, 120);
  // After start-up /readyz fails only when a channel breaks under the relay (a ring truncated by
  // a foreign writer, docs/relay.md): the Pod then leaves its Services' endpoints and the
  // channel's status names it (RelayNotReady).
  relay["readinessProbe"] = http_probe(kRelayReadyzPath, 5, 2, 2);
  relay["livenessProbe"] = http_probe(kRelayHealthzPath, 10, 2, 3);
}

// Everything the restricted Pod Security Standard asks of a container.
json relay_security_context(const MutationOptions& options) {
  return json{{"runAsNonRoot", true},
              {"runAsUser", options.relay_uid},
              {"runAsGroup", options.relay_gid},
              {"readOnlyRootFilesystem", true},
              {"allowPrivilegeEscalation", false},
              {"capabilities", {{"drop", json::array({"ALL"})}}},
              {"seccompProfile", {{"type", "RuntimeDefault"}}}};
}

json relay_mounts(const InjectionPlan& plan) {
  json mounts = json::array();
  if (!plan.dev_shm.volume.empty()) {
    mounts.push_back(json{{"name", plan.dev_shm.volume}, {"mountPath", kDevShmPath}});
  }
  mounts.push_back(json{{"name", kControlVolumeName}, {"mountPath", plan.control_dir}});
  mounts.push_back(json{
      {"name", kNoTokenVolumeName}, {"mountPath", kServiceAccountTokenPath}, {"readOnly", true}});
  return mounts;
}

}  // namespace

// The relay pre-touches every ring it creates (posix_fallocate on the tmpfs, so that a full
// /dev/shm fails the relay's start, not a writer later with SIGBUS). The kernel charges tmpfs
// pages to the memory cgroup of the task that first touches them, and they stay charged there
// while the object exists (Documentation/admin-guide/cgroup-v2.rst, "Memory Ownership"): the
// relay container pays for every ring, scope Pod or Node (the node's /dev/shm is tmpfs too). With
// the default 64Mi limit a 64Mi ring got the relay OOM-killed at start. So the configured memory
// limit is taken as what the relay process needs, and the rings are added to it. A relay without
// a memory limit keeps none. Requests stay as configured, except that a memory request equal to
// the limit is raised with it: a Guaranteed Pod (requests == limits everywhere) stays Guaranteed.
json relay_resources(const std::vector<const api::IpcChannel*>& channels,
                     const MutationOptions& options, std::vector<std::string>& warnings) {
  json resources = api::to_json(configured_relay_resources(channels, options));
  const std::uint64_t rings = relay_ring_memory_for(channels);
  const auto limits = resources.find("limits");
  if (rings == 0 || limits == resources.end() || !limits->contains("memory")) return resources;
  json& limit = (*limits)["memory"];
  const std::string configured = limit.get<std::string>();
  const auto bytes = parse_quantity(configured);
  if (!bytes || *bytes > std::numeric_limits<std::uint64_t>::max() - rings) {
    warnings.push_back("ipcmesh: the relay's memory limit " + configured +
                       " is not a whole number of bytes, so the " + format_quantity(rings) +
                       " of rings the relay creates (and is charged for) are not added to it; "
                       "the relay may be OOM-killed at start. Write it as bytes or with a "
                       "suffix, e.g. 64Mi.");
    return resources;
  }
  const std::string raised = format_quantity(*bytes + rings);
  limit = raised;
  if (const auto requests = resources.find("requests");
      requests != resources.end() && requests->contains("memory")) {
    const auto requested = parse_quantity((*requests)["memory"].get<std::string>());
    if (requested && *requested == *bytes) (*requests)["memory"] = raised;
  }
  return resources;
}

json relay_container(const InjectionPlan& plan, const MutationOptions& options,
                     std::vector<std::string>& warnings) {
  json relay{
      {"name", kRelayContainerName},
      {"image", options.relay_image},
      {"imagePullPolicy", options.relay_image_pull_policy},
      // The relay listens on 127.0.0.1 by default (docs/relay.md); the kubelet probes the
      // Pod IP.
      {"args", json::array({kRelayListenFlag, "0.0.0.0:" + std::to_string(plan.metrics_port)})},
      {"env", relay_env(plan)},
      {"ports", relay_ports(plan, warnings)}};
  add_probes(relay);
  relay["resources"] = relay_resources(plan.channels, options, warnings);
  relay["securityContext"] = relay_security_context(options);
  relay["terminationMessagePolicy"] = "FallbackToLogsOnError";
  relay["volumeMounts"] = relay_mounts(plan);
  // First init container: started (and probed) before the other init containers, so they may use
  // the channel too; stopped after the app containers; never keeps a Job alive.
  if (plan.native_sidecar) relay["restartPolicy"] = "Always";
  return relay;
}

}  // namespace ipcmesh::webhook
