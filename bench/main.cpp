// ipcmesh-bench: the side-by-side transport benchmark (`make bench`). All the work is in the
// ipcmesh_bench library so that `ipcmeshctl bench` runs the very same code.
#include "ipcmesh/bench/bench.hpp"

int main(int argc, char** argv) {
  return ipcmesh::bench::run_benchmark_command(argc, argv);
}
