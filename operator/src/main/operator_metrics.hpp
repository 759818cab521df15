// The operator's Prometheus series, kept in a prometheus-cpp Registry and rendered by its
// TextSerializer (never hand-formatted).
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <string>

#include "ipcmesh/process_metrics.hpp"
#include "kube/event_recorder.hpp"
#include "webhook/admission.hpp"
#include "webhook/admission_server.hpp"

namespace prometheus {
class Registry;
class Histogram;
class Gauge;
template <typename T>
class Family;
class Counter;
}  // namespace prometheus

namespace ipcmesh::operator_main {

class OperatorMetrics {
 public:
  OperatorMetrics();
  ~OperatorMetrics();

  void admission(const webhook::AdmissionEvent& event);
  void reconcile(std::chrono::duration<double> duration, bool failed, bool wrote_status = false);
  void event(kube::EventOutcome outcome, kube::EventType type);
  void watch_restart(const std::string& resource);
  // Sampled at scrape time.
  void set_queue_depth_source(std::function<double()> depth) {
    queue_depth_source_ = std::move(depth);
  }
  // The admission server's connection and rejection counts, sampled at scrape time.
  void set_webhook_stats_source(std::function<webhook::AdmissionServerStats()> stats) {
    webhook_stats_source_ = std::move(stats);
  }
  void set_leader(bool leader);

  std::string serialize();

 private:
  void register_admission();
  void register_controller();
  void register_webhook_server();

  std::shared_ptr<prometheus::Registry> registry_;
  prometheus::Family<prometheus::Counter>* admission_requests_;
  prometheus::Histogram* admission_latency_;
  prometheus::Family<prometheus::Counter>* reconciles_;
  prometheus::Histogram* reconcile_duration_;
  prometheus::Counter* status_writes_;
  prometheus::Family<prometheus::Counter>* events_;
  prometheus::Gauge* queue_depth_;
  prometheus::Family<prometheus::Counter>* watch_restarts_;
  prometheus::Gauge* leader_;
  std::function<double()> queue_depth_source_;
  void sample_webhook_stats();
  prometheus::Gauge* webhook_open_connections_;
  prometheus::Gauge* webhook_buffered_body_bytes_;
  prometheus::Counter* webhook_accepted_;
  prometheus::Counter* webhook_over_capacity_;
  prometheus::Counter* webhook_handshake_failed_;
  prometheus::Counter* webhook_timed_out_;
  prometheus::Counter* webhook_too_large_;
  prometheus::Counter* webhook_over_budget_;
  std::mutex scrape_mutex_;  // two scrapes at once must not both add the same webhook counts
  webhook::AdmissionServerStats webhook_seen_;  // what the counters hold already
  std::function<webhook::AdmissionServerStats()> webhook_stats_source_;
  process_metrics::ProcessCollector process_;
};

}  // namespace ipcmesh::operator_main
