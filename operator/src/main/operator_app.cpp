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

}  // namespace

void block_shutdown_signals() {
  const sigset_t signals = shutdown_signals();
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
}

int run_operator(const OperatorConfig& config) {
  block_shutdown_signals();
  const sigset_t signals = shutdown_signals();
  kube::SystemClock clock;
  kube::Cancellation stopping;
  std::atomic<bool> leadership_lost{false};

  const kube::ClusterConnection connection =
      kube::load_cluster_connection(kube::process_environment(), config.kubeconfig, config.context);
  const std::string ns = config.ns.empty() ? connection.default_namespace : config.ns;
  const std::string identity = default_identity(config);
  spdlog::info("ipcmesh-operator {} starting: server {}, namespace {}, identity {}",
               IPCMESH_VERSION, connection.server, ns, identity);
  auto transport = kube::make_cpprest_transport(connection);
  kube::KubeClient client(*transport);
  OperatorMetrics metrics;

  webhook::MutationOptions mutation = config.mutation;
  mutation.injector_version = IPCMESH_VERSION;
  mutation.policy.operator_namespace = ns;
  mutation.server_minor = learn_server_minor(client, clock, stopping);

  // Informers.
  controller::ChannelInformer channels(*transport, clock, channel_informer_options(),
                                       api::channel_record_from_json);
  controller::PodInformer pods(*transport, clock, pod_informer_options(),
                               api::pod_record_from_json);
  channels.on_watch_restart([&metrics] { metrics.watch_restart("ipcchannels"); });
  pods.on_watch_restart([&metrics] { metrics.watch_restart("pods"); });
  // Namespaces only when their label is checked (a name and labels each, a small cache).
  std::optional<controller::NamespaceInformer> namespaces;
  if (config.namespace_label) {
    spdlog::info("channels in namespaces without the label {} get InjectionEnabled=False",
                 config.namespace_label->text());
    namespaces.emplace(*transport, clock, namespace_informer_options(),
                       api::namespace_record_from_json);
    namespaces->on_watch_restart([&metrics] { metrics.watch_restart("namespaces"); });
  }
  const auto caches_synced = [&] {
    return channels.has_synced() && pods.has_synced() && (!namespaces || namespaces->has_synced());
  };

  // The webhook's catalog follows the channel cache; invalid channels are not injected.
  auto catalog = std::make_shared<webhook::ChannelSnapshot>();
  connect_channel_catalog(channels, catalog);

  // Controller.
  controller::WorkQueue queue;
  controller::ChannelPodIndex index;
  controller::StatusPacer pacer(clock, config.status_write_interval);
  controller::connect_informers(channels, pods, index, pacer, queue);
  if (namespaces) controller::connect_namespace_informer(channels, *namespaces, queue);
  kube::EventRecorder events(client, clock, "ipcmesh.io/operator", identity);
  events.on_recorded([&metrics](kube::EventOutcome outcome, kube::EventType type) {
    metrics.event(outcome, type);
  });
  controller::KubeChannelApi channel_api(channels, index, client, events,
                                         namespaces ? &*namespaces : nullptr);
  controller::IpcChannelReconciler reconciler(channel_api, clock, config.namespace_label, &pacer);
  controller::ReconcileLoop loop(
      queue, [&reconciler](const std::string& key) { return reconciler.reconcile(key); },
      {[&metrics](std::chrono::duration<double> duration, bool failed, bool wrote_status) {
        metrics.reconcile(duration, failed, wrote_status);
      }});
  metrics.set_queue_depth_source([&queue] { return static_cast<double>(queue.depth()); });

  // Webhook (every replica).
  webhook::AdmissionHandler admission(
      catalog, mutation,
      [&metrics](const webhook::AdmissionEvent& event) { metrics.admission(event); });
  webhook::AdmissionServerConfig admission_config;
  admission_config.address = "https://0.0.0.0:" + std::to_string(config.webhook_port);
  admission_config.certificate_file = config.webhook_certificate_file;
  admission_config.key_file = config.webhook_key_file;
  webhook::AdmissionServer admission_server(
      admission_config,
      [&admission](const webhook::HttpRequest& request) { return admission.handle(request); });

  metrics.set_webhook_stats_source([&admission_server] { return admission_server.stats(); });

  // Health and metrics over plain HTTP (the kubelet and Prometheus scrape it in-cluster).
  webhook::AdmissionServerConfig health_config;
  health_config.address = "http://0.0.0.0:" + std::to_string(config.health_port);
  health_config.max_body_bytes = 64 * 1024;
  health_config.max_connections = 64;
  health_config.threads = 1;  // scrapes are rare; one thread also keeps serialize() sequential
  webhook::AdmissionServer health_server(health_config, [&](const webhook::HttpRequest& request) {
    webhook::HttpResponse response;
    response.content_type = "text/plain; charset=utf-8";
    if (request.path == "/healthz") {
      response.body = "ok\n";
    } else if (request.path == "/readyz") {
      const bool ready = caches_synced() && admission_server.serving();
      response.status = ready ? 200 : 503;
      response.body =
          ready ? "ok\n"
                : std::string("not ready:") + (channels.has_synced() ? "" : " ipcchannel cache") +
                      (pods.has_synced() ? "" : " pod cache") +
                      (!namespaces || namespaces->has_synced() ? "" : " namespace cache") +
                      (admission_server.serving() ? "" : " webhook") + "\n";
    } else if (request.path == "/metrics") {
      response.content_type = "text/plain; version=0.0.4; charset=utf-8";
      response.body = metrics.serialize();
    } else {
      response.status = 404;
      response.body = "not found\n";
    }
    return response;
  });

  health_server.start();
  channels.start();
  pods.start();
  if (namespaces) namespaces->start();
  admission_server.start();

  // Wait for every cache before anyone reconciles (controller-runtime's WaitForCacheSync): a
  // reconcile against a half-filled Pod cache would publish wrong counts, against a half-filled
  // Namespace cache an Unknown InjectionEnabled.
  while (!caches_synced() && !stopping.cancelled()) {
    timespec timeout{0, 100'000'000};
    const int signal = sigtimedwait(&signals, nullptr, &timeout);
    if (signal == SIGTERM || signal == SIGINT) stopping.cancel();
  }
  spdlog::info("caches synced: {} IpcChannels, {} Pods{}", channels.size(), pods.size(),
               namespaces ? ", " + std::to_string(namespaces->size()) + " Namespaces" : "");

  // Leader election: only the leader reconciles.
  controller::KubeLeaseStore lease_store(client, ns, config.lease_name);
  controller::LeaderElector elector(
      lease_store, clock,
      {identity, config.lease_duration, config.renew_deadline, config.retry_period, true},
      {[&] {
         metrics.set_leader(true);
         loop.start(config.workers);
       },
       [&] {
         metrics.set_leader(false);
         if (!stopping.cancelled()) {
           leadership_lost = true;
           stopping.cancel();
         }
       },
       [](const std::string& leader) { spdlog::info("leader is {}", leader); }});
  kube::Cancellation election_stop;
  std::thread election;
  if (stopping.cancelled()) {
    // Shut down before the caches synced: nothing to elect or reconcile.
  } else if (config.leader_elect) {
    election = std::thread([&] { elector.run(election_stop); });
  } else {
    metrics.set_leader(true);
    loop.start(config.workers);
  }

  // Wait for SIGTERM/SIGINT (or lost leadership).
  while (!stopping.cancelled()) {
    timespec timeout{0, 200'000'000};
    const int signal = sigtimedwait(&signals, nullptr, &timeout);
    if (signal == SIGTERM || signal == SIGINT) {
      spdlog::info("received {}, shutting down", signal == SIGTERM ? "SIGTERM" : "SIGINT");
      stopping.cancel();
    }
  }

  // Workers first (no status write after the lease is gone), then release the lease.
  queue.shutdown();
  loop.join();
  election_stop.cancel();
  if (election.joinable()) election.join();
  channels.stop();
  pods.stop();
  if (namespaces) namespaces->stop();
  admission_server.stop();
  health_server.stop();
  spdlog::info("ipcmesh-operator stopped");
  return leadership_lost ? 1 : 0;
}

}  // namespace ipcmesh::operator_main
