#include "harness.hpp"

#include <signal.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <new>
#include <stdexcept>
#include <thread>
#include <vector>

namespace ipcmesh::bench {
namespace {

using Clock = std::chrono::steady_clock;  // CLOCK_MONOTONIC: comparable across processes

constexpr std::size_t kMaxLatencySamples = 4u << 20;
constexpr auto kBarrierTimeout = std::chrono::seconds(30);
// After one side failed, how long the other may take to notice before it is killed.
constexpr auto kFailureGrace = std::chrono::seconds(3);

enum SideState : int { kStarting = 0, kReady = 1, kDone = 2, kFailed = 3 };

// What one forked side reports back, in a MAP_SHARED page the parent reads after both exited.
struct SideOutcome {
  std::atomic<int> state{kStarting};
  char error[512] = {};
  std::uint64_t messages = 0;  // data messages received (B, stream) or round trips (A, ping-pong)
  std::uint64_t lost = 0;
  std::uint64_t out_of_order = 0;
  std::uint64_t corrupt = 0;
  std::uint64_t sent = 0;  // as announced by the end marker
  double seconds = 0.0;    // stream: time between warm-up end and end marker
  std::uint64_t samples = 0;
  double p50 = 0, p99 = 0, mean = 0, min = 0, max = 0;
};

struct ControlBlock {
  std::atomic<std::uint32_t> ready{0};
  std::atomic<std::uint32_t> abort{0};
  SideOutcome a;
  SideOutcome b;
};
static_assert(std::atomic<std::uint32_t>::is_always_lock_free, "cross-process atomics");

void set_error(SideOutcome& out, const std::string& text) {
  std::snprintf(out.error, sizeof out.error, "%s", text.c_str());
}

double seconds_between(Clock::time_point from, Clock::time_point to) {
  return std::chrono::duration<double>(to - from).count();
}

// Both sides have opened their endpoints (so no early message can be missed) or one gave up.
bool wait_for_peer(ControlBlock& control) {
  control.ready.fetch_add(1, std::memory_order_acq_rel);
  const auto deadline = Clock::now() + kBarrierTimeout;
  while (control.ready.load(std::memory_order_acquire) < 2) {
    if (control.abort.load(std::memory_order_acquire) != 0 || Clock::now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::microseconds(100));
  }
  return true;
}

struct Plan {
  Pattern pattern;
  const HarnessOptions* options;
};

bool keep_going(const Plan& plan, std::uint64_t done, std::uint64_t warmup, Clock::time_point now,
                Clock::time_point deadline) {
  if (plan.options->messages > 0) return done < warmup + plan.options->messages;
  // Past the deadline, still make sure a few hundred measured messages exist.
  return done < warmup + 256 || now < deadline;
}

std::string stream_producer(Endpoint& endpoint, const Plan& plan, SideOutcome& out) {
  const auto start = Clock::now();
  const auto deadline = start + std::chrono::duration_cast<Clock::duration>(
                                    std::chrono::duration<double>(plan.options->duration_seconds));
  const std::uint64_t warmup = plan.options->stream_warmup;
  std::uint64_t seq = 0;
  auto now = start;
  while (keep_going(plan, seq, warmup, now, deadline)) {
    if (auto r = endpoint.send(seq, 0); !r)
      return "send #" + std::to_string(seq) + ": " + r.error().message;
    ++seq;
    if (plan.options->inject_gap && seq == warmup / 2) ++seq;  // a message "lost" on purpose
    if ((seq & 63) == 0) now = Clock::now();  // reading the clock per message would cost ~5%
  }
  out.sent = seq;
  if (auto r = endpoint.send(seq, kFlagEnd); !r) return "send end marker: " + r.error().message;
  out.messages = seq;
  return {};
}

std::string stream_consumer(Endpoint& endpoint, const Plan& plan, SideOutcome& out) {
  const std::uint64_t warmup = plan.options->stream_warmup;
  std::uint64_t expected = 0;
  std::uint64_t received = 0;
  Clock::time_point first{};
  for (;;) {
    auto r = endpoint.receive();
    if (!r) return "receive after " + std::to_string(received) + " messages: " + r.error().message;
    const Stamp stamp = *r;
    if (!stamp.intact) {
      ++out.corrupt;
      continue;
    }
    if (stamp.flags & kFlagEnd) {
      const auto end = Clock::now();
      out.sent = stamp.seq;
      if (stamp.seq > expected) out.lost += stamp.seq - expected;
      out.messages = received;
      if (received > warmup) {
        out.seconds = seconds_between(first, end);
      }
      return {};
    }
    if (stamp.seq == expected) {
      ++expected;
    } else if (stamp.seq > expected) {
      out.lost += stamp.seq - expected;
      expected = stamp.seq + 1;
    } else {
      ++out.out_of_order;
    }
    ++received;
    if (received == warmup) first = Clock::now();
  }
}

std::string pingpong_client(Endpoint& endpoint, const Plan& plan, SideOutcome& out) {
  const std::uint64_t warmup = plan.options->pingpong_warmup;
  std::vector<std::uint64_t> samples;
  samples.reserve(plan.options->messages > 0
                      ? std::min<std::uint64_t>(plan.options->messages, kMaxLatencySamples)
                      : std::min<std::size_t>(kMaxLatencySamples, 1u << 20));
  const auto start = Clock::now();
  // Warm-up counts against the duration so slow transports still finish on time.
  const auto deadline = start + std::chrono::duration_cast<Clock::duration>(
                                    std::chrono::duration<double>(plan.options->duration_seconds));
  std::uint64_t seq = 0;
  auto now = start;
  while (keep_going(plan, seq, warmup, now, deadline) && samples.size() < kMaxLatencySamples) {
    const auto before = Clock::now();
    if (auto r = endpoint.send(seq, 0); !r)
      return "send ping #" + std::to_string(seq) + ": " + r.error().message;
    auto r = endpoint.receive();
    now = Clock::now();
    if (!r) return "receive pong #" + std::to_string(seq) + ": " + r.error().message;
    if (!r->intact) {
      ++out.corrupt;
    } else if (r->seq != seq || r->flags != 0) {
      ++out.out_of_order;
    }
    if (seq >= warmup) {
      samples.push_back(static_cast<std::uint64_t>(
          std::chrono::duration_cast<std::chrono::nanoseconds>(now - before).count()));
    }
    ++seq;
  }
  if (auto r = endpoint.send(seq, kFlagEnd); !r) return "send end marker: " + r.error().message;
  out.messages = seq;
  out.samples = samples.size();
  if (!samples.empty()) {
    std::sort(samples.begin(), samples.end());
    const auto at = [&](double q) {
      const auto rank =
          static_cast<std::size_t>(std::ceil(q * static_cast<double>(samples.size())));
      return static_cast<double>(samples[std::min(samples.size() - 1, rank == 0 ? 0 : rank - 1)]);
    };
    double sum = 0;
    for (const auto s : samples) sum += static_cast<double>(s);
    out.p50 = at(0.50);
    out.p99 = at(0.99);
    out.mean = sum / static_cast<double>(samples.size());
    out.min = static_cast<double>(samples.front());
    out.max = static_cast<double>(samples.back());
  }
  return {};
}

std::string pingpong_server(Endpoint& endpoint, SideOutcome& out) {
  std::uint64_t expected = 0;
  for (;;) {
    auto r = endpoint.receive();
    if (!r) return "receive ping after " + std::to_string(expected) + ": " + r.error().message;
    std::uint64_t answer = expected;
    if (!r->intact) {
      ++out.corrupt;  // still answer, or the client would wait forever
    } else if (r->flags & kFlagEnd) {
      out.sent = r->seq;
      out.messages = expected;
      return {};
    } else {
      if (r->seq != expected) ++out.out_of_order;
      answer = r->seq;
    }
    expected = answer + 1;
    if (auto s = endpoint.send(answer, 0); !s) return "send pong: " + s.error().message;
  }
}

[[noreturn]] void run_side(Link& link, Side side, const Plan& plan, ControlBlock& control,
                           int core) {
  SideOutcome& out = side == Side::kA ? control.a : control.b;
  prctl(PR_SET_PDEATHSIG, SIGKILL);  // a killed bench leaves no spinning side behind
  // Highest CFS weight when allowed: on a shared machine the measured pair should get its two
  // cores rather than a time slice among compilers (a transport that yields would otherwise be
  // charged a whole slice per yield). With sched_autogroup a nice value only counts inside the
  // session, so each side gets a session of its own and raises that group's weight. Best
  // effort; the report records each side's CPU time so a starved measurement shows.
  (void)setsid();
  if (std::FILE* group = std::fopen("/proc/self/autogroup", "w")) {
    std::fputs("-20", group);
    std::fclose(group);
  }
  (void)setpriority(PRIO_PROCESS, 0, -20);
  std::string error = pin_to_core(core);
  if (error.empty()) {
    try {
      auto opened = link.open(side);
      if (!opened) {
        error = "open: " + opened.error().message;
      } else if (!wait_for_peer(control)) {
        error = "the other side did not get ready";
      } else {
        Endpoint& endpoint = **opened;
        if (plan.pattern == Pattern::kStream) {
          error = side == Side::kA ? stream_producer(endpoint, plan, out)
                                   : stream_consumer(endpoint, plan, out);
        } else {
          error = side == Side::kA ? pingpong_client(endpoint, plan, out)
                                   : pingpong_server(endpoint, out);
        }
        opened->reset();  // close before exit, as a real program would
      }
    } catch (const std::exception& e) {
      error = std::string("exception: ") + e.what();
    }
  }
  if (!error.empty()) {
    set_error(out, error);
    control.abort.store(1, std::memory_order_release);
    out.state.store(kFailed, std::memory_order_release);
  } else {
    out.state.store(kDone, std::memory_order_release);
  }
  // exit (not _exit) so that libraries with a daemon (iceoryx) deregister; the parent flushed
  // its streams before fork and keeps its objects on its own stack, which exit() leaves alone.
  std::exit(0);
}

std::string describe_status(const char* who, int status) {
  if (WIFSIGNALED(status)) {
    return std::string(who) + " killed by signal " + std::to_string(WTERMSIG(status)) + " (" +
           strsignal(WTERMSIG(status)) + ")";
  }
  if (WIFEXITED(status) && WEXITSTATUS(status) != 0) {
    return std::string(who) + " exited with status " + std::to_string(WEXITSTATUS(status));
  }
  return {};
}

}  // namespace

nlohmann::json run_measurement(Link& link, Pattern pattern, std::size_t message_size,
                               const HarnessOptions& options) {
  void* page = mmap(nullptr, sizeof(ControlBlock), PROT_READ | PROT_WRITE,
                    MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  if (page == MAP_FAILED) throw std::runtime_error(std::string("mmap: ") + std::strerror(errno));
  auto* control = new (page) ControlBlock();
  const Plan plan{pattern, &options};

  std::fflush(nullptr);
  std::cout.flush();
  std::cerr.flush();
  const pid_t pid_b = fork();  // B first: a consumer or server waiting is the natural order
  if (pid_b < 0) throw std::runtime_error(std::string("fork: ") + std::strerror(errno));
  if (pid_b == 0) run_side(link, Side::kB, plan, *control, options.cores.b);
  const pid_t pid_a = fork();
  if (pid_a < 0) {
    kill(pid_b, SIGKILL);
    waitpid(pid_b, nullptr, 0);
    throw std::runtime_error(std::string("fork: ") + std::strerror(errno));
  }
  if (pid_a == 0) run_side(link, Side::kA, plan, *control, options.cores.a);

  // Wait for both, killing them when the measurement hangs or one side gave up long ago.
  const auto started = Clock::now();
  const auto timeout = std::chrono::duration_cast<Clock::duration>(
      std::chrono::duration<double>(options.timeout_seconds + options.duration_seconds));
  int status_a = 0, status_b = 0;
  rusage usage_a{}, usage_b{};
  bool done_a = false, done_b = false, timed_out = false;
  Clock::time_point abort_seen{};
  while (!done_a || !done_b) {
    if (!done_a && wait4(pid_a, &status_a, WNOHANG, &usage_a) == pid_a) done_a = true;
    if (!done_b && wait4(pid_b, &status_b, WNOHANG, &usage_b) == pid_b) done_b = true;
    if (done_a && done_b) break;
    const auto now = Clock::now();
    const bool abort = control->abort.load(std::memory_order_acquire) != 0 || done_a || done_b;
    if (abort && abort_seen == Clock::time_point{}) abort_seen = now;
    const bool hung = now - started > timeout;
    const bool straggler = abort_seen != Clock::time_point{} && now - abort_seen > kFailureGrace;
    if (hung || straggler) {
      timed_out = hung;
      if (!done_a) kill(pid_a, SIGKILL);
      if (!done_b) kill(pid_b, SIGKILL);
      if (!done_a) waitpid(pid_a, &status_a, 0);
      if (!done_b) waitpid(pid_b, &status_b, 0);
      if (!done_a) status_a = -1;
      if (!done_b) status_b = -1;
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }

  std::vector<std::string> errors;
  if (timed_out) errors.push_back("timed out: a side hung and was killed");
  for (const auto* side : {&control->a, &control->b}) {
    const char* who = side == &control->a ? "side A" : "side B";
    if (side->error[0] != '\0') errors.push_back(std::string(who) + ": " + side->error);
    if (side->state.load() == kStarting || side->state.load() == kReady) {
      if (!timed_out) errors.push_back(std::string(who) + " did not finish");
    }
  }
  if (status_a == -1 || status_b == -1) {
    if (!timed_out) errors.push_back("a side did not exit after the other failed and was killed");
  } else {
    if (auto e = describe_status("side A", status_a); !e.empty()) errors.push_back(e);
    if (auto e = describe_status("side B", status_b); !e.empty()) errors.push_back(e);
  }

  const double wall = seconds_between(started, Clock::now());
  nlohmann::json result;
  // CPU time each side got over the measurement's wall time (fork to exit): far below 1.0 for a
  // spinning transport means the machine was busy and the figures are pessimistic.
  const auto cpu = [](const rusage& u) {
    return static_cast<double>(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
           static_cast<double>(u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
  };
  result["wall_s"] = wall;
  result["cpu_s"] = {{"a", cpu(usage_a)}, {"b", cpu(usage_b)}};
  result["involuntary_switches"] = {{"a", usage_a.ru_nivcsw}, {"b", usage_b.ru_nivcsw}};
  const SideOutcome& a = control->a;
  const SideOutcome& b = control->b;
  if (pattern == Pattern::kStream) {
    const double seconds = b.seconds;
    const auto measured =
        b.messages > options.stream_warmup ? b.messages - options.stream_warmup : 0;
    if (errors.empty() && b.sent != a.sent) {
      errors.push_back("end marker announced " + std::to_string(b.sent) +
                       " messages, producer sent " + std::to_string(a.sent));
    }
    if (errors.empty() && (measured == 0 || seconds <= 0.0)) {
      errors.push_back("too few messages to time (" + std::to_string(b.messages) + ")");
    }
    result["messages"] = b.messages;
    result["measured_messages"] = measured;
    result["seconds"] = seconds;
    const double rate = seconds > 0 ? static_cast<double>(measured) / seconds : 0.0;
    result["msgs_per_s"] = rate;
    result["mb_per_s"] = rate * static_cast<double>(message_size) / 1e6;
    result["lost"] = b.lost;
    result["out_of_order"] = b.out_of_order;
    result["corrupt"] = b.corrupt;
    const bool clean = b.lost == 0 && b.out_of_order == 0 && b.corrupt == 0;
    if (!clean) {
      errors.push_back("verification: " + std::to_string(b.lost) + " lost, " +
                       std::to_string(b.out_of_order) + " out of order, " +
                       std::to_string(b.corrupt) + " corrupt");
    }
  } else {
    result["round_trips"] = a.messages;
    result["samples"] = a.samples;
    result["rtt_p50_ns"] = a.p50;
    result["rtt_p99_ns"] = a.p99;
    result["rtt_mean_ns"] = a.mean;
    result["rtt_min_ns"] = a.min;
    result["rtt_max_ns"] = a.max;
    const std::uint64_t mismatched = a.out_of_order + b.out_of_order;
    const std::uint64_t corrupt = a.corrupt + b.corrupt;
    result["mismatched"] = mismatched;
    result["corrupt"] = corrupt;
    if (errors.empty() && b.messages != a.messages) {
      errors.push_back("server answered " + std::to_string(b.messages) + " pings, client sent " +
                       std::to_string(a.messages));
    }
    if (errors.empty() && a.samples == 0) errors.push_back("no round trip measured");
    if (mismatched != 0 || corrupt != 0) {
      errors.push_back("verification: " + std::to_string(mismatched) + " mismatched, " +
                       std::to_string(corrupt) + " corrupt");
    }
  }
  result["verified"] = errors.empty();
  result["errors"] = errors;
  control->~ControlBlock();
  munmap(page, sizeof(ControlBlock));
  return result;
}

}  // namespace ipcmesh::bench
