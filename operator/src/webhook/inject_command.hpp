// `ipcmeshctl inject`: the offline preview of the webhook (like `istioctl kube-inject`), built on
// the same mutate_pod. Reads Pods and workloads (Deployment, StatefulSet, DaemonSet, ReplicaSet,
// Job, CronJob) from YAML or JSON, injects the channels given with --channel into each Pod (or Pod
// template), and prints the result. Other objects pass through unchanged.
#pragma once

#include <iosfwd>
#include <nlohmann/json_fwd.hpp>
#include <string>
#include <vector>

#include "webhook/pod_mutation.hpp"

namespace ipcmesh::webhook {

// argv[0] is the subcommand name ("inject"). Exit codes: 0 ok, 1 failure (unreadable input, a
// denied Pod), 2 usage.
int run_inject_command(int argc, char** argv);
// The same with explicit streams (tests).
int run_inject_command(const std::vector<std::string>& args, std::istream& in, std::ostream& out,
                       std::ostream& err);

// YAML (1.2 core schema: plain scalars become null/bool/int/float, quoted ones stay strings) to
// JSON and back. Multi-document text gives one JSON value per document. Throw std::runtime_error
// with the line of the problem.
std::vector<nlohmann::json> documents_from_yaml(const std::string& text);
std::string documents_to_yaml(const std::vector<nlohmann::json>& documents);

}  // namespace ipcmesh::webhook
