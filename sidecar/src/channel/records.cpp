#include "channel/records.hpp"

namespace ipcmesh::shm {

void fill_with_gap(const RingView& ring, std::uint64_t from, std::uint64_t to) {
  const std::uint64_t capacity = ring.header->capacity;
  std::uint64_t position = from;
  while (position < to) {
    if (auto committed = read_record(ring, position)) {
      position += committed->record_bytes;
      continue;
    }
    const std::uint64_t offset = position & (capacity - 1);
    if (offset + (to - position) > capacity) {
      const std::uint64_t pad = capacity - offset;
      write_record_header(ring, position, static_cast<std::uint32_t>(pad - kRecordHeaderBytes),
                          RecordType::kPadding);
      position += pad;
    } else {
      write_record_header(ring, position,
                          static_cast<std::uint32_t>(to - position - kRecordHeaderBytes),
                          RecordType::kGap);
      position = to;
    }
  }
}

}  // namespace ipcmesh::shm
