// Subscribing (docs/protocol.md, section 3): reading records at this subscriber's own cursor,
// releasing them in batches (S1), waiting (W1, W3) and moving to the next generation (G3).
#include <cstring>

#include "channel/dead_peers.hpp"
#include "channel/deadline.hpp"
#include "channel/generation.hpp"
#include "channel/peer_table.hpp"
#include "channel/records.hpp"
#include "channel/shm_segment.hpp"
#include "channel/sleeper_barrier.hpp"
#include "channel/spin_budget.hpp"
#include "channel/wakeups.hpp"
#include "ipcmesh/shm_channel.hpp"

namespace ipcmesh {

using shm::Clock;
using shm::ControlBlock;
using shm::kTailClosed;
using shm::RecordType;
using shm::Segment;
using shm::SlotState;
using shm::SubscriberSlot;

namespace {

constexpr std::uint64_t kPublishEveryMessages = 64;  // rule S1
constexpr auto kStuckBeforeGapCheck = std::chrono::milliseconds(20);
constexpr auto kMaxSleepSlice = std::chrono::milliseconds(100);
// Sleeps without the sleeper barrier (rule W1c): the first sleep of every wait, and every sleep
// of a subscriber whose membarrier was refused at attach or failed since. A producer may commit
// without a fence meanwhile, so a missed wake-up must cost at most this. A futex timeout a
// millisecond costs an idle subscriber well under 1% of a core.
constexpr auto kUnfencedSleepSlice = std::chrono::milliseconds(1);

bool drops_oldest(const Segment& segment) {
  return segment.header.policy == static_cast<std::uint32_t>(SlowConsumerPolicy::kDropOldest);
}

// One spin round: a short pause loop that ends early when the record at `cursor` is committed.
void spin_for_commit(const shm::RingView& ring, std::uint64_t cursor) {
  for (int i = 0; i < 64; ++i) {
    shm::cpu_relax();
    if (ring.looks_committed(cursor, std::memory_order_acquire)) break;
  }
}

Error corrupted_record(const Segment& segment, std::uint64_t cursor, Error error) {
  error.message = "channel " + segment.name + ": corrupted record at position " +
                  std::to_string(cursor - segment.header.capacity) + ": " + error.message;
  return error;
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// Attaching and leaving

Result<Subscriber> Subscriber::attach(const ShmChannel& channel, SubscriberOptions options) {
  auto segment = channel.segment();
  auto attached = shm::attach_subscriber(*segment);
  if (!attached) return tl::unexpected(attached.error());
  Subscriber subscriber;
  subscriber.awake_word_ = shm::sleeper_barrier_available() ? shm::kSleepsWithBarrier : 0;
  subscriber.cursor_ =
      shm::start_subscriber_slot(*segment, attached->slot, false, subscriber.awake_word_ != 0);
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
      awake_word_(other.awake_word_),
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
      sleeper_barriers_(other.sleeper_barriers_),
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
  mine.state.store(shm::state_value(SlotState::kFree), std::memory_order_seq_cst);
  lock_fd_.reset();  // drops the liveness lock
  // Producers blocked on this subscriber can go on now.
  shm::wake_blocked_producers(segment_->control());
  segment_.reset();
}

std::uint64_t Subscriber::missed() const {
  return missed_earlier_ + segment_->subscriber(slot_).missed.load(std::memory_order_relaxed);
}
std::uint64_t Subscriber::gaps() const {
  return gaps_;
}

// ---------------------------------------------------------------------------------------------
// Releasing (rule S1)

// Under Block and DropNewest the shared cursor (and the delivered counters) are published once
// per batch, not per message: when this subscriber has caught up (the next record is not
// committed yet), every 64 messages, when the unpublished bytes reach a sixteenth of the ring,
// and always before it waits for data (publish_cursor in receive). A stale cursor only makes
// producers more careful (rule R3). DropOldest publishes every release: its CAS is how a
// subscriber learns that a producer pushed it (rule D1).
Result<void> Subscriber::advance_to(std::uint64_t next) {
  const Segment& segment = *segment_;
  if (drops_oldest(segment)) {
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
  const bool caught_up = !segment.ring().looks_committed(cursor_);
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
  shm::wake_blocked_producers(segment_->control());
}

Result<void> Subscriber::release() {
  if (held_next_ == 0) return {};
  ++unflushed_messages_;
  unflushed_bytes_ += held_size_;
  const std::uint64_t next = std::exchange(held_next_, 0);
  return advance_to(next);
}

// ---------------------------------------------------------------------------------------------
// Generations (rules F1, G3, G4)

// At most once per ring_check_interval and only on the way to sleep.
Result<void> Subscriber::check_ring(Clock::time_point now) {
  if (now - last_ring_check_ < options_.ring_check_interval) return {};
  last_ring_check_ = now;
  if (auto intact = shm::ensure_intact(*segment_, "subscriber"); !intact) {
    fault_reported_ = true;
    return intact;
  }
  shm::close_if_replaced(*link_, segment_);
  return {};
}

// The generation to move to from this closed one; nullptr while it still holds records for
// this subscriber, or when the wait ran out (the caller's deadline and cancel checks say so).
Result<std::shared_ptr<Segment>> Subscriber::next_generation(std::uint64_t tail,
                                                             Clock::time_point deadline) {
  if (auto intact = shm::ensure_intact(*segment_, "subscriber"); !intact) {
    // A truncated ring holds nothing to drain. Report it once; then move only if a new ring has
    // replaced it by now, never wait for one.
    if (!fault_reported_) {
      fault_reported_ = true;
      return tl::unexpected(intact.error());
    }
    auto next = shm::wait_for_successor(*link_, segment_, Clock::now(), std::chrono::nanoseconds(0),
                                        nullptr);
    if (!next) return tl::unexpected(intact.error());
    return next;
  }
  // Every reservation is below the closed tail: read up to it first (rule G3).
  if (shm::tail_position(tail) != cursor_) return nullptr;
  const bool forever = deadline == Clock::time_point::max();
  auto next = shm::wait_for_successor(*link_, segment_, deadline,
                                      forever ? kWaitForever : std::chrono::nanoseconds(1),
                                      options_.cancel);
  if (next) return next;
  const ErrorCode code = next.error().code;
  if (code == ErrorCode::kTimeout || code == ErrorCode::kWouldBlock ||
      code == ErrorCode::kCancelled) {
    return nullptr;
  }
  return tl::unexpected(next.error());
}

// Claims a slot in `next` at its start (rule G3) and leaves the current generation.
Result<void> Subscriber::move_to(std::shared_ptr<Segment> next) {
  auto attached = shm::attach_subscriber(*next);
  if (!attached) return tl::unexpected(attached.error());
  const std::uint64_t cursor =
      shm::start_subscriber_slot(*next, attached->slot, true, awake_word_ != 0);
  // A quarantined ring reads as zeros: what was missed there is lost with it.
  if (!segment_->quarantined.load(std::memory_order_acquire)) {
    missed_earlier_ += segment_->subscriber(slot_).missed.load(std::memory_order_relaxed);
  }
  detach();
  segment_ = std::move(next);
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
  return {};
}

Result<bool> Subscriber::leave_closed_generation(std::uint64_t tail, Clock::time_point deadline) {
  auto next = next_generation(tail, deadline);
  if (!next) return tl::unexpected(next.error());
  if (*next == nullptr) return false;
  if (auto moved = move_to(std::move(*next)); !moved) return tl::unexpected(moved.error());
  return true;
}

// ---------------------------------------------------------------------------------------------
// Waiting (rules W1, W3, L3, G3)

// Rule W3: whether this wait is still in its spinning phase. Once per spin round, on the path
// that decides how soon a spinning subscriber sees a commit: kept inline.
[[gnu::always_inline]] inline bool Subscriber::keep_spinning(Clock::time_point now,
                                                             Clock::duration stuck_for) {
  switch (options_.wait_mode) {
    case WaitMode::kBusyPoll:
      return true;
    case WaitMode::kSpinThenSleep:
      return stuck_for < options_.spin_time;
    case WaitMode::kAdaptive:
      return stuck_for < spin_budget_->limit() &&
             spin_budget_->keep_spinning(now - last_spin_round_);
  }
  return false;
}

Result<bool> Subscriber::wait_for_data(Clock::time_point deadline, bool has_deadline) {
  const auto now = Clock::now();
  if (stuck_since_ == Clock::time_point{}) {
    stuck_since_ = now;
    last_spin_round_ = now;
    slept_ = false;
  }
  const auto stuck_for = now - stuck_since_;
  const bool spinning = keep_spinning(now, stuck_for);
  last_spin_round_ = now;
  const bool out_of_time = has_deadline && now >= deadline;
  // On the way to sleep and on the way out (a caller that only polls with timeout 0 notices
  // too), but not on every spin round: a subscriber spinning at an empty ring leaves the
  // producers' tail line alone, and a closed generation needs no hurry.
  if (!spinning || out_of_time || stuck_for >= kStuckBeforeGapCheck) {
    const std::uint64_t tail = segment_->control().tail.load(std::memory_order_acquire);
    if ((tail & kTailClosed) != 0) [[unlikely]] {
      auto left = leave_closed_generation(tail, deadline);
      if (!left) return tl::unexpected(left.error());
      if (*left) return true;  // on the next generation now
    }
  }
  if (out_of_time) return false;
  // Long enough that a live producer would have committed: maybe it died mid-write (rule L3).
  if (stuck_for >= kStuckBeforeGapCheck && shm::fill_dead_reservation(*segment_, cursor_)) {
    return true;
  }
  if (spinning) {
    spin_for_commit(segment_->ring(), cursor_);
    return true;
  }
  const bool slept_before = slept_;
  slept_ = true;
  if (auto checked = check_ring(now); !checked) return tl::unexpected(checked.error());
  return sleep_until_data(deadline, has_deadline, slept_before);
}

// Rule W1: announce the sleep, re-check, then sleep on the futex value seen before announcing.
// Rule W1c: between the two, the sleeper barrier, for producers that commit without a fence; but
// not on the first sleep of a wait, which lasts at most kUnfencedSleepSlice instead: most waits
// end in that first sleep, and the barrier costs up to tens of microseconds per sleep on a VM.
Result<bool> Subscriber::sleep_until_data(Clock::time_point deadline, bool has_deadline,
                                          bool slept_before) {
  const Segment& segment = *segment_;
  ControlBlock& control = segment.control();
  SubscriberSlot& mine = segment.subscriber(slot_);
  const std::uint32_t seen = control.data_futex.load(std::memory_order_acquire);
  mine.sleeping.store(awake_word_ | shm::kSleepingNow, std::memory_order_relaxed);
  control.sleeping_subscribers.fetch_add(1, std::memory_order_seq_cst);
  control.coalescing_sleepers.fetch_add(1, std::memory_order_seq_cst);  // rule W1b
  control.wake_requested.store(1, std::memory_order_seq_cst);
  const bool barrier = awake_word_ != 0 && slept_before;
  sleeper_barriers_ += barrier ? 1 : 0;
  if (barrier && !shm::sleeper_barrier()) [[unlikely]] {
    awake_word_ = 0;  // producers' next scans see it and fence their commits again
    mine.sleeping.store(shm::kSleepingNow, std::memory_order_seq_cst);
  }
  // Checked after loading `seen`: a canceller sets the flag before wake_all() bumps the word,
  // and a closer closes the tail before it does (rule G1).
  const std::uint64_t tail = control.tail.load(std::memory_order_seq_cst);
  const bool ready =
      segment.ring().looks_committed(cursor_, std::memory_order_seq_cst) ||
      mine.cursor.load(std::memory_order_acquire) != cursor_ || (tail & kTailClosed) != 0 ||
      (options_.cancel != nullptr && options_.cancel->load(std::memory_order_acquire));
  if (!ready) {
    // While nothing is reserved at our cursor only a commit (which wakes us) can change that:
    // sleep until then, waking up each ring_check_interval to check the ring (rules F1, G4). A
    // reservation that is not committed may be a dead producer's (rule L3), so then wake up
    // more often.
    const bool reserved = shm::tail_position(tail) > cursor_;
    const auto cap = awake_word_ == 0 || !barrier ? std::chrono::nanoseconds(kUnfencedSleepSlice)
                     : reserved                   ? std::chrono::nanoseconds(kMaxSleepSlice)
                                                  : options_.ring_check_interval;
    const auto slice = has_deadline ? shm::until(deadline, cap) : cap;
    if (slice.count() > 0) shm::futex_wait(control.data_futex, seen, slice);
    // Rule F1: the ring may have been truncated while we slept; check before touching it again.
    if (auto intact = shm::ensure_intact(segment, "subscriber"); !intact) {
      fault_reported_ = true;
      return tl::unexpected(intact.error());
    }
  }
  control.coalescing_sleepers.fetch_sub(1, std::memory_order_seq_cst);
  control.sleeping_subscribers.fetch_sub(1, std::memory_order_seq_cst);
  mine.sleeping.store(awake_word_, std::memory_order_relaxed);
  return true;
}

// ---------------------------------------------------------------------------------------------
// Receiving

// On the data path of every receive: kept inline, as it was before the split (bench figures).
[[gnu::always_inline]] inline MessageView Subscriber::hold(std::uint32_t length,
                                                           std::uint32_t record_bytes) {
  const Segment& segment = *segment_;
  held_next_ = cursor_ + record_bytes;
  held_size_ = length;
  const std::uint64_t missed = segment.subscriber(slot_).missed.load(std::memory_order_relaxed);
  MessageView view;
  view.data = std::span<const std::byte>(segment.ring().payload(cursor_), length);
  view.position = cursor_ - segment.header.capacity;
  view.missed_before = missed - std::exchange(missed_reported_, missed);
  return view;
}

// DropOldest: a producer moved the shared cursor past records it overwrote (rule D1).
bool Subscriber::pushed_past() {
  const std::uint64_t shared = segment_->subscriber(slot_).cursor.load(std::memory_order_acquire);
  if (shared == cursor_) return false;
  cursor_ = shared;
  return true;
}

Result<MessageView> Subscriber::receive(std::chrono::nanoseconds timeout) {
  if (held_next_ != 0) (void)release();
  const bool has_deadline = timeout != kWaitForever;
  const auto deadline = has_deadline ? shm::deadline_after(timeout) : Clock::time_point::max();
  stuck_since_ = {};
  for (;;) {
    // Bound on every round: moving to a new generation replaces the segment.
    const Segment& segment = *segment_;
    auto record = shm::read_record(segment.ring(), cursor_);
    if (record) {
      if (spin_budget_ && stuck_since_ != Clock::time_point{}) spin_budget_->on_wait_ended(slept_);
      stuck_since_ = {};
      if (record->type == RecordType::kData) return hold(record->length, record->record_bytes);
      if (record->type == RecordType::kGap) ++gaps_;
      (void)advance_to(cursor_ + record->record_bytes);  // padding and gaps carry nothing
      continue;
    }
    const bool drop_oldest = drops_oldest(segment);
    if (record.error().code == ErrorCode::kCorrupted && !drop_oldest) {
      return tl::unexpected(corrupted_record(segment, cursor_, record.error()));
    }
    if (drop_oldest && pushed_past()) continue;
    if (options_.cancel != nullptr && options_.cancel->load(std::memory_order_acquire)) {
      return make_error(ErrorCode::kCancelled, "channel " + segment.name + ": receive cancelled");
    }
    publish_cursor();  // rule S1: a waiting subscriber never holds producers back
    auto waited = wait_for_data(deadline, has_deadline);
    if (!waited) return tl::unexpected(waited.error());
    if (!*waited) {
      return make_error(timeout.count() == 0 ? ErrorCode::kWouldBlock : ErrorCode::kTimeout,
                        "channel " + segment_->name +
                            (timeout.count() == 0 ? ": no message" : ": no message in time"));
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
    if (!drops_oldest(*segment_)) {
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
