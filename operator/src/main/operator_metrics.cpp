#include "main/operator_metrics.hpp"

#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>
#include <prometheus/text_serializer.h>

namespace ipcmesh::operator_main {

OperatorMetrics::OperatorMetrics() : registry_(std::make_shared<prometheus::Registry>()) {
  register_admission();
  register_controller();
  register_webhook_server();
  process_metrics::add_build_info(*registry_, "operator", IPCMESH_VERSION);
}

void OperatorMetrics::register_admission() {
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
}

void OperatorMetrics::register_controller() {
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
  status_writes_ = &prometheus::BuildCounter()
                        .Name("ipcmesh_status_writes_total")
                        .Help("IpcChannel status subresource patches written")
                        .Register(*registry_)
                        .Add({});
  events_ = &prometheus::BuildCounter()
                 .Name("ipcmesh_events_total")
                 .Help(
                     "Events on IpcChannels, by type and outcome: created (a new Event), "
                     "aggregated (an existing Event's series count raised) or failed")
                 .Register(*registry_);
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

void OperatorMetrics::register_webhook_server() {
  webhook_open_connections_ = &prometheus::BuildGauge()
                                   .Name("ipcmesh_webhook_open_connections")
                                   .Help("Connections the admission server holds open now")
                                   .Register(*registry_)
                                   .Add({});
  webhook_buffered_body_bytes_ =
      &prometheus::BuildGauge()
           .Name("ipcmesh_webhook_buffered_body_bytes")
           .Help("Request body bytes reserved now by requests being read (bounded by the budget)")
           .Register(*registry_)
           .Add({});
  webhook_accepted_ = &prometheus::BuildCounter()
                           .Name("ipcmesh_webhook_connections_total")
                           .Help("Connections the admission server accepted")
                           .Register(*registry_)
                           .Add({});
  auto& connection_errors =
      prometheus::BuildCounter()
          .Name("ipcmesh_webhook_connection_errors_total")
          .Help(
              "Connections closed by the admission server's limits: over_capacity (closed at "
              "accept), handshake_failed, timed_out (handshake, idle or slow request)")
          .Register(*registry_);
  webhook_over_capacity_ = &connection_errors.Add({{"reason", "over_capacity"}});
  webhook_handshake_failed_ = &connection_errors.Add({{"reason", "handshake_failed"}});
  webhook_timed_out_ = &connection_errors.Add({{"reason", "timed_out"}});
  auto& rejected = prometheus::BuildCounter()
                       .Name("ipcmesh_webhook_rejected_requests_total")
                       .Help(
                           "Requests refused before the handler: too_large (413), over_budget "
                           "(503, too many bodies in flight)")
                       .Register(*registry_);
  webhook_too_large_ = &rejected.Add({{"reason", "too_large"}});
  webhook_over_budget_ = &rejected.Add({{"reason", "over_budget"}});
}

OperatorMetrics::~OperatorMetrics() = default;

void OperatorMetrics::admission(const webhook::AdmissionEvent& event) {
  admission_requests_
      ->Add({{"outcome", std::string(event.outcome)}, {"reason", std::string(event.reason)}})
      .Increment();
  admission_latency_->Observe(std::chrono::duration<double>(event.duration).count());
}

void OperatorMetrics::reconcile(std::chrono::duration<double> duration, bool failed,
                                bool wrote_status) {
  reconciles_->Add({{"result", failed ? "error" : "success"}}).Increment();
  reconcile_duration_->Observe(duration.count());
  if (wrote_status) status_writes_->Increment();
}

void OperatorMetrics::event(kube::EventOutcome outcome, kube::EventType type) {
  const char* outcome_text = outcome == kube::EventOutcome::kCreated      ? "created"
                             : outcome == kube::EventOutcome::kAggregated ? "aggregated"
                                                                          : "failed";
  events_
      ->Add({{"type", type == kube::EventType::kNormal ? "Normal" : "Warning"},
             {"outcome", outcome_text}})
      .Increment();
}

void OperatorMetrics::watch_restart(const std::string& resource) {
  watch_restarts_->Add({{"resource", resource}}).Increment();
}

void OperatorMetrics::set_leader(bool leader) {
  leader_->Set(leader ? 1 : 0);
}

void OperatorMetrics::sample_webhook_stats() {
  if (!webhook_stats_source_) return;
  const webhook::AdmissionServerStats now = webhook_stats_source_();
  // The server's counts only grow: add what is new since the last scrape.
  const auto advance = [](prometheus::Counter* counter, std::uint64_t now, std::uint64_t seen) {
    if (now > seen) counter->Increment(static_cast<double>(now - seen));
  };
  advance(webhook_accepted_, now.accepted_connections, webhook_seen_.accepted_connections);
  advance(webhook_over_capacity_, now.refused_connections, webhook_seen_.refused_connections);
  advance(webhook_handshake_failed_, now.handshake_failures, webhook_seen_.handshake_failures);
  advance(webhook_timed_out_, now.timed_out_connections, webhook_seen_.timed_out_connections);
  advance(webhook_too_large_, now.too_large_requests, webhook_seen_.too_large_requests);
  advance(webhook_over_budget_, now.over_budget_requests, webhook_seen_.over_budget_requests);
  webhook_open_connections_->Set(static_cast<double>(now.open_connections));
  webhook_buffered_body_bytes_->Set(static_cast<double>(now.buffered_body_bytes));
  webhook_seen_ = now;
}

std::string OperatorMetrics::serialize() {
  const std::lock_guard lock(scrape_mutex_);
  if (queue_depth_source_) queue_depth_->Set(queue_depth_source_());
  sample_webhook_stats();
  auto families = registry_->Collect();
  for (auto& family : process_.Collect()) families.push_back(std::move(family));
  return prometheus::TextSerializer().Serialize(families);
}

}  // namespace ipcmesh::operator_main
