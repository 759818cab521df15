// ipcmeshctl completion bash|zsh: scripts that bash accepts, that name every subcommand the
// command line has (they are generated from it), and that complete what they should when bash
// runs them.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "ipcmeshctl.hpp"
#include "process.hpp"

namespace ipcmesh::cli {
namespace {

struct RunResult {
  int code;
  std::string out;
  std::string err;
};

RunResult run(const std::vector<std::string>& args) {
  std::istringstream in;
  std::ostringstream out;
  std::ostringstream err;
  const int code = run_ipcmeshctl(args, in, out, err);
  return {code, out.str(), err.str()};
}

// The subcommands `ipcmeshctl --help` lists: the truth the scripts are checked against.
std::vector<std::string> subcommands_in_help() {
  std::istringstream help(run({"--help"}).out);
  std::vector<std::string> names;
  bool in_list = false;
  for (std::string line; std::getline(help, line);) {
    if (line == "Subcommands:") {
      in_list = true;
    } else if (in_list && line.rfind("  ", 0) == 0 && line.size() > 2 && line[2] != ' ') {
      names.push_back(line.substr(2, line.find(' ', 2) - 2));
    } else if (in_list && line.empty()) {
      break;
    }
  }
  return names;
}

class ScriptFile {
 public:
  ScriptFile(const std::string& shell, const std::string& text)
      : path_(std::filesystem::temp_directory_path() /
              ("ipcmeshctl-completion-" + std::to_string(::getpid()) + "." + shell)) {
    std::ofstream(path_) << text;
  }
  ~ScriptFile() {
    std::error_code ignored;
    std::filesystem::remove(path_, ignored);
  }
  std::string path() const { return path_.string(); }

 private:
  std::filesystem::path path_;
};

// What bash's completion offers for the words typed so far (the last one is being completed).
std::string complete(const ScriptFile& script, const std::string& typed) {
  const std::string program = "source '" + script.path() + "'; COMP_WORDS=(" + typed +
                              "); COMP_CWORD=$((${#COMP_WORDS[@]} - 1)); "
                              "_ipcmeshctl; echo \"${COMPREPLY[*]}\"";
  const cluster::CommandResult result = cluster::run_command({"bash", "-c", program});
  EXPECT_EQ(result.exit_code, 0) << result.err;
  return result.out;
}

// Both scripts pass `bash -n` and name every subcommand.
TEST(Completion, ScriptsAreValidAndNameEverySubcommand) {
  const auto subcommands = subcommands_in_help();
  ASSERT_GE(subcommands.size(), 6u) << run({"--help"}).out;
  for (const std::string shell : {"bash", "zsh"}) {
    const RunResult result = run({"completion", shell});
    ASSERT_EQ(result.code, 0) << result.err;
    EXPECT_EQ(result.err, "");
    const ScriptFile script(shell, result.out);
    const cluster::CommandResult syntax = cluster::run_command({"bash", "-n", script.path()});
    EXPECT_EQ(syntax.exit_code, 0) << shell << ": " << syntax.err;
    for (const std::string& name : subcommands) {
      EXPECT_NE(result.out.find("    " + name + ")"), std::string::npos) << shell << ": " << name;
    }
  }
  EXPECT_NE(run({"completion", "zsh"}).out.find("#compdef ipcmeshctl\n"), std::string::npos);
}

// Run by bash, the script completes subcommands, flags and the values -o accepts.
TEST(Completion, BashCompletesCommandsFlagsAndValues) {
  const ScriptFile script("bash", run({"completion", "bash"}).out);
  EXPECT_EQ(complete(script, "ipcmeshctl st"), "stat\n");
  EXPECT_EQ(complete(script, "ipcmeshctl stat -o ''"), "text wide json yaml\n");
  EXPECT_EQ(complete(script, "ipcmeshctl sub --tr"), "--transport\n");
  EXPECT_EQ(complete(script, "ipcmeshctl completion ''"), "-h --help bash zsh\n");
  EXPECT_EQ(complete(script, "ipcmeshctl completion z"), "zsh\n");
  EXPECT_EQ(complete(script, "ipcmeshctl inject --host-ipc"), "--host-ipc-namespaces\n");
  // Nested subcommands (get channels) complete with their flags and values.
  EXPECT_EQ(complete(script, "ipcmeshctl get chan"), "channels channel\n");
  EXPECT_EQ(complete(script, "ipcmeshctl get channels --all"), "--all-namespaces\n");
  EXPECT_EQ(complete(script, "ipcmeshctl get channels -o ''"), "wide json yaml\n");
  EXPECT_EQ(complete(script, "ipcmeshctl why --kube"), "--kubeconfig\n");
}

// An unknown shell is a usage error naming it.
TEST(Completion, UnknownShellIsAUsageError) {
  const RunResult result = run({"completion", "fish"});
  EXPECT_EQ(result.code, 2);
  EXPECT_NE(result.err.find("fish"), std::string::npos) << result.err;
}

}  // namespace
}  // namespace ipcmesh::cli
