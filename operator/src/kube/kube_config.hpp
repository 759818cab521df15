// Where the API server is and who we are: kubeconfig files (the KUBECONFIG list, merged the way
// client-go merges them) or the Pod's service account. Produces a ClusterConnection with PEM text
// and a token supplier. TLS verification cannot be turned off: insecure-skip-tls-verify is refused.
#pragma once

#include <chrono>
#include <filesystem>
#include <functional>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "kube/http_transport.hpp"

namespace ipcmesh::kube {

// A configuration that cannot be used; the message names the file and the field.
class ConfigError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Environment lookup, injected so tests need no setenv (and the process has no global state).
using Environment = std::function<std::optional<std::string>(const std::string& name)>;
Environment process_environment();

inline constexpr const char* kServiceAccountDir = "/var/run/secrets/kubernetes.io/serviceaccount";

// A bearer token read from a file and re-read when older than `max_age` (the kubelet rotates
// projected service-account tokens; client-go re-reads every minute). A failed re-read keeps the
// last good token, so a rotation in progress never drops authentication.
class FileTokenSource {
 public:
  using Now = std::function<std::chrono::steady_clock::time_point()>;
  explicit FileTokenSource(
      std::filesystem::path path, std::chrono::seconds max_age = std::chrono::seconds(60),
      Now now = [] { return std::chrono::steady_clock::now(); });
  std::string token();  // throws ConfigError only when no token was ever read

 private:
  std::filesystem::path path_;
  std::chrono::seconds max_age_;
  Now now_;
  std::mutex mutex_;
  std::string token_;
  std::optional<std::chrono::steady_clock::time_point> read_at_;
};

// The KUBECONFIG list ("a:b:c", empty entries skipped) or ~/.kube/config when unset.
std::vector<std::filesystem::path> kubeconfig_paths(const Environment& environment);
// Whether any file of kubeconfig_paths exists (kubectl then uses them, not the service account).
bool any_kubeconfig_file(const Environment& environment);

// Loads and merges kubeconfig files: for clusters, users and contexts the first file that defines
// a name wins, and so does the first non-empty current-context (client-go's rules). Missing files
// in the list are skipped; relative paths are resolved against the folder of the file that
// defined the stanza. `context` overrides current-context when not empty.
ClusterConnection load_kubeconfig(const std::vector<std::filesystem::path>& files,
                                  const std::string& context = "");

// In-cluster: https://$KUBERNETES_SERVICE_HOST:$KUBERNETES_SERVICE_PORT (IPv6 hosts bracketed),
// the service-account CA, namespace and a re-read token.
bool running_in_cluster(const Environment& environment);
ClusterConnection in_cluster_config(
    const Environment& environment,
    const std::filesystem::path& service_account_dir = kServiceAccountDir);

// The operator's rule: an explicit kubeconfig path wins, then in-cluster when the service
// variables are set, then the KUBECONFIG list / ~/.kube/config.
ClusterConnection load_cluster_connection(const Environment& environment,
                                          const std::string& kubeconfig_path = "",
                                          const std::string& context = "");

// kubectl's rule (client-go's deferred loading, which ipcmeshctl follows): an explicit kubeconfig
// path wins; else the KUBECONFIG list / ~/.kube/config when one of its files exists; else
// in-cluster when the service variables are set and no context was asked for (a context names a
// kubeconfig entry, so asking for one without a file is the kubeconfig's error). The operator
// prefers in-cluster instead (load_cluster_connection): it runs in a Pod.
ClusterConnection load_kubectl_connection(
    const Environment& environment, const std::string& kubeconfig_path = "",
    const std::string& context = "",
    const std::filesystem::path& service_account_dir = kServiceAccountDir);

// RFC 4648 base64 (the *-data fields); throws ConfigError on malformed input.
std::string decode_base64(std::string_view text);

}  // namespace ipcmesh::kube
