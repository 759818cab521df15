// The report's arithmetic on synthetic figures: the fraction of the spsc-floor every row
// reaches, the floor target, the fan-out producer rate relative to one subscriber, and that a
// failed fan-out row fails the run. No process is started.
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
  EXPECT_EQ(ids, (std::vector<std::string>{
                     "shm_64B_throughput_vs_mqueue", "shm_64B_throughput_vs_iceoryx",
                     "shm_64B_rtt_p50_default_vs_mqueue", "shm_busy_64B_rtt_p50",
                     "shm_64KiB_throughput", "shm_64B_throughput_vs_floor"}));
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

}  // namespace
}  // namespace ipcmesh::bench
