// The run: every selected transport and size, ping-pong then stream, into one JSON report.
#include "ipcmesh/bench/bench.hpp"

#include <unistd.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <functional>
#include <iostream>
#include <stdexcept>

#include "cgroup_cpu.hpp"
#include "cpu_hogs.hpp"
#include "environment.hpp"
#include "harness.hpp"
#include "report.hpp"
#include "transport.hpp"

namespace ipcmesh::bench {
namespace {

// Fan-out and fan-in stream this size: the message size where the per-message cost of a channel
// (not the copy) decides the figure.
constexpr std::size_t kFanoutMessageSize = 64;
// The paced section's size: the smallest in the main table, with room for the send time.
constexpr std::size_t kPacedMessageSize = 64;
static_assert(kPacedMessageSize >= kTimedStampBytes);
// The ways a subscriber can wait that the paced section compares: the channel's three wait
// modes, the kernel's queue, and iceoryx's WaitSet and polling.
constexpr std::array<std::string_view, 6> kPacedTransports = {
    "ipcmesh-shm",  "ipcmesh-shm-spin", "ipcmesh-shm-busy",
    "posix-mqueue", "iceoryx",          "iceoryx-poll"};
// A paced run's warm-up lasts this long at its rate (no longer than the full-speed warm-up in
// messages): enough for page faults and the adaptive wait's history to settle; at 1,000 msgs/s
// the full-speed warm-up of 2,000 messages would take 2 s.
constexpr double kPacedWarmupSeconds = 0.1;

std::string pattern_name(Pattern pattern) {
  return pattern == Pattern::kStream ? "stream" : "ping_pong";
}

HarnessOptions harness_options(const BenchOptions& options) {
  HarnessOptions harness;
  harness.duration_seconds = options.duration_seconds;
  harness.messages = options.messages;
  harness.timeout_seconds = options.measurement_timeout_seconds;
  harness.cores = allowed_cores();
  harness.inject_gap = options.inject_gap;
  if (options.quick) {
    harness.stream_warmup = 500;
    harness.pingpong_warmup = 200;
  }
  return harness;
}

std::string progress_line(const nlohmann::json& row) {
  char text[256];
  const auto& pp = row["ping_pong"];
  const auto& st = row["stream"];
  const auto figure = [](const nlohmann::json& m, const char* key) {
    return m.contains(key) ? m[key].get<double>() : 0.0;
  };
  std::snprintf(text, sizeof text, "%-17s %6s  rtt p50 %9.2f us  %11.0f msgs/s  %9.1f MB/s  %s",
                row["transport"].get<std::string>().c_str(),
                format_size(row["size_bytes"].get<std::size_t>()).c_str(),
                figure(pp, "rtt_p50_ns") / 1000.0, figure(st, "msgs_per_s"), figure(st, "mb_per_s"),
                row["status"].get<std::string>().c_str());
  return text;
}

// The fan-out shapes (1 -> N for each N asked) and then the fan-in one (N -> 1).
std::vector<GroupShape> group_shapes(const BenchOptions& options) {
  std::vector<GroupShape> shapes;
  if (!options.fanout) return shapes;
  for (const auto subscribers : options.fanout_subscribers) shapes.push_back({1, subscribers});
  shapes.push_back({options.fanin_producers, 1});
  return shapes;
}

std::string group_progress_line(const nlohmann::json& row) {
  char text[256];
  const std::string status = row["status"];
  const std::string figures =
      status == "ok"
          ? std::to_string(std::lround(row["aggregate_msgs_per_s"].get<double>())) +
                " msgs/s in all, " +
                std::to_string(std::lround(row["per_subscriber_msgs_per_s"].get<double>())) +
                " per subscriber  ok"
      : status == "not_run" ? "not run: " + row.value("reason", "")
                            : status;
  std::snprintf(text, sizeof text, "%-17s %-7s %2u -> %-2u  %s",
                row["transport"].get<std::string>().c_str(), row["kind"].get<std::string>().c_str(),
                row["producers"].get<unsigned>(), row["subscribers"].get<unsigned>(),
                figures.c_str());
  return text;
}

// One measurement on a fresh link: `measure`'s result with its "status" (ok or failed) and the
// link's "config", or a "not_run" result with the reason (not_run_reason when not empty: the
// transport did not start or cannot serve the shape; else why the link could not be prepared).
nlohmann::json measure_on_link(Transport& transport, const std::string& not_run_reason,
                               const LinkSpec& spec,
                               const std::function<nlohmann::json(Link&)>& measure) {
  if (!not_run_reason.empty()) return {{"status", "not_run"}, {"reason", not_run_reason}};
  auto link = transport.prepare(spec);
  if (!link) return {{"status", "not_run"}, {"reason", link.error().message}};
  nlohmann::json result = measure(**link);
  result["status"] = result["verified"].get<bool>() ? "ok" : "failed";
  result["config"] = (*link)->config();
  return result;
}

bool runs_paced(const Transport& transport) {
  return std::find(kPacedTransports.begin(), kPacedTransports.end(), transport.name()) !=
         kPacedTransports.end();
}

HarnessOptions paced_harness(const HarnessOptions& full_speed, std::uint32_t rate) {
  HarnessOptions paced = full_speed;
  paced.paced_rate = rate;
  paced.stream_warmup = std::clamp<std::uint64_t>(
      static_cast<std::uint64_t>(std::llround(rate * kPacedWarmupSeconds)), 1,
      full_speed.stream_warmup);
  return paced;
}

std::string paced_progress_line(const nlohmann::json& row) {
  char text[256];
  const std::string status = row["status"];
  std::string figures = status == "not_run" ? "not run: " + row.value("reason", "") : status;
  if (status == "ok") {
    char ok[160];
    std::snprintf(
        ok, sizeof ok,
        "%8.0f msgs/s  p50 %8.1f us  p99.9 %8.1f us  CPU sub %5.1f%% prod %5.1f%%  ok",
        row["delivered_msgs_per_s"].get<double>(), row["latency_p50_ns"].get<double>() / 1000.0,
        row["latency_p999_ns"].get<double>() / 1000.0, row["subscriber_cpu_percent"].get<double>(),
        row["producer_cpu_percent"].get<double>());
    figures = ok;
  }
  std::snprintf(text, sizeof text, "%-17s paced %7u/s  %s",
                row["transport"].get<std::string>().c_str(), row["rate_msgs_per_s"].get<unsigned>(),
                figures.c_str());
  return text;
}

// One paced measurement of a started transport (or its "not run" row), with the CFS counters of
// the bench's cgroup read around it: the forked sides inherit that cgroup, so its throttling is
// theirs (and that of anything else in it: in a Pod, the container's).
nlohmann::json run_paced_case(Transport& transport, const std::string& start_failure,
                              std::uint32_t rate, const std::string& tag,
                              const BenchOptions& options, const HarnessOptions& harness,
                              const CgroupCpu& cgroup) {
  nlohmann::json row = {{"transport", transport.name()}, {"rate_msgs_per_s", rate}};
  const LinkSpec spec{kPacedMessageSize, Pattern::kStream, tag, options.fill_payload, GroupShape{}};
  row["measurement"] = measure_on_link(transport, start_failure, spec, [&](Link& link) {
    const CfsCounters before = cgroup.read();
    nlohmann::json result =
        run_measurement(link, Pattern::kStream, kPacedMessageSize, paced_harness(harness, rate));
    result["cgroup_throttling"] = to_json(counters_delta(before, cgroup.read()));
    return result;
  });
  summarize_paced_row(row);
  return row;
}

// One fan-out or fan-in measurement of a started transport (or its "not run" row: the transport
// did not start, or cannot serve this shape).
nlohmann::json run_group_case(Transport& transport, const std::string& start_failure,
                              const GroupShape& shape, const std::string& tag,
                              const BenchOptions& options, const HarnessOptions& harness) {
  nlohmann::json row = {{"transport", transport.name()},
                        {"kind", shape.producers > 1 ? "fan-in" : "fan-out"},
                        {"producers", shape.producers},
                        {"subscribers", shape.subscribers}};
  const std::string reason =
      start_failure.empty() ? transport.group_limitation(shape) : start_failure;
  const LinkSpec spec{kFanoutMessageSize, Pattern::kStream, tag, options.fill_payload, shape};
  row["measurement"] = measure_on_link(transport, reason, spec, [&](Link& link) {
    return run_group_measurement(link, shape, kFanoutMessageSize, harness);
  });
  summarize_group_row(row);
  return row;
}

}  // namespace

nlohmann::json run_benchmarks(const BenchOptions& options) {
  const auto started = std::chrono::steady_clock::now();
  nlohmann::json report;
  report["schema"] = "ipcmesh-bench/1";
  report["date"] = utc_now_iso8601();
  report["machine"] = machine_info();
  report["machine"]["load_average_before"] = load_average();
  std::size_t max_size = 0;
  for (const auto size : options.sizes) max_size = std::max(max_size, size);
  report["limits"] = prepare_ipc_environment(options.private_ipc_namespace, max_size);
  const CgroupCpu cgroup = CgroupCpu::locate();
  report["limits"]["cgroup_cpu"] = cgroup.describe();

  const CorePair cores = choose_cores();
  const CpuHogs hogs(options.hogs, {cores.a, cores.b});
  const HarnessOptions harness = harness_options(options);
  const std::vector<GroupShape> shapes = group_shapes(options);
  report["settings"] = {{"sizes", options.sizes},
                        {"duration_per_measurement_s", options.duration_seconds},
                        {"messages_per_measurement", options.messages},
                        {"quick", options.quick},
                        {"stream_warmup_messages", harness.stream_warmup},
                        {"pingpong_warmup_round_trips", harness.pingpong_warmup},
                        {"cores", {cores.a, cores.b}},
                        {"cores_distinct", cores.distinct},
                        {"scheduling",
                         "each side pinned to its core, in its own session with autogroup nice -20 "
                         "and setpriority(-20) (best effort); per measurement cpu_s and "
                         "involuntary_switches show whether a side got its core"},
                        {"verification",
                         "24-byte stamp per message: sequence number, size and magic at the front, "
                         "a trailer derived from them at the back; zero-copy transports write only "
                         "the stamp in place, copying transports send the whole buffer"},
                        {"mb", "10^6 bytes of payload"},
                        {"fill_payload", options.fill_payload},
                        {"inject_gap", options.inject_gap},
                        {"competing_hogs", hogs.describe()}};

  std::vector<std::unique_ptr<Transport>> transports;
  for (auto& transport : make_transports()) {
    if (options.transports.empty() ||
        std::find(options.transports.begin(), options.transports.end(), transport->name()) !=
            options.transports.end()) {
      transports.push_back(std::move(transport));
    }
  }

  // A transport starts once for all its measurements (iceoryx: one RouDi), fan-out included.
  std::vector<std::size_t> start_sizes = options.sizes;
  if (!shapes.empty()) start_sizes.push_back(kFanoutMessageSize);
  if (options.paced) start_sizes.push_back(kPacedMessageSize);

  nlohmann::json transport_entries = nlohmann::json::array();
  nlohmann::json rows = nlohmann::json::array();
  nlohmann::json group_rows = nlohmann::json::array();
  nlohmann::json paced_rows = nlohmann::json::array();
  std::size_t measurement = 0;
  const auto next_tag = [&] {
    return std::to_string(getpid()) + "-" + std::to_string(measurement++);
  };
  for (auto& transport : transports) {
    const std::string reason = transport->start(start_sizes);
    nlohmann::json entry = {{"name", transport->name()},
                            {"description", transport->description()},
                            {"status", reason.empty() ? "ran" : "not_run"}};
    if (!reason.empty()) entry["reason"] = reason;
    for (const auto size : options.sizes) {
      nlohmann::json row = {{"transport", transport->name()}, {"size_bytes", size}};
      for (const Pattern pattern : {Pattern::kPingPong, Pattern::kStream}) {
        const LinkSpec spec{size, pattern, next_tag(), options.fill_payload, GroupShape{}};
        row[pattern_name(pattern)] = measure_on_link(*transport, reason, spec, [&](Link& link) {
          return run_measurement(link, pattern, size, harness);
        });
      }
      summarize_row(row);
      if (options.progress) std::cerr << progress_line(row) << std::endl;
      rows.push_back(std::move(row));
    }
    for (const GroupShape& shape : shapes) {
      nlohmann::json row = run_group_case(*transport, reason, shape, next_tag(), options, harness);
      if (options.progress) std::cerr << group_progress_line(row) << std::endl;
      group_rows.push_back(std::move(row));
    }
    if (options.paced && runs_paced(*transport)) {
      for (const auto rate : options.paced_rates) {
        nlohmann::json row =
            run_paced_case(*transport, reason, rate, next_tag(), options, harness, cgroup);
        if (options.progress) std::cerr << paced_progress_line(row) << std::endl;
        paced_rows.push_back(std::move(row));
      }
    }
    if (reason.empty()) {
      entry["config"] = transport->config();
      transport->stop();
    }
    transport_entries.push_back(std::move(entry));
  }
  report["transports"] = transport_entries;
  report["results"] = rows;
  report["fanout"] = {
      {"enabled", options.fanout},
      {"message_size", kFanoutMessageSize},
      {"subscribers",
       options.fanout ? nlohmann::json(options.fanout_subscribers) : nlohmann::json::array()},
      {"fanin_producers",
       options.fanout ? nlohmann::json(options.fanin_producers) : nlohmann::json(nullptr)},
      {"cores", harness.cores},
      {"pinning",
       "sides pinned round-robin to these cores, producers first, then subscribers; with more "
       "sides than cores they share cores (each row's measurement.cores_shared)"},
      {"delivery",
       "every subscriber must receive every message of every producer, complete and in order "
       "per producer (producer index in the stamp's flags)"},
      {"rows", group_rows}};
  report["paced"] = {
      {"enabled", options.paced},
      {"message_size", kPacedMessageSize},
      {"rates", options.paced ? nlohmann::json(options.paced_rates) : nlohmann::json::array()},
      {"transports", kPacedTransports},
      {"cores", {cores.a, cores.b}},
      {"pinning", "as the pair measurement: producer on the first core, subscriber on the second"},
      {"timetable",
       "message i due at start + i/rate; the producer sleeps (clock_nanosleep TIMER_ABSTIME, "
       "timer slack 1 ns) when it is more than 50 us away, else spins on the clock; at most 4 "
       "back to back after falling behind, then the timetable moves (late_messages, "
       "schedule_slips)"},
      {"latency",
       "one-way: the subscriber's CLOCK_MONOTONIC after receive() minus the send time the "
       "producer wrote in the message (bytes 16..23) just before handing it over"},
      {"cpu",
       "per side, getrusage(RUSAGE_SELF) from the end of the warm-up to the side's end, over "
       "the wall time of the same span: 100% = one core"},
      {"throttling",
       "deltas of the bench's cgroup cpu.stat around each measurement; "
       "limits.cgroup_cpu says which file and whether a CPU limit applies"},
      {"warmup_seconds", kPacedWarmupSeconds},
      {"rows", paced_rows}};
  add_ratios(report);
  add_group_costs(report);
  report["targets"] = evaluate_targets(report);
  report["verified"] = report_verified(report);
  report["machine"]["load_average_after"] = load_average();
  report["elapsed_s"] =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  return report;
}

int run_benchmark_command(int argc, char** argv) {
  const std::string program = "ipcmesh-bench";
  auto options = parse_bench_options(program, {argv + std::min(argc, 1), argv + argc});
  if (!options) {
    (options.error().exit_code == 0 ? std::cout : std::cerr) << options.error().output;
    return options.error().exit_code;
  }
  return run_benchmark(*options, program);
}

int run_benchmark(const BenchOptions& options, const std::string& program) {
  nlohmann::json report;
  try {
    report = run_benchmarks(options);
  } catch (const std::exception& e) {
    std::cerr << program << ": cannot run the benchmark: " << e.what() << "\n";
    return 2;
  }

  std::ostream& table_stream = options.print_json ? std::cerr : std::cout;
  if (options.print_table) table_stream << render_table(report) << std::flush;
  if (options.print_json) std::cout << report.dump(2) << std::endl;
  const auto write_file = [&](const std::string& path, const std::string& text) {
    std::ofstream out(path);
    out << text;
    out.flush();
    if (!out) {
      std::cerr << program << ": cannot write " << path << "\n";
      return false;
    }
    if (options.progress) std::cerr << "wrote " << path << "\n";
    return true;
  };
  if (!options.json_out.empty() && !write_file(options.json_out, report.dump(2) + "\n")) return 2;
  if (!options.plot_out.empty() && !write_file(options.plot_out, render_fanout_svg(report))) {
    return 2;
  }
  if (!report["verified"].get<bool>()) {
    std::cerr << program << ": VERIFICATION FAILED: see the failed rows above\n";
    return 1;
  }
  return 0;
}

}  // namespace ipcmesh::bench
