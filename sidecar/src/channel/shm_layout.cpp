#include "channel/shm_layout.hpp"

#include <bit>
#include <cstring>
#include <string>

namespace ipcmesh::shm {

std::uint64_t static_checksum(const StaticHeader& header) {
  // FNV-1a over every byte before the checksum field itself.
  const auto* bytes = reinterpret_cast<const unsigned char*>(&header);
  std::uint64_t hash = 0xcbf29ce484222325ull;
  for (std::size_t i = 0; i < offsetof(StaticHeader, static_checksum); ++i) {
    hash = (hash ^ bytes[i]) * 0x100000001b3ull;
  }
  return hash;
}

Result<SegmentGeometry> plan_geometry(std::uint64_t capacity, std::uint32_t max_message_size,
                                      std::uint32_t max_subscribers, std::uint32_t max_producers) {
  if (capacity < kMinCapacity || capacity > kMaxCapacity) {
    return make_error(ErrorCode::kInvalidArgument,
                      "ring capacity " + std::to_string(capacity) + " bytes is outside [" +
                          std::to_string(kMinCapacity) + ", " + std::to_string(kMaxCapacity) + "]");
  }
  const std::uint64_t rounded = std::bit_ceil(capacity);
  if (max_message_size == 0 || max_message_size >= (1u << 30) ||
      record_bytes(max_message_size) > rounded / 2) {
    return make_error(ErrorCode::kInvalidArgument,
                      "maxMessageSize " + std::to_string(max_message_size) +
                          " does not fit a ring of " + std::to_string(rounded) +
                          " bytes (a record must fit in half the ring)");
  }
  if (max_subscribers == 0 || max_subscribers > kMaxSlots || max_producers == 0 ||
      max_producers > kMaxSlots) {
    return make_error(ErrorCode::kInvalidArgument, "subscriber and producer tables hold 1.." +
                                                       std::to_string(kMaxSlots) + " slots");
  }
  SegmentGeometry g{};
  g.capacity = rounded;
  g.max_subscribers = max_subscribers;
  g.max_producers = max_producers;
  g.subscribers_offset = kControlBlockBytes;
  g.producers_offset = g.subscribers_offset + std::uint64_t{max_subscribers} * kSlotBytes;
  g.data_offset =
      align_up(g.producers_offset + std::uint64_t{max_producers} * kSlotBytes, kPageSize);
  g.total_bytes = g.data_offset + rounded;
  return g;
}

Result<StaticHeader> validate_header(std::span<const std::byte> bytes, std::uint64_t file_size) {
  if (bytes.size() < sizeof(StaticHeader) || file_size < kControlBlockBytes) {
    return make_error(ErrorCode::kCorrupted, "segment of " + std::to_string(file_size) +
                                                 " bytes is too small to hold an ipcmesh header");
  }
  StaticHeader h;
  std::memcpy(&h, bytes.data(), sizeof h);
  if (h.magic != kMagic) {
    return make_error(ErrorCode::kCorrupted, "not an ipcmesh channel (bad magic)");
  }
  if (h.layout_version != kLayoutVersion) {
    return make_error(ErrorCode::kIncompatible,
                      "layout version " + std::to_string(h.layout_version) +
                          ", this library reads version " + std::to_string(kLayoutVersion));
  }
  if (h.static_checksum != static_checksum(h)) {
    return make_error(ErrorCode::kCorrupted, "header checksum mismatch (damaged header)");
  }
  auto planned = plan_geometry(h.capacity, h.max_message_size, h.max_subscribers, h.max_producers);
  if (!planned) {
    return make_error(ErrorCode::kCorrupted,
                      "header describes an impossible ring: " + planned.error().message);
  }
  const SegmentGeometry& g = *planned;
  if (g.capacity != h.capacity || g.subscribers_offset != h.subscribers_offset ||
      g.producers_offset != h.producers_offset || g.data_offset != h.data_offset ||
      g.total_bytes != h.total_bytes || h.control_block_bytes != kControlBlockBytes) {
    return make_error(ErrorCode::kCorrupted, "header geometry is inconsistent");
  }
  if (h.total_bytes != file_size) {
    return make_error(ErrorCode::kCorrupted, "header says " + std::to_string(h.total_bytes) +
                                                 " bytes, the segment has " +
                                                 std::to_string(file_size));
  }
  if (h.policy > static_cast<std::uint32_t>(SlowConsumerPolicy::kDropNewest)) {
    return make_error(ErrorCode::kCorrupted,
                      "unknown slow-consumer policy " + std::to_string(h.policy));
  }
  h.creator_host[sizeof h.creator_host - 1] = '\0';
  return h;
}

Result<RecordView> decode_record(std::uint64_t position, std::uint32_t length_type,
                                 std::uint32_t check, std::uint64_t stored_position,
                                 const StaticHeader& header) {
  if (stored_position != position ||
      check != record_check(position, length_type, header.record_key)) {
    return make_error(ErrorCode::kNotFound, "record not committed");
  }
  const std::uint32_t type_bits = length_type >> 30;
  const std::uint32_t length = length_type & ((1u << 30) - 1);
  const std::uint64_t offset = position & (header.capacity - 1);
  if (offset % kRecordAlignment != 0) {
    return make_error(ErrorCode::kCorrupted, "record position is not aligned");
  }
  RecordView view{static_cast<RecordType>(type_bits), length, record_bytes(length)};
  switch (view.type) {
    case RecordType::kData:
    case RecordType::kGap:
      // A gap covers a whole dead reservation, so it may use the alignment slack of the largest
      // record as well.
      if ((view.type == RecordType::kData
               ? length > header.max_message_size
               : view.record_bytes > record_bytes(header.max_message_size)) ||
          offset + view.record_bytes > header.capacity) {
        return make_error(ErrorCode::kCorrupted, "record length " + std::to_string(length) +
                                                     " breaks the channel's limits");
      }
      return view;
    case RecordType::kPadding:
      if (offset + view.record_bytes != header.capacity) {
        return make_error(ErrorCode::kCorrupted, "padding record does not end at the ring's end");
      }
      return view;
  }
  return make_error(ErrorCode::kCorrupted, "unknown record type " + std::to_string(type_bits));
}

}  // namespace ipcmesh::shm
