// The operator's Prometheus series, kept in a prometheus-cpp Registry and rendered by its
// TextSerializer (never hand-formatted).
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <string>

#include "webhook/admission.hpp"

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
  void reconcile(std::chrono::duration<double> duration, bool failed);
  void watch_restart(const std::string& resource);
  // Sampled at scrape time.
  void set_queue_depth_source(std::function<double()> depth) {
    queue_depth_source_ = std::move(depth);
  }
  void set_leader(bool leader);

  std::string serialize();

 private:
  std::shared_ptr<prometheus::Registry> registry_;
  prometheus::Family<prometheus::Counter>* admission_requests_;
  prometheus::Histogram* admission_latency_;
  prometheus::Family<prometheus::Counter>* reconciles_;
  prometheus::Histogram* reconcile_duration_;
  prometheus::Gauge* queue_depth_;
  prometheus::Family<prometheus::Counter>* watch_restarts_;
  prometheus::Gauge* leader_;
  std::function<double()> queue_depth_source_;
};

}  // namespace ipcmesh::operator_main
