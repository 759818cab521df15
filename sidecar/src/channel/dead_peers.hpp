// Peers that died (docs/protocol.md, rules L2 and L3): a slot whose liveness lock nobody holds
// any more belongs to a dead process. Dead subscribers must not hold producers back under Block;
// a dead producer's unfinished reservation must not wedge the subscribers stuck at it.
#pragma once

#include <cstdint>

#include "channel/shm_segment.hpp"

namespace ipcmesh::shm {

bool subscriber_is_dead(const Segment& segment, std::uint32_t slot);
bool producer_is_dead(const Segment& segment, std::uint32_t slot);

// Rule L2: frees every active subscriber slot whose owner is dead; returns how many.
std::uint32_t reap_dead_subscribers(const Segment& segment);

// Rule L3, for a subscriber stuck at the uncommitted record at `position`: when the reservation
// covering it belongs to a dead producer and to no live one, it becomes a gap (true).
bool fill_dead_reservation(const Segment& segment, std::uint64_t position);

// Frees every active producer slot whose owner is dead, resolving its claim first (L3) and
// keeping its counters in the channel's totals; returns how many.
std::uint32_t reap_dead_producers(const Segment& segment);

}  // namespace ipcmesh::shm
