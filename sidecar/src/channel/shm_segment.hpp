// A mapped channel segment: the fd, the mapping, the POSIX name, and the liveness locks.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

#include "channel/shm_layout.hpp"
#include "ipcmesh/shm_channel.hpp"

namespace ipcmesh::shm {

struct Segment {
  int fd = -1;
  void* base = nullptr;
  std::uint64_t mapped_bytes = 0;
  std::string name;
  bool owns_name = false;  // creator: unlink on destruction
  StaticHeader header{};   // validated private copy: the hot path never trusts shared fields

  ~Segment();
  Segment() = default;
  Segment(const Segment&) = delete;
  Segment& operator=(const Segment&) = delete;

  ControlBlock& control() const { return *static_cast<ControlBlock*>(base); }
  SubscriberSlot& subscriber(std::uint32_t i) const {
    return *reinterpret_cast<SubscriberSlot*>(static_cast<std::byte*>(base) +
                                              header.subscribers_offset + i * kSlotBytes);
  }
  ProducerSlot& producer(std::uint32_t i) const {
    return *reinterpret_cast<ProducerSlot*>(static_cast<std::byte*>(base) +
                                            header.producers_offset + i * kSlotBytes);
  }
  std::byte* data() const { return static_cast<std::byte*>(base) + header.data_offset; }
  RecordHeader& record_at(std::uint64_t position) const {
    return *reinterpret_cast<RecordHeader*>(data() + (position & (header.capacity - 1)));
  }

  // Open-file-description locks: held by a live owner, released by the kernel when it dies.
  bool try_lock(std::int64_t offset) const;
  void unlock(std::int64_t offset) const;
  bool is_locked_by_other(std::int64_t offset) const;
};

// The same locks through another open file description (each Publisher and Subscriber has its
// own, so that a checker in the same process still sees them as someone else's).
bool lock_byte(int fd, std::int64_t offset);
void unlock_byte(int fd, std::int64_t offset);
bool locked_by_other(int fd, std::int64_t offset);
// A new open file description of the segment's file (not a dup: dup shares locks).
Result<int> reopen_description(const Segment& segment);

Result<std::unique_ptr<Segment>> create_segment(const ShmChannelOptions& options);
Result<std::unique_ptr<Segment>> open_segment(std::string_view name);
// Takes over an existing, intact segment whose creator is gone and whose geometry and policy are
// the ones `options` would create: the creator lock and the name become this segment's, and
// everything in it (generation, records, attached peers) stays. kNotFound when there is none,
// kAlreadyExists while a live creator holds it, kIncompatible (what differs) when it does not
// match, kCorrupted when its header is damaged.
Result<std::unique_ptr<Segment>> adopt_segment(const ShmChannelOptions& options);

}  // namespace ipcmesh::shm
