// Leader election on a coordination.k8s.io/v1 Lease, with client-go's leaderelection semantics:
// - try to acquire every retry period (2 s); a Lease held by another replica is taken over only
//   after it went unrenewed for the lease duration (15 s) *as observed on our own monotonic
//   clock* (never by comparing the other replica's renewTime with our wall clock: clock skew);
// - as leader, renew every retry period; when no renewal succeeded within the renew deadline
//   (10 s), leadership is lost and on_stopped_leading runs (the caller stops reconciling);
// - on graceful shutdown the leader releases the Lease (holder cleared, 1 s duration) so a
//   standby takes over in ~2 s instead of 15 s.
// Updates carry the read resourceVersion, so two replicas can never both win one round.
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <mutex>
#include <optional>
#include <string>

#include "kube/cancellation.hpp"
#include "kube/clock.hpp"
#include "kube/kube_client.hpp"

namespace ipcmesh::controller {

struct LeaseRecord {
  std::string holder_identity;
  int lease_duration_seconds = 0;
  std::string acquire_time;  // MicroTime text
  std::string renew_time;
  int lease_transitions = 0;
  std::string resource_version;  // of the Lease object read; "" for a create
  friend bool operator==(const LeaseRecord&, const LeaseRecord&) = default;
};

// The Lease as leader election sees it (the seam tests fake).
class LeaseStore {
 public:
  virtual ~LeaseStore() = default;
  virtual std::optional<LeaseRecord> get() = 0;        // nullopt: no Lease yet; throws on errors
  virtual bool create(const LeaseRecord& record) = 0;  // false: someone created it first
  virtual bool update(const LeaseRecord& record) = 0;  // false: resourceVersion conflict
  virtual std::string describe() const = 0;            // "ipcmesh-system/ipcmesh-operator"
};

class KubeLeaseStore final : public LeaseStore {
 public:
  KubeLeaseStore(kube::KubeClient& client, std::string ns, std::string name)
      : client_(client), namespace_(std::move(ns)), name_(std::move(name)) {}
  std::optional<LeaseRecord> get() override;
  bool create(const LeaseRecord& record) override;
  bool update(const LeaseRecord& record) override;
  std::string describe() const override { return namespace_ + "/" + name_; }

 private:
  nlohmann::json to_lease(const LeaseRecord& record) const;
  kube::KubeClient& client_;
  std::string namespace_;
  std::string name_;
};

struct LeaderElectionConfig {
  std::string identity;  // unique per replica: the Pod name (plus a random suffix is safer)
  std::chrono::seconds lease_duration{15};
  std::chrono::seconds renew_deadline{10};
  std::chrono::seconds retry_period{2};
  bool release_on_cancel = true;
};

struct LeaderCallbacks {
  std::function<void()> on_started_leading;
  std::function<void()> on_stopped_leading;  // lost or released; runs once per term
  std::function<void(const std::string& identity)> on_new_leader;
};

class LeaderElector {
 public:
  LeaderElector(LeaseStore& store, kube::Clock& clock, LeaderElectionConfig config,
                LeaderCallbacks callbacks);

  // Campaigns until leader, leads until the lease is lost or `cancellation` fires, then returns
  // (releasing the Lease on cancellation). Like client-go's Run, one call is one term: a
  // replica that lost leadership should exit and be restarted clean.
  void run(kube::Cancellation& cancellation);

  // One acquire-or-renew round; true when we hold the lease afterwards.
  bool try_acquire_or_renew();
  // Gives the lease up if we hold it.
  bool release();

  bool is_leader() const noexcept { return leader_.load(); }
  std::string observed_holder() const;

 private:
  LeaseStore& store_;
  kube::Clock& clock_;
  LeaderElectionConfig config_;
  LeaderCallbacks callbacks_;
  std::atomic<bool> leader_{false};
  mutable std::mutex mutex_;
  std::optional<LeaseRecord> observed_;
  kube::Clock::SteadyTime observed_time_{};
  std::string reported_leader_;
};

}  // namespace ipcmesh::controller
