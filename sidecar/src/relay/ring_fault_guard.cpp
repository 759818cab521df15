#include "relay/ring_fault_guard.hpp"

#include <signal.h>

#include <array>
#include <atomic>
#include <cerrno>
#include <cstdint>

#include "ipcmesh/shm_channel.hpp"

namespace ipcmesh::relay {
namespace {

enum RegionState : std::uint32_t {
  kFree = 0,
  kClaiming,      // being filled in by watch()
  kArmed,         // watched
  kQuarantining,  // a handler is replacing the mapping right now
  kFaulted,       // replaced: every access succeeds on private memory
};

struct Region {
  std::atomic<std::uintptr_t> begin{0};
  std::atomic<std::size_t> bytes{0};
  std::atomic<std::uint32_t> state{kFree};
};

// A signal handler can only reach static storage: this table is the guard's, it is lock-free
// (atomics only) and the only mutable global of the relay. A relay hosts a handful of rings.
constexpr std::size_t kMaxRegions = 256;
std::array<Region, kMaxRegions> g_regions;
std::atomic<bool> g_installed{false};
struct sigaction g_previous {};

static_assert(std::atomic<std::uintptr_t>::is_always_lock_free &&
              std::atomic<std::uint32_t>::is_always_lock_free);

// Async-signal-safe: atomics, mmap (inside quarantine_mapping), sigaction and raise only.
void on_sigbus(int signal_number, siginfo_t* info, void*) {
  // si_code > 0: the kernel raised it for a faulting access; <= 0: kill(), tgkill(), sigqueue().
  if (info != nullptr && info->si_code > 0) {
    const auto address = reinterpret_cast<std::uintptr_t>(info->si_addr);
    for (Region& region : g_regions) {
      std::uint32_t state = region.state.load(std::memory_order_acquire);
      if (state < kArmed) continue;
      const std::uintptr_t begin = region.begin.load(std::memory_order_relaxed);
      const std::size_t bytes = region.bytes.load(std::memory_order_relaxed);
      if (address < begin || address - begin >= bytes) continue;
      if (state == kArmed &&
          region.state.compare_exchange_strong(state, kQuarantining, std::memory_order_acq_rel)) {
        const bool replaced =
            ShmChannel::quarantine_mapping({reinterpret_cast<std::byte*>(begin), bytes});
        region.state.store(replaced ? kFaulted : kArmed, std::memory_order_release);
        if (replaced) return;  // the faulting access is repeated on the private memory
        break;
      }
      // Another thread faulted on the same ring first: wait until it has replaced the mapping.
      while (region.state.load(std::memory_order_acquire) == kQuarantining) {
      }
      if (region.state.load(std::memory_order_acquire) == kFaulted) return;
      break;
    }
  }
  // Not a watched ring: behave as if there were no handler. A fault repeats on return and is then
  // fatal; a sent SIGBUS is blocked while this handler runs and is delivered when it returns.
  struct sigaction fallback {};
  fallback.sa_handler = SIG_DFL;
  sigemptyset(&fallback.sa_mask);
  sigaction(signal_number, &fallback, nullptr);
  if (info == nullptr || info->si_code <= 0) raise(signal_number);
}

}  // namespace

Result<std::unique_ptr<RingFaultGuard>> RingFaultGuard::install() {
  if (g_installed.exchange(true)) {
    return make_error(ErrorCode::kAlreadyExists, "a ring fault guard is installed already");
  }
  struct sigaction action {};
  action.sa_sigaction = on_sigbus;
  action.sa_flags = SA_SIGINFO;
  sigemptyset(&action.sa_mask);
  if (sigaction(SIGBUS, &action, &g_previous) != 0) {
    const int error = errno;
    g_installed = false;
    return tl::unexpected(system_error("sigaction(SIGBUS)", "ring fault guard", error));
  }
  return std::unique_ptr<RingFaultGuard>(new RingFaultGuard());
}

RingFaultGuard::~RingFaultGuard() {
  sigaction(SIGBUS, &g_previous, nullptr);
  g_installed = false;
}

Result<RingFaultGuard::Watch> RingFaultGuard::watch(std::span<std::byte> mapping) {
  for (std::size_t i = 0; i < g_regions.size(); ++i) {
    Region& region = g_regions[i];
    std::uint32_t expected = kFree;
    if (!region.state.compare_exchange_strong(expected, kClaiming, std::memory_order_acq_rel)) {
      continue;
    }
    region.begin.store(reinterpret_cast<std::uintptr_t>(mapping.data()), std::memory_order_relaxed);
    region.bytes.store(mapping.size(), std::memory_order_relaxed);
    region.state.store(kArmed, std::memory_order_release);  // the handler sees begin and bytes
    return Watch(static_cast<int>(i));
  }
  return make_error(ErrorCode::kLimitExceeded, "the ring fault guard watches " +
                                                   std::to_string(kMaxRegions) + " rings already");
}

RingFaultGuard::Watch::Watch(Watch&& other) noexcept : region_(std::exchange(other.region_, -1)) {}

RingFaultGuard::Watch& RingFaultGuard::Watch::operator=(Watch&& other) noexcept {
  if (this != &other) {
    this->~Watch();
    region_ = std::exchange(other.region_, -1);
  }
  return *this;
}

RingFaultGuard::Watch::~Watch() {
  if (region_ >= 0) g_regions[region_].state.store(kFree, std::memory_order_release);
}

bool RingFaultGuard::Watch::faulted() const {
  return region_ >= 0 && g_regions[region_].state.load(std::memory_order_acquire) == kFaulted;
}

}  // namespace ipcmesh::relay
