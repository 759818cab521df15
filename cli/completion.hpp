// `ipcmeshctl completion bash|zsh`: a shell completion script generated from the CLI11 app
// itself (its subcommands, their flags, which flags take a value and the values -o accepts), so
// it never goes stale. zsh runs the same function through bashcompinit.
#pragma once

#include <string>

#include "ipcmesh/command_line.hpp"

namespace ipcmesh::cli {

struct CompletionArguments {
  std::string shell;
};

CLI::App* add_completion_command(CLI::App& app, CompletionArguments& arguments);

// The script for "bash" or "zsh" (the subcommand's check allows no other shell).
std::string completion_script(const CLI::App& app, const std::string& shell);

}  // namespace ipcmesh::cli
