#include "channel/peer_table.hpp"

#include <unistd.h>

#include <string>
#include <type_traits>

#include "channel/dead_peers.hpp"
#include "channel/generation.hpp"

namespace ipcmesh::shm {
namespace {

// Free -> claiming (CAS), then the slot's lock; a lock held by someone else (a slot freed by a
// reaper while its owner still lives would be) puts the slot back.
template <typename Slot>
Result<std::uint32_t> claim_slot(const Segment& segment, int lock_fd, std::uint32_t count,
                                 Slot& (Segment::*slot_at)(std::uint32_t) const,
                                 std::int64_t lock_base, const char* what) {
  for (std::uint32_t i = 0; i < count; ++i) {
    Slot& slot = (segment.*slot_at)(i);
    std::uint32_t expected = state_value(SlotState::kFree);
    if (!slot.state.compare_exchange_strong(expected, state_value(SlotState::kClaiming),
                                            std::memory_order_acq_rel)) {
      continue;
    }
    if (!posix::try_lock_byte(lock_fd, lock_base + i)) {
      slot.state.store(state_value(SlotState::kFree), std::memory_order_release);
      continue;
    }
    return i;
  }
  return make_error(ErrorCode::kTableFull, std::string("channel ") + segment.name +
                                               " has no free " + what + " slot (all " +
                                               std::to_string(count) + " in use)");
}

template <typename Slot>
Result<Attachment> attach_slot(const Segment& segment, std::uint32_t count,
                               Slot& (Segment::*slot_at)(std::uint32_t) const,
                               std::int64_t lock_base, const char* what) {
  if (auto intact = ensure_intact(segment, what); !intact) return tl::unexpected(intact.error());
  auto fd = posix::open_own_description(segment.fd.get(), segment.name);
  if (!fd) return tl::unexpected(fd.error());
  auto slot = claim_slot<Slot>(segment, fd->get(), count, slot_at, lock_base, what);
  if (!slot && std::is_same_v<Slot, SubscriberSlot>) {
    reap_dead_subscribers(segment);
    slot = claim_slot<Slot>(segment, fd->get(), count, slot_at, lock_base, what);
  }
  if (!slot) return tl::unexpected(slot.error());
  return Attachment{std::move(*fd), *slot};
}

}  // namespace

Result<Attachment> attach_producer(const Segment& segment) {
  return attach_slot<ProducerSlot>(segment, segment.header.max_producers, &Segment::producer,
                                   kProducerLockBase, "producer");
}

Result<Attachment> attach_subscriber(const Segment& segment) {
  return attach_slot<SubscriberSlot>(segment, segment.header.max_subscribers, &Segment::subscriber,
                                     kSubscriberLockBase, "subscriber");
}

void start_producer_slot(const Segment& segment, std::uint32_t slot) {
  ProducerSlot& mine = segment.producer(slot);
  mine.pid = ::getpid();
  mine.inflight_position.store(kNoPosition, std::memory_order_relaxed);
  mine.published_messages.store(0, std::memory_order_relaxed);
  mine.published_bytes.store(0, std::memory_order_relaxed);
  mine.rejected_full.store(0, std::memory_order_relaxed);
  mine.dropped_oldest.store(0, std::memory_order_relaxed);
  mine.state.store(state_value(SlotState::kActive), std::memory_order_release);
}

std::uint64_t start_subscriber_slot(const Segment& segment, std::uint32_t slot, bool at_start,
                                    bool sleeps_with_barrier) {
  SubscriberSlot& mine = segment.subscriber(slot);
  const ControlBlock& control = segment.control();
  mine.pid = ::getpid();
  mine.missed.store(0, std::memory_order_relaxed);
  mine.sleeping.store(sleeps_with_barrier ? kSleepsWithBarrier : 0, std::memory_order_relaxed);
  mine.delivered_messages.store(0, std::memory_order_relaxed);
  mine.delivered_bytes.store(0, std::memory_order_relaxed);
  const std::uint64_t start = segment.header.capacity;  // the log's first position
  // Rule R4: publish the slot with a cursor no later than the tail, then read the tail again
  // and start there. A producer either sees this slot or read a tail no later than ours.
  const std::uint64_t first =
      at_start ? start : tail_position(control.tail.load(std::memory_order_seq_cst));
  mine.cursor.store(first, std::memory_order_seq_cst);
  mine.state.store(state_value(SlotState::kActive), std::memory_order_seq_cst);
  std::uint64_t cursor = tail_position(control.tail.load(std::memory_order_seq_cst));
  // Rule G3: a producer writes at or past start + capacity (over the start) only after a scan
  // that either saw this slot or read a tail at or past that point minus one record (rule R5).
  if (at_start &&
      cursor + record_bytes(segment.header.max_message_size) < start + segment.header.capacity) {
    cursor = start;
  }
  mine.cursor.store(cursor, std::memory_order_seq_cst);
  return cursor;
}

void retire_producer_counters(ControlBlock& control, ProducerSlot& slot) {
  control.retired_messages.fetch_add(
      slot.published_messages.exchange(0, std::memory_order_relaxed));
  control.retired_bytes.fetch_add(slot.published_bytes.exchange(0, std::memory_order_relaxed));
  control.retired_rejected.fetch_add(slot.rejected_full.exchange(0, std::memory_order_relaxed));
  control.retired_dropped.fetch_add(slot.dropped_oldest.exchange(0, std::memory_order_relaxed));
}

}  // namespace ipcmesh::shm
