#include "environment.hpp"

#include <sched.h>
#include <sys/resource.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <fstream>
#include <sstream>

namespace ipcmesh::bench {
namespace {

constexpr long kQueueDepth = 64;  // the channel spec's default maxMessages
constexpr const char* kMsgMax = "/proc/sys/fs/mqueue/msg_max";
constexpr const char* kMsgsizeMax = "/proc/sys/fs/mqueue/msgsize_max";

long read_long(const char* path) {
  std::ifstream in(path);
  long value = -1;
  if (!(in >> value)) return -1;
  return value;
}

std::string write_long(const char* path, long value) {
  std::ofstream out(path);
  out << value << '\n';
  out.flush();
  if (!out) return std::string("cannot write ") + path + ": " + std::strerror(errno);
  return {};
}

std::string rlimit_text() {
  rlimit limit{};
  if (getrlimit(RLIMIT_MSGQUEUE, &limit) != 0) return "unknown";
  if (limit.rlim_cur == RLIM_INFINITY) return "unlimited";
  return std::to_string(limit.rlim_cur);
}

}  // namespace

nlohmann::json prepare_ipc_environment(bool private_namespace, std::size_t max_message_size) {
  nlohmann::json info;
  std::vector<std::string> notes;
  bool in_private = false;
  if (!private_namespace) {
    notes.emplace_back("private IPC namespace not requested; host mqueue limits used");
  } else if (geteuid() != 0) {
    notes.emplace_back("not root: host IPC namespace and mqueue limits used");
  } else if (unshare(CLONE_NEWIPC) != 0) {
    notes.emplace_back(std::string("unshare(CLONE_NEWIPC) failed: ") + std::strerror(errno) +
                       "; host mqueue limits used");
  } else {
    in_private = true;
  }
  info["ipc_namespace"] = in_private ? "private (unshare CLONE_NEWIPC)" : "host";

  if (in_private) {
    // Raising limits is only done inside our own namespace: the host keeps its settings.
    const long want_size = static_cast<long>(max_message_size);
    if (read_long(kMsgsizeMax) < want_size) {
      if (auto e = write_long(kMsgsizeMax, want_size); !e.empty()) notes.push_back(e);
    }
    if (read_long(kMsgMax) < kQueueDepth) {
      if (auto e = write_long(kMsgMax, kQueueDepth); !e.empty()) notes.push_back(e);
    }
  }
  if (geteuid() == 0) {
    // Two 64-deep queues of 64 KiB exceed the default 800 KiB per-user budget.
    const rlimit unlimited{RLIM_INFINITY, RLIM_INFINITY};
    if (setrlimit(RLIMIT_MSGQUEUE, &unlimited) != 0) {
      notes.push_back(std::string("setrlimit(RLIMIT_MSGQUEUE) failed: ") + std::strerror(errno));
    }
  }
  info["mqueue_msg_max"] = read_long(kMsgMax);
  info["mqueue_msgsize_max"] = read_long(kMsgsizeMax);
  info["rlimit_msgqueue"] = rlimit_text();
  info["queue_depth_64B"] = bench_queue_depth(64, 2);
  info["queue_depth_max_size"] = bench_queue_depth(max_message_size, 2);
  info["notes"] = notes;
  return info;
}

long bench_queue_depth(std::size_t message_size, int queues) {
  const long msg_max = read_long(kMsgMax);
  long depth = msg_max > 0 ? std::min(kQueueDepth, msg_max) : 10;
  rlimit limit{};
  if (getrlimit(RLIMIT_MSGQUEUE, &limit) == 0 && limit.rlim_cur != RLIM_INFINITY) {
    // The kernel charges each message its size plus bookkeeping (struct msg_msg and a tree
    // node, under 128 bytes); leave a fifth of the budget to the other processes of this uid.
    const double budget = 0.8 * static_cast<double>(limit.rlim_cur);
    const double per_message = static_cast<double>(message_size + 128) * queues;
    depth = std::clamp(static_cast<long>(budget / per_message), 1L, depth);
  }
  return depth;
}

std::string describe_mqueue_limits() {
  return "fs.mqueue.msg_max=" + std::to_string(read_long(kMsgMax)) +
         ", fs.mqueue.msgsize_max=" + std::to_string(read_long(kMsgsizeMax)) +
         ", RLIMIT_MSGQUEUE=" + rlimit_text();
}

std::string load_average() {
  std::ifstream in("/proc/loadavg");
  std::string one, five, fifteen;
  in >> one >> five >> fifteen;
  return one + " " + five + " " + fifteen;
}

nlohmann::json machine_info() {
  nlohmann::json info;
  info["nproc"] = sysconf(_SC_NPROCESSORS_ONLN);
  utsname name{};
  if (uname(&name) == 0) {
    info["kernel"] = std::string(name.sysname) + " " + name.release;
    info["kernel_version"] = name.version;
    info["arch"] = name.machine;
  }
  std::ifstream cpuinfo("/proc/cpuinfo");
  std::string line;
  while (std::getline(cpuinfo, line)) {
    if (line.rfind("model name", 0) == 0) {
      const auto colon = line.find(':');
      if (colon != std::string::npos) {
        info["cpu_model"] = line.substr(line.find_first_not_of(" \t", colon + 1));
      }
      break;
    }
  }
  info["compiler"] = __VERSION__;
  return info;
}

std::string utc_now_iso8601() {
  const std::time_t now = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&now, &tm);
  char text[32];
  std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return text;
}

std::vector<int> allowed_cores() {
  cpu_set_t allowed;
  CPU_ZERO(&allowed);
  if (sched_getaffinity(0, sizeof allowed, &allowed) != 0) return {0};
  std::vector<int> cores;
  for (int core = 0; core < CPU_SETSIZE; ++core) {
    if (CPU_ISSET(core, &allowed)) cores.push_back(core);
  }
  if (cores.empty()) cores.push_back(0);
  return cores;
}

CorePair choose_cores() {
  const std::vector<int> cores = allowed_cores();
  CorePair pair;
  pair.a = cores[0];
  pair.b = cores.size() >= 2 ? cores[1] : cores[0];
  pair.distinct = cores.size() >= 2;
  return pair;
}

void raise_to_side_priority() {
  (void)setsid();
  if (std::FILE* group = std::fopen("/proc/self/autogroup", "w")) {
    std::fputs("-20", group);
    std::fclose(group);
  }
  (void)setpriority(PRIO_PROCESS, 0, -20);
}

std::string pin_to_core(int core) {
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(core, &set);
  if (sched_setaffinity(0, sizeof set, &set) != 0) {
    return "sched_setaffinity(core " + std::to_string(core) + "): " + std::strerror(errno);
  }
  return {};
}

}  // namespace ipcmesh::bench
