// Reading the bench's own cgroup: cpu.stat of both cgroup versions into one set of counters,
// the cpu controller's cgroup out of /proc/self/cgroup, where to look for it, and the CPU limit.
// Pure functions on literal text, as the kernel writes it.
#include "cgroup_cpu.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace ipcmesh::bench {
namespace {

TEST(CgroupCpuStat, ParsesCgroupV1WithThrottledTimeInNanoseconds) {
  const auto counters = parse_cpu_stat(
      "nr_periods 1200\nnr_throttled 37\nthrottled_time 912345678\nnr_bursts 0\nburst_time 0\n");
  EXPECT_EQ(counters.nr_periods, 1200u);
  EXPECT_EQ(counters.nr_throttled, 37u);
  EXPECT_EQ(counters.throttled_ns, 912345678u);
}

TEST(CgroupCpuStat, ParsesCgroupV2WithThrottledTimeInMicroseconds) {
  const auto counters = parse_cpu_stat(
      "usage_usec 8842512\nuser_usec 6001234\nsystem_usec 2841278\ncore_sched.force_idle_usec 0\n"
      "nr_periods 501\nnr_throttled 120\nthrottled_usec 4810000\nnr_bursts 0\nburst_usec 0");
  EXPECT_EQ(counters.nr_periods, 501u);
  EXPECT_EQ(counters.nr_throttled, 120u);
  EXPECT_EQ(counters.throttled_ns, 4'810'000'000u);
}

TEST(CgroupCpuStat, AV2CgroupWithoutTheCpuControllerHasOnlyUsageAndCountsZero) {
  const auto counters = parse_cpu_stat("usage_usec 10\nuser_usec 5\nsystem_usec 5\n");
  EXPECT_EQ(counters.nr_periods, 0u);
  EXPECT_EQ(counters.nr_throttled, 0u);
  EXPECT_EQ(counters.throttled_ns, 0u);
  EXPECT_EQ(parse_cpu_stat("").nr_periods, 0u);
  EXPECT_EQ(parse_cpu_stat("nr_periods x\nnr_throttled -4\n").nr_throttled, 0u);
}

TEST(CgroupCpuStat, TheDeltaIsFieldByFieldAndNeverNegative) {
  const auto delta = counters_delta({100, 10, 5000}, {150, 12, 9000});
  EXPECT_EQ(delta.nr_periods, 50u);
  EXPECT_EQ(delta.nr_throttled, 2u);
  EXPECT_EQ(delta.throttled_ns, 4000u);
  EXPECT_EQ(counters_delta({100, 10, 5000}, {0, 0, 0}).nr_periods, 0u);  // a new cgroup
}

struct MembershipCase {
  const char* name;
  const char* proc_self_cgroup;
  int version;  // 0: none
  const char* path;
};

class CgroupMembershipOf : public ::testing::TestWithParam<MembershipCase> {};

TEST_P(CgroupMembershipOf, FindsTheCpuControllersCgroup) {
  const auto membership = cpu_cgroup_of(GetParam().proc_self_cgroup);
  if (GetParam().version == 0) {
    EXPECT_FALSE(membership.has_value());
    return;
  }
  ASSERT_TRUE(membership.has_value());
  EXPECT_EQ(membership->version, GetParam().version);
  EXPECT_EQ(membership->path, GetParam().path);
}

INSTANTIATE_TEST_SUITE_P(
    Samples, CgroupMembershipOf,
    ::testing::Values(
        MembershipCase{"V1CoMounted",
                       "12:pids:/kubepods/pod1/c1\n4:cpu,cpuacct:/kubepods/burstable/pod1/c1\n"
                       "1:name=systemd:/kubepods/pod1/c1\n",
                       1, "/kubepods/burstable/pod1/c1"},
        MembershipCase{"V1CpuAloneNotCpuset", "3:cpuset:/a\n2:cpuacct:/b\n1:cpu:/c\n", 1, "/c"},
        MembershipCase{"HybridPrefersTheV1Controller", "1:cpu:/\n0::/user.slice\n", 1, "/"},
        MembershipCase{"V2", "0::/kubepods.slice/kubepods-pod1.slice/cri-containerd-c1.scope\n", 2,
                       "/kubepods.slice/kubepods-pod1.slice/cri-containerd-c1.scope"},
        MembershipCase{"V2PathWithAColon", "0::/a:b\n", 2, "/a:b"},
        MembershipCase{"NoCpuController", "3:cpuset:/\n2:memory:/x\n", 0, ""}),
    [](const auto& info) { return info.param.name; });

TEST(CgroupDirectories, TriesTheResolvedPathBeforeTheMountRoot) {
  EXPECT_EQ(cgroup_directories({2, "/kubepods/c1"}),
            (std::vector<std::string>{"/sys/fs/cgroup/kubepods/c1", "/sys/fs/cgroup"}));
  const auto v1 = cgroup_directories({1, "/docker/abc"});
  ASSERT_EQ(v1.size(), 6u);
  EXPECT_EQ(v1.front(), "/sys/fs/cgroup/cpu,cpuacct/docker/abc");
  EXPECT_EQ(v1[2], "/sys/fs/cgroup/cpu/docker/abc");
  EXPECT_EQ(v1.back(), "/sys/fs/cgroup/cpu");
  EXPECT_EQ(cgroup_directories({1, "/"}).size(), 3u);  // at the root, the mounts once each
}

TEST(CpuLimit, ReadsCgroupV2CpuMax) {
  const auto half = parse_cpu_max("50000 100000\n");
  ASSERT_TRUE(half.has_value());
  ASSERT_TRUE(half->cores().has_value());
  EXPECT_DOUBLE_EQ(*half->cores(), 0.5);
  const auto none = parse_cpu_max("max 100000\n");
  ASSERT_TRUE(none.has_value());
  EXPECT_FALSE(none->cores().has_value());
  EXPECT_FALSE(parse_cpu_max("garbage").has_value());
  EXPECT_FALSE(parse_cpu_max("50000 0").has_value());
}

TEST(CpuLimit, ReadsCgroupV1QuotaAndPeriod) {
  EXPECT_DOUBLE_EQ(*cfs_limit(150000, 100000).cores(), 1.5);
  EXPECT_FALSE(cfs_limit(-1, 100000).cores().has_value());
}

}  // namespace
}  // namespace ipcmesh::bench
