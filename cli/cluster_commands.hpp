// ipcmeshctl's cluster commands: get channels, describe channel, why POD, version. Each reads the
// cluster through a ClusterAccess (cluster_access.hpp) and writes to the given streams, so unit
// tests run them on a fake transport. Exit codes: 0 ok, 1 failure (the cluster cannot be read,
// an object is missing or malformed), 2 usage.
#pragma once

#include <iosfwd>
#include <string>

#include "cluster_access.hpp"
#include "ipcmesh/command_line.hpp"
#include "webhook/pod_mutation.hpp"

namespace ipcmesh::cli {

struct GetArguments {
  ClusterFlags cluster;
  std::string name;  // "": every channel
};
struct DescribeArguments {
  ClusterFlags cluster;
  std::string name;
};
struct WhyArguments {
  ClusterFlags cluster;
  std::string pod;
};
struct VersionArguments {
  ClusterFlags cluster;
  bool client_only = false;
};

// `get` with its `channels` subcommand (also `channel`, `ipch`, `ipcchannels`); returns the
// subcommand that runs.
CLI::App* add_get_command(CLI::App& app, GetArguments& arguments);
CLI::App* add_describe_command(CLI::App& app, DescribeArguments& arguments);
CLI::App* add_why_command(CLI::App& app, WhyArguments& arguments);
CLI::App* add_version_command(CLI::App& app, VersionArguments& arguments);

int run_get_channels(const GetArguments& arguments, ClusterAccess& cluster, std::ostream& out,
                     std::ostream& err);
int run_describe_channel(const DescribeArguments& arguments, ClusterAccess& cluster,
                         std::ostream& out, std::ostream& err);
int run_why(const WhyArguments& arguments, ClusterAccess& cluster, std::ostream& out,
            std::ostream& err);
// `cluster` is null when no cluster is configured (no kubeconfig, no service account): only the
// client's version is printed then, with a note on `err`.
int run_version(const VersionArguments& arguments, ClusterAccess* cluster, std::ostream& out,
                std::ostream& err);
// `version` as the command line runs it: opens the cluster from `environment` (kubeconfig files,
// else the Pod's service account). Only when nothing is configured at all does it print the
// client's version alone (exit 0); a configuration that exists but cannot be used is exit 1.
int run_version_command(const VersionArguments& arguments, const kube::Environment& environment,
                        std::ostream& out, std::ostream& err);

// One line for a selector as kubectl prints one: "app=demo,tier in (a,b)"; "<all Pods>" for {},
// "<by annotation only>" when the channel has none.
std::string selector_text(const std::optional<api::LabelSelector>& selector);

}  // namespace ipcmesh::cli
