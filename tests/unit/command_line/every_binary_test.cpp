// Every ipcmesh binary, run as a process, follows the same command-line conventions (issue 14):
// -h/--help exits 0 and shows -h,--help; an unknown flag exits 2 with one stderr line naming it;
// --flag=value and --flag value mean the same; a switch does not swallow the flag after it; -o and
// -n are there where the binary has output or a namespace.
#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

#include "process.hpp"

namespace ipcmesh {
namespace {

using Strings = std::vector<std::string>;

struct BinaryCase {
  std::string name;    // test name
  Strings command;     // the binary (in IPCMESH_BIN_DIR) and its subcommand, if any
  std::string valued;  // a flag that takes a value ("": none)
  std::string bad_value;
  std::string named;        // what the bad value's message must contain
  std::string switch_flag;  // a switch ("": none)
  Strings in_help;          // conventions the help must show (-o, -n where they apply)
};

cluster::CommandResult run(const BinaryCase& c, const Strings& args) {
  Strings argv = c.command;
  argv[0] = std::string(IPCMESH_BIN_DIR) + "/" + argv[0];
  argv.insert(argv.end(), args.begin(), args.end());
  return cluster::run_command(argv);
}

std::size_t lines(const std::string& text) {
  return static_cast<std::size_t>(std::count(text.begin(), text.end(), '\n'));
}

class EveryBinary : public ::testing::TestWithParam<BinaryCase> {};
class BinariesWithValues : public ::testing::TestWithParam<BinaryCase> {};
class BinariesWithSwitches : public ::testing::TestWithParam<BinaryCase> {};

// -h and --help print the same usage on stdout and exit 0.
TEST_P(EveryBinary, HelpExitsZeroAndShowsTheConventions) {
  const BinaryCase& c = GetParam();
  const auto help = run(c, {"--help"});
  EXPECT_EQ(help.exit_code, 0) << help.err;
  EXPECT_EQ(help.err, "");
  EXPECT_NE(help.out.find("-h,--help"), std::string::npos) << help.out;
  std::string usage = "Usage:";
  for (const std::string& word : c.command) usage += " " + word;
  EXPECT_NE(help.out.find(usage + " "), std::string::npos) << help.out;
  for (const std::string& expected : c.in_help) {
    EXPECT_NE(help.out.find(expected), std::string::npos) << expected << " in\n" << help.out;
  }
  const auto short_help = run(c, {"-h"});
  EXPECT_EQ(short_help.exit_code, 0);
  EXPECT_EQ(short_help.out, help.out);
}

// An unknown flag: exit 2, nothing on stdout, one line on stderr that names it.
TEST_P(EveryBinary, UnknownFlagIsOneLineAndExitTwo) {
  const auto bad = run(GetParam(), {"--no-such-flag=1"});
  EXPECT_EQ(bad.exit_code, 2);
  EXPECT_EQ(bad.out, "");
  EXPECT_EQ(lines(bad.err), 1u) << bad.err;
  EXPECT_NE(bad.err.find("--no-such-flag"), std::string::npos) << bad.err;
}

// --flag=value and --flag value reach the same flag: a bad value gets the same one-line message
// naming the flag in both spellings.
TEST_P(BinariesWithValues, BothSpellingsOfAValueMeanTheSame) {
  const BinaryCase& c = GetParam();
  const auto joined = run(c, {c.valued + "=" + c.bad_value});
  const auto separate = run(c, {c.valued, c.bad_value});
  EXPECT_EQ(joined.exit_code, 2);
  EXPECT_EQ(lines(joined.err), 1u) << joined.err;
  EXPECT_NE(joined.err.find(c.named), std::string::npos) << joined.err;
  EXPECT_EQ(separate.exit_code, 2);
  EXPECT_EQ(separate.err, joined.err);
}

// A switch followed by a flag leaves that flag alone (the error is the flag's, not the switch's).
TEST_P(BinariesWithSwitches, ASwitchDoesNotSwallowTheNextFlag) {
  const BinaryCase& c = GetParam();
  const auto result = run(c, {c.switch_flag, c.valued, c.bad_value});
  EXPECT_EQ(result.exit_code, 2);
  EXPECT_EQ(lines(result.err), 1u) << result.err;
  EXPECT_NE(result.err.find(c.named), std::string::npos) << result.err;
}

// Every binary and ipcmeshctl subcommand. (Adding a binary? Add it here.)
const std::vector<BinaryCase>& all_binaries() {
  static const std::vector<BinaryCase> kCases = {

      BinaryCase{"Ipcmeshctl", {"ipcmeshctl"}, "", "", "", "", {"Subcommands:", "--version"}},
      BinaryCase{"IpcmeshctlPub",
                 {"ipcmeshctl", "pub"},
                 "--count",
                 "many",
                 "--count",
                 "",
                 {"-n,--namespace", "--channel"}},
      BinaryCase{"IpcmeshctlSub",
                 {"ipcmeshctl", "sub"},
                 "--count",
                 "many",
                 "--count",
                 "--hex",
                 {"-n,--namespace"}},
      BinaryCase{"IpcmeshctlStat",
                 {"ipcmeshctl", "stat"},
                 "--output",
                 "xml",
                 "--output: xml",
                 "",
                 {"-n,--namespace", "-o,--output"}},
      BinaryCase{"IpcmeshctlBench",
                 {"ipcmeshctl", "bench"},
                 "--fanin",
                 "1",
                 "--fanin",
                 "--quick",
                 {"-o,--output"}},
      BinaryCase{"IpcmeshctlInject",
                 {"ipcmeshctl", "inject"},
                 "--output",
                 "xml",
                 "--output: xml",
                 "--allow-mqueue-sysctls",
                 {"-n,--namespace", "-o,--output", "-f,--filename"}},
      BinaryCase{"IpcmeshctlVersion",
                 {"ipcmeshctl", "version"},
                 "--output",
                 "xml",
                 "--output: xml",
                 "--client",
                 {"-o,--output", "--kubeconfig", "--context"}},
      BinaryCase{
          "IpcmeshctlGetChannels",
          {"ipcmeshctl", "get", "channels"},
          "--output",
          "xml",
          "--output: xml",
          "--all-namespaces",
          {"-n,--namespace", "-o,--output", "-A,--all-namespaces", "--kubeconfig", "--context"}},
      BinaryCase{"IpcmeshctlDescribeChannel",
                 {"ipcmeshctl", "describe", "channel"},
                 "",
                 "",
                 "",
                 "",
                 {"-n,--namespace", "-o,--output", "--kubeconfig", "--context"}},
      BinaryCase{"IpcmeshctlWhy",
                 {"ipcmeshctl", "why"},
                 "",
                 "",
                 "",
                 "",
                 {"-n,--namespace", "-o,--output", "--kubeconfig", "--context"}},
      BinaryCase{"IpcmeshctlCompletion", {"ipcmeshctl", "completion"}, "", "", "", "", {}},
      BinaryCase{"Relay",
                 {"ipcmesh-relay"},
                 "--metrics-port",
                 "many",
                 "--metrics-port",
                 "",
                 {"--version"}},
      BinaryCase{"Operator",
                 {"ipcmesh-operator"},
                 "--workers",
                 "many",
                 "workers",
                 "--allow-mqueue-sysctls",
                 {"-n,--namespace", "--version"}},
      BinaryCase{"Bench", {"ipcmesh-bench"}, "--fanin", "1", "--fanin", "--quick", {"-o,--output"}},
      BinaryCase{"OperatorBench",
                 {"ipcmesh-operator-bench"},
                 "--rate",
                 "many",
                 "--rate",
                 "--fail-on-miss",
                 {"-o,--output"}},
      BinaryCase{"ScaleBench",
                 {"ipcmesh-scale-bench"},
                 "--pods",
                 "many",
                 "--pods",
                 "--keep-cluster",
                 {"--json-out", "--fail-on-miss"}}};
  return kCases;
}

std::vector<BinaryCase> binaries_where(bool (*keep)(const BinaryCase&)) {
  std::vector<BinaryCase> kept;
  for (const auto& c : all_binaries()) {
    if (keep(c)) kept.push_back(c);
  }
  return kept;
}

std::string case_name(const ::testing::TestParamInfo<BinaryCase>& info) {
  return info.param.name;
}

INSTANTIATE_TEST_SUITE_P(Table, EveryBinary, ::testing::ValuesIn(all_binaries()), case_name);
// Those with a value flag (the top-level ipcmeshctl and completion have none; describe and why
// require a name first).
INSTANTIATE_TEST_SUITE_P(Table, BinariesWithValues,
                         ::testing::ValuesIn(binaries_where([](const BinaryCase& c) {
                           return !c.valued.empty();
                         })),
                         case_name);
// Those with a switch besides --help and --version.
INSTANTIATE_TEST_SUITE_P(Table, BinariesWithSwitches,
                         ::testing::ValuesIn(binaries_where([](const BinaryCase& c) {
                           return !c.switch_flag.empty();
                         })),
                         case_name);

}  // namespace
}  // namespace ipcmesh
