#include "channel/reservation.hpp"

#include <algorithm>

namespace ipcmesh::shm {

// The tail read first also bounds the limit, so a subscriber that registers during the scan (it
// reads the tail after publishing its slot) can never be overrun by a stale limit (rule R4).
WriteLimit scan_write_limit(const Segment& segment) {
  const ControlBlock& control = segment.control();
  const std::uint64_t tail_word = control.tail.load(std::memory_order_seq_cst);
  const std::uint64_t tail = tail_position(tail_word);
  std::uint64_t lowest = tail;
  bool barrier_sleepers_only = true;
  for (std::uint32_t i = 0; i < segment.header.max_subscribers; ++i) {
    const SubscriberSlot& slot = segment.subscriber(i);
    if (slot.state.load(std::memory_order_seq_cst) ==
        static_cast<std::uint32_t>(SlotState::kFree)) {
      continue;
    }
    lowest = std::min(lowest, slot.cursor.load(std::memory_order_seq_cst));
    // A slot being claimed has not set its bit yet (or still holds a dead owner's, which
    // protocol.md section 7 bounds like a late attach): fenced commits until the next scan.
    if ((slot.sleeping.load(std::memory_order_seq_cst) & kSleepsWithBarrier) == 0) {
      barrier_sleepers_only = false;
    }
  }
  // Rule R5: a reservation that writes at or past a multiple B of the capacity is made only
  // after a scan that saw the tail at B - record_bytes(max) or later, so a subscriber that joins
  // a new generation at its start (rule G3) either is seen here or sees that tail itself. One
  // extra scan per lap of the ring.
  const std::uint64_t capacity = segment.header.capacity;
  const std::uint64_t lap_end =
      ((tail + record_bytes(segment.header.max_message_size)) / capacity + 1) * capacity;
  return {std::min(lowest + capacity, lap_end), (tail_word & kTailClosed) == 0,
          barrier_sleepers_only};
}

}  // namespace ipcmesh::shm
