#include "cluster_access.hpp"

#include <chrono>

namespace ipcmesh::cli {
namespace {

// A relay answers /metrics in milliseconds; the API server's proxy to a Pod that has no IP or no
// route fails fast, one whose packets vanish would wait for the TCP timeout.
constexpr std::chrono::seconds kRelayRequestTimeout{5};
constexpr std::chrono::seconds kApiRequestTimeout{30};

}  // namespace

void add_connection_flags(CLI::App& command, ClusterFlags& flags) {
  command
      .add_option("--kubeconfig", flags.kubeconfig,
                  "kubeconfig file (default: $KUBECONFIG, ~/.kube/config, else the Pod's service "
                  "account, as kubectl)")
      ->option_text("PATH")
      ->take_last();
  command.add_option("--context", flags.context, "kubeconfig context (default: the current one)")
      ->option_text("NAME")
      ->take_last();
}

void add_namespace_flag(CLI::App& command, ClusterFlags& flags) {
  command
      .add_option("-n,--namespace", flags.namespace_name,
                  "namespace (default: the context's, else \"default\")")
      ->option_text("NS")
      ->take_last();
}

ClusterSession::ClusterSession(std::unique_ptr<kube::HttpTransport> api,
                               std::unique_ptr<kube::HttpTransport> relays,
                               std::string namespace_name, std::string server)
    : api_transport_(std::move(api)),
      relay_transport_(std::move(relays)),
      client_(*api_transport_),
      namespace_name_(std::move(namespace_name)),
      server_(std::move(server)) {}

std::unique_ptr<ClusterSession> ClusterSession::open(const ClusterFlags& flags,
                                                     const kube::Environment& environment) {
  kube::ClusterConnection connection =
      kube::load_kubectl_connection(environment, flags.kubeconfig, flags.context);
  const std::string namespace_name =
      flags.namespace_name.empty() ? connection.default_namespace : flags.namespace_name;
  const std::string server = connection.server;
  kube::TransportOptions options;
  options.user_agent = "ipcmeshctl/" IPCMESH_VERSION;
  options.request_timeout = kApiRequestTimeout;
  auto api = kube::make_cpprest_transport(connection, options);
  options.request_timeout = kRelayRequestTimeout;
  auto relays = kube::make_cpprest_transport(std::move(connection), options);
  return std::unique_ptr<ClusterSession>(
      new ClusterSession(std::move(api), std::move(relays), namespace_name, server));
}

std::int64_t ClusterSession::now_seconds() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string describe_failure(const std::exception& error, const std::string& server) {
  if (dynamic_cast<const kube::TransportError*>(&error) != nullptr) {
    return "cannot reach the API server" + (server.empty() ? "" : " at " + server) + ": " +
           error.what();
  }
  return error.what();
}

}  // namespace ipcmesh::cli
