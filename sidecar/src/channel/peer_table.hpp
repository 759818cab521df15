// The subscriber and producer tables (docs/protocol.md, sections 1.3, 1.4 and 4): claiming a slot
// with its liveness lock, starting it, and retiring a producer's counters when it leaves.
#pragma once

#include <cstdint>

#include "channel/shm_segment.hpp"
#include "ipcmesh/error.hpp"
#include "ipcmesh/posix/unique_fd.hpp"

namespace ipcmesh::shm {

// A slot claimed in a segment, before it is handed to a Publisher or Subscriber: the slot's
// liveness lock is held through `lock_fd`, this peer's own open file description.
struct Attachment {
  posix::UniqueFd lock_fd;
  std::uint32_t slot = 0;
};

// Check the segment is intact (rule F1), open an own description, claim a free slot and lock
// it. A full subscriber table is retried once after reaping dead subscribers (rule L2).
Result<Attachment> attach_producer(const Segment& segment);
Result<Attachment> attach_subscriber(const Segment& segment);

// Resets a claimed producer slot and marks it active.
void start_producer_slot(const Segment& segment, std::uint32_t slot);
// Publishes a claimed subscriber slot and returns the cursor to read from: the tail (rule R4),
// or for a subscriber re-attaching to a new generation its start (`at_start`), unless that may
// have been overwritten already (rule G3, which relies on the producers' rule R5).
// `sleeps_with_barrier`: the subscriber follows rule W1c, which its `sleeping` word says before
// the slot is active.
std::uint64_t start_subscriber_slot(const Segment& segment, std::uint32_t slot, bool at_start,
                                    bool sleeps_with_barrier);

// A producer slot's counters move into the channel's totals when the slot is freed, so that
// published/rejected/dropped totals survive slot reuse.
void retire_producer_counters(ControlBlock& control, ProducerSlot& slot);

constexpr std::uint32_t state_value(SlotState state) {
  return static_cast<std::uint32_t>(state);
}

}  // namespace ipcmesh::shm
