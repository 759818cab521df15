#include "report.hpp"

#include <algorithm>
#include <cstdio>
#include <sstream>

namespace ipcmesh::bench::scale {
namespace {

using json = nlohmann::json;

// results["a"]["b"] as a number, nullopt when absent or null.
std::optional<double> number_at(const json& results, std::initializer_list<const char*> path) {
  const json* node = &results;
  for (const char* key : path) {
    if (!node->is_object() || !node->contains(key)) return std::nullopt;
    node = &(*node)[key];
  }
  if (!node->is_number()) return std::nullopt;
  return node->get<double>();
}

std::string fixed(std::optional<double> value, int decimals, const char* unit = "") {
  if (!value) return "n/a";
  char text[64];
  std::snprintf(text, sizeof text, "%.*f%s", decimals, *value, unit);
  return text;
}

// value <= limit (value < limit when strict); unmeasured stays n/a.
TargetRow at_most(std::string measure, std::optional<double> value, double limit, int decimals,
                  const char* unit, std::string target, bool strict = false) {
  TargetRow row{std::move(measure), fixed(value, decimals, unit), std::move(target), std::nullopt};
  if (value) row.met = strict ? *value < limit : *value <= limit;
  return row;
}

}  // namespace

std::vector<TargetRow> evaluate_targets(const json& results) {
  std::vector<TargetRow> rows;
  const std::string pods = fixed(number_at(results, {"parameters", "pods"}), 0);

  rows.push_back(at_most("one Pod event, " + pods + " Pods in the namespace: operator CPU",
                         number_at(results, {"pod_event", "operator_cpu_per_event_ms"}), 1.0, 3,
                         " ms", "< 1 ms", /*strict=*/true));

  {
    const auto op = number_at(results, {"deployment", "operator_cpu_s"});
    const auto api = number_at(results, {"deployment", "apiserver_cpu_s"});
    TargetRow row{"Deployments 0 -> " + pods + " Pods: operator CPU vs API server CPU",
                  fixed(op, 1, " s") + " vs " + fixed(api, 1, " s"), "operator < API server",
                  std::nullopt};
    if (op && api) row.met = *op < *api;
    rows.push_back(row);
  }
  rows.push_back(at_most("status writes per channel per s, Deployment churn",
                         number_at(results, {"deployment", "status_writes_per_channel_per_s"}), 1.0,
                         2, "", "<= 1"));
  rows.push_back(
      at_most("status writes per channel per s, deleting N Pods",
              number_at(results, {"delete", "with_operator", "status_writes_per_channel_per_s"}),
              1.0, 2, "", "<= 1"));
  rows.push_back(at_most("status writes per channel per s, one-Pod churn",
                         number_at(results, {"pod_event", "status_writes_per_channel_per_s"}), 1.0,
                         2, "", "<= 1"));
  rows.push_back(at_most("Events per channel, Deployment 0 -> N (one transition)",
                         number_at(results, {"deployment", "channel_events_per_channel"}), 3.0, 1,
                         "", "<= 3 (a few)"));
  rows.push_back(at_most("Events per one-Pod event (no count changes)",
                         number_at(results, {"pod_event", "channel_events_per_event"}), 0.1, 2, "",
                         "~0 (no transition)"));
  rows.push_back(at_most("admission calls per Pod",
                         number_at(results, {"counts", "admission_calls_per_pod"}), 1.01, 2, "",
                         "1"));
  rows.push_back(at_most("added sequential create latency p50",
                         number_at(results, {"sequential", "added_p50_ms"}), 4.0, 2, " ms",
                         "<= 4 ms"));
  {
    const auto ratio = number_at(results, {"delete", "ratio"});
    TargetRow row{"deleting " + pods + " Pods, with / without the operator",
                  fixed(ratio, 2, "x") + " (" +
                      fixed(number_at(results, {"delete", "with_operator_s"}), 1, " s") + " / " +
                      fixed(number_at(results, {"delete", "without_operator_s"}), 1, " s") + ")",
                  "<= 1.10x", std::nullopt};
    if (ratio) row.met = *ratio <= 1.10;
    rows.push_back(row);
  }
  {
    std::optional<double> peak = number_at(results, {"operator_memory", "rss_peak_mib"});
    if (const auto hwm = number_at(results, {"operator_memory", "vm_hwm_mib"}); hwm && peak) {
      peak = std::max(*peak, *hwm);
    }
    rows.push_back(at_most("operator RSS, peak over the run", peak, 40.0, 1, " MiB", "<= 40 MiB"));
  }
  return rows;
}

bool any_missed(const std::vector<TargetRow>& rows) {
  return std::any_of(rows.begin(), rows.end(),
                     [](const TargetRow& row) { return row.met.has_value() && !*row.met; });
}

std::string format_report(const json& r, const std::vector<TargetRow>& rows) {
  std::ostringstream out;
  char line[256];
  const auto figure = [&](const std::string& name, const std::string& value) {
    std::snprintf(line, sizeof line, "  %-58s %s\n", name.c_str(), value.c_str());
    out << line;
  };
  const auto n = [&](std::initializer_list<const char*> path, int decimals, const char* unit = "") {
    return fixed(number_at(r, path), decimals, unit);
  };
  out << "ipcmesh-scale-bench " << r.value("date", "") << ", " << r["machine"].value("nproc", 0)
      << " cores (" << r["machine"].value("cpu_model", "?") << "), load average "
      << r.value("load_average_start", "?") << " at start, " << r.value("load_average_end", "?")
      << " at end\n";
  out << "operator: " << r["parameters"].value("operator_bin", "?") << "\n\n";
  out << "1. sequential creates (" << n({"sequential", "with_webhook", "count"}, 0)
      << " per namespace)\n";
  figure("with webhook p50 / p99", n({"sequential", "with_webhook", "p50_ms"}, 2) + " / " +
                                       n({"sequential", "with_webhook", "p99_ms"}, 2, " ms"));
  figure("without p50 / p99", n({"sequential", "without_webhook", "p50_ms"}, 2) + " / " +
                                  n({"sequential", "without_webhook", "p99_ms"}, 2, " ms"));
  figure("added p50 / p99", n({"sequential", "added_p50_ms"}, 2) + " / " +
                                n({"sequential", "added_p99_ms"}, 2, " ms"));
  out << "2. bursts of " << n({"burst", "concurrency"}, 0) << " concurrent creates ("
      << n({"burst", "with_webhook", "count"}, 0) << " per namespace)\n";
  figure("with webhook p50 / p99", n({"burst", "with_webhook", "p50_ms"}, 1) + " / " +
                                       n({"burst", "with_webhook", "p99_ms"}, 1, " ms"));
  figure("without p50 / p99", n({"burst", "without_webhook", "p50_ms"}, 1) + " / " +
                                  n({"burst", "without_webhook", "p99_ms"}, 1, " ms"));
  figure("added p50 / p99",
         n({"burst", "added_p50_ms"}, 1) + " / " + n({"burst", "added_p99_ms"}, 1, " ms"));
  out << "3. Deployments 0 -> " << n({"parameters", "pods"}, 0) << " Pods\n";
  figure("all Pods exist after", n({"deployment", "all_pods_created_s"}, 1, " s") + " (" +
                                     n({"deployment", "pods_per_s"}, 1) + " Pods/s)");
  figure("every channel's status exact after",
         n({"deployment", "status_exact_s"}, 1, " s") + " (" +
             n({"deployment", "status_exact_after_last_pod_s"}, 2, " s after the last Pod)"));
  figure("operator CPU / API server CPU (same interval)",
         n({"deployment", "operator_cpu_s"}, 1, " s") + " / " +
             n({"deployment", "apiserver_cpu_s"}, 1, " s") + " (ratio " +
             n({"deployment", "operator_to_apiserver_cpu"}, 2) + ")");
  figure("etcd / controller manager CPU",
         n({"deployment", "etcd_cpu_s"}, 1, " s") + " / " +
             n({"deployment", "controller_manager_cpu_s"}, 1, " s"));
  figure("operator CPU after status exact (backlog)",
         n({"deployment", "operator_cpu_after_exact_s"}, 1, " s") + " over " +
             n({"deployment", "operator_busy_after_exact_s"}, 1, " s"));
  figure("status writes (API server) / per channel per s",
         n({"deployment", "status_writes"}, 0) + " / " +
             n({"deployment", "status_writes_per_channel_per_s"}, 2));
  figure("status writes (operator's ipcmesh_status_writes_total)",
         n({"deployment", "operator_status_writes"}, 0));
  figure(
      "Events on channels (objects / counted with series)",
      n({"deployment", "channel_events"}, 0) + " / " + n({"deployment", "channel_event_count"}, 0));
  figure("operator RSS peak / at the end of the step",
         n({"deployment", "operator_rss_peak_mib"}, 1) + " / " +
             n({"deployment", "operator_rss_end_mib"}, 1, " MiB"));
  out << "4. one Pod event (" << n({"pod_event", "events"}, 0) << " label patches) with "
      << n({"parameters", "pods"}, 0) << " Pods in the namespace\n";
  figure("operator CPU per event (idle rate subtracted)",
         n({"pod_event", "operator_cpu_per_event_ms"}, 3, " ms") + " (idle " +
             n({"pod_event", "operator_idle_cpu_per_s"}, 4, " s/s)"));
  figure("  the same from utime + stime (10 ms ticks)",
         n({"pod_event", "operator_cpu_per_event_ms_ticks"}, 2, " ms"));
  figure("reconciles per event / wall ms each (operator metrics)",
         n({"pod_event", "reconciles_per_event"}, 1) + " / " +
             n({"pod_event", "reconcile_ms_each"}, 2, " ms"));
  figure("status writes / Events per event", n({"pod_event", "status_writes_per_event"}, 2) +
                                                 " / " +
                                                 n({"pod_event", "channel_events_per_event"}, 2));
  out << "5. deleting " << n({"delete", "pods"}, 0) << " Pods (" << n({"delete", "concurrency"}, 0)
      << " clients)\n";
  figure("with the operator: gone / status exact",
         n({"delete", "with_operator_s"}, 2, " s") + " / " +
             n({"delete", "with_operator_status_exact_s"}, 2, " s"));
  figure("without the operator (stopped, webhook unregistered)",
         n({"delete", "without_operator_s"}, 2, " s"));
  figure("status writes / Events while deleting with the operator",
         n({"delete", "with_operator", "status_writes"}, 0) + " / " +
             n({"delete", "with_operator", "channel_events"}, 0));
  out << "6. over the run\n";
  figure("Pods created through the webhook / admission calls",
         n({"counts", "pods_created_with_webhook"}, 0) + " / " +
             n({"counts", "admission_calls"}, 0) + " (operator counted " +
             n({"counts", "operator_admission_requests"}, 0) + ")");
  figure("status writes: API server / operator metric",
         n({"counts", "status_writes"}, 0) + " / " + n({"counts", "operator_status_writes"}, 0));
  figure("Events on channels: objects / counted with series",
         n({"counts", "channel_events"}, 0) + " / " + n({"counts", "channel_event_count"}, 0));
  figure("failed creates / failed requests (all)",
         n({"counts", "create_errors"}, 0) + " / " + n({"counts", "request_errors"}, 0) +
             (r["counts"].value("first_error", "").empty()
                  ? ""
                  : " (first: " + r["counts"].value("first_error", "") + ")"));
  figure("operator RSS peak / end / VmHWM", n({"operator_memory", "rss_peak_mib"}, 1) + " / " +
                                                n({"operator_memory", "rss_end_mib"}, 1) + " / " +
                                                n({"operator_memory", "vm_hwm_mib"}, 1, " MiB"));

  out << "\ntargets (issue 13)\n";
  std::snprintf(line, sizeof line, "  %-62s %-26s %-20s %s\n", "measure", "value", "target", "");
  out << line;
  for (const auto& row : rows) {
    std::snprintf(line, sizeof line, "  %-62s %-26s %-20s %s\n", row.measure.c_str(),
                  row.value.c_str(), row.target.c_str(),
                  !row.met ? "n/a" : (*row.met ? "met" : "MISSED"));
    out << line;
  }
  return out.str();
}

}  // namespace ipcmesh::bench::scale
