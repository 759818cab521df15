// Command-line flags of the bench (shared by ipcmesh-bench and `ipcmeshctl bench`).
#include <algorithm>
#include <cstdlib>
#include <stdexcept>
#include <string>
#include <string_view>

#include "ipcmesh/bench/bench.hpp"
#include "ipcmesh/command_line.hpp"
#include "transport.hpp"

namespace ipcmesh::bench {
namespace {

constexpr std::size_t kMaxSize = 4u << 20;
// Above this a paced producer reads the clock about as often as it sends: that is streaming.
constexpr std::uint32_t kMaxPacedRate = 1'000'000;

std::vector<std::string> split(std::string_view text) {
  std::vector<std::string> parts;
  std::size_t start = 0;
  while (start <= text.size()) {
    const auto comma = text.find(',', start);
    const auto end = comma == std::string_view::npos ? text.size() : comma;
    if (end > start) parts.emplace_back(text.substr(start, end - start));
    if (comma == std::string_view::npos) break;
    start = comma + 1;
  }
  return parts;
}

// "64", "1K", "1Ki", "8KiB", "64k", "1M": K and M are binary here (message sizes, not rates).
std::size_t parse_size(const std::string& text) {
  std::size_t used = 0;
  unsigned long long value = 0;
  try {
    value = std::stoull(text, &used);
  } catch (const std::exception&) {
    throw std::invalid_argument("--sizes: '" + text + "' is not a size");
  }
  std::string suffix = text.substr(used);
  std::size_t multiplier = 1;
  if (suffix == "" || suffix == "B") {
    multiplier = 1;
  } else if (suffix == "K" || suffix == "k" || suffix == "Ki" || suffix == "KiB" ||
             suffix == "KB") {
    multiplier = 1024;
  } else if (suffix == "M" || suffix == "Mi" || suffix == "MiB" || suffix == "MB") {
    multiplier = 1024 * 1024;
  } else {
    throw std::invalid_argument("--sizes: unknown suffix in '" + text + "' (use B, K or M)");
  }
  const auto size = static_cast<std::size_t>(value) * multiplier;
  if (size < kStampBytes || size > kMaxSize) {
    throw std::invalid_argument("--sizes: " + text + " is outside " + std::to_string(kStampBytes) +
                                " B .. 4 MiB");
  }
  return size;
}

// A whole number in minimum..maximum, digits only (std::stoul alone would take "-1" and " 5").
std::uint32_t parse_whole_number(const std::string& flag, const std::string& text,
                                 std::uint32_t minimum, std::uint32_t maximum) {
  std::size_t used = 0;
  unsigned long value = 0;
  try {
    if (!text.empty() && text.front() >= '0' && text.front() <= '9')
      value = std::stoul(text, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  if (used == 0 || used != text.size() || value < minimum || value > maximum) {
    throw std::invalid_argument(flag + ": '" + text + "' is not a number in " +
                                std::to_string(minimum) + ".." + std::to_string(maximum));
  }
  return static_cast<std::uint32_t>(value);
}

// A comma-separated list of whole numbers, ascending and once each: tables read left to right.
std::vector<std::uint32_t> parse_number_list(const std::string& flag, const std::string& text,
                                             std::uint32_t minimum, std::uint32_t maximum) {
  std::vector<std::uint32_t> numbers;
  for (const auto& part : split(text)) {
    numbers.push_back(parse_whole_number(flag, part, minimum, maximum));
  }
  if (numbers.empty()) throw std::invalid_argument(flag + ": empty list");
  std::sort(numbers.begin(), numbers.end());
  numbers.erase(std::unique(numbers.begin(), numbers.end()), numbers.end());
  return numbers;
}

double parse_positive(const std::string& flag, const std::string& text) {
  char* end = nullptr;
  const double value = std::strtod(text.c_str(), &end);
  if (end == text.c_str() || *end != '\0' || !(value > 0)) {
    throw std::invalid_argument(flag + ": '" + text + "' is not a positive number");
  }
  return value;
}

}  // namespace

std::vector<std::string> transport_names() {
  std::vector<std::string> names;
  for (const auto& transport : make_transports()) names.emplace_back(transport->name());
  return names;
}

void define_bench_flags(CLI::App& app, BenchFlags& flags) {
  command_line::apply_conventions(app);
  std::string transports;
  for (const auto& name : transport_names()) transports += (transports.empty() ? "" : ",") + name;
  app.footer(
      "Exit status: 0 all messages verified (missed targets are reported, not failed),\n"
      "1 a verification failed, 2 usage or setup error.");
  app.add_option("--sizes", flags.sizes, "message sizes, e.g. 64,1K,8K,64K (default; K = 1024)")
      ->option_text("LIST");
  app.add_option("--transports", flags.transports, "comma-separated subset of: " + transports)
      ->option_text("LIST");
  app.add_option("--duration", flags.duration, "seconds per measurement (default 1.0)")
      ->option_text("SEC");
  app.add_option("--messages", flags.messages,
                 "a fixed count per measurement instead of a duration")
      ->option_text("N");
  app.add_flag("--quick", flags.quick, "smoke test: 0.1 s per measurement, short warm-up");
  app.add_flag("--fill-payload", flags.fill_payload,
               "the producer writes every payload byte and the consumer checks every byte "
               "(default: only the 24-byte stamp, zero-copy style)");
  command_line::add_output_option(app, flags.output, {"table", "json"})
      ->description(
          "table (default) or json: the JSON report on stdout, the table then goes to stderr");
  command_line::add_hidden_switch_alias(app, "--json", flags.output, "json");
  app.add_option("--json-out", flags.json_out, "also write the JSON report to FILE")
      ->option_text("FILE");
  app.add_flag("--no-table", flags.no_table, "do not print the table");
  app.add_flag("--host-ipc", flags.host_ipc,
               "stay in the host IPC namespace (no private mqueue limits)");
  app.add_option("--timeout", flags.timeout,
                 "kill a measurement that takes longer than SEC seconds (default 60)")
      ->option_text("SEC");
  app.add_flag("--quiet", flags.quiet, "no progress lines on stderr");
  app.add_flag("--inject-gap", flags.inject_gap,
               "self-check: skip one sequence number per stream, which must make the run fail "
               "verification (exit 1)");
  app.add_option("--fanout", flags.fanout,
                 "fan-out: one producer to each number of subscribers in LIST, every subscriber "
                 "receiving every 64 B message (default 1,2,4,8)")
      ->option_text("LIST");
  app.add_option("--fanin", flags.fanin, "fan-in: N producers to one subscriber (default 4)")
      ->option_text("N");
  app.add_flag("--no-fanout", flags.no_fanout, "skip the fan-out and fan-in measurements");
  app.add_option("--plot-out", flags.plot_out, "write an SVG chart of the fan-out curve to FILE")
      ->option_text("FILE");
  app.add_option("--paced", flags.paced,
                 "paced section: for each rate in LIST (msgs/s, default 1000,10000,50000) a "
                 "producer sends 64 B messages on a fixed timetable; one-way latency, each side's "
                 "CPU use and the CFS throttling of this process's cgroup")
      ->option_text("LIST");
  app.add_flag("--no-paced", flags.no_paced, "skip the paced section");
  app.add_option("--hog", flags.hog,
                 "competing load: N processes spin on the sides' cores for the whole run, with "
                 "the sides' own priority (what a transport keeps of its quiet figures when the "
                 "cores are shared; default 0)")
      ->option_text("N");
  for (CLI::Option* option : app.get_options()) option->take_last();
}

BenchOptions to_bench_options(const BenchFlags& flags) {
  BenchOptions options;
  if (flags.sizes) {
    options.sizes.clear();
    for (const auto& part : split(*flags.sizes)) options.sizes.push_back(parse_size(part));
    if (options.sizes.empty()) throw std::invalid_argument("--sizes: empty list");
  }
  if (flags.transports) {
    options.transports = split(*flags.transports);
    const auto known = transport_names();
    for (const auto& name : options.transports) {
      if (std::find(known.begin(), known.end(), name) == known.end()) {
        throw std::invalid_argument("--transports: unknown transport '" + name + "'");
      }
    }
  }
  options.quick = flags.quick;
  if (flags.duration) {
    options.duration_seconds = parse_positive("--duration", *flags.duration);
  } else if (options.quick) {
    options.duration_seconds = 0.1;
  }
  if (flags.messages) {
    options.messages = static_cast<std::uint64_t>(parse_positive("--messages", *flags.messages));
  }
  options.print_json = flags.output == "json";
  options.json_out = flags.json_out;
  options.print_table = !flags.no_table;
  options.private_ipc_namespace = !flags.host_ipc;
  if (flags.timeout) {
    options.measurement_timeout_seconds = parse_positive("--timeout", *flags.timeout);
  }
  options.fill_payload = flags.fill_payload;
  options.inject_gap = flags.inject_gap;
  options.progress = !flags.quiet;
  if (flags.fanout) {
    options.fanout_subscribers = parse_number_list("--fanout", *flags.fanout, 1, kMaxGroupMembers);
  }
  if (flags.fanin) {
    options.fanin_producers = parse_whole_number("--fanin", *flags.fanin, 2, kMaxGroupMembers);
  }
  options.fanout = !flags.no_fanout;
  options.plot_out = flags.plot_out;
  if (flags.paced) {
    options.paced_rates = parse_number_list("--paced", *flags.paced, 1, kMaxPacedRate);
  }
  options.paced = !flags.no_paced;
  if (flags.hog) options.hogs = parse_whole_number("--hog", *flags.hog, 0, kMaxGroupMembers);
  if (!options.fanout && !options.plot_out.empty()) {
    throw std::invalid_argument("--plot-out charts the fan-out measurements: drop --no-fanout");
  }
  if (!options.paced && flags.paced) {
    throw std::invalid_argument("--paced and --no-paced contradict each other");
  }
  return options;
}

tl::expected<BenchOptions, command_line::ParseOutcome> parse_bench_options(
    const std::string& program, const std::vector<std::string>& args) {
  CLI::App app(kBenchDescription, program);
  BenchFlags flags;
  define_bench_flags(app, flags);
  auto outcome = command_line::parse(app, args);
  if (!outcome.run) return tl::unexpected(std::move(outcome));
  try {
    return to_bench_options(flags);
  } catch (const std::invalid_argument& error) {
    return tl::unexpected(command_line::ParseOutcome{
        false, command_line::kExitUsage, command_line::usage_error(program, error.what())});
  }
}

}  // namespace ipcmesh::bench
