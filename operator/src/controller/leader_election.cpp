#include "controller/leader_election.hpp"

#include <spdlog/spdlog.h>

namespace ipcmesh::controller {

std::optional<LeaseRecord> KubeLeaseStore::get() {
  const auto lease = client_.get_lease(namespace_, name_);
  if (!lease) return std::nullopt;
  LeaseRecord record;
  const auto spec = lease->value("spec", nlohmann::json::object());
  record.holder_identity = spec.value("holderIdentity", "");
  record.lease_duration_seconds = spec.value("leaseDurationSeconds", 0);
  record.acquire_time = spec.value("acquireTime", "");
  record.renew_time = spec.value("renewTime", "");
  record.lease_transitions = spec.value("leaseTransitions", 0);
  record.resource_version = lease->at("metadata").value("resourceVersion", "");
  return record;
}

nlohmann::json KubeLeaseStore::to_lease(const LeaseRecord& record) const {
  nlohmann::json spec = {{"holderIdentity", record.holder_identity},
                         {"leaseDurationSeconds", record.lease_duration_seconds},
                         {"leaseTransitions", record.lease_transitions}};
  if (!record.acquire_time.empty()) spec["acquireTime"] = record.acquire_time;
  if (!record.renew_time.empty()) spec["renewTime"] = record.renew_time;
  nlohmann::json metadata = {{"name", name_}, {"namespace", namespace_}};
  if (!record.resource_version.empty()) metadata["resourceVersion"] = record.resource_version;
  return {{"apiVersion", "coordination.k8s.io/v1"},
          {"kind", "Lease"},
          {"metadata", metadata},
          {"spec", spec}};
}

bool KubeLeaseStore::create(const LeaseRecord& record) {
  try {
    client_.create_lease(namespace_, to_lease(record));
    return true;
  } catch (const kube::ApiError& error) {
    if (error.conflict()) return false;  // AlreadyExists is a 409 too
    throw;
  }
}

bool KubeLeaseStore::update(const LeaseRecord& record) {
  try {
    client_.update_lease(namespace_, to_lease(record));
    return true;
  } catch (const kube::ApiError& error) {
    if (error.conflict()) return false;
    throw;
  }
}

LeaderElector::LeaderElector(LeaseStore& store, kube::Clock& clock, LeaderElectionConfig config,
                             LeaderCallbacks callbacks)
    : store_(store), clock_(clock), config_(std::move(config)), callbacks_(std::move(callbacks)) {}

std::string LeaderElector::observed_holder() const {
  std::lock_guard lock(mutex_);
  return observed_ ? observed_->holder_identity : std::string();
}

bool LeaderElector::try_acquire_or_renew() {
  const auto now = clock_.now();
  const std::string now_text = kube::format_micro_time(clock_.wall_now());
  LeaseRecord wanted;
  wanted.holder_identity = config_.identity;
  wanted.lease_duration_seconds = static_cast<int>(config_.lease_duration.count());
  wanted.acquire_time = now_text;
  wanted.renew_time = now_text;

  std::optional<LeaseRecord> current;
  try {
    current = store_.get();
    if (!current) {
      if (!store_.create(wanted)) return false;
      std::lock_guard lock(mutex_);
      observed_ = wanted;
      observed_time_ = now;
      return true;
    }
  } catch (const std::exception& error) {
    spdlog::warn("leader election: reading lease {}: {}", store_.describe(), error.what());
    return false;
  }

  {
    std::lock_guard lock(mutex_);
    // Expiry is judged from when *we* last saw the record change, on our monotonic clock.
    LeaseRecord comparable = *current;
    if (!observed_ || !(comparable == *observed_)) {
      observed_ = comparable;
      observed_time_ = now;
    }
    const bool held_by_other =
        !current->holder_identity.empty() && current->holder_identity != config_.identity;
    const auto duration = std::chrono::seconds(current->lease_duration_seconds);
    if (held_by_other && observed_time_ + duration > now) return false;
  }

  if (current->holder_identity == config_.identity) {
    wanted.acquire_time = current->acquire_time;
    wanted.lease_transitions = current->lease_transitions;
  } else {
    wanted.lease_transitions = current->lease_transitions + 1;
  }
  wanted.resource_version = current->resource_version;
  try {
    if (!store_.update(wanted)) return false;
  } catch (const std::exception& error) {
    spdlog::warn("leader election: updating lease {}: {}", store_.describe(), error.what());
    return false;
  }
  std::lock_guard lock(mutex_);
  observed_ = wanted;
  observed_->resource_version.clear();  // unknown until the next read; never equal to a read
  observed_time_ = now;
  return true;
}

bool LeaderElector::release() {
  try {
    const auto current = store_.get();
    if (!current || current->holder_identity != config_.identity) return false;
    LeaseRecord released;
    released.lease_duration_seconds = 1;
    released.lease_transitions = current->lease_transitions;
    released.acquire_time = released.renew_time = kube::format_micro_time(clock_.wall_now());
    released.resource_version = current->resource_version;
    const bool ok = store_.update(released);
    if (ok) spdlog::info("leader election: released lease {}", store_.describe());
    return ok;
  } catch (const std::exception& error) {
    spdlog::warn("leader election: releasing lease {}: {}", store_.describe(), error.what());
    return false;
  }
}

void LeaderElector::run(kube::Cancellation& cancellation) {
  auto report_leader = [this] {
    const std::string holder = observed_holder();
    if (holder != reported_leader_) {
      reported_leader_ = holder;
      if (!holder.empty() && callbacks_.on_new_leader) callbacks_.on_new_leader(holder);
    }
  };
  // Campaign.
  while (!cancellation.cancelled()) {
    const bool acquired = try_acquire_or_renew();
    report_leader();
    if (acquired) break;
    if (!clock_.sleep_for(config_.retry_period, cancellation)) return;
  }
  if (cancellation.cancelled()) return;
  leader_ = true;
  spdlog::info("leader election: {} acquired lease {}", config_.identity, store_.describe());
  if (callbacks_.on_started_leading) callbacks_.on_started_leading();

  // Lead: renew every retry period; give up when the renew deadline passes without success.
  auto last_renew = clock_.now();
  bool lost = false;
  while (true) {
    if (!clock_.sleep_for(config_.retry_period, cancellation)) break;
    if (try_acquire_or_renew()) {
      last_renew = clock_.now();
      continue;
    }
    report_leader();
    if (clock_.now() - last_renew >= config_.renew_deadline) {
      lost = true;
      break;
    }
  }
  leader_ = false;
  if (lost) {
    spdlog::error("leader election: {} lost lease {} (no renewal within {} s)", config_.identity,
                  store_.describe(), config_.renew_deadline.count());
  } else if (config_.release_on_cancel) {
    release();
  }
  if (callbacks_.on_stopped_leading) callbacks_.on_stopped_leading();
}

}  // namespace ipcmesh::controller
