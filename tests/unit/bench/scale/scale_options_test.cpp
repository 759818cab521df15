// ipcmesh-scale-bench's command line: defaults, help (exit 0) and usage errors (exit 2).
#include "scale_options.hpp"

#include <gtest/gtest.h>

#include <vector>

namespace ipcmesh::bench::scale {
namespace {

ScaleOptionsOutcome parse(std::vector<const char*> args) {
  args.insert(args.begin(), "ipcmesh-scale-bench");
  return parse_scale_options(static_cast<int>(args.size()), args.data());
}

TEST(ScaleOptions, DefaultsAreTheIssuesScenario) {
  const auto outcome = parse({});
  ASSERT_TRUE(outcome.options.has_value()) << outcome.output;
  EXPECT_EQ(outcome.options->pods, 5000);
  EXPECT_EQ(outcome.options->channels, 10);
  EXPECT_EQ(outcome.options->burst_concurrency, 16);
  EXPECT_NE(outcome.options->operator_bin.find("ipcmesh-operator"), std::string::npos);
  EXPECT_FALSE(outcome.options->fail_on_miss);
}

TEST(ScaleOptions, FlagsSetTheScenarioAndTheOperatorUnderTest) {
  const auto outcome = parse({"--pods", "500", "--sequential", "50", "--operator-bin", "/tmp/op",
                              "--operator-flag=--workers=4", "--json-out", "x.json",
                              "--fail-on-miss", "--keep-cluster"});
  ASSERT_TRUE(outcome.options.has_value()) << outcome.output;
  EXPECT_EQ(outcome.options->pods, 500);
  EXPECT_EQ(outcome.options->sequential, 50);
  EXPECT_EQ(outcome.options->operator_bin, "/tmp/op");
  EXPECT_EQ(outcome.options->operator_flags, std::vector<std::string>{"--workers=4"});
  EXPECT_EQ(outcome.options->json_out, "x.json");
  EXPECT_TRUE(outcome.options->fail_on_miss);
  EXPECT_TRUE(outcome.options->keep_cluster);
}

TEST(ScaleOptions, HelpExitsZeroAndUsageErrorsExitTwo) {
  const auto help = parse({"--help"});
  EXPECT_FALSE(help.options.has_value());
  EXPECT_EQ(help.exit_code, 0);
  EXPECT_NE(help.output.find("--operator-bin"), std::string::npos);
  for (const auto& bad : std::vector<std::vector<const char*>>{
           {"--pods", "many"}, {"--pods", "1"}, {"--no-such-flag"}, {"stray"}}) {
    const auto outcome = parse(bad);
    EXPECT_FALSE(outcome.options.has_value()) << bad[0];
    EXPECT_EQ(outcome.exit_code, 2) << bad[0];
    EXPECT_NE(outcome.output.find("--help"), std::string::npos);
  }
}

}  // namespace
}  // namespace ipcmesh::bench::scale
