#include "controller/leader_election.hpp"

#include <gtest/gtest.h>

#include "../kube/fake_clock.hpp"

namespace ipcmesh::controller {
namespace {

using kube::testing::FakeClock;
using namespace std::chrono_literals;

// An in-memory Lease with optimistic concurrency, like the API server's.
class FakeLeaseStore final : public LeaseStore {
 public:
  std::optional<LeaseRecord> get() override {
    if (fail_) throw std::runtime_error("apiserver unreachable");
    return lease_;
  }
  bool create(const LeaseRecord& record) override {
    if (fail_) throw std::runtime_error("apiserver unreachable");
    if (lease_) return false;
    store(record);
    return true;
  }
  bool update(const LeaseRecord& record) override {
    if (fail_) throw std::runtime_error("apiserver unreachable");
    if (!lease_ || lease_->resource_version != record.resource_version) return false;
    store(record);
    return true;
  }
  std::string describe() const override { return "test/lease"; }

  void store(LeaseRecord record) {
    record.resource_version = std::to_string(++version_);
    lease_ = record;
  }
  std::optional<LeaseRecord> lease_;
  bool fail_ = false;
  int version_ = 0;
};

LeaderElectionConfig config_for(const std::string& identity) {
  LeaderElectionConfig config;
  config.identity = identity;
  return config;
}

// The first replica creates the Lease and holds it; renewing keeps acquireTime and the
// transition count and moves renewTime.
TEST(LeaderElection, AcquiresAMissingLeaseAndRenewsIt) {
  FakeLeaseStore store;
  FakeClock clock;
  LeaderElector a(store, clock, config_for("a"), {});
  ASSERT_TRUE(a.try_acquire_or_renew());
  ASSERT_TRUE(store.lease_);
  EXPECT_EQ(store.lease_->holder_identity, "a");
  EXPECT_EQ(store.lease_->lease_duration_seconds, 15);
  EXPECT_EQ(store.lease_->lease_transitions, 0);
  const LeaseRecord first = *store.lease_;

  clock.advance(2s);
  ASSERT_TRUE(a.try_acquire_or_renew());
  EXPECT_EQ(store.lease_->acquire_time, first.acquire_time);
  EXPECT_NE(store.lease_->renew_time, first.renew_time);
  EXPECT_EQ(store.lease_->lease_transitions, 0);
}

// A second replica cannot take a Lease that is being renewed, takes it over once it went
// unrenewed for the lease duration (on its own clock), and counts a transition.
TEST(LeaderElection, TakesOverOnlyAfterTheLeaseExpired) {
  FakeLeaseStore store;
  FakeClock clock;
  LeaderElector a(store, clock, config_for("a"), {});
  LeaderElector b(store, clock, config_for("b"), {});
  ASSERT_TRUE(a.try_acquire_or_renew());
  for (int i = 0; i < 10; ++i) {
    clock.advance(2s);
    ASSERT_TRUE(a.try_acquire_or_renew());
    EXPECT_FALSE(b.try_acquire_or_renew());
  }
  EXPECT_EQ(b.observed_holder(), "a");
  clock.advance(14s);  // a stopped renewing: not expired yet for b
  EXPECT_FALSE(b.try_acquire_or_renew());
  clock.advance(2s);
  ASSERT_TRUE(b.try_acquire_or_renew());
  EXPECT_EQ(store.lease_->holder_identity, "b");
  EXPECT_EQ(store.lease_->lease_transitions, 1);
  // a comes back and finds b holding a fresh lease.
  EXPECT_FALSE(a.try_acquire_or_renew());
}

// A leader whose renewals fail for the renew deadline loses leadership: on_stopped_leading
// runs, run() returns, and it does not release (it cannot reach the server anyway).
TEST(LeaderElection, LosesLeadershipWhenRenewalsFailPastTheDeadline) {
  FakeLeaseStore store;
  FakeClock clock;
  int started = 0;
  int stopped = 0;
  std::string new_leader;
  int sleeps = 0;
  clock.on_sleep([&] {
    if (++sleeps == 3) store.fail_ = true;  // the API server goes away after two renewals
  });
  LeaderElector a(
      store, clock, config_for("a"),
      {[&] { ++started; }, [&] { ++stopped; }, [&](const std::string& id) { new_leader = id; }});
  kube::Cancellation cancellation;
  a.run(cancellation);
  EXPECT_EQ(started, 1);
  EXPECT_EQ(stopped, 1);
  EXPECT_EQ(new_leader, "a");
  EXPECT_FALSE(a.is_leader());
  EXPECT_EQ(store.lease_->holder_identity, "a");
  // Given up at the 10 s renew deadline: the sleeps after the failure add up to it.
  const auto all = clock.sleeps();
  EXPECT_EQ(all.size(), 7u);  // 2 good renewals, then 5 failed tries of 2 s
}

// A graceful shutdown releases the Lease, and a standby takes it at its next try instead of
// waiting out the 15 s lease.
TEST(LeaderElection, ReleasesOnShutdownSoAStandbyTakesOverAtOnce) {
  FakeLeaseStore store;
  FakeClock clock;
  kube::Cancellation cancellation;
  int sleeps = 0;
  clock.on_sleep([&] {
    if (++sleeps == 4) cancellation.cancel();
  });
  bool leading_during_run = false;
  LeaderElector a(store, clock, config_for("a"),
                  {[&] { leading_during_run = true; }, nullptr, nullptr});
  a.run(cancellation);
  EXPECT_TRUE(leading_during_run);
  EXPECT_FALSE(a.is_leader());
  ASSERT_TRUE(store.lease_);
  EXPECT_EQ(store.lease_->holder_identity, "");
  EXPECT_EQ(store.lease_->lease_duration_seconds, 1);

  LeaderElector b(store, clock, config_for("b"), {});
  EXPECT_TRUE(b.try_acquire_or_renew());
  EXPECT_EQ(store.lease_->holder_identity, "b");
  EXPECT_EQ(store.lease_->lease_transitions, 1);
}

}  // namespace
}  // namespace ipcmesh::controller
