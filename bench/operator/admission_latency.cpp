#include "admission_latency.hpp"

#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <mutex>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <thread>

#include "objects.hpp"
#include "tls_client.hpp"
#include "webhook/admission.hpp"
#include "webhook/admission_server.hpp"

namespace ipcmesh::bench::operator_bench {
namespace {

using nlohmann::json;
using Clock = std::chrono::steady_clock;

// Server-side durations from the AdmissionObserver (called on cpprestsdk pool threads).
class ServerSamples {
 public:
  void record(const webhook::AdmissionEvent& event) {
    std::lock_guard lock(mutex_);
    samples_.push_back(event.duration.count());
    if (event.outcome != "mutated") ++not_mutated_;
  }
  // Takes the samples since the last take.
  std::vector<std::int64_t> take(std::uint64_t& not_mutated) {
    std::lock_guard lock(mutex_);
    not_mutated = not_mutated_;
    not_mutated_ = 0;
    std::vector<std::int64_t> out;
    out.swap(samples_);
    out.reserve(1 << 16);
    samples_.reserve(1 << 16);
    return out;
  }

 private:
  std::mutex mutex_;
  std::vector<std::int64_t> samples_;
  std::uint64_t not_mutated_ = 0;
};

// An AdmissionReview CREATE for a Deployment's Pod that channel-0 of its namespace selects; the
// uid differs per request (the answer must echo it).
class ReviewFactory {
 public:
  explicit ReviewFactory(const ClusterShape& shape) {
    json review = {
        {"apiVersion", "admission.k8s.io/v1"},
        {"kind", "AdmissionReview"},
        {"request",
         {{"uid", "@UID@"},
          {"kind", {{"group", ""}, {"version", "v1"}, {"kind", "Pod"}}},
          {"resource", {{"group", ""}, {"version", "v1"}, {"resource", "pods"}}},
          {"requestKind", {{"group", ""}, {"version", "v1"}, {"kind", "Pod"}}},
          {"requestResource", {{"group", ""}, {"version", "v1"}, {"resource", "pods"}}},
          {"namespace", namespace_of(shape, 0)},
          {"operation", "CREATE"},
          {"userInfo",
           {{"username", "system:serviceaccount:kube-system:replicaset-controller"},
            {"uid", "6b7a3c2e-1d0f-4e8a-9b7c-5d4e3f2a1b0c"},
            {"groups", json::array({"system:serviceaccounts", "system:serviceaccounts:kube-system",
                                    "system:authenticated"})}}},
          {"object", make_pod(shape, 0, /*with_status=*/false)},
          {"oldObject", nullptr},
          {"dryRun", false},
          {"options", {{"kind", "CreateOptions"}, {"apiVersion", "meta.k8s.io/v1"}}}}}};
    const std::string text = review.dump();
    const auto at = text.find("@UID@");
    prefix_ = text.substr(0, at);
    suffix_ = text.substr(at + 5);
  }
  std::string uid(std::uint64_t n) const { return "bench-" + std::to_string(n); }
  std::string body(const std::string& uid) const { return prefix_ + uid + suffix_; }

 private:
  std::string prefix_, suffix_;
};

bool is_patch_answer(const HttpReply& reply, const std::string& uid) {
  return reply.status == 200 && reply.body.find("\"" + uid + "\"") != std::string::npos &&
         reply.body.find("JSONPatch") != std::string::npos;
}

struct ClientSamples {
  std::vector<std::int64_t> nanoseconds;
  std::uint64_t errors = 0;
  std::uint64_t late = 0;
  std::uint64_t answered = 0;
};

// Open loop on one connection: request n is due at start + n/rate; a late request goes at once
// (one connection cannot pipeline) and is counted.
ClientSamples run_steady(TlsClient& client, const ReviewFactory& reviews, double rate,
                         double seconds, std::uint64_t& next_uid) {
  ClientSamples out;
  const auto period = std::chrono::nanoseconds(static_cast<std::int64_t>(1e9 / rate));
  const auto count = static_cast<std::uint64_t>(rate * seconds);
  out.nanoseconds.reserve(count);
  const auto start = Clock::now() + std::chrono::milliseconds(5);
  for (std::uint64_t n = 0; n < count; ++n) {
    const auto due = start + period * static_cast<std::int64_t>(n);
    std::this_thread::sleep_until(due);
    const std::string uid = reviews.uid(next_uid++);
    const std::string body = reviews.body(uid);
    const auto sent = Clock::now();
    if (sent - due > std::chrono::milliseconds(1)) ++out.late;
    try {
      const HttpReply reply = client.post("/mutate-pods", body);
      out.nanoseconds.push_back((Clock::now() - sent).count());
      ++out.answered;
      if (!is_patch_answer(reply, uid)) ++out.errors;
    } catch (const std::exception&) {
      ++out.errors;
      throw;
    }
  }
  return out;
}

// Closed loop: as fast as the answers come.
ClientSamples run_closed(TlsClient& client, const ReviewFactory& reviews, double seconds,
                         std::uint64_t first_uid) {
  ClientSamples out;
  out.nanoseconds.reserve(1 << 16);
  const auto end = Clock::now() + std::chrono::duration_cast<Clock::duration>(
                                      std::chrono::duration<double>(seconds));
  std::uint64_t n = first_uid;
  while (Clock::now() < end) {
    const std::string uid = reviews.uid(n++);
    const std::string body = reviews.body(uid);
    const auto sent = Clock::now();
    const HttpReply reply = client.post("/mutate-pods", body);
    out.nanoseconds.push_back((Clock::now() - sent).count());
    ++out.answered;
    if (!is_patch_answer(reply, uid)) ++out.errors;
  }
  return out;
}

std::shared_ptr<webhook::ChannelSnapshot> make_catalog(const ClusterShape& shape,
                                                       std::size_t count) {
  webhook::ChannelList list;
  // Channels of namespace 0 first (channel-0 selects the reviewed Pod), the rest elsewhere.
  for (std::size_t i = 0; i < count; ++i) {
    auto channel = api::ipc_channel_from_json(make_channel(shape, i * shape.namespaces));
    if (!channel) throw std::runtime_error("bench channel invalid: " + channel.error().message);
    list.push_back(std::move(*channel));
  }
  auto catalog = std::make_shared<webhook::ChannelSnapshot>();
  catalog->replace(std::move(list));
  return catalog;
}

}  // namespace

Percentiles percentiles(std::vector<std::int64_t> nanoseconds) {
  Percentiles out;
  out.count = nanoseconds.size();
  if (nanoseconds.empty()) return out;
  std::sort(nanoseconds.begin(), nanoseconds.end());
  auto at = [&](double q) {
    const auto index = static_cast<std::size_t>(q * static_cast<double>(nanoseconds.size() - 1));
    return static_cast<double>(nanoseconds[index]) / 1e6;
  };
  out.p50_ms = at(0.50);
  out.p99_ms = at(0.99);
  out.max_ms = static_cast<double>(nanoseconds.back()) / 1e6;
  return out;
}

LatencyResult measure_admission_latency(const LatencyOptions& options) {
  ClusterShape shape;
  auto catalog = make_catalog(shape, options.channels);
  ServerSamples server_samples;
  webhook::AdmissionHandler handler(
      catalog, webhook::MutationOptions{},
      [&server_samples](const webhook::AdmissionEvent& event) { server_samples.record(event); });

  std::unique_ptr<webhook::AdmissionServer> server;
  int port = 0;
  for (int attempt = 0; attempt < 20 && !server; ++attempt) {
    port = 20000 + static_cast<int>((::getpid() + attempt * 7) % 20000);
    server = std::make_unique<webhook::AdmissionServer>(
        webhook::AdmissionServerConfig{"https://127.0.0.1:" + std::to_string(port),
                                       options.certificate_file, options.key_file},
        [&handler](const webhook::HttpRequest& request) { return handler.handle(request); });
    try {
      server->start();
    } catch (const std::exception&) {
      server.reset();
    }
  }
  if (!server) throw std::runtime_error("latency: the admission server did not start");

  ReviewFactory reviews(shape);
  LatencyResult result;
  std::uint64_t next_uid = 0;
  {
    TlsClient probe(port, options.certificate_file);
    const std::string uid = reviews.uid(next_uid++);
    const std::string body = reviews.body(uid);
    const HttpReply reply = probe.post("/mutate-pods", body);
    if (!is_patch_answer(reply, uid)) {
      throw std::runtime_error("latency: the review is not answered with a patch (HTTP " +
                               std::to_string(reply.status) + "): " + reply.body.substr(0, 300));
    }
    result.request_bytes = body.size();
    result.response_bytes = reply.body.size();
  }

  // Steady rate, one keep-alive connection; the warm-up's samples are dropped.
  std::uint64_t not_mutated = 0;
  {
    TlsClient client(port, options.certificate_file);
    run_steady(client, reviews, options.rate, options.warmup_seconds, next_uid);
    server_samples.take(not_mutated);
    const auto started = Clock::now();
    ClientSamples samples =
        run_steady(client, reviews, options.rate, options.steady_seconds, next_uid);
    const double elapsed = std::chrono::duration<double>(Clock::now() - started).count();
    auto& run = result.steady;
    run.name = "steady";
    run.connections = 1;
    run.seconds = elapsed;
    run.achieved_rate = static_cast<double>(samples.answered) / elapsed;
    run.late_sends = samples.late;
    run.client = percentiles(std::move(samples.nanoseconds));
    run.server = percentiles(server_samples.take(not_mutated));
    run.errors = samples.errors + not_mutated;
  }

  // Maximum: closed loop per connection, each on its own thread.
  {
    const int connections = std::max(1, options.max_connections);
    std::vector<std::unique_ptr<TlsClient>> clients;
    for (int i = 0; i < connections; ++i) {
      clients.push_back(std::make_unique<TlsClient>(port, options.certificate_file));
      run_closed(*clients.back(), reviews, options.warmup_seconds / 2, next_uid + 1'000'000 * i);
    }
    server_samples.take(not_mutated);
    std::vector<ClientSamples> samples(static_cast<std::size_t>(connections));
    std::vector<std::thread> threads;
    std::atomic<int> failures{0};
    const auto started = Clock::now();
    for (int i = 0; i < connections; ++i) {
      threads.emplace_back([&, i] {
        try {
          samples[static_cast<std::size_t>(i)] =
              run_closed(*clients[static_cast<std::size_t>(i)], reviews, options.max_seconds,
                         next_uid + 10'000'000 * static_cast<std::uint64_t>(i + 1));
        } catch (const std::exception&) {
          ++failures;
        }
      });
    }
    for (auto& thread : threads) thread.join();
    const double elapsed = std::chrono::duration<double>(Clock::now() - started).count();
    ClientSamples all;
    for (auto& s : samples) {
      all.nanoseconds.insert(all.nanoseconds.end(), s.nanoseconds.begin(), s.nanoseconds.end());
      all.answered += s.answered;
      all.errors += s.errors;
    }
    auto& run = result.maximum;
    run.name = "maximum";
    run.connections = connections;
    run.seconds = elapsed;
    run.achieved_rate = static_cast<double>(all.answered) / elapsed;
    run.client = percentiles(std::move(all.nanoseconds));
    run.server = percentiles(server_samples.take(not_mutated));
    run.errors = all.errors + not_mutated + static_cast<std::uint64_t>(failures.load());
  }
  server->stop();
  return result;
}

}  // namespace ipcmesh::bench::operator_bench
