// Generations and damaged rings (docs/protocol.md, sections 5 and 6): noticing that this
// process's ring was resized (F1, F2), that its name now refers to another ring (G4), and waiting
// for the next generation to move to (G2, G3). Slow paths only.
#pragma once

#include <atomic>
#include <chrono>
#include <memory>
#include <string_view>

#include "channel/deadline.hpp"
#include "channel/shm_segment.hpp"

namespace ipcmesh::shm {

// Rule F1: a segment whose size is no longer its header's (a foreign program truncated it) must
// not be touched again; this process's mapping is quarantined (rule F2) so that no thread of it
// faults on it, and the caller reports kCorrupted, which names both sizes. `who` says whose view
// it is: "publisher", "subscriber", "creator", "process".
Result<void> ensure_intact(const Segment& segment, std::string_view who);

// Rule G4: the name refers to another valid ring while nobody closed ours (its replacement
// could not mark it). Closing it here moves every process still on it, not only this one.
void close_if_replaced(ChannelLink& link, const std::shared_ptr<Segment>& segment);

// Waits for the relay to create the generation after `from` (rules G2, G3): kNotFound is retried
// until the deadline, with growing pauses; `cancel` (if any) ends the wait. kWouldBlock when
// `timeout` is zero, kTimeout otherwise, kCancelled, and kCorrupted for a creator's handle, which
// never follows its name.
Result<std::shared_ptr<Segment>> wait_for_successor(ChannelLink& link,
                                                    const std::shared_ptr<Segment>& from,
                                                    Clock::time_point deadline,
                                                    std::chrono::nanoseconds timeout,
                                                    const std::atomic<bool>* cancel);

}  // namespace ipcmesh::shm
