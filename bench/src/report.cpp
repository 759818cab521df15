#include "report.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>
#include <optional>
#include <sstream>
#include <string>

#include "ipcmesh/bench/bench.hpp"

namespace ipcmesh::bench {
namespace {

constexpr const char* kFloor = "spsc-floor";
constexpr const char* kShm = "ipcmesh-shm";
constexpr const char* kShmSpin = "ipcmesh-shm-spin";
constexpr const char* kShmBusy = "ipcmesh-shm-busy";
constexpr const char* kMqueue = "posix-mqueue";
constexpr const char* kIceoryx = "iceoryx";
constexpr const char* kIceoryxPoll = "iceoryx-poll";
// The paced targets are judged at this rate: well below what every transport sustains, and far
// enough apart (100 us) that a subscriber waits between messages.
constexpr std::uint32_t kPacedTargetRate = 10000;

std::optional<double> number(const nlohmann::json& object, const char* key) {
  if (!object.is_object() || !object.contains(key) || !object[key].is_number()) return {};
  return object[key].get<double>();
}

const nlohmann::json* find_row(const nlohmann::json& report, const std::string& transport,
                               std::size_t size) {
  for (const auto& row : report["results"]) {
    if (row["transport"] == transport && row["size_bytes"] == size) return &row;
  }
  return nullptr;
}

// Why a figure is missing, for a target that cannot be judged.
std::string missing_reason(const nlohmann::json* row, const char* pattern,
                           const std::string& transport, std::size_t size) {
  const std::string what = transport + " at " + format_size(size);
  if (row == nullptr) return what + " was not selected";
  const auto& m = (*row)[pattern];
  if (m.value("status", "") == "not_run") return what + " did not run: " + m.value("reason", "");
  if (m.value("status", "") == "failed") return what + " failed verification";
  return what + " has no figure";
}

std::optional<double> figure(const nlohmann::json& report, const std::string& transport,
                             std::size_t size, const char* key) {
  const auto* row = find_row(report, transport, size);
  return row ? number(*row, key) : std::nullopt;
}

std::string fixed(double value, int digits) {
  char text[64];
  std::snprintf(text, sizeof text, "%.*f", digits, value);
  return text;
}

std::string format_ns(std::optional<double> ns) {
  if (!ns) return "-";
  if (*ns < 10'000) return fixed(*ns / 1000.0, 2) + " us";
  if (*ns < 1'000'000) return fixed(*ns / 1000.0, 1) + " us";
  return fixed(*ns / 1e6, 2) + " ms";
}

std::string format_rate(std::optional<double> rate) {
  if (!rate) return "-";
  if (*rate >= 1e6) return fixed(*rate / 1e6, 2) + " M";
  if (*rate >= 1e3) return fixed(*rate / 1e3, 1) + " k";
  return fixed(*rate, 0);
}

std::string format_mb(std::optional<double> mb) {
  if (!mb) return "-";
  if (*mb >= 10'000) return fixed(*mb / 1000.0, 1) + " GB/s";
  return fixed(*mb, *mb >= 100 ? 0 : 1) + " MB/s";
}

// A required factor: "15.0x", "2.0x", and "0.25x" rather than a rounded "0.2x".
std::string format_required_factor(double value) {
  const bool one_digit = std::round(value * 10) == value * 10;
  return fixed(value, one_digit ? 1 : 2) + "x";
}

std::string format_ratio(const nlohmann::json& row, const char* reference, const char* key) {
  if (!row.contains("ratios")) return "-";
  const auto value = number(row["ratios"][reference], key);
  if (!value) return "-";
  return fixed(*value, *value >= 10 ? 1 : 2) + "x";
}

// The fraction of the floor a row reaches, as a percentage ("42%").
std::string format_of_floor(const nlohmann::json& row) {
  if (!row.contains("ratios")) return "-";
  const auto value = number(row["ratios"][kFloor], "throughput");
  if (!value) return "-";
  return fixed(*value * 100.0, *value >= 0.1 ? 0 : 1) + "%";
}

std::string pad(const std::string& text, std::size_t width, bool right = true) {
  if (text.size() >= width) return text;
  const std::string fill(width - text.size(), ' ');
  return right ? fill + text : text + fill;
}

nlohmann::json target(std::string id, std::string description, std::optional<double> measured,
                      double required, bool at_least, std::string unit, std::string note) {
  nlohmann::json t = {{"id", std::move(id)},     {"description", std::move(description)},
                      {"required", required},    {"comparison", at_least ? ">=" : "<="},
                      {"unit", std::move(unit)}, {"note", std::move(note)}};
  if (measured) {
    t["measured"] = *measured;
    t["pass"] = at_least ? *measured >= required : *measured <= required;
  } else {
    t["measured"] = nullptr;
    t["pass"] = nullptr;
  }
  return t;
}

// A target on the ratio of one transport's figure to a reference transport's at the same size.
struct RatioTarget {
  const char* id;
  const char* description;
  const char* transport;
  const char* reference;
  std::size_t size;
  const char* key;  // "msgs_per_s" (stream, higher is better) or "rtt_p50_ns" (ping-pong)
  double required;
  bool at_least;
};

nlohmann::json ratio_target(const nlohmann::json& report, const RatioTarget& spec) {
  const bool rate = std::string(spec.key) == "msgs_per_s";
  const char* pattern = rate ? "stream" : "ping_pong";
  const auto value = figure(report, spec.transport, spec.size, spec.key);
  const auto reference = figure(report, spec.reference, spec.size, spec.key);
  const auto format = [&](std::optional<double> v) {
    return rate ? format_rate(v) + " msgs/s" : format_ns(v);
  };
  std::optional<double> ratio;
  std::string note;
  if (value && reference && *reference > 0) {
    ratio = *value / *reference;
    note = format(value) + " vs " + format(reference);
  } else {
    note = !value ? missing_reason(find_row(report, spec.transport, spec.size), pattern,
                                   spec.transport, spec.size)
                  : missing_reason(find_row(report, spec.reference, spec.size), pattern,
                                   spec.reference, spec.size);
  }
  return target(spec.id, spec.description, ratio, spec.required, spec.at_least, "x", note);
}

std::string format_target_value(double value, const std::string& unit, bool required) {
  if (unit == "x") return required ? format_required_factor(value) : fixed(value, 2) + "x";
  if (unit == "ns") return format_ns(value);
  if (unit == "%") return fixed(value, required ? 0 : 1) + "%";
  return format_mb(value);
}

const nlohmann::json* find_paced_row(const nlohmann::json& report, const std::string& transport,
                                     std::uint32_t rate) {
  if (!report.contains("paced")) return nullptr;
  for (const auto& row : report["paced"]["rows"]) {
    if (row["transport"] == transport && row["rate_msgs_per_s"] == rate) return &row;
  }
  return nullptr;
}

std::optional<double> paced_figure(const nlohmann::json& report, const std::string& transport,
                                   std::uint32_t rate, const char* key) {
  const auto* row = find_paced_row(report, transport, rate);
  return row ? number(*row, key) : std::nullopt;
}

std::string missing_paced_reason(const nlohmann::json& report, const std::string& transport,
                                 std::uint32_t rate) {
  const std::string what = transport + " paced at " + std::to_string(rate) + " msgs/s";
  const auto* row = find_paced_row(report, transport, rate);
  if (row == nullptr) {
    return what +
           " was not measured (paced section off, rate not in --paced or transport not "
           "selected)";
  }
  if ((*row)["status"] == "not_run") return what + " did not run: " + row->value("reason", "");
  if ((*row)["status"] == "failed") return what + " failed verification";
  return what + " has no figure";
}

std::string verdict_text(const std::string& status) {
  if (status == "failed") return "FAILED";
  if (status == "partial") return "partial";
  return "yes";
}

// The second table: per transport, each fan-out shape then the fan-in one. A transport that runs
// none of them for one reason gets one line.
void render_group_table(const nlohmann::json& fanout, std::ostringstream& out) {
  if (!fanout.value("enabled", false)) return;
  const std::string size = format_size(fanout.value("message_size", std::size_t{64}));
  out << "\nFan-out and fan-in: " << size
      << " streaming, every subscriber receives every message of every producer\n";
  out << "(sides pinned round-robin to cores " << fanout["cores"].dump()
      << ", producers first: with more sides than cores they share cores)\n";
  out << pad("transport", 18, false) << pad("shape", 9, false) << pad("sum msgs/s", 11)
      << pad("per sub", 10) << pad("producer", 10) << pad("prod vs 1 sub", 15) << "  verified\n";
  std::map<std::string, std::vector<const nlohmann::json*>> by_transport;
  std::vector<std::string> order;
  for (const auto& row : fanout["rows"]) {
    const std::string name = row["transport"];
    if (by_transport[name].empty()) order.push_back(name);
    by_transport[name].push_back(&row);
  }
  for (const auto& name : order) {
    const auto& rows = by_transport[name];
    const std::string first_reason = rows.front()->value("reason", "");
    const bool none_ran = std::all_of(rows.begin(), rows.end(), [&](const nlohmann::json* row) {
      return (*row)["status"] == "not_run" && row->value("reason", "") == first_reason;
    });
    if (none_ran) {
      out << pad(name, 18, false) << pad("all", 9, false) << "not run: " << first_reason << "\n";
      continue;
    }
    bool first = true;
    for (const auto* row : rows) {
      out << pad(first ? name : "", 18, false);
      first = false;
      out << pad(std::to_string((*row)["producers"].get<unsigned>()) + " -> " +
                     std::to_string((*row)["subscribers"].get<unsigned>()),
                 9, false);
      const std::string status = (*row)["status"];
      if (status == "not_run") {
        out << "not run: " << row->value("reason", "") << "\n";
        continue;
      }
      const auto cost = number(*row, "producer_rate_vs_1_subscriber");
      out << pad(format_rate(number(*row, "aggregate_msgs_per_s")), 11)
          << pad(format_rate(number(*row, "per_subscriber_msgs_per_s")), 10)
          << pad(format_rate(number(*row, "producer_msgs_per_s")), 10)
          << pad(cost ? fixed(*cost, 2) + "x" : "-", 15) << "  " << verdict_text(status) << "\n";
      for (const auto& e : (*row)["errors"]) out << "    ! " << e.get<std::string>() << "\n";
    }
  }
}

// The third table: per transport, one line per rate. CPU is per side over the time the messages
// flowed (100% = one core); "throttled" is nr_throttled/nr_periods of the bench's cgroup.
void render_paced_table(const nlohmann::json& report, std::ostringstream& out) {
  const auto& paced = report["paced"];
  if (!paced.value("enabled", false)) return;
  const nlohmann::json cgroup = report.contains("limits") && report["limits"].contains("cgroup_cpu")
                                    ? report["limits"]["cgroup_cpu"]
                                    : nlohmann::json::object();
  out << "\nPaced: " << format_size(paced.value("message_size", std::size_t{64}))
      << " at a fixed rate; one-way latency (receive - send time), CPU per side while the "
         "messages flow (100% = one core)\n";
  out << "(producer on core " << paced["cores"][0] << ", subscriber on core " << paced["cores"][1]
      << "; CFS throttling of cgroup " << cgroup.value("cgroup", std::string("?")) << " from "
      << (cgroup["cpu_stat"].is_string() ? cgroup["cpu_stat"].get<std::string>()
                                         : std::string("(no cpu.stat found)"))
      << ", CPU limit " << cgroup.value("cpu_limit", std::string("unknown")) << ")\n";
  out << pad("transport", 18, false) << pad("rate", 8) << pad("delivered/s", 12) << pad("p50", 10)
      << pad("p99", 10) << pad("p99.9", 10) << pad("max", 10) << pad("sub CPU", 9)
      << pad("prod CPU", 9) << pad("throttled", 11) << "  verified\n";
  const auto percent = [](std::optional<double> value) {
    return value ? fixed(*value, *value >= 10 ? 0 : 1) + "%" : std::string("-");
  };
  std::string previous;
  for (const auto& row : paced["rows"]) {
    const std::string name = row["transport"];
    out << pad(name == previous ? "" : name, 18, false);
    previous = name;
    out << pad(format_rate(number(row, "rate_msgs_per_s")), 8);
    const std::string status = row["status"];
    if (status == "not_run") {
      out << "  not run: " << row.value("reason", "") << "\n";
      continue;
    }
    const auto throttled = number(row, "throttled_periods");
    const auto periods = number(row, "cfs_periods");
    out << pad(format_rate(number(row, "delivered_msgs_per_s")), 12)
        << pad(format_ns(number(row, "latency_p50_ns")), 10)
        << pad(format_ns(number(row, "latency_p99_ns")), 10)
        << pad(format_ns(number(row, "latency_p999_ns")), 10)
        << pad(format_ns(number(row, "latency_max_ns")), 10)
        << pad(percent(number(row, "subscriber_cpu_percent")), 9)
        << pad(percent(number(row, "producer_cpu_percent")), 9)
        << pad(throttled && periods ? fixed(*throttled, 0) + "/" + fixed(*periods, 0) : "-", 11)
        << "  " << verdict_text(status) << "\n";
    for (const auto& e : row["errors"]) out << "    ! " << e.get<std::string>() << "\n";
  }
}

}  // namespace

std::string format_size(std::size_t bytes) {
  if (bytes >= (1u << 20) && bytes % (1u << 20) == 0) return std::to_string(bytes >> 20) + " MiB";
  if (bytes >= 1024 && bytes % 1024 == 0) return std::to_string(bytes >> 10) + " KiB";
  return std::to_string(bytes) + " B";
}

void summarize_row(nlohmann::json& row) {
  const auto& pp = row["ping_pong"];
  const auto& st = row["stream"];
  const std::string pp_status = pp.value("status", "not_run");
  const std::string st_status = st.value("status", "not_run");
  const auto put = [&](const char* key, const nlohmann::json& from, const std::string& status) {
    row[key] = status == "ok" && from.contains(key) ? from[key] : nlohmann::json(nullptr);
  };
  put("rtt_p50_ns", pp, pp_status);
  put("rtt_p99_ns", pp, pp_status);
  put("rtt_mean_ns", pp, pp_status);
  put("rtt_max_ns", pp, pp_status);
  put("msgs_per_s", st, st_status);
  put("mb_per_s", st, st_status);

  nlohmann::json errors = nlohmann::json::array();
  for (const auto* m : {&pp, &st}) {
    const char* label = m == &pp ? "ping-pong: " : "stream: ";
    if (m->contains("errors")) {
      for (const auto& e : (*m)["errors"]) errors.push_back(label + e.get<std::string>());
    }
  }
  row["errors"] = errors;
  if (pp_status == "failed" || st_status == "failed") {
    row["status"] = "failed";
    row["verified"] = false;
  } else if (pp_status == "ok" && st_status == "ok") {
    row["status"] = "ok";
    row["verified"] = true;
  } else if (pp_status == "ok" || st_status == "ok") {
    row["status"] = "partial";
    row["verified"] = true;  // what ran was verified; the missing half says why in its reason
  } else {
    row["status"] = "not_run";
    row["verified"] = nullptr;
    row["reason"] = pp.value("reason", st.value("reason", ""));
  }
}

void add_ratios(nlohmann::json& report) {
  for (auto& row : report["results"]) {
    const std::size_t size = row["size_bytes"];
    nlohmann::json ratios;
    for (const char* reference : {kFloor, kMqueue, kIceoryx, kIceoryxPoll}) {
      const auto ref_rate = figure(report, reference, size, "msgs_per_s");
      const auto ref_rtt = figure(report, reference, size, "rtt_p50_ns");
      const auto rate = number(row, "msgs_per_s");
      const auto rtt = number(row, "rtt_p50_ns");
      nlohmann::json r;
      // Throughput: higher is better (x times the reference). Latency: lower is better.
      r["throughput"] = rate && ref_rate && *ref_rate > 0 ? nlohmann::json(*rate / *ref_rate)
                                                          : nlohmann::json(nullptr);
      r["rtt_p50"] = rtt && ref_rtt && *ref_rtt > 0 ? nlohmann::json(*rtt / *ref_rtt)
                                                    : nlohmann::json(nullptr);
      ratios[reference] = r;
    }
    row["ratios"] = ratios;
  }
}

nlohmann::json evaluate_targets(const nlohmann::json& report) {
  nlohmann::json targets = nlohmann::json::array();
  constexpr std::size_t k64 = 64;
  constexpr std::size_t k64Ki = 65536;

  // 1. 64 B streaming >= 15x raw mqueue.
  targets.push_back(
      ratio_target(report, {"shm_64B_throughput_vs_mqueue",
                            "64 B streaming throughput of ipcmesh-shm >= 15x posix-mqueue", kShm,
                            kMqueue, k64, "msgs_per_s", 15.0, true}));
  // 2. 64 B streaming >= 2x iceoryx: judged against the faster iceoryx variant (strict).
  {
    const auto shm = figure(report, kShm, k64, "msgs_per_s");
    const auto waitset = figure(report, kIceoryx, k64, "msgs_per_s");
    const auto poll = figure(report, kIceoryxPoll, k64, "msgs_per_s");
    std::optional<double> best;
    std::string best_name;
    if (waitset) {
      best = waitset;
      best_name = kIceoryx;
    }
    if (poll && (!best || *poll > *best)) {
      best = poll;
      best_name = kIceoryxPoll;
    }
    std::optional<double> ratio;
    std::string note;
    if (shm && best && *best > 0) {
      ratio = *shm / *best;
      note = "against the faster iceoryx variant (" + best_name + "): " + format_rate(shm) +
             " msgs/s vs " + format_rate(best) + " msgs/s";
      if (waitset && poll) {
        note += "; vs iceoryx (WaitSet) " + fixed(*shm / *waitset, 2) + "x, vs iceoryx-poll " +
                fixed(*shm / *poll, 2) + "x";
      }
    } else {
      note = !shm ? missing_reason(find_row(report, kShm, k64), "stream", kShm, k64)
                  : missing_reason(find_row(report, kIceoryx, k64), "stream", kIceoryx, k64);
    }
    targets.push_back(target("shm_64B_throughput_vs_iceoryx",
                             "64 B streaming throughput of ipcmesh-shm >= 2x iceoryx", ratio, 2.0,
                             true, "x", note));
  }
  // 3. 64 B round trip p50, default mode, no worse than mqueue.
  targets.push_back(
      ratio_target(report, {"shm_64B_rtt_p50_default_vs_mqueue",
                            "64 B round-trip p50 of ipcmesh-shm (default mode) <= posix-mqueue's",
                            kShm, kMqueue, k64, "rtt_p50_ns", 1.0, false}));
  // 4. 64 B round trip p50, busy-poll mode, <= 1.5 us.
  {
    const auto busy = figure(report, kShmBusy, k64, "rtt_p50_ns");
    const std::string note =
        busy ? format_ns(busy)
             : missing_reason(find_row(report, kShmBusy, k64), "ping_pong", kShmBusy, k64);
    targets.push_back(target("shm_busy_64B_rtt_p50",
                             "64 B round-trip p50 of ipcmesh-shm-busy <= 1.5 us", busy, 1500.0,
                             false, "ns", note));
  }
  // 5. 64 KiB streaming >= 20 GB/s (default mode).
  {
    const auto mb = figure(report, kShm, k64Ki, "mb_per_s");
    std::string note =
        mb ? format_mb(mb) : missing_reason(find_row(report, kShm, k64Ki), "stream", kShm, k64Ki);
    if (const auto busy = figure(report, kShmBusy, k64Ki, "mb_per_s")) {
      note += "; busy-poll mode " + format_mb(busy);
    }
    targets.push_back(target("shm_64KiB_throughput",
                             "64 KiB streaming throughput of ipcmesh-shm >= 20 GB/s", mb, 20000.0,
                             true, "MB/s", note));
  }
  // 6. 64 B streaming >= a quarter of the floor: what the channel's guarantees (many producers,
  // broadcast cursors, crash safety, sleeping consumers) may cost on top of a bare SPSC ring.
  targets.push_back(ratio_target(
      report, {"shm_64B_throughput_vs_floor",
               "64 B streaming throughput of ipcmesh-shm >= 0.25x spsc-floor (bare SPSC ring)",
               kShm, kFloor, k64, "msgs_per_s", 0.25, true}));
  // 7. Waiting costs little: at a moderate rate the default subscriber sleeps between messages
  // instead of spinning through its CPU quota.
  {
    const auto cpu = paced_figure(report, kShm, kPacedTargetRate, "subscriber_cpu_percent");
    std::string note = cpu ? "subscriber " + fixed(*cpu, 1) + "% of a core"
                           : missing_paced_reason(report, kShm, kPacedTargetRate);
    for (const char* other : {kShmSpin, kShmBusy, kMqueue}) {
      if (const auto v = paced_figure(report, other, kPacedTargetRate, "subscriber_cpu_percent")) {
        note += "; " + std::string(other) + " " + fixed(*v, 1) + "%";
      }
    }
    targets.push_back(target("shm_paced_idle_cpu",
                             "ipcmesh-shm (default mode) subscriber at 10,000 msgs/s (64 B, paced) "
                             "<= 25% of a core",
                             cpu, 25.0, false, "%", note));
  }
  // 8. ... and no worse a tail than the kernel's queue, which also sleeps between messages.
  {
    const auto shm = paced_figure(report, kShm, kPacedTargetRate, "latency_p999_ns");
    const auto mqueue = paced_figure(report, kMqueue, kPacedTargetRate, "latency_p999_ns");
    std::optional<double> ratio;
    std::string note;
    if (shm && mqueue && *mqueue > 0) {
      ratio = *shm / *mqueue;
      note = format_ns(shm) + " vs " + format_ns(mqueue);
    } else {
      if (!shm) note = missing_paced_reason(report, kShm, kPacedTargetRate);
      if (!mqueue) {
        note +=
            (note.empty() ? "" : "; ") + missing_paced_reason(report, kMqueue, kPacedTargetRate);
      }
    }
    targets.push_back(target("shm_paced_p999_vs_mqueue",
                             "one-way p99.9 of ipcmesh-shm (default mode) at 10,000 msgs/s (64 B, "
                             "paced) <= posix-mqueue's",
                             ratio, 1.0, false, "x", note));
  }
  return targets;
}

void summarize_group_row(nlohmann::json& row) {
  const auto& m = row["measurement"];
  const std::string status = m.value("status", "not_run");
  for (const char* key :
       {"aggregate_msgs_per_s", "per_subscriber_msgs_per_s", "producer_msgs_per_s"}) {
    row[key] = status == "ok" && m.contains(key) ? m[key] : nlohmann::json(nullptr);
  }
  row["status"] = status;
  row["verified"] = status == "not_run" ? nlohmann::json(nullptr) : nlohmann::json(status == "ok");
  row["errors"] = m.contains("errors") ? m["errors"] : nlohmann::json::array();
  if (status == "not_run") row["reason"] = m.value("reason", "");
}

void summarize_paced_row(nlohmann::json& row) {
  const auto& m = row["measurement"];
  const std::string status = m.value("status", "not_run");
  const bool ok = status == "ok" && m.contains("paced");
  const nlohmann::json none(nullptr);
  const auto& paced = ok ? m["paced"] : none;
  const auto& throttling = ok && m.contains("cgroup_throttling") ? m["cgroup_throttling"] : none;
  const auto put = [&](const char* key, const nlohmann::json& from, const char* from_key) {
    row[key] = from.is_object() && from.contains(from_key) ? from[from_key] : none;
  };
  put("delivered_msgs_per_s", ok ? m : none, "msgs_per_s");
  for (const char* key :
       {"latency_p50_ns", "latency_p99_ns", "latency_p999_ns", "latency_max_ns", "late_messages"}) {
    put(key, paced, key);
  }
  for (const char* side : {"subscriber", "producer"}) {
    const auto& usage = ok ? paced[side] : none;
    put((std::string(side) + "_cpu_percent").c_str(), usage, "cpu_percent");
    put((std::string(side) + "_involuntary_switches").c_str(), usage, "involuntary_switches");
  }
  put("cfs_periods", throttling, "nr_periods");
  put("throttled_periods", throttling, "nr_throttled");
  put("throttled_ns", throttling, "throttled_ns");
  row["status"] = status;
  row["verified"] = status == "not_run" ? nlohmann::json(nullptr) : nlohmann::json(status == "ok");
  row["errors"] = m.contains("errors") ? m["errors"] : nlohmann::json::array();
  if (status == "not_run") row["reason"] = m.value("reason", "");
}

void add_group_costs(nlohmann::json& report) {
  if (!report.contains("fanout")) return;
  auto& rows = report["fanout"]["rows"];
  for (auto& row : rows) {
    row["producer_rate_vs_1_subscriber"] = nullptr;
    if (row["kind"] != "fan-out") continue;
    const auto rate = number(row, "producer_msgs_per_s");
    for (const auto& base : rows) {
      if (base["transport"] != row["transport"] || base["kind"] != "fan-out" ||
          base["subscribers"] != 1) {
        continue;
      }
      const auto base_rate = number(base, "producer_msgs_per_s");
      if (rate && base_rate && *base_rate > 0)
        row["producer_rate_vs_1_subscriber"] = *rate / *base_rate;
    }
  }
}

bool report_verified(const nlohmann::json& report) {
  for (const auto& row : report["results"]) {
    if (row.value("status", "") == "failed") return false;
  }
  for (const char* section : {"fanout", "paced"}) {
    if (!report.contains(section)) continue;
    for (const auto& row : report[section]["rows"]) {
      if (row.value("status", "") == "failed") return false;
    }
  }
  return true;
}

std::string render_table(const nlohmann::json& report) {
  std::ostringstream out;
  const auto& machine = report["machine"];
  out << "\nipcmesh bench  " << report.value("date", "") << "  " << machine.value("cpu_model", "?")
      << ", " << machine.value("nproc", 0) << " cores, " << machine.value("kernel", "?") << "\n";
  out << "load average before " << machine.value("load_average_before", "?") << ", after "
      << machine.value("load_average_after", "?") << "; sides pinned to cores "
      << report["settings"]["cores"].dump() << "; "
      << report["settings"].value("duration_per_measurement_s", 0.0) << " s per measurement\n";
  if (const auto hogs = report["settings"].value("/competing_hogs/running"_json_pointer, 0);
      hogs > 0) {
    out << "competing load (--hog): " << hogs
        << " busy-loop processes at the sides' priority on cores "
        << report["settings"]["competing_hogs"]["cores"].dump() << " for the whole run\n";
  }
  out << "payload: "
      << (report["settings"].value("fill_payload", false)
              ? "every byte written by the producer and checked by the consumer (--fill-payload)"
              : "24-byte stamp written and checked; zero-copy transports leave the rest untouched")
      << "\n";
  out << "IPC namespace: " << report["limits"].value("ipc_namespace", "?")
      << ", fs.mqueue.msgsize_max=" << report["limits"].value("mqueue_msgsize_max", -1)
      << ", RLIMIT_MSGQUEUE=" << report["limits"].value("rlimit_msgqueue", "?") << ", mqueue depth "
      << report["limits"].value("queue_depth_64B", -1L) << " at 64 B, "
      << report["limits"].value("queue_depth_max_size", -1L) << " at the largest size\n";

  std::map<std::size_t, std::vector<const nlohmann::json*>> by_size;
  for (const auto& row : report["results"]) by_size[row["size_bytes"]].push_back(&row);
  for (const auto& [size, rows] : by_size) {
    out << "\n" << format_size(size) << " messages\n";
    out << pad("transport", 18, false) << pad("rtt p50", 11) << pad("rtt p99", 11)
        << pad("msgs/s", 10) << pad("throughput", 12) << pad("of floor", 9) << pad("x mqueue", 10)
        << pad("x iceoryx", 10) << pad("x iox-poll", 11) << pad("rtt x mq", 10) << "  verified\n";
    for (const auto* row : rows) {
      const std::string name = (*row)["transport"];
      out << pad(name, 18, false);
      const std::string status = (*row)["status"];
      if (status == "not_run") {
        out << "not run: " << (*row).value("reason", "") << "\n";
        continue;
      }
      out << pad(format_ns(number(*row, "rtt_p50_ns")), 11)
          << pad(format_ns(number(*row, "rtt_p99_ns")), 11)
          << pad(format_rate(number(*row, "msgs_per_s")), 10)
          << pad(format_mb(number(*row, "mb_per_s")), 12) << pad(format_of_floor(*row), 9)
          << pad(format_ratio(*row, kMqueue, "throughput"), 10)
          << pad(format_ratio(*row, kIceoryx, "throughput"), 10)
          << pad(format_ratio(*row, kIceoryxPoll, "throughput"), 11)
          << pad(format_ratio(*row, kMqueue, "rtt_p50"), 10) << "  " << verdict_text(status)
          << "\n";
      for (const auto& e : (*row)["errors"]) out << "    ! " << e.get<std::string>() << "\n";
      for (const char* pattern : {"ping_pong", "stream"}) {
        if ((*row)[pattern].value("status", "") == "not_run") {
          out << "    " << pattern << " not run: " << (*row)[pattern].value("reason", "") << "\n";
        }
      }
    }
  }

  if (report.contains("fanout")) render_group_table(report["fanout"], out);
  if (report.contains("paced")) render_paced_table(report, out);

  out << "\nTargets (measured in this run):\n";
  int met = 0;
  int total = 0;
  for (const auto& t : report["targets"]) {
    ++total;
    std::string verdict = "NOT MEASURED";
    std::string measured;
    if (t["pass"].is_boolean()) {
      verdict = t["pass"].get<bool>() ? "PASS" : "MISSED";
      if (t["pass"].get<bool>()) ++met;
      const std::string unit = t["unit"];
      measured = format_target_value(t["measured"], unit, false) + " (need " +
                 t["comparison"].get<std::string>() + " " +
                 format_target_value(t["required"], unit, true) + ")";
    }
    out << "  [" << pad(verdict, 12, false) << "] " << t["description"].get<std::string>();
    if (!measured.empty()) out << ": " << measured;
    out << "\n      " << t["note"].get<std::string>() << "\n";
  }
  out << met << " of " << total << " targets met.";
  if (met < total) out << " Targets MISSED or not measured are listed above.";
  out << "\n";
  out << (report_verified(report) ? "Every message that was sent was verified: no loss, in order.\n"
                                  : "VERIFICATION FAILED for at least one row (see '!' lines).\n");
  return out.str();
}

}  // namespace ipcmesh::bench
