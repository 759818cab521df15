// DropOldest (docs/protocol.md, rule D1): before a producer overwrites, every subscriber that
// still needs the bytes is pushed past them to a record boundary, and told how many messages it
// lost.
#pragma once

#include <cstdint>

#include "channel/shm_segment.hpp"

namespace ipcmesh::shm {

// Pushes every active subscriber whose cursor is below `needed` forward over committed records
// (a CAS from the cursor it started from: it fails if the subscriber moved itself, and is then
// retried). An uncommitted record on the way stops the push for that subscriber: a slow producer
// (the caller retries later) or a dead one (its reservation becomes a gap, rule L3). Returns the
// messages dropped, for the producer's dropped_oldest counter.
std::uint64_t push_slow_subscribers(const Segment& segment, std::uint64_t needed);

}  // namespace ipcmesh::shm
