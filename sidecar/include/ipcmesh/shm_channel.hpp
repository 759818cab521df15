// The shared-memory broadcast channel: many producers append records to one log in a POSIX shm
// segment; every subscriber reads every record at its own cursor. The byte layout, the memory
// ordering and the liveness protocol are in docs/protocol.md.
//
// Data path: no syscall per message while the consumer is awake (it spins briefly before it
// sleeps on a futex, and producers only wake a consumer that said it is asleep). No call here
// throws; every failure is a typed Error.
//
// Generations: when the relay replaces a ring (the channel's spec changed), publishers and
// subscribers move to the new one by themselves (a subscriber after reading what is left in the
// old one); reattached() counts it. A ring truncated under the process by a foreign program is
// kCorrupted wherever the library can check it without touching the ring (attach, waits, timeouts);
// the data path cannot check every access (docs/protocol.md, sections 5 and 6).
#pragma once

#include <sys/types.h>

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "ipcmesh/channel_spec.hpp"
#include "ipcmesh/error.hpp"
#include "ipcmesh/posix/unique_fd.hpp"

namespace ipcmesh {

namespace shm {
struct Segment;      // the mapped segment (internal)
class ChannelLink;   // the segment a handle and its publishers and subscribers use now (internal)
class SpinBudget;    // how long an adaptive subscriber spins (internal)
class LazyDeadline;  // a call's deadline, read from the clock only when it waits (internal)

// Internal (channel/reservation.hpp): a producer's last scan of the subscriber table. How far
// producers may write (rule R3): the lowest cursor of every subscriber plus the capacity, never
// beyond the end of the lap after the tail (rule R5). `open` is false once the generation is
// closed (rule G1). `barrier_sleepers_only`: every subscriber seen follows rule W1c, so a
// producer covered by the sleeper barrier may commit without a fence until its next scan.
struct WriteLimit {
  std::uint64_t limit = 0;
  bool open = true;
  bool barrier_sleepers_only = false;
};
}  // namespace shm

inline constexpr std::chrono::nanoseconds kWaitForever = std::chrono::nanoseconds::max();

struct ShmChannelOptions {
  std::string name;                         // POSIX shm name, e.g. shm_object_name(id)
  std::uint64_t capacity_bytes = 1u << 20;  // ring data bytes; rounded up to a power of two
  std::uint32_t max_message_size = 64u << 10;
  SlowConsumerPolicy policy = SlowConsumerPolicy::kBlock;
  std::uint32_t max_subscribers = 64;
  std::uint32_t max_producers = 64;
  mode_t mode = 0660;
};

struct SubscriberStats {
  std::uint32_t slot = 0;
  pid_t pid = 0;
  std::uint64_t cursor = 0;
  std::uint64_t lag_bytes = 0;  // bytes published that this subscriber has not released
  std::uint64_t missed = 0;     // messages dropped for it under DropOldest
  std::uint64_t delivered_messages = 0;
  std::uint64_t delivered_bytes = 0;
  bool sleeping = false;
  // Rule W1c: it issues the sleeper barrier, so producers may commit without a fence; false for
  // a subscriber of an older build or one whose process may not call membarrier(2) (seccomp).
  bool sleeps_with_barrier = false;
};

struct ChannelStats {
  std::string name;
  std::uint32_t layout_version = 0;
  std::uint64_t generation = 0;
  pid_t creator_pid = 0;
  std::uint64_t capacity_bytes = 0;
  std::uint32_t max_message_size = 0;
  SlowConsumerPolicy policy = SlowConsumerPolicy::kBlock;
  std::uint64_t tail_position = 0;  // bytes reserved since creation
  std::uint64_t published_messages = 0;
  std::uint64_t published_bytes = 0;  // payload bytes
  std::uint64_t rejected_full = 0;    // DropNewest refusals
  std::uint64_t dropped_oldest = 0;   // messages pushed past slow subscribers (all of them)
  std::uint64_t gaps = 0;             // records lost to producers that died mid-write
  std::uint64_t reaped_subscribers = 0;
  std::uint64_t reattached = 0;  // publishers and subscribers that moved here from an earlier ring
  bool superseded = false;       // closed by the relay: a new generation replaces it
  std::uint32_t producers = 0;
  std::vector<SubscriberStats> subscribers;
  double fill_ratio = 0.0;  // (tail - slowest cursor) / capacity
};

// One mapping of a channel. The creator owns the POSIX name and unlinks it on destruction unless
// release_name() was called (or the name refers to another object by then). A handle made by
// open() follows the channel: once its publishers or subscribers moved to a new generation, so do
// its stats() and wake_all(). Move-only.
class ShmChannel {
 public:
  // Creates the segment (O_CREAT|O_EXCL, mode, pre-touched so a small /dev/shm fails here and not
  // with SIGBUS later). An existing segment whose creator is dead is reclaimed; a live one is
  // kAlreadyExists.
  static Result<ShmChannel> create(const ShmChannelOptions& options);
  // Maps an existing channel and validates its header (kCorrupted, kIncompatible, kNotFound).
  static Result<ShmChannel> open(std::string_view name);
  // Takes over a channel whose creator is gone (a relay restarted after a crash) when it is
  // intact and has exactly the geometry and policy `options` would create: this object becomes
  // its creator (it unlinks the name on destruction) and nothing in it changes, so attached
  // publishers and subscribers carry on. kNotFound, kAlreadyExists (a live creator),
  // kIncompatible (says what differs), kCorrupted.
  static Result<ShmChannel> adopt(const ShmChannelOptions& options);
  // Like open, retrying kNotFound until the relay has created it or the timeout passes.
  static Result<ShmChannel> open_wait(std::string_view name, std::chrono::nanoseconds timeout);
  static Result<void> unlink(std::string_view name);

  ShmChannel(ShmChannel&&) noexcept;
  ShmChannel& operator=(ShmChannel&&) noexcept;
  ShmChannel(const ShmChannel&) = delete;
  ShmChannel& operator=(const ShmChannel&) = delete;
  ~ShmChannel();

  const std::string& name() const;
  std::uint64_t capacity() const;
  std::uint32_t max_message_size() const;
  SlowConsumerPolicy policy() const;
  ChannelStats stats() const;
  // Marks dead subscribers and producers free; returns how many were reaped.
  std::uint32_t reap_dead_peers();
  // Wakes every sleeper (used on shutdown so blocked calls return promptly).
  void wake_all();
  void release_name();  // keep the POSIX name after this object is gone

  // Rule G1 (docs/protocol.md), for a creator replacing this ring: closes it for every process
  // attached (no reservation succeeds any more), marks it superseded and wakes every sleeper, so
  // that publishers and subscribers move to the next generation once the creator has unlinked
  // this one and created the next. kCorrupted (nothing written) when it was resized.
  Result<void> supersede();
  // Rule F1: kCorrupted, naming both sizes, when the segment's size is no longer the one its
  // header says (a foreign program truncated it). This process's mapping is then quarantined
  // (rule F2): no thread of it faults on the ring any more. One fstat; never touches the ring.
  Result<void> verify() const;
  // The bytes this handle maps now, for a process that guards its mappings with a SIGBUS handler
  // (the relay), and the async-signal-safe rule F2 such a handler applies to a faulting mapping:
  // private zeroed memory in place of the ring, reading as a closed, superseded generation.
  std::span<std::byte> mapping() const;
  static bool quarantine_mapping(std::span<std::byte> mapping) noexcept;

 private:
  friend class Publisher;
  friend class Subscriber;
  ShmChannel(std::shared_ptr<shm::Segment> segment, bool follows);
  std::shared_ptr<shm::Segment> segment() const;
  std::shared_ptr<shm::ChannelLink> link_;
};

// A record reserved in the ring, written in place, then committed. Destroying an uncommitted
// loan turns it into a gap record so that subscribers are never wedged.
class Loan {
 public:
  Loan(Loan&&) noexcept;
  Loan& operator=(Loan&&) noexcept;
  Loan(const Loan&) = delete;
  Loan& operator=(const Loan&) = delete;
  ~Loan();

  std::span<std::byte> data() const { return {payload_, size_}; }
  std::size_t size() const { return size_; }

 private:
  friend class Publisher;
  Loan() = default;
  class Publisher* owner_ = nullptr;
  std::byte* payload_ = nullptr;
  std::size_t size_ = 0;
  std::uint64_t position_ = 0;
  std::uint32_t record_bytes_ = 0;
};

class Publisher {
 public:
  // Registers in the channel's producer table (liveness for crash recovery).
  static Result<Publisher> attach(const ShmChannel& channel);

  Publisher(Publisher&&) noexcept;
  Publisher& operator=(Publisher&&) noexcept;
  Publisher(const Publisher&) = delete;
  Publisher& operator=(const Publisher&) = delete;
  ~Publisher();

  // Reserves size bytes. Under Block it waits up to timeout for slow subscribers (kTimeout);
  // under DropNewest a full ring is kWouldBlock at once; under DropOldest it never waits. When
  // the ring was superseded it first moves to the next generation (rule G2), waiting up to
  // timeout for the relay to create it; it cannot move while it holds another loan
  // (kInvalidArgument).
  Result<Loan> loan(std::size_t size, std::chrono::nanoseconds timeout = kWaitForever);
  Result<void> commit(Loan&& loan);
  // Copying convenience: loan + memcpy + commit.
  Result<void> publish(std::span<const std::byte> payload,
                       std::chrono::nanoseconds timeout = kWaitForever);
  // Publishes the payloads in order, like publish() for each, but checks for sleeping
  // subscribers once per batch (and before it would wait for space) instead of once per message:
  // cheaper for bursts of small messages. Returns how many were published: all of them, or fewer
  // when one could not be (ring full under DropNewest, the timeout, which covers the whole batch,
  // passed); the error itself only when not even the first one was published.
  Result<std::size_t> publish_batch(std::span<const std::span<const std::byte>> payloads,
                                    std::chrono::nanoseconds timeout = kWaitForever);

  // Times this publisher moved to a new generation of its channel by itself (rules G2, G4).
  std::uint64_t reattached() const { return reattached_; }
  // Rule W1c in effect: commits are plain release stores because every subscriber of its last
  // scan issues the sleeper barrier and this process is covered by it; false: seq_cst commits.
  bool commits_without_fence() const {
    return covered_by_sleeper_barriers_ && cached_limit_.barrier_sleepers_only;
  }

 private:
  friend class Loan;
  Publisher() = default;
  void abandon(Loan& loan) noexcept;
  void commit_record(Loan& loan);
  void wake_if_sleeping();
  void detach() noexcept;
  // False when the tail is closed (the generation ended).
  bool refresh_limit();
  // True: there is room; false: the generation was closed meanwhile.
  Result<bool> wait_for_space(std::uint64_t end, std::chrono::steady_clock::time_point deadline);
  void push_slow_subscribers(std::uint64_t needed);
  // The channel's policy for a ring full up to `end`: success means "reserve again".
  Result<void> make_room(std::uint64_t end, shm::LazyDeadline& deadline);
  Loan hand_out(std::uint64_t position, std::size_t size);
  Result<void> follow_generation(std::chrono::steady_clock::time_point deadline,
                                 std::chrono::nanoseconds timeout);
  std::shared_ptr<shm::ChannelLink> link_;
  std::shared_ptr<shm::Segment> segment_;
  posix::UniqueFd lock_fd_;  // own open file description: its lock says this producer is alive
  std::uint32_t slot_ = 0;
  std::uint32_t open_loans_ = 0;        // loans neither committed nor abandoned yet
  shm::WriteLimit cached_limit_;        // lowest position a reservation may reach without a rescan
  std::uint32_t loans_until_scan_ = 1;  // rule W1c: a rescan at least every so many loans
  bool covered_by_sleeper_barriers_ = false;  // rule W1c: this process registered
  std::uint64_t reattached_ = 0;
  bool fault_reported_ = false;  // the resized ring was reported once (kCorrupted)
  std::chrono::steady_clock::time_point last_ring_check_{};
};

struct SubscriberOptions {
  // How to wait for the next message: WaitMode is the channel contract's (channel_spec.hpp), so a
  // channel's sharedMemory.waitMode maps onto it as is; docs/protocol.md W3 says which to choose.
  WaitMode wait_mode = WaitMode::kAdaptive;
  // The longest spin before sleeping (kAdaptive: the ceiling; kSpinThenSleep: every wait).
  std::chrono::nanoseconds spin_time = std::chrono::microseconds(50);
  // When set, a blocked receive() returns kCancelled once *cancel is true and the subscriber is
  // woken (ShmChannel::wake_all()): lets a daemon block without a timeout and still stop.
  const std::atomic<bool>* cancel = nullptr;
  // How often a subscriber with nothing to read wakes up to check that its ring is intact and
  // still the channel's ring (rules F1, G4): one fstat and one stat. Nothing can wake a sleeper on
  // a truncated ring, and a ring replaced without being closed wakes nobody either.
  // kWaitForever: never (the subscriber then notices only when a commit or wake_all() wakes it).
  std::chrono::nanoseconds ring_check_interval = std::chrono::seconds(1);
};

// A received message: a view into the ring valid until Subscriber::release() or the next receive.
struct MessageView {
  std::span<const std::byte> data;
  std::uint64_t position = 0;       // log position of the record
  std::uint64_t missed_before = 0;  // messages dropped for this subscriber since its last receive
};

class Subscriber {
 public:
  static Result<Subscriber> attach(const ShmChannel& channel, SubscriberOptions options = {});

  Subscriber(Subscriber&&) noexcept;
  Subscriber& operator=(Subscriber&&) noexcept;
  Subscriber(const Subscriber&) = delete;
  Subscriber& operator=(const Subscriber&) = delete;
  ~Subscriber();

  // Zero-copy: the view stays valid until release() (the producer cannot reuse the bytes under
  // Block and DropNewest). An unreleased view is released by the next receive.
  Result<MessageView> receive(std::chrono::nanoseconds timeout = kWaitForever);
  // Under DropOldest a producer may overwrite the bytes of a held view: release() then says
  // kOverrun so the reader can discard what it read.
  Result<void> release();
  // Copying receive: never returns a torn message, also under DropOldest. Returns the size;
  // kMessageTooLarge (nothing consumed) when out is smaller than the message.
  Result<std::size_t> receive_copy(std::span<std::byte> out,
                                   std::chrono::nanoseconds timeout = kWaitForever);

  std::uint64_t missed() const;  // total messages dropped for this subscriber (DropOldest)
  std::uint64_t gaps() const;    // records skipped because their producer died mid-write
  std::uint32_t slot() const { return slot_; }
  // Times this subscriber moved to a new generation of its channel by itself (rules G3, G4).
  std::uint64_t reattached() const { return reattached_; }
  // Sleeper barriers it issued (rule W1c): one per sleep after the first sleep of a wait.
  std::uint64_t sleeper_barriers() const { return sleeper_barriers_; }

 private:
  Subscriber() = default;
  void detach() noexcept;
  Result<void> advance_to(std::uint64_t next);
  void publish_cursor();
  void flush_delivered();
  void wake_blocked_producers();
  // True: look at the ring again (perhaps a new generation); false: the deadline passed.
  Result<bool> wait_for_data(std::chrono::steady_clock::time_point deadline, bool has_deadline);
  // Rule G3: true once on the next generation, false while the closed one still holds records.
  Result<bool> leave_closed_generation(std::uint64_t tail,
                                       std::chrono::steady_clock::time_point deadline);
  Result<std::shared_ptr<shm::Segment>> next_generation(
      std::uint64_t tail, std::chrono::steady_clock::time_point deadline);
  Result<void> move_to(std::shared_ptr<shm::Segment> next);
  Result<void> check_ring(std::chrono::steady_clock::time_point now);
  bool keep_spinning(std::chrono::steady_clock::time_point now,
                     std::chrono::steady_clock::duration stuck_for);
  Result<bool> sleep_until_data(std::chrono::steady_clock::time_point deadline, bool has_deadline,
                                bool slept_before);
  MessageView hold(std::uint32_t length, std::uint32_t record_bytes);
  bool pushed_past();
  std::shared_ptr<shm::ChannelLink> link_;
  std::shared_ptr<shm::Segment> segment_;
  posix::UniqueFd lock_fd_;  // own open file description: its lock says this subscriber is alive
  SubscriberOptions options_;
  std::uint32_t slot_ = 0;
  std::uint32_t awake_word_ = 0;  // its slot's `sleeping` while awake: kSleepsWithBarrier or 0
  std::uint64_t cursor_ = 0;      // position of the next record to read
  std::uint64_t published_cursor_ = 0;    // what the slot says (rule S1: published per batch)
  std::uint64_t unflushed_messages_ = 0;  // delivered, not yet added to the slot's counters
  std::uint64_t unflushed_bytes_ = 0;
  std::uint64_t held_next_ = 0;  // cursor after the held view, 0 when none is held
  std::uint64_t missed_reported_ = 0;
  std::uint64_t missed_earlier_ = 0;  // missed in generations this subscriber has left
  std::uint32_t held_size_ = 0;
  std::chrono::steady_clock::time_point stuck_since_{};
  std::chrono::steady_clock::time_point last_spin_round_{};
  bool slept_ = false;  // the current wait went to sleep (kAdaptive learns from it)
  std::uint64_t sleeper_barriers_ = 0;
  std::unique_ptr<shm::SpinBudget> spin_budget_;  // kAdaptive only
  std::chrono::steady_clock::time_point last_ring_check_{};
  std::uint64_t gaps_ = 0;
  std::uint64_t reattached_ = 0;
  bool fault_reported_ = false;  // the resized ring was reported once (kCorrupted)
};

}  // namespace ipcmesh
