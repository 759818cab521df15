// Records in the data ring (docs/protocol.md, section 1.5 and rule R2): reading the record at a
// position, committing a record header, and covering an abandoned or dead reservation with records
// readers skip. They see the ring as a plain buffer (RingView), so they are tested without a
// segment. read_record and write_record_header run once per message: they stay inline.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>

#include "channel/shm_layout.hpp"
#include "ipcmesh/error.hpp"

namespace ipcmesh::shm {

// The data ring as the record algorithms see it: `capacity` bytes (a power of two) at `data`,
// and the static header whose capacity, record key and maximum message size the records obey.
struct RingView {
  std::byte* data = nullptr;
  const StaticHeader* header = nullptr;

  RecordHeader& at(std::uint64_t position) const {
    return *reinterpret_cast<RecordHeader*>(data + (position & (header->capacity - 1)));
  }
  std::byte* payload(std::uint64_t position) const {
    return reinterpret_cast<std::byte*>(&at(position)) + kRecordHeaderBytes;
  }
  // Whether the record at `position` is committed, judged by the commit word alone (no acquire):
  // for a subscriber deciding whether it has caught up, where a stale answer only costs a batch.
  bool looks_committed(std::uint64_t position,
                       std::memory_order order = std::memory_order_relaxed) const {
    return at(position).position.load(order) == position;
  }
};

// Reads the record header expected at `position`. The acquire load of the commit word makes the
// payload written before the producer's release store visible (rule R2). kNotFound (with an
// empty message: a spinning subscriber hits it on every poll, and a text would allocate) while
// it is not committed; kCorrupted when a committed-looking header breaks the rules.
inline Result<RecordView> read_record(const RingView& ring, std::uint64_t position) {
  RecordHeader& record = ring.at(position);
  const std::uint64_t stored = record.position.load(std::memory_order_acquire);
  if (stored != position) return make_error(ErrorCode::kNotFound, "");
  const std::uint32_t length_type = record.length_type.load(std::memory_order_relaxed);
  const std::uint32_t check = record.check.load(std::memory_order_relaxed);
  return decode_record(position, length_type, check, stored, *ring.header);
}

// Writes a record's header and commits it: length and check first (relaxed), the commit word
// last with `commit_order` (release; seq_cst for data records unless rule W1c allows release).
inline void write_record_header(const RingView& ring, std::uint64_t position, std::uint32_t length,
                                RecordType type,
                                std::memory_order commit_order = std::memory_order_release) {
  RecordHeader& record = ring.at(position);
  const std::uint32_t length_type = pack_length_type(length, type);
  record.length_type.store(length_type, std::memory_order_relaxed);
  record.check.store(record_check(position, length_type, ring.header->record_key),
                     std::memory_order_relaxed);
  record.position.store(position, commit_order);  // commit (rule R2)
}

// Covers [from, to) with records that readers skip: padding up to the ring's end when the range
// wraps, a gap record for the rest, never touching records already committed in it (the padding
// a producer wrote before its record). Used for abandoned loans and dead producers' reservations
// (rule L3).
void fill_with_gap(const RingView& ring, std::uint64_t from, std::uint64_t to);

}  // namespace ipcmesh::shm
