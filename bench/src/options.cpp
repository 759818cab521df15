// Command-line flags of the bench (shared by ipcmesh-bench and `ipcmeshctl bench`).
#include <algorithm>
#include <cstdlib>
#include <sstream>
#include <stdexcept>
#include <string>
#include <string_view>

#include "ipcmesh/bench/bench.hpp"
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

std::string bench_usage(const std::string& program) {
  std::ostringstream out;
  out << "Usage: " << program << " [options]\n"
      << "Side-by-side IPC benchmark: round-trip latency (ping-pong) and one-way streaming\n"
      << "throughput between two processes pinned to different cores, then 64 B fan-out\n"
      << "(1 -> N subscribers) and fan-in (N -> 1), then 64 B at fixed rates (paced); every\n"
      << "message verified.\n\n"
      << "Options:\n"
      << "  --sizes LIST        message sizes, e.g. 64,1K,8K,64K (default; K = 1024)\n"
      << "  --transports LIST   comma-separated subset of:\n                      ";
  const auto names = transport_names();
  for (std::size_t i = 0; i < names.size(); ++i) out << (i ? "," : "") << names[i];
  out << "\n"
      << "  --duration SEC      time per measurement (default 1.0)\n"
      << "  --messages N        a fixed count per measurement instead of a duration\n"
      << "  --quick             smoke test: 0.1 s per measurement, short warm-up\n"
      << "  --fill-payload      the producer writes every payload byte and the consumer checks\n"
      << "                      every byte (default: only the 24-byte stamp, zero-copy style)\n"
      << "  --json              print the JSON report on stdout (the table goes to stderr)\n"
      << "  --json-out FILE     also write the JSON report to FILE\n"
      << "  --no-table          do not print the table\n"
      << "  --host-ipc          stay in the host IPC namespace (no private mqueue limits)\n"
      << "  --timeout SEC       kill a measurement that takes longer than this (default 60)\n"
      << "  --quiet             no progress lines on stderr\n"
      << "  --inject-gap        self-check: skip one sequence number per stream, which must\n"
      << "                      make the run fail verification (exit 1)\n"
      << "  --fanout LIST       fan-out: one producer to each number of subscribers in LIST,\n"
      << "                      every subscriber receiving every 64 B message (default 1,2,4,8)\n"
      << "  --fanin N           fan-in: N producers to one subscriber (default 4)\n"
      << "  --no-fanout         skip the fan-out and fan-in measurements\n"
      << "  --plot-out FILE     write an SVG chart of the fan-out curve to FILE\n"
      << "  --paced LIST        paced section: for each rate in LIST (msgs/s, default\n"
      << "                      1000,10000,50000) a producer sends 64 B messages on a fixed\n"
      << "                      timetable; one-way latency, each side's CPU use and the CFS\n"
      << "                      throttling of this process's cgroup\n"
      << "  --no-paced          skip the paced section\n"
      << "  -h, --help          this text\n\n"
      << "Exit status: 0 all messages verified (missed targets are reported, not failed),\n"
      << "1 a verification failed, 2 usage or setup error.\n";
  return out.str();
}

BenchOptions parse_bench_options(int argc, char** argv, bool& help) {
  BenchOptions options;
  help = false;
  bool duration_given = false;
  bool paced_given = false;
  const auto value_of = [&](int& i, const std::string& flag) -> std::string {
    if (i + 1 >= argc) throw std::invalid_argument(flag + " needs a value");
    return argv[++i];
  };
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    std::string inline_value;
    bool has_inline = false;
    if (const auto eq = arg.find('='); arg.rfind("--", 0) == 0 && eq != std::string::npos) {
      inline_value = arg.substr(eq + 1);
      arg = arg.substr(0, eq);
      has_inline = true;
    }
    const auto value = [&]() { return has_inline ? inline_value : value_of(i, arg); };
    if (arg == "-h" || arg == "--help") {
      help = true;
    } else if (arg == "--sizes") {
      options.sizes.clear();
      for (const auto& part : split(value())) options.sizes.push_back(parse_size(part));
      if (options.sizes.empty()) throw std::invalid_argument("--sizes: empty list");
    } else if (arg == "--transports") {
      options.transports = split(value());
      const auto known = transport_names();
      for (const auto& name : options.transports) {
        if (std::find(known.begin(), known.end(), name) == known.end()) {
          throw std::invalid_argument("--transports: unknown transport '" + name + "'");
        }
      }
    } else if (arg == "--duration") {
      options.duration_seconds = parse_positive(arg, value());
      duration_given = true;
    } else if (arg == "--messages") {
      options.messages = static_cast<std::uint64_t>(parse_positive(arg, value()));
    } else if (arg == "--quick") {
      options.quick = true;
    } else if (arg == "--json") {
      options.print_json = true;
    } else if (arg == "--json-out") {
      options.json_out = value();
    } else if (arg == "--no-table") {
      options.print_table = false;
    } else if (arg == "--host-ipc") {
      options.private_ipc_namespace = false;
    } else if (arg == "--timeout") {
      options.measurement_timeout_seconds = parse_positive(arg, value());
    } else if (arg == "--fill-payload") {
      options.fill_payload = true;
    } else if (arg == "--inject-gap") {
      options.inject_gap = true;
    } else if (arg == "--quiet") {
      options.progress = false;
    } else if (arg == "--fanout") {
      options.fanout_subscribers = parse_number_list(arg, value(), 1, kMaxGroupMembers);
    } else if (arg == "--fanin") {
      options.fanin_producers = parse_whole_number(arg, value(), 2, kMaxGroupMembers);
    } else if (arg == "--no-fanout") {
      options.fanout = false;
    } else if (arg == "--plot-out") {
      options.plot_out = value();
    } else if (arg == "--paced") {
      options.paced_rates = parse_number_list(arg, value(), 1, kMaxPacedRate);
      paced_given = true;
    } else if (arg == "--no-paced") {
      options.paced = false;
    } else {
      throw std::invalid_argument("unknown option '" + arg + "' (see --help)");
    }
  }
  if (options.quick && !duration_given) options.duration_seconds = 0.1;
  if (!options.fanout && !options.plot_out.empty()) {
    throw std::invalid_argument("--plot-out charts the fan-out measurements: drop --no-fanout");
  }
  if (!options.paced && paced_given) {
    throw std::invalid_argument("--paced and --no-paced contradict each other");
  }
  return options;
}

}  // namespace ipcmesh::bench
