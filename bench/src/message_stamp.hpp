// The verification stamp every benchmark message carries: a header (sequence number, size,
// magic and flags) at the front and a trailer derived from both at the back, so a receiver sees
// loss, reordering, truncation and torn writes. By default only these 24 bytes are written per
// message: a zero-copy transport writes them in place; a copying transport copies the whole
// buffer anyway. With fill (--fill-payload) the writer also fills every byte between them with a
// value derived from seq and flags it (kFlagFilled), and the reader checks every byte, so each
// transport moves and reads the whole payload.
//
// A timed message (kFlagTimed, the paced measurements) also carries its send time in the 8 bytes
// after the header, which the stamp otherwise leaves to the payload; the fill then starts after
// it. The writer reads the clock itself, after any fill and after the transport gave it the
// buffer (a loan that waited for room), so the time is the moment the message was handed over,
// the same in every transport.
#pragma once

#include <time.h>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <vector>

namespace ipcmesh::bench {

inline constexpr std::size_t kStampHeaderBytes = 16;  // seq, size, magic and flags
inline constexpr std::size_t kStampTrailerBytes = 8;
inline constexpr std::size_t kStampBytes =  // smallest message the bench sends
    kStampHeaderBytes + kStampTrailerBytes;
inline constexpr std::size_t kSendTimeBytes = 8;  // at kStampHeaderBytes, in a timed message
inline constexpr std::size_t kTimedStampBytes = kStampBytes + kSendTimeBytes;
inline constexpr std::uint32_t kStampMagic = 0x1b5c0000u;
inline constexpr std::uint32_t kStampMagicMask = 0xffff0000u;
inline constexpr std::uint32_t kFlagEnd = 0x1u;     // last message; its seq is the count sent
inline constexpr std::uint32_t kFlagFilled = 0x2u;  // the body is filled with fill_byte(seq)
inline constexpr std::uint32_t kFlagTimed = 0x4u;   // the send time follows the header
// Fan-in: the sending producer's index in bits 8..15 of the flags, so that a subscriber of
// several producers checks each producer's sequence numbers on their own. Producer 0 (the only
// one of every pair measurement) leaves the flags as they were.
inline constexpr std::uint32_t kProducerShift = 8;
inline constexpr std::uint32_t kProducerMask = 0xff00u;
inline constexpr std::uint32_t kMaxStampProducers = (kProducerMask >> kProducerShift) + 1;
static_assert((kProducerMask & kStampMagicMask) == 0 &&
                  (kProducerMask & (kFlagEnd | kFlagFilled | kFlagTimed)) == 0,
              "the producer index shares the flags with nothing else");

inline std::uint32_t producer_flags(std::uint32_t producer) {
  return (producer << kProducerShift) & kProducerMask;
}
inline std::uint32_t producer_of(std::uint32_t flags) {
  return (flags & kProducerMask) >> kProducerShift;
}

// CLOCK_MONOTONIC in nanoseconds: one clock for every process on the machine, so a receiver can
// subtract a sender's time from its own.
inline std::uint64_t monotonic_ns() {
  timespec now{};
  clock_gettime(CLOCK_MONOTONIC, &now);
  return static_cast<std::uint64_t>(now.tv_sec) * 1'000'000'000u +
         static_cast<std::uint64_t>(now.tv_nsec);
}

struct Stamp {
  bool intact = false;  // header and trailer agree with each other and with the size received
  std::uint64_t seq = 0;
  std::uint32_t flags = 0;    // as sent, without kFlagFilled and kFlagTimed
  std::uint64_t sent_ns = 0;  // a timed message's send time (monotonic_ns()), else 0
};

inline std::uint64_t stamp_trailer(std::uint64_t seq, std::size_t size) {
  // Any bijective mix works; this one makes a stale trailer from another seq mismatch.
  return (seq * 0x9e3779b97f4a7c15ull) ^ static_cast<std::uint64_t>(size);
}

inline std::byte fill_byte(std::uint64_t seq) {
  return static_cast<std::byte>((seq * 131) ^ 0xa5);
}

// Where the filled body starts: after the header, and after the send time when there is one.
inline std::size_t body_offset(std::uint32_t flags) {
  return kStampHeaderBytes + ((flags & kFlagTimed) != 0 ? kSendTimeBytes : 0);
}

// With kFlagTimed in flags, size must be at least kTimedStampBytes.
inline void write_stamp(std::byte* data, std::size_t size, std::uint64_t seq, std::uint32_t flags,
                        bool fill = false) {
  const std::size_t body = body_offset(flags);
  if (fill) {
    flags |= kFlagFilled;
    std::memset(data + body, static_cast<int>(fill_byte(seq)), size - body - kStampTrailerBytes);
  }
  const auto size32 = static_cast<std::uint32_t>(size);
  const std::uint32_t tag = kStampMagic | flags;
  const std::uint64_t trailer = stamp_trailer(seq, size);
  std::memcpy(data, &seq, 8);
  std::memcpy(data + 8, &size32, 4);
  std::memcpy(data + 12, &tag, 4);
  std::memcpy(data + size - kStampTrailerBytes, &trailer, kStampTrailerBytes);
  if ((flags & kFlagTimed) != 0) {
    const std::uint64_t now = monotonic_ns();  // last: the fill is not part of the trip
    std::memcpy(data + kStampHeaderBytes, &now, kSendTimeBytes);
  }
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
  std::memcpy(&trailer, data.data() + data.size() - kStampTrailerBytes, kStampTrailerBytes);
  stamp.flags = tag & ~kStampMagicMask;
  stamp.intact = (tag & kStampMagicMask) == kStampMagic && size32 == data.size() &&
                 trailer == stamp_trailer(stamp.seq, data.size());
  const std::size_t body_at = body_offset(stamp.flags);
  if ((stamp.flags & kFlagTimed) != 0) {
    if (data.size() < kTimedStampBytes) stamp.intact = false;  // no room for a send time
    if (stamp.intact) std::memcpy(&stamp.sent_ns, data.data() + kStampHeaderBytes, kSendTimeBytes);
  }
  if (stamp.intact && (stamp.flags & kFlagFilled) != 0) {
    // Every body byte, eight at a time: an OR of differences, which the compiler vectorizes.
    const auto want = static_cast<std::uint8_t>(fill_byte(stamp.seq));
    const std::uint64_t pattern = 0x0101010101010101ull * want;
    const std::byte* body = data.data() + body_at;
    const std::size_t length = data.size() - body_at - kStampTrailerBytes;
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
  stamp.flags &= ~(kFlagFilled | kFlagTimed);
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
