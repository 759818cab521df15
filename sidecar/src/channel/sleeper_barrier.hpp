// Rule W1c (docs/protocol.md): the heavy half of an asymmetric Dekker pair between a committing
// producer and a subscriber going to sleep. A producer commits with a plain release store (no
// locked instruction on the data path) and loads sleeping_subscribers; a sleeper, after it has
// announced itself, makes every thread of every producer process that registered pass a full
// memory barrier (membarrier(2), MEMBARRIER_CMD_GLOBAL_EXPEDITED) before it re-checks the ring.
// So either the producer's commit is visible to the re-check, or the producer's load comes after
// the barrier and sees the sleeper. Sleeps are rare and already cost a futex call; commits are
// on every message. Containers may refuse the call (a seccomp profile): every function then says
// false and its caller keeps the symmetric pair of rule W1 (seq_cst commits).
#pragma once

namespace ipcmesh::shm {

// A producer process asks to be covered by sleepers' barriers. Idempotent; false when refused.
bool register_for_sleeper_barriers() noexcept;

// Whether this process can issue the barrier: the kernel offers it and a first call succeeds.
bool sleeper_barrier_available() noexcept;

// Every running thread of every registered process executes a full memory barrier before this
// returns (threads not running passed one when they were switched out). False on failure.
bool sleeper_barrier() noexcept;

}  // namespace ipcmesh::shm
