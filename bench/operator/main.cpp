// ipcmesh-operator-bench: the operator's two figures from issue 4 (section 5).
//   (a) admission latency of the real webhook server over TLS with keep-alive, at a steady 200
//       requests/s and at the maximum rate it sustains (target: p99 <= 2 ms at 200 req/s);
//   (b) the operator's resident memory with 1,000 IpcChannels and 10,000 Pods cached
//       (target: <= 40 MiB), measured in a child process so that (a) cannot inflate it;
//   (c) with --only events: the operator's CPU per Pod watch event with 5,000 Pods and 10
//       IpcChannels in one namespace (issue 13; target: < 1 ms per event).
// Prints a table, writes --json-out, says plainly when a target is missed.
#define _TURN_OFF_PLATFORM_STRING
// clang-format off
#include <utility>  // before pplx: boost/asio/awaitable.hpp uses std::exchange unincluded
#include <pplx/threadpool.h>
// clang-format on
#include <spdlog/spdlog.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "admission_latency.hpp"
#include "cache_memory.hpp"
#include "ipcmesh/command_line.hpp"
#include "watch_events.hpp"

namespace {

namespace fs = std::filesystem;
namespace command_line = ipcmesh::command_line;
using nlohmann::json;
using namespace ipcmesh::bench::operator_bench;

constexpr double kLatencyTargetMs = 2.0;
constexpr double kMemoryTargetMiB = 40.0;
constexpr double kEventCpuTargetMs = 1.0;

constexpr const char* kProgram = "ipcmesh-operator-bench";

struct Options {
  LatencyOptions latency;
  MemoryOptions memory;
  EventsOptions events;
  std::string json_out;
  std::string only;              // "", "latency", "memory", "events"
  std::string output = "table";  // -o table|json
  bool memory_child = false;
  bool fail_on_miss = false;
};

std::string load_average() {
  std::ifstream in("/proc/loadavg");
  std::string a, b, c;
  in >> a >> b >> c;
  return a + " " + b + " " + c;
}

std::string cpu_model() {
  std::ifstream in("/proc/cpuinfo");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("model name", 0) == 0) return line.substr(line.find(':') + 2);
  }
  return "unknown";
}

// A self-signed certificate for 127.0.0.1, made with the openssl CLI as the tests do.
struct Certificate {
  fs::path dir;
  Certificate() {
    char pattern[] = "/tmp/ipcmesh-operator-bench-XXXXXX";
    if (::mkdtemp(pattern) == nullptr) throw std::runtime_error("mkdtemp failed");
    dir = pattern;
    const std::string command =
        "openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=ipcmesh-webhook"
        " -addext subjectAltName=IP:127.0.0.1 -keyout " +
        (dir / "tls.key").string() + " -out " + (dir / "tls.crt").string() + " 2>/dev/null";
    if (std::system(command.c_str()) != 0) throw std::runtime_error("openssl failed: " + command);
  }
  ~Certificate() {
    std::error_code ignored;
    fs::remove_all(dir, ignored);
  }
  std::string certificate() const { return (dir / "tls.crt").string(); }
  std::string key() const { return (dir / "tls.key").string(); }
};

json to_json(const Percentiles& p) {
  return {{"count", p.count}, {"p50_ms", p.p50_ms}, {"p99_ms", p.p99_ms}, {"max_ms", p.max_ms}};
}

json to_json(const LatencyRun& run) {
  return {{"connections", run.connections},     {"seconds", run.seconds},
          {"achieved_rate", run.achieved_rate}, {"errors", run.errors},
          {"late_sends", run.late_sends},       {"server", to_json(run.server)},
          {"client", to_json(run.client)}};
}

json memory_to_json(const MemoryResult& r) {
  return {{"baseline_rss_kib", r.baseline_rss_kib},
          {"cached_rss_kib", r.cached_rss_kib},
          {"peak_rss_kib", r.peak_rss_kib},
          {"cached_channels", r.cached_channels},
          {"cached_pods", r.cached_pods},
          {"catalog_channels", r.catalog_channels},
          {"listed_bytes", r.listed_bytes},
          {"average_pod_bytes", r.average_pod_bytes},
          {"sync_seconds", r.sync_seconds},
          {"heap_in_use_kib", r.heap_in_use_kib},
          {"rss_after_malloc_trim_kib", r.trimmed_rss_kib}};
}

// Runs the memory part in a fresh copy of this program and reads its JSON line.
json run_memory_child(const Options& options, const Certificate& certificate) {
  std::ostringstream command;
  command << fs::read_symlink("/proc/self/exe").string() << " --memory-child"
          << " --threads " << options.memory.threads << " --channels "
          << options.memory.shape.channels << " --pods " << options.memory.shape.pods
          << " --tls-cert " << certificate.certificate() << " --tls-key " << certificate.key();
  FILE* pipe = ::popen(command.str().c_str(), "r");
  if (pipe == nullptr) throw std::runtime_error("cannot run " + command.str());
  std::string output;
  char chunk[4096];
  while (std::size_t n = std::fread(chunk, 1, sizeof(chunk), pipe)) output.append(chunk, n);
  const int status = ::pclose(pipe);
  if (status != 0)
    throw std::runtime_error("memory run failed (status " + std::to_string(status) + ")");
  return json::parse(output);
}

// A positive number; CLI11 has converted it, this says which flag when it is not positive.
CLI::Validator positive() {
  return CLI::Validator(
      [](std::string& text) -> std::string {
        try {
          std::size_t used = 0;
          if (std::stod(text, &used) > 0 && used == text.size()) return {};
        } catch (const std::exception&) {
        }
        return "\"" + text + "\" is not a positive number";
      },
      "POSITIVE");
}

void define_flags(CLI::App& app, Options& options) {
  command_line::apply_conventions(app);
  app.add_option("--seconds", options.latency.steady_seconds,
                 "steady run length at --rate (default 10)")
      ->check(positive())
      ->option_text("S");
  app.add_option("--rate", options.latency.rate,
                 "steady request rate, one keep-alive TLS connection (default 200)")
      ->check(positive())
      ->option_text("R");
  app.add_option("--max-seconds", options.latency.max_seconds,
                 "closed-loop maximum-rate run length (default 3)")
      ->check(positive())
      ->option_text("S");
  app.add_option("--connections", options.latency.max_connections,
                 "connections for the maximum-rate run, 1-2 (default 2)")
      ->check(CLI::Range(1, 2))
      ->option_text("N");
  app.add_option_function<int>(
         "--threads",
         [&options](int threads) {
           options.latency.threads = options.memory.threads = options.events.threads = threads;
         },
         "cpprestsdk pool threads (default: cores)")
      ->check(CLI::Range(1, 256))
      ->option_text("N");
  app.add_option_function<std::size_t>(
         "--channels",
         [&options](std::size_t n) { options.memory.shape.channels = options.events.channels = n; },
         "IpcChannels in the cache (default 1000; events: 10, in one namespace)")
      ->check(positive())
      ->option_text("N");
  app.add_option_function<std::size_t>(
         "--pods",
         [&options](std::size_t n) { options.memory.shape.pods = options.events.pods = n; },
         "Pods in the cache (default 10000; events: 5000, in one namespace)")
      ->check(positive())
      ->option_text("N");
  app.add_option("--events", options.events.events,
                 "events: Pod MODIFIED events to stream (default 20000)")
      ->check(positive())
      ->option_text("N");
  app.add_option_function<double>(
         "--event-interval-us",
         [&options](double us) {
           options.events.interval = std::chrono::microseconds(static_cast<std::int64_t>(us));
         },
         "events: one event every US microseconds (default 0: a burst)")
      ->check(positive())
      ->option_text("US");
  app.add_option("--transport", options.events.transport,
                 "events: scripted (straight into the informer, default) or cpprest (the real "
                 "transport over local HTTP)")
      ->check(CLI::IsMember({"scripted", "cpprest"}))
      ->option_text("T");
  app.add_option("--only", options.only,
                 "run one part: latency, memory, or events (only run when asked)")
      ->check(CLI::IsMember({"latency", "memory", "events"}))
      ->option_text("PART");
  command_line::add_output_option(app, options.output, {"table", "json"})
      ->description("table (default) or json: the report as JSON on stdout instead of the table");
  app.add_option("--json-out", options.json_out, "write the results as JSON to FILE")
      ->option_text("FILE");
  app.add_flag("--fail-on-miss", options.fail_on_miss,
               "exit 1 when a target is missed (default: report only)");
  // How the benchmark runs its own memory part in a fresh process; not for people.
  app.add_flag("--memory-child", options.memory_child)->group("");
  app.add_option("--tls-cert", options.memory.certificate_file)->group("");
  app.add_option("--tls-key", options.memory.key_file)->group("");
  for (CLI::Option* option : app.get_options()) option->take_last();
}

const char* verdict(bool pass) {
  return pass ? "PASS" : "MISSED";
}

// Part (c), run on its own in this process: it forks its event generator before any thread.
int run_events(const Options& options) {
  const std::string before = load_average();
  std::cerr << "events: syncing " << options.events.pods << " Pods and " << options.events.channels
            << " IpcChannels in one namespace, then " << options.events.events
            << " Pod MODIFIED events (" << options.events.transport << " transport)...\n";
  const EventsResult r = measure_watch_events(options.events);
  const std::string interval =
      options.events.interval.count() == 0
          ? std::string("a burst")
          : "one every " + std::to_string(options.events.interval.count()) + " us";
  const double cpu_ms = r.cpu_seconds * 1e3 / static_cast<double>(r.events);
  const bool pass = cpu_ms < kEventCpuTargetMs && r.queued_reconciles == 0;
  const json report = {{"environment",
                        {{"cpu", cpu_model()},
                         {"cores", std::thread::hardware_concurrency()},
                         {"load_average_before", before},
                         {"load_average_after", load_average()}}},
                       {"events",
                        {{"pods", options.events.pods},
                         {"channels", options.events.channels},
                         {"events", r.events},
                         {"transport", options.events.transport},
                         {"average_event_bytes", r.average_event_bytes},
                         {"sync_seconds", r.sync_seconds},
                         {"cpu_seconds", r.cpu_seconds},
                         {"wall_seconds", r.wall_seconds},
                         {"cpu_ms_per_event", cpu_ms},
                         {"queued_reconciles", r.queued_reconciles},
                         {"synced_rss_kib", r.synced_rss_kib},
                         {"after_events_rss_kib", r.after_events_rss_kib},
                         {"peak_rss_kib", r.peak_rss_kib},
                         {"target_ms", kEventCpuTargetMs},
                         {"pass", pass}}}};
  if (options.output == "json") {
    std::cout << report.dump(2) << std::endl;
  } else {
    std::printf("\nPod watch events (%s, %u cores, load %s -> %s)\n", cpu_model().c_str(),
                std::thread::hardware_concurrency(), before.c_str(), load_average().c_str());
    std::printf(
        "  %zu Pods, %zu IpcChannels in one namespace; %zu MODIFIED events of %.0f B "
        "through the %s transport (%s); %zu reconciles queued\n",
        options.events.pods, options.events.channels, r.events, r.average_event_bytes,
        options.events.transport.c_str(), interval.c_str(), r.queued_reconciles);
    std::printf(
        "  operator CPU %.3f ms per event (%.2f s for all; wall %.2f s); VmRSS synced "
        "%.1f MiB, after the events %.1f MiB, peak %.1f MiB\n",
        cpu_ms, r.cpu_seconds, r.wall_seconds, r.synced_rss_kib / 1024.0,
        r.after_events_rss_kib / 1024.0, r.peak_rss_kib / 1024.0);
    std::printf("target: < %.1f ms of CPU per Pod event, no reconcile: %s\n\n", kEventCpuTargetMs,
                verdict(pass));
  }
  if (!options.json_out.empty()) std::ofstream(options.json_out) << report.dump(2) << "\n";
  return (!pass && options.fail_on_miss) ? 1 : 0;
}

}  // namespace

int main(int argc, char** argv) {
  Options options;
  const int cores = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  options.latency.threads = cores;
  options.memory.threads = cores;
  CLI::App app(
      "The operator's admission latency over TLS and its cache memory with 1,000 IpcChannels "
      "and\n10,000 Pods, each against its target.",
      kProgram);
  define_flags(app, options);
  const auto parsed = command_line::parse(app, argc, argv);
  if (!parsed.run) {
    std::fputs(parsed.output.c_str(), parsed.exit_code == 0 ? stdout : stderr);
    return parsed.exit_code;
  }
  spdlog::set_level(spdlog::level::warn);  // the informers log each LIST at info

  if (options.only == "events") {
    try {
      return run_events(options);
    } catch (const std::exception& error) {
      std::cerr << "ipcmesh-operator-bench: " << error.what() << "\n";
      return 1;
    }
  }

  if (options.memory_child) {
    try {
      std::cout << memory_to_json(measure_cache_memory(options.memory)).dump() << std::endl;
      return 0;
    } catch (const std::exception& error) {
      std::cerr << "memory run: " << error.what() << "\n";
      return 1;
    }
  }

  json report;
  utsname host{};
  ::uname(&host);
  report["environment"] = {{"cpu", cpu_model()},
                           {"cores", std::thread::hardware_concurrency()},
                           {"kernel", host.release},
                           {"load_average_before", load_average()},
                           {"threads", options.latency.threads}};
  bool all_pass = true;
  bool errors = false;
  try {
    Certificate certificate;
    if (options.only != "latency") {
      std::cerr << "memory: caching " << options.memory.shape.channels << " IpcChannels and "
                << options.memory.shape.pods << " Pods...\n";
      const json memory = run_memory_child(options, certificate);
      const double cached_mib = memory["cached_rss_kib"].get<double>() / 1024.0;
      const bool pass = cached_mib <= kMemoryTargetMiB;
      all_pass = all_pass && pass;
      report["memory"] = memory;
      report["memory"]["target_mib"] = kMemoryTargetMiB;
      report["memory"]["pass"] = pass;
    }
    if (options.only != "memory") {
      crossplat::threadpool::initialize_with_threads(
          static_cast<std::size_t>(options.latency.threads));
      options.latency.certificate_file = certificate.certificate();
      options.latency.key_file = certificate.key();
      std::cerr << "latency: " << options.latency.rate << " req/s for "
                << options.latency.steady_seconds << " s, then the maximum for "
                << options.latency.max_seconds << " s...\n";
      const LatencyResult latency = measure_admission_latency(options.latency);
      const bool pass = latency.steady.server.p99_ms <= kLatencyTargetMs &&
                        latency.steady.achieved_rate >= options.latency.rate * 0.95;
      all_pass = all_pass && pass;
      errors = latency.steady.errors + latency.maximum.errors > 0;
      report["latency"] = {
          {"request_bytes", latency.request_bytes},
          {"response_bytes", latency.response_bytes},
          {"rate", options.latency.rate},
          {"steady", to_json(latency.steady)},
          {"maximum", to_json(latency.maximum)},
          {"target_p99_ms", kLatencyTargetMs},
          {"client_p99_within_target", latency.steady.client.p99_ms <= kLatencyTargetMs},
          {"pass", pass}};
    }
  } catch (const std::exception& error) {
    std::cerr << "ipcmesh-operator-bench: " << error.what() << "\n";
    return 1;
  }
  report["environment"]["load_average_after"] = load_average();

  if (options.output == "json") {
    std::cout << report.dump(2) << std::endl;
  } else {
    std::printf("\nipcmesh operator benchmark (%s, %u cores, load %s -> %s)\n\n",
                cpu_model().c_str(), std::thread::hardware_concurrency(),
                report["environment"]["load_average_before"].get<std::string>().c_str(),
                load_average().c_str());
    if (report.contains("latency")) {
      const auto& l = report["latency"];
      std::printf("Admission over TLS, keep-alive; AdmissionReview %zu B -> %zu B (JSONPatch)\n",
                  l["request_bytes"].get<std::size_t>(), l["response_bytes"].get<std::size_t>());
      std::printf("%-26s %5s %9s %7s | %-22s | %-22s\n", "run", "conns", "req/s", "errors",
                  "server p50/p99/max ms", "client p50/p99/max ms");
      for (const char* name : {"steady", "maximum"}) {
        const auto& r = l[name];
        const std::string label =
            std::string(name) == "steady"
                ? "steady " + std::to_string(static_cast<int>(l["rate"].get<double>())) + " req/s"
                : "maximum (closed loop)";
        std::printf("%-26s %5d %9.0f %7llu | %6.3f %6.3f %7.3f | %6.3f %6.3f %7.3f\n",
                    label.c_str(), r["connections"].get<int>(), r["achieved_rate"].get<double>(),
                    static_cast<unsigned long long>(r["errors"].get<std::uint64_t>()),
                    r["server"]["p50_ms"].get<double>(), r["server"]["p99_ms"].get<double>(),
                    r["server"]["max_ms"].get<double>(), r["client"]["p50_ms"].get<double>(),
                    r["client"]["p99_ms"].get<double>(), r["client"]["max_ms"].get<double>());
      }
      std::printf(
          "target: server-side p99 <= %.1f ms at %.0f req/s: %s (server p99 %.3f ms; "
          "client round trip p99 %.3f ms %s)\n\n",
          kLatencyTargetMs, l["rate"].get<double>(), verdict(l["pass"].get<bool>()),
          l["steady"]["server"]["p99_ms"].get<double>(),
          l["steady"]["client"]["p99_ms"].get<double>(),
          l["client_p99_within_target"].get<bool>() ? "also within" : "OVER the target");
    }
    if (report.contains("memory")) {
      const auto& m = report["memory"];
      std::printf(
          "Operator memory (informers, Pod records, catalog, work queue, admission server)\n");
      std::printf(
          "  cached: %zu IpcChannels (%zu in the webhook catalog), %zu Pods "
          "(%.0f B of JSON each, %.1f MiB listed; synced in %.1f s incl. generating it)\n",
          m["cached_channels"].get<std::size_t>(), m["catalog_channels"].get<std::size_t>(),
          m["cached_pods"].get<std::size_t>(), m["average_pod_bytes"].get<double>(),
          m["listed_bytes"].get<double>() / 1048576.0, m["sync_seconds"].get<double>());
      std::printf(
          "  VmRSS baseline %.1f MiB, caches synced %.1f MiB (+%.1f MiB), peak VmHWM %.1f MiB\n",
          m["baseline_rss_kib"].get<double>() / 1024.0, m["cached_rss_kib"].get<double>() / 1024.0,
          (m["cached_rss_kib"].get<double>() - m["baseline_rss_kib"].get<double>()) / 1024.0,
          m["peak_rss_kib"].get<double>() / 1024.0);
      std::printf(
          "  diagnostics: malloc heap in use %.1f MiB; VmRSS after malloc_trim(0) %.1f MiB "
          "(the operator calls it after each relist)\n",
          m["heap_in_use_kib"].get<double>() / 1024.0,
          m["rss_after_malloc_trim_kib"].get<double>() / 1024.0);
      std::printf("target: resident <= %.0f MiB with caches synced: %s\n\n", kMemoryTargetMiB,
                  verdict(m["pass"].get<bool>()));
    }
    if (!all_pass) std::printf("AT LEAST ONE TARGET WAS MISSED (see above).\n");
    if (errors) std::printf("ERRORS: some admission answers were not the expected patch.\n");
  }

  if (!options.json_out.empty()) {
    std::ofstream out(options.json_out);
    out << report.dump(2) << "\n";
    if (!out) {
      std::cerr << "ipcmesh-operator-bench: cannot write " << options.json_out << "\n";
      return 1;
    }
  }
  if (errors) return 1;
  return (!all_pass && options.fail_on_miss) ? 1 : 0;
}
