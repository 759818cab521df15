// --hog: the competing processes really take CPU for as long as the run lasts, and are gone after.
#include "cpu_hogs.hpp"

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/resource.h>

#include <chrono>
#include <thread>

#include "environment.hpp"

namespace ipcmesh::bench {
namespace {

double children_cpu_seconds() {
  rusage usage{};
  getrusage(RUSAGE_CHILDREN, &usage);  // children that were waited for
  return static_cast<double>(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) +
         static_cast<double>(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6;
}

TEST(CpuHogs, SpinOnTheGivenCoresUntilDestroyed) {
  const int core = allowed_cores().front();
  const double before = children_cpu_seconds();
  {
    const CpuHogs hogs(1, {core});
    const auto described = hogs.describe();
    EXPECT_EQ(described["count"], 1);
    EXPECT_EQ(described["running"], 1);
    EXPECT_EQ(described["cores"], nlohmann::json::array({core}));
    std::this_thread::sleep_for(std::chrono::milliseconds(400));
  }
  // Reaped by the destructor, so its CPU time is counted now: it spun, not slept.
  // 0.05 of 0.4 s: it ran, even sharing its core with other tests without a raised priority.
  EXPECT_GE(children_cpu_seconds() - before, 0.05);
}

TEST(CpuHogs, NoneRequestedNoneStarted) {
  const CpuHogs hogs(0, {0, 1});
  EXPECT_EQ(hogs.describe()["running"], 0);
}

}  // namespace
}  // namespace ipcmesh::bench
