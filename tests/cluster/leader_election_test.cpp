// Two operator replicas against one API server: the coordination.k8s.io Lease decides which one
// reconciles. A crashed leader (SIGKILL) is replaced once its Lease expires; a leader stopped
// with SIGTERM releases the Lease, so the standby takes over at its next retry.
#include <gtest/gtest.h>

#include <chrono>
#include <memory>
#include <nlohmann/json.hpp>
#include <ostream>
#include <string>
#include <thread>
#include <vector>

#include "cluster.hpp"
#include "ipc_objects.hpp"

namespace ipcmesh::cluster {
namespace {

using nlohmann::json;
using Clock = std::chrono::steady_clock;

constexpr const char* kLeaseNamespace = "ipcmesh-system";
constexpr const char* kLeaseName = "ipcmesh-operator";

struct LeaseTiming {
  const char* name;
  std::vector<std::string> flags;  // none: the operator's defaults
  std::chrono::seconds lease_duration;
  std::chrono::seconds retry_period;
};

// GoogleTest (and so ctest's test names) print the parameter by its name, not its bytes.
void PrintTo(const LeaseTiming& timing, std::ostream* out) {
  *out << timing.name;
}

const LeaseTiming kDefaultTiming{
    "DefaultTiming", {}, std::chrono::seconds(15), std::chrono::seconds(2)};
const LeaseTiming kShortTiming{
    "ShortTiming",
    {"--lease-duration", "4", "--renew-deadline", "3", "--retry-period", "1"},
    std::chrono::seconds(4),
    std::chrono::seconds(1)};

// spec.holderIdentity of the Lease, "" when it is released or absent.
std::string lease_holder() {
  const CommandResult got =
      kubectl({"get", "lease", kLeaseName, "-n", kLeaseNamespace, "-o", "json"});
  if (!got.ok()) return "";
  const json lease = json::parse(got.out, nullptr, false);
  if (!lease.is_object()) return "";
  return lease.value("spec", json::object()).value("holderIdentity", "");
}

// What the replica says on /metrics: 1 leader, 0 standby, -1 not answering.
double leader_gauge(const OperatorProcess& replica) {
  const std::string metrics = replica.health_get("/metrics");
  if (metrics.find("ipcmesh_leader") == std::string::npos) return -1;
  return metric_value(metrics, "ipcmesh_leader");
}

bool log_has(const OperatorProcess& replica, const std::string& text) {
  return read_file(replica.log_file()).find(text) != std::string::npos;
}

class LeaderElection : public ::testing::TestWithParam<LeaseTiming> {
 protected:
  void SetUp() override {
    // A Lease left by an earlier test (or a crashed run) would delay the first election by a
    // whole lease duration; nothing else runs now, so start from no Lease at all.
    kubectl({"delete", "lease", kLeaseName, "-n", kLeaseNamespace, "--ignore-not-found"});
    ns_ = create_namespace("leader");
  }
  void TearDown() override {
    for (auto& replica : replicas_) replica.reset();  // SIGTERM: a live leader releases
    kubectl({"delete", "lease", kLeaseName, "-n", kLeaseNamespace, "--ignore-not-found"});
    kubectl({"delete", "namespace", ns_, "--wait=false"});
  }

  // Starts replica "<namespace>-<letter>" (unique per test and per run: the tests read its log,
  // which a shared control plane keeps across runs) with the timing flags; waits for /readyz.
  OperatorProcess& start_replica(const std::string& letter, const LeaseTiming& timing) {
    const std::string identity = ns_ + "-" + letter;
    replicas_.push_back(std::make_unique<OperatorProcess>(
        OperatorOptions{.identity = identity, .extra_flags = timing.flags}));
    replicas_.back()->wait_ready();
    identities_.push_back(identity);
    return *replicas_.back();
  }
  const std::string& identity(std::size_t index) const { return identities_.at(index); }

  // a leads; b is ready and has read a's Lease (it logged who leads).
  void start_leader_and_standby(const LeaseTiming& timing) {
    OperatorProcess& a = start_replica("a", timing);
    ASSERT_TRUE(eventually([&] { return lease_holder() == identity(0); }))
        << "a never took the Lease (holder '" << lease_holder() << "'); log:\n"
        << a.log_tail();
    ASSERT_TRUE(eventually([&] { return leader_gauge(a) == 1; })) << a.log_tail();
    OperatorProcess& b = start_replica("b", timing);
    ASSERT_TRUE(eventually([&] { return log_has(b, "leader is " + identity(0)); }))
        << "b never observed a's Lease; log:\n"
        << b.log_tail();
  }

  // A channel created now gets a status: someone is reconciling.
  void expect_reconciles(const std::string& channel, const OperatorProcess& by) {
    kubectl_ok({"apply", "-n", ns_, "-f", "-"}, channel_manifest(channel, channel));
    wait_for_counts(ns_, channel, {1, 0, 0, 0}, by);
    EXPECT_TRUE(log_has(by, "reconciled " + ns_ + "/" + channel)) << by.log_tail();
  }

  std::vector<std::unique_ptr<OperatorProcess>> replicas_;
  std::vector<std::string> identities_;
  std::string ns_;
};

TEST_P(LeaderElection, ExactlyOneReplicaHoldsTheLeaseAndOnlyItReconciles) {
  ASSERT_NO_FATAL_FAILURE(start_leader_and_standby(GetParam()));
  OperatorProcess& a = *replicas_[0];
  OperatorProcess& b = *replicas_[1];
  // Over several retry periods, b keeps seeing a's Lease and stays standby.
  const auto until = Clock::now() + 3 * GetParam().retry_period;
  while (Clock::now() < until) {
    EXPECT_EQ(lease_holder(), identity(0));
    EXPECT_EQ(leader_gauge(a), 1);
    EXPECT_EQ(leader_gauge(b), 0);
    std::this_thread::sleep_for(std::chrono::milliseconds(250));
  }
  expect_reconciles("only-leader", a);
  EXPECT_FALSE(log_has(b, "reconciled " + ns_ + "/")) << "the standby reconciled:\n"
                                                      << b.log_tail();
}

TEST_P(LeaderElection, KillingTheLeaderHandsTheLeaseToTheOtherWithinTheLeaseDuration) {
  const LeaseTiming& timing = GetParam();
  ASSERT_NO_FATAL_FAILURE(start_leader_and_standby(timing));
  OperatorProcess& a = *replicas_[0];
  OperatorProcess& b = *replicas_[1];

  const auto killed = Clock::now();
  a.kill_now();  // a crash: no release, the Lease must expire
  // b takes over once the Lease went unrenewed for its duration, as b observed it: a renewed at
  // most one retry period before the kill, and b checks once per retry period.
  const auto deadline = timing.lease_duration + 2 * timing.retry_period + std::chrono::seconds(2);
  const bool took_over =
      eventually([&] { return lease_holder() == identity(1); },
                 std::chrono::duration_cast<std::chrono::milliseconds>(deadline));
  const auto elapsed = Clock::now() - killed;
  ASSERT_TRUE(took_over) << "b did not take the Lease within " << deadline.count() << " s (holder '"
                         << lease_holder() << "'); b's log:\n"
                         << b.log_tail();
  // Not earlier than the Lease allows: a's last renewal was at most a retry period before.
  EXPECT_GE(elapsed, timing.lease_duration - timing.retry_period - std::chrono::milliseconds(500))
      << "b took a Lease that had not expired";
  std::cout << "[          ] " << timing.name << ": b leads "
            << std::chrono::duration<double>(elapsed).count() << " s after a was killed\n";
  ASSERT_TRUE(eventually([&] { return leader_gauge(b) == 1; })) << b.log_tail();
  expect_reconciles("after-crash", b);
}

TEST_P(LeaderElection, AGracefulStopReleasesTheLeaseForAQuickTakeover) {
  const LeaseTiming& timing = GetParam();
  ASSERT_NO_FATAL_FAILURE(start_leader_and_standby(timing));
  OperatorProcess& a = *replicas_[0];
  OperatorProcess& b = *replicas_[1];

  const auto stopping = Clock::now();
  a.stop();  // SIGTERM; returns once a exited
  EXPECT_TRUE(log_has(a, "released lease")) << a.log_tail();
  // Unreleased, the Lease could not pass to b before lease_duration after a's last renewal, which
  // was at most a retry period before the SIGTERM. Released, b takes it at its next retry.
  const auto bound = timing.lease_duration - timing.retry_period;
  const bool took_over = eventually(
      [&] { return lease_holder() == identity(1); },
      std::chrono::duration_cast<std::chrono::milliseconds>(stopping + bound - Clock::now()));
  const auto elapsed = Clock::now() - stopping;
  ASSERT_TRUE(took_over) << "b did not take the released Lease within " << bound.count()
                         << " s of SIGTERM to a (holder '" << lease_holder() << "'); b's log:\n"
                         << b.log_tail();
  std::cout << "[          ] " << timing.name << ": b leads "
            << std::chrono::duration<double>(elapsed).count() << " s after SIGTERM to a\n";
  ASSERT_TRUE(eventually([&] { return leader_gauge(b) == 1; })) << b.log_tail();
  expect_reconciles("after-handover", b);
}

INSTANTIATE_TEST_SUITE_P(Timing, LeaderElection, ::testing::Values(kShortTiming, kDefaultTiming),
                         [](const ::testing::TestParamInfo<LeaseTiming>& info) {
                           return std::string(info.param.name);
                         });

}  // namespace
}  // namespace ipcmesh::cluster
