// spsc-floor: the machine's floor, not a product. A bare single-producer single-consumer ring in
// shared memory between the same two pinned processes, timed and verified by the same harness as
// every transport (each message's stamp written in its slot and checked by the reader), so the
// other rows can be read as fractions of what the hardware does with nothing on top: no
// multi-producer reservation (CAS), no per-subscriber cursors, no futex, no crash safety, no
// variable-size records. Whatever a product adds costs something relative to this row.
//
// One ring: two indices, each in a 128-byte block of its own, and a power-of-two array of
// fixed-size slots. The producer owns `tail` (next slot to write) and the consumer `head` (next
// slot to read). Each side keeps a cached copy of the other's index and reads the shared one
// only when the cached value says the ring is full (producer) or empty (consumer), so in steady
// state each index cache line moves between the cores once per batch, not once per message.
// Both sides busy-poll. Ping-pong uses two rings (a->b, b->a), as ipcmesh-shm uses two channels.
#include <sys/mman.h>

#include <atomic>
#include <bit>
#include <cerrno>
#include <cstring>
#include <new>

#include "transport.hpp"
#include "transport_factories.hpp"

namespace ipcmesh::bench {
namespace {

constexpr std::size_t kSlotAlignment = 64;  // a slot never shares a cache line with another

// The shared indices of one ring, at the start of its part of the mapping. 128-byte blocks, not
// 64: the adjacent-line prefetcher fetches cache lines in pairs, so indices one line apart would
// still bounce together between the producer's and the consumer's core.
struct RingIndices {
  alignas(128) std::atomic<std::uint64_t> head{0};  // written by the consumer only
  alignas(128) std::atomic<std::uint64_t> tail{0};  // written by the producer only
};
static_assert(std::atomic<std::uint64_t>::is_always_lock_free, "cross-process atomics");
static_assert(sizeof(RingIndices) == 256);

inline void cpu_relax() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  asm volatile("yield" ::: "memory");
#endif
}

struct RingGeometry {
  std::size_t slot_bytes;  // message size rounded up to kSlotAlignment
  std::uint64_t slots;     // a power of two, so a position maps to a slot with a mask
  // Bytes from one ring's indices to the next ring's: rounded up so that every ring's indices
  // keep their 128-byte alignment in the page-aligned mapping.
  std::size_t stride() const {
    const std::size_t bytes = sizeof(RingIndices) + slots * slot_bytes;
    return (bytes + alignof(RingIndices) - 1) / alignof(RingIndices) * alignof(RingIndices);
  }
};

RingGeometry geometry_for(std::size_t message_size) {
  const std::size_t slot_bytes =
      (message_size + kSlotAlignment - 1) / kSlotAlignment * kSlotAlignment;
  // The same data budget as the other shared-memory rows (ring_bytes_for), in whole slots.
  return {slot_bytes, std::bit_floor(ring_bytes_for(message_size) / slot_bytes)};
}

// One ring as a process sees it in the mapping. Position p lives in slot p & (slots - 1).
struct Ring {
  RingIndices* indices;
  std::byte* slots;
  RingGeometry geometry;
  std::byte* slot(std::uint64_t position) const {
    return slots + (position & (geometry.slots - 1)) * geometry.slot_bytes;
  }
};

class FloorEndpoint final : public Endpoint {
 public:
  FloorEndpoint(const Ring* out, const Ring* in, std::size_t size, bool fill)
      : out_(out), in_(in), size_(size), fill_(fill) {}

  Result<void> send(std::uint64_t seq, std::uint32_t flags) override {
    const Ring& ring = *out_;
    // Full when the consumer is a whole ring behind. Re-read its head only then; acquire pairs
    // with its release store, so its reads of the slot we are about to reuse are finished.
    while (tail_ - cached_head_ >= ring.geometry.slots) {
      cached_head_ = ring.indices->head.load(std::memory_order_acquire);
      if (tail_ - cached_head_ >= ring.geometry.slots) cpu_relax();
    }
    write_stamp(ring.slot(tail_), size_, seq, flags, fill_);
    ++tail_;
    // Release: the stamp's bytes are visible before the consumer can see the new tail.
    ring.indices->tail.store(tail_, std::memory_order_release);
    return {};
  }

  Result<Stamp> receive() override {
    const Ring& ring = *in_;
    // Empty when the producer has not moved past our head. Re-read its tail only then; acquire
    // pairs with its release store, so the slot's bytes are complete when we read them.
    while (head_ == cached_tail_) {
      cached_tail_ = ring.indices->tail.load(std::memory_order_acquire);
      if (head_ == cached_tail_) cpu_relax();
    }
    const Stamp stamp = read_stamp({ring.slot(head_), size_});
    ++head_;
    // Release: our reads of the slot are done before the producer may overwrite it.
    ring.indices->head.store(head_, std::memory_order_release);
    return stamp;
  }

 private:
  const Ring* out_;  // null when this side only receives
  const Ring* in_;   // null when this side only sends
  std::size_t size_;
  bool fill_;
  // Each side starts on an empty ring (positions 0) that nobody has used: the Link is new.
  std::uint64_t tail_ = 0;         // producer: next position to write
  std::uint64_t cached_head_ = 0;  // producer: the consumer's head when last read
  std::uint64_t head_ = 0;         // consumer: next position to read
  std::uint64_t cached_tail_ = 0;  // consumer: the producer's tail when last read
};

// The rings live in one anonymous shared mapping made before the fork, so both sides inherit it
// at the same address: no name, no open, nothing to unlink. Unmapped when the Link goes.
class FloorLink final : public Link {
 public:
  FloorLink(void* mapping, std::size_t mapping_bytes, std::vector<Ring> rings, std::size_t size,
            bool fill)
      : mapping_(mapping),
        mapping_bytes_(mapping_bytes),
        rings_(std::move(rings)),
        size_(size),
        fill_(fill) {}
  ~FloorLink() override { munmap(mapping_, mapping_bytes_); }
  FloorLink(const FloorLink&) = delete;
  FloorLink& operator=(const FloorLink&) = delete;

  Result<std::unique_ptr<Endpoint>> open(Side side) override {
    // A writes ring 0 (a->b) and reads ring 1 (b->a); B the reverse. Streaming has only ring 0.
    const std::size_t out = side == Side::kA ? 0 : 1;
    const std::size_t in = side == Side::kA ? 1 : 0;
    const Ring* out_ring = out < rings_.size() ? &rings_[out] : nullptr;
    const Ring* in_ring = in < rings_.size() ? &rings_[in] : nullptr;
    return std::make_unique<FloorEndpoint>(out_ring, in_ring, size_, fill_);
  }

  nlohmann::json config() const override {
    const RingGeometry& geometry = rings_.front().geometry;
    return {{"reference",
             "not a product: the physical floor of this machine (bare SPSC ring, cached indices, "
             "no multi-producer CAS, no broadcast cursors, no crash safety)"},
            {"rings", rings_.size()},
            {"slot_bytes", geometry.slot_bytes},
            {"slots", geometry.slots},
            {"ring_bytes", geometry.slots * geometry.slot_bytes},
            {"wait", "busy poll both sides (cpu pause)"},
            {"memory", "MAP_SHARED|MAP_ANONYMOUS, pre-faulted, inherited across fork"}};
  }

 private:
  void* mapping_;
  std::size_t mapping_bytes_;
  std::vector<Ring> rings_;  // pointers into mapping_
  std::size_t size_;
  bool fill_;
};

class FloorTransport final : public Transport {
 public:
  std::string_view name() const override { return "spsc-floor"; }
  std::string_view description() const override {
    return "reference, not a product: bare single-producer single-consumer shared-memory ring "
           "(cached indices, busy poll), the floor the other rows are fractions of";
  }

  Result<std::unique_ptr<Link>> prepare(const LinkSpec& spec) override {
    const RingGeometry geometry = geometry_for(spec.message_size);
    const std::size_t count = spec.pattern == Pattern::kPingPong ? 2 : 1;
    const std::size_t bytes = count * geometry.stride();
    // MAP_POPULATE: pre-fault every page in the parent, as ipcmesh's rings are pre-touched at
    // create, so that no measurement pays first-touch page faults the others do not.
    void* mapping = mmap(nullptr, bytes, PROT_READ | PROT_WRITE,
                         MAP_SHARED | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
    if (mapping == MAP_FAILED) {
      return tl::unexpected(
          system_error("mmap(MAP_SHARED|MAP_ANONYMOUS)", std::to_string(bytes) + " bytes", errno));
    }
    std::vector<Ring> rings;
    auto* base = static_cast<std::byte*>(mapping);
    for (std::size_t i = 0; i < count; ++i) {
      std::byte* start = base + i * geometry.stride();
      rings.push_back({new (start) RingIndices(), start + sizeof(RingIndices), geometry});
    }
    return std::make_unique<FloorLink>(mapping, bytes, std::move(rings), spec.message_size,
                                       spec.fill_payload);
  }
};

}  // namespace

std::unique_ptr<Transport> make_spsc_floor_transport() {
  return std::make_unique<FloorTransport>();
}

}  // namespace ipcmesh::bench
