// Who wakes whom (docs/protocol.md, rules W1, W1b and W2). A commit makes no system call while
// no subscriber sleeps, and a wake-up is never lost: each side stores, then loads the other's
// word with seq_cst (a Dekker pair). Inline: the committer's check runs once per message.
#pragma once

#include <atomic>
#include <cstdint>

#include "channel/futex.hpp"
#include "channel/shm_layout.hpp"

namespace ipcmesh::shm {

// Bumps a futex word (so a sleeper that loaded it before cannot sleep on it) and wakes everyone
// asleep on it.
inline void wake(std::atomic<std::uint32_t>& futex_word) {
  futex_word.fetch_add(1, std::memory_order_release);
  futex_wake_all(futex_word);
}

// A committer found sleeping_subscribers != 0 (rule W1). Rule W1b: sleepers that coalesce asked
// for one wake-up with wake_requested, and a woken one that has not run yet (a shared core) asks
// nothing, so a fast producer does not make a FUTEX_WAKE per message. A sleeper that does not
// follow W1b (an older build) shows as more sleepers than coalescing ones and is woken on every
// commit, as W1 says. Reading coalescing_sleepers before sleeping_subscribers, against sleepers
// that increment them in the other order, can only overstate the old sleepers.
inline void wake_data_sleepers(ControlBlock& control) {
  const std::uint32_t coalescing = control.coalescing_sleepers.load(std::memory_order_seq_cst);
  const std::uint32_t sleeping = control.sleeping_subscribers.load(std::memory_order_seq_cst);
  if (sleeping > coalescing ||
      (control.wake_requested.load(std::memory_order_relaxed) != 0 &&
       control.wake_requested.exchange(0, std::memory_order_seq_cst) != 0)) {
    wake(control.data_futex);
  }
}

// Rule W1, the committer's half: after a seq_cst commit (or a release one under rule W1c, the
// sleeper's barrier standing in for the fence), a seq_cst load of the sleepers' count.
inline void wake_after_commit(ControlBlock& control) {
  if (control.sleeping_subscribers.load(std::memory_order_seq_cst) != 0) {
    wake_data_sleepers(control);
  }
}

// Rule W2, the subscriber's half: after a seq_cst store of its cursor (or the free slot of one
// that leaves), a seq_cst load of the blocked producers' count.
inline void wake_blocked_producers(ControlBlock& control) {
  if (control.blocked_producers.load(std::memory_order_seq_cst) != 0) wake(control.space_futex);
}

}  // namespace ipcmesh::shm
