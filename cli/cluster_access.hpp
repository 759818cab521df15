// How ipcmeshctl's cluster commands (get, describe, why, version) reach the API server: the
// flags they share (--kubeconfig, --context, -n, -o), resolved as kubectl resolves them
// (kube::load_kubectl_connection), and the clients they talk through. The commands take a
// ClusterAccess, so unit tests give them a fake transport (the kube::HttpTransport seam).
#pragma once

#include <CLI/CLI.hpp>
#include <cstdint>
#include <memory>
#include <string>

#include "kube/kube_client.hpp"
#include "kube/kube_config.hpp"

namespace ipcmesh::cli {

struct ClusterFlags {
  std::string kubeconfig;      // "": $KUBECONFIG, ~/.kube/config, then in-cluster
  std::string context;         // "": the kubeconfig's current-context
  std::string namespace_name;  // "": the context's namespace (in-cluster: the Pod's)
  bool all_namespaces = false;
  std::string output;  // "": the default table
};

// --kubeconfig and --context, as kubectl spells them.
void add_connection_flags(CLI::App& command, ClusterFlags& flags);
// -n/--namespace.
void add_namespace_flag(CLI::App& command, ClusterFlags& flags);

// What a command reads the cluster through. `relays` reaches the relays through the API server's
// Pod proxy with a short deadline: an unreachable relay costs seconds, not the whole command.
struct ClusterAccess {
  kube::KubeClient& api;
  kube::HttpTransport& relays;
  std::string namespace_name;  // the flag, else the context's
  std::int64_t now_seconds = 0;
  std::string server;  // for messages
};

// The transports of a real connection and the access built on them.
class ClusterSession {
 public:
  // Throws kube::ConfigError (no usable kubeconfig or service account) or std::invalid_argument
  // (an unusable server URL or PEM).
  static std::unique_ptr<ClusterSession> open(const ClusterFlags& flags,
                                              const kube::Environment& environment);
  ClusterAccess access() {
    return {client_, *relay_transport_, namespace_name_, now_seconds(), server_};
  }
  const std::string& server() const noexcept { return server_; }

 private:
  ClusterSession(std::unique_ptr<kube::HttpTransport> api,
                 std::unique_ptr<kube::HttpTransport> relays, std::string namespace_name,
                 std::string server);
  static std::int64_t now_seconds();

  std::unique_ptr<kube::HttpTransport> api_transport_;
  std::unique_ptr<kube::HttpTransport> relay_transport_;
  kube::KubeClient client_;
  std::string namespace_name_;
  std::string server_;
};

// The message for a failed cluster call: "cannot reach the API server at URL: ..." for a
// transport failure, the server's own Status message for an API error, what() otherwise.
std::string describe_failure(const std::exception& error, const std::string& server = "");

}  // namespace ipcmesh::cli
