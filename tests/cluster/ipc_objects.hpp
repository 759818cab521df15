// What the controller-facing cluster tests write and read back: IpcChannel and Pod manifests, a
// channel's status and conditions, the Events recorded on it, and the operator's Prometheus
// samples. Header-only.
#pragma once

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "cluster.hpp"

namespace ipcmesh::cluster {

inline std::string channel_manifest(const std::string& name, const std::string& app_label,
                                    const std::string& size = "8Mi") {
  return "apiVersion: ipcmesh.io/v1alpha1\nkind: IpcChannel\nmetadata:\n  name: " + name +
         "\nspec:\n  selector:\n    matchLabels: {app: " + app_label +
         "}\n  transport: SharedMemory\n  sharedMemory:\n    size: " + size +
         "\n    maxMessageSize: 4Ki\n";
}

inline std::string pod_manifest(const std::string& name, const std::string& app_label,
                                const std::string& annotations = "") {
  return "apiVersion: v1\nkind: Pod\nmetadata:\n  name: " + name +
         "\n  labels: {app: " + app_label + "}\n" +
         (annotations.empty() ? "" : "  annotations: " + annotations + "\n") +
         "spec:\n  containers:\n  - name: app\n    image: busybox:1.36\n"
         "    command: [sh, -c, 'sleep 3600']\n";
}

// The channel as stored; an empty object when it cannot be read.
inline nlohmann::json get_channel(const std::string& ns, const std::string& name) {
  const CommandResult got = kubectl({"get", "ipch", name, "-n", ns, "-o", "json"});
  if (!got.ok()) return nlohmann::json::object();
  return nlohmann::json::parse(got.out, nullptr, false);
}

// The fields of status the controller owns, in one comparable value.
struct ChannelCounts {
  std::int64_t observed_generation = 0;
  int selected = 0;
  int injected = 0;
  int pending_restart = 0;
  friend bool operator==(const ChannelCounts&, const ChannelCounts&) = default;
  friend std::ostream& operator<<(std::ostream& out, const ChannelCounts& c) {
    return out << "{observedGeneration " << c.observed_generation << ", selected " << c.selected
               << ", injected " << c.injected << ", pendingRestart " << c.pending_restart << "}";
  }
};

inline ChannelCounts counts_of(const nlohmann::json& channel) {
  const nlohmann::json status = channel.value("status", nlohmann::json::object());
  return {status.value("observedGeneration", std::int64_t{0}), status.value("selectedPods", 0),
          status.value("injectedPods", 0), status.value("pendingRestartPods", 0)};
}

// status.conditions[type], or an empty object.
inline nlohmann::json condition_of(const nlohmann::json& channel, const std::string& type) {
  const nlohmann::json status = channel.value("status", nlohmann::json::object());
  for (const nlohmann::json& condition : status.value("conditions", nlohmann::json::array())) {
    if (condition.value("type", "") == type) return condition;
  }
  return nlohmann::json::object();
}

// Waits until the channel's status shows `wanted`; fails the test with what it last saw.
inline nlohmann::json wait_for_counts(
    const std::string& ns, const std::string& name, const ChannelCounts& wanted,
    const OperatorProcess& op, std::chrono::milliseconds timeout = std::chrono::seconds(30)) {
  nlohmann::json channel;
  const bool reached = eventually(
      [&] {
        channel = get_channel(ns, name);
        return counts_of(channel) == wanted;
      },
      timeout);
  EXPECT_TRUE(reached) << "channel " << ns << "/" << name << " never showed " << wanted
                       << "; last status " << counts_of(channel) << ":\n"
                       << channel.value("status", nlohmann::json::object()).dump(2)
                       << "\noperator log tail:\n"
                       << op.log_tail();
  return channel;
}

// Events whose subject is the named object (core/v1 view: type, reason, message).
inline std::vector<nlohmann::json> events_about(const std::string& ns, const std::string& name) {
  const nlohmann::json list =
      kubectl_json({"get", "events", "-n", ns, "--field-selector", "involvedObject.name=" + name});
  return list.value("items", nlohmann::json::array()).get<std::vector<nlohmann::json>>();
}

// The first Event about `name` with this type and reason, or an empty object.
inline nlohmann::json find_event(const std::vector<nlohmann::json>& events, const std::string& type,
                                 const std::string& reason) {
  for (const nlohmann::json& event : events) {
    if (event.value("type", "") == type && event.value("reason", "") == reason) return event;
  }
  return nlohmann::json::object();
}

inline std::string describe_events(const std::vector<nlohmann::json>& events) {
  std::string out;
  for (const nlohmann::json& event : events) {
    out += "  " + event.value("type", "") + " " + event.value("reason", "") + ": " +
           event.value("message", "") + "\n";
  }
  return out.empty() ? "  (none)\n" : out;
}

// Sum of the samples of `name` (a Prometheus text exposition) whose label text contains
// `labels_part` ("" matches every sample, including one without labels).
inline double metric_value(const std::string& metrics, const std::string& name,
                           const std::string& labels_part = "") {
  double sum = 0;
  std::size_t line_start = 0;
  while (line_start < metrics.size()) {
    std::size_t line_end = metrics.find('\n', line_start);
    if (line_end == std::string::npos) line_end = metrics.size();
    const std::string line = metrics.substr(line_start, line_end - line_start);
    line_start = line_end + 1;
    if (line.empty() || line[0] == '#') continue;
    const bool named = line.rfind(name + "{", 0) == 0 || line.rfind(name + " ", 0) == 0;
    if (!named || line.find(labels_part) == std::string::npos) continue;
    sum += std::stod(line.substr(line.rfind(' ') + 1));
  }
  return sum;
}

}  // namespace ipcmesh::cluster
