// ipcmesh-scale-bench's command line (CLI11). Parsing never exits: help and usage errors come back
// as text and an exit code (0 for --help, 2 for a usage error) for main to act on.
#pragma once

#include <optional>
#include <string>
#include <vector>

namespace ipcmesh::bench::scale {

struct ScaleOptions {
  int pods = 5000;              // N: the Deployments' replicas in total, and each refill
  int channels = 10;            // IpcChannels, each selecting a tenth (label shard=<i>)
  int sequential = 200;         // M: sequential creates per namespace (with / without webhook)
  int warmup = 10;              // creates per namespace discarded before the sequential ones
  int burst_rounds = 10;        // rounds of concurrent creates per namespace
  int burst_concurrency = 16;   // creates per round, all released at once
  int events = 50;              // label patches of one Pod with N Pods in the namespace
  int event_interval_ms = 200;  // their pace
  int delete_concurrency = 16;  // clients deleting the N Pods
  int timeout_s = 900;          // each wait (Pods created, status exact, Pods gone)
  std::string operator_bin;     // default: <build>/bin/ipcmesh-operator
  std::string operator_log_level = "info";
  std::vector<std::string> operator_flags;  // appended to the operator's command line
  std::string tools_bin;                    // default: <build>/tools/bin
  std::string cluster_dir;                  // default: /tmp/ipcmesh-scale-<pid>
  bool keep_cluster = false;
  std::string json_out;
  bool fail_on_miss = false;
};

struct ScaleOptionsOutcome {
  std::optional<ScaleOptions> options;  // set when the bench should run
  int exit_code = 0;
  std::string output;  // help (stdout) or the error with a hint (stderr)
};

ScaleOptionsOutcome parse_scale_options(int argc, const char* const* argv);

}  // namespace ipcmesh::bench::scale
