// The run: every selected transport and size, ping-pong then stream, into one JSON report.
#include "ipcmesh/bench/bench.hpp"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <stdexcept>

#include "environment.hpp"
#include "harness.hpp"
#include "report.hpp"
#include "transport.hpp"

namespace ipcmesh::bench {
namespace {

std::string pattern_name(Pattern pattern) {
  return pattern == Pattern::kStream ? "stream" : "ping_pong";
}

HarnessOptions harness_options(const BenchOptions& options, CorePair cores) {
  HarnessOptions harness;
  harness.duration_seconds = options.duration_seconds;
  harness.messages = options.messages;
  harness.timeout_seconds = options.measurement_timeout_seconds;
  harness.cores = cores;
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

  const CorePair cores = choose_cores();
  const HarnessOptions harness = harness_options(options, cores);
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
                        {"inject_gap", options.inject_gap}};

  std::vector<std::unique_ptr<Transport>> transports;
  for (auto& transport : make_transports()) {
    if (options.transports.empty() ||
        std::find(options.transports.begin(), options.transports.end(), transport->name()) !=
            options.transports.end()) {
      transports.push_back(std::move(transport));
    }
  }

  nlohmann::json transport_entries = nlohmann::json::array();
  nlohmann::json rows = nlohmann::json::array();
  std::size_t measurement = 0;
  for (auto& transport : transports) {
    const std::string reason = transport->start(options.sizes);
    nlohmann::json entry = {{"name", transport->name()},
                            {"description", transport->description()},
                            {"status", reason.empty() ? "ran" : "not_run"}};
    if (!reason.empty()) entry["reason"] = reason;
    for (const auto size : options.sizes) {
      nlohmann::json row = {{"transport", transport->name()}, {"size_bytes", size}};
      for (const Pattern pattern : {Pattern::kPingPong, Pattern::kStream}) {
        nlohmann::json result;
        if (!reason.empty()) {
          result = {{"status", "not_run"}, {"reason", reason}};
        } else {
          const LinkSpec spec{size, pattern,
                              std::to_string(getpid()) + "-" + std::to_string(measurement++),
                              options.fill_payload};
          auto link = transport->prepare(spec);
          if (!link) {
            result = {{"status", "not_run"}, {"reason", link.error().message}};
          } else {
            result = run_measurement(**link, pattern, size, harness);
            result["status"] = result["verified"].get<bool>() ? "ok" : "failed";
            result["config"] = (*link)->config();
          }
        }
        row[pattern_name(pattern)] = result;
      }
      summarize_row(row);
      if (options.progress) std::cerr << progress_line(row) << std::endl;
      rows.push_back(std::move(row));
    }
    if (reason.empty()) {
      entry["config"] = transport->config();
      transport->stop();
    }
    transport_entries.push_back(std::move(entry));
  }
  report["transports"] = transport_entries;
  report["results"] = rows;
  add_ratios(report);
  report["targets"] = evaluate_targets(report);
  report["verified"] = report_verified(report);
  report["machine"]["load_average_after"] = load_average();
  report["elapsed_s"] =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  return report;
}

int run_benchmark_command(int argc, char** argv) {
  const std::string program = argc > 0 ? argv[0] : "ipcmesh-bench";
  BenchOptions options;
  try {
    bool help = false;
    options = parse_bench_options(argc, argv, help);
    if (help) {
      std::cout << bench_usage(program);
      return 0;
    }
  } catch (const std::invalid_argument& e) {
    std::cerr << program << ": " << e.what() << "\n";
    return 2;
  }

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
  if (!options.json_out.empty()) {
    std::ofstream out(options.json_out);
    out << report.dump(2) << '\n';
    out.flush();
    if (!out) {
      std::cerr << program << ": cannot write " << options.json_out << "\n";
      return 2;
    }
    if (options.progress) std::cerr << "wrote " << options.json_out << "\n";
  }
  if (!report["verified"].get<bool>()) {
    std::cerr << program << ": VERIFICATION FAILED: see the failed rows above\n";
    return 1;
  }
  return 0;
}

}  // namespace ipcmesh::bench
