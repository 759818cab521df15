// What the operator keeps of a Pod in its cache. The controller reads of a Pod only its identity,
// its labels, the ipcmesh.io/* annotations (inject, channels, status), whether it is being deleted,
// its phase and the status of its relay container; the webhook reads no cached Pod at all (it gets
// the Pod in the AdmissionReview). A cluster has thousands of Pods, so this is a small typed record
// instead of the object's JSON: a trimmed Pod as an nlohmann::json DOM is ~2.8 KB of heap (a map
// node and a string per field), this record ~0.8 KB with its cache entry (docs/benchmarks.md,
// "Operator").
#pragma once

#include <cstddef>
#include <cstdint>
#include <iterator>
#include <memory>
#include <nlohmann/json_fwd.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace ipcmesh::api {

// Only annotations under this prefix are kept: the operator's own.
inline constexpr std::string_view kOwnAnnotationPrefix = "ipcmesh.io/";

// A small string-to-string map (a Pod's labels, its ipcmesh.io annotations) in one allocation: the
// entries sorted by key, each string written as its length (LEB128) and its bytes. A std::map of
// six labels is six tree nodes plus a heap block per string over 15 bytes (~0.7 KB); packed it is
// one block of ~150 B. Lookups scan it, which suits maps of a handful of entries.
class PackedStringMap {
 public:
  using Entry = std::pair<std::string_view, std::string_view>;

  class Iterator {
   public:
    using iterator_category = std::forward_iterator_tag;
    using value_type = Entry;
    using difference_type = std::ptrdiff_t;
    using pointer = void;
    using reference = Entry;

    Iterator() = default;
    Entry operator*() const;
    Iterator& operator++();
    Iterator operator++(int) {
      Iterator before = *this;
      ++*this;
      return before;
    }
    friend bool operator==(const Iterator& a, const Iterator& b) { return a.at_ == b.at_; }

   private:
    friend class PackedStringMap;
    Iterator(std::string_view bytes, std::size_t at) : bytes_(bytes), at_(at) {}
    std::string_view bytes_;
    std::size_t at_ = 0;
  };

  PackedStringMap() = default;
  // Sorts the entries by key; of entries with the same key, the first is kept.
  explicit PackedStringMap(std::vector<Entry> entries);

  std::optional<std::string_view> find(std::string_view key) const;
  bool empty() const noexcept { return bytes_.empty(); }
  std::size_t size() const;
  Iterator begin() const { return {bytes_, 0}; }
  Iterator end() const { return {bytes_, bytes_.size()}; }
  friend bool operator==(const PackedStringMap&, const PackedStringMap&) = default;

 private:
  std::string bytes_;
};

// How a container last ended (state.terminated or lastState.terminated).
struct ContainerTermination {
  std::string reason;  // the kubelet's: Error, OOMKilled, Completed, ...; may be ""
  std::int32_t exit_code = 0;
  friend bool operator==(const ContainerTermination&, const ContainerTermination&) = default;
};

// The relay container's status as the kubelet reports it: in status.initContainerStatuses for a
// native sidecar, in status.containerStatuses for a classic one (api::kRelayContainerName).
struct RelayContainerStatus {
  enum class State : std::uint8_t { kNone, kWaiting, kRunning, kTerminated };
  State state = State::kNone;  // none: the kubelet reported no state (yet)
  bool ready = false;
  std::int32_t restart_count = 0;
  // state.waiting.reason (ContainerCreating, CrashLoopBackOff, ImagePullBackOff, ...) or
  // state.terminated.reason; "" otherwise.
  std::string reason;
  std::int32_t exit_code = 0;  // state.terminated.exitCode
  // state.running.startedAt in seconds since the epoch, kept only while the relay runs but is not
  // ready (the controller's start grace needs it); else 0, as when not readable.
  std::int64_t started_at = 0;
  std::optional<ContainerTermination> last_termination;  // lastState.terminated
  friend bool operator==(const RelayContainerStatus&, const RelayContainerStatus&) = default;
};

// A RelayContainerStatus that costs one pointer in the Pods that have no relay (most Pods of a
// cluster: the status is ~130 bytes of heap, the record without it ~230), and no more in those
// whose relay is ready and never restarted (most injected Pods: they all share one status).
// Immutable once decoded, so copies share it; compared by value.
class RelayStatusPtr {
 public:
  RelayStatusPtr() = default;
  explicit RelayStatusPtr(RelayContainerStatus status);
  const RelayContainerStatus* get() const noexcept { return status_.get(); }
  const RelayContainerStatus* operator->() const noexcept { return status_.get(); }
  const RelayContainerStatus& operator*() const noexcept { return *status_; }
  explicit operator bool() const noexcept { return status_ != nullptr; }
  friend bool operator==(const RelayStatusPtr& a, const RelayStatusPtr& b) {
    return a.status_ == b.status_ || (a.status_ && b.status_ && *a.status_ == *b.status_);
  }

 private:
  std::shared_ptr<const RelayContainerStatus> status_;
};

struct PodRecord {
  std::string namespace_name;
  std::string name;
  std::string uid;
  std::string resource_version;
  PackedStringMap labels;
  PackedStringMap annotations;  // only kOwnAnnotationPrefix ones
  bool terminating = false;     // metadata.deletionTimestamp is set
  std::string phase;            // status.phase; "" before the kubelet reports one
  RelayStatusPtr relay;         // null while the kubelet reports no status of the relay container

  std::optional<std::string_view> label(std::string_view key) const { return labels.find(key); }
  // The annotation's value, "" when the Pod lacks it (or it is not one of ours).
  std::string_view annotation(std::string_view name) const {
    return annotations.find(name).value_or(std::string_view());
  }
  friend bool operator==(const PodRecord&, const PodRecord&) = default;
};

// The record of a Pod object (as listed or watched, whole or already thinned by the Pod
// informer's parse filter). Lenient where the API server is strict, as the controller was when it
// read the JSON: labels that are not all strings count as no labels, a non-string annotation or
// phase as absent, a relay status field of the wrong type as unset. Throws only when
// metadata.name is missing or not a string.
PodRecord pod_record_from_json(const nlohmann::json& pod);

// Whether the Pod may still run a channel: not terminating, not Succeeded or Failed. The
// controller counts live Pods only, and ipcmeshctl lists the same ones.
inline bool is_live(const PodRecord& pod) {
  return !pod.terminating && pod.phase != "Succeeded" && pod.phase != "Failed";
}

// Seconds since the epoch of a metav1.Time ("2026-11-28T12:00:05Z"; a fraction of a second is
// ignored), or nullopt when `text` is not one.
std::optional<std::int64_t> parse_kube_time(std::string_view text);

// What kube::BasicInformer reads of a cached object (found by argument-dependent lookup).
inline std::string_view resource_version_of(const PodRecord& pod) noexcept {
  return pod.resource_version;
}

}  // namespace ipcmesh::api
