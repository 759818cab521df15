#include "channel/drop_oldest.hpp"

#include <optional>

#include "channel/dead_peers.hpp"
#include "channel/peer_table.hpp"
#include "channel/records.hpp"

namespace ipcmesh::shm {
namespace {

constexpr int kPushAttempts = 64;

struct Walk {
  std::uint64_t position = 0;  // the first record boundary at or above the target
  std::uint64_t skipped = 0;   // data records walked over
  bool complete = false;       // false: stopped at an uncommitted record at `position`
};

Walk walk_committed(const RingView& ring, std::uint64_t from, std::uint64_t needed) {
  Walk walk{from, 0, true};
  while (walk.position < needed) {
    auto record = read_record(ring, walk.position);
    if (!record) {
      walk.complete = false;
      break;
    }
    if (record->type == RecordType::kData) ++walk.skipped;
    walk.position += record->record_bytes;
  }
  return walk;
}

// One subscriber: the messages it lost to this push.
std::uint64_t push_subscriber(const Segment& segment, SubscriberSlot& slot, std::uint64_t needed) {
  for (int attempt = 0; attempt < kPushAttempts; ++attempt) {
    std::uint64_t cursor = slot.cursor.load(std::memory_order_acquire);
    if (cursor >= needed) return 0;
    const Walk walk = walk_committed(segment.ring(), cursor, needed);
    if (!walk.complete) {
      // An uncommitted record: a slow producer (wait for it) or a dead one (fill its gap).
      fill_dead_reservation(segment, walk.position);
      return 0;
    }
    if (slot.cursor.compare_exchange_strong(cursor, walk.position, std::memory_order_seq_cst)) {
      slot.missed.fetch_add(walk.skipped, std::memory_order_relaxed);
      return walk.skipped;
    }
  }
  return 0;
}

}  // namespace

std::uint64_t push_slow_subscribers(const Segment& segment, std::uint64_t needed) {
  std::uint64_t dropped = 0;
  for (std::uint32_t i = 0; i < segment.header.max_subscribers; ++i) {
    SubscriberSlot& slot = segment.subscriber(i);
    if (slot.state.load(std::memory_order_acquire) != state_value(SlotState::kActive)) continue;
    dropped += push_subscriber(segment, slot, needed);
  }
  return dropped;
}

}  // namespace ipcmesh::shm
