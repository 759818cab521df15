// The byte layout of a shared-memory channel segment (docs/protocol.md is the normative text).
// Everything here is plain data plus the pure validation used by open() and by the fuzzer: it
// must accept only what the protocol allows and never read outside the bytes it was given.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <span>

#include "ipcmesh/channel_spec.hpp"
#include "ipcmesh/error.hpp"

namespace ipcmesh::shm {

inline constexpr std::uint64_t kMagic = 0x3148534d43504931ull;  // "1IPCMSH1" read little-endian
inline constexpr std::uint32_t kLayoutVersion = 1;
inline constexpr std::size_t kCacheLine = 64;
inline constexpr std::size_t kPageSize = 4096;
inline constexpr std::size_t kControlBlockBytes = 4096;
inline constexpr std::size_t kSlotBytes = 128;  // two cache lines: no false sharing with prefetch
inline constexpr std::size_t kRecordAlignment = 16;
inline constexpr std::size_t kRecordHeaderBytes = 16;
inline constexpr std::uint64_t kMinCapacity = 4096;
inline constexpr std::uint64_t kMaxCapacity = 1ull << 40;
inline constexpr std::uint32_t kMaxSlots = 1024;
inline constexpr std::uint64_t kNoPosition = ~0ull;
// Set in `tail` by whoever closes a generation (rule G1): no reservation succeeds after it, so a
// subscriber that has read up to the tail below it has read everything this generation will hold.
// Real positions never reach it (2^63 bytes).
inline constexpr std::uint64_t kTailClosed = 1ull << 63;

// Byte ranges of open-file-description locks on the segment's fd (beyond the file's end, which
// POSIX allows). A lock is held for as long as its owner lives, in any PID namespace.
inline constexpr std::int64_t kCreatorLockOffset = 1ll << 40;
inline constexpr std::int64_t kSubscriberLockBase = kCreatorLockOffset + 1;
inline constexpr std::int64_t kProducerLockBase = kSubscriberLockBase + kMaxSlots;

// SubscriberSlot::sleeping: bit 0 while the subscriber sleeps (observability), bit 1 while it
// follows rule W1c (it issues the sleeper barrier before its re-check). Builds before W1c store
// only 0 and 1, at attach too, so a slot one of them takes never keeps bit 1 from an earlier
// owner.
inline constexpr std::uint32_t kSleepingNow = 1;
inline constexpr std::uint32_t kSleepsWithBarrier = 2;

// kSuperseded: the relay replaced this generation (rule G1); openers wait for the next one.
enum class SegmentState : std::uint32_t { kInitializing = 0, kReady = 1, kSuperseded = 2 };
enum class SlotState : std::uint32_t { kFree = 0, kClaiming = 1, kActive = 2 };
enum class RecordType : std::uint32_t { kData = 0, kPadding = 1, kGap = 2 };

// Immutable after creation; covered by static_checksum.
struct StaticHeader {
  std::uint64_t magic;
  std::uint32_t layout_version;
  std::uint32_t control_block_bytes;
  std::uint64_t total_bytes;
  std::uint64_t capacity;
  std::uint32_t max_message_size;
  std::uint32_t policy;  // SlowConsumerPolicy
  std::uint32_t max_subscribers;
  std::uint32_t max_producers;
  std::uint64_t subscribers_offset;
  std::uint64_t producers_offset;
  std::uint64_t data_offset;
  std::uint64_t generation;  // unique per creation
  std::uint64_t record_key;  // mixes into every record's check word
  std::int32_t creator_pid;  // in the creator's PID namespace; for humans only
  std::uint32_t creator_uid;
  char creator_host[64];  // hostname of the creator (the Pod name in Kubernetes)
  std::uint64_t static_checksum;
};
static_assert(sizeof(StaticHeader) == 168);  // docs/protocol.md lists every offset

struct alignas(kCacheLine) ControlBlock {
  StaticHeader fixed;
  std::atomic<std::uint32_t> state;  // SegmentState; kReady is stored last, with release
  std::uint32_t reserved0;
  alignas(kCacheLine) std::atomic<std::uint64_t> tail;        // next reservation position
  alignas(kCacheLine) std::atomic<std::uint32_t> data_futex;  // bumped when sleepers wait
  std::atomic<std::uint32_t> sleeping_subscribers;
  alignas(kCacheLine) std::atomic<std::uint32_t> space_futex;  // bumped when producers wait
  std::atomic<std::uint32_t> blocked_producers;
  alignas(kCacheLine) std::atomic<std::uint64_t> gaps;  // records lost to dead producers
  std::atomic<std::uint64_t> reaped_subscribers;
  std::atomic<std::uint64_t> reaped_producers;
  // Counters of producers that detached, so totals survive their slots being reused.
  std::atomic<std::uint64_t> retired_messages;
  std::atomic<std::uint64_t> retired_bytes;
  std::atomic<std::uint64_t> retired_rejected;
  std::atomic<std::uint64_t> retired_dropped;
  // Publishers and subscribers that re-attached to this generation from a superseded or replaced
  // one (rule G2/G3). Zero in segments made before the field existed: the word was zero-filled.
  std::atomic<std::uint64_t> reattached;
  // Rule W1b (coalesced wake-ups): sleepers that follow it, counted here as well as in
  // sleeping_subscribers, and their request for one FUTEX_WAKE. Zero in segments made before the
  // fields existed, and for peers that do not know them, which W1 alone keeps correct.
  alignas(kCacheLine) std::atomic<std::uint32_t> coalescing_sleepers;
  std::atomic<std::uint32_t> wake_requested;
};
static_assert(sizeof(ControlBlock) <= kControlBlockBytes);
static_assert(std::atomic<std::uint64_t>::is_always_lock_free);

struct alignas(kCacheLine) SubscriberSlot {
  std::atomic<std::uint32_t> state;  // SlotState
  std::int32_t pid;
  std::atomic<std::uint64_t> cursor;    // everything before it is released
  std::atomic<std::uint64_t> missed;    // messages pushed past it (DropOldest)
  std::atomic<std::uint32_t> sleeping;  // kSleepingNow | kSleepsWithBarrier
  std::uint32_t reserved0;
  std::atomic<std::uint64_t> delivered_messages;
  std::atomic<std::uint64_t> delivered_bytes;
};
static_assert(sizeof(SubscriberSlot) <= kSlotBytes);

struct alignas(kCacheLine) ProducerSlot {
  std::atomic<std::uint32_t> state;
  std::int32_t pid;
  // The reservation being written: set before the tail CAS, cleared after commit. A subscriber
  // stuck on an uncommitted record uses it to tell a slow producer from a dead one.
  std::atomic<std::uint64_t> inflight_position;
  std::atomic<std::uint64_t> inflight_bytes;
  std::atomic<std::uint64_t> published_messages;
  std::atomic<std::uint64_t> published_bytes;
  std::atomic<std::uint64_t> rejected_full;
  std::atomic<std::uint64_t> dropped_oldest;
};
static_assert(sizeof(ProducerSlot) <= kSlotBytes);

struct RecordHeader {
  std::atomic<std::uint64_t> position;     // commit word: equals the record's position when valid
  std::atomic<std::uint32_t> length_type;  // payload length (low 30 bits) | type << 30
  std::atomic<std::uint32_t> check;        // record_check(position, length_type, key)
};
static_assert(sizeof(RecordHeader) == kRecordHeaderBytes);

// The position part of a `tail` word (without kTailClosed).
constexpr std::uint64_t tail_position(std::uint64_t tail) {
  return tail & ~kTailClosed;
}

constexpr std::uint64_t align_up(std::uint64_t value, std::uint64_t alignment) {
  return (value + alignment - 1) & ~(alignment - 1);
}
constexpr std::uint32_t record_bytes(std::size_t payload) {
  return static_cast<std::uint32_t>(align_up(kRecordHeaderBytes + payload, kRecordAlignment));
}
constexpr std::uint32_t pack_length_type(std::uint32_t length, RecordType type) {
  return length | (static_cast<std::uint32_t>(type) << 30);
}
constexpr std::uint32_t record_check(std::uint64_t position, std::uint32_t length_type,
                                     std::uint64_t key) {
  std::uint64_t x = position ^ key ^ (std::uint64_t{length_type} << 17);
  x ^= x >> 33;
  x *= 0xff51afd7ed558ccdull;
  x ^= x >> 33;
  return static_cast<std::uint32_t>(x) | 1u;  // never 0: a zeroed header is never valid
}

std::uint64_t static_checksum(const StaticHeader& header);

struct SegmentGeometry {
  std::uint64_t capacity;
  std::uint32_t max_subscribers;
  std::uint32_t max_producers;
  std::uint64_t subscribers_offset;
  std::uint64_t producers_offset;
  std::uint64_t data_offset;
  std::uint64_t total_bytes;
};
// Rounds the capacity up to a power of two and lays out the tables; kInvalidArgument when the
// request cannot form a valid segment.
Result<SegmentGeometry> plan_geometry(std::uint64_t capacity, std::uint32_t max_message_size,
                                      std::uint32_t max_subscribers, std::uint32_t max_producers);

// Validates a header as found in a segment of file_size bytes. `bytes` is what could be read of
// the segment's start (at least sizeof(StaticHeader) to succeed). Errors are kCorrupted (not an
// ipcmesh segment or damaged), kIncompatible (another layout version).
Result<StaticHeader> validate_header(std::span<const std::byte> bytes, std::uint64_t file_size);

struct RecordView {
  RecordType type;
  std::uint32_t length;        // payload bytes
  std::uint32_t record_bytes;  // bytes the record occupies in the ring
};
// Decodes the record expected at `position` in a data region. Returns nullopt-like kNotFound
// while it is not committed, kCorrupted when a committed-looking header breaks the rules.
Result<RecordView> decode_record(std::uint64_t position, std::uint32_t length_type,
                                 std::uint32_t check, std::uint64_t stored_position,
                                 const StaticHeader& header);

}  // namespace ipcmesh::shm

namespace ipcmesh::shm {
// docs/protocol.md publishes these offsets; another implementation relies on them.
static_assert(offsetof(StaticHeader, capacity) == 24 && offsetof(StaticHeader, record_key) == 80 &&
              offsetof(StaticHeader, creator_host) == 96 &&
              offsetof(StaticHeader, static_checksum) == 160);
static_assert(offsetof(ControlBlock, state) == 168 && offsetof(ControlBlock, tail) == 192 &&
              offsetof(ControlBlock, data_futex) == 256 &&
              offsetof(ControlBlock, space_futex) == 320 && offsetof(ControlBlock, gaps) == 384 &&
              offsetof(ControlBlock, retired_dropped) == 432 &&
              offsetof(ControlBlock, reattached) == 440 &&
              offsetof(ControlBlock, coalescing_sleepers) == 448 &&
              offsetof(ControlBlock, wake_requested) == 452);
static_assert(offsetof(SubscriberSlot, cursor) == 8 &&
              offsetof(SubscriberSlot, delivered_bytes) == 40);
static_assert(offsetof(ProducerSlot, inflight_position) == 8 &&
              offsetof(ProducerSlot, dropped_oldest) == 48);
}  // namespace ipcmesh::shm
