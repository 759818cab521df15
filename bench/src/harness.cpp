#include "harness.hpp"

#include <signal.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <iostream>
#include <new>
#include <optional>
#include <stdexcept>
#include <thread>
#include <vector>

#include "environment.hpp"
#include "paced_schedule.hpp"

namespace ipcmesh::bench {
namespace {

using Clock = std::chrono::steady_clock;  // CLOCK_MONOTONIC: comparable across processes

constexpr std::size_t kMaxLatencySamples = 4u << 20;
constexpr auto kBarrierTimeout = std::chrono::seconds(30);
// After one side failed, how long the others may take to notice before they are killed.
constexpr auto kFailureGrace = std::chrono::seconds(3);
// After the sides that end a measurement (producers, the ping-pong client) finished, how long the
// others may take to finish too: a subscriber still reads what is queued for it, slower when it
// shares its core with seven others. Longer than that is a lost end marker, and waiting for the
// measurement timeout would waste a minute.
constexpr auto kDrainGrace = std::chrono::seconds(10);
constexpr std::size_t kMaxSides = 2 * kMaxGroupMembers;
// A paced producer sleeps until a message is due when that is further away than this, and spins
// on the clock when it is closer: a wake-up comes up to tens of microseconds late on a busy
// machine, later than a message due that soon (at 50,000 msgs/s, 20 us apart, it always spins).
constexpr std::uint64_t kSleepAboveNs = 50'000;

enum SideState : int { kStarting = 0, kReady = 1, kDone = 2, kFailed = 3 };

// CPU time a side got over the measurement's wall time (fork to exit): far below the wall time
// for a spinning transport means the machine was busy and the figures are pessimistic.
double cpu_seconds(const rusage& usage) {
  return static_cast<double>(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) +
         static_cast<double>(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6;
}

// What one side measured. Which fields a side fills depends on its role (see the side loops).
struct SideFigures {
  std::uint64_t messages = 0;  // received (subscriber), sent (producer), round trips (client)
  std::uint64_t lost = 0;
  std::uint64_t out_of_order = 0;
  std::uint64_t corrupt = 0;
  std::uint64_t sent = 0;  // subscriber: the sum its end markers announced; producer: sent
  double seconds = 0.0;  // subscriber: warm-up end to last end marker; producer: first to last send
  std::uint64_t samples = 0;  // latencies: round trips (client), one-way (paced subscriber)
  double p50 = 0, p99 = 0, p999 = 0, mean = 0, min = 0, max = 0;
  std::uint64_t late = 0;   // paced producer: messages sent more than an interval after due
  std::uint64_t slips = 0;  // paced producer: times it fell so far behind that its timetable moved
  std::uint64_t slipped_ns = 0;  // ... and by how much in all
  // Stream sides: what the process used from the end of the warm-up to its own end (the paced
  // rows' CPU figures), without the fork, the open and the barrier that the exit rusage includes.
  double steady_cpu_s = 0.0;
  double steady_wall_s = 0.0;
  std::uint64_t steady_involuntary_switches = 0;
};

// The steady-state part of a side's resource use: begin() when the warm-up ends, end() when the
// side is done. getrusage(RUSAGE_SELF) counts every thread of the process, as a library's own
// threads (iceoryx's) cost the application too.
class SteadyUsage {
 public:
  void begin() {
    started_ = true;
    getrusage(RUSAGE_SELF, &begin_usage_);
    begin_time_ = Clock::now();
  }
  bool started() const { return started_; }
  void end(SideFigures& out) const {
    if (!started_) return;
    rusage now{};
    getrusage(RUSAGE_SELF, &now);
    out.steady_wall_s = std::chrono::duration<double>(Clock::now() - begin_time_).count();
    out.steady_cpu_s = cpu_seconds(now) - cpu_seconds(begin_usage_);
    out.steady_involuntary_switches =
        static_cast<std::uint64_t>(now.ru_nivcsw - begin_usage_.ru_nivcsw);
  }

 private:
  bool started_ = false;
  rusage begin_usage_{};
  Clock::time_point begin_time_{};
};

// What one forked side reports back, in the shared page the parent reads after all exited.
struct SideOutcome {
  std::atomic<int> state{kStarting};
  char error[512] = {};
  SideFigures figures;
};

struct ControlBlock {
  std::atomic<std::uint32_t> ready{0};
  std::atomic<std::uint32_t> abort{0};
  SideOutcome sides[kMaxSides];
};
static_assert(std::atomic<std::uint32_t>::is_always_lock_free, "cross-process atomics");

// The control block in a MAP_SHARED page made before the forks, unmapped when done.
class SharedControl {
 public:
  SharedControl() {
    page_ = mmap(nullptr, sizeof(ControlBlock), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS,
                 -1, 0);
    if (page_ == MAP_FAILED) throw std::runtime_error(std::string("mmap: ") + std::strerror(errno));
    block_ = new (page_) ControlBlock();
  }
  ~SharedControl() {
    block_->~ControlBlock();
    munmap(page_, sizeof(ControlBlock));
  }
  SharedControl(const SharedControl&) = delete;
  SharedControl& operator=(const SharedControl&) = delete;
  ControlBlock& operator*() const { return *block_; }
  ControlBlock* operator->() const { return block_; }

 private:
  void* page_ = nullptr;
  ControlBlock* block_ = nullptr;
};

double seconds_between(Clock::time_point from, Clock::time_point to) {
  return std::chrono::duration<double>(to - from).count();
}

// Every side has opened its endpoint (so no early message can be missed) or one gave up.
bool wait_for_peers(ControlBlock& control, std::uint32_t sides) {
  control.ready.fetch_add(1, std::memory_order_acq_rel);
  const auto deadline = Clock::now() + kBarrierTimeout;
  while (control.ready.load(std::memory_order_acquire) < sides) {
    if (control.abort.load(std::memory_order_acquire) != 0 || Clock::now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::microseconds(100));
  }
  return true;
}

// One forked side: how it opens its endpoint on the link and what it then runs.
struct SideProgram {
  std::string who;  // "side A", "producer 2", "subscriber 0": names the side in errors
  int core = 0;
  // The measurement ends when every side that drives it has finished (producers, the ping-pong
  // client); the others then only drain what is queued for them.
  bool drives = false;
  std::function<Result<std::unique_ptr<Endpoint>>()> open;
  std::function<std::string(Endpoint&, SideFigures&)> run;  // an error text, or empty
};

// What the parent saw of one side.
struct SideExit {
  int status = 0;
  rusage usage{};
  bool exited = false;
  bool killed = false;  // still running when the measurement was given up
};

struct ForkedRun {
  std::vector<SideExit> exits;      // in the order of the programs
  std::vector<std::string> errors;  // hung, crashed or failed sides
  double wall_s = 0.0;
};

[[noreturn]] void run_side(const SideProgram& program, ControlBlock& control, std::size_t index,
                           std::uint32_t sides) {
  SideOutcome& out = control.sides[index];
  prctl(PR_SET_PDEATHSIG, SIGKILL);  // a killed bench leaves no spinning side behind
  // The report records each side's CPU time, so a side starved despite this shows.
  raise_to_side_priority();
  std::string error = pin_to_core(program.core);
  if (error.empty()) {
    try {
      auto opened = program.open();
      if (!opened) {
        error = "open: " + opened.error().message;
      } else if (!wait_for_peers(control, sides)) {
        error = "the other sides did not get ready";
      } else {
        error = program.run(**opened, out.figures);
        opened->reset();  // close before exit, as a real program would
      }
    } catch (const std::exception& e) {
      error = std::string("exception: ") + e.what();
    }
  }
  if (!error.empty()) {
    std::snprintf(out.error, sizeof out.error, "%s", error.c_str());
    control.abort.store(1, std::memory_order_release);
    out.state.store(kFailed, std::memory_order_release);
  } else {
    out.state.store(kDone, std::memory_order_release);
  }
  // exit (not _exit) so that libraries with a daemon (iceoryx) deregister; the parent flushed
  // its streams before fork and keeps its objects on its own stack, which exit() leaves alone.
  std::exit(0);
}

std::string describe_status(const std::string& who, int status) {
  if (WIFSIGNALED(status)) {
    return who + " killed by signal " + std::to_string(WTERMSIG(status)) + " (" +
           strsignal(WTERMSIG(status)) + ")";
  }
  if (WIFEXITED(status) && WEXITSTATUS(status) != 0) {
    return who + " exited with status " + std::to_string(WEXITSTATUS(status));
  }
  return {};
}

// Forks one process per program (in the order given: receivers first is the natural order),
// waits for all of them and kills them when the measurement hangs, when one failed and the rest
// did not follow within kFailureGrace, or when the driving sides finished and the rest did not
// within kDrainGrace.
ForkedRun run_sides(const std::vector<SideProgram>& programs, ControlBlock& control,
                    const HarnessOptions& options) {
  if (programs.size() > kMaxSides) throw std::runtime_error("too many sides for one measurement");
  const auto sides = static_cast<std::uint32_t>(programs.size());
  std::fflush(nullptr);
  std::cout.flush();
  std::cerr.flush();
  std::vector<pid_t> pids;
  for (std::size_t i = 0; i < programs.size(); ++i) {
    const pid_t pid = fork();
    if (pid < 0) {
      const int saved = errno;
      for (const pid_t started : pids) kill(started, SIGKILL);
      for (const pid_t started : pids) waitpid(started, nullptr, 0);
      throw std::runtime_error(std::string("fork: ") + std::strerror(saved));
    }
    if (pid == 0) run_side(programs[i], control, i, sides);
    pids.push_back(pid);
  }

  const auto started = Clock::now();
  const auto timeout = std::chrono::duration_cast<Clock::duration>(
      std::chrono::duration<double>(options.timeout_seconds + options.duration_seconds));
  ForkedRun run;
  run.exits.resize(programs.size());
  std::size_t running = programs.size();
  std::size_t driving = static_cast<std::size_t>(
      std::count_if(programs.begin(), programs.end(), [](const auto& p) { return p.drives; }));
  bool timed_out = false;
  Clock::time_point failure_seen{};
  Clock::time_point finish_seen{};
  while (running > 0) {
    const auto now = Clock::now();
    for (std::size_t i = 0; i < pids.size(); ++i) {
      SideExit& side = run.exits[i];
      if (side.exited || wait4(pids[i], &side.status, WNOHANG, &side.usage) != pids[i]) continue;
      side.exited = true;
      --running;
      const bool failed = side.status != 0 || control.sides[i].state.load() != kDone;
      if (failed && failure_seen == Clock::time_point{}) failure_seen = now;
      if (!failed && programs[i].drives && --driving == 0) finish_seen = now;
    }
    if (running == 0) break;
    if (control.abort.load(std::memory_order_acquire) != 0 && failure_seen == Clock::time_point{}) {
      failure_seen = now;
    }
    const auto since = [&](Clock::time_point seen, Clock::duration grace) {
      return seen != Clock::time_point{} && now - seen > grace;
    };
    timed_out = now - started > timeout;
    if (timed_out || since(failure_seen, kFailureGrace) || since(finish_seen, kDrainGrace)) {
      for (std::size_t i = 0; i < pids.size(); ++i) {
        if (!run.exits[i].exited) kill(pids[i], SIGKILL);
      }
      for (std::size_t i = 0; i < pids.size(); ++i) {
        SideExit& side = run.exits[i];
        if (side.exited) continue;
        wait4(pids[i], &side.status, 0, &side.usage);
        side.exited = true;
        side.killed = true;
      }
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  run.wall_s = seconds_between(started, Clock::now());

  if (timed_out) run.errors.push_back("timed out: a side hung and was killed");
  for (std::size_t i = 0; i < programs.size(); ++i) {
    const SideOutcome& outcome = control.sides[i];
    const std::string& who = programs[i].who;
    if (outcome.error[0] != '\0') run.errors.push_back(who + ": " + outcome.error);
    const int state = outcome.state.load();
    if ((state == kStarting || state == kReady) && !timed_out) {
      run.errors.push_back(who + " did not finish");
    }
    if (run.exits[i].killed) {
      if (!timed_out) {
        run.errors.push_back(who +
                             " did not exit after another side failed or finished and was killed");
      }
    } else if (auto e = describe_status(who, run.exits[i].status); !e.empty()) {
      run.errors.push_back(e);
    }
  }
  return run;
}

int core_for(const HarnessOptions& options, std::size_t position) {
  return options.cores.empty() ? 0 : options.cores[position % options.cores.size()];
}

bool keep_going(const HarnessOptions& options, std::uint64_t done, std::uint64_t warmup,
                Clock::time_point now, Clock::time_point deadline) {
  if (options.messages > 0) return done < warmup + options.messages;
  // Past the deadline, still make sure a few hundred measured messages exist.
  return done < warmup + 256 || now < deadline;
}

Clock::time_point deadline_after(Clock::time_point start, const HarnessOptions& options) {
  return start + std::chrono::duration_cast<Clock::duration>(
                     std::chrono::duration<double>(options.duration_seconds));
}

// Returns once monotonic_ns() reached due_ns: asleep while it is more than kSleepAboveNs away (a
// slow rate then costs the producer next to no CPU), spinning on the clock for the rest.
void wait_until(std::uint64_t due_ns) {
  for (std::uint64_t now = monotonic_ns(); now < due_ns; now = monotonic_ns()) {
    if (due_ns - now > kSleepAboveNs) {
      const timespec at{static_cast<time_t>(due_ns / 1'000'000'000u),
                        static_cast<long>(due_ns % 1'000'000'000u)};
      // Interrupted (EINTR) or early: the loop looks at the clock again.
      (void)clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &at, nullptr);
    }
  }
}

// Sends as producer `producer` (its index in every stamp), then an end marker whose seq is the
// count sent: as fast as the transport lets it, or paced (options.paced_rate) with each message
// stamped with its send time.
std::string stream_producer(Endpoint& endpoint, const HarnessOptions& options,
                            std::uint32_t producer, SideFigures& out) {
  const auto start = Clock::now();
  const auto deadline = deadline_after(start, options);
  const std::uint64_t warmup = options.stream_warmup;
  const bool paced = options.paced_rate > 0;
  const std::uint32_t flags = producer_flags(producer) | (paced ? kFlagTimed : 0);
  std::optional<PacedSchedule> schedule;
  if (paced) {
    // The default timer slack (50 us) would let every sleep end up to 50 us late, half the
    // interval at 10,000 msgs/s.
    (void)prctl(PR_SET_TIMERSLACK, 1UL);
    schedule.emplace(monotonic_ns(), options.paced_rate);
  }
  SteadyUsage usage;
  std::uint64_t seq = 0;
  auto now = start;
  while (keep_going(options, seq, warmup, now, deadline)) {
    if (!usage.started() && seq >= warmup) usage.begin();
    if (schedule) {
      wait_until(schedule->due_ns(seq));
      schedule->sending(seq, monotonic_ns());
    }
    if (auto r = endpoint.send(seq, flags); !r)
      return "send #" + std::to_string(seq) + ": " + r.error().message;
    ++seq;
    if (options.inject_gap && seq == warmup / 2) ++seq;  // a message "lost" on purpose
    // At full speed reading the clock per message would cost ~5%; paced, the deadline must not
    // wait for 64 messages (64 ms at 1,000 msgs/s).
    if (paced || (seq & 63) == 0) now = Clock::now();
  }
  out.seconds = seconds_between(start, Clock::now());
  out.sent = seq;
  out.messages = seq;
  if (schedule) {
    out.late = schedule->late();
    out.slips = schedule->slips();
    out.slipped_ns = schedule->slipped_ns();
  }
  if (auto r = endpoint.send(seq, flags | kFlagEnd); !r) {
    return "send end marker: " + r.error().message;
  }
  usage.end(out);
  return {};
}

// Sorts the latency samples and puts their count and order statistics (nearest rank) in out.
void summarize_latencies(std::vector<std::uint64_t>& samples, SideFigures& out) {
  out.samples = samples.size();
  if (samples.empty()) return;
  std::sort(samples.begin(), samples.end());
  const auto at = [&](double q) {
    const auto rank = static_cast<std::size_t>(std::ceil(q * static_cast<double>(samples.size())));
    return static_cast<double>(samples[std::min(samples.size() - 1, rank == 0 ? 0 : rank - 1)]);
  };
  double sum = 0;
  for (const auto s : samples) sum += static_cast<double>(s);
  out.p50 = at(0.50);
  out.p99 = at(0.99);
  out.p999 = at(0.999);
  out.mean = sum / static_cast<double>(samples.size());
  out.min = static_cast<double>(samples.front());
  out.max = static_cast<double>(samples.back());
}

// Receives until every one of `producers` sent its end marker, checking each producer's sequence
// numbers on their own: complete, in order, intact. The clock runs from the warm-up's last
// message to the last end marker. Paced, it also records each measured message's one-way latency.
std::string stream_subscriber(Endpoint& endpoint, const HarnessOptions& options,
                              std::uint32_t producers, SideFigures& out) {
  const std::uint64_t warmup = options.stream_warmup;
  const bool timed = options.paced_rate > 0;
  std::vector<std::uint64_t> latencies;
  if (timed) {
    const double expected = options.messages > 0
                                ? static_cast<double>(options.messages)
                                : options.paced_rate * (options.duration_seconds + 1.0);
    latencies.reserve(
        static_cast<std::size_t>(std::min(expected, static_cast<double>(kMaxLatencySamples))));
  }
  std::vector<std::uint64_t> expected(producers, 0);
  std::vector<bool> ended(producers, false);
  std::uint32_t still_sending = producers;
  std::uint64_t received = 0;
  Clock::time_point first{};
  SteadyUsage usage;
  while (still_sending > 0) {
    auto r = endpoint.receive();
    const std::uint64_t received_ns = timed ? monotonic_ns() : 0;
    if (!r) return "receive after " + std::to_string(received) + " messages: " + r.error().message;
    const Stamp stamp = *r;
    const std::uint32_t producer = producer_of(stamp.flags);
    if (!stamp.intact || producer >= producers) {  // naming no producer of this run: corrupt too
      ++out.corrupt;
      continue;
    }
    std::uint64_t& next = expected[producer];
    if (stamp.flags & kFlagEnd) {
      if (ended[producer]) {
        ++out.out_of_order;  // a second end marker
        continue;
      }
      ended[producer] = true;
      --still_sending;
      out.sent += stamp.seq;
      if (stamp.seq > next) out.lost += stamp.seq - next;
      next = std::max(next, stamp.seq);  // anything of this producer after its end is misordered
      continue;
    }
    if (stamp.seq == next && !ended[producer]) {
      ++next;
    } else if (stamp.seq > next && !ended[producer]) {
      out.lost += stamp.seq - next;
      next = stamp.seq + 1;
    } else {
      ++out.out_of_order;
    }
    ++received;
    if (received == warmup) {
      first = Clock::now();
      usage.begin();
    }
    if (received > warmup && stamp.sent_ns != 0 && latencies.size() < kMaxLatencySamples) {
      // Both times are CLOCK_MONOTONIC, one clock for the machine: a negative difference would be
      // a broken clock, kept as 0 rather than a wrapped-around figure.
      latencies.push_back(received_ns > stamp.sent_ns ? received_ns - stamp.sent_ns : 0);
    }
  }
  const auto end = Clock::now();
  usage.end(out);
  out.messages = received;
  if (received > warmup) out.seconds = seconds_between(first, end);
  summarize_latencies(latencies, out);
  return {};
}

std::string pingpong_client(Endpoint& endpoint, const HarnessOptions& options, SideFigures& out) {
  const std::uint64_t warmup = options.pingpong_warmup;
  std::vector<std::uint64_t> samples;
  samples.reserve(options.messages > 0
                      ? std::min<std::uint64_t>(options.messages, kMaxLatencySamples)
                      : std::min<std::size_t>(kMaxLatencySamples, 1u << 20));
  const auto start = Clock::now();
  // Warm-up counts against the duration so slow transports still finish on time.
  const auto deadline = deadline_after(start, options);
  std::uint64_t seq = 0;
  auto now = start;
  while (keep_going(options, seq, warmup, now, deadline) && samples.size() < kMaxLatencySamples) {
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
  summarize_latencies(samples, out);
  return {};
}

std::string pingpong_server(Endpoint& endpoint, SideFigures& out) {
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

std::function<Result<std::unique_ptr<Endpoint>>()> opener(Link& link, Side side) {
  return [&link, side] { return link.open(side); };
}

// How errors name a side: "side A" / "side B" in a pair, "producer 2" / "subscriber 0" in a group.
enum class Naming : std::uint8_t { kPair, kGroup };
std::string side_name(Naming naming, Side side, std::uint32_t index) {
  if (naming == Naming::kPair) return side == Side::kA ? "side A" : "side B";
  return (side == Side::kA ? "producer " : "subscriber ") + std::to_string(index);
}

// A stream of `shape` on a prepared link, forked, run and verified; the figures as the sides
// reported them. Producers take the first cores, subscribers the next (round-robin); the
// subscribers are forked first so that they wait rather than the producers.
struct StreamRun {
  ForkedRun forked;
  std::vector<SideFigures> producers;
  std::vector<SideFigures> subscribers;
  std::vector<int> producer_cores;
  std::vector<int> subscriber_cores;
};

StreamRun run_stream(Link& link, const GroupShape& shape, const HarnessOptions& options,
                     Naming naming) {
  StreamRun run;
  std::vector<SideProgram> programs;
  for (std::uint32_t i = 0; i < shape.subscribers; ++i) {
    const int core = core_for(options, shape.producers + i);
    run.subscriber_cores.push_back(core);
    programs.push_back({side_name(naming, Side::kB, i), core, false, opener(link, Side::kB),
                        [&options, producers = shape.producers](Endpoint& e, SideFigures& out) {
                          return stream_subscriber(e, options, producers, out);
                        }});
  }
  for (std::uint32_t i = 0; i < shape.producers; ++i) {
    const int core = core_for(options, i);
    run.producer_cores.push_back(core);
    programs.push_back({side_name(naming, Side::kA, i), core, true, opener(link, Side::kA),
                        [&options, i](Endpoint& e, SideFigures& out) {
                          return stream_producer(e, options, i, out);
                        }});
  }
  SharedControl control;
  run.forked = run_sides(programs, *control, options);
  for (std::uint32_t i = 0; i < shape.subscribers; ++i) {
    run.subscribers.push_back(control->sides[i].figures);
  }
  for (std::uint32_t i = 0; i < shape.producers; ++i) {
    run.producers.push_back(control->sides[shape.subscribers + i].figures);
  }
  return run;
}

std::uint64_t measured_messages(const SideFigures& subscriber, const HarnessOptions& options) {
  return subscriber.messages > options.stream_warmup ? subscriber.messages - options.stream_warmup
                                                     : 0;
}

double subscriber_rate(const SideFigures& subscriber, const HarnessOptions& options) {
  return subscriber.seconds > 0
             ? static_cast<double>(measured_messages(subscriber, options)) / subscriber.seconds
             : 0.0;
}

// One subscriber's figures, and what is wrong with them (each error prefixed with `prefix`).
// The count and timing checks only run when the processes themselves did not fail: their error
// already says what happened.
nlohmann::json subscriber_result(const SideFigures& s, std::uint64_t producers_sent,
                                 std::size_t message_size, const HarnessOptions& options,
                                 bool sides_ok, const std::string& prefix,
                                 std::vector<std::string>& errors) {
  const auto measured = measured_messages(s, options);
  if (sides_ok && s.sent != producers_sent) {
    errors.push_back(prefix + "end markers announced " + std::to_string(s.sent) +
                     " messages, producers sent " + std::to_string(producers_sent));
  }
  if (sides_ok && (measured == 0 || s.seconds <= 0.0)) {
    errors.push_back(prefix + "too few messages to time (" + std::to_string(s.messages) + ")");
  }
  if (s.lost != 0 || s.out_of_order != 0 || s.corrupt != 0) {
    errors.push_back(prefix + "verification: " + std::to_string(s.lost) + " lost, " +
                     std::to_string(s.out_of_order) + " out of order, " +
                     std::to_string(s.corrupt) + " corrupt");
  }
  const double rate = subscriber_rate(s, options);
  return {{"messages", s.messages},
          {"measured_messages", measured},
          {"seconds", s.seconds},
          {"msgs_per_s", rate},
          {"mb_per_s", rate * static_cast<double>(message_size) / 1e6},
          {"lost", s.lost},
          {"out_of_order", s.out_of_order},
          {"corrupt", s.corrupt}};
}

std::uint64_t total_sent(const StreamRun& run) {
  std::uint64_t sent = 0;
  for (const auto& p : run.producers) sent += p.sent;
  return sent;
}

nlohmann::json steady_usage(const SideFigures& side) {
  return {{"cpu_s", side.steady_cpu_s},
          {"wall_s", side.steady_wall_s},
          {"cpu_percent",
           side.steady_wall_s > 0 ? 100.0 * side.steady_cpu_s / side.steady_wall_s : 0.0},
          {"involuntary_switches", side.steady_involuntary_switches}};
}

// The paced figures of a pair: the producer's timetable, the subscriber's latencies and what
// each side used of the CPU while the messages flowed.
nlohmann::json paced_result(const SideFigures& producer, const SideFigures& subscriber,
                            const HarnessOptions& options) {
  nlohmann::json paced;
  paced["rate_msgs_per_s"] = options.paced_rate;
  paced["late_messages"] = producer.late;
  paced["schedule_slips"] = producer.slips;
  paced["schedule_slipped_ns"] = producer.slipped_ns;
  paced["latency_samples"] = subscriber.samples;
  paced["latency_p50_ns"] = subscriber.p50;
  paced["latency_p99_ns"] = subscriber.p99;
  paced["latency_p999_ns"] = subscriber.p999;
  paced["latency_mean_ns"] = subscriber.mean;
  paced["latency_min_ns"] = subscriber.min;
  paced["latency_max_ns"] = subscriber.max;
  paced["subscriber"] = steady_usage(subscriber);
  paced["producer"] = steady_usage(producer);
  return paced;
}

nlohmann::json pair_stream(Link& link, std::size_t message_size, const HarnessOptions& options) {
  const StreamRun run = run_stream(link, GroupShape{}, options, Naming::kPair);
  std::vector<std::string> errors = run.forked.errors;
  const SideFigures& subscriber = run.subscribers.front();
  nlohmann::json result = subscriber_result(subscriber, total_sent(run), message_size, options,
                                            run.forked.errors.empty(), "", errors);
  // Programs were forked subscriber first: exits[0] is side B, exits[1] side A.
  const SideExit& b = run.forked.exits[0];
  const SideExit& a = run.forked.exits[1];
  result["wall_s"] = run.forked.wall_s;
  result["cpu_s"] = {{"a", cpu_seconds(a.usage)}, {"b", cpu_seconds(b.usage)}};
  result["involuntary_switches"] = {{"a", a.usage.ru_nivcsw}, {"b", b.usage.ru_nivcsw}};
  if (options.paced_rate > 0) {
    result["paced"] = paced_result(run.producers.front(), subscriber, options);
    if (run.forked.errors.empty() && subscriber.samples == 0) {
      errors.emplace_back("no one-way latency measured (no timed message after the warm-up)");
    }
  }
  result["verified"] = errors.empty();
  result["errors"] = errors;
  return result;
}

nlohmann::json pair_pingpong(Link& link, const HarnessOptions& options) {
  // B (the server) first: a side waiting for the other is the natural order.
  const std::vector<SideProgram> programs = {
      {"side B", core_for(options, 1), false, opener(link, Side::kB),
       [](Endpoint& e, SideFigures& out) { return pingpong_server(e, out); }},
      {"side A", core_for(options, 0), true, opener(link, Side::kA),
       [&options](Endpoint& e, SideFigures& out) { return pingpong_client(e, options, out); }}};
  SharedControl control;
  const ForkedRun run = run_sides(programs, *control, options);
  const SideFigures& b = control->sides[0].figures;
  const SideFigures& a = control->sides[1].figures;
  std::vector<std::string> errors = run.errors;
  nlohmann::json result;
  result["wall_s"] = run.wall_s;
  result["cpu_s"] = {{"a", cpu_seconds(run.exits[1].usage)},
                     {"b", cpu_seconds(run.exits[0].usage)}};
  result["involuntary_switches"] = {{"a", run.exits[1].usage.ru_nivcsw},
                                    {"b", run.exits[0].usage.ru_nivcsw}};
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
  result["verified"] = errors.empty();
  result["errors"] = errors;
  return result;
}

nlohmann::json side_usage(const SideExit& exit, int core) {
  return {{"core", core},
          {"cpu_s", cpu_seconds(exit.usage)},
          {"involuntary_switches", exit.usage.ru_nivcsw}};
}

}  // namespace

nlohmann::json run_measurement(Link& link, Pattern pattern, std::size_t message_size,
                               const HarnessOptions& options) {
  if (options.paced_rate > 0 && pattern != Pattern::kStream) {
    throw std::invalid_argument("a paced measurement streams: ping-pong sets its own pace");
  }
  if (options.paced_rate > 0 && message_size < kTimedStampBytes) {
    throw std::invalid_argument("a paced measurement needs messages of at least " +
                                std::to_string(kTimedStampBytes) + " B to carry the send time");
  }
  return pattern == Pattern::kStream ? pair_stream(link, message_size, options)
                                     : pair_pingpong(link, options);
}

nlohmann::json run_group_measurement(Link& link, const GroupShape& shape, std::size_t message_size,
                                     const HarnessOptions& options) {
  if (shape.producers < 1 || shape.subscribers < 1 || shape.producers > kMaxGroupMembers ||
      shape.subscribers > kMaxGroupMembers) {
    throw std::invalid_argument("a group needs 1.." + std::to_string(kMaxGroupMembers) +
                                " producers and subscribers");
  }
  const StreamRun run = run_stream(link, shape, options, Naming::kGroup);
  std::vector<std::string> errors = run.forked.errors;
  const bool sides_ok = run.forked.errors.empty();
  const std::uint64_t sent = total_sent(run);

  nlohmann::json subscribers = nlohmann::json::array();
  double aggregate = 0.0;
  double slowest = 0.0;
  std::uint64_t lost = 0, out_of_order = 0, corrupt = 0;
  for (std::uint32_t i = 0; i < shape.subscribers; ++i) {
    const SideFigures& s = run.subscribers[i];
    nlohmann::json side = subscriber_result(s, sent, message_size, options, sides_ok,
                                            "subscriber " + std::to_string(i) + ": ", errors);
    side.update(side_usage(run.forked.exits[i], run.subscriber_cores[i]));
    const double rate = side["msgs_per_s"];
    aggregate += rate;
    slowest = i == 0 ? rate : std::min(slowest, rate);
    lost += s.lost;
    out_of_order += s.out_of_order;
    corrupt += s.corrupt;
    subscribers.push_back(std::move(side));
  }
  nlohmann::json producers = nlohmann::json::array();
  double publish_rate = 0.0;
  for (std::uint32_t i = 0; i < shape.producers; ++i) {
    const SideFigures& p = run.producers[i];
    const double rate = p.seconds > 0 ? static_cast<double>(p.sent) / p.seconds : 0.0;
    publish_rate += rate;
    nlohmann::json side = {{"sent", p.sent}, {"seconds", p.seconds}, {"msgs_per_s", rate}};
    side.update(side_usage(run.forked.exits[shape.subscribers + i], run.producer_cores[i]));
    producers.push_back(std::move(side));
  }

  std::vector<int> cores = run.producer_cores;
  cores.insert(cores.end(), run.subscriber_cores.begin(), run.subscriber_cores.end());
  std::vector<int> distinct = cores;
  std::sort(distinct.begin(), distinct.end());
  distinct.erase(std::unique(distinct.begin(), distinct.end()), distinct.end());

  nlohmann::json result;
  result["producers"] = shape.producers;
  result["subscribers"] = shape.subscribers;
  result["message_size"] = message_size;
  result["cores"] = cores;  // producers, then subscribers
  result["cores_shared"] = distinct.size() < cores.size();
  result["wall_s"] = run.forked.wall_s;
  result["aggregate_msgs_per_s"] = aggregate;
  result["per_subscriber_msgs_per_s"] = aggregate / shape.subscribers;
  result["slowest_subscriber_msgs_per_s"] = slowest;
  result["producer_msgs_per_s"] = publish_rate;
  result["messages_sent"] = sent;
  result["lost"] = lost;
  result["out_of_order"] = out_of_order;
  result["corrupt"] = corrupt;
  result["producer_sides"] = producers;
  result["subscriber_sides"] = subscribers;
  result["verified"] = errors.empty();
  result["errors"] = errors;
  return result;
}

}  // namespace ipcmesh::bench
