// ipcmeshctl: use and inspect ipcmesh channels from a shell, a script or a Pod; also kubectl's
// plugin `kubectl ipcmesh` under the name kubectl-ipcmesh. Everything is in run_ipcmeshctl
// (ipcmeshctl.hpp). Exit codes: 0 ok, 1 failure, 2 usage.
#include <algorithm>
#include <iostream>

#include "ipcmeshctl.hpp"

int main(int argc, char** argv) {
  return ipcmesh::cli::run_ipcmeshctl({argv + std::min(argc, 1), argv + argc}, std::cin, std::cout,
                                      std::cerr,
                                      ipcmesh::cli::program_name(argc > 0 ? argv[0] : ""));
}
