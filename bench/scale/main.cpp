// ipcmesh-scale-bench: the operator at scale against a real control plane (issue 13). Thin:
// parse the options, run the scenario (scenario.hpp), print the figures and the targets, write
// --json-out. A missed target is reported, never silent; --fail-on-miss turns it into exit 1.
#include <fcntl.h>
#include <signal.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <thread>

#include "process.hpp"
#include "report.hpp"
#include "scale_options.hpp"
#include "scenario.hpp"

namespace {

// SIGINT/SIGTERM (Ctrl-C, a timeout) must not leave an API server, etcd and an operator behind:
// the handler only writes the signal to a pipe (async-signal-safe); a thread reads it, kills the
// operator's process group, runs control-plane.sh down and exits 128 + signal. The pipe is the
// one global: a signal handler has no other way in.
int interrupt_pipe[2] = {-1, -1};

void on_interrupt(int signal_number) {
  const char byte = static_cast<char>(signal_number);
  [[maybe_unused]] const auto written = ::write(interrupt_pipe[1], &byte, 1);
}

void tear_down_on_interrupt(const ipcmesh::bench::scale::ScaleOptions& options,
                            std::atomic<pid_t>& operator_pid) {
  if (::pipe2(interrupt_pipe, O_CLOEXEC) != 0) return;  // no clean-up on interrupt, nothing worse
  std::thread([&options, &operator_pid] {
    char byte = 0;
    if (::read(interrupt_pipe[0], &byte, 1) != 1) return;
    std::cerr
        << "\nipcmesh-scale-bench: interrupted; stopping the operator and the control plane\n";
    if (const pid_t pid = operator_pid.load(); pid > 0) ::kill(-pid, SIGKILL);
    if (!options.keep_cluster) {
      ipcmesh::cluster::run_command(
          {std::string(IPCMESH_SOURCE_DIR) + "/tests/cluster/control-plane.sh", "down",
           options.cluster_dir});
    }
    ::_exit(128 + byte);
  }).detach();
  struct sigaction action {};
  action.sa_handler = on_interrupt;
  ::sigemptyset(&action.sa_mask);
  ::sigaction(SIGINT, &action, nullptr);
  ::sigaction(SIGTERM, &action, nullptr);
}

}  // namespace

int main(int argc, char** argv) {
  using namespace ipcmesh::bench::scale;
  const ScaleOptionsOutcome parsed = parse_scale_options(argc, argv);
  if (!parsed.options) {
    (parsed.exit_code == 0 ? std::cout : std::cerr) << parsed.output;
    return parsed.exit_code;
  }
  const ScaleOptions& options = *parsed.options;
  spdlog::set_level(spdlog::level::warn);  // the bench's informer logs only trouble
  std::atomic<pid_t> operator_pid{-1};
  tear_down_on_interrupt(options, operator_pid);
  nlohmann::json results;
  try {
    results = run_scale_scenario(options, operator_pid);
  } catch (const std::exception& error) {
    std::cerr << "ipcmesh-scale-bench: " << error.what() << "\n(control plane logs in "
              << options.cluster_dir << "/logs)\n";
    return 1;
  }
  const std::vector<TargetRow> rows = evaluate_targets(results);
  nlohmann::json targets = nlohmann::json::array();
  for (const auto& row : rows) {
    targets.push_back({{"measure", row.measure},
                       {"value", row.value},
                       {"target", row.target},
                       {"met", row.met ? nlohmann::json(*row.met) : nlohmann::json(nullptr)}});
  }
  results["targets"] = targets;
  std::cout << format_report(results, rows);
  if (!options.json_out.empty()) {
    const std::filesystem::path path(options.json_out);
    if (path.has_parent_path()) std::filesystem::create_directories(path.parent_path());
    std::ofstream out(path);
    out << results.dump(2) << "\n";
    if (!out) {
      std::cerr << "ipcmesh-scale-bench: cannot write " << options.json_out << "\n";
      return 1;
    }
    std::cout << "wrote " << options.json_out << "\n";
  }
  if (any_missed(rows)) {
    std::cout << "some targets were MISSED" << (options.fail_on_miss ? " (--fail-on-miss)" : "")
              << "\n";
    if (options.fail_on_miss) return 1;
  }
  return 0;
}
