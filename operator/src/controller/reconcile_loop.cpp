#include "controller/reconcile_loop.hpp"

#include <spdlog/spdlog.h>

namespace ipcmesh::controller {

void ReconcileLoop::start(int workers) {
  for (int i = 0; i < workers; ++i) {
    workers_.emplace_back([this] {
      while (process_next()) {
      }
    });
  }
}

void ReconcileLoop::join() {
  for (auto& worker : workers_) {
    if (worker.joinable()) worker.join();
  }
  workers_.clear();
}

bool ReconcileLoop::process_next() {
  const auto key = queue_.get();
  if (!key) return false;
  const auto started = std::chrono::steady_clock::now();
  bool failed = false;
  try {
    const ReconcileResult result = reconcile_(*key);
    queue_.forget(*key);
    if (result.requeue_after) queue_.add_after(*key, *result.requeue_after);
  } catch (const std::exception& error) {
    failed = true;
    spdlog::warn("reconcile {} failed (attempt {}): {}", *key, queue_.num_requeues(*key) + 1,
                 error.what());
    queue_.add_rate_limited(*key);
  }
  queue_.done(*key);
  if (observer_.on_reconcile) {
    observer_.on_reconcile(std::chrono::steady_clock::now() - started, failed);
  }
  return true;
}

namespace {
// Whether a Pod changed in a field compute_status reads.
bool counted_fields_differ(const api::PodRecord& a, const api::PodRecord& b) {
  return a.labels != b.labels || a.annotations != b.annotations || a.terminating != b.terminating ||
         a.phase != b.phase || a.relay != b.relay;
}
}  // namespace

void connect_informers(kube::Informer& channels, PodInformer& pods, WorkQueue& queue) {
  kube::InformerHandlers channel_handlers;
  channel_handlers.on_add = [&queue](const kube::ObjectPtr& object) {
    queue.add(kube::object_key(*object));
  };
  channel_handlers.on_update = [&queue](const kube::ObjectPtr&, const kube::ObjectPtr& object) {
    queue.add(kube::object_key(*object));
  };
  channel_handlers.on_delete = channel_handlers.on_add;
  channels.add_handlers(std::move(channel_handlers));

  auto queue_namespace = [&channels, &queue](const PodPtr& pod) {
    for (const auto& channel : channels.list_namespace(pod->namespace_name)) {
      queue.add(kube::object_key(*channel));
    }
  };
  PodInformer::Handlers pod_handlers;
  pod_handlers.on_add = queue_namespace;
  pod_handlers.on_update = [queue_namespace](const PodPtr& old_pod, const PodPtr& pod) {
    // Most Pod updates are status churn (conditions, IPs) that no channel's status depends on.
    if (counted_fields_differ(*old_pod, *pod)) queue_namespace(pod);
  };
  pod_handlers.on_delete = queue_namespace;
  pods.add_handlers(std::move(pod_handlers));
}

void connect_namespace_informer(kube::Informer& channels, NamespaceInformer& namespaces,
                                WorkQueue& queue) {
  auto queue_channels = [&channels, &queue](const NamespacePtr& record) {
    for (const auto& channel : channels.list_namespace(record->name)) {
      queue.add(kube::object_key(*channel));
    }
  };
  NamespaceInformer::Handlers handlers;
  handlers.on_add = queue_channels;
  handlers.on_update = [queue_channels](const NamespacePtr& old_record,
                                        const NamespacePtr& record) {
    // The record holds only the labels; other updates (finalizers, status) change nothing here.
    if (old_record->labels != record->labels) queue_channels(record);
  };
  handlers.on_delete = queue_channels;
  namespaces.add_handlers(std::move(handlers));
}

}  // namespace ipcmesh::controller
