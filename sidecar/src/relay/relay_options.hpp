// ipcmesh-relay's command line. Flags win over the environment; the channel document comes from
// --spec FILE (humans, tests) or from the contract's IPCMESH_CHANNELS / IPCMESH_CHANNELS_FILE.
#pragma once

#include <spdlog/common.h>

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <tl/expected.hpp>
#include <vector>

namespace ipcmesh::relay {

struct RelayOptions {
  std::optional<std::string> spec_file;
  std::string control_dir;  // --control-dir, else IPCMESH_CONTROL_DIR, else default
  std::string listen_host = "127.0.0.1";
  std::optional<std::uint16_t> metrics_port;  // unset: the first channel's metricsPort
  std::chrono::nanoseconds grace_period = std::chrono::seconds(10);
  spdlog::level::level_enum log_level = spdlog::level::info;
  bool help = false;
  bool version = false;
};

// The error is a one-line usage message (exit code 2).
tl::expected<RelayOptions, std::string> parse_relay_options(const std::vector<std::string>& args);

std::string relay_usage();

}  // namespace ipcmesh::relay
