#define _TURN_OFF_PLATFORM_STRING
#include "cache_memory.hpp"

// clang-format off
#include <utility>  // before pplx: boost/asio/awaitable.hpp uses std::exchange unincluded
#include <pplx/threadpool.h>
// clang-format on

#include <malloc.h>
#include <unistd.h>

#include <fstream>
#include <stdexcept>
#include <thread>

#include "controller/channel_api.hpp"
#include "controller/reconcile_loop.hpp"
#include "controller/work_queue.hpp"
#include "kube/informer.hpp"
#include "kube/kube_client.hpp"
#include "main/operator_caches.hpp"
#include "scripted_api_server.hpp"
#include "webhook/admission.hpp"
#include "webhook/admission_server.hpp"

namespace ipcmesh::bench::operator_bench {
namespace {

using nlohmann::json;

std::uint64_t status_kib(const char* field) {
  std::ifstream in("/proc/self/status");
  std::string line;
  const std::string prefix = std::string(field) + ":";
  while (std::getline(in, line)) {
    if (line.rfind(prefix, 0) == 0) return std::stoull(line.substr(prefix.size()));
  }
  throw std::runtime_error(std::string("/proc/self/status has no ") + field);
}

}  // namespace

MemoryResult measure_cache_memory(const MemoryOptions& options) {
  operator_main::use_fixed_mmap_threshold();  // as the operator's main() does first
  crossplat::threadpool::initialize_with_threads(static_cast<std::size_t>(options.threads));
  MemoryResult result;

  // What every operator replica runs before its caches fill: the admission server (TLS) over an
  // empty catalog.
  auto catalog = std::make_shared<webhook::ChannelSnapshot>();
  webhook::AdmissionHandler admission(catalog, webhook::MutationOptions{});
  std::unique_ptr<webhook::AdmissionServer> server;
  for (int attempt = 0; attempt < 20 && !server; ++attempt) {
    const int port = 30000 + static_cast<int>((::getpid() + attempt * 13) % 20000);
    server = std::make_unique<webhook::AdmissionServer>(
        webhook::AdmissionServerConfig{"https://127.0.0.1:" + std::to_string(port),
                                       options.certificate_file, options.key_file},
        [&admission](const webhook::HttpRequest& request) { return admission.handle(request); });
    try {
      server->start();
    } catch (const std::exception&) {
      server.reset();
    }
  }
  if (!server) throw std::runtime_error("memory: the admission server did not start");

  ScriptedApiServer api(options.shape);
  kube::SystemClock clock;
  result.baseline_rss_kib = status_kib("VmRSS");

  // The operator's informers, configured as operator_app.cpp configures them.
  controller::ChannelInformer channels(api, clock, operator_main::channel_informer_options(),
                                       ipcmesh::api::channel_record_from_json);
  controller::PodInformer pods(api, clock, operator_main::pod_informer_options(),
                               ipcmesh::api::pod_record_from_json);
  operator_main::connect_channel_catalog(channels, catalog);
  controller::WorkQueue queue;
  controller::ChannelPodIndex index;
  controller::StatusPacer pacer(clock, std::chrono::seconds(1));
  controller::connect_informers(channels, pods, index, pacer, queue);

  const auto started = std::chrono::steady_clock::now();
  channels.start();
  pods.start();
  while (!(channels.has_synced() && pods.has_synced())) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
    if (std::chrono::steady_clock::now() - started > std::chrono::minutes(5)) {
      throw std::runtime_error("memory: caches did not sync within 5 minutes");
    }
  }
  result.sync_seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  // Let the handlers that run after the swap (catalog, queue) finish.
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  result.cached_rss_kib = status_kib("VmRSS");
  result.peak_rss_kib = status_kib("VmHWM");
  const struct mallinfo2 heap = ::mallinfo2();
  result.heap_in_use_kib = (heap.uordblks + heap.hblkhd) / 1024;
  ::malloc_trim(0);
  result.trimmed_rss_kib = status_kib("VmRSS");
  result.cached_channels = channels.size();
  result.cached_pods = pods.size();
  result.catalog_channels = catalog->snapshot()->size();
  result.listed_bytes = api.listed_bytes();
  result.average_pod_bytes = options.shape.pods == 0 ? 0.0
                                                     : static_cast<double>(api.pod_bytes()) /
                                                           static_cast<double>(options.shape.pods);
  queue.shutdown();
  channels.stop();
  pods.stop();
  server->stop();
  return result;
}

}  // namespace ipcmesh::bench::operator_bench
