// Reserving room for a record (docs/protocol.md, rules R1, R3, R4 and R5), as Aeron's tryClaim
// does it: one attempt that either reserves or says why it could not (the ring is full up to the
// subscribers' cursors, or the generation is closed). What to do about a full ring (wait, drop,
// push slow subscribers) is the caller's policy (Publisher::loan). try_reserve runs once per
// message: it stays inline; the subscriber scan it needs about once per lap is out of line.
#pragma once

#include <atomic>
#include <cstdint>

#include "channel/records.hpp"
#include "channel/shm_segment.hpp"

namespace ipcmesh::shm {

// One scan of the subscriber table (WriteLimit, in the public header because a Publisher keeps
// the last one).
WriteLimit scan_write_limit(const Segment& segment);

enum class ReserveOutcome : std::uint8_t {
  kReserved,  // [position, end) is this producer's; padding before it is written
  kFull,      // `end` would pass the write limit: the policy decides
  kClosed,    // the generation ended (rule G2): nothing can be reserved here any more
};

struct Reservation {
  ReserveOutcome outcome = ReserveOutcome::kClosed;
  std::uint64_t position = 0;  // kReserved: where the record's header goes
  std::uint64_t end = 0;       // kReserved, kFull: the position after the record
};

// One reservation attempt of `bytes` (a whole record) for the producer in slot `mine`.
// `cached` is the producer's last scan; it is rescanned only when a reservation would pass its
// limit. A lost CAS race is retried here: it is not a full ring.
inline Reservation try_reserve(const Segment& segment, ProducerSlot& mine, std::uint32_t bytes,
                               WriteLimit& cached) {
  ControlBlock& control = segment.control();
  const std::uint64_t capacity = segment.header.capacity;
  std::uint64_t tail = control.tail.load(std::memory_order_relaxed);
  for (;;) {
    if ((tail & kTailClosed) != 0) [[unlikely]] {
      return {ReserveOutcome::kClosed, 0, 0};
    }
    const std::uint64_t offset = tail & (capacity - 1);
    const std::uint64_t pad = offset + bytes > capacity ? capacity - offset : 0;
    const std::uint64_t end = tail + pad + bytes;
    if (end > cached.limit) {
      cached = scan_write_limit(segment);
      if (end > cached.limit) return {ReserveOutcome::kFull, 0, end};
    }
    // The claim is published before the reservation (release by the CAS): a subscriber that sees
    // the tail past a stuck record also sees who reserved it (rule L3).
    mine.inflight_bytes.store(pad + bytes, std::memory_order_relaxed);
    mine.inflight_position.store(tail, std::memory_order_relaxed);
    if (control.tail.compare_exchange_weak(tail, end, std::memory_order_acq_rel,
                                           std::memory_order_relaxed)) {
      if (pad != 0) {
        // A record never straddles the ring's end (section 1.5): padding fills the rest.
        write_record_header(segment.ring(), tail,
                            static_cast<std::uint32_t>(pad - kRecordHeaderBytes),
                            RecordType::kPadding);
      }
      return {ReserveOutcome::kReserved, tail + pad, end};
    }
  }
}

}  // namespace ipcmesh::shm
