// Keeps the relay alive when a ring it maps is truncated under it by a foreign program (a
// raw-mmap app pointed at the channel's name). The relay touches its rings from several threads:
// the metrics scrape, the bridges, reaping at start and at shutdown. It checks a ring's size
// before it uses it (rule F1 of docs/protocol.md), but a truncation between that check and an
// access still raises SIGBUS, whose default action kills the process.
//
// For the mappings it watches, the guard's SIGBUS handler replaces the faulting mapping with
// private zeroed memory that reads as a closed generation (ShmChannel::quarantine_mapping, rule
// F2) and returns: the access is repeated on that memory and succeeds, the watch says faulted(),
// and the relay stops using the ring at its next check. A SIGBUS anywhere else keeps its default
// action, a fault as well as one sent with kill: the process dies with SIGBUS (and a core).
//
// Why not sigsetjmp/siglongjmp around each access: the bridges run library code with non-trivial
// destructors between accesses (a Loan, a Result holding an Error); jumping over them is
// undefined behaviour and would leak ring slots. Why not pread(): the bridges and reaping write
// to the ring, and its counters are atomics read with atomic loads.
#pragma once

#include <cstddef>
#include <memory>
#include <span>

#include "ipcmesh/error.hpp"

namespace ipcmesh::relay {

class RingFaultGuard {
 public:
  // Installs the SIGBUS handler. One guard per process (the handler's table is process-wide):
  // a second install while one exists is kAlreadyExists.
  static Result<std::unique_ptr<RingFaultGuard>> install();
  ~RingFaultGuard();  // restores the SIGBUS action that was there before
  RingFaultGuard(const RingFaultGuard&) = delete;
  RingFaultGuard& operator=(const RingFaultGuard&) = delete;

  // One watched mapping; it is no longer watched once this is destroyed, which must happen
  // before the mapping is unmapped. Move-only.
  class Watch {
   public:
    Watch(Watch&& other) noexcept;
    Watch& operator=(Watch&& other) noexcept;
    Watch(const Watch&) = delete;
    Watch& operator=(const Watch&) = delete;
    ~Watch();
    // True once an access faulted and the mapping was quarantined.
    bool faulted() const;

   private:
    friend class RingFaultGuard;
    explicit Watch(int region) : region_(region) {}
    int region_ = -1;
  };

  // `mapping` must be a whole ring mapping (it starts at the ring's control block).
  // kLimitExceeded when every watch slot is taken.
  Result<Watch> watch(std::span<std::byte> mapping);

 private:
  RingFaultGuard() = default;
};

}  // namespace ipcmesh::relay
