// The producer's timetable in a paced measurement: message i is due at start + i / rate. The
// schedule is absolute, so the time each send takes does not lower the rate. A producer that fell
// behind (descheduled, throttled, a send that blocked) sends at most kMaxCatchUp messages back to
// back and then moves the timetable by the rest of the delay: a stall shows up as late messages
// and a slip, not as a burst that the subscriber would absorb at full speed (which would measure
// a streaming burst, not waiting).
#pragma once

#include <cmath>
#include <cstdint>

namespace ipcmesh::bench {

class PacedSchedule {
 public:
  static constexpr std::uint64_t kMaxCatchUp = 4;

  PacedSchedule(std::uint64_t start_ns, double messages_per_second)
      : start_ns_(start_ns), interval_ns_(1e9 / messages_per_second) {}

  double interval_ns() const { return interval_ns_; }

  std::uint64_t due_ns(std::uint64_t index) const {
    return start_ns_ + shift_ns_ +
           static_cast<std::uint64_t>(std::llround(static_cast<double>(index) * interval_ns_));
  }

  // Message `index` goes out at now_ns. More than one interval after its due time it is late
  // (the next one was due already); more than kMaxCatchUp - 1 intervals, and the timetable moves
  // so that this one and the next kMaxCatchUp - 1 are due by now and the one after them an
  // interval later.
  void sending(std::uint64_t index, std::uint64_t now_ns) {
    const std::uint64_t due = due_ns(index);
    if (now_ns <= due) return;
    const double behind = static_cast<double>(now_ns - due);
    if (behind > interval_ns_) ++late_;
    const double allowed = static_cast<double>(kMaxCatchUp - 1) * interval_ns_;
    if (behind > allowed) {
      shift_ns_ += static_cast<std::uint64_t>(std::llround(behind - allowed));
      ++slips_;
    }
  }

  std::uint64_t late() const { return late_; }
  std::uint64_t slips() const { return slips_; }          // times the timetable moved
  std::uint64_t slipped_ns() const { return shift_ns_; }  // by how much in all

 private:
  std::uint64_t start_ns_;
  double interval_ns_;
  std::uint64_t shift_ns_ = 0;
  std::uint64_t late_ = 0;
  std::uint64_t slips_ = 0;
};

}  // namespace ipcmesh::bench
