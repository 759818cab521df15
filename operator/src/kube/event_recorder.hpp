// Events with Kubernetes' own aggregation (client-go tools/events): an Event isomorphic to one
// recorded recently (same object, type, reason, action and note) is not created again; the
// existing Event becomes a series, its series.count and lastObservedTime patched (the other
// fields of an events.k8s.io/v1 Event are immutable). A crash-looping relay or a flapping
// condition then costs one Event object with a count instead of one object per occurrence (etcd
// keeps every Event for an hour). events.k8s.io/v1, falling back to core v1 (count,
// lastTimestamp) when the server lacks it. Best effort: never throws.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <list>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <unordered_map>

#include "kube/clock.hpp"
#include "kube/kube_client.hpp"

namespace ipcmesh::kube {

struct EventSeriesPolicy {
  // client-go's isomorphic-event window (tools/events: 6 minutes).
  std::chrono::seconds window{6 * 60};
  // Series remembered at most (least recently seen forgotten first); client-go's cache is 4096.
  std::size_t max_series = 4096;
};

enum class EventOutcome { kCreated, kAggregated, kFailed };

class EventRecorder {
 public:
  EventRecorder(KubeClient& client, Clock& clock, std::string reporting_controller,
                std::string reporting_instance, EventSeriesPolicy policy = {})
      : client_(client),
        clock_(clock),
        reporting_controller_(std::move(reporting_controller)),
        reporting_instance_(std::move(reporting_instance)),
        policy_(policy) {}

  // `regarding`: {"apiVersion","kind","metadata":{namespace,name,uid,resourceVersion}}.
  // Holds a lock across the API call: Events are rare, and a series must not be created twice.
  EventOutcome record(const nlohmann::json& regarding, EventType type, const std::string& reason,
                      const std::string& action, const std::string& note);

  // Called after each record() with its outcome (for a metric); set before use.
  void on_recorded(std::function<void(EventOutcome, EventType)> callback) {
    observer_ = std::move(callback);
  }

 private:
  struct Series {
    std::string ns;
    std::string name;
    bool legacy = false;  // a core v1 Event
    std::int32_t count = 1;
    Clock::SteadyTime last_seen;
    std::list<std::string>::iterator age;  // position in lru_
  };
  EventOutcome create(const nlohmann::json& regarding, const std::string& type_text,
                      const std::string& reason, const std::string& action, const std::string& note,
                      Series& series);
  // False when the Event is gone.
  bool patch(const Series& series);
  void remember(const std::string& key, Series series);
  EventOutcome finish(EventOutcome outcome, EventType type);

  KubeClient& client_;
  Clock& clock_;
  std::string reporting_controller_;
  std::string reporting_instance_;
  EventSeriesPolicy policy_;
  std::function<void(EventOutcome, EventType)> observer_;
  std::mutex mutex_;
  std::unordered_map<std::string, Series> series_;
  std::list<std::string> lru_;  // keys, least recently seen first
};

}  // namespace ipcmesh::kube
