// Publishing (docs/protocol.md, section 2): a Loan is a reservation written in place and then
// committed. The reservation itself is try_reserve (channel/reservation.hpp); this file is the
// policy around it (wait, drop, push slow subscribers, move to the next generation) and the
// commit with its wake-up check.
#include <cstring>
#include <thread>

#include "channel/dead_peers.hpp"
#include "channel/deadline.hpp"
#include "channel/drop_oldest.hpp"
#include "channel/generation.hpp"
#include "channel/peer_table.hpp"
#include "channel/records.hpp"
#include "channel/reservation.hpp"
#include "channel/shm_segment.hpp"
#include "channel/sleeper_barrier.hpp"
#include "channel/wakeups.hpp"
#include "ipcmesh/shm_channel.hpp"

namespace ipcmesh {

using shm::Clock;
using shm::ControlBlock;
using shm::kNoPosition;
using shm::ProducerSlot;
using shm::RecordType;
using shm::Segment;
using shm::SlotState;

namespace {
constexpr auto kProducerSleepSlice = std::chrono::milliseconds(10);
constexpr int kProducerSpins = 4000;
// How often a blocked publisher checks that the name still refers to its ring (rule G4).
constexpr auto kPublisherRingCheck = std::chrono::seconds(1);
// Rule W1c: loans between two scans of the subscriber table at least, so that a subscriber of an
// older build that joins a quiet channel (a lap may take hours) gets fenced commits soon.
constexpr std::uint32_t kLoansPerScan = 4096;
}  // namespace

// ---------------------------------------------------------------------------------------------
// Loan

Loan::Loan(Loan&& other) noexcept
    : owner_(std::exchange(other.owner_, nullptr)),
      payload_(other.payload_),
      size_(other.size_),
      position_(other.position_),
      record_bytes_(other.record_bytes_) {}

Loan& Loan::operator=(Loan&& other) noexcept {
  if (this != &other) {
    if (owner_ != nullptr) owner_->abandon(*this);
    owner_ = std::exchange(other.owner_, nullptr);
    payload_ = other.payload_;
    size_ = other.size_;
    position_ = other.position_;
    record_bytes_ = other.record_bytes_;
  }
  return *this;
}

Loan::~Loan() {
  if (owner_ != nullptr) owner_->abandon(*this);
}

// ---------------------------------------------------------------------------------------------
// Publisher: attaching and leaving

Result<Publisher> Publisher::attach(const ShmChannel& channel) {
  auto segment = channel.segment();
  auto attached = shm::attach_producer(*segment);
  if (!attached) return tl::unexpected(attached.error());
  shm::start_producer_slot(*segment, attached->slot);
  Publisher publisher;
  publisher.covered_by_sleeper_barriers_ = shm::register_for_sleeper_barriers();
  publisher.link_ = channel.link_;
  publisher.segment_ = std::move(segment);
  publisher.lock_fd_ = std::move(attached->lock_fd);
  publisher.slot_ = attached->slot;
  return publisher;
}

Publisher::Publisher(Publisher&& other) noexcept
    : link_(std::move(other.link_)),
      segment_(std::move(other.segment_)),
      lock_fd_(std::move(other.lock_fd_)),
      slot_(other.slot_),
      open_loans_(other.open_loans_),
      cached_limit_(other.cached_limit_),
      loans_until_scan_(other.loans_until_scan_),
      covered_by_sleeper_barriers_(other.covered_by_sleeper_barriers_),
      reattached_(other.reattached_),
      fault_reported_(other.fault_reported_),
      last_ring_check_(other.last_ring_check_) {}

Publisher& Publisher::operator=(Publisher&& other) noexcept {
  if (this != &other) {
    this->~Publisher();
    new (this) Publisher(std::move(other));
  }
  return *this;
}

Publisher::~Publisher() {
  detach();
}

void Publisher::detach() noexcept {
  if (!segment_ || !lock_fd_) return;
  // Never fault on a ring truncated under us: quarantine it first (rule F2).
  if (segment_->resized()) segment_->quarantine();
  ProducerSlot& slot = segment_->producer(slot_);
  shm::retire_producer_counters(segment_->control(), slot);
  slot.state.store(shm::state_value(SlotState::kFree), std::memory_order_release);
  lock_fd_.reset();  // drops the liveness lock
  segment_.reset();
}

// Rule G2: this publisher's ring was closed. A resized one is reported once (kCorrupted); then,
// as for a superseded one, the publisher moves to the generation the name refers to now.
Result<void> Publisher::follow_generation(Clock::time_point deadline,
                                          std::chrono::nanoseconds timeout) {
  const std::shared_ptr<Segment> from = segment_;
  auto intact = shm::ensure_intact(*from, "publisher");
  if (!intact) {
    if (!fault_reported_) {
      fault_reported_ = true;
      return intact;
    }
    // Reported already: move only if a new ring has replaced it by now, never wait for one.
    deadline = Clock::now();
    timeout = std::chrono::nanoseconds(0);
  }
  if (open_loans_ != 0) {
    return make_error(ErrorCode::kInvalidArgument,
                      "channel " + from->name +
                          ": the ring moved to a new generation; commit or drop the loans this "
                          "publisher holds before it can follow");
  }
  auto next = shm::wait_for_successor(*link_, from, deadline, timeout, nullptr);
  if (!next) {
    if (!intact) return intact;
    return tl::unexpected(next.error());
  }
  auto attached = shm::attach_producer(**next);
  if (!attached) return tl::unexpected(attached.error());
  shm::start_producer_slot(**next, attached->slot);
  detach();
  segment_ = std::move(*next);
  lock_fd_ = std::move(attached->lock_fd);
  slot_ = attached->slot;
  cached_limit_ = {};
  fault_reported_ = false;
  ++reattached_;
  segment_->control().reattached.fetch_add(1, std::memory_order_relaxed);
  return {};
}

// ---------------------------------------------------------------------------------------------
// Publisher: reserving (the policy around try_reserve)

bool Publisher::refresh_limit() {
  cached_limit_ = shm::scan_write_limit(*segment_);
  return cached_limit_.open;
}

// Block, after the spin: rule W2 (announce on blocked_producers, rescan, sleep on space_futex),
// in slices, reaping dead subscribers after each (rule L2).
Result<bool> Publisher::wait_for_space(std::uint64_t end, Clock::time_point deadline) {
  const Segment& segment = *segment_;
  ControlBlock& control = segment.control();
  for (int spin = 0; spin < kProducerSpins; ++spin) {
    shm::cpu_relax();
    if ((spin & 63) == 0) {
      if (!refresh_limit()) return false;
      if (end <= cached_limit_.limit) return true;
    }
  }
  for (;;) {
    const std::uint32_t seen = control.space_futex.load(std::memory_order_acquire);
    control.blocked_producers.fetch_add(1, std::memory_order_seq_cst);
    const bool open = refresh_limit();
    if (!open || end <= cached_limit_.limit) {
      control.blocked_producers.fetch_sub(1, std::memory_order_relaxed);
      return open;
    }
    const auto slice = shm::until(deadline, kProducerSleepSlice);
    if (slice.count() > 0) shm::futex_wait(control.space_futex, seen, slice);
    // Rule F1: the ring may have been truncated while we slept; check before touching it again.
    if (auto intact = shm::ensure_intact(segment, "publisher"); !intact) {
      fault_reported_ = true;
      return tl::unexpected(intact.error());
    }
    control.blocked_producers.fetch_sub(1, std::memory_order_relaxed);
    if (const auto now = Clock::now(); now - last_ring_check_ >= kPublisherRingCheck) {
      last_ring_check_ = now;
      shm::close_if_replaced(*link_, segment_);  // rule G4
    }
    shm::reap_dead_subscribers(segment);  // a dead subscriber must not block us (rule L2)
    if (!refresh_limit()) return false;
    if (end <= cached_limit_.limit) return true;
    if (Clock::now() >= deadline) {
      return make_error(
          ErrorCode::kTimeout,
          "channel " + segment.name + ": ring full, slowest subscriber did not catch up in time");
    }
  }
}

void Publisher::push_slow_subscribers(std::uint64_t needed) {
  ProducerSlot& mine = segment_->producer(slot_);
  const std::uint64_t dropped = shm::push_slow_subscribers(*segment_, needed);
  // Single writer of its own slot: plain load+store, no locked instruction.
  mine.dropped_oldest.store(mine.dropped_oldest.load(std::memory_order_relaxed) + dropped,
                            std::memory_order_relaxed);
}

// The ring is full up to `end` (rule R3): the channel's policy decides. Success means "try the
// reservation again" (perhaps the generation closed meanwhile: try_reserve says so).
Result<void> Publisher::make_room(std::uint64_t end, shm::LazyDeadline& deadline) {
  const Segment& segment = *segment_;
  switch (static_cast<SlowConsumerPolicy>(segment.header.policy)) {
    case SlowConsumerPolicy::kDropNewest: {
      ProducerSlot& mine = segment.producer(slot_);
      mine.rejected_full.store(mine.rejected_full.load(std::memory_order_relaxed) + 1,
                               std::memory_order_relaxed);
      return make_error(ErrorCode::kWouldBlock,
                        "channel " + segment.name + " is full (DropNewest): message not published");
    }
    case SlowConsumerPolicy::kDropOldest: {
      const auto at = deadline.get();
      push_slow_subscribers(end - segment.header.capacity);
      refresh_limit();
      if (end <= cached_limit_.limit) return {};
      if (Clock::now() >= at) {
        return make_error(ErrorCode::kTimeout,
                          "channel " + segment.name + ": an unfinished record blocks the ring");
      }
      std::this_thread::yield();
      return {};
    }
    case SlowConsumerPolicy::kBlock:
      break;
  }
  const auto at = deadline.get();
  if (deadline.timeout().count() == 0) {
    return make_error(ErrorCode::kWouldBlock, "channel " + segment.name + " is full");
  }
  if (auto waited = wait_for_space(end, at); !waited) return tl::unexpected(waited.error());
  return {};
}

// On the data path of every loan: kept inline, as it was before the split (bench figures).
[[gnu::always_inline]] inline Loan Publisher::hand_out(std::uint64_t position, std::size_t size) {
  ++open_loans_;
  Loan loan;
  loan.owner_ = this;
  loan.position_ = position;
  loan.record_bytes_ = shm::record_bytes(size);
  loan.size_ = size;
  loan.payload_ = segment_->ring().payload(position);
  return loan;
}

Result<Loan> Publisher::loan(std::size_t size, std::chrono::nanoseconds timeout) {
  const Segment& segment = *segment_;
  if (size > segment.header.max_message_size) {
    return make_error(ErrorCode::kMessageTooLarge,
                      "message of " + std::to_string(size) + " bytes exceeds channel " +
                          segment.name + "'s maxMessageSize " +
                          std::to_string(segment.header.max_message_size));
  }
  ProducerSlot& mine = segment.producer(slot_);
  const std::uint32_t bytes = shm::record_bytes(size);
  shm::LazyDeadline deadline(timeout);
  if (--loans_until_scan_ == 0) [[unlikely]] {
    loans_until_scan_ = kLoansPerScan;
    cached_limit_.limit = 0;  // the next reservation rescans (rule W1c)
  }
  for (;;) {
    const shm::Reservation reserved = shm::try_reserve(segment, mine, bytes, cached_limit_);
    if (reserved.outcome == shm::ReserveOutcome::kReserved) [[likely]] {
      return hand_out(reserved.position, size);
    }
    if (reserved.outcome == shm::ReserveOutcome::kClosed) {
      // Rule G2: the generation ended (or was quarantined): move on, then reserve there.
      const auto at = deadline.get();
      if (auto moved = follow_generation(at, timeout); !moved) return tl::unexpected(moved.error());
      return loan(size, timeout == kWaitForever ? kWaitForever : shm::until(at, timeout));
    }
    if (auto room = make_room(reserved.end, deadline); !room) return tl::unexpected(room.error());
  }
}

// ---------------------------------------------------------------------------------------------
// Publisher: committing

Result<void> Publisher::commit(Loan&& loan) {
  if (loan.owner_ != this) {
    return make_error(ErrorCode::kInvalidArgument, "loan does not belong to this publisher");
  }
  commit_record(loan);
  wake_if_sleeping();
  return {};
}

// The commit and the load of sleeping_subscribers after it are a Dekker pair with a subscriber
// going to sleep: either its re-check sees the commit, or we see it counted as sleeping. Rule
// W1c: while every subscriber issues the sleeper barrier and this process is covered by it, a
// release store is enough (the sleeper's barrier is the pair's fence); otherwise rule W1: a
// seq_cst store (one locked instruction on x86, which waits for the record's cache line that the
// subscriber is polling: the producer's largest cost per message). Two stores with constant
// orders: a run-time order would compile to seq_cst.
void Publisher::commit_record(Loan& loan) {
  const Segment& segment = *segment_;
  ProducerSlot& mine = segment.producer(slot_);
  const auto length = static_cast<std::uint32_t>(loan.size_);
  if (commits_without_fence()) [[likely]] {
    shm::write_record_header(segment.ring(), loan.position_, length, RecordType::kData,
                             std::memory_order_release);
    // The sleeper's barrier orders the hardware; the compiler must not move the load of
    // sleeping_subscribers that follows above the commit either (a release store allows it).
    std::atomic_signal_fence(std::memory_order_seq_cst);
  } else {
    shm::write_record_header(segment.ring(), loan.position_, length, RecordType::kData,
                             std::memory_order_seq_cst);
  }
  loan.owner_ = nullptr;
  --open_loans_;
  // Single writer of its own slot: plain load+store, no locked instruction.
  mine.published_messages.store(mine.published_messages.load(std::memory_order_relaxed) + 1,
                                std::memory_order_relaxed);
  mine.published_bytes.store(mine.published_bytes.load(std::memory_order_relaxed) + loan.size_,
                             std::memory_order_relaxed);
  mine.inflight_position.store(kNoPosition, std::memory_order_release);
}

void Publisher::wake_if_sleeping() {
  shm::wake_after_commit(segment_->control());
}

// Rule W1 for a batch (P1): every record is committed as commit() does, but sleeping_subscribers
// is loaded once, after the last one: each commit precedes that load (in the single total order
// of seq_cst commits, or by the sleeper's barrier under W1c), so the Dekker pair with a sleeper
// holds for all of them. The check runs
// before any wait for space too: a subscriber asleep on a record of this batch must be woken
// before this publisher waits for it.
Result<std::size_t> Publisher::publish_batch(std::span<const std::span<const std::byte>> payloads,
                                             std::chrono::nanoseconds timeout) {
  const auto deadline = shm::deadline_after(timeout);
  const auto policy = static_cast<SlowConsumerPolicy>(segment_->header.policy);
  std::size_t published = 0;
  bool unannounced = false;
  const auto announce = [&] {
    if (!unannounced) return;
    wake_if_sleeping();
    unannounced = false;
  };
  for (const auto payload : payloads) {
    auto loan = this->loan(payload.size(), std::chrono::nanoseconds(0));
    // DropNewest refuses at once whatever the timeout: a second try would count the refusal twice.
    if (!loan &&
        (loan.error().code == ErrorCode::kWouldBlock || loan.error().code == ErrorCode::kTimeout) &&
        timeout.count() != 0 && policy != SlowConsumerPolicy::kDropNewest) {
      announce();
      loan =
          this->loan(payload.size(), timeout == kWaitForever
                                         ? kWaitForever
                                         : shm::until(deadline, std::chrono::nanoseconds::max()));
    }
    if (!loan) {
      announce();
      if (published == 0) return tl::unexpected(loan.error());
      return published;
    }
    if (!payload.empty()) std::memcpy(loan->data().data(), payload.data(), payload.size());
    commit_record(*loan);
    unannounced = true;
    ++published;
  }
  announce();
  return published;
}

// A loan destroyed without a commit becomes a gap, so that subscribers are never wedged (L3).
void Publisher::abandon(Loan& loan) noexcept {
  const Segment& segment = *segment_;
  shm::fill_with_gap(segment.ring(), loan.position_, loan.position_ + loan.record_bytes_);
  loan.owner_ = nullptr;
  --open_loans_;
  segment.producer(slot_).inflight_position.store(kNoPosition, std::memory_order_release);
  segment.control().gaps.fetch_add(1, std::memory_order_relaxed);
  shm::wake(segment.control().data_futex);  // rare: wake unconditionally rather than pair with W1
}

Result<void> Publisher::publish(std::span<const std::byte> payload,
                                std::chrono::nanoseconds timeout) {
  auto loan = this->loan(payload.size(), timeout);
  if (!loan) return tl::unexpected(loan.error());
  if (!payload.empty()) std::memcpy(loan->data().data(), payload.data(), payload.size());
  return commit(std::move(*loan));
}

}  // namespace ipcmesh
