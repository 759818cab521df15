// The verification stamp every benchmark message carries: a header (sequence number, size,
// magic and flags) at the front and a trailer derived from both at the back, so a receiver sees
// loss, reordering, truncation and torn writes. By default only these 24 bytes are written per
// message: a zero-copy transport writes them in place; a copying transport copies the whole
// buffer anyway. With fill (--fill-payload) the writer also fills every byte between them with a
// value derived from seq and flags it (kFlagFilled), and the reader checks every byte, so each
// transport moves and reads the whole payload.
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
inline constexpr std::uint32_t kFlagEnd = 0x1u;     // last message; its seq is the count sent
inline constexpr std::uint32_t kFlagFilled = 0x2u;  // the body is filled with fill_byte(seq)
// Fan-in: the sending producer's index in bits 8..15 of the flags, so that a subscriber of
// several producers checks each producer's sequence numbers on their own. Producer 0 (the only
// one of every pair measurement) leaves the flags as they were.
inline constexpr std::uint32_t kProducerShift = 8;
inline constexpr std::uint32_t kProducerMask = 0xff00u;
inline constexpr std::uint32_t kMaxStampProducers = (kProducerMask >> kProducerShift) + 1;
static_assert((kProducerMask & kStampMagicMask) == 0 &&
                  (kProducerMask & (kFlagEnd | kFlagFilled)) == 0,
              "the producer index shares the flags with nothing else");

inline std::uint32_t producer_flags(std::uint32_t producer) {
  return (producer << kProducerShift) & kProducerMask;
}
inline std::uint32_t producer_of(std::uint32_t flags) {
  return (flags & kProducerMask) >> kProducerShift;
}

struct Stamp {
  bool intact = false;  // header and trailer agree with each other and with the size received
  std::uint64_t seq = 0;
  std::uint32_t flags = 0;
};

inline std::uint64_t stamp_trailer(std::uint64_t seq, std::size_t size) {
  // Any bijective mix works; this one makes a stale trailer from another seq mismatch.
  return (seq * 0x9e3779b97f4a7c15ull) ^ static_cast<std::uint64_t>(size);
}

inline std::byte fill_byte(std::uint64_t seq) {
  return static_cast<std::byte>((seq * 131) ^ 0xa5);
}

inline void write_stamp(std::byte* data, std::size_t size, std::uint64_t seq, std::uint32_t flags,
                        bool fill = false) {
  if (fill) {
    flags |= kFlagFilled;
    std::memset(data + 16, static_cast<int>(fill_byte(seq)), size - kStampBytes);
  }
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
  if (stamp.intact && (stamp.flags & kFlagFilled) != 0) {
    // Every body byte, eight at a time: an OR of differences, which the compiler vectorizes.
    const auto want = static_cast<std::uint8_t>(fill_byte(stamp.seq));
    const std::uint64_t pattern = 0x0101010101010101ull * want;
    const std::byte* body = data.data() + 16;
    const std::size_t length = data.size() - kStampBytes;
    std::uint64_t diff = 0;
    std::size_t i = 0;
    for (; i + 8 <= length; i += 8) {
      std::uint64_t word;
      std::memcpy(&word, body + i, 8);
      diff |= word ^ pattern;
    }
    for (; i < length; ++i) diff |= static_cast<std::uint8_t>(body[i]) ^ want;
    stamp.intact = diff == 0;
  }
  stamp.flags &= ~kFlagFilled;
  return stamp;
}

// The send buffer of a copying transport: filled once, re-stamped per message, sent whole.
class MessageBuffer {
 public:
  MessageBuffer(std::size_t size, bool fill, std::size_t prefix = 0)
      : bytes_(prefix + size, std::byte{0x5a}), prefix_(prefix), fill_(fill) {}
  std::span<const std::byte> stamp(std::uint64_t seq, std::uint32_t flags) {
    write_stamp(bytes_.data() + prefix_, bytes_.size() - prefix_, seq, flags, fill_);
    return bytes_;
  }
  std::byte* data() { return bytes_.data(); }
  std::size_t size() const { return bytes_.size(); }

 private:
  std::vector<std::byte> bytes_;
  std::size_t prefix_;  // room for a transport's own framing (TCP length prefix)
  bool fill_;
};

}  // namespace ipcmesh::bench
