#include "main/operator_app.hpp"

#include <pthread.h>
#include <signal.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <atomic>
#include <optional>
#include <random>
#include <thread>

#include "controller/channel_api.hpp"
#include "controller/ipc_channel_reconciler.hpp"
#include "controller/leader_election.hpp"
#include "controller/reconcile_loop.hpp"
#include "controller/work_queue.hpp"
#include "kube/informer.hpp"
#include "kube/kube_client.hpp"
#include "kube/kube_config.hpp"
#include "main/operator_caches.hpp"
#include "main/operator_metrics.hpp"
#include "webhook/admission.hpp"
#include "webhook/admission_server.hpp"
#include "webhook/channel_catalog.hpp"

namespace ipcmesh::operator_main {
namespace {

std::string default_identity(const OperatorConfig& config) {
  if (!config.identity.empty()) return config.identity;
  std::string base;
  if (const char* pod = std::getenv("POD_NAME"); pod != nullptr && *pod != '\0') {
    base = pod;
  } else {
    char host[256] = {};
    gethostname(host, sizeof(host) - 1);
    base = host;
  }
  // A suffix per process (client-go uses hostname_uuid): a restarted container is a new
  // candidate, never mistaken for the holder that just died.
  std::mt19937_64 engine{std::random_device{}()};
  char suffix[9];
  std::snprintf(suffix, sizeof(suffix), "%08x", static_cast<unsigned>(engine()));
  return base + "_" + suffix;
}

int learn_server_minor(kube::KubeClient& client, kube::Clock& clock, kube::Cancellation& stopping) {
  // The native-sidecar decision must not be guessed: an init container with restartPolicy
  // Always is rejected by servers before 1.28. Retry for a while, then give up.
  kube::Backoff backoff;
  for (int attempt = 0; attempt < 8 && !stopping.cancelled(); ++attempt) {
    try {
      const auto version = client.server_version();
      spdlog::info("API server {} (minor {})", version.git_version, version.minor);
      return version.minor;
    } catch (const std::exception& error) {
      spdlog::warn("reading the API server version: {}", error.what());
    }
    clock.sleep_for(backoff.next(clock.now()), stopping);
  }
  throw std::runtime_error("cannot read the API server version (/version)");
}

sigset_t shutdown_signals() {
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  return signals;
}

// Waits up to `timeout` for SIGTERM or SIGINT (blocked in every thread); true when one came.
bool shutdown_signalled(std::chrono::milliseconds timeout) {
  const sigset_t signals = shutdown_signals();
  const timespec wait{0, static_cast<long>(std::chrono::nanoseconds(timeout).count())};
  const int signal = sigtimedwait(&signals, nullptr, &wait);
  if (signal != SIGTERM && signal != SIGINT) return false;
  spdlog::info("received {}, shutting down", signal == SIGTERM ? "SIGTERM" : "SIGINT");
  return true;
}

// The caches every part reads: IpcChannels, Pods and, when their label is checked, Namespaces.
struct Caches {
  Caches(kube::HttpTransport& transport, kube::Clock& clock, const OperatorConfig& config,
         OperatorMetrics& metrics)
      : channels(transport, clock, channel_informer_options(), api::channel_record_from_json),
        pods(transport, clock, pod_informer_options(), api::pod_record_from_json) {
    channels.on_watch_restart([&metrics] { metrics.watch_restart("ipcchannels"); });
    pods.on_watch_restart([&metrics] { metrics.watch_restart("pods"); });
    // Namespaces only when their label is checked (a name and labels each, a small cache).
    if (!config.namespace_label) return;
    spdlog::info("channels in namespaces without the label {} get InjectionEnabled=False",
                 config.namespace_label->text());
    namespaces.emplace(transport, clock, namespace_informer_options(),
                       api::namespace_record_from_json);
    namespaces->on_watch_restart([&metrics] { metrics.watch_restart("namespaces"); });
  }

  bool synced() const {
    return channels.has_synced() && pods.has_synced() && (!namespaces || namespaces->has_synced());
  }
  // What is not synced yet, for /readyz: " ipcchannel cache pod cache".
  std::string unsynced() const {
    return std::string(channels.has_synced() ? "" : " ipcchannel cache") +
           (pods.has_synced() ? "" : " pod cache") +
           (!namespaces || namespaces->has_synced() ? "" : " namespace cache");
  }
  void start() {
    channels.start();
    pods.start();
    if (namespaces) namespaces->start();
  }
  void stop() {
    channels.stop();
    pods.stop();
    if (namespaces) namespaces->stop();
  }

  controller::ChannelInformer channels;
  controller::PodInformer pods;
  std::optional<controller::NamespaceInformer> namespaces;
};

// The leader's part: the channel->Pods index kept from the caches' events, the work queue, the
// reconciler and its workers (started only while this replica leads).
struct Controller {
  Controller(Caches& caches, kube::KubeClient& client, kube::Clock& clock,
             const OperatorConfig& config, const std::string& identity, OperatorMetrics& metrics)
      : pacer(clock, config.status_write_interval),
        events(client, clock, "ipcmesh.io/operator", identity),
        channel_api(caches.channels, index, client, events,
                    caches.namespaces ? &*caches.namespaces : nullptr),
        reconciler(channel_api, clock, config.namespace_label, &pacer),
        loop(queue, [this](const std::string& key) { return reconciler.reconcile(key); },
             {[&metrics](std::chrono::duration<double> duration, bool failed, bool wrote_status) {
               metrics.reconcile(duration, failed, wrote_status);
             }}) {
    controller::connect_informers(caches.channels, caches.pods, index, pacer, queue);
    if (caches.namespaces) {
      controller::connect_namespace_informer(caches.channels, *caches.namespaces, queue);
    }
    events.on_recorded([&metrics](kube::EventOutcome outcome, kube::EventType type) {
      metrics.event(outcome, type);
    });
    metrics.set_queue_depth_source([this] { return static_cast<double>(queue.depth()); });
  }

  // No status write after this returns (before the lease is released).
  void stop() {
    queue.shutdown();
    loop.join();
  }

  controller::WorkQueue queue;
  controller::ChannelPodIndex index;
  controller::StatusPacer pacer;
  kube::EventRecorder events;
  controller::KubeChannelApi channel_api;
  controller::IpcChannelReconciler reconciler;
  controller::ReconcileLoop loop;
};

webhook::AdmissionServerConfig admission_server_config(const OperatorConfig& config) {
  webhook::AdmissionServerConfig admission;
  admission.address = "https://0.0.0.0:" + std::to_string(config.webhook_port);
  admission.certificate_file = config.webhook_certificate_file;
  admission.key_file = config.webhook_key_file;
  return admission;
}

// Health and metrics over plain HTTP (the kubelet and Prometheus scrape it in-cluster).
webhook::AdmissionServerConfig health_server_config(const OperatorConfig& config) {
  webhook::AdmissionServerConfig health;
  health.address = "http://0.0.0.0:" + std::to_string(config.health_port);
  health.max_body_bytes = 64 * 1024;
  health.max_connections = 64;
  health.threads = 1;  // scrapes are rare; one thread also keeps serialize() sequential
  return health;
}

// Every replica's part: the admission webhook, and /healthz, /readyz, /metrics.
struct Servers {
  Servers(const OperatorConfig& config, std::shared_ptr<webhook::ChannelSnapshot> catalog,
          const webhook::MutationOptions& mutation, const Caches& caches, OperatorMetrics& metrics)
      : admission(std::move(catalog), mutation,
                  [&metrics](const webhook::AdmissionEvent& event) { metrics.admission(event); }),
        admission_server(
            admission_server_config(config),
            [this](const webhook::HttpRequest& request) { return admission.handle(request); }),
        health_server(health_server_config(config),
                      [this, &caches, &metrics](const webhook::HttpRequest& request) {
                        return health(request, caches, metrics);
                      }) {
    metrics.set_webhook_stats_source([this] { return admission_server.stats(); });
  }

  webhook::HttpResponse health(const webhook::HttpRequest& request, const Caches& caches,
                               OperatorMetrics& metrics) {
    webhook::HttpResponse response;
    response.content_type = "text/plain; charset=utf-8";
    if (request.path == "/healthz") {
      response.body = "ok\n";
    } else if (request.path == "/readyz") {
      const bool ready = caches.synced() && admission_server.serving();
      response.status = ready ? 200 : 503;
      response.body = ready ? "ok\n"
                            : "not ready:" + caches.unsynced() +
                                  (admission_server.serving() ? "" : " webhook") + "\n";
    } else if (request.path == "/metrics") {
      response.content_type = "text/plain; version=0.0.4; charset=utf-8";
      response.body = metrics.serialize();
    } else {
      response.status = 404;
      response.body = "not found\n";
    }
    return response;
  }

  webhook::AdmissionHandler admission;
  webhook::AdmissionServer admission_server;
  webhook::AdmissionServer health_server;
};

// Runs the controller while this replica leads (always, without leader election). Losing the
// leadership cancels `stopping`: a replica that lost it exits and is restarted clean.
class Leadership {
 public:
  Leadership(kube::KubeClient& client, kube::Clock& clock, const OperatorConfig& config,
             const std::string& ns, const std::string& identity, Controller& controller,
             OperatorMetrics& metrics, kube::Cancellation& stopping)
      : config_(config),
        controller_(controller),
        metrics_(metrics),
        stopping_(stopping),
        lease_store_(client, ns, config.lease_name),
        elector_(
            lease_store_, clock,
            {identity, config.lease_duration, config.renew_deadline, config.retry_period, true},
            {[this] { lead(); }, [this] { step_down(); },
             [](const std::string& leader) { spdlog::info("leader is {}", leader); }}) {}

  void start() {
    if (config_.leader_elect) {
      election_ = std::thread([this] { elector_.run(election_stop_); });
    } else {
      lead();
    }
  }
  // Releases the lease (after the controller stopped).
  void stop() {
    election_stop_.cancel();
    if (election_.joinable()) election_.join();
  }
  bool lost() const { return lost_; }

 private:
  void lead() {
    metrics_.set_leader(true);
    controller_.loop.start(config_.workers);
  }
  void step_down() {
    metrics_.set_leader(false);
    if (stopping_.cancelled()) return;
    lost_ = true;
    stopping_.cancel();
  }

  const OperatorConfig& config_;
  Controller& controller_;
  OperatorMetrics& metrics_;
  kube::Cancellation& stopping_;
  controller::KubeLeaseStore lease_store_;
  controller::LeaderElector elector_;
  kube::Cancellation election_stop_;
  std::thread election_;
  std::atomic<bool> lost_{false};
};

webhook::MutationOptions mutation_options(const OperatorConfig& config, const std::string& ns,
                                          int server_minor) {
  webhook::MutationOptions mutation = config.mutation;
  mutation.injector_version = IPCMESH_VERSION;
  mutation.policy.operator_namespace = ns;
  mutation.server_minor = server_minor;
  return mutation;
}

}  // namespace

void block_shutdown_signals() {
  const sigset_t signals = shutdown_signals();
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
}

int run_operator(const OperatorConfig& config) {
  block_shutdown_signals();
  kube::SystemClock clock;
  kube::Cancellation stopping;
  const kube::ClusterConnection connection =
      kube::load_cluster_connection(kube::process_environment(), config.kubeconfig, config.context);
  const std::string ns = config.ns.empty() ? connection.default_namespace : config.ns;
  const std::string identity = default_identity(config);
  spdlog::info("ipcmesh-operator {} starting: server {}, namespace {}, identity {}",
               IPCMESH_VERSION, connection.server, ns, identity);
  auto transport = kube::make_cpprest_transport(connection);
  kube::KubeClient client(*transport);
  OperatorMetrics metrics;
  const webhook::MutationOptions mutation =
      mutation_options(config, ns, learn_server_minor(client, clock, stopping));

  Caches caches(*transport, clock, config, metrics);
  // The webhook's catalog follows the channel cache; invalid channels are not injected.
  auto catalog = std::make_shared<webhook::ChannelSnapshot>();
  connect_channel_catalog(caches.channels, catalog);
  Controller controller(caches, client, clock, config, identity, metrics);
  Servers servers(config, catalog, mutation, caches, metrics);
  servers.health_server.start();
  caches.start();
  servers.admission_server.start();

  // Wait for every cache before anyone reconciles (controller-runtime's WaitForCacheSync): a
  // reconcile against a half-filled Pod cache would publish wrong counts, against a half-filled
  // Namespace cache an Unknown InjectionEnabled.
  while (!caches.synced() && !stopping.cancelled()) {
    if (shutdown_signalled(std::chrono::milliseconds(100))) stopping.cancel();
  }
  spdlog::info(
      "caches synced: {} IpcChannels, {} Pods{}", caches.channels.size(), caches.pods.size(),
      caches.namespaces ? ", " + std::to_string(caches.namespaces->size()) + " Namespaces" : "");

  Leadership leadership(client, clock, config, ns, identity, controller, metrics, stopping);
  // Shut down before the caches synced: nothing to elect or reconcile.
  if (!stopping.cancelled()) leadership.start();
  while (!stopping.cancelled()) {
    if (shutdown_signalled(std::chrono::milliseconds(200))) stopping.cancel();
  }

  // Workers first (no status write after the lease is gone), then release the lease.
  controller.stop();
  leadership.stop();
  caches.stop();
  servers.admission_server.stop();
  servers.health_server.stop();
  spdlog::info("ipcmesh-operator stopped");
  return leadership.lost() ? 1 : 0;
}

}  // namespace ipcmesh::operator_main
