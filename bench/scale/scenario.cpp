#include "scenario.hpp"

#include <unistd.h>

#include <atomic>
#include <barrier>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <thread>
#include <vector>

#include "control_plane.hpp"
#include "environment.hpp"
#include "kube/clock.hpp"
#include "kube/http_transport.hpp"
#include "kube/informer.hpp"
#include "kube/kube_client.hpp"
#include "kube/kube_config.hpp"
#include "measures.hpp"

namespace ipcmesh::bench::scale {
namespace {

using json = nlohmann::json;
using SteadyClock = std::chrono::steady_clock;
using kube::ResourcePath;

const ResourcePath kChannels{"ipcmesh.io", "v1alpha1", "ipcchannels", "", "", ""};

const ResourcePath kDeployments{"apps", "v1", "deployments", "", "", ""};
const ResourcePath kCoreEvents{"", "v1", "events", "", "", ""};
const ResourcePath kServiceAccounts{"", "v1", "serviceaccounts", "", "", ""};
constexpr const char* kPauseImage = "registry.k8s.io/pause:3.9";  // never pulled: no node

// One latency comparison of the report: both sides and what the webhook adds.
json added_latency_json(const LatencySummary& with, const LatencySummary& without) {
  const auto side = [](const LatencySummary& summary) {
    return json{{"count", summary.count},
                {"p50_ms", summary.p50_ms},
                {"p99_ms", summary.p99_ms},
                {"max_ms", summary.max_ms}};
  };
  return {{"with_webhook", side(with)},
          {"without_webhook", side(without)},
          {"added_p50_ms", with.p50_ms - without.p50_ms},
          {"added_p99_ms", with.p99_ms - without.p99_ms}};
}

template <typename... Args>
void progress(const char* format, Args... args) {
  std::fprintf(stderr, "scale: ");
  if constexpr (sizeof...(Args) == 0) {
    std::fputs(format, stderr);
  } else {
    std::fprintf(stderr, format, args...);
  }
  std::fputc('\n', stderr);
}

double seconds_between(SteadyClock::time_point from, SteadyClock::time_point to) {
  return std::chrono::duration<double>(to - from).count();
}
double ms_since(SteadyClock::time_point from) {
  return std::chrono::duration<double, std::milli>(SteadyClock::now() - from).count();
}

// utime + stime and memory of one process, from /proc.
class ProcessProbe {
 public:
  ProcessProbe() = default;
  explicit ProcessProbe(pid_t pid) : pid_(pid) {}
  pid_t pid() const { return pid_; }
  std::optional<double> cpu_seconds() const {
    std::string text;
    try {
      text = read_text_file("/proc/" + std::to_string(pid_) + "/stat");
    } catch (const std::exception&) {
      return std::nullopt;
    }
    const auto ticks = cpu_ticks_of_stat(text);
    if (!ticks) return std::nullopt;
    return static_cast<double>(*ticks) / static_cast<double>(::sysconf(_SC_CLK_TCK));
  }
  // The process's CPU time to the nanosecond (its CPU-time clock: every thread, exited ones
  // included), where utime + stime count 10 ms ticks.
  std::optional<double> cpu_clock_seconds() const {
    clockid_t clock{};
    if (::clock_getcpuclockid(pid_, &clock) != 0) return std::nullopt;
    timespec now{};
    if (::clock_gettime(clock, &now) != 0) return std::nullopt;
    return static_cast<double>(now.tv_sec) + static_cast<double>(now.tv_nsec) / 1e9;
  }
  std::optional<std::uint64_t> status_field_kib(const char* field) const {
    try {
      return status_kib(read_text_file("/proc/" + std::to_string(pid_) + "/status"), field);
    } catch (const std::exception&) {
      return std::nullopt;
    }
  }

 private:
  pid_t pid_ = -1;
};

double mib(std::optional<std::uint64_t> kib) {
  return kib ? static_cast<double>(*kib) / 1024.0 : 0.0;
}

// The operator's resident set, sampled every 100 ms for the peak "throughout" (VmHWM says the
// same at the end, but only while the process lives).
class RssSampler {
 public:
  explicit RssSampler(ProcessProbe probe)
      : thread_([this, probe](std::stop_token stop) {
          while (!stop.stop_requested()) {
            if (const auto rss = probe.status_field_kib("VmRSS")) {
              std::lock_guard lock(mutex_);
              peak_kib_ = std::max(peak_kib_, *rss);
              last_kib_ = *rss;
            }
            std::this_thread::sleep_for(std::chrono::milliseconds(100));
          }
        }) {}
  std::uint64_t peak_kib() const {
    std::lock_guard lock(mutex_);
    return peak_kib_;
  }
  std::uint64_t last_kib() const {
    std::lock_guard lock(mutex_);
    return last_kib_;
  }

 private:
  mutable std::mutex mutex_;
  std::uint64_t peak_kib_ = 0;
  std::uint64_t last_kib_ = 0;
  std::jthread thread_;  // last: stops before the fields go
};

// Everything counted at one instant; phases are differences of two.
struct Snapshot {
  SteadyClock::time_point at;
  double operator_cpu = 0;
  double apiserver_cpu = 0;
  double etcd_cpu = 0;
  double controller_manager_cpu = 0;
  double status_writes = 0;  // API server: PUT/PATCH on ipcchannels/status
  std::optional<double> operator_status_writes;
  double admission_calls = 0;  // API server: calls to our webhook
  std::optional<double> operator_admissions;
  std::optional<double> reconciles;
  std::optional<double> reconcile_seconds;
  double channel_events = 0;       // Event objects about IpcChannels in the namespace
  double channel_event_count = 0;  // the same, each counted with its series/count
};

json optional_json(const std::optional<double>& value) {
  return value ? json(*value) : json(nullptr);
}
// A counter's growth from a to b. prometheus-cpp shows a labelled counter only once it has a
// sample (ipcmesh_admission_requests_total before the first review): absent at a reads as 0;
// absent at b means the operator has no such metric (n/a).
std::optional<double> optional_difference(const std::optional<double>& a,
                                          const std::optional<double>& b) {
  if (!b) return std::nullopt;
  return *b - a.value_or(0);
}

class Scenario {
 public:
  Scenario(const ScaleOptions& options, std::atomic<pid_t>& operator_pid)
      : options_(options), operator_pid_(operator_pid) {}
  json run();

 private:
  // Set-up.
  void start_cluster();
  void start_operator();
  void create_namespaces();
  void create_channels();
  void start_pod_informer();

  // The steps.
  void sequential_creates();
  void burst_creates();
  void deployment_scale_up();
  void pod_events();
  void deletes();

  // Helpers.
  std::unique_ptr<kube::HttpTransport> new_transport() const {
    return kube::make_cpprest_transport(connection_);
  }
  json pod_object(const std::string& name, int shard, const std::string& step) const;
  std::vector<int> shard_counts(int total) const;
  bool status_exact(const std::vector<int>& expected, std::string* differs = nullptr);
  void wait_until(const std::function<bool()>& condition, const std::string& what,
                  std::chrono::milliseconds poll = std::chrono::milliseconds(50));
  double wait_status_exact(const std::vector<int>& expected, const std::string& what);
  double wait_operator_quiet();
  Snapshot snapshot();
  std::string apiserver_metrics();
  // Each of `concurrency` clients takes the next index until `count`; returns the wall time.
  double parallel(int count, int concurrency,
                  const std::function<void(kube::KubeClient&, int index)>& work);
  double create_pods_in_parallel(const std::string& step, int count);
  double delete_pods_in_parallel();
  void delete_collection(const std::string& ns);
  json phase_counts(const Snapshot& from, const Snapshot& to, double seconds) const;
  // Any failed request: counted, the first one kept for the report.
  void note_error(const std::string& what) {
    ++errors_;
    std::lock_guard lock(error_mutex_);
    if (first_error_.empty()) first_error_ = what;
  }

  const ScaleOptions& options_;
  std::atomic<pid_t>& operator_pid_;
  std::unique_ptr<ControlPlane> plane_;
  kube::ClusterConnection connection_;
  std::unique_ptr<kube::HttpTransport> transport_;
  std::unique_ptr<kube::KubeClient> client_;
  std::unique_ptr<OperatorProcess> operator_;
  std::unique_ptr<WebhookRegistration> webhook_;
  std::unique_ptr<RssSampler> rss_;
  ProcessProbe operator_probe_;
  ProcessProbe apiserver_probe_;
  ProcessProbe etcd_probe_;
  ProcessProbe controller_manager_probe_;
  kube::SystemClock clock_;
  std::unique_ptr<kube::Informer> pods_;  // the injection namespace's Pods (names and labels)
  std::string ns_;                        // labelled for injection, holds the channels
  std::string bare_ns_;                   // not selected by the webhook: the baseline
  std::atomic<long> pods_created_with_webhook_{0};
  std::atomic<long> create_errors_{0};
  std::atomic<long> errors_{0};  // every failed request, creates included
  std::mutex error_mutex_;
  std::string first_error_;
  int never_quiet_ = 0;  // waits for a quiet operator that ran out of time
  Snapshot final_;       // the run's counts end before the operator stops
  std::optional<std::uint64_t> rss_end_kib_;
  std::optional<std::uint64_t> hwm_kib_;
  json results_;
};

json Scenario::pod_object(const std::string& name, int shard, const std::string& step) const {
  return {
      {"apiVersion", "v1"},
      {"kind", "Pod"},
      {"metadata",
       {{"name", name},
        {"labels", {{"app", "scale-bench"}, {"shard", std::to_string(shard)}, {"step", step}}}}},
      {"spec",
       {{"containers", json::array({{{"name", "app"}, {"image", kPauseImage}}})},
        {"terminationGracePeriodSeconds", 0}}}};
}

std::vector<int> Scenario::shard_counts(int total) const {
  std::vector<int> counts(options_.channels, total / options_.channels);
  for (int i = 0; i < total % options_.channels; ++i) ++counts[i];
  return counts;
}

void Scenario::wait_until(const std::function<bool()>& condition, const std::string& what,
                          std::chrono::milliseconds poll) {
  const auto deadline = SteadyClock::now() + std::chrono::seconds(options_.timeout_s);
  while (!condition()) {
    if (SteadyClock::now() >= deadline) {
      throw std::runtime_error("timed out after " + std::to_string(options_.timeout_s) +
                               " s waiting for " + what);
    }
    std::this_thread::sleep_for(poll);
  }
}

bool Scenario::status_exact(const std::vector<int>& expected, std::string* differs) {
  const json list = client_->list(kChannels.in(ns_));
  int exact = 0;
  for (const auto& channel : list.at("items")) {
    const std::string name = channel["metadata"]["name"];
    const int shard = std::stoi(name.substr(name.rfind('-') + 1));
    if (shard < 0 || shard >= static_cast<int>(expected.size())) continue;
    const json status = channel.value("status", json::object());
    const int selected = status.value("selectedPods", 0);
    const int injected = status.value("injectedPods", 0);
    const int pending = status.value("pendingRestartPods", 0);
    if (status.contains("conditions") && selected == expected[shard] &&
        injected == expected[shard] && pending == 0) {
      ++exact;
    } else if (differs != nullptr) {
      *differs = name + ": selected " + std::to_string(selected) + ", injected " +
                 std::to_string(injected) + ", pending " + std::to_string(pending) + " (want " +
                 std::to_string(expected[shard]) + ")";
    }
  }
  return exact == static_cast<int>(expected.size());
}

double Scenario::wait_status_exact(const std::vector<int>& expected, const std::string& what) {
  const auto start = SteadyClock::now();
  std::string differs;
  try {
    wait_until([&] { return status_exact(expected, &differs); }, what,
               std::chrono::milliseconds(100));
  } catch (const std::runtime_error& error) {
    throw std::runtime_error(std::string(error.what()) + "; last: " + differs);
  }
  return seconds_between(start, SteadyClock::now());
}

// Until a whole second passes with under 20 ms of operator CPU: the work queue has drained. At
// most 120 s: an operator that never goes quiet is a finding, reported, not a reason to stop.
double Scenario::wait_operator_quiet() {
  const auto start = SteadyClock::now();
  double before = operator_probe_.cpu_seconds().value_or(0);
  while (seconds_between(start, SteadyClock::now()) < 120) {
    std::this_thread::sleep_for(std::chrono::seconds(1));
    const double now = operator_probe_.cpu_seconds().value_or(0);
    if (now - before < 0.02) return seconds_between(start, SteadyClock::now());
    before = now;
  }
  progress("   the operator did not go quiet within 120 s (%.0f ms of CPU in the last second)",
           (operator_probe_.cpu_seconds().value_or(0) - before) * 1000.0);
  ++never_quiet_;
  return seconds_between(start, SteadyClock::now());
}

std::string Scenario::apiserver_metrics() {
  kube::HttpRequest request;
  request.path_and_query = "/metrics";
  request.headers["Accept"] = "text/plain";
  const kube::HttpResponse response = transport_->send(request);
  if (response.status != 200) {
    throw std::runtime_error("GET /metrics on the API server answered " +
                             std::to_string(response.status));
  }
  return response.body;
}

Snapshot Scenario::snapshot() {
  Snapshot s;
  s.at = SteadyClock::now();
  s.operator_cpu = operator_probe_.cpu_seconds().value_or(0);
  s.apiserver_cpu = apiserver_probe_.cpu_seconds().value_or(0);
  s.etcd_cpu = etcd_probe_.cpu_seconds().value_or(0);
  s.controller_manager_cpu = controller_manager_probe_.cpu_seconds().value_or(0);
  const std::string metrics = apiserver_metrics();
  s.status_writes =
      sum_metric(
          metrics, "apiserver_request_total",
          {{"resource", "ipcchannels"}, {"subresource", "status"}, {"verb", "PUT|PATCH|APPLY"}})
          .value_or(0);
  s.admission_calls =
      sum_metric(metrics, "apiserver_admission_webhook_admission_duration_seconds_count",
                 {{"name", WebhookRegistration::kWebhookName}})
          .value_or(0);
  if (operator_ && operator_->running()) {
    const std::string own = operator_->health_get("/metrics");
    s.operator_status_writes = sum_metric(own, "ipcmesh_status_writes_total");
    s.operator_admissions = sum_metric(own, "ipcmesh_admission_requests_total");
    s.reconciles = sum_metric(own, "ipcmesh_reconciles_total");
    s.reconcile_seconds = sum_metric(own, "ipcmesh_reconcile_duration_seconds_sum");
  }
  // Events about the channels (core v1 shows events.k8s.io ones too: same storage); the
  // controller manager's own Events on Deployments and ReplicaSets are not counted.
  kube::ListOptions list_options;
  list_options.field_selector = "involvedObject.kind=IpcChannel";
  list_options.limit = 500;
  do {
    const json page = client_->list(kCoreEvents.in(ns_), list_options);
    for (const auto& event : page.at("items")) {
      s.channel_events += 1;
      int count = event.value("count", 0);
      if (event.contains("series") && event["series"].is_object()) {
        count = std::max(count, event["series"].value("count", 0));
      }
      s.channel_event_count += std::max(count, 1);
    }
    list_options.continue_token = page["metadata"].value("continue", "");
  } while (!list_options.continue_token.empty());
  return s;
}

json Scenario::phase_counts(const Snapshot& from, const Snapshot& to, double seconds) const {
  const double operator_cpu = to.operator_cpu - from.operator_cpu;
  const double apiserver_cpu = to.apiserver_cpu - from.apiserver_cpu;
  const double writes = to.status_writes - from.status_writes;
  const double channels = options_.channels;
  return {{"seconds", seconds},
          {"operator_cpu_s", operator_cpu},
          {"apiserver_cpu_s", apiserver_cpu},
          {"etcd_cpu_s", to.etcd_cpu - from.etcd_cpu},
          {"controller_manager_cpu_s", to.controller_manager_cpu - from.controller_manager_cpu},
          {"operator_to_apiserver_cpu", apiserver_cpu > 0 ? operator_cpu / apiserver_cpu : 0.0},
          {"status_writes", writes},
          {"status_writes_per_channel_per_s", seconds > 0 ? writes / channels / seconds : 0.0},
          {"operator_status_writes", optional_json(optional_difference(from.operator_status_writes,
                                                                       to.operator_status_writes))},
          {"channel_events", to.channel_events - from.channel_events},
          {"channel_events_per_channel", (to.channel_events - from.channel_events) / channels},
          {"channel_event_count", to.channel_event_count - from.channel_event_count},
          {"admission_calls", to.admission_calls - from.admission_calls},
          {"reconciles", optional_json(optional_difference(from.reconciles, to.reconciles))},
          {"reconcile_wall_s",
           optional_json(optional_difference(from.reconcile_seconds, to.reconcile_seconds))}};
}

double Scenario::parallel(int count, int concurrency,
                          const std::function<void(kube::KubeClient&, int)>& work) {
  std::atomic<int> next{0};
  const auto start = SteadyClock::now();
  {
    std::vector<std::jthread> workers;
    for (int w = 0; w < concurrency; ++w) {
      workers.emplace_back([&] {
        auto transport = new_transport();
        kube::KubeClient client(*transport);
        for (int index = next++; index < count; index = next++) {
          try {
            work(client, index);
          } catch (const std::exception& error) {  // counted; the wait that follows says more
            note_error(error.what());
          }
        }
      });
    }
  }
  return seconds_between(start, SteadyClock::now());
}

// Pods <step>-<i> (the step is also their `step` label) from `burst_concurrency` clients; throws
// when any create failed, since every later figure counts on exactly `count` Pods.
double Scenario::create_pods_in_parallel(const std::string& step, int count) {
  std::atomic<int> failed{0};
  const double seconds =
      parallel(count, options_.burst_concurrency, [&](kube::KubeClient& client, int i) {
        try {
          client.create(kube::kPods.in(ns_),
                        pod_object(step + "-" + std::to_string(i), i % options_.channels, step));
          ++pods_created_with_webhook_;
        } catch (const std::exception& error) {
          ++create_errors_;
          ++failed;
          note_error(error.what());
        }
      });
  if (failed > 0) {
    throw std::runtime_error(std::to_string(failed.load()) + " of " + std::to_string(count) +
                             " creates of " + step + " Pods failed; first error: " + first_error_);
  }
  progress("   created %d Pods (%s-*) in %.1f s with %d clients (%.0f Pods/s)", count, step.c_str(),
           seconds, options_.burst_concurrency, count / seconds);
  return seconds;
}

// Every Pod the informer knows, deleted by name from `delete_concurrency` clients; returns the
// time until the informer has seen the last one go.
double Scenario::delete_pods_in_parallel() {
  std::vector<std::string> names;
  for (const auto& pod : pods_->list()) names.push_back((*pod)["metadata"]["name"]);
  const auto start = SteadyClock::now();
  parallel(static_cast<int>(names.size()), options_.delete_concurrency,
           [&](kube::KubeClient& client, int i) {
             kube::HttpRequest request;
             request.method = "DELETE";
             request.path_and_query = kube::kPods.in(ns_).named(names[i]).path();
             const auto response = client.transport().send(request);
             if (response.status != 200 && response.status != 202 && response.status != 404) {
               kube::throw_api_error(response, "DELETE pod " + names[i]);
             }
           });
  wait_until([&] { return pods_->size() == 0; }, "every Pod to be gone",
             std::chrono::milliseconds(10));
  return seconds_between(start, SteadyClock::now());
}

void Scenario::delete_collection(const std::string& ns) {
  kube::HttpRequest request;
  request.method = "DELETE";
  request.path_and_query = kube::kPods.in(ns).path();
  const auto response = transport_->send(request);
  if (response.status != 200) kube::throw_api_error(response, "DELETE pods in " + ns);
}

void Scenario::start_cluster() {
  PlaneSettings settings;
  settings.dir = options_.cluster_dir;
  settings.tools_bin = std::filesystem::absolute(options_.tools_bin).string();
  settings.source_dir = IPCMESH_SOURCE_DIR;
  settings.keep = options_.keep_cluster;
  progress("starting the control plane in %s", settings.dir.c_str());
  plane_ = std::make_unique<ControlPlane>(settings);
  plane_->install_operator_prerequisites();
  connection_ = kube::load_kubeconfig({plane_->kubeconfig()});
  transport_ = new_transport();
  client_ = std::make_unique<kube::KubeClient>(*transport_);
  apiserver_probe_ = ProcessProbe(plane_->pid_of("kube-apiserver"));
  etcd_probe_ = ProcessProbe(plane_->pid_of("etcd"));
  controller_manager_probe_ = ProcessProbe(plane_->pid_of("kube-controller-manager"));
  const std::string comm =
      read_text_file("/proc/" + std::to_string(apiserver_probe_.pid()) + "/comm");
  if (comm.rfind("kube-apiserver", 0) != 0) {
    throw std::runtime_error("pids/kube-apiserver names " + comm + ", not the API server");
  }
}

void Scenario::start_operator() {
  OperatorSettings settings;
  settings.binary = options_.operator_bin;
  settings.log_level = options_.operator_log_level;
  settings.extra_flags = options_.operator_flags;
  progress("starting %s", settings.binary.c_str());
  operator_ = std::make_unique<OperatorProcess>(*plane_, settings);
  operator_pid_ = operator_->pid();
  operator_->wait_ready(std::chrono::seconds(120));
  operator_probe_ = ProcessProbe(operator_->pid());
  rss_ = std::make_unique<RssSampler>(operator_probe_);
  // Only the leader reconciles: the figures mean nothing before it leads.
  wait_until([&] { return sum_metric(operator_->health_get("/metrics"), "ipcmesh_leader") == 1.0; },
             "the operator to lead (ipcmesh_leader 1)", std::chrono::milliseconds(200));
  webhook_ = std::make_unique<WebhookRegistration>(*plane_, operator_->webhook_port());
}

void Scenario::create_namespaces() {
  const std::string suffix = std::to_string(::getpid());
  ns_ = "scale-" + suffix;
  bare_ns_ = "scale-bare-" + suffix;
  client_->create(
      kube::kNamespaces,
      {{"apiVersion", "v1"},
       {"kind", "Namespace"},
       {"metadata", {{"name", ns_}, {"labels", {{"ipcmesh.io/injection", "enabled"}}}}}});
  client_->create(
      kube::kNamespaces,
      {{"apiVersion", "v1"}, {"kind", "Namespace"}, {"metadata", {{"name", bare_ns_}}}});
  for (const auto& ns : {ns_, bare_ns_}) {
    wait_until(
        [&] {
          return client_->get_if_exists(kServiceAccounts.in(ns).named("default")).has_value();
        },
        "the default ServiceAccount of " + ns, std::chrono::milliseconds(100));
  }
}

void Scenario::create_channels() {
  for (int i = 0; i < options_.channels; ++i) {
    client_->create(kChannels.in(ns_),
                    {{"apiVersion", "ipcmesh.io/v1alpha1"},
                     {"kind", "IpcChannel"},
                     {"metadata", {{"name", "shard-" + std::to_string(i)}}},
                     {"spec",
                      {{"selector", {{"matchLabels", {{"shard", std::to_string(i)}}}}},
                       {"transport", "SharedMemory"},
                       {"scope", "Pod"}}}});
  }
  wait_status_exact(std::vector<int>(options_.channels, 0), "the channels' first status");
}

void Scenario::start_pod_informer() {
  kube::InformerOptions informer;
  informer.collection = kube::kPods.in(ns_);
  informer.api_version = "v1";
  informer.kind = "Pod";
  informer.name = "scale-bench-pods";
  // Names and labels are all the bench needs: the injected Pods are several KiB each.
  informer.transform = [](json& pod) {
    json metadata = {{"name", pod["metadata"]["name"]},
                     {"namespace", pod["metadata"]["namespace"]},
                     {"resourceVersion", pod["metadata"]["resourceVersion"]},
                     {"labels", pod["metadata"].value("labels", json::object())}};
    pod = {{"metadata", std::move(metadata)}};
  };
  pods_ = std::make_unique<kube::Informer>(*transport_, clock_, informer);
  pods_->start();
  wait_until([&] { return pods_->has_synced(); }, "the bench's Pod informer to sync");
}

// 1. One create at a time, alternating namespaces so drift hits both alike.
void Scenario::sequential_creates() {
  progress("1. sequential creates: %d + %d warm-up per namespace", options_.sequential,
           options_.warmup);
  std::vector<double> with_ms;
  std::vector<double> without_ms;
  long errors = 0;
  for (int k = 0; k < options_.warmup + options_.sequential; ++k) {
    for (int side = 0; side < 2; ++side) {
      const bool with_webhook = (side == 0) == (k % 2 == 0);
      const std::string ns = with_webhook ? ns_ : bare_ns_;
      const json pod = pod_object("seq-" + std::to_string(k), k % options_.channels, "seq");
      const auto start = SteadyClock::now();
      try {
        client_->create(kube::kPods.in(ns), pod);
      } catch (const std::exception& error) {
        ++errors;
        ++create_errors_;
        note_error(error.what());
        continue;
      }
      const double ms = ms_since(start);
      if (with_webhook) ++pods_created_with_webhook_;
      if (k < options_.warmup) continue;
      (with_webhook ? with_ms : without_ms).push_back(ms);
    }
  }
  const LatencySummary with = summarize(with_ms);
  const LatencySummary without = summarize(without_ms);
  results_["sequential"] = added_latency_json(with, without);
  results_["sequential"]["errors"] = errors;
  progress("   with webhook p50 %.2f p99 %.2f ms; without p50 %.2f p99 %.2f ms", with.p50_ms,
           with.p99_ms, without.p50_ms, without.p99_ms);
}

// 2. `burst_concurrency` clients released at once (std::barrier), round after round, the
// namespaces alternating.
void Scenario::burst_creates() {
  const int concurrency = options_.burst_concurrency;
  const int rounds = options_.burst_rounds * 2;
  progress("2. bursts: %d rounds of %d concurrent creates per namespace", options_.burst_rounds,
           concurrency);
  if (rounds == 0) return;
  std::barrier sync(concurrency + 1);
  std::string round_ns;
  int round_index = 0;
  std::mutex samples_mutex;
  std::vector<double> with_ms;
  std::vector<double> without_ms;
  std::atomic<long> errors{0};
  {
    std::vector<std::jthread> workers;
    for (int w = 0; w < concurrency; ++w) {
      workers.emplace_back([&, w] {
        auto transport = new_transport();
        kube::KubeClient client(*transport);
        try {
          client.get(kube::kNamespaces.named(ns_));  // the TLS connection up before the clock runs
        } catch (const std::exception& error) {
          note_error(error.what());
        }
        for (int r = 0; r < rounds; ++r) {
          sync.arrive_and_wait();  // released together
          const bool with_webhook = round_ns == ns_;
          const json pod =
              pod_object("burst-" + std::to_string(round_index) + "-" + std::to_string(w),
                         w % options_.channels, "burst");
          const auto start = SteadyClock::now();
          try {
            client.create(kube::kPods.in(round_ns), pod);
            const double ms = ms_since(start);
            std::lock_guard lock(samples_mutex);
            (with_webhook ? with_ms : without_ms).push_back(ms);
            if (with_webhook) ++pods_created_with_webhook_;
          } catch (const std::exception& error) {
            ++errors;
            ++create_errors_;
            note_error(error.what());
          }
          sync.arrive_and_wait();  // the round is over
        }
      });
    }
    for (int r = 0; r < rounds; ++r) {
      round_index = r;
      round_ns = ((r / 2) % 2 == 0) == (r % 2 == 0) ? ns_ : bare_ns_;
      sync.arrive_and_wait();
      sync.arrive_and_wait();
      std::this_thread::sleep_for(std::chrono::milliseconds(300));
    }
  }
  const LatencySummary with = summarize(with_ms);
  const LatencySummary without = summarize(without_ms);
  results_["burst"] = added_latency_json(with, without);
  results_["burst"]["concurrency"] = concurrency;
  results_["burst"]["errors"] = errors.load();
  progress("   with webhook p50 %.2f p99 %.2f ms; without p50 %.2f p99 %.2f ms", with.p50_ms,
           with.p99_ms, without.p50_ms, without.p99_ms);
}

// 3. Deployments (one per shard) 0 -> N Pods in total, created by the controller manager.
void Scenario::deployment_scale_up() {
  progress("   clearing the Pods of steps 1-2");
  delete_collection(ns_);
  delete_collection(bare_ns_);
  wait_until([&] { return pods_->size() == 0; }, "the Pods of steps 1-2 to be gone");
  wait_status_exact(std::vector<int>(options_.channels, 0), "the channels to count 0 Pods");
  const std::vector<int> counts = shard_counts(options_.pods);
  for (int i = 0; i < options_.channels; ++i) {
    const std::string shard = std::to_string(i);
    const json labels = {{"app", "scale-bench"}, {"shard", shard}, {"step", "deploy"}};
    client_->create(kDeployments.in(ns_),
                    {{"apiVersion", "apps/v1"},
                     {"kind", "Deployment"},
                     {"metadata", {{"name", "shard-" + shard}}},
                     {"spec",
                      {{"replicas", 0},
                       {"selector", {{"matchLabels", labels}}},
                       {"template",
                        {{"metadata", {{"labels", labels}}},
                         {"spec",
                          {{"containers", json::array({{{"name", "app"}, {"image", kPauseImage}}})},
                           {"terminationGracePeriodSeconds", 0}}}}}}}});
  }
  std::this_thread::sleep_for(std::chrono::seconds(2));  // their ReplicaSets (0 replicas) exist
  wait_operator_quiet();
  progress("3. Deployments 0 -> %d Pods (%d Deployments)", options_.pods, options_.channels);
  const Snapshot before = snapshot();
  const auto start = SteadyClock::now();
  for (int i = 0; i < options_.channels; ++i) {
    client_->patch(kDeployments.in(ns_).named("shard-" + std::to_string(i)),
                   {{"spec", {{"replicas", counts[i]}}}}, kube::PatchType::kMerge);
  }
  wait_until([&] { return static_cast<int>(pods_->size()) >= options_.pods; },
             "the controller manager to create every Pod", std::chrono::milliseconds(20));
  const double all_created_s = seconds_between(start, SteadyClock::now());
  progress("   %d Pods exist after %.1f s", options_.pods, all_created_s);
  wait_status_exact(counts, "every channel's status to count its Pods");
  const double exact_s = seconds_between(start, SteadyClock::now());
  const Snapshot exact = snapshot();
  const std::uint64_t rss_at_exact = rss_->peak_kib();
  progress("   status exact after %.1f s", exact_s);
  const double tail_s = wait_operator_quiet();
  const Snapshot quiet = snapshot();
  json result = phase_counts(before, exact, exact_s);
  result["pods"] = options_.pods;
  result["all_pods_created_s"] = all_created_s;
  result["status_exact_s"] = exact_s;
  result["status_exact_after_last_pod_s"] = exact_s - all_created_s;
  result["pods_per_s"] = options_.pods / all_created_s;
  result["operator_cpu_after_exact_s"] = quiet.operator_cpu - exact.operator_cpu;
  result["operator_busy_after_exact_s"] = tail_s;
  result["operator_rss_peak_mib"] = static_cast<double>(rss_at_exact) / 1024.0;
  result["operator_rss_end_mib"] = mib(operator_probe_.status_field_kib("VmRSS"));
  result["channel_events_including_tail"] = quiet.channel_events - before.channel_events;
  result["status_writes_including_tail"] = quiet.status_writes - before.status_writes;
  results_["deployment"] = result;
  progress("   operator CPU %.1f s, API server CPU %.1f s, status writes %.0f, channel Events %.0f",
           result["operator_cpu_s"].get<double>(), result["apiserver_cpu_s"].get<double>(),
           result["status_writes"].get<double>(), result["channel_events"].get<double>());
}

// 4. A label patch of one Pod, paced, with N Pods in the namespace; the operator's CPU beyond its
// idle rate, per event.
void Scenario::pod_events() {
  if (options_.events == 0) return;
  progress("4. %d label patches of one Pod, every %d ms, with %d Pods in the namespace",
           options_.events, options_.event_interval_ms, options_.pods);
  const std::string pod_name = (*pods_->list().front())["metadata"]["name"];
  const double idle_window_s = 5.0;
  const double idle_before = operator_probe_.cpu_seconds().value_or(0);
  const auto idle_clock_before = operator_probe_.cpu_clock_seconds();
  std::this_thread::sleep_for(std::chrono::duration<double>(idle_window_s));
  const double idle_rate =
      (operator_probe_.cpu_seconds().value_or(0) - idle_before) / idle_window_s;
  const auto idle_clock_after = operator_probe_.cpu_clock_seconds();
  const Snapshot before = snapshot();
  // Read after and before the snapshots, whose /metrics scrapes cost the operator CPU too.
  const auto clock_before = operator_probe_.cpu_clock_seconds();
  const auto clock_before_at = SteadyClock::now();
  auto next = SteadyClock::now();
  for (int k = 0; k < options_.events; ++k) {
    std::this_thread::sleep_until(next);
    client_->patch(kube::kPods.in(ns_).named(pod_name),
                   {{"metadata", {{"labels", {{"bench-tick", std::to_string(k)}}}}}},
                   kube::PatchType::kMerge);
    next += std::chrono::milliseconds(options_.event_interval_ms);
  }
  const double patching_s = seconds_between(before.at, SteadyClock::now());
  wait_operator_quiet();
  const auto clock_after = operator_probe_.cpu_clock_seconds();
  const double clock_window_s = seconds_between(clock_before_at, SteadyClock::now());
  const Snapshot after = snapshot();
  const double elapsed = seconds_between(before.at, after.at);
  json result = phase_counts(before, after, elapsed);
  const double operator_cpu = after.operator_cpu - before.operator_cpu;
  result["events"] = options_.events;
  result["pods_in_namespace"] = options_.pods;
  result["patching_s"] = patching_s;
  result["operator_idle_cpu_per_s"] = idle_rate;
  const double per_event_ticks =
      std::max(0.0, operator_cpu - idle_rate * elapsed) / options_.events * 1000.0;
  result["operator_cpu_per_event_ms_ticks"] = per_event_ticks;
  result["operator_cpu_per_event_ms"] = per_event_ticks;
  result["cpu_source"] = "utime+stime (10 ms ticks)";
  if (idle_clock_before && idle_clock_after && clock_before && clock_after) {
    // The process CPU clock, to the nanosecond; the tick figure stays beside it.
    const double idle_clock_rate = (*idle_clock_after - *idle_clock_before) / idle_window_s;
    result["operator_idle_cpu_per_s"] = idle_clock_rate;
    result["operator_cpu_per_event_ms"] =
        std::max(0.0, *clock_after - *clock_before - idle_clock_rate * clock_window_s) /
        options_.events * 1000.0;
    result["cpu_source"] = "the operator's process CPU-time clock (clock_getcpuclockid, ns)";
  }
  result["status_writes_per_event"] = result["status_writes"].get<double>() / options_.events;
  result["status_writes_per_channel_per_s"] =
      result["status_writes"].get<double>() / options_.channels / patching_s;
  result["channel_events_per_event"] = result["channel_events"].get<double>() / options_.events;
  if (!result["reconciles"].is_null()) {
    result["reconciles_per_event"] = result["reconciles"].get<double>() / options_.events;
    const double reconciles = result["reconciles"].get<double>();
    result["reconcile_ms_each"] =
        reconciles > 0 ? result["reconcile_wall_s"].get<double>() / reconciles * 1000.0 : 0.0;
    // ipcmesh_reconcile_duration_seconds is wall time: on 2 busy cores it exceeds the CPU.
  }
  results_["pod_event"] = result;
  progress("   operator CPU per event %.3f ms (idle %.2f ms/s; from 10 ms ticks: %.2f ms)",
           result["operator_cpu_per_event_ms"].get<double>(),
           result["operator_idle_cpu_per_s"].get<double>() * 1000.0, per_event_ticks);
}

// 5. Deleting N Pods with the operator, then without it (stopped, webhook unregistered). Both
// times the Pods are created by the bench (no owner), so the two deletions are alike.
void Scenario::deletes() {
  progress("5. deleting %d Pods with and without the operator", options_.pods);
  const std::vector<int> counts = shard_counts(options_.pods);
  const std::vector<int> zero(options_.channels, 0);
  // The Deployments go first (scaled to 0 so no ReplicaSet re-creates what we delete).
  const auto teardown_start = SteadyClock::now();
  for (int i = 0; i < options_.channels; ++i) {
    const ResourcePath deployment = kDeployments.in(ns_).named("shard-" + std::to_string(i));
    client_->patch(deployment, {{"spec", {{"replicas", 0}}}}, kube::PatchType::kMerge);
    kube::HttpRequest request;
    request.method = "DELETE";
    request.path_and_query = deployment.path() + "?propagationPolicy=Background";
    transport_->send(request);
  }
  delete_pods_in_parallel();
  wait_status_exact(zero, "the channels to count 0 Pods after the Deployments");
  results_["delete"]["deployment_teardown_s"] = seconds_between(teardown_start, SteadyClock::now());
  wait_operator_quiet();

  // With the operator.
  results_["delete"]["refill_create_s"] = create_pods_in_parallel("fill-a", options_.pods);
  const auto fill_start = SteadyClock::now();
  wait_until([&] { return static_cast<int>(pods_->size()) >= options_.pods; }, "the refill");
  wait_status_exact(counts, "the channels to count the refill");
  results_["delete"]["refill_status_exact_s"] = seconds_between(fill_start, SteadyClock::now());
  wait_operator_quiet();
  const Snapshot before_with = snapshot();
  const double with_s = delete_pods_in_parallel();
  const double with_status_s = with_s + wait_status_exact(zero, "the channels to count 0 Pods");
  const Snapshot after_with = snapshot();
  progress("   with the operator: gone in %.2f s (status exact after %.2f s)", with_s,
           with_status_s);
  json with_counts =
      phase_counts(before_with, after_with, seconds_between(before_with.at, after_with.at));
  wait_operator_quiet();

  // Without: the same Pods again (injected: the operator serves their creation), then the
  // operator stops and its webhook goes.
  create_pods_in_parallel("fill-b", options_.pods);
  wait_until([&] { return static_cast<int>(pods_->size()) >= options_.pods; }, "the second refill");
  wait_status_exact(counts, "the channels to count the second refill");
  wait_operator_quiet();
  final_ = snapshot();  // the run's counts end here, while the operator still answers
  rss_end_kib_ = operator_probe_.status_field_kib("VmRSS");
  hwm_kib_ = operator_probe_.status_field_kib("VmHWM");
  webhook_->remove();
  operator_->stop();
  operator_pid_ = -1;
  std::this_thread::sleep_for(std::chrono::seconds(2));
  const double apiserver_before = apiserver_probe_.cpu_seconds().value_or(0);
  const double without_s = delete_pods_in_parallel();
  const double apiserver_without = apiserver_probe_.cpu_seconds().value_or(0) - apiserver_before;
  progress("   without the operator: gone in %.2f s", without_s);
  results_["delete"].update({{"pods", options_.pods},
                             {"concurrency", options_.delete_concurrency},
                             {"with_operator_s", with_s},
                             {"with_operator_status_exact_s", with_status_s},
                             {"without_operator_s", without_s},
                             {"ratio", without_s > 0 ? with_s / without_s : 0.0},
                             {"with_operator", with_counts},
                             {"without_operator_apiserver_cpu_s", apiserver_without}});
}

json Scenario::run() {
  results_["bench"] = "ipcmesh-scale-bench";
  results_["date"] = utc_now_iso8601();
  results_["machine"] = machine_info();
  results_["load_average_start"] = load_average();
  results_["parameters"] = {{"pods", options_.pods},
                            {"channels", options_.channels},
                            {"sequential", options_.sequential},
                            {"warmup", options_.warmup},
                            {"burst_rounds", options_.burst_rounds},
                            {"burst_concurrency", options_.burst_concurrency},
                            {"events", options_.events},
                            {"event_interval_ms", options_.event_interval_ms},
                            {"delete_concurrency", options_.delete_concurrency},
                            {"operator_bin", options_.operator_bin},
                            {"operator_flags", options_.operator_flags},
                            {"operator_log_level", options_.operator_log_level}};
  start_cluster();
  start_operator();
  create_namespaces();
  create_channels();
  start_pod_informer();
  wait_operator_quiet();
  const Snapshot start = snapshot();

  sequential_creates();
  burst_creates();
  deployment_scale_up();
  pod_events();
  deletes();

  const long created_with_webhook = pods_created_with_webhook_.load() + options_.pods;
  const double admission_calls = final_.admission_calls - start.admission_calls;
  results_["counts"] = {
      {"pods_created_with_webhook", created_with_webhook},
      {"admission_calls", admission_calls},
      {"admission_calls_per_pod", admission_calls / static_cast<double>(created_with_webhook)},
      {"operator_admission_requests",
       optional_json(optional_difference(start.operator_admissions, final_.operator_admissions))},
      {"status_writes", final_.status_writes - start.status_writes},
      {"operator_status_writes", optional_json(optional_difference(start.operator_status_writes,
                                                                   final_.operator_status_writes))},
      {"channel_events", final_.channel_events - start.channel_events},
      {"channel_event_count", final_.channel_event_count - start.channel_event_count},
      {"create_errors", create_errors_.load()},
      {"request_errors", errors_.load()},
      {"operator_never_quiet", never_quiet_},
      {"first_error", first_error_}};
  results_["operator_memory"] = {{"rss_peak_mib", static_cast<double>(rss_->peak_kib()) / 1024.0},
                                 {"rss_end_mib", mib(rss_end_kib_)},
                                 {"vm_hwm_mib", mib(hwm_kib_)}};
  results_["load_average_end"] = load_average();
  results_["cluster_dir"] = plane_->dir();
  pods_->stop();
  return results_;
}

}  // namespace

json run_scale_scenario(const ScaleOptions& options, std::atomic<pid_t>& operator_pid) {
  Scenario scenario(options, operator_pid);
  return scenario.run();
}

}  // namespace ipcmesh::bench::scale
