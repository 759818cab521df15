// The conventions header in process: what parse() decides for help, version, mistakes and the
// spellings of a value.
#include <gtest/gtest.h>

#include <algorithm>
#include <optional>
#include <string>
#include <vector>

#include "ipcmesh/command_line.hpp"

namespace ipcmesh::command_line {
namespace {

// A small program: one required option, one optional, one switch, -o and a subcommand.
struct Program {
  CLI::App app{"a test program", "prog"};
  std::string name;
  std::optional<std::string> label;
  bool verbose = false;
  std::string output = "text";
  CLI::App* run = nullptr;
  Program() {
    apply_conventions(app);
    app.set_version_flag("--version", "prog 1.2.3");
    app.require_subcommand(1);
    run = app.add_subcommand("run", "run it");
    apply_conventions(*run);
    run->add_option("--name", name, "required")->required();
    run->add_option("--label", label, "optional");
    run->add_flag("--verbose", verbose, "a switch");
    add_output_option(*run, output, {"text", "json"});
  }
};

// Both spellings of a value, and "--flag=" as the empty value.
TEST(CommandLineConventions, ValuesInBothSpellingsAndTheEmptyValue) {
  Program p;
  ASSERT_TRUE(parse(p.app, {"run", "--name", "a", "--label=b", "-o", "json"}).run);
  EXPECT_EQ(p.name, "a");
  EXPECT_EQ(p.label, "b");
  EXPECT_EQ(p.output, "json");
  Program empty;
  ASSERT_TRUE(parse(empty.app, {"run", "--name=x", "--label="}).run);
  EXPECT_EQ(empty.label, "");
}

// A switch takes no value: the next flag is not swallowed, a following word is refused.
TEST(CommandLineConventions, SwitchesTakeNoValue) {
  Program p;
  ASSERT_TRUE(parse(p.app, {"run", "--verbose", "--name", "a"}).run);
  EXPECT_TRUE(p.verbose);
  EXPECT_EQ(p.name, "a");
  Program q;
  const ParseOutcome refused = parse(q.app, {"run", "--name", "a", "--verbose", "yes"});
  EXPECT_EQ(refused.exit_code, kExitUsage);
  EXPECT_EQ(refused.output,
            "prog run: The following argument was not expected: yes (see prog run --help)\n");
}

// Help and version exit 0 with their text, even beside a mistake; the help is the subcommand's.
TEST(CommandLineConventions, HelpAndVersionWin) {
  Program p;
  const ParseOutcome help = parse(p.app, {"run", "--bogus", "-h"});
  EXPECT_FALSE(help.run);
  EXPECT_EQ(help.exit_code, kExitOk);
  EXPECT_NE(help.output.find("Usage: prog run"), std::string::npos) << help.output;
  Program v;
  const ParseOutcome version = parse(v.app, {"--version"});
  EXPECT_EQ(version.exit_code, kExitOk);
  EXPECT_EQ(version.output, "prog 1.2.3\n");
}

// A mistake is exit 2 and one line naming it; an unexpected argument is named even when a
// required flag is missing too.
TEST(CommandLineConventions, MistakesAreOneLineNamingTheArgument) {
  const std::vector<std::pair<std::vector<std::string>, std::string>> cases = {
      {{"run", "--nmae", "a"}, "--nmae"},
      {{"run", "--name", "a", "-o", "xml"}, "--output: xml not in {text,json}"},
      {{"run", "--name"}, "--name"},
      {{"run"}, "--name is required"},
      {{}, "A subcommand is required"},
  };
  for (const auto& [args, named] : cases) {
    Program p;
    const ParseOutcome outcome = parse(p.app, args);
    EXPECT_FALSE(outcome.run);
    EXPECT_EQ(outcome.exit_code, kExitUsage);
    EXPECT_NE(outcome.output.find(named), std::string::npos) << outcome.output;
    EXPECT_EQ(std::count(outcome.output.begin(), outcome.output.end(), '\n'), 1) << outcome.output;
  }
  EXPECT_EQ(usage_error("prog", "two\nlines\n"), "prog: two lines (see prog --help)\n");
}

// A hidden alias works and is not in the help.
TEST(CommandLineConventions, HiddenAliasSetsTheValue) {
  Program p;
  add_hidden_switch_alias(*p.run, "--json", p.output, "json");
  ASSERT_TRUE(parse(p.app, {"run", "--name", "a", "--json"}).run);
  EXPECT_EQ(p.output, "json");
  EXPECT_EQ(p.run->help().find("--json"), std::string::npos);
}

}  // namespace
}  // namespace ipcmesh::command_line
