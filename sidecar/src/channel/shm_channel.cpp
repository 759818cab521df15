// The broadcast ring's algorithms. docs/protocol.md states the rules this file implements; each
// memory-order choice below names the rule it serves.
#include "ipcmesh/shm_channel.hpp"

#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <thread>

#include "channel/futex.hpp"
#include "channel/shm_layout.hpp"
#include "channel/shm_segment.hpp"

namespace ipcmesh {

using shm::ControlBlock;
using shm::kNoPosition;
using shm::ProducerSlot;
using shm::RecordHeader;
using shm::RecordType;
using shm::Segment;
using shm::SlotState;
using shm::SubscriberSlot;
using Clock = std::chrono::steady_clock;

namespace {

constexpr auto kStuckBeforeGapCheck = std::chrono::milliseconds(20);
constexpr auto kMaxSleepSlice = std::chrono::milliseconds(100);
constexpr auto kProducerSleepSlice = std::chrono::milliseconds(10);
constexpr int kProducerSpins = 4000;

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
  if (stored != position) return make_error(ErrorCode::kNotFound, "record not committed");
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
    if (!shm::lock_byte(lock_fd, lock_base + i)) {
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
  return !shm::locked_by_other(segment.fd, shm::kSubscriberLockBase + i);
}
bool producer_is_dead(const Segment& segment, std::uint32_t i) {
  return !shm::locked_by_other(segment.fd, shm::kProducerLockBase + i);
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
  if (control.tail.load(std::memory_order_acquire) <= position) return false;  // not reserved yet
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

}  // namespace

// ---------------------------------------------------------------------------------------------
// ShmChannel

ShmChannel::ShmChannel(std::shared_ptr<Segment> segment) : segment_(std::move(segment)) {}
ShmChannel::ShmChannel(ShmChannel&&) noexcept = default;
ShmChannel& ShmChannel::operator=(ShmChannel&&) noexcept = default;
ShmChannel::~ShmChannel() = default;

Result<ShmChannel> ShmChannel::create(const ShmChannelOptions& options) {
  auto segment = shm::create_segment(options);
  if (!segment) return tl::unexpected(segment.error());
  return ShmChannel(std::shared_ptr<Segment>(std::move(*segment)));
}

Result<ShmChannel> ShmChannel::adopt(const ShmChannelOptions& options) {
  auto segment = shm::adopt_segment(options);
  if (!segment) return tl::unexpected(segment.error());
  return ShmChannel(std::shared_ptr<Segment>(std::move(*segment)));
}

Result<ShmChannel> ShmChannel::open(std::string_view name) {
  auto segment = shm::open_segment(name);
  if (!segment) return tl::unexpected(segment.error());
  return ShmChannel(std::shared_ptr<Segment>(std::move(*segment)));
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
  const std::string text(name);
  if (::shm_unlink(text.c_str()) != 0) {
    if (errno == ENOENT) return make_error(ErrorCode::kNotFound, "shm " + text + " does not exist");
    return tl::unexpected(system_error("shm_unlink", text, errno));
  }
  return {};
}

const std::string& ShmChannel::name() const {
  return segment_->name;
}
std::uint64_t ShmChannel::capacity() const {
  return segment_->header.capacity;
}
std::uint32_t ShmChannel::max_message_size() const {
  return segment_->header.max_message_size;
}
SlowConsumerPolicy ShmChannel::policy() const {
  return static_cast<SlowConsumerPolicy>(segment_->header.policy);
}
void ShmChannel::release_name() {
  segment_->owns_name = false;
}

void ShmChannel::wake_all() {
  ControlBlock& control = segment_->control();
  wake(control.data_futex);
  wake(control.space_futex);
}

std::uint32_t ShmChannel::reap_dead_peers() {
  const Segment& segment = *segment_;
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
      if (inflight >= segment.control().tail.load(std::memory_order_acquire)) {
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
  const Segment& segment = *segment_;
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
  const std::uint64_t tail = control.tail.load(std::memory_order_acquire);
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

Result<Publisher> Publisher::attach(const ShmChannel& channel) {
  Publisher publisher;
  publisher.segment_ = channel.segment_;
  const Segment& segment = *publisher.segment_;
  auto fd = shm::reopen_description(segment);
  if (!fd) return tl::unexpected(fd.error());
  publisher.lock_fd_ = *fd;
  auto slot = claim_slot<ProducerSlot>(segment, publisher.lock_fd_, segment.header.max_producers,
                                       &Segment::producer, shm::kProducerLockBase, "producer");
  if (!slot) {
    channel.segment_->control();  // keep the channel mapped while we report
    return tl::unexpected(slot.error());
  }
  publisher.slot_ = *slot;
  ProducerSlot& mine = segment.producer(publisher.slot_);
  mine.pid = ::getpid();
  mine.inflight_position.store(kNoPosition, std::memory_order_relaxed);
  mine.published_messages.store(0, std::memory_order_relaxed);
  mine.published_bytes.store(0, std::memory_order_relaxed);
  mine.rejected_full.store(0, std::memory_order_relaxed);
  mine.dropped_oldest.store(0, std::memory_order_relaxed);
  mine.state.store(state_value(SlotState::kActive), std::memory_order_release);
  return publisher;
}

Publisher::Publisher(Publisher&& other) noexcept
    : segment_(std::move(other.segment_)),
      lock_fd_(std::exchange(other.lock_fd_, -1)),
      slot_(other.slot_),
      cached_limit_(other.cached_limit_) {}

Publisher& Publisher::operator=(Publisher&& other) noexcept {
  if (this != &other) {
    this->~Publisher();
    new (this) Publisher(std::move(other));
  }
  return *this;
}

Publisher::~Publisher() {
  if (!segment_ || lock_fd_ < 0) return;
  ProducerSlot& slot = segment_->producer(slot_);
  ControlBlock& control = segment_->control();
  retire_producer_counters(control, slot);
  slot.state.store(state_value(SlotState::kFree), std::memory_order_release);
  ::close(lock_fd_);  // drops the liveness lock
}

// The lowest cursor of every active subscriber bounds how far producers may write (rule R3).
// The tail read first also bounds it, so a subscriber that registers during the scan (it reads
// the tail after publishing its slot) can never be overrun by a stale limit (rule R4).
bool Publisher::refresh_limit() {
  const Segment& segment = *segment_;
  const ControlBlock& control = segment.control();
  std::uint64_t lowest = control.tail.load(std::memory_order_seq_cst);
  for (std::uint32_t i = 0; i < segment.header.max_subscribers; ++i) {
    const SubscriberSlot& slot = segment.subscriber(i);
    if (slot.state.load(std::memory_order_seq_cst) == state_value(SlotState::kFree)) continue;
    lowest = std::min(lowest, slot.cursor.load(std::memory_order_seq_cst));
  }
  cached_limit_ = lowest + segment.header.capacity;
  return true;
}

Result<void> Publisher::wait_for_space(std::uint64_t end, Clock::time_point deadline) {
  const Segment& segment = *segment_;
  ControlBlock& control = segment.control();
  for (int spin = 0; spin < kProducerSpins; ++spin) {
    shm::cpu_relax();
    if ((spin & 63) == 0) {
      refresh_limit();
      if (end <= cached_limit_) return {};
    }
  }
  for (;;) {
    const std::uint32_t seen = control.space_futex.load(std::memory_order_acquire);
    control.blocked_producers.fetch_add(1, std::memory_order_seq_cst);
    refresh_limit();
    if (end <= cached_limit_) {
      control.blocked_producers.fetch_sub(1, std::memory_order_relaxed);
      return {};
    }
    const auto slice = until(deadline, kProducerSleepSlice);
    if (slice.count() > 0) shm::futex_wait(control.space_futex, seen, slice);
    control.blocked_producers.fetch_sub(1, std::memory_order_relaxed);
    reap_dead_subscribers(segment);  // a dead subscriber must not block us (rule L2)
    refresh_limit();
    if (end <= cached_limit_) return {};
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
  const Segment& segment = *segment_;
  ControlBlock& control = segment.control();
  ProducerSlot& mine = segment.producer(slot_);
  // seq_cst: the commit and the load of sleeping_subscribers below are a Dekker pair with a
  // subscriber going to sleep (rule W1): either it sees the commit on its re-check, or we see
  // it counted as sleeping. (On x86 this is one xchg; no fence instruction.)
  write_record_header(segment, loan.position_, static_cast<std::uint32_t>(loan.size_),
                      RecordType::kData, std::memory_order_seq_cst);
  loan.owner_ = nullptr;
  // Single writer of its own slot: plain load+store, no locked instruction.
  mine.published_messages.store(mine.published_messages.load(std::memory_order_relaxed) + 1,
                                std::memory_order_relaxed);
  mine.published_bytes.store(mine.published_bytes.load(std::memory_order_relaxed) + loan.size_,
                             std::memory_order_relaxed);
  mine.inflight_position.store(kNoPosition, std::memory_order_release);
  if (control.sleeping_subscribers.load(std::memory_order_seq_cst) != 0) wake(control.data_futex);
  return {};
}

void Publisher::abandon(Loan& loan) noexcept {
  const Segment& segment = *segment_;
  fill_with_gap(segment, loan.position_, loan.position_ + loan.record_bytes_);
  loan.owner_ = nullptr;
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

Result<Subscriber> Subscriber::attach(const ShmChannel& channel, SubscriberOptions options) {
  Subscriber subscriber;
  subscriber.segment_ = channel.segment_;
  subscriber.options_ = options;
  const Segment& segment = *subscriber.segment_;
  auto fd = shm::reopen_description(segment);
  if (!fd) return tl::unexpected(fd.error());
  subscriber.lock_fd_ = *fd;
  auto slot =
      claim_slot<SubscriberSlot>(segment, subscriber.lock_fd_, segment.header.max_subscribers,
                                 &Segment::subscriber, shm::kSubscriberLockBase, "subscriber");
  if (!slot) {
    reap_dead_subscribers(segment);
    slot = claim_slot<SubscriberSlot>(segment, subscriber.lock_fd_, segment.header.max_subscribers,
                                      &Segment::subscriber, shm::kSubscriberLockBase, "subscriber");
    if (!slot) return tl::unexpected(slot.error());
  }
  subscriber.slot_ = *slot;
  SubscriberSlot& mine = segment.subscriber(subscriber.slot_);
  const ControlBlock& control = segment.control();
  // Rule R4: publish the slot with a cursor no later than the tail, then read the tail again
  // and start there. A producer either sees this slot or read a tail no later than ours.
  mine.pid = ::getpid();
  mine.missed.store(0, std::memory_order_relaxed);
  mine.sleeping.store(0, std::memory_order_relaxed);
  mine.delivered_messages.store(0, std::memory_order_relaxed);
  mine.delivered_bytes.store(0, std::memory_order_relaxed);
  mine.cursor.store(control.tail.load(std::memory_order_seq_cst), std::memory_order_seq_cst);
  mine.state.store(state_value(SlotState::kActive), std::memory_order_seq_cst);
  subscriber.cursor_ = control.tail.load(std::memory_order_seq_cst);
  mine.cursor.store(subscriber.cursor_, std::memory_order_seq_cst);
  return subscriber;
}

Subscriber::Subscriber(Subscriber&& other) noexcept
    : segment_(std::move(other.segment_)),
      lock_fd_(std::exchange(other.lock_fd_, -1)),
      options_(other.options_),
      slot_(other.slot_),
      cursor_(other.cursor_),
      held_next_(other.held_next_),
      missed_reported_(other.missed_reported_),
      held_size_(other.held_size_),
      stuck_since_(other.stuck_since_),
      gaps_(other.gaps_) {}

Subscriber& Subscriber::operator=(Subscriber&& other) noexcept {
  if (this != &other) {
    this->~Subscriber();
    new (this) Subscriber(std::move(other));
  }
  return *this;
}

Subscriber::~Subscriber() {
  if (!segment_ || lock_fd_ < 0) return;
  SubscriberSlot& mine = segment_->subscriber(slot_);
  mine.state.store(state_value(SlotState::kFree), std::memory_order_seq_cst);
  ::close(lock_fd_);
  // Producers blocked on this subscriber can go on now.
  ControlBlock& control = segment_->control();
  if (control.blocked_producers.load(std::memory_order_seq_cst) != 0) wake(control.space_futex);
}

std::uint64_t Subscriber::missed() const {
  return segment_->subscriber(slot_).missed.load(std::memory_order_relaxed);
}
std::uint64_t Subscriber::gaps() const {
  return gaps_;
}

Result<void> Subscriber::advance_to(std::uint64_t next) {
  const Segment& segment = *segment_;
  SubscriberSlot& mine = segment.subscriber(slot_);
  ControlBlock& control = segment.control();
  Result<void> outcome;
  if (segment.header.policy == static_cast<std::uint32_t>(SlowConsumerPolicy::kDropOldest)) {
    std::uint64_t expected = cursor_;
    if (mine.cursor.compare_exchange_strong(expected, next, std::memory_order_seq_cst)) {
      cursor_ = next;
    } else {
      cursor_ = expected;  // a producer pushed us past records it overwrote (rule D1)
      outcome = make_error(
          ErrorCode::kOverrun,
          "channel " + segment.name + ": the message was overwritten while held (DropOldest)");
    }
  } else {
    cursor_ = next;
    // seq_cst store + seq_cst load: a Dekker pair with a producer going to sleep on a full
    // ring (rule W2).
    mine.cursor.store(next, std::memory_order_seq_cst);
  }
  if (control.blocked_producers.load(std::memory_order_seq_cst) != 0) wake(control.space_futex);
  return outcome;
}

Result<void> Subscriber::release() {
  if (held_next_ == 0) return {};
  SubscriberSlot& mine = segment_->subscriber(slot_);
  mine.delivered_messages.store(mine.delivered_messages.load(std::memory_order_relaxed) + 1,
                                std::memory_order_relaxed);
  mine.delivered_bytes.store(mine.delivered_bytes.load(std::memory_order_relaxed) + held_size_,
                             std::memory_order_relaxed);
  const std::uint64_t next = std::exchange(held_next_, 0);
  return advance_to(next);
}

// Returns true when the caller should look at the ring again, false when the deadline passed.
bool Subscriber::wait_for_data(Clock::time_point deadline, bool has_deadline) {
  const Segment& segment = *segment_;
  ControlBlock& control = segment.control();
  SubscriberSlot& mine = segment.subscriber(slot_);
  const auto now = Clock::now();
  if (has_deadline && now >= deadline) return false;
  if (stuck_since_ == Clock::time_point{}) stuck_since_ = now;
  if (now - stuck_since_ >= kStuckBeforeGapCheck) {
    // Long enough that a live producer would have committed: maybe it died mid-write.
    if (fill_dead_reservation(segment, cursor_)) return true;
  }
  const bool spinning =
      options_.wait_mode == WaitMode::kBusyPoll || now - stuck_since_ < options_.spin_time;
  if (spinning) {
    for (int i = 0; i < 64; ++i) {
      shm::cpu_relax();
      if (segment.record_at(cursor_).position.load(std::memory_order_acquire) == cursor_) break;
    }
    return true;
  }
  // Rule W1: announce the sleep, re-check, then sleep on the value seen before announcing.
  const std::uint32_t seen = control.data_futex.load(std::memory_order_acquire);
  mine.sleeping.store(1, std::memory_order_relaxed);
  control.sleeping_subscribers.fetch_add(1, std::memory_order_seq_cst);
  const bool ready =
      segment.record_at(cursor_).position.load(std::memory_order_seq_cst) == cursor_ ||
      mine.cursor.load(std::memory_order_acquire) != cursor_ ||
      // Checked after loading `seen`: a canceller sets the flag before wake_all() bumps the word.
      (options_.cancel != nullptr && options_.cancel->load(std::memory_order_acquire));
  if (!ready) {
    // While nothing is reserved at our cursor only a commit (which wakes us) can change that:
    // sleep as long as the caller allows. A reservation that is not committed may be a dead
    // producer's (rule L3), so then wake up now and then to check.
    const bool reserved = control.tail.load(std::memory_order_acquire) > cursor_;
    const auto cap = reserved ? std::chrono::nanoseconds(kMaxSleepSlice) : kWaitForever;
    const auto slice = has_deadline ? until(deadline, cap) : cap;
    if (slice.count() > 0) shm::futex_wait(control.data_futex, seen, slice);
  }
  control.sleeping_subscribers.fetch_sub(1, std::memory_order_relaxed);
  mine.sleeping.store(0, std::memory_order_relaxed);
  return true;
}

Result<MessageView> Subscriber::receive(std::chrono::nanoseconds timeout) {
  if (held_next_ != 0) (void)release();
  const Segment& segment = *segment_;
  SubscriberSlot& mine = segment.subscriber(slot_);
  const bool drop_oldest =
      segment.header.policy == static_cast<std::uint32_t>(SlowConsumerPolicy::kDropOldest);
  const bool has_deadline = timeout != kWaitForever;
  const auto deadline = has_deadline ? deadline_after(timeout) : Clock::time_point::max();
  stuck_since_ = {};
  for (;;) {
    auto record = read_record(segment, cursor_);
    if (record) {
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
    if (!wait_for_data(deadline, has_deadline)) {
      if (timeout.count() == 0) {
        return make_error(ErrorCode::kWouldBlock, "channel " + segment.name + ": no message");
      }
      return make_error(ErrorCode::kTimeout, "channel " + segment.name + ": no message in time");
    }
  }
}

Result<std::size_t> Subscriber::receive_copy(std::span<std::byte> out,
                                             std::chrono::nanoseconds timeout) {
  const Segment& segment = *segment_;
  const bool drop_oldest =
      segment.header.policy == static_cast<std::uint32_t>(SlowConsumerPolicy::kDropOldest);
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
