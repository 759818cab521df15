// Where the relay's channels come from (--spec FILE or the contract's environment) and the
// relay's own rules on top of the contract's validation (bridges need both transports, one
// direction at a time, a queue message that fits the ring).
#pragma once

#include <optional>
#include <string>

#include "ipcmesh/channel_spec.hpp"
#include "ipcmesh/error.hpp"

namespace ipcmesh::relay {

// Reads and parses the document; errors name the source and the JSON path at fault.
Result<ChannelSet> load_channel_set(const std::optional<std::string>& spec_file);

// Checks what the relay needs beyond the contract; errors say "channels[i].<field>: <reason>".
Result<void> validate_for_relay(const ChannelSet& set);

}  // namespace ipcmesh::relay
