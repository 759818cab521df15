// ipcmeshctl's channel subcommands (pub, sub, stat): each defines its flags on a CLI11
// subcommand, filling its Arguments while the command line is parsed, and runs from them.
// run_* returns the exit code: 0 ok, 1 failure, 2 usage; errors go to stderr as one line.
#pragma once

#include <optional>
#include <string>

#include "channel_target.hpp"
#include "ipcmesh/command_line.hpp"

namespace ipcmesh::cli {

using command_line::kExitFailure;
using command_line::kExitOk;
using command_line::kExitUsage;

struct PubArguments {
  ChannelFlags channel;
  std::optional<long long> count;
  std::optional<long long> size;
  long long priority = 0;
  std::string timeout = "10s";
  std::string interval = "0";
};

struct SubArguments {
  ChannelFlags channel;
  std::optional<long long> count;
  std::optional<std::string> timeout;
  std::optional<std::string> wait_mode;
  bool hex = false;
  bool quiet = false;
};

struct StatArguments {
  ChannelFlags channel;
  std::string output = "text";  // text (the default table), wide (the same), json, yaml
};

CLI::App* add_pub_command(CLI::App& app, PubArguments& arguments);
CLI::App* add_sub_command(CLI::App& app, SubArguments& arguments);
CLI::App* add_stat_command(CLI::App& app, StatArguments& arguments);

int run_pub(const PubArguments& arguments);
int run_sub(const SubArguments& arguments);
int run_stat(const StatArguments& arguments);

}  // namespace ipcmesh::cli
