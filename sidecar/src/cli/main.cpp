// ipcmeshctl: dispatch to the subcommand. Exit codes: 0 ok, 1 failure, 2 usage.
#include <cstring>
#include <iostream>
#include <string_view>

#include "cli/commands.hpp"
#include "relay/command_line.hpp"

#ifdef IPCMESH_HAVE_BENCH
#include "ipcmesh/bench/bench.hpp"
#endif
#ifdef IPCMESH_HAVE_INJECT
#include "webhook/inject_command.hpp"
#endif

namespace {

constexpr std::string_view kUsage = R"(Usage: ipcmeshctl COMMAND [flags]

Commands:
  pub       publish messages into a channel (stdin lines or generated)
  sub       receive and print messages from a channel
  stat      show a channel's header: capacity, fill, producers, subscribers and their lag
  bench     the side-by-side transport benchmark (--json for the report)
  inject    print the Pod that the admission webhook would produce
  version   print the version

Run "ipcmeshctl COMMAND --help" for a command's flags.
Exit codes: 0 ok, 1 failure, 2 usage.
)";

}  // namespace

int main(int argc, char** argv) {
  using namespace ipcmesh::cli;
  if (argc < 2) {
    std::cerr << "ipcmeshctl: missing command (see ipcmeshctl --help)\n";
    return kExitUsage;
  }
  const std::string_view command = argv[1];
  const auto args = ipcmesh::relay::to_args(argc, argv, 2);
  if (command == "--help" || command == "-h" || command == "help") {
    std::cout << kUsage;
    return kExitOk;
  }
  if (command == "version" || command == "--version") {
    std::cout << "ipcmeshctl " << IPCMESH_VERSION << "\n";
    return kExitOk;
  }
  if (command == "pub") {
    return run_pub(args);
  }
  if (command == "sub") {
    return run_sub(args);
  }
  if (command == "stat") {
    return run_stat(args);
  }
  // bench and inject take their own flags; argv[1] ("bench"/"inject") becomes their program name.
  if (command == "bench") {
#ifdef IPCMESH_HAVE_BENCH
    return ipcmesh::bench::run_benchmark_command(argc - 1, argv + 1);
#else
    std::cerr << "ipcmeshctl bench: this build has no benchmark (bench/ was not built)\n";
    return kExitFailure;
#endif
  }
  if (command == "inject") {
#ifdef IPCMESH_HAVE_INJECT
    return ipcmesh::webhook::run_inject_command(argc - 1, argv + 1);
#else
    std::cerr << "ipcmeshctl inject: this build has no operator (operator/ was not built)\n";
    return kExitFailure;
#endif
  }
  std::cerr << "ipcmeshctl: unknown command '" << command << "' (see ipcmeshctl --help)\n";
  return kExitUsage;
}
