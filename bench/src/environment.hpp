// The machine and kernel settings a run depends on: a private IPC namespace with mqueue limits
// raised for 64 KiB messages (so the host's limits are never touched), the cores the two sides
// are pinned to, and the facts about the machine recorded in the report.
#pragma once

#include <cstddef>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace ipcmesh::bench {

// Enters a private IPC namespace when asked and allowed (root), raises fs.mqueue.msgsize_max to
// max_message_size and fs.mqueue.msg_max to the bench's queue depth there, lifts
// RLIMIT_MSGQUEUE, and returns what was done and the limits in force.
nlohmann::json prepare_ipc_environment(bool private_namespace, std::size_t max_message_size);

// The queue depth the mqueue transports use for `queues` queues of `message_size` bytes: 64, or
// less when fs.mqueue.msg_max is lower or RLIMIT_MSGQUEUE (bytes per user, shared with every
// other process of this uid) could not be lifted and would not hold them.
long bench_queue_depth(std::size_t message_size, int queues);
// "fs.mqueue.msg_max=64, fs.mqueue.msgsize_max=65536, RLIMIT_MSGQUEUE=unlimited"
std::string describe_mqueue_limits();

// nproc, kernel, CPU model, load average, compiler.
nlohmann::json machine_info();
std::string load_average();  // "0.35 0.21 0.10"
std::string utc_now_iso8601();

struct CorePair {
  int a = 0;
  int b = 1;
  bool distinct = true;  // false on a one-core machine: both sides share a core
};
// The first two cores this process may run on (cores 0 and 1 on a normal machine).
CorePair choose_cores();
// Every core this process may run on, in order ({0} when the affinity cannot be read): the
// harness pins sides to them round-robin.
std::vector<int> allowed_cores();
// Pins the calling process to one core; returns an error text or empty.
std::string pin_to_core(int core);

// Highest CFS weight when allowed: on a shared machine the measured sides should get their
// cores rather than a time slice among compilers (a transport that yields would otherwise be
// charged a whole slice per yield). With sched_autogroup a nice value only counts inside the
// session, so the process gets a session of its own and raises that group's weight (nice -20),
// and its own. Best effort. Used by every process of a measurement: the sides, iceoryx's RouDi
// (which the sides wait on) and the competing load of --hog (a neighbour as important as they).
void raise_to_side_priority();

}  // namespace ipcmesh::bench
