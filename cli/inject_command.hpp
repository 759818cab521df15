// `ipcmeshctl inject`: the offline preview of the webhook (like `istioctl kube-inject`), built on
// the same mutate_pod. Reads Pods and workloads (Deployment, StatefulSet, DaemonSet, ReplicaSet,
// Job, CronJob) from YAML or JSON files, directories or stdin, injects the channels given with
// --channel into each Pod (or Pod template), and prints the result. Other objects pass through
// unchanged.
#pragma once

#include <iosfwd>
#include <string>
#include <vector>

#include "ipcmesh/command_line.hpp"
#include "webhook/pod_mutation.hpp"

namespace ipcmesh::cli {

struct InjectArguments {
  std::vector<std::string> inputs;         // -f
  std::vector<std::string> channel_files;  // --channel
  std::string output = "yaml";
  std::string namespace_name = "default";
  std::string kube_version = "1.30";
  webhook::MutationOptions options;
};

CLI::App* add_inject_command(CLI::App& app, InjectArguments& arguments);

// Exit codes: 0 ok, 1 failure (unreadable input, no object, a denied Pod), 2 usage.
int run_inject(InjectArguments arguments, std::istream& in, std::ostream& out, std::ostream& err);

}  // namespace ipcmesh::cli
