// The verification stamp every benchmark message carries: a header (sequence number, size,
// magic and flags) at the front and a trailer derived from both at the back, so a receiver sees
// loss, reordering, truncation and torn writes. Only these 24 bytes are written per message: a
// zero-copy transport writes them in place; a copying transport copies the whole buffer anyway.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <vector>

namespace ipcmesh::bench {

inline constexpr std::size_t kStampBytes = 24;  // smallest message the bench sends
inline constexpr std::uint32_t kStampMagic = 0x1b5c0000u;
inline constexpr std::uint32_t kStampMagicMask = 0xffff0000u;
inline constexpr std::uint32_t kFlagEnd = 0x1u;  // last message; its seq is the count sent

struct Stamp {
  bool intact = false;  // header and trailer agree with each other and with the size received
  std::uint64_t seq = 0;
  std::uint32_t flags = 0;
};

inline std::uint64_t stamp_trailer(std::uint64_t seq, std::size_t size) {
  // Any bijective mix works; this one makes a stale trailer from another seq mismatch.
  return (seq * 0x9e3779b97f4a7c15ull) ^ static_cast<std::uint64_t>(size);
}

inline void write_stamp(std::byte* data, std::size_t size, std::uint64_t seq, std::uint32_t flags) {
  const auto size32 = static_cast<std::uint32_t>(size);
  const std::uint32_t tag = kStampMagic | flags;
  const std::uint64_t trailer = stamp_trailer(seq, size);
  std::memcpy(data, &seq, 8);
  std::memcpy(data + 8, &size32, 4);
  std::memcpy(data + 12, &tag, 4);
  std::memcpy(data + size - 8, &trailer, 8);
}

inline Stamp read_stamp(std::span<const std::byte> data) {
  Stamp stamp;
  if (data.size() < kStampBytes) return stamp;
  std::uint32_t size32 = 0;
  std::uint32_t tag = 0;
  std::uint64_t trailer = 0;
  std::memcpy(&stamp.seq, data.data(), 8);
  std::memcpy(&size32, data.data() + 8, 4);
  std::memcpy(&tag, data.data() + 12, 4);
  std::memcpy(&trailer, data.data() + data.size() - 8, 8);
  stamp.flags = tag & ~kStampMagicMask;
  stamp.intact = (tag & kStampMagicMask) == kStampMagic && size32 == data.size() &&
                 trailer == stamp_trailer(stamp.seq, data.size());
  return stamp;
}

// The send buffer of a copying transport: filled once, re-stamped per message, sent whole.
class MessageBuffer {
 public:
  explicit MessageBuffer(std::size_t size, std::size_t prefix = 0)
      : bytes_(prefix + size, std::byte{0x5a}), prefix_(prefix) {}
  std::span<const std::byte> stamp(std::uint64_t seq, std::uint32_t flags) {
    write_stamp(bytes_.data() + prefix_, bytes_.size() - prefix_, seq, flags);
    return bytes_;
  }
  std::byte* data() { return bytes_.data(); }
  std::size_t size() const { return bytes_.size(); }

 private:
  std::vector<std::byte> bytes_;
  std::size_t prefix_;  // room for a transport's own framing (TCP length prefix)
};

}  // namespace ipcmesh::bench
