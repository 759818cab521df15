#define _TURN_OFF_PLATFORM_STRING
#include "watch_events.hpp"

// clang-format off
#include <utility>  // before pplx: boost/asio/awaitable.hpp uses std::exchange unincluded
#include <pplx/threadpool.h>
// clang-format on

#include <netinet/in.h>
#include <poll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <future>
#include <mutex>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <thread>

#include "controller/channel_api.hpp"
#include "controller/reconcile_loop.hpp"
#include "controller/work_queue.hpp"
#include "kube/informer.hpp"
#include "main/operator_caches.hpp"
#include "scripted_api_server.hpp"

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

double process_cpu_seconds() {
  rusage usage{};
  ::getrusage(RUSAGE_SELF, &usage);
  auto seconds = [](const timeval& t) { return t.tv_sec + t.tv_usec / 1e6; };
  return seconds(usage.ru_utime) + seconds(usage.ru_stime);
}

void check(bool ok, const char* what) {
  if (!ok) throw std::runtime_error(std::string(what) + ": " + std::strerror(errno));
}

void write_all(int fd, std::string_view bytes) {
  while (!bytes.empty()) {
    const ssize_t n = ::write(fd, bytes.data(), bytes.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) ::_exit(0);  // the operator side went away
    bytes.remove_prefix(static_cast<std::size_t>(n));
  }
}

// Event `k`: a MODIFIED Pod whose only change is one label no selector reads (as a rollout tick
// or a `kubectl label` would make), with a new resourceVersion. The API server writes "type"
// first; nlohmann would sort it after "object", so the line is put together by hand.
std::string event_line(const ClusterShape& shape, std::size_t k) {
  json pod = make_pod(shape, (k * 7919) % shape.pods);
  pod["apiVersion"] = "v1";
  pod["kind"] = "Pod";
  pod["metadata"]["labels"]["rollout-tick"] = std::to_string(k);
  pod["metadata"]["resourceVersion"] = std::to_string(1000000 + k);
  return R"({"type":"MODIFIED","object":)" + pod.dump() + "}\n";
}

// The child: answers one watch (an HTTP request when `http`) with `events` lines, one chunk each
// as kube-apiserver flushes them, then keeps the stream open until the operator side closes it.
[[noreturn]] void serve_events(int fd, const ClusterShape& shape, const EventsOptions& options) {
  const bool http = options.transport == "cpprest";
  char buffer[4096];
  if (http) {
    std::string request;
    while (request.find("\r\n\r\n") == std::string::npos) {
      const ssize_t n = ::read(fd, buffer, sizeof(buffer));
      if (n <= 0) ::_exit(1);
      request.append(buffer, static_cast<std::size_t>(n));
    }
    write_all(fd,
              "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
              "Transfer-Encoding: chunked\r\n\r\n");
  }
  const auto started = std::chrono::steady_clock::now();
  for (std::size_t k = 0; k < options.events; ++k) {
    const std::string line = event_line(shape, k);
    if (options.interval.count() > 0) std::this_thread::sleep_until(started + k * options.interval);
    if (!http) {
      write_all(fd, line);
      continue;
    }
    char size[32];
    std::snprintf(size, sizeof(size), "%zx\r\n", line.size());
    write_all(fd, std::string(size) + line + "\r\n");
  }
  while (::read(fd, buffer, sizeof(buffer)) > 0) {
  }
  ::_exit(0);
}

// Opens at most once: what lets the measured part start after the caches synced.
class Gate {
 public:
  void open() {
    std::lock_guard lock(mutex_);
    open_ = true;
    changed_.notify_all();
  }
  void wait() {
    std::unique_lock lock(mutex_);
    changed_.wait(lock, [this] { return open_; });
  }

 private:
  std::mutex mutex_;
  std::condition_variable changed_;
  bool open_ = false;
};

// The scripted watch: the lines the child writes, read in large blocks and handed to the
// informer's line handler with next to no transport cost of its own.
class SocketWatch final : public kube::HttpTransport {
 public:
  SocketWatch(int fd, Gate& gate) : fd_(fd), gate_(gate) {}

  kube::HttpResponse send(const kube::HttpRequest&) override { return {404, {}, ""}; }

  kube::HttpResponse stream(const kube::HttpRequest&, const kube::LineHandler& on_line,
                            kube::Cancellation& cancellation) override {
    gate_.wait();
    std::vector<char> block(256 * 1024);
    std::string pending;
    while (!cancellation.cancelled()) {
      pollfd ready{fd_, POLLIN, 0};
      if (::poll(&ready, 1, 100) <= 0) continue;
      const ssize_t n = ::read(fd_, block.data(), block.size());
      if (n <= 0) break;
      std::string_view text(block.data(), static_cast<std::size_t>(n));
      for (auto end = text.find('\n'); end != std::string_view::npos; end = text.find('\n')) {
        pending.append(text.substr(0, end));
        if (!on_line(pending)) return {200, {}, ""};
        pending.clear();
        text.remove_prefix(end + 1);
      }
      pending.append(text);
    }
    cancellation.wait_for(std::chrono::hours(24));
    throw kube::TransportError(kube::TransportError::Kind::kCancelled, "stopped");
  }

 private:
  int fd_;
  Gate& gate_;
};

// The cpprest watch: the operator's real transport, once the gate opens.
class GatedWatch final : public kube::HttpTransport {
 public:
  GatedWatch(std::unique_ptr<kube::HttpTransport> inner, Gate& gate)
      : inner_(std::move(inner)), gate_(gate) {}

  kube::HttpResponse send(const kube::HttpRequest& request) override {
    return inner_->send(request);
  }
  kube::HttpResponse stream(const kube::HttpRequest& request, const kube::LineHandler& on_line,
                            kube::Cancellation& cancellation) override {
    gate_.wait();
    return inner_->stream(request, on_line, cancellation);
  }

 private:
  std::unique_ptr<kube::HttpTransport> inner_;
  Gate& gate_;
};

// The event generator's process and the operator's end of its stream.
struct Generator {
  pid_t pid = -1;
  int fd = -1;   // scripted: our end of the socket pair
  int port = 0;  // cpprest: where the child listens
  ~Generator() {
    if (fd >= 0) ::close(fd);
    if (pid > 0) ::waitpid(pid, nullptr, 0);
  }
};

int listen_on_loopback(int& port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  check(fd >= 0, "socket");
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  check(::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) == 0, "bind");
  check(::listen(fd, 4) == 0, "listen");
  socklen_t length = sizeof(address);
  check(::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) == 0, "getsockname");
  port = ntohs(address.sin_port);
  return fd;
}

void start_generator(Generator& generator, const ClusterShape& shape, const EventsOptions& o) {
  const bool http = o.transport == "cpprest";
  int ends[2] = {-1, -1};
  if (http) {
    ends[0] = listen_on_loopback(generator.port);
  } else {
    check(::socketpair(AF_UNIX, SOCK_STREAM, 0, ends) == 0, "socketpair");
  }
  generator.pid = ::fork();
  check(generator.pid >= 0, "fork");
  if (generator.pid == 0) {
    int fd = http ? ::accept(ends[0], nullptr, nullptr) : ends[1];
    if (fd < 0) ::_exit(1);
    if (!http) ::close(ends[0]);
    serve_events(fd, shape, o);
  }
  if (http) {
    ::close(ends[0]);
  } else {
    ::close(ends[1]);
    generator.fd = ends[0];
  }
}

std::unique_ptr<kube::HttpTransport> make_watch(const Generator& generator, Gate& gate,
                                                const EventsOptions& options) {
  if (options.transport != "cpprest") return std::make_unique<SocketWatch>(generator.fd, gate);
  kube::ClusterConnection connection;
  connection.server = "http://127.0.0.1:" + std::to_string(generator.port);
  return std::make_unique<GatedWatch>(kube::make_cpprest_transport(connection), gate);
}

void wait_synced(const controller::ChannelInformer& channels, const controller::PodInformer& pods) {
  const auto started = std::chrono::steady_clock::now();
  while (!(channels.has_synced() && pods.has_synced())) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
    if (std::chrono::steady_clock::now() - started > std::chrono::minutes(5)) {
      throw std::runtime_error("events: caches did not sync within 5 minutes");
    }
  }
}

double average_event_bytes(const ClusterShape& shape, std::size_t events) {
  const std::size_t sample = std::min<std::size_t>(events, 200);
  std::size_t bytes = 0;
  for (std::size_t k = 0; k < sample; ++k) bytes += event_line(shape, k).size();
  return sample == 0 ? 0.0 : static_cast<double>(bytes) / static_cast<double>(sample);
}

}  // namespace

EventsResult measure_watch_events(const EventsOptions& options) {
  const ClusterShape shape{options.channels, options.pods, 1};
  Generator generator;
  start_generator(generator, shape, options);  // before any thread: it forks
  operator_main::use_fixed_mmap_threshold();
  crossplat::threadpool::initialize_with_threads(static_cast<std::size_t>(options.threads));

  Gate gate;
  const auto watch = make_watch(generator, gate, options);
  ScriptedApiServer api(shape, watch.get());
  kube::SystemClock clock;
  controller::ChannelInformer channels(api, clock, operator_main::channel_informer_options(),
                                       ipcmesh::api::channel_record_from_json);
  controller::PodInformer pods(api, clock, operator_main::pod_informer_options(),
                               ipcmesh::api::pod_record_from_json);
  controller::WorkQueue queue;
  controller::ChannelPodIndex index;
  controller::StatusPacer pacer(clock, std::chrono::seconds(1));
  controller::connect_informers(channels, pods, index, pacer, queue);
  std::atomic<std::size_t> applied{0};
  std::promise<void> all_applied;
  pods.add_handlers({nullptr,
                     [&](const controller::PodPtr&, const controller::PodPtr&) {
                       if (++applied == options.events) all_applied.set_value();
                     },
                     nullptr});

  EventsResult result;
  const auto sync_started = std::chrono::steady_clock::now();
  channels.start();
  pods.start();
  wait_synced(channels, pods);
  result.sync_seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - sync_started).count();
  std::this_thread::sleep_for(std::chrono::milliseconds(300));  // handlers after the swap
  result.synced_rss_kib = status_kib("VmRSS");
  // Hand the channels' first reconciles (queued by the sync) out, so that what is queued at the
  // end was queued by the events.
  while (queue.depth() > 0) queue.done(*queue.get());
  std::fprintf(stderr, "events: caches synced in %.1f s; streaming\n", result.sync_seconds);

  const double cpu_before = process_cpu_seconds();
  const auto wall_before = std::chrono::steady_clock::now();
  gate.open();
  if (all_applied.get_future().wait_for(std::chrono::minutes(10)) != std::future_status::ready) {
    throw std::runtime_error("events: not all events were applied within 10 minutes");
  }
  result.cpu_seconds = process_cpu_seconds() - cpu_before;
  result.wall_seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - wall_before).count();
  result.after_events_rss_kib = status_kib("VmRSS");
  result.peak_rss_kib = status_kib("VmHWM");
  result.queued_reconciles = queue.depth() + queue.waiting();
  result.events = applied;
  queue.shutdown();
  pods.stop();
  channels.stop();
  result.average_event_bytes = average_event_bytes(shape, options.events);
  return result;
}

}  // namespace ipcmesh::bench::operator_bench
