// Realistic Kubernetes objects for the operator benchmark: what a LIST of Pods made by a Deployment
// and of IpcChannels with status looks like on a real cluster (managedFields, the projected
// service-account volume, probes, container statuses), so the cache figure is not flattered by toy
// objects. Deterministic: object i is always the same text.
#pragma once

#include <cstddef>
#include <nlohmann/json.hpp>
#include <string>

namespace ipcmesh::bench::operator_bench {

struct ClusterShape {
  std::size_t channels = 1000;
  std::size_t pods = 10000;
  std::size_t namespaces = 100;  // channels and Pods spread evenly over them
};

std::string namespace_of(const ClusterShape& shape, std::size_t index);

// IpcChannel `index` (apiVersion/kind absent, as in LIST items), with status and managedFields.
nlohmann::json make_channel(const ClusterShape& shape, std::size_t index);

// Pod `index` of a Deployment, already injected (ipcmesh.io/status, the relay, /dev/shm emptyDir),
// Running. `with_status` false gives the Pod as a CREATE admission request carries it.
nlohmann::json make_pod(const ClusterShape& shape, std::size_t index, bool with_status = true);

}  // namespace ipcmesh::bench::operator_bench
