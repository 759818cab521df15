// A mapped channel segment: the fd, the mapping, the POSIX name, and the liveness locks, each
// held by its owner (channel/posix/), so that a segment given up half-made releases all of them.
#pragma once

#include <sys/types.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "channel/posix/liveness_lock.hpp"
#include "channel/posix/mapping.hpp"
#include "channel/posix/shm_name.hpp"
#include "channel/records.hpp"
#include "channel/shm_layout.hpp"
#include "ipcmesh/shm_channel.hpp"

namespace ipcmesh::shm {

using posix::NameTarget;

struct Segment {
  // Declared in the order they are released in reverse: the mapping goes first, then the fd (and
  // with it every OFD lock taken through it, the creator lock too), the name last.
  posix::ShmName owned_name;  // a creator's: unlinked on destruction unless released
  posix::UniqueFd fd;
  posix::Mapping mapping;
  std::string name;
  StaticHeader header{};  // validated private copy: the hot path never trusts shared fields
  // The object behind fd, to tell it from whatever the name refers to later (rule G4).
  posix::ObjectIdentity identity{};
  // Set once this process replaced its mapping with private memory (rule F2).
  mutable std::atomic<bool> quarantined{false};

  Segment() = default;
  Segment(const Segment&) = delete;
  Segment& operator=(const Segment&) = delete;

  std::byte* base() const { return mapping.data(); }
  ControlBlock& control() const { return *reinterpret_cast<ControlBlock*>(base()); }
  SubscriberSlot& subscriber(std::uint32_t i) const {
    return *reinterpret_cast<SubscriberSlot*>(base() + header.subscribers_offset + i * kSlotBytes);
  }
  ProducerSlot& producer(std::uint32_t i) const {
    return *reinterpret_cast<ProducerSlot*>(base() + header.producers_offset + i * kSlotBytes);
  }
  std::byte* data() const { return base() + header.data_offset; }
  // The data ring as the record algorithms see it (channel/records.hpp).
  RingView ring() const { return {data(), &header}; }

  // Open-file-description locks through the segment's own description (the creator lock).
  bool try_lock(std::int64_t offset) const { return posix::try_lock_byte(fd.get(), offset); }
  void unlock(std::int64_t offset) const { posix::unlock_byte(fd.get(), offset); }
  bool is_locked_by_other(std::int64_t offset) const {
    return posix::locked_by_other(fd.get(), offset);
  }

  // Slow-path checks that never touch the mapping (docs/protocol.md, F1 and G4).
  // The object's size is no longer the header's: someone truncated or grew it. Accessing the
  // mapping beyond the new end raises SIGBUS.
  bool resized(std::uint64_t* size_now = nullptr) const;
  NameTarget name_target() const { return posix::name_target(name, identity); }
  // Rule F2: replaces this process's mapping with private zeroed memory that reads as a closed,
  // superseded generation, so that no thread of this process faults on it any more and every
  // publisher and subscriber on it takes its slow path. Idempotent.
  void quarantine() const;
};

// The async-signal-safe core of Segment::quarantine, for a process that guards its mappings with
// a SIGBUS handler (the relay): `base` is the start of a segment mapping (its control block).
bool quarantine_mapping(void* base, std::size_t bytes) noexcept;

// Rule G1 on a mapped, valid segment: closes the tail, marks the segment superseded and wakes
// every sleeper, so that attached publishers and subscribers move to the next generation.
void close_generation(const Segment& segment);
// Bumps both futex words and wakes everyone asleep on them.
void wake_sleepers(const Segment& segment);

// What a channel handle (ShmChannel) and every Publisher and Subscriber attached through it
// share: the segment they use now. When the ring is replaced, whoever notices first opens the
// next generation and installs it here; the others follow, so that a process maps each
// generation once and the handle's stats() and wake_all() go where its peers went.
class ChannelLink {
 public:
  ChannelLink(std::shared_ptr<Segment> segment, bool follows);
  const std::string& name() const { return name_; }
  // False for a creator's handle (the relay): it is the authority and never follows a name.
  bool follows() const { return follows_; }
  std::shared_ptr<Segment> current() const;
  // The generation after `from`: the one a peer installed already, else the name opened now when
  // it refers to another valid, ready segment. kNotFound while there is none yet (the relay is
  // still creating it), other errors when the name refers to something that is not a channel.
  Result<std::shared_ptr<Segment>> successor(const std::shared_ptr<Segment>& from);
  // Wakes the sleepers of the current segment and of earlier ones still mapped (a subscriber may
  // still be draining one).
  void wake_all() const;

 private:
  const std::string name_;
  const bool follows_;
  mutable std::mutex mutex_;
  std::shared_ptr<Segment> current_;             // guarded by mutex_
  std::vector<std::weak_ptr<Segment>> earlier_;  // guarded by mutex_
};

Result<std::unique_ptr<Segment>> create_segment(const ShmChannelOptions& options);
Result<std::unique_ptr<Segment>> open_segment(std::string_view name);
// Takes over an existing, intact segment whose creator is gone and whose geometry and policy are
// the ones `options` would create: the creator lock and the name become this segment's, and
// everything in it (generation, records, attached peers) stays. kNotFound when there is none,
// kAlreadyExists while a live creator holds it, kIncompatible (what differs) when it does not
// match, kCorrupted when its header is damaged.
Result<std::unique_ptr<Segment>> adopt_segment(const ShmChannelOptions& options);

}  // namespace ipcmesh::shm
