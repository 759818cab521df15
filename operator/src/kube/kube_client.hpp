// Typed access to the Kubernetes REST API over an HttpTransport: objects are nlohmann::json, paths
// are built from ResourcePath, failures are ApiError carrying the server's Status. Nothing here
// knows about ipcmesh.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <nlohmann/json.hpp>
#include <optional>
#include <stdexcept>
#include <string>

#include "kube/http_transport.hpp"

namespace ipcmesh::kube {

// A resource collection or object: {"", "v1", "pods"} -> /api/v1/...; {"ipcmesh.io", "v1alpha1",
// "ipcchannels"} -> /apis/ipcmesh.io/v1alpha1/...
struct ResourcePath {
  std::string group;  // "" for the core group
  std::string version;
  std::string resource;        // plural
  std::string namespace_name;  // "" for cluster-wide collections
  std::string name;            // "" for the collection
  std::string subresource;     // "status"

  ResourcePath in(std::string ns) const;
  ResourcePath named(std::string object_name) const;
  ResourcePath sub(std::string sub_name) const;
  std::string path() const;
};

inline const ResourcePath kPods{"", "v1", "pods", "", "", ""};
inline const ResourcePath kNamespaces{"", "v1", "namespaces", "", "", ""};
inline const ResourcePath kEvents{"events.k8s.io", "v1", "events", "", "", ""};
inline const ResourcePath kLeases{"coordination.k8s.io", "v1", "leases", "", "", ""};

// "a=b,c" and friends must be query-escaped; keys and values here are short and ASCII.
std::string url_encode(std::string_view text);

// A non-2xx answer. status_code 409 is a conflict, 404 not found, 410 gone (expired
// resourceVersion); `reason` is the Status reason ("Conflict", "Expired", "NotFound").
class ApiError : public std::runtime_error {
 public:
  ApiError(int status_code, std::string reason, const std::string& message)
      : std::runtime_error(message), status_code_(status_code), reason_(std::move(reason)) {}
  int status_code() const noexcept { return status_code_; }
  const std::string& reason() const noexcept { return reason_; }
  bool not_found() const noexcept { return status_code_ == 404; }
  bool conflict() const noexcept { return status_code_ == 409; }
  bool gone() const noexcept { return status_code_ == 410; }

 private:
  int status_code_;
  std::string reason_;
};

struct ListOptions {
  std::string label_selector;
  std::string field_selector;
  std::string resource_version;
  int limit = 0;  // page size; 0: unpaged
  std::string continue_token;
};

enum class PatchType { kMerge, kStrategicMerge, kJson };

struct ServerVersion {
  int major = 0;
  int minor = 0;  // "30+" (GKE/EKS) reads as 30
  std::string git_version;
};
ServerVersion parse_server_version(const nlohmann::json& body);

// Severity of an Event.
enum class EventType { kNormal, kWarning };

class KubeClient {
 public:
  explicit KubeClient(HttpTransport& transport) : transport_(transport) {}

  nlohmann::json get(const ResourcePath& object);
  std::optional<nlohmann::json> get_if_exists(const ResourcePath& object);
  // One page; follow metadata.continue for the next one.
  nlohmann::json list(const ResourcePath& collection, const ListOptions& options = {});
  nlohmann::json create(const ResourcePath& collection, const nlohmann::json& object);
  nlohmann::json update(const ResourcePath& object, const nlohmann::json& body);  // PUT
  nlohmann::json patch(const ResourcePath& object, const nlohmann::json& body, PatchType type);

  ServerVersion server_version();

  // coordination.k8s.io/v1 Lease.
  std::optional<nlohmann::json> get_lease(const std::string& ns, const std::string& name);
  nlohmann::json create_lease(const std::string& ns, const nlohmann::json& lease);
  nlohmann::json update_lease(const std::string& ns, const nlohmann::json& lease);

  HttpTransport& transport() noexcept { return transport_; }

 private:
  nlohmann::json call(const std::string& method, const std::string& path,
                      const std::string& body = "", const std::string& content_type = "");
  HttpTransport& transport_;
};

// Throws ApiError built from a non-2xx response (its Status body when there is one).
[[noreturn]] void throw_api_error(const HttpResponse& response, const std::string& what);

// RFC 3339 with microseconds and Z, as metav1.MicroTime writes it.
std::string format_micro_time(std::chrono::system_clock::time_point time);
// RFC 3339 seconds, as metav1.Time writes it.
std::string format_time(std::chrono::system_clock::time_point time);

}  // namespace ipcmesh::kube
