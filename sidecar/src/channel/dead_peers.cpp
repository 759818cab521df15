#include "channel/dead_peers.hpp"

#include "channel/peer_table.hpp"
#include "channel/records.hpp"

namespace ipcmesh::shm {

bool subscriber_is_dead(const Segment& segment, std::uint32_t slot) {
  return !posix::locked_by_other(segment.fd.get(), kSubscriberLockBase + slot);
}

bool producer_is_dead(const Segment& segment, std::uint32_t slot) {
  return !posix::locked_by_other(segment.fd.get(), kProducerLockBase + slot);
}

std::uint32_t reap_dead_subscribers(const Segment& segment) {
  std::uint32_t reaped = 0;
  for (std::uint32_t i = 0; i < segment.header.max_subscribers; ++i) {
    SubscriberSlot& slot = segment.subscriber(i);
    std::uint32_t active = state_value(SlotState::kActive);
    if (slot.state.load(std::memory_order_acquire) != active || !subscriber_is_dead(segment, i)) {
      continue;
    }
    if (slot.state.compare_exchange_strong(active, state_value(SlotState::kFree),
                                           std::memory_order_acq_rel)) {
      segment.control().reaped_subscribers.fetch_add(1, std::memory_order_relaxed);
      ++reaped;
    }
  }
  return reaped;
}

bool fill_dead_reservation(const Segment& segment, std::uint64_t position) {
  const ControlBlock& control = segment.control();
  if (tail_position(control.tail.load(std::memory_order_acquire)) <= position) {
    return false;  // not reserved yet
  }
  const std::uint64_t mask = segment.header.capacity - 1;
  std::uint64_t end = 0;
  std::uint32_t dead_slot = 0;
  for (std::uint32_t i = 0; i < segment.header.max_producers; ++i) {
    ProducerSlot& slot = segment.producer(i);
    const std::uint64_t start = slot.inflight_position.load(std::memory_order_acquire);
    if (start == kNoPosition) continue;
    const std::uint64_t bytes = slot.inflight_bytes.load(std::memory_order_relaxed);
    const bool starts_here = start == position;
    const bool wraps_here = start < position && position < start + bytes && (position & mask) == 0;
    if (!starts_here && !wraps_here) continue;
    if (!producer_is_dead(segment, i)) return false;  // a live producer is still writing it
    end = start + bytes;
    dead_slot = i;
  }
  if (end == 0) return false;
  fill_with_gap(segment.ring(), position, end);
  segment.producer(dead_slot).inflight_position.store(kNoPosition, std::memory_order_release);
  segment.control().gaps.fetch_add(1, std::memory_order_relaxed);
  return true;
}

namespace {
// A dead producer's claim: resolved (now a gap, or stale: the reservation never happened) so the
// slot can go, or still needed by a subscriber that may read that far back (false).
bool resolve_dead_claim(const Segment& segment, ProducerSlot& slot) {
  const std::uint64_t inflight = slot.inflight_position.load(std::memory_order_acquire);
  if (inflight == kNoPosition || fill_dead_reservation(segment, inflight)) return true;
  if (inflight < tail_position(segment.control().tail.load(std::memory_order_acquire))) {
    return false;  // keep the slot until a subscriber resolves it
  }
  slot.inflight_position.store(kNoPosition, std::memory_order_release);
  return true;
}
}  // namespace

std::uint32_t reap_dead_producers(const Segment& segment) {
  std::uint32_t reaped = 0;
  ControlBlock& control = segment.control();
  for (std::uint32_t i = 0; i < segment.header.max_producers; ++i) {
    ProducerSlot& slot = segment.producer(i);
    std::uint32_t active = state_value(SlotState::kActive);
    if (slot.state.load(std::memory_order_acquire) != active || !producer_is_dead(segment, i)) {
      continue;
    }
    if (!resolve_dead_claim(segment, slot)) continue;
    retire_producer_counters(control, slot);
    if (slot.state.compare_exchange_strong(active, state_value(SlotState::kFree),
                                           std::memory_order_acq_rel)) {
      control.reaped_producers.fetch_add(1, std::memory_order_relaxed);
      ++reaped;
    }
  }
  return reaped;
}

}  // namespace ipcmesh::shm
