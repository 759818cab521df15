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

#include "ipcmesh/command_line.hpp"

namespace ipcmesh::relay {

struct RelayOptions {
  std::optional<std::string> spec_file;
  std::string control_dir;  // --control-dir, else IPCMESH_CONTROL_DIR, else default
  std::string listen_host = "127.0.0.1";
  std::optional<std::uint16_t> metrics_port;  // unset: the first channel's metricsPort
  std::chrono::nanoseconds grace_period = std::chrono::seconds(10);
  spdlog::level::level_enum log_level = spdlog::level::info;
};

// args excludes the program name. The options to run with, or what to print and the exit code
// (--help and --version: the text and 0; a usage mistake: one line naming it and 2).
tl::expected<RelayOptions, command_line::ParseOutcome> parse_relay_options(
    const std::vector<std::string>& args);

// The --help text.
std::string relay_usage();

}  // namespace ipcmesh::relay
