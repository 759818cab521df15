#include "main/operator_metrics.hpp"

#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>
#include <prometheus/text_serializer.h>

namespace ipcmesh::operator_main {

OperatorMetrics::OperatorMetrics() : registry_(std::make_shared<prometheus::Registry>()) {
  admission_requests_ = &prometheus::BuildCounter()
                             .Name("ipcmesh_admission_requests_total")
                             .Help("AdmissionReviews answered, by outcome and reason")
                             .Register(*registry_);
  // Buckets around the 2 ms p99 target.
  admission_latency_ =
      &prometheus::BuildHistogram()
           .Name("ipcmesh_admission_duration_seconds")
           .Help("Time to answer an AdmissionReview, server side")
           .Register(*registry_)
           .Add({}, prometheus::Histogram::BucketBoundaries{0.0002, 0.0005, 0.001, 0.002, 0.005,
                                                            0.01, 0.025, 0.05, 0.1, 0.5, 1.0});
  reconciles_ = &prometheus::BuildCounter()
                     .Name("ipcmesh_reconciles_total")
                     .Help("IpcChannel reconciles, by result")
                     .Register(*registry_);
  reconcile_duration_ = &prometheus::BuildHistogram()
                             .Name("ipcmesh_reconcile_duration_seconds")
                             .Help("Time to reconcile one IpcChannel")
                             .Register(*registry_)
                             .Add({}, prometheus::Histogram::BucketBoundaries{
                                          0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5});
  queue_depth_ = &prometheus::BuildGauge()
                      .Name("ipcmesh_workqueue_depth")
                      .Help("IpcChannel keys waiting for a reconcile worker")
                      .Register(*registry_)
                      .Add({});
  watch_restarts_ = &prometheus::BuildCounter()
                         .Name("ipcmesh_watch_restarts_total")
                         .Help("Watches restarted (server timeout, error or 410 relist)")
                         .Register(*registry_);
  leader_ = &prometheus::BuildGauge()
                 .Name("ipcmesh_leader")
                 .Help("1 while this replica holds the leader Lease")
                 .Register(*registry_)
                 .Add({});
  // Pre-create the series dashboards expect even before the first event.
  reconciles_->Add({{"result", "success"}});
  reconciles_->Add({{"result", "error"}});
}

OperatorMetrics::~OperatorMetrics() = default;

void OperatorMetrics::admission(const webhook::AdmissionEvent& event) {
  admission_requests_
      ->Add({{"outcome", std::string(event.outcome)}, {"reason", std::string(event.reason)}})
      .Increment();
  admission_latency_->Observe(std::chrono::duration<double>(event.duration).count());
}

void OperatorMetrics::reconcile(std::chrono::duration<double> duration, bool failed) {
  reconciles_->Add({{"result", failed ? "error" : "success"}}).Increment();
  reconcile_duration_->Observe(duration.count());
}

void OperatorMetrics::watch_restart(const std::string& resource) {
  watch_restarts_->Add({{"resource", resource}}).Increment();
}

void OperatorMetrics::set_leader(bool leader) {
  leader_->Set(leader ? 1 : 0);
}

std::string OperatorMetrics::serialize() {
  if (queue_depth_source_) queue_depth_->Set(queue_depth_source_());
  return prometheus::TextSerializer().Serialize(registry_->Collect());
}

}  // namespace ipcmesh::operator_main
