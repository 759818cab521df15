// The scale bench's arithmetic and parsers: what its figures are computed from.
#include "measures.hpp"

#include <gtest/gtest.h>

namespace ipcmesh::bench::scale {
namespace {

TEST(ScalePercentile, IsTheNearestRankOfUnsortedSamples) {
  EXPECT_FALSE(percentile({}, 50).has_value());
  EXPECT_DOUBLE_EQ(*percentile({3, 1, 2}, 50), 2);
  EXPECT_DOUBLE_EQ(*percentile({5}, 99), 5);
  std::vector<double> hundred;
  for (int i = 100; i >= 1; --i) hundred.push_back(i);
  EXPECT_DOUBLE_EQ(*percentile(hundred, 50), 50);
  EXPECT_DOUBLE_EQ(*percentile(hundred, 99), 99);
  EXPECT_DOUBLE_EQ(*percentile(hundred, 100), 100);
  EXPECT_DOUBLE_EQ(*percentile(hundred, 0), 1);
}

TEST(ScalePercentile, SummaryHasCountMedianTailAndMax) {
  const LatencySummary summary = summarize({4, 1, 3, 2, 10});
  EXPECT_EQ(summary.count, 5u);
  EXPECT_DOUBLE_EQ(summary.p50_ms, 3);
  EXPECT_DOUBLE_EQ(summary.p99_ms, 10);
  EXPECT_DOUBLE_EQ(summary.max_ms, 10);
  EXPECT_EQ(summarize({}).count, 0u);
}

TEST(ScaleProcStat, AddsUserAndSystemTicksEvenWhenTheCommandHasSpacesAndParentheses) {
  const std::string stat =
      "4242 (kube apiserver) (x) S 1 4242 4242 0 -1 4194560 100 0 0 0 1234 567 0 0 20 0 9 0 "
      "100 1000000 2000 18446744073709551615";
  EXPECT_EQ(cpu_ticks_of_stat(stat), 1234u + 567u);
  EXPECT_FALSE(cpu_ticks_of_stat("4242 (short) S 1 2").has_value());
  EXPECT_FALSE(cpu_ticks_of_stat("no parenthesis").has_value());
}

TEST(ScaleProcStatus, ReadsKibFieldsByExactName) {
  const std::string status =
      "Name:\tipcmesh-operato\nVmHWM:\t   41234 kB\nVmRSS:\t   30000 kB\nVmRSSx:\t 1 kB\n";
  EXPECT_EQ(status_kib(status, "VmRSS"), 30000u);
  EXPECT_EQ(status_kib(status, "VmHWM"), 41234u);
  EXPECT_FALSE(status_kib(status, "VmSwap").has_value());
}

TEST(ScaleMetrics, SumsMatchingSamplesAndTellsAbsentFromZero) {
  const std::string text =
      "# HELP apiserver_request_total Counter of apiserver requests\n"
      "# TYPE apiserver_request_total counter\n"
      "apiserver_request_total{code=\"200\",component=\"apiserver\",group=\"ipcmesh.io\","
      "resource=\"ipcchannels\",scope=\"resource\",subresource=\"status\",verb=\"PUT\","
      "version=\"v1alpha1\"} 120\n"
      "apiserver_request_total{code=\"409\",resource=\"ipcchannels\",subresource=\"status\","
      "verb=\"PUT\"} 3\n"
      "apiserver_request_total{code=\"200\",resource=\"ipcchannels\",subresource=\"status\","
      "verb=\"PATCH\"} 7\n"
      "apiserver_request_total{code=\"200\",resource=\"ipcchannels\",subresource=\"status\","
      "verb=\"GET\"} 500\n"
      "apiserver_request_total{code=\"200\",resource=\"ipcchannels\",subresource=\"\","
      "verb=\"PUT\"} 9\n"
      "apiserver_request_total_extra{resource=\"ipcchannels\"} 1000\n"
      "ipcmesh_leader 1\n"
      "ipcmesh_reconcile_duration_seconds_sum 2.5e-1\n";
  EXPECT_EQ(
      sum_metric(text, "apiserver_request_total",
                 {{"resource", "ipcchannels"}, {"subresource", "status"}, {"verb", "PUT|PATCH"}}),
      130.0);
  EXPECT_EQ(sum_metric(text, "apiserver_request_total", {{"verb", "GET"}}), 500.0);
  EXPECT_EQ(sum_metric(text, "ipcmesh_leader"), 1.0);
  EXPECT_EQ(sum_metric(text, "ipcmesh_reconcile_duration_seconds_sum"), 0.25);
  EXPECT_FALSE(sum_metric(text, "ipcmesh_status_writes_total").has_value());
  EXPECT_FALSE(sum_metric(text, "apiserver_request_total", {{"verb", "DELETE"}}).has_value());
}

TEST(ScaleMetrics, LabelValuesMayHoldEscapesCommasAndBraces) {
  const auto labels = parse_labels(R"(name="a,b}",path="x\"y",empty="")");
  EXPECT_EQ(labels.at("name"), "a,b}");
  EXPECT_EQ(labels.at("path"), "x\"y");
  EXPECT_EQ(labels.at("empty"), "");
}

}  // namespace
}  // namespace ipcmesh::bench::scale
