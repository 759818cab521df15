// ipcmesh-operator: parse the config, set malloc up and size the HTTP thread pool, run. Everything
// else is in operator_app.cpp.
// clang-format off
#include <utility>  // before pplx: boost/asio/awaitable.hpp uses std::exchange unincluded
#include <pplx/threadpool.h>
// clang-format on
#include <spdlog/spdlog.h>

#include <cstdio>
#include <exception>
#include <thread>

#include "main/json_log.hpp"
#include "main/operator_app.hpp"
#include "main/operator_caches.hpp"
#include "main/operator_config.hpp"

int main(int argc, char** argv) {
  using namespace ipcmesh::operator_main;
  const ConfigOutcome outcome = parse_operator_config({argv + 1, argv + argc});
  if (!outcome.config) {
    std::fputs(outcome.output.c_str(), outcome.exit_code == 0 ? stdout : stderr);
    return outcome.exit_code;
  }
  const OperatorConfig& config = *outcome.config;
  use_fixed_mmap_threshold();
  block_shutdown_signals();
  // Before any cpprest object: the default 40-thread pool costs 3x throughput on small machines
  // (notes/cpprestsdk.md).
  const int threads = config.threads > 0
                          ? config.threads
                          : static_cast<int>(std::max(2u, std::thread::hardware_concurrency()));
  crossplat::threadpool::initialize_with_threads(static_cast<std::size_t>(threads));
  try {
    install_json_logging(config.log_level);
    return run_operator(config);
  } catch (const std::exception& error) {
    spdlog::critical("ipcmesh-operator failed: {}", error.what());
    return 1;
  }
}
