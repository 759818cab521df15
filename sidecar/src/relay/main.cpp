// ipcmesh-relay: parse flags, load and validate the channels, run the relay (relay.hpp).
#include <algorithm>
#include <cstdio>
#include <iostream>

#include "relay/channel_source.hpp"
#include "relay/json_log.hpp"
#include "relay/relay.hpp"
#include "relay/relay_options.hpp"
#include "relay/ring_fault_guard.hpp"
#include "relay/shutdown_signals.hpp"

int main(int argc, char** argv) {
  using namespace ipcmesh::relay;
  // Before any thread exists, so that every thread inherits the blocked mask.
  const ShutdownSignals signals;

  auto options = parse_relay_options({argv + std::min(argc, 1), argv + argc});
  if (!options) {
    (options.error().exit_code == 0 ? std::cout : std::cerr) << options.error().output;
    return options.error().exit_code;
  }
  auto logger = make_json_logger("relay", options->log_level);
  auto channels = load_channel_set(options->spec_file);
  if (!channels) {
    logger->error("invalid channel spec: {}", channels.error().message);
    return 2;
  }
  if (auto valid = validate_for_relay(*channels); !valid) {
    logger->error("invalid channel spec: {}", valid.error().message);
    return 2;
  }
  // Before any ring is mapped: a ring truncated under the relay must not kill it.
  auto fault_guard = RingFaultGuard::install();
  if (!fault_guard) {
    logger->error("cannot guard the rings against SIGBUS: {}", fault_guard.error().message);
    return 1;
  }
  Relay relay(std::move(*channels), std::move(*options), logger, signals, **fault_guard);
  return relay.run();
}
