#include "relay/relay_options.hpp"

#include <cstdlib>

#include "ipcmesh/channel_spec.hpp"
#include "relay/duration.hpp"
#include "relay/json_log.hpp"

namespace ipcmesh::relay {
namespace {

constexpr const char* kProgram = "ipcmesh-relay";

// What the flags hold before they are checked and turned into RelayOptions.
struct RawFlags {
  std::optional<std::string> spec;
  std::optional<std::string> control_dir;
  std::optional<int> metrics_port;
  std::optional<std::string> listen;
  std::optional<std::string> grace_period;
  std::optional<std::string> log_level;
};

void define_flags(CLI::App& app, RawFlags& flags) {
  command_line::apply_conventions(app);
  app.footer(
      "Channels come from --spec FILE, else from the environment variable IPCMESH_CHANNELS (the "
      "JSON\ndocument), else from the file named by IPCMESH_CHANNELS_FILE.\n\n"
      "Exit codes: 0 clean shutdown, 1 runtime failure, 2 usage or invalid channel spec.");
  app.set_version_flag("--version", std::string(kProgram) + " " + IPCMESH_VERSION,
                       "print the version and exit");
  app.add_option("--spec", flags.spec, "read the channel document from FILE")->option_text("FILE");
  app.add_option("--control-dir", flags.control_dir,
                 "control files (ready file); default $IPCMESH_CONTROL_DIR or /var/run/ipcmesh")
      ->option_text("DIR");
  app.add_option("--metrics-port", flags.metrics_port,
                 "/healthz, /readyz, /metrics port on 127.0.0.1 (0 picks a free port); default: "
                 "the first channel's metricsPort")
      ->check(CLI::Range(0, 65535))
      ->option_text("PORT");
  app.add_option(std::string(kRelayListenFlag), flags.listen,
                 "address and port for the same endpoints (e.g. 0.0.0.0:9090)")
      ->option_text("HOST:PORT");
  app.add_option("--grace-period", flags.grace_period,
                 "how long SIGTERM waits for subscribers to drain (default 10s; 500ms, 2m...)")
      ->option_text("DURATION");
  app.add_option("--log-level", flags.log_level, "trace, debug, info (default), warn, error, off")
      ->option_text("LEVEL");
}

tl::expected<void, std::string> apply_listen(std::string_view text, RelayOptions& options) {
  const auto colon = text.rfind(':');
  if (colon == std::string_view::npos || colon == 0) {
    return tl::unexpected(std::string(kRelayListenFlag) + ": '" + std::string(text) +
                          "' is not HOST:PORT");
  }
  options.listen_host = std::string(text.substr(0, colon));
  const std::string port(text.substr(colon + 1));
  char* end = nullptr;
  const long value = std::strtol(port.c_str(), &end, 10);
  if (port.empty() || *end != '\0' || value < 0 || value > 65535) {
    return tl::unexpected(std::string(kRelayListenFlag) + ": port '" + port + "' is not 0..65535");
  }
  options.metrics_port = static_cast<std::uint16_t>(value);
  return {};
}

// The checks CLI11 cannot express; the error is the message without the program name.
tl::expected<RelayOptions, std::string> to_options(const RawFlags& flags) {
  RelayOptions options;
  options.spec_file = flags.spec;
  if (flags.control_dir) {
    options.control_dir = *flags.control_dir;
  } else if (const char* env = std::getenv(std::string(kEnvControlDir).c_str()); env && *env) {
    options.control_dir = env;
  } else {
    options.control_dir = std::string(kDefaultControlDir);
  }
  if (options.control_dir.empty()) {
    return tl::unexpected(std::string("--control-dir: must not be empty"));
  }
  if (flags.listen) {
    if (auto applied = apply_listen(*flags.listen, options); !applied) {
      return tl::unexpected(applied.error());
    }
  }
  if (flags.metrics_port) {
    options.metrics_port = static_cast<std::uint16_t>(*flags.metrics_port);
  }
  if (flags.grace_period) {
    auto parsed = parse_duration(*flags.grace_period);
    if (!parsed) {
      return tl::unexpected("--grace-period: " + parsed.error());
    }
    options.grace_period = *parsed;
  }
  if (flags.log_level && !parse_log_level(*flags.log_level, options.log_level)) {
    return tl::unexpected("--log-level: '" + *flags.log_level +
                          "' is not one of trace, debug, info, warn, error, off");
  }
  return options;
}

}  // namespace

tl::expected<RelayOptions, command_line::ParseOutcome> parse_relay_options(
    const std::vector<std::string>& args) {
  CLI::App app("ipcmesh-relay: creates, guards, bridges and measures the channels of a Pod.",
               kProgram);
  RawFlags flags;
  define_flags(app, flags);
  auto outcome = command_line::parse(app, args);
  if (!outcome.run) {
    return tl::unexpected(std::move(outcome));
  }
  auto options = to_options(flags);
  if (!options) {
    return tl::unexpected(command_line::ParseOutcome{
        false, command_line::kExitUsage, command_line::usage_error(kProgram, options.error())});
  }
  return std::move(*options);
}

std::string relay_usage() {
  CLI::App app("ipcmesh-relay: creates, guards, bridges and measures the channels of a Pod.",
               kProgram);
  RawFlags flags;
  define_flags(app, flags);
  return app.help();
}

}  // namespace ipcmesh::relay
