// The side-by-side transport benchmark as a library: `ipcmesh-bench` and `ipcmeshctl bench` both
// define their flags with define_bench_flags() and call run_benchmark(), so every way of running it
// produces the same JSON report.
//
// One run measures, for each message size and transport, the round-trip latency (ping-pong) and
// the one-way streaming throughput between two forked processes pinned to different cores, with
// every message verified (sequence number in the payload: no loss, in order); then, for the
// transports that can, 64 B fan-out (one producer, N subscribers that each receive every
// message) and fan-in (N producers, one subscriber); then the paced section: 64 B at fixed
// rates, with one-way latency and what waiting costs in CPU.
#pragma once

#include <cstddef>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <tl/expected.hpp>
#include <vector>

#include "ipcmesh/command_line.hpp"

namespace ipcmesh::bench {

struct BenchOptions {
  std::vector<std::size_t> sizes = {64, 1024, 8192, 65536};
  std::vector<std::string> transports;  // empty: every transport (see transport_names())
  double duration_seconds = 1.0;        // per measurement (one transport, size and pattern)
  std::uint64_t messages = 0;           // when > 0: a fixed count per measurement, not a duration
  bool quick = false;                   // smoke test: short measurements
  bool print_json = false;              // JSON on stdout (the table then goes to stderr)
  bool print_table = true;
  std::string json_out;               // also write the JSON report to this file
  bool private_ipc_namespace = true;  // unshare(CLONE_NEWIPC) to raise mqueue limits privately
  bool progress = true;               // one line per measurement on stderr
  double measurement_timeout_seconds = 60.0;  // a hung measurement is killed and counted failed
  bool fill_payload = false;                  // every message body written and checked byte by byte
  bool inject_gap = false;  // self-check: producers skip one sequence number, so every stream
                            // row must fail verification (proves the check is live)
  bool fanout = true;       // the fan-out and fan-in measurements (--no-fanout skips them)
  std::vector<std::uint32_t> fanout_subscribers = {1, 2, 4, 8};  // one producer -> N subscribers
  std::uint32_t fanin_producers = 4;                             // N producers -> one subscriber
  std::string plot_out;  // write an SVG chart of the fan-out curve to this file
  // The paced section (--no-paced skips it): per rate, a producer sends 64 B messages at that
  // many msgs/s and the report gives the one-way latency, each side's CPU use and the CFS
  // throttling of the bench's cgroup; what waiting costs a subscriber under a CPU limit.
  bool paced = true;
  std::vector<std::uint32_t> paced_rates = {1000, 10000, 50000};  // msgs/s
  // Competing CPU load (--hog N): N processes spinning on the sides' cores for the whole run.
  std::uint32_t hogs = 0;
};

// Every transport the bench knows, in report order.
std::vector<std::string> transport_names();

// What the command line holds before it is checked (to_bench_options); the flags are defined
// once, for ipcmesh-bench and for the `ipcmeshctl bench` subcommand alike.
struct BenchFlags {
  std::optional<std::string> sizes, transports, duration, messages, timeout, fanout, fanin, paced,
      hog;
  std::string output = "table";  // -o table|json
  std::string json_out, plot_out;
  bool quick = false, fill_payload = false, no_table = false, host_ipc = false, quiet = false,
       inject_gap = false, no_fanout = false, no_paced = false;
};

inline constexpr const char* kBenchDescription =
    "Side-by-side IPC benchmark: round-trip latency (ping-pong) and one-way streaming\n"
    "throughput between two processes pinned to different cores, then 64 B fan-out\n"
    "(1 -> N subscribers) and fan-in (N -> 1), then 64 B at fixed rates (paced); every\n"
    "message verified.";

void define_bench_flags(CLI::App& app, BenchFlags& flags);
// The rules of each flag and across flags. Throws std::invalid_argument naming the flag.
BenchOptions to_bench_options(const BenchFlags& flags);
// Both, for ipcmesh-bench: args exclude the program name. The options, or what to print and the
// exit code (help: the usage and 0; a mistake: one line naming it and 2).
tl::expected<BenchOptions, command_line::ParseOutcome> parse_bench_options(
    const std::string& program, const std::vector<std::string>& args);

// Runs every selected measurement and returns the report: machine, limits, per transport and
// size the figures and their verification, ratios to raw mqueue and iceoryx, and the targets
// with pass/fail. Prints progress to stderr. Throws std::runtime_error only when the bench
// itself cannot run (fork fails, no CPU affinity); transports that cannot run become "not run"
// rows with the reason.
nlohmann::json run_benchmarks(const BenchOptions& options);

// The human-readable tables of a report: the main table per size, then fan-out and fan-in, then
// the paced section.
std::string render_table(const nlohmann::json& report);

// An SVG line chart of the report's fan-out curve: x the number of subscribers, y per-subscriber
// msgs/s, one line per transport that has figures. Plain SVG text, no plotting dependency.
std::string render_fanout_svg(const nlohmann::json& report);

// True when every measurement that ran was verified (no lost, reordered or corrupt message and
// no crashed or hung process).
bool report_verified(const nlohmann::json& report);

// Run, print, write. Returns the exit code: 0 when every message was verified (missed
// performance targets are reported, not failed), 1 when verification failed, 2 on a setup error.
// `program` prefixes its messages.
int run_benchmark(const BenchOptions& options, const std::string& program);

// ipcmesh-bench's whole command: parse_bench_options, then run_benchmark.
int run_benchmark_command(int argc, char** argv);

}  // namespace ipcmesh::bench
