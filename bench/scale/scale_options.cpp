#include "scale_options.hpp"

#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <sstream>

namespace ipcmesh::bench::scale {

ScaleOptionsOutcome parse_scale_options(int argc, const char* const* argv) {
  ScaleOptions options;
  options.operator_bin = std::string(IPCMESH_BIN_DIR) + "/ipcmesh-operator";
  options.tools_bin = IPCMESH_TOOLS_BIN;

  CLI::App app{
      "ipcmesh-scale-bench: the operator at scale against a real control plane (issue 13).\n"
      "Starts etcd + kube-apiserver + kube-controller-manager (tests/cluster/control-plane.sh),\n"
      "the operator out of the cluster with its webhook registered, and measures: added Pod\n"
      "create latency (sequential, bursts), Deployments of N Pods in total, one Pod event with N\n"
      "Pods in the namespace, deleting N Pods with and without the operator, status writes,\n"
      "Events, admission calls per Pod, operator CPU and RSS. Prints the targets met/MISSED.",
      "ipcmesh-scale-bench"};
  // The conventions of every ipcmesh binary (issue 14): -h/--help on stdout with exit 0, a usage
  // error as one line on stderr naming the argument, exit 2.
  app.set_help_flag("-h,--help", "print this help and exit");
  app.allow_windows_style_options(false);
  app.option_defaults()->always_capture_default();
  app.add_option("--pods", options.pods, "N: Pods of the Deployments, and of each refill")
      ->check(CLI::Range(10, 100000));
  app.add_option("--channels", options.channels,
                 "IpcChannels, each selecting 1/channels of the Pods")
      ->check(CLI::Range(1, 100));
  app.add_option("--sequential", options.sequential, "M: sequential creates per namespace")
      ->check(CLI::Range(10, 100000));
  app.add_option("--warmup", options.warmup, "creates per namespace discarded first")
      ->check(CLI::Range(0, 1000));
  app.add_option("--burst-rounds", options.burst_rounds,
                 "rounds of concurrent creates per namespace")
      ->check(CLI::Range(0, 1000));
  app.add_option("--burst-concurrency", options.burst_concurrency,
                 "creates released at once per round")
      ->check(CLI::Range(1, 256));
  app.add_option("--events", options.events, "label patches of one Pod (N Pods in the namespace)")
      ->check(CLI::Range(0, 10000));
  app.add_option("--event-interval-ms", options.event_interval_ms, "pace of those patches")
      ->check(CLI::Range(10, 60000));
  app.add_option("--delete-concurrency", options.delete_concurrency, "clients deleting the N Pods")
      ->check(CLI::Range(1, 256));
  app.add_option("--timeout", options.timeout_s, "seconds each wait may take")
      ->check(CLI::Range(10, 86400));
  app.add_option("--operator-bin", options.operator_bin, "the ipcmesh-operator binary to measure");
  app.add_option("--operator-log-level", options.operator_log_level, "the operator's --log-level");
  app.add_option("--operator-flag", options.operator_flags,
                 "an extra operator argument (repeat; e.g. --operator-flag=--workers=4)")
      ->allow_extra_args(false);
  app.add_option(
      "--tools-bin", options.tools_bin,
      "etcd, kube-apiserver, kube-controller-manager, kubectl, helm (make tools-cluster)");
  app.add_option("--cluster-dir", options.cluster_dir,
                 "the control plane's directory, logs kept (default: /tmp/ipcmesh-scale-PID)");
  app.add_flag("--keep-cluster", options.keep_cluster,
               "leave the control plane running at the end");
  app.add_option("--json-out", options.json_out, "write the figures as JSON");
  app.add_flag("--fail-on-miss", options.fail_on_miss, "exit 1 when a target is missed");

  ScaleOptionsOutcome outcome;
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp&) {
    outcome.exit_code = 0;
    outcome.output = app.help();
    return outcome;
  } catch (const CLI::ParseError& error) {
    std::string message = error.what();
    std::replace(message.begin(), message.end(), '\n', ' ');
    outcome.exit_code = 2;
    outcome.output = "ipcmesh-scale-bench: " + message + " (see ipcmesh-scale-bench --help)\n";
    return outcome;
  }
  // Decided after parsing, so that --help reads the same in every process.
  if (options.cluster_dir.empty()) {
    options.cluster_dir = "/tmp/ipcmesh-scale-" + std::to_string(::getpid());
  }
  outcome.options = options;
  return outcome;
}

}  // namespace ipcmesh::bench::scale
