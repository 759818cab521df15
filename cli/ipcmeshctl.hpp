// ipcmeshctl's whole command line: every subcommand on one CLI11 app, parsed, then the selected
// one run. main() calls it with the process's streams; tests call it with their own (pub, sub and
// stat write to the process's stdout and stderr: they run as real processes in tests/ipc).
#pragma once

#include <iosfwd>
#include <string>
#include <string_view>
#include <vector>

namespace ipcmesh::cli {

// args exclude the program name; `program` is what help and usage show. Exit codes: 0 ok,
// 1 failure, 2 usage.
int run_ipcmeshctl(const std::vector<std::string>& args, std::istream& in, std::ostream& out,
                   std::ostream& err, const std::string& program = "ipcmeshctl");

// "kubectl ipcmesh" when the binary runs as kubectl's plugin (kubectl executes
// kubectl-ipcmesh, found on PATH, with its path as argv[0]); "ipcmeshctl" otherwise.
std::string program_name(std::string_view argv0);

}  // namespace ipcmesh::cli
