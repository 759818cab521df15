// The report's arithmetic on synthetic figures: the fraction of the spsc-floor every row
// reaches, the floor target, the fan-out producer rate relative to one subscriber, the paced
// targets and table, and that a failed fan-out or paced row fails the run. No process is started.
#include "report.hpp"

#include <gtest/gtest.h>

#include <ostream>
#include <string>

#include "ipcmesh/bench/bench.hpp"

namespace ipcmesh::bench {
namespace {

nlohmann::json stream_row(const std::string& transport, std::size_t size, double msgs_per_s) {
  return {{"transport", transport},
          {"size_bytes", size},
          {"status", "ok"},
          {"msgs_per_s", msgs_per_s},
          {"mb_per_s", msgs_per_s * static_cast<double>(size) / 1e6},
          {"rtt_p50_ns", 1000.0},
          {"ping_pong", {{"status", "ok"}}},
          {"stream", {{"status", "ok"}}},
          {"errors", nlohmann::json::array()}};
}

nlohmann::json report_with(nlohmann::json rows) {
  nlohmann::json report = {{"results", std::move(rows)}};
  add_ratios(report);
  report["targets"] = evaluate_targets(report);
  return report;
}

const nlohmann::json& target_by_id(const nlohmann::json& report, const std::string& id) {
  for (const auto& t : report["targets"]) {
    if (t["id"] == id) return t;
  }
  static const nlohmann::json missing;
  ADD_FAILURE() << "no target " << id;
  return missing;
}

TEST(Report, EveryRowGetsItsFractionOfTheFloorAtTheSameSize) {
  const auto report =
      report_with({stream_row("spsc-floor", 64, 20e6), stream_row("ipcmesh-shm", 64, 6e6),
                   stream_row("ipcmesh-shm", 1024, 3e6)});
  EXPECT_DOUBLE_EQ(report["results"][0]["ratios"]["spsc-floor"]["throughput"], 1.0);
  EXPECT_DOUBLE_EQ(report["results"][1]["ratios"]["spsc-floor"]["throughput"], 0.3);
  // No floor measured at 1 KiB: no ratio rather than one against another size.
  EXPECT_TRUE(report["results"][2]["ratios"]["spsc-floor"]["throughput"].is_null());
}

struct FloorTargetCase {
  double shm;
  bool pass;
};
void PrintTo(const FloorTargetCase& c, std::ostream* out) {
  *out << "ipcmesh-shm " << c.shm << " msgs/s vs a 20M floor";
}

class FloorTarget : public ::testing::TestWithParam<FloorTargetCase> {};

TEST_P(FloorTarget, PassesFromAQuarterOfTheFloor) {
  const auto report = report_with(
      {stream_row("spsc-floor", 64, 20e6), stream_row("ipcmesh-shm", 64, GetParam().shm)});
  const auto& t = target_by_id(report, "shm_64B_throughput_vs_floor");
  EXPECT_DOUBLE_EQ(t["measured"].get<double>(), GetParam().shm / 20e6);
  EXPECT_EQ(t["required"], 0.25);
  EXPECT_EQ(t["comparison"], ">=");
  EXPECT_EQ(t["pass"], GetParam().pass);
}

INSTANTIATE_TEST_SUITE_P(Figures, FloorTarget,
                         ::testing::Values(FloorTargetCase{5e6, true},
                                           FloorTargetCase{4.9e6, false},
                                           FloorTargetCase{12e6, true}),
                         [](const auto& info) {
                           return std::string(info.param.pass ? "Meets" : "Misses") + "At" +
                                  std::to_string(static_cast<int>(info.param.shm / 1e5)) +
                                  "HundredThousandMsgsPerSecond";
                         });

TEST(Report, FloorTargetIsNotMeasuredWithoutTheFloorAndSaysWhy) {
  const auto report = report_with({stream_row("ipcmesh-shm", 64, 6e6)});
  const auto& t = target_by_id(report, "shm_64B_throughput_vs_floor");
  EXPECT_TRUE(t["pass"].is_null());
  EXPECT_TRUE(t["measured"].is_null());
  EXPECT_NE(t["note"].get<std::string>().find("spsc-floor at 64 B was not selected"),
            std::string::npos)
      << t["note"];
}

TEST(Report, KeepsTheEarlierTargetsBesideTheFloorOne) {
  const auto report = report_with({stream_row("ipcmesh-shm", 64, 6e6)});
  std::vector<std::string> ids;
  for (const auto& t : report["targets"]) ids.push_back(t["id"]);
  EXPECT_EQ(ids,
            (std::vector<std::string>{
                "shm_64B_throughput_vs_mqueue", "shm_64B_throughput_vs_iceoryx",
                "shm_64B_rtt_p50_default_vs_mqueue", "shm_busy_64B_rtt_p50", "shm_64KiB_throughput",
                "shm_64B_throughput_vs_floor", "shm_paced_idle_cpu", "shm_paced_p999_vs_mqueue"}));
}

// A fan-out or fan-in row as bench.cpp builds it, before summarize_group_row.
nlohmann::json group_row(const std::string& transport, std::uint32_t producers,
                         std::uint32_t subscribers, double producer_rate, bool verified = true) {
  nlohmann::json row = {
      {"transport", transport},
      {"kind", producers > 1 ? "fan-in" : "fan-out"},
      {"producers", producers},
      {"subscribers", subscribers},
      {"measurement",
       {{"status", verified ? "ok" : "failed"},
        {"verified", verified},
        {"errors", verified ? nlohmann::json::array() : nlohmann::json{"subscriber 1: 1 lost"}},
        {"aggregate_msgs_per_s", producer_rate * subscribers},
        {"per_subscriber_msgs_per_s", producer_rate},
        {"producer_msgs_per_s", producer_rate}}}};
  summarize_group_row(row);
  return row;
}

TEST(Report, ProducerRateOfAFanOutIsRelativeToOneSubscriber) {
  nlohmann::json report = {
      {"results", nlohmann::json::array()},
      {"fanout",
       {{"enabled", true},
        {"rows",
         {group_row("ipcmesh-shm", 1, 1, 4e6), group_row("ipcmesh-shm", 1, 4, 1e6),
          group_row("ipcmesh-shm", 4, 1, 3e6), group_row("iceoryx", 1, 2, 1e5)}}}}};
  add_group_costs(report);
  const auto& rows = report["fanout"]["rows"];
  EXPECT_DOUBLE_EQ(rows[0]["producer_rate_vs_1_subscriber"], 1.0);
  EXPECT_DOUBLE_EQ(rows[1]["producer_rate_vs_1_subscriber"], 0.25);
  EXPECT_TRUE(rows[2]["producer_rate_vs_1_subscriber"].is_null());  // fan-in: no such ratio
  EXPECT_TRUE(rows[3]["producer_rate_vs_1_subscriber"].is_null());  // no 1-subscriber figure
  EXPECT_DOUBLE_EQ(rows[1]["aggregate_msgs_per_s"], 4e6);
  EXPECT_TRUE(report_verified(report));
}

TEST(Report, AFailedFanOutRowFailsTheRunAndShowsInTheSecondTable) {
  nlohmann::json report = {
      {"results", nlohmann::json::array()},
      {"targets", nlohmann::json::array()},
      {"machine", nlohmann::json::object()},
      {"settings", {{"cores", {0, 1}}}},
      {"limits", nlohmann::json::object()},
      {"fanout",
       {{"enabled", true},
        {"message_size", 64},
        {"cores", {0, 1}},
        {"rows",
         {group_row("ipcmesh-shm", 1, 1, 4e6), group_row("ipcmesh-shm", 1, 2, 2e6, false)}}}}};
  add_group_costs(report);
  EXPECT_FALSE(report_verified(report));
  EXPECT_TRUE(report["fanout"]["rows"][1]["per_subscriber_msgs_per_s"].is_null());
  const std::string table = render_table(report);
  EXPECT_NE(table.find("Fan-out and fan-in"), std::string::npos) << table;
  EXPECT_NE(table.find("FAILED"), std::string::npos) << table;
  EXPECT_NE(table.find("subscriber 1: 1 lost"), std::string::npos) << table;
}

// A paced row as bench.cpp builds it (the measurement as the harness returns it), summarized.
nlohmann::json paced_row(const std::string& transport, std::uint32_t rate, double subscriber_cpu,
                         double p999_ns, bool verified = true) {
  nlohmann::json row = {
      {"transport", transport},
      {"rate_msgs_per_s", rate},
      {"measurement",
       {{"status", verified ? "ok" : "failed"},
        {"verified", verified},
        {"errors", verified ? nlohmann::json::array() : nlohmann::json{"1 lost"}},
        {"msgs_per_s", rate * 0.999},
        {"paced",
         {{"rate_msgs_per_s", rate},
          {"late_messages", 2},
          {"latency_p50_ns", p999_ns / 10},
          {"latency_p99_ns", p999_ns / 2},
          {"latency_p999_ns", p999_ns},
          {"latency_max_ns", p999_ns * 3},
          {"subscriber",
           {{"cpu_percent", subscriber_cpu}, {"involuntary_switches", 4}, {"cpu_s", 0.1}}},
          {"producer", {{"cpu_percent", 12.5}, {"involuntary_switches", 1}, {"cpu_s", 0.12}}}}},
        {"cgroup_throttling", {{"nr_periods", 120}, {"nr_throttled", 3}, {"throttled_ns", 9e6}}}}}};
  summarize_paced_row(row);
  return row;
}

nlohmann::json paced_report(nlohmann::json rows) {
  nlohmann::json report = {
      {"results", nlohmann::json::array()},
      {"machine", nlohmann::json::object()},
      {"settings", {{"cores", {0, 1}}}},
      {"limits",
       {{"cgroup_cpu",
         {{"cgroup", "/kubepods/c1"},
          {"cpu_stat", "/sys/fs/cgroup/cpu.stat"},
          {"cpu_limit", "0.50 cores (50000 us per 100000 us)"}}}}},
      {"paced",
       {{"enabled", true}, {"message_size", 64}, {"cores", {0, 1}}, {"rows", std::move(rows)}}}};
  report["targets"] = evaluate_targets(report);
  return report;
}

TEST(Report, APacedRowCarriesItsFiguresFlat) {
  const auto row = paced_row("ipcmesh-shm", 10000, 7.5, 80e3);
  EXPECT_EQ(row["status"], "ok");
  EXPECT_DOUBLE_EQ(row["delivered_msgs_per_s"], 9990.0);
  EXPECT_DOUBLE_EQ(row["latency_p999_ns"], 80e3);
  EXPECT_DOUBLE_EQ(row["subscriber_cpu_percent"], 7.5);
  EXPECT_DOUBLE_EQ(row["producer_cpu_percent"], 12.5);
  EXPECT_EQ(row["subscriber_involuntary_switches"], 4);
  EXPECT_EQ(row["throttled_periods"], 3);
  EXPECT_EQ(row["cfs_periods"], 120);
  EXPECT_EQ(row["late_messages"], 2);
  const auto failed = paced_row("ipcmesh-shm", 10000, 7.5, 80e3, false);
  EXPECT_TRUE(failed["latency_p999_ns"].is_null());  // no figure from a failed run
  EXPECT_FALSE(failed["verified"].get<bool>());
}

struct IdleCpuCase {
  double subscriber_cpu;
  bool pass;
};
void PrintTo(const IdleCpuCase& c, std::ostream* out) {
  *out << "subscriber " << c.subscriber_cpu << "% at 10,000 msgs/s";
}

class PacedIdleCpuTarget : public ::testing::TestWithParam<IdleCpuCase> {};

TEST_P(PacedIdleCpuTarget, PassesUpToAQuarterOfACore) {
  const auto report =
      paced_report({paced_row("ipcmesh-shm", 1000, 90.0, 50e3),
                    paced_row("ipcmesh-shm", 10000, GetParam().subscriber_cpu, 50e3),
                    paced_row("ipcmesh-shm-spin", 10000, 60.0, 50e3)});
  const auto& t = target_by_id(report, "shm_paced_idle_cpu");
  EXPECT_DOUBLE_EQ(t["measured"].get<double>(), GetParam().subscriber_cpu);  // the 10k row's
  EXPECT_EQ(t["required"], 25.0);
  EXPECT_EQ(t["comparison"], "<=");
  EXPECT_EQ(t["unit"], "%");
  EXPECT_EQ(t["pass"], GetParam().pass);
  EXPECT_NE(t["note"].get<std::string>().find("ipcmesh-shm-spin 60.0%"), std::string::npos)
      << t["note"];
}

INSTANTIATE_TEST_SUITE_P(Figures, PacedIdleCpuTarget,
                         ::testing::Values(IdleCpuCase{6.0, true}, IdleCpuCase{25.0, true},
                                           IdleCpuCase{25.1, false}, IdleCpuCase{100.0, false}),
                         [](const auto& info) {
                           return std::string(info.param.pass ? "Meets" : "Misses") + "At" +
                                  std::to_string(static_cast<int>(info.param.subscriber_cpu * 10)) +
                                  "PerMille";
                         });

TEST(Report, PacedTailTargetIsTheRatioToMqueueInTheSameRun) {
  auto report = paced_report(
      {paced_row("ipcmesh-shm", 10000, 5.0, 40e3), paced_row("posix-mqueue", 10000, 5.0, 80e3)});
  auto t = target_by_id(report, "shm_paced_p999_vs_mqueue");
  EXPECT_DOUBLE_EQ(t["measured"].get<double>(), 0.5);
  EXPECT_EQ(t["pass"], true);
  report = paced_report(
      {paced_row("ipcmesh-shm", 10000, 5.0, 90e3), paced_row("posix-mqueue", 10000, 5.0, 60e3)});
  t = target_by_id(report, "shm_paced_p999_vs_mqueue");
  EXPECT_DOUBLE_EQ(t["measured"].get<double>(), 1.5);
  EXPECT_EQ(t["pass"], false);
}

TEST(Report, PacedTargetsAreNotMeasuredWithoutThe10kRowsAndSayWhy) {
  const auto report = paced_report({paced_row("ipcmesh-shm", 1000, 5.0, 40e3),
                                    paced_row("ipcmesh-shm", 10000, 5.0, 40e3, false)});
  const auto& cpu = target_by_id(report, "shm_paced_idle_cpu");
  EXPECT_TRUE(cpu["pass"].is_null());
  EXPECT_NE(cpu["note"].get<std::string>().find("failed verification"), std::string::npos)
      << cpu["note"];
  const auto& tail = target_by_id(report, "shm_paced_p999_vs_mqueue");
  EXPECT_TRUE(tail["pass"].is_null());
  const std::string note = tail["note"];  // both missing figures, each with its reason
  EXPECT_NE(note.find("ipcmesh-shm paced at 10000 msgs/s failed verification"), std::string::npos)
      << note;
  EXPECT_NE(note.find("posix-mqueue paced at 10000 msgs/s was not measured"), std::string::npos)
      << note;
  // A report without a paced section at all (an older one, or --no-paced).
  nlohmann::json no_paced = {{"results", nlohmann::json::array()}};
  no_paced["targets"] = evaluate_targets(no_paced);
  EXPECT_TRUE(target_by_id(no_paced, "shm_paced_idle_cpu")["pass"].is_null());
}

TEST(Report, TheThirdTableShowsEveryPacedRowAndAFailureFailsTheRun) {
  auto report = paced_report({paced_row("ipcmesh-shm", 1000, 5.0, 40e3),
                              paced_row("ipcmesh-shm", 10000, 7.5, 41e3),
                              paced_row("posix-mqueue", 10000, 4.0, 80e3, false)});
  EXPECT_FALSE(report_verified(report));
  const std::string table = render_table(report);
  EXPECT_NE(table.find("Paced: 64 B"), std::string::npos) << table;
  EXPECT_NE(table.find("0.50 cores"), std::string::npos) << table;
  EXPECT_NE(table.find("3/120"), std::string::npos) << table;  // throttled / periods
  EXPECT_NE(table.find("7.5%"), std::string::npos) << table;
  EXPECT_NE(table.find("FAILED"), std::string::npos) << table;
  EXPECT_NE(table.find("1 lost"), std::string::npos) << table;
  report["paced"]["rows"].erase(2);
  EXPECT_TRUE(report_verified(report));
}

}  // namespace
}  // namespace ipcmesh::bench
