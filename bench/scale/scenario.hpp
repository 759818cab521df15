// The scale scenario against a real control plane (issue 13's last bullet): one namespace
// labelled for injection with `channels` IpcChannels each selecting a tenth of the Pods
// (shard=<i>), another namespace the webhook is not called for, then
//   1. sequential creates, alternating between the two namespaces -> added latency p50/p99;
//   2. bursts of concurrent creates, likewise;
//   3. Deployments 0 -> N Pods in total: time until all exist and every channel's status counts
//      are exact, operator vs API server CPU, operator RSS;
//   4. one Pod event (a label patch) with N Pods in the namespace: operator CPU per event;
//   5. deleting N Pods with the operator and (operator stopped, webhook unregistered) without;
// with counts over the run: status writes (the API server's metrics, and the operator's own when
// it has one), Events on the channels, admission calls per Pod.
#pragma once

#include <sys/types.h>

#include <atomic>
#include <nlohmann/json.hpp>

#include "scale_options.hpp"

namespace ipcmesh::bench::scale {

// Runs everything, printing progress to stderr; returns the figures (report.hpp reads them).
// Throws when the control plane or the operator cannot be set up or a wait times out. The
// operator's pid (its process group) is published in `operator_pid` while it runs, so an
// interrupted bench can stop it (main.cpp).
nlohmann::json run_scale_scenario(const ScaleOptions& options, std::atomic<pid_t>& operator_pid);

}  // namespace ipcmesh::bench::scale
