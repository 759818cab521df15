// The broadcast ring's algorithms. docs/protocol.md states the rules this file implements; each
// memory-order choice below names the rule it serves.
#include "ipcmesh/shm_channel.hpp"

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <thread>
#include <type_traits>

#include "channel/futex.hpp"
#include "channel/shm_layout.hpp"
#include "channel/shm_segment.hpp"
#include "channel/spin_budget.hpp"

namespace ipcmesh {

using shm::ChannelLink;
using shm::ControlBlock;
using shm::kNoPosition;
using shm::kTailClosed;
using shm::ProducerSlot;
using shm::RecordHeader;
using shm::RecordType;
using shm::Segment;
using shm::SlotState;
using shm::SubscriberSlot;
using Clock = std::chrono::steady_clock;

namespace {

constexpr std::uint64_t kPublishEveryMessages = 64;  // rule S1
constexpr auto kStuckBeforeGapCheck = std::chrono::milliseconds(20);
constexpr auto kMaxSleepSlice = std::chrono::milliseconds(100);
constexpr auto kProducerSleepSlice = std::chrono::milliseconds(10);
constexpr int kProducerSpins = 4000;
// How often a blocked publisher checks that the name still refers to its ring (rule G4).
constexpr auto kPublisherRingCheck = std::chrono::seconds(1);
// Pauses while waiting for the relay to create the next generation (rules G2, G3).
constexpr auto kFirstFollowPause = std::chrono::milliseconds(1);
constexpr auto kMaxFollowPause = std::chrono::milliseconds(50);

constexpr std::uint32_t state_value(SlotState state) {
  return static_cast<std::uint32_t>(state);
}

Clock::time_point deadline_after(std::chrono::nanoseconds timeout) {
  if (timeout == kWaitForever) return Clock::time_point::max();
  return Clock::now() + timeout;
}

std::chrono::nanoseconds until(Clock::time_point deadline, std::chrono::nanoseconds cap) {
  if (deadline == Clock::time_point::max()) return cap;
  const auto left = deadline - Clock::now();
  return std::clamp<std::chrono::nanoseconds>(left, std::chrono::nanoseconds(0), cap);
}

struct DecodedAt {
  bool committed = false;
  Result<shm::RecordView> record = make_error(ErrorCode::kNotFound, "");
};

// Reads the record header expected at `position`. The acquire load of the commit word makes the
// payload written before the producer's release store visible (protocol rule R2).
Result<shm::RecordView> read_record(const Segment& segment, std::uint64_t position) {
  RecordHeader& record = segment.record_at(position);
  const std::uint64_t stored = record.position.load(std::memory_order_acquire);
  // An empty message: the spinning subscriber hits this on every poll, and a longer text would
  // allocate each time.
  if (stored != position) return make_error(ErrorCode::kNotFound, "");
  const std::uint32_t length_type = record.length_type.load(std::memory_order_relaxed);
  const std::uint32_t check = record.check.load(std::memory_order_relaxed);
  return shm::decode_record(position, length_type, check, stored, segment.header);
}

void write_record_header(const Segment& segment, std::uint64_t position, std::uint32_t length,
                         RecordType type,
                         std::memory_order commit_order = std::memory_order_release) {
  RecordHeader& record = segment.record_at(position);
  const std::uint32_t length_type = shm::pack_length_type(length, type);
  record.length_type.store(length_type, std::memory_order_relaxed);
  record.check.store(shm::record_check(position, length_type, segment.header.record_key),
                     std::memory_order_relaxed);
  record.position.store(position, commit_order);  // commit (rule R2)
}

// Covers [from, to) with records that readers skip: padding up to the ring's end when the range
// wraps, a gap record for the rest. Used for abandoned loans and dead producers' reservations.
void fill_with_gap(const Segment& segment, std::uint64_t from, std::uint64_t to) {
  const std::uint64_t capacity = segment.header.capacity;
  std::uint64_t position = from;
  while (position < to) {
    const std::uint64_t offset = position & (capacity - 1);
    if (read_record(segment, position)) {  // already committed (e.g. the padding before it)
      position += read_record(segment, position)->record_bytes;
      continue;
    }
    if (offset + (to - position) > capacity) {
      const std::uint64_t pad = capacity - offset;
      write_record_header(segment, position,
                          static_cast<std::uint32_t>(pad - shm::kRecordHeaderBytes),
                          RecordType::kPadding);
      position += pad;
    } else {
      write_record_header(segment, position,
                          static_cast<std::uint32_t>(to - position - shm::kRecordHeaderBytes),
                          RecordType::kGap);
      position = to;
    }
  }
}

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

bool subscriber_is_dead(const Segment& segment, std::uint32_t i) {
  return !posix::locked_by_other(segment.fd.get(), shm::kSubscriberLockBase + i);
}
bool producer_is_dead(const Segment& segment, std::uint32_t i) {
  return !posix::locked_by_other(segment.fd.get(), shm::kProducerLockBase + i);
}

// A subscriber whose process died holds no lock any more: free its slot so producers under
// Block stop waiting for it (rule L2).
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

// Subscribers stuck at an uncommitted record call this: when the reservation covering `position`
// belongs to a dead producer and to no live one, the reservation becomes a gap (rule L3).
bool fill_dead_reservation(const Segment& segment, std::uint64_t position) {
  const ControlBlock& control = segment.control();
  if (shm::tail_position(control.tail.load(std::memory_order_acquire)) <= position) {
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
  fill_with_gap(segment, position, end);
  ProducerSlot& slot = segment.producer(dead_slot);
  slot.inflight_position.store(kNoPosition, std::memory_order_release);
  segment.control().gaps.fetch_add(1, std::memory_order_relaxed);
  return true;
}

// A producer slot's counters move into the channel's totals when the slot is freed, so that
// published/rejected/dropped totals survive slot reuse.
void retire_producer_counters(ControlBlock& control, ProducerSlot& slot) {
  control.retired_messages.fetch_add(
      slot.published_messages.exchange(0, std::memory_order_relaxed));
  control.retired_bytes.fetch_add(slot.published_bytes.exchange(0, std::memory_order_relaxed));
  control.retired_rejected.fetch_add(slot.rejected_full.exchange(0, std::memory_order_relaxed));
  control.retired_dropped.fetch_add(slot.dropped_oldest.exchange(0, std::memory_order_relaxed));
}

void wake(std::atomic<std::uint32_t>& futex_word) {
  futex_word.fetch_add(1, std::memory_order_release);
  shm::futex_wake_all(futex_word);
}

// A committer found sleeping_subscribers != 0 (rule W1). Rule W1b: sleepers that coalesce asked
// for one wake-up with wake_requested, and a woken one that has not run yet (a shared core) asks
// nothing, so a fast producer does not make a FUTEX_WAKE per message. A sleeper that does not
// follow W1b (an older build) shows as more sleepers than coalescing ones and is woken on every
// commit, as W1 says. Reading coalescing_sleepers before sleeping_subscribers, against sleepers
// that increment them in the other order, can only overstate the old sleepers.
void wake_sleepers(ControlBlock& control) {
  const std::uint32_t coalescing = control.coalescing_sleepers.load(std::memory_order_seq_cst);
  const std::uint32_t sleeping = control.sleeping_subscribers.load(std::memory_order_seq_cst);
  if (sleeping > coalescing ||
      (control.wake_requested.load(std::memory_order_relaxed) != 0 &&
       control.wake_requested.exchange(0, std::memory_order_seq_cst) != 0)) {
    wake(control.data_futex);
  }
}

// Rule F1: a segment whose size is no longer its header's (a foreign program truncated it) must
// not be touched again; this process's mapping is quarantined (rule F2) so that no thread of it
// faults on it, and the caller reports kCorrupted.
Result<void> ensure_intact(const Segment& segment, std::string_view who) {
  std::uint64_t size = 0;
  if (!segment.resized(&size)) return {};
  segment.quarantine();
  return make_error(
      ErrorCode::kCorrupted,
      "channel " + segment.name + ": shm was resized to " + std::to_string(size) +
          " bytes under this " + std::string(who) + " (the ring is " +
          std::to_string(segment.header.total_bytes) +
          " bytes): another program truncated it (an app that maps the channel's name itself?); "
          "the messages in it are lost" +
          (who == "publisher" || who == "subscriber"
               ? ". The relay reports the ring as corrupted; this " + std::string(who) +
                     " moves to a new ring once one replaces it under the same name"
               : std::string()));
}

// A slot claimed in a segment, before it is handed to a Publisher or Subscriber.
struct Attachment {
  posix::UniqueFd lock_fd;  // its own description: the slot's liveness lock
  std::uint32_t slot = 0;
};

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

// Rule G4: the name refers to another valid ring while nobody closed ours (its replacement
// could not mark it). Closing it here moves every process still on it, not only this one.
void close_if_replaced(ChannelLink& link, const std::shared_ptr<Segment>& segment) {
  if (!link.follows() || segment->name_target() != shm::NameTarget::kOther) return;
  auto next = link.successor(segment);
  if (next && *next != segment) shm::close_generation(*segment);
}

// Waits for the relay to create the generation after `from` (rules G2, G3): kNotFound is retried
// until the deadline, with growing pauses; `cancel` (if any) ends the wait.
Result<std::shared_ptr<Segment>> wait_for_successor(ChannelLink& link,
                                                    const std::shared_ptr<Segment>& from,
                                                    Clock::time_point deadline,
                                                    std::chrono::nanoseconds timeout,
                                                    const std::atomic<bool>* cancel) {
  if (!link.follows()) {
    return make_error(ErrorCode::kCorrupted,
                      "channel " + from->name +
                          ": its ring was closed, and this handle is the ring's creator, which "
                          "does not follow the name to another ring");
  }
  auto pause = std::chrono::nanoseconds(kFirstFollowPause);
  for (;;) {
    auto next = link.successor(from);
    if (next || next.error().code != ErrorCode::kNotFound) return next;
    if (cancel != nullptr && cancel->load(std::memory_order_acquire)) {
      return make_error(ErrorCode::kCancelled, "channel " + from->name + ": cancelled");
    }
    if (Clock::now() >= deadline) {
      return make_error(timeout.count() == 0 ? ErrorCode::kWouldBlock : ErrorCode::kTimeout,
                        "channel " + from->name +
                            ": its ring was superseded and the next generation does not exist "
                            "yet (" +
                            next.error().message + ")");
    }
    std::this_thread::sleep_for(std::min(pause, until(deadline, pause)));
    pause = std::min<std::chrono::nanoseconds>(pause * 2, kMaxFollowPause);
  }
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// ShmChannel

ShmChannel::ShmChannel(std::shared_ptr<Segment> segment, bool follows)
    : link_(std::make_shared<ChannelLink>(std::move(segment), follows)) {}
ShmChannel::ShmChannel(ShmChannel&&) noexcept = default;
ShmChannel& ShmChannel::operator=(ShmChannel&&) noexcept = default;
ShmChannel::~ShmChannel() = default;

std::shared_ptr<Segment> ShmChannel::segment() const {
  return link_->current();
}

// A creator's handle (create, adopt) is the authority over its name and never follows it; an
// opener's handle follows the channel to its next generations.
Result<ShmChannel> ShmChannel::create(const ShmChannelOptions& options) {
  auto segment = shm::create_segment(options);
  if (!segment) return tl::unexpected(segment.error());
  return ShmChannel(std::shared_ptr<Segment>(std::move(*segment)), false);
}

Result<ShmChannel> ShmChannel::adopt(const ShmChannelOptions& options) {
  auto segment = shm::adopt_segment(options);
  if (!segment) return tl::unexpected(segment.error());
  return ShmChannel(std::shared_ptr<Segment>(std::move(*segment)), false);
}

Result<ShmChannel> ShmChannel::open(std::string_view name) {
  auto segment = shm::open_segment(name);
  if (!segment) return tl::unexpected(segment.error());
  return ShmChannel(std::shared_ptr<Segment>(std::move(*segment)), true);
}

Result<ShmChannel> ShmChannel::open_wait(std::string_view name, std::chrono::nanoseconds timeout) {
  const auto deadline = deadline_after(timeout);
  auto pause = std::chrono::milliseconds(1);
  for (;;) {
    auto channel = open(name);
    if (channel || channel.error().code != ErrorCode::kNotFound || Clock::now() >= deadline) {
      return channel;
    }
    std::this_thread::sleep_for(std::min<std::chrono::nanoseconds>(pause, until(deadline, pause)));
    pause = std::min(pause * 2, std::chrono::milliseconds(50));
  }
}

Result<void> ShmChannel::unlink(std::string_view name) {
  return posix::ShmName::unlink(std::string(name));
}

const std::string& ShmChannel::name() const {
  return link_->name();
}
std::uint64_t ShmChannel::capacity() const {
  return segment()->header.capacity;
}
std::uint32_t ShmChannel::max_message_size() const {
  return segment()->header.max_message_size;
}
SlowConsumerPolicy ShmChannel::policy() const {
  return static_cast<SlowConsumerPolicy>(segment()->header.policy);
}
void ShmChannel::release_name() {
  segment()->owned_name.release();
}

void ShmChannel::wake_all() {
  link_->wake_all();
}

Result<void> ShmChannel::supersede() {
  const auto segment = this->segment();
  if (auto intact = ensure_intact(*segment, "creator"); !intact) return intact;
  shm::close_generation(*segment);
  return {};
}

Result<void> ShmChannel::verify() const {
  return ensure_intact(*segment(), "process");
}

std::span<std::byte> ShmChannel::mapping() const {
  const auto segment = this->segment();
  return {segment->base(), segment->mapping.size()};
}

bool ShmChannel::quarantine_mapping(std::span<std::byte> mapping) noexcept {
  return shm::quarantine_mapping(mapping.data(), mapping.size());
}

std::uint32_t ShmChannel::reap_dead_peers() {
  const auto current = segment();
  const Segment& segment = *current;
  std::uint32_t reaped = reap_dead_subscribers(segment);
  for (std::uint32_t i = 0; i < segment.header.max_producers; ++i) {
    ProducerSlot& slot = segment.producer(i);
    std::uint32_t active = state_value(SlotState::kActive);
    if (slot.state.load(std::memory_order_acquire) != active || !producer_is_dead(segment, i)) {
      continue;
    }
    const std::uint64_t inflight = slot.inflight_position.load(std::memory_order_acquire);
    if (inflight != kNoPosition && !fill_dead_reservation(segment, inflight)) {
      // Its claim may be stale (the reservation never happened) or still needed: keep the slot
      // until a subscriber resolves it, unless nobody could ever read that far back.
      if (inflight >= shm::tail_position(segment.control().tail.load(std::memory_order_acquire))) {
        slot.inflight_position.store(kNoPosition, std::memory_order_release);
      } else {
        continue;
      }
    }
    ControlBlock& control = segment.control();
    retire_producer_counters(control, slot);
    if (slot.state.compare_exchange_strong(active, state_value(SlotState::kFree),
                                           std::memory_order_acq_rel)) {
      control.reaped_producers.fetch_add(1, std::memory_order_relaxed);
      ++reaped;
    }
  }
  return reaped;
}

ChannelStats ShmChannel::stats() const {
  const auto current = segment();
  const Segment& segment = *current;
  const ControlBlock& control = segment.control();
  const shm::StaticHeader& h = segment.header;
  ChannelStats stats;
  stats.name = segment.name;
  stats.layout_version = h.layout_version;
  stats.generation = h.generation;
  stats.creator_pid = h.creator_pid;
  stats.capacity_bytes = h.capacity;
  stats.max_message_size = h.max_message_size;
  stats.policy = static_cast<SlowConsumerPolicy>(h.policy);
  const std::uint64_t tail_word = control.tail.load(std::memory_order_acquire);
  const std::uint64_t tail = shm::tail_position(tail_word);
  stats.superseded = (tail_word & kTailClosed) != 0;
  stats.tail_position = tail - h.capacity;  // the log starts one capacity in
  stats.published_messages = control.retired_messages.load(std::memory_order_relaxed);
  stats.published_bytes = control.retired_bytes.load(std::memory_order_relaxed);
  stats.rejected_full = control.retired_rejected.load(std::memory_order_relaxed);
  stats.dropped_oldest = control.retired_dropped.load(std::memory_order_relaxed);
  for (std::uint32_t i = 0; i < h.max_producers; ++i) {
    const ProducerSlot& slot = segment.producer(i);
    if (slot.state.load(std::memory_order_acquire) != state_value(SlotState::kActive)) continue;
    ++stats.producers;
    stats.published_messages += slot.published_messages.load(std::memory_order_relaxed);
    stats.published_bytes += slot.published_bytes.load(std::memory_order_relaxed);
    stats.rejected_full += slot.rejected_full.load(std::memory_order_relaxed);
    stats.dropped_oldest += slot.dropped_oldest.load(std::memory_order_relaxed);
  }
  stats.gaps = control.gaps.load(std::memory_order_relaxed);
  stats.reaped_subscribers = control.reaped_subscribers.load(std::memory_order_relaxed);
  stats.reattached = control.reattached.load(std::memory_order_relaxed);
  std::uint64_t slowest = tail;
  for (std::uint32_t i = 0; i < h.max_subscribers; ++i) {
    const SubscriberSlot& slot = segment.subscriber(i);
    if (slot.state.load(std::memory_order_acquire) != state_value(SlotState::kActive)) continue;
    SubscriberStats sub;
    sub.slot = i;
    sub.pid = slot.pid;
    sub.cursor = slot.cursor.load(std::memory_order_acquire);
    sub.lag_bytes = tail > sub.cursor ? tail - sub.cursor : 0;
    sub.missed = slot.missed.load(std::memory_order_relaxed);
    sub.sleeping = slot.sleeping.load(std::memory_order_relaxed) != 0;
    sub.delivered_messages = slot.delivered_messages.load(std::memory_order_relaxed);
    sub.delivered_bytes = slot.delivered_bytes.load(std::memory_order_relaxed);
    slowest = std::min(slowest, sub.cursor);
    sub.cursor -= std::min(sub.cursor, h.capacity);
    stats.subscribers.push_back(sub);
  }
  stats.fill_ratio = static_cast<double>(tail - slowest) / static_cast<double>(h.capacity);
  return stats;
}

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
// Publisher

namespace {
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
}  // namespace

Result<Publisher> Publisher::attach(const ShmChannel& channel) {
  auto segment = channel.segment();
  auto attached = attach_slot<ProducerSlot>(*segment, segment->header.max_producers,
                                            &Segment::producer, shm::kProducerLockBase, "producer");
  if (!attached) return tl::unexpected(attached.error());
  start_producer_slot(*segment, attached->slot);
  Publisher publisher;
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
  ControlBlock& control = segment_->control();
  retire_producer_counters(control, slot);
  slot.state.store(state_value(SlotState::kFree), std::memory_order_release);
  lock_fd_.reset();  // drops the liveness lock
  segment_.reset();
}

// The lowest cursor of every active subscriber bounds how far producers may write (rule R3).
// The tail read first also bounds it, so a subscriber that registers during the scan (it reads
// the tail after publishing its slot) can never be overrun by a stale limit (rule R4).
bool Publisher::refresh_limit() {
  const Segment& segment = *segment_;
  const ControlBlock& control = segment.control();
  const std::uint64_t tail_word = control.tail.load(std::memory_order_seq_cst);
  const std::uint64_t tail = shm::tail_position(tail_word);
  std::uint64_t lowest = tail;
  for (std::uint32_t i = 0; i < segment.header.max_subscribers; ++i) {
    const SubscriberSlot& slot = segment.subscriber(i);
    if (slot.state.load(std::memory_order_seq_cst) == state_value(SlotState::kFree)) continue;
    lowest = std::min(lowest, slot.cursor.load(std::memory_order_seq_cst));
  }
  // Rule R5: a reservation that writes at or past a multiple B of the capacity is made only
  // after a scan that saw the tail at B - record_bytes(max) or later, so a subscriber that joins
  // a new generation at its start (rule G3) either is seen here or sees that tail itself. One
  // extra scan per lap of the ring.
  const std::uint64_t capacity = segment.header.capacity;
  const std::uint64_t lap_end =
      ((tail + shm::record_bytes(segment.header.max_message_size)) / capacity + 1) * capacity;
  cached_limit_ = std::min(lowest + capacity, lap_end);
  return (tail_word & kTailClosed) == 0;
}

Result<bool> Publisher::wait_for_space(std::uint64_t end, Clock::time_point deadline) {
  const Segment& segment = *segment_;
  ControlBlock& control = segment.control();
  for (int spin = 0; spin < kProducerSpins; ++spin) {
    shm::cpu_relax();
    if ((spin & 63) == 0) {
      if (!refresh_limit()) return false;
      if (end <= cached_limit_) return true;
    }
  }
  for (;;) {
    const std::uint32_t seen = control.space_futex.load(std::memory_order_acquire);
    control.blocked_producers.fetch_add(1, std::memory_order_seq_cst);
    const bool open = refresh_limit();
    if (!open || end <= cached_limit_) {
      control.blocked_producers.fetch_sub(1, std::memory_order_relaxed);
      return open;
    }
    const auto slice = until(deadline, kProducerSleepSlice);
    if (slice.count() > 0) shm::futex_wait(control.space_futex, seen, slice);
    // Rule F1: the ring may have been truncated while we slept; check before touching it again.
    if (auto intact = ensure_intact(segment, "publisher"); !intact) {
      fault_reported_ = true;
      return tl::unexpected(intact.error());
    }
    control.blocked_producers.fetch_sub(1, std::memory_order_relaxed);
    if (const auto now = Clock::now(); now - last_ring_check_ >= kPublisherRingCheck) {
      last_ring_check_ = now;
      close_if_replaced(*link_, segment_);  // rule G4
    }
    reap_dead_subscribers(segment);  // a dead subscriber must not block us (rule L2)
    if (!refresh_limit()) return false;
    if (end <= cached_limit_) return true;
    if (Clock::now() >= deadline) {
      return make_error(
          ErrorCode::kTimeout,
          "channel " + segment.name + ": ring full, slowest subscriber did not catch up in time");
    }
  }
}

// DropOldest: before overwriting, move every subscriber that still needs the bytes past them,
// counting the messages it loses (rule D1). The CAS fails if the subscriber moved itself.
void Publisher::push_slow_subscribers(std::uint64_t needed) {
  const Segment& segment = *segment_;
  ProducerSlot& mine = segment.producer(slot_);
  for (std::uint32_t i = 0; i < segment.header.max_subscribers; ++i) {
    SubscriberSlot& slot = segment.subscriber(i);
    if (slot.state.load(std::memory_order_acquire) != state_value(SlotState::kActive)) continue;
    for (int attempt = 0; attempt < 64; ++attempt) {
      std::uint64_t cursor = slot.cursor.load(std::memory_order_acquire);
      if (cursor >= needed) break;
      std::uint64_t position = cursor;
      std::uint64_t skipped = 0;
      bool walked = true;
      while (position < needed) {
        auto record = read_record(segment, position);
        if (!record) {
          walked = false;
          break;
        }
        if (record->type == RecordType::kData) ++skipped;
        position += record->record_bytes;
      }
      if (!walked) {
        // An uncommitted record: a slow producer (wait for it) or a dead one (fill its gap).
        fill_dead_reservation(segment, position);
        break;
      }
      if (slot.cursor.compare_exchange_strong(cursor, position, std::memory_order_seq_cst)) {
        slot.missed.fetch_add(skipped, std::memory_order_relaxed);
        mine.dropped_oldest.store(mine.dropped_oldest.load(std::memory_order_relaxed) + skipped,
                                  std::memory_order_relaxed);
        break;
      }
    }
  }
}

// Rule G2: this publisher's ring was closed. A resized one is reported once (kCorrupted); then,
// as for a superseded one, the publisher moves to the generation the name refers to now.
Result<void> Publisher::follow_generation(Clock::time_point deadline,
                                          std::chrono::nanoseconds timeout) {
  const std::shared_ptr<Segment> from = segment_;
  auto intact = ensure_intact(*from, "publisher");
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
  auto next = wait_for_successor(*link_, from, deadline, timeout, nullptr);
  if (!next) {
    if (!intact) return intact;
    return tl::unexpected(next.error());
  }
  auto attached = attach_slot<ProducerSlot>(**next, (*next)->header.max_producers,
                                            &Segment::producer, shm::kProducerLockBase, "producer");
  if (!attached) return tl::unexpected(attached.error());
  start_producer_slot(**next, attached->slot);
  detach();
  segment_ = std::move(*next);
  lock_fd_ = std::move(attached->lock_fd);
  slot_ = attached->slot;
  cached_limit_ = 0;
  fault_reported_ = false;
  ++reattached_;
  segment_->control().reattached.fetch_add(1, std::memory_order_relaxed);
  return {};
}

Result<Loan> Publisher::loan(std::size_t size, std::chrono::nanoseconds timeout) {
  const Segment& segment = *segment_;
  const shm::StaticHeader& h = segment.header;
  if (size > h.max_message_size) {
    return make_error(ErrorCode::kMessageTooLarge,
                      "message of " + std::to_string(size) + " bytes exceeds channel " +
                          segment.name + "'s maxMessageSize " + std::to_string(h.max_message_size));
  }
  ControlBlock& control = segment.control();
  ProducerSlot& mine = segment.producer(slot_);
  const std::uint64_t capacity = h.capacity;
  const std::uint32_t bytes = shm::record_bytes(size);
  const auto policy = static_cast<SlowConsumerPolicy>(h.policy);
  Clock::time_point deadline{};
  bool deadline_set = false;

  std::uint64_t tail = control.tail.load(std::memory_order_relaxed);
  std::uint64_t pad = 0;
  for (;;) {
    if ((tail & kTailClosed) != 0) [[unlikely]] {
      // Rule G2: the generation ended (or was quarantined): move on, then reserve there.
      if (!deadline_set) deadline = deadline_after(timeout);
      if (auto moved = follow_generation(deadline, timeout); !moved) {
        return tl::unexpected(moved.error());
      }
      const bool forever = timeout == kWaitForever;
      return loan(size, forever ? kWaitForever : until(deadline, timeout));
    }
    const std::uint64_t offset = tail & (capacity - 1);
    pad = offset + bytes > capacity ? capacity - offset : 0;
    const std::uint64_t end = tail + pad + bytes;
    if (end > cached_limit_) {
      refresh_limit();
      if (end > cached_limit_) {
        if (policy == SlowConsumerPolicy::kDropNewest) {
          mine.rejected_full.store(mine.rejected_full.load(std::memory_order_relaxed) + 1,
                                   std::memory_order_relaxed);
          return make_error(
              ErrorCode::kWouldBlock,
              "channel " + segment.name + " is full (DropNewest): message not published");
        }
        if (!deadline_set) {
          deadline = deadline_after(timeout);
          deadline_set = true;
        }
        if (policy == SlowConsumerPolicy::kDropOldest) {
          push_slow_subscribers(end - capacity);
          refresh_limit();
          if (end > cached_limit_) {
            if (Clock::now() >= deadline) {
              return make_error(ErrorCode::kTimeout, "channel " + segment.name +
                                                         ": an unfinished record blocks the ring");
            }
            std::this_thread::yield();
          }
        } else if (timeout.count() == 0) {
          return make_error(ErrorCode::kWouldBlock, "channel " + segment.name + " is full");
        } else if (auto waited = wait_for_space(end, deadline); !waited) {
          return tl::unexpected(waited.error());
        }
        tail = control.tail.load(std::memory_order_relaxed);
        continue;
      }
    }
    // The claim is published before the reservation (release by the CAS): a subscriber that sees
    // the tail past a stuck record also sees who reserved it (rule L3).
    mine.inflight_bytes.store(pad + bytes, std::memory_order_relaxed);
    mine.inflight_position.store(tail, std::memory_order_relaxed);
    if (control.tail.compare_exchange_weak(tail, end, std::memory_order_acq_rel,
                                           std::memory_order_relaxed)) {
      break;
    }
  }
  if (pad != 0) {
    write_record_header(segment, tail, static_cast<std::uint32_t>(pad - shm::kRecordHeaderBytes),
                        RecordType::kPadding);
  }
  ++open_loans_;
  Loan loan;
  loan.owner_ = this;
  loan.position_ = tail + pad;
  loan.record_bytes_ = bytes;
  loan.size_ = size;
  loan.payload_ =
      reinterpret_cast<std::byte*>(&segment.record_at(loan.position_)) + shm::kRecordHeaderBytes;
  return loan;
}

Result<void> Publisher::commit(Loan&& loan) {
  if (loan.owner_ != this) {
    return make_error(ErrorCode::kInvalidArgument, "loan does not belong to this publisher");
  }
  // seq_cst: the commit and the load of sleeping_subscribers below are a Dekker pair with a
  // subscriber going to sleep (rule W1): either it sees the commit on its re-check, or we see
  // it counted as sleeping. (On x86 this is one xchg; no fence instruction.)
  commit_record(loan, std::memory_order_seq_cst);
  wake_if_sleeping();
  return {};
}

void Publisher::commit_record(Loan& loan, std::memory_order commit_order) {
  const Segment& segment = *segment_;
  ProducerSlot& mine = segment.producer(slot_);
  write_record_header(segment, loan.position_, static_cast<std::uint32_t>(loan.size_),
                      RecordType::kData, commit_order);
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
  ControlBlock& control = segment_->control();
  if (control.sleeping_subscribers.load(std::memory_order_seq_cst) != 0) wake_sleepers(control);
}

// Rule W1 for a batch (P1): every record is committed with a seq_cst store, as commit() does, but
// sleeping_subscribers is loaded once, after the last one: each commit precedes that load in the
// single total order, so the Dekker pair with a sleeper holds for all of them. The check runs
// before any wait for space too: a subscriber asleep on a record of this batch must be woken
// before this publisher waits for it.
Result<std::size_t> Publisher::publish_batch(std::span<const std::span<const std::byte>> payloads,
                                             std::chrono::nanoseconds timeout) {
  const auto deadline = deadline_after(timeout);
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
      loan = this->loan(payload.size(), timeout == kWaitForever
                                            ? kWaitForever
                                            : until(deadline, std::chrono::nanoseconds::max()));
    }
    if (!loan) {
      announce();
      if (published == 0) return tl::unexpected(loan.error());
      return published;
    }
    if (!payload.empty()) std::memcpy(loan->data().data(), payload.data(), payload.size());
    commit_record(*loan, std::memory_order_seq_cst);
    unannounced = true;
    ++published;
  }
  announce();
  return published;
}

void Publisher::abandon(Loan& loan) noexcept {
  const Segment& segment = *segment_;
  fill_with_gap(segment, loan.position_, loan.position_ + loan.record_bytes_);
  loan.owner_ = nullptr;
  --open_loans_;
  segment.producer(slot_).inflight_position.store(kNoPosition, std::memory_order_release);
  segment.control().gaps.fetch_add(1, std::memory_order_relaxed);
  wake(segment.control().data_futex);  // rare: wake unconditionally rather than pair with W1
}

Result<void> Publisher::publish(std::span<const std::byte> payload,
                                std::chrono::nanoseconds timeout) {
  auto loan = this->loan(payload.size(), timeout);
  if (!loan) return tl::unexpected(loan.error());
  if (!payload.empty()) std::memcpy(loan->data().data(), payload.data(), payload.size());
  return commit(std::move(*loan));
}

// ---------------------------------------------------------------------------------------------
// Subscriber

namespace {
// Publishes a claimed slot and returns the cursor to read from: the tail (rule R4), or for a
// subscriber re-attaching to a new generation its start, unless that may have been overwritten
// already (rule G3, which relies on the producers' rule R5).
std::uint64_t start_subscriber_slot(const Segment& segment, std::uint32_t slot, bool at_start) {
  SubscriberSlot& mine = segment.subscriber(slot);
  const ControlBlock& control = segment.control();
  mine.pid = ::getpid();
  mine.missed.store(0, std::memory_order_relaxed);
  mine.sleeping.store(0, std::memory_order_relaxed);
  mine.delivered_messages.store(0, std::memory_order_relaxed);
  mine.delivered_bytes.store(0, std::memory_order_relaxed);
  const std::uint64_t start = segment.header.capacity;  // the log's first position
  // Rule R4: publish the slot with a cursor no later than the tail, then read the tail again
  // and start there. A producer either sees this slot or read a tail no later than ours.
  const std::uint64_t first =
      at_start ? start : shm::tail_position(control.tail.load(std::memory_order_seq_cst));
  mine.cursor.store(first, std::memory_order_seq_cst);
  mine.state.store(state_value(SlotState::kActive), std::memory_order_seq_cst);
  std::uint64_t cursor = shm::tail_position(control.tail.load(std::memory_order_seq_cst));
  // Rule G3: a producer writes at or past start + capacity (over the start) only after a scan
  // that either saw this slot or read a tail at or past that point minus one record (rule R5).
  if (at_start && cursor + shm::record_bytes(segment.header.max_message_size) <
                      start + segment.header.capacity) {
    cursor = start;
  }
  mine.cursor.store(cursor, std::memory_order_seq_cst);
  return cursor;
}
}  // namespace

Result<Subscriber> Subscriber::attach(const ShmChannel& channel, SubscriberOptions options) {
  auto segment = channel.segment();
  auto attached =
      attach_slot<SubscriberSlot>(*segment, segment->header.max_subscribers, &Segment::subscriber,
                                  shm::kSubscriberLockBase, "subscriber");
  if (!attached) return tl::unexpected(attached.error());
  Subscriber subscriber;
  subscriber.cursor_ = start_subscriber_slot(*segment, attached->slot, false);
  subscriber.published_cursor_ = subscriber.cursor_;
  subscriber.link_ = channel.link_;
  subscriber.segment_ = std::move(segment);
  subscriber.options_ = options;
  if (options.wait_mode == WaitMode::kAdaptive) {
    subscriber.spin_budget_ = std::make_unique<shm::SpinBudget>(options.spin_time);
  }
  subscriber.lock_fd_ = std::move(attached->lock_fd);
  subscriber.slot_ = attached->slot;
  subscriber.last_ring_check_ = Clock::now();
  return subscriber;
}

Subscriber::Subscriber(Subscriber&& other) noexcept
    : link_(std::move(other.link_)),
      segment_(std::move(other.segment_)),
      lock_fd_(std::move(other.lock_fd_)),
      options_(other.options_),
      slot_(other.slot_),
      cursor_(other.cursor_),
      published_cursor_(other.published_cursor_),
      unflushed_messages_(other.unflushed_messages_),
      unflushed_bytes_(other.unflushed_bytes_),
      held_next_(other.held_next_),
      missed_reported_(other.missed_reported_),
      missed_earlier_(other.missed_earlier_),
      held_size_(other.held_size_),
      stuck_since_(other.stuck_since_),
      last_spin_round_(other.last_spin_round_),
      slept_(other.slept_),
      spin_budget_(std::move(other.spin_budget_)),
      last_ring_check_(other.last_ring_check_),
      gaps_(other.gaps_),
      reattached_(other.reattached_),
      fault_reported_(other.fault_reported_) {}

Subscriber& Subscriber::operator=(Subscriber&& other) noexcept {
  if (this != &other) {
    this->~Subscriber();
    new (this) Subscriber(std::move(other));
  }
  return *this;
}

Subscriber::~Subscriber() {
  detach();
}

void Subscriber::detach() noexcept {
  if (!segment_ || !lock_fd_) return;
  // Never fault on a ring truncated under us: quarantine it first (rule F2).
  if (segment_->resized()) segment_->quarantine();
  SubscriberSlot& mine = segment_->subscriber(slot_);
  mine.state.store(state_value(SlotState::kFree), std::memory_order_seq_cst);
  lock_fd_.reset();  // drops the liveness lock
  // Producers blocked on this subscriber can go on now.
  ControlBlock& control = segment_->control();
  if (control.blocked_producers.load(std::memory_order_seq_cst) != 0) wake(control.space_futex);
  segment_.reset();
}

std::uint64_t Subscriber::missed() const {
  return missed_earlier_ + segment_->subscriber(slot_).missed.load(std::memory_order_relaxed);
}
std::uint64_t Subscriber::gaps() const {
  return gaps_;
}

// Rule S1: under Block and DropNewest the shared cursor (and the delivered counters) are
// published once per batch, not per message: when this subscriber has caught up (the next record
// is not committed yet), every 64 messages, when the unpublished bytes reach a sixteenth of the
// ring, and always before it waits for data (publish_cursor in receive). A stale cursor only makes
// producers more careful (rule R3). DropOldest publishes every release: its CAS is how a subscriber
// learns that a producer pushed it (rule D1).
Result<void> Subscriber::advance_to(std::uint64_t next) {
  const Segment& segment = *segment_;
  if (segment.header.policy == static_cast<std::uint32_t>(SlowConsumerPolicy::kDropOldest)) {
    SubscriberSlot& mine = segment.subscriber(slot_);
    std::uint64_t expected = cursor_;
    Result<void> outcome;
    if (mine.cursor.compare_exchange_strong(expected, next, std::memory_order_seq_cst)) {
      cursor_ = next;
    } else {
      cursor_ = expected;  // a producer pushed us past records it overwrote (rule D1)
      outcome = make_error(
          ErrorCode::kOverrun,
          "channel " + segment.name + ": the message was overwritten while held (DropOldest)");
    }
    flush_delivered();
    wake_blocked_producers();
    return outcome;
  }
  cursor_ = next;
  const bool caught_up =
      segment.record_at(cursor_).position.load(std::memory_order_relaxed) != cursor_;
  if (caught_up || unflushed_messages_ >= kPublishEveryMessages ||
      cursor_ - published_cursor_ >= segment.header.capacity / 16) {
    publish_cursor();
  }
  return {};
}

void Subscriber::publish_cursor() {
  if (published_cursor_ == cursor_) return;
  SubscriberSlot& mine = segment_->subscriber(slot_);
  published_cursor_ = cursor_;
  // seq_cst store + seq_cst load: a Dekker pair with a producer going to sleep on a full ring
  // (rule W2). Once per batch, so its cost does not matter.
  mine.cursor.store(cursor_, std::memory_order_seq_cst);
  flush_delivered();
  wake_blocked_producers();
}

// The delivered counters are this subscriber's own words; written once per batch, they keep the
// slot's cache line out of the producers' way.
void Subscriber::flush_delivered() {
  if (unflushed_messages_ == 0) return;
  SubscriberSlot& mine = segment_->subscriber(slot_);
  mine.delivered_messages.store(
      mine.delivered_messages.load(std::memory_order_relaxed) + unflushed_messages_,
      std::memory_order_relaxed);
  mine.delivered_bytes.store(
      mine.delivered_bytes.load(std::memory_order_relaxed) + unflushed_bytes_,
      std::memory_order_relaxed);
  unflushed_messages_ = 0;
  unflushed_bytes_ = 0;
}

void Subscriber::wake_blocked_producers() {
  ControlBlock& control = segment_->control();
  if (control.blocked_producers.load(std::memory_order_seq_cst) != 0) wake(control.space_futex);
}

Result<void> Subscriber::release() {
  if (held_next_ == 0) return {};
  ++unflushed_messages_;
  unflushed_bytes_ += held_size_;
  const std::uint64_t next = std::exchange(held_next_, 0);
  return advance_to(next);
}

// Rules F1 and G4, at most once per ring_check_interval and only on the way to sleep.
Result<void> Subscriber::check_ring(Clock::time_point now) {
  if (now - last_ring_check_ < options_.ring_check_interval) return {};
  last_ring_check_ = now;
  if (auto intact = ensure_intact(*segment_, "subscriber"); !intact) {
    fault_reported_ = true;
    return intact;
  }
  close_if_replaced(*link_, segment_);
  return {};
}

Result<bool> Subscriber::leave_closed_generation(std::uint64_t tail, Clock::time_point deadline) {
  const std::shared_ptr<Segment> from = segment_;
  auto intact = ensure_intact(*from, "subscriber");
  Result<std::shared_ptr<Segment>> next = make_error(ErrorCode::kNotFound, "");
  if (!intact) {
    // A truncated ring holds nothing to drain. Report it once; then move only if a new ring has
    // replaced it by now, never wait for one.
    if (!fault_reported_) {
      fault_reported_ = true;
      return tl::unexpected(intact.error());
    }
    next = wait_for_successor(*link_, from, Clock::now(), std::chrono::nanoseconds(0), nullptr);
    if (!next) return tl::unexpected(intact.error());
  } else {
    // Every reservation is below the closed tail: read up to it first (rule G3).
    if (shm::tail_position(tail) != cursor_) return false;
    const bool forever = deadline == Clock::time_point::max();
    next =
        wait_for_successor(*link_, from, deadline,
                           forever ? kWaitForever : std::chrono::nanoseconds(1), options_.cancel);
    if (!next) {
      const ErrorCode code = next.error().code;
      // Out of time or cancelled: the caller's deadline and cancel checks say so.
      if (code == ErrorCode::kTimeout || code == ErrorCode::kWouldBlock ||
          code == ErrorCode::kCancelled) {
        return false;
      }
      return tl::unexpected(next.error());
    }
  }
  auto attached =
      attach_slot<SubscriberSlot>(**next, (*next)->header.max_subscribers, &Segment::subscriber,
                                  shm::kSubscriberLockBase, "subscriber");
  if (!attached) return tl::unexpected(attached.error());
  const std::uint64_t cursor = start_subscriber_slot(**next, attached->slot, true);
  missed_earlier_ += intact ? from->subscriber(slot_).missed.load(std::memory_order_relaxed) : 0;
  detach();
  segment_ = std::move(*next);
  lock_fd_ = std::move(attached->lock_fd);
  slot_ = attached->slot;
  cursor_ = cursor;
  published_cursor_ = cursor;
  unflushed_messages_ = 0;
  unflushed_bytes_ = 0;
  held_next_ = 0;
  missed_reported_ = 0;
  stuck_since_ = {};
  fault_reported_ = false;
  ++reattached_;
  segment_->control().reattached.fetch_add(1, std::memory_order_relaxed);
  return true;
}

Result<bool> Subscriber::wait_for_data(Clock::time_point deadline, bool has_deadline) {
  const Segment& segment = *segment_;
  ControlBlock& control = segment.control();
  SubscriberSlot& mine = segment.subscriber(slot_);
  const auto now = Clock::now();
  if (stuck_since_ == Clock::time_point{}) {
    stuck_since_ = now;
    last_spin_round_ = now;
    slept_ = false;
  }
  const auto stuck_for = now - stuck_since_;
  bool spinning = false;
  switch (options_.wait_mode) {
    case WaitMode::kBusyPoll:
      spinning = true;
      break;
    case WaitMode::kSpinThenSleep:
      spinning = stuck_for < options_.spin_time;
      break;
    case WaitMode::kAdaptive:  // rule W3
      spinning =
          stuck_for < spin_budget_->limit() && spin_budget_->keep_spinning(now - last_spin_round_);
      break;
  }
  last_spin_round_ = now;
  const bool out_of_time = has_deadline && now >= deadline;
  // On the way to sleep and on the way out (a caller that only polls with timeout 0 notices
  // too), but not on every spin round: a subscriber spinning at an empty ring leaves the
  // producers' tail line alone, and a closed generation needs no hurry.
  if (!spinning || out_of_time || stuck_for >= kStuckBeforeGapCheck) {
    const std::uint64_t tail = control.tail.load(std::memory_order_acquire);
    if ((tail & kTailClosed) != 0) [[unlikely]] {
      auto left = leave_closed_generation(tail, deadline);
      if (!left) return tl::unexpected(left.error());
      if (*left) return true;  // on the next generation now
    }
  }
  if (out_of_time) return false;
  if (stuck_for >= kStuckBeforeGapCheck) {
    // Long enough that a live producer would have committed: maybe it died mid-write.
    if (fill_dead_reservation(segment, cursor_)) return true;
  }
  if (spinning) {
    for (int i = 0; i < 64; ++i) {
      shm::cpu_relax();
      if (segment.record_at(cursor_).position.load(std::memory_order_acquire) == cursor_) break;
    }
    return true;
  }
  slept_ = true;
  if (auto checked = check_ring(now); !checked) return tl::unexpected(checked.error());
  // Rule W1: announce the sleep, re-check, then sleep on the value seen before announcing.
  const std::uint32_t seen = control.data_futex.load(std::memory_order_acquire);
  mine.sleeping.store(1, std::memory_order_relaxed);
  control.sleeping_subscribers.fetch_add(1, std::memory_order_seq_cst);
  control.coalescing_sleepers.fetch_add(1, std::memory_order_seq_cst);  // rule W1b
  control.wake_requested.store(1, std::memory_order_seq_cst);
  // Checked after loading `seen`: a canceller sets the flag before wake_all() bumps the word,
  // and a closer closes the tail before it does (rule G1).
  const std::uint64_t tail = control.tail.load(std::memory_order_seq_cst);
  const bool ready =
      segment.record_at(cursor_).position.load(std::memory_order_seq_cst) == cursor_ ||
      mine.cursor.load(std::memory_order_acquire) != cursor_ || (tail & kTailClosed) != 0 ||
      (options_.cancel != nullptr && options_.cancel->load(std::memory_order_acquire));
  if (!ready) {
    // While nothing is reserved at our cursor only a commit (which wakes us) can change that:
    // sleep until then, waking up each ring_check_interval to check the ring (rules F1, G4). A
    // reservation that is not committed may be a dead producer's (rule L3), so then wake up
    // more often.
    const bool reserved = shm::tail_position(tail) > cursor_;
    const auto cap =
        reserved ? std::chrono::nanoseconds(kMaxSleepSlice) : options_.ring_check_interval;
    const auto slice = has_deadline ? until(deadline, cap) : cap;
    if (slice.count() > 0) shm::futex_wait(control.data_futex, seen, slice);
    // Rule F1: the ring may have been truncated while we slept; check before touching it again.
    if (auto intact = ensure_intact(segment, "subscriber"); !intact) {
      fault_reported_ = true;
      return tl::unexpected(intact.error());
    }
  }
  control.coalescing_sleepers.fetch_sub(1, std::memory_order_seq_cst);
  control.sleeping_subscribers.fetch_sub(1, std::memory_order_seq_cst);
  mine.sleeping.store(0, std::memory_order_relaxed);
  return true;
}

Result<MessageView> Subscriber::receive(std::chrono::nanoseconds timeout) {
  if (held_next_ != 0) (void)release();
  const bool has_deadline = timeout != kWaitForever;
  const auto deadline = has_deadline ? deadline_after(timeout) : Clock::time_point::max();
  stuck_since_ = {};
  for (;;) {
    // Bound on every round: moving to a new generation replaces the segment.
    const Segment& segment = *segment_;
    SubscriberSlot& mine = segment.subscriber(slot_);
    const bool drop_oldest =
        segment.header.policy == static_cast<std::uint32_t>(SlowConsumerPolicy::kDropOldest);
    auto record = read_record(segment, cursor_);
    if (record) {
      if (spin_budget_ && stuck_since_ != Clock::time_point{}) spin_budget_->on_wait_ended(slept_);
      stuck_since_ = {};
      if (record->type == RecordType::kData) {
        held_next_ = cursor_ + record->record_bytes;
        held_size_ = record->length;
        const std::uint64_t missed = mine.missed.load(std::memory_order_relaxed);
        MessageView view;
        view.data = std::span<const std::byte>(
            reinterpret_cast<const std::byte*>(&segment.record_at(cursor_)) +
                shm::kRecordHeaderBytes,
            record->length);
        view.position = cursor_ - segment.header.capacity;
        view.missed_before = missed - std::exchange(missed_reported_, missed);
        return view;
      }
      if (record->type == RecordType::kGap) ++gaps_;
      (void)advance_to(cursor_ + record->record_bytes);  // padding and gaps carry nothing
      continue;
    }
    if (record.error().code == ErrorCode::kCorrupted && !drop_oldest) {
      Error error = record.error();
      error.message = "channel " + segment.name + ": corrupted record at position " +
                      std::to_string(cursor_ - segment.header.capacity) + ": " + error.message;
      return tl::unexpected(error);
    }
    if (drop_oldest) {
      const std::uint64_t shared = mine.cursor.load(std::memory_order_acquire);
      if (shared != cursor_) {  // pushed past overwritten records
        cursor_ = shared;
        continue;
      }
    }
    if (options_.cancel != nullptr && options_.cancel->load(std::memory_order_acquire)) {
      return make_error(ErrorCode::kCancelled, "channel " + segment.name + ": receive cancelled");
    }
    publish_cursor();  // rule S1: a waiting subscriber never holds producers back
    auto waited = wait_for_data(deadline, has_deadline);
    if (!waited) return tl::unexpected(waited.error());
    if (!*waited) {
      if (timeout.count() == 0) {
        return make_error(ErrorCode::kWouldBlock, "channel " + segment_->name + ": no message");
      }
      return make_error(ErrorCode::kTimeout, "channel " + segment_->name + ": no message in time");
    }
  }
}

Result<std::size_t> Subscriber::receive_copy(std::span<std::byte> out,
                                             std::chrono::nanoseconds timeout) {
  for (;;) {
    auto view = receive(timeout);
    if (!view) return tl::unexpected(view.error());
    const std::size_t size = view->data.size();
    if (size > out.size()) {
      held_next_ = 0;  // leave it unread: the caller may retry with a larger buffer
      return make_error(ErrorCode::kMessageTooLarge, "message of " + std::to_string(size) +
                                                         " bytes does not fit a buffer of " +
                                                         std::to_string(out.size()));
    }
    std::memcpy(out.data(), view->data.data(), size);
    // The policy of the generation the message came from (a move may change it).
    const bool drop_oldest =
        segment_->header.policy == static_cast<std::uint32_t>(SlowConsumerPolicy::kDropOldest);
    if (!drop_oldest) {
      (void)release();
      return size;
    }
    // Seqlock-style validation (rule D2): a producer moves our cursor (CAS) before it
    // overwrites, and our release CAS orders the copy before it; if it fails, the copy is void.
    if (release()) return size;
    // Overwritten while copying: discard the copy; the loss is counted in missed().
  }
}

}  // namespace ipcmesh
