// The scale bench's verdicts: each target met, MISSED or n/a from the figures alone.
#include "report.hpp"

#include <gtest/gtest.h>

namespace ipcmesh::bench::scale {
namespace {

using nlohmann::json;

json figures(double cpu_per_event_ms, double operator_cpu, double apiserver_cpu) {
  return {{"parameters", {{"pods", 5000}}},
          {"machine", {{"nproc", 2}}},
          {"pod_event",
           {{"operator_cpu_per_event_ms", cpu_per_event_ms},
            {"status_writes_per_channel_per_s", 0.2},
            {"channel_events_per_event", 0.0}}},
          {"deployment",
           {{"operator_cpu_s", operator_cpu},
            {"apiserver_cpu_s", apiserver_cpu},
            {"status_writes_per_channel_per_s", 0.9},
            {"channel_events_per_channel", 2.0}}},
          {"counts", {{"admission_calls_per_pod", 1.0}}},
          {"sequential", {{"added_p50_ms", 3.5}}},
          {"delete",
           {{"ratio", 1.05},
            {"with_operator_s", 10.5},
            {"without_operator_s", 10.0},
            {"with_operator", {{"status_writes_per_channel_per_s", 0.5}}}}},
          {"operator_memory", {{"rss_peak_mib", 30.0}, {"vm_hwm_mib", 31.0}}}};
}

const TargetRow& row_about(const std::vector<TargetRow>& rows, const std::string& words) {
  for (const auto& row : rows) {
    if (row.measure.find(words) != std::string::npos) return row;
  }
  throw std::runtime_error("no row about " + words);
}

TEST(ScaleTargets, AllMetWhenEveryFigureIsWithinItsTarget) {
  const auto rows = evaluate_targets(figures(0.5, 100, 150));
  for (const auto& row : rows) {
    ASSERT_TRUE(row.met.has_value()) << row.measure;
    EXPECT_TRUE(*row.met) << row.measure << " = " << row.value;
  }
  EXPECT_FALSE(any_missed(rows));
}

TEST(ScaleTargets, OnePodEventTargetIsStrictAndOperatorMustUseLessCpuThanTheApiServer) {
  const auto rows = evaluate_targets(figures(1.0, 300, 50));
  EXPECT_FALSE(*row_about(rows, "one Pod event").met);
  EXPECT_FALSE(*row_about(rows, "operator CPU vs API server CPU").met);
  EXPECT_EQ(row_about(rows, "operator CPU vs API server CPU").value, "300.0 s vs 50.0 s");
  EXPECT_TRUE(any_missed(rows));
}

TEST(ScaleTargets, AFigureAbsentOnThisOperatorIsNotApplicableNeverMet) {
  json results = figures(0.5, 100, 150);
  results.erase("delete");
  results["counts"]["admission_calls_per_pod"] = nullptr;
  const auto rows = evaluate_targets(results);
  EXPECT_FALSE(row_about(rows, "deleting").met.has_value());
  EXPECT_FALSE(row_about(rows, "admission calls").met.has_value());
  EXPECT_FALSE(any_missed(rows));
  const std::string text = format_report(results, rows);
  EXPECT_NE(text.find("n/a"), std::string::npos);
  EXPECT_EQ(text.find("MISSED"), std::string::npos);
}

TEST(ScaleTargets, RssPeakIsTheLargerOfTheSampledPeakAndVmHwm) {
  json results = figures(0.5, 100, 150);
  results["operator_memory"]["vm_hwm_mib"] = 44.0;
  EXPECT_FALSE(*row_about(evaluate_targets(results), "RSS").met);
}

}  // namespace
}  // namespace ipcmesh::bench::scale
