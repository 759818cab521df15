// The fan-out and paced flags: parsed, validated, and their defaults what `make bench` runs.
#include <gtest/gtest.h>

#include <algorithm>
#include <stdexcept>
#include <string>
#include <vector>

#include "ipcmesh/bench/bench.hpp"

namespace ipcmesh::bench {
namespace {

BenchOptions parse(std::vector<std::string> args) {
  args.insert(args.begin(), "ipcmesh-bench");
  std::vector<char*> argv;
  for (auto& arg : args) argv.push_back(arg.data());
  bool help = false;
  return parse_bench_options(static_cast<int>(argv.size()), argv.data(), help);
}

TEST(BenchOptions, FanOutOneTwoFourEightAndFourToOneByDefault) {
  const auto options = parse({});
  EXPECT_TRUE(options.fanout);
  EXPECT_EQ(options.fanout_subscribers, (std::vector<std::uint32_t>{1, 2, 4, 8}));
  EXPECT_EQ(options.fanin_producers, 4u);
  EXPECT_EQ(options.plot_out, "");
}

TEST(BenchOptions, FanOutListIsSortedOnceEach) {
  const auto options = parse({"--fanout", "8,1,2,8", "--fanin=3", "--plot-out", "f.svg"});
  EXPECT_EQ(options.fanout_subscribers, (std::vector<std::uint32_t>{1, 2, 8}));
  EXPECT_EQ(options.fanin_producers, 3u);
  EXPECT_EQ(options.plot_out, "f.svg");
  EXPECT_FALSE(parse({"--no-fanout"}).fanout);
}

TEST(BenchOptions, RejectsGroupsTheHarnessCannotRun) {
  EXPECT_THROW(parse({"--fanout", "0"}), std::invalid_argument);
  EXPECT_THROW(parse({"--fanout", "33"}), std::invalid_argument);
  EXPECT_THROW(parse({"--fanout", "2x"}), std::invalid_argument);
  EXPECT_THROW(parse({"--fanin", "1"}), std::invalid_argument);  // that is the 1 -> 1 case
  EXPECT_THROW(parse({"--no-fanout", "--plot-out", "f.svg"}), std::invalid_argument);
}

TEST(BenchOptions, PacedAtOneTenAndFiftyThousandByDefault) {
  const auto options = parse({});
  EXPECT_TRUE(options.paced);
  EXPECT_EQ(options.paced_rates, (std::vector<std::uint32_t>{1000, 10000, 50000}));
}

TEST(BenchOptions, PacedRatesAreSortedOnceEach) {
  EXPECT_EQ(parse({"--paced", "50000,2000,2000"}).paced_rates,
            (std::vector<std::uint32_t>{2000, 50000}));
  EXPECT_EQ(parse({"--paced=1"}).paced_rates, (std::vector<std::uint32_t>{1}));
  EXPECT_FALSE(parse({"--no-paced"}).paced);
}

TEST(BenchOptions, RejectsRatesThatAreNotPositiveWholeNumbers) {
  for (const char* rate : {"0", "-5", "-0", "abc", "10k", "1.5", " 100", "", ",", "1000000000"}) {
    EXPECT_THROW(parse({"--paced", rate}), std::invalid_argument) << "'" << rate << "'";
  }
  EXPECT_THROW(parse({"--paced", "1000,0"}), std::invalid_argument);
  EXPECT_THROW(parse({"--paced"}), std::invalid_argument);  // no value
  EXPECT_THROW(parse({"--paced", "1000", "--no-paced"}), std::invalid_argument);
}

TEST(BenchOptions, KnowsTheSpinThenSleepVariant) {
  const auto names = transport_names();
  EXPECT_NE(std::find(names.begin(), names.end(), "ipcmesh-shm-spin"), names.end());
  EXPECT_EQ(parse({"--transports", "ipcmesh-shm-spin"}).transports.size(), 1u);
}

TEST(BenchOptions, KnowsTheFloorTransport) {
  EXPECT_EQ(parse({"--transports", "spsc-floor,ipcmesh-shm"}).transports.size(), 2u);
  const auto names = transport_names();
  ASSERT_FALSE(names.empty());
  EXPECT_EQ(names.front(), "spsc-floor");  // first in report order: the rows are read against it
}

}  // namespace
}  // namespace ipcmesh::bench
