// ipcmeshctl's subcommands. Each takes the arguments after its name and returns the exit code:
// 0 ok, 1 failure, 2 usage. Errors go to stderr as one line.
#pragma once

#include <string>
#include <vector>

namespace ipcmesh::cli {

inline constexpr int kExitOk = 0;
inline constexpr int kExitFailure = 1;
inline constexpr int kExitUsage = 2;

int run_pub(const std::vector<std::string>& args);
int run_sub(const std::vector<std::string>& args);
int run_stat(const std::vector<std::string>& args);

}  // namespace ipcmesh::cli
