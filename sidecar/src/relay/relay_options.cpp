#include "relay/relay_options.hpp"

#include <cstdlib>

#include "ipcmesh/channel_spec.hpp"
#include "relay/command_line.hpp"
#include "relay/duration.hpp"
#include "relay/json_log.hpp"

namespace ipcmesh::relay {
namespace {

tl::expected<void, std::string> apply_listen(std::string_view text, RelayOptions& options) {
  const auto colon = text.rfind(':');
  if (colon == std::string_view::npos || colon == 0) {
    return tl::unexpected("--listen: '" + std::string(text) + "' is not HOST:PORT");
  }
  options.listen_host = std::string(text.substr(0, colon));
  const std::string port(text.substr(colon + 1));
  char* end = nullptr;
  const long value = std::strtol(port.c_str(), &end, 10);
  if (port.empty() || *end != '\0' || value < 0 || value > 65535) {
    return tl::unexpected("--listen: port '" + port + "' is not 0..65535");
  }
  options.metrics_port = static_cast<std::uint16_t>(value);
  return {};
}

}  // namespace

tl::expected<RelayOptions, std::string> parse_relay_options(const std::vector<std::string>& args) {
  static const std::vector<FlagSpec> kFlags = {{"spec"},        {"control-dir"},   {"metrics-port"},
                                               {"listen"},      {"grace-period"},  {"log-level"},
                                               {"help", false}, {"version", false}};
  auto line = CommandLine::parse(args, kFlags);
  if (!line) {
    return tl::unexpected(line.error());
  }
  RelayOptions options;
  options.help = line->has("help");
  options.version = line->has("version");
  options.spec_file = line->value("spec");
  if (auto dir = line->value("control-dir")) {
    options.control_dir = *dir;
  } else if (const char* env = std::getenv(std::string(kEnvControlDir).c_str()); env && *env) {
    options.control_dir = env;
  } else {
    options.control_dir = std::string(kDefaultControlDir);
  }
  if (options.control_dir.empty()) {
    return tl::unexpected(std::string("--control-dir: must not be empty"));
  }
  if (auto listen = line->value("listen")) {
    if (auto applied = apply_listen(*listen, options); !applied) {
      return tl::unexpected(applied.error());
    }
  }
  auto port = line->integer("metrics-port", 0, 65535);
  if (!port) {
    return tl::unexpected(port.error());
  }
  if (*port) {
    options.metrics_port = static_cast<std::uint16_t>(**port);
  }
  if (auto grace = line->value("grace-period")) {
    auto parsed = parse_duration(*grace);
    if (!parsed) {
      return tl::unexpected("--grace-period: " + parsed.error());
    }
    options.grace_period = *parsed;
  }
  if (auto level = line->value("log-level")) {
    if (!parse_log_level(*level, options.log_level)) {
      return tl::unexpected("--log-level: '" + *level +
                            "' is not one of trace, debug, info, warn, error, off");
    }
  }
  return options;
}

std::string relay_usage() {
  return R"(ipcmesh-relay: creates, guards, bridges and measures the channels of a Pod.

Usage: ipcmesh-relay [flags]

Channels come from --spec FILE, else from the environment variable IPCMESH_CHANNELS (the JSON
document), else from the file named by IPCMESH_CHANNELS_FILE.

Flags:
  --spec FILE            read the channel document from FILE
  --control-dir DIR      control files (ready file); default $IPCMESH_CONTROL_DIR or /var/run/ipcmesh
  --metrics-port PORT    /healthz, /readyz, /metrics port on 127.0.0.1 (0 picks a free port);
                         default: the first channel's metricsPort
  --listen HOST:PORT     address and port for the same endpoints (e.g. 0.0.0.0:9090)
  --grace-period D       how long SIGTERM waits for subscribers to drain (default 10s; 500ms, 2m...)
  --log-level LEVEL      trace, debug, info (default), warn, error, off
  --help                 this text
  --version              print the version

Exit codes: 0 clean shutdown, 1 runtime failure, 2 usage or invalid channel spec.
)";
}

}  // namespace ipcmesh::relay
