// The fan-out and paced flags: parsed, validated, and their defaults what `make bench` runs.
#include <gtest/gtest.h>

#include <algorithm>
#include <stdexcept>
#include <string>
#include <vector>

#include "ipcmesh/bench/bench.hpp"

namespace ipcmesh::bench {
namespace {

// The options, or std::invalid_argument with the usage line (a usage error is exit 2).
BenchOptions parse(const std::vector<std::string>& args) {
  auto options = parse_bench_options("ipcmesh-bench", args);
  if (!options) {
    EXPECT_EQ(options.error().exit_code, 2) << options.error().output;
    throw std::invalid_argument(options.error().output);
  }
  return *options;
}

// -o json is the JSON report on stdout; --json, its older spelling, still works (bench-pod.sh).
TEST(BenchOptions, OutputJsonInEverySpelling) {
  EXPECT_FALSE(parse({}).print_json);
  EXPECT_TRUE(parse({"-o", "json"}).print_json);
  EXPECT_TRUE(parse({"--output=json"}).print_json);
  EXPECT_TRUE(parse({"--json"}).print_json);
  EXPECT_THROW(parse({"-o", "yaml"}), std::invalid_argument);
}

// A usage mistake is one line that names the flag; --help is the usage and exit 0.
TEST(BenchOptions, MistakesAreOneLineNamingTheFlag) {
  auto bad = parse_bench_options("ipcmesh-bench", {"--fanin", "1"});
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().output.rfind("ipcmesh-bench: --fanin: '1'", 0), 0u) << bad.error().output;
  EXPECT_EQ(std::count(bad.error().output.begin(), bad.error().output.end(), '\n'), 1);
  auto help = parse_bench_options("ipcmesh-bench", {"--fanin", "1", "--help"});
  ASSERT_FALSE(help);
  EXPECT_EQ(help.error().exit_code, 0);
  EXPECT_NE(help.error().output.find("--no-paced"), std::string::npos);
  EXPECT_EQ(help.error().output.find("--json "), std::string::npos);  // hidden
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

// --hog N: competing load off by default, a whole number of processes when asked.
TEST(BenchOptions, NoCompetingLoadUnlessAskedAndAWholeNumberOfHogs) {
  EXPECT_EQ(parse({}).hogs, 0u);
  EXPECT_EQ(parse({"--hog", "2"}).hogs, 2u);
  EXPECT_THROW(parse({"--hog", "two"}), std::invalid_argument);
  EXPECT_THROW(parse({"--hog", "-1"}), std::invalid_argument);
  EXPECT_THROW(parse({"--hog", "33"}), std::invalid_argument);
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
