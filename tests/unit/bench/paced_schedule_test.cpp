// The paced producer's timetable on literal times: messages due one interval apart from the
// start, lateness counted against one interval, and a stall followed by a short catch-up burst
// rather than every missed message at once.
#include "paced_schedule.hpp"

#include <gtest/gtest.h>

namespace ipcmesh::bench {
namespace {

constexpr std::uint64_t kStart = 5'000'000'000;
constexpr std::uint64_t kMillisecond = 1'000'000;

TEST(PacedSchedule, MessagesAreDueOneIntervalApartFromTheStart) {
  const PacedSchedule schedule(kStart, 1000);
  EXPECT_EQ(schedule.due_ns(0), kStart);
  EXPECT_EQ(schedule.due_ns(1), kStart + kMillisecond);
  EXPECT_EQ(schedule.due_ns(1000), kStart + 1000 * kMillisecond);
  EXPECT_EQ(PacedSchedule(kStart, 3).due_ns(1), kStart + 333'333'333);  // rounded, not truncated
}

TEST(PacedSchedule, ASendWithinOneIntervalOfItsDueTimeIsNotLate) {
  PacedSchedule schedule(kStart, 1000);
  schedule.sending(0, kStart);
  schedule.sending(1, schedule.due_ns(1) + kMillisecond / 2);
  schedule.sending(2, schedule.due_ns(2) + kMillisecond);
  EXPECT_EQ(schedule.late(), 0u);
  EXPECT_EQ(schedule.slips(), 0u);
  schedule.sending(3, schedule.due_ns(3) + kMillisecond + 1);
  EXPECT_EQ(schedule.late(), 1u);
}

TEST(PacedSchedule, AfterAStallAtMostFourGoOutBackToBackThenTheRateResumes) {
  PacedSchedule schedule(kStart, 1000);
  const std::uint64_t resumed = kStart + 10 * kMillisecond;  // message 0 sent 10 intervals late
  schedule.sending(0, resumed);
  EXPECT_EQ(schedule.slips(), 1u);
  std::uint64_t due_by_now = 0;
  for (std::uint64_t i = 0; i < 20; ++i) due_by_now += schedule.due_ns(i) <= resumed ? 1 : 0;
  EXPECT_EQ(due_by_now, PacedSchedule::kMaxCatchUp);
  EXPECT_EQ(schedule.due_ns(PacedSchedule::kMaxCatchUp), resumed + kMillisecond);
  EXPECT_EQ(schedule.slipped_ns(), 7 * kMillisecond);
  // The burst itself: each sent at `resumed`; only those more than an interval behind are late.
  for (std::uint64_t i = 1; i < PacedSchedule::kMaxCatchUp; ++i) schedule.sending(i, resumed);
  EXPECT_EQ(schedule.late(), 2u);  // message 0 (10 ms behind) and message 1 (2 ms behind)
  EXPECT_EQ(schedule.slips(), 1u);
}

}  // namespace
}  // namespace ipcmesh::bench
