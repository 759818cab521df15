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
  bool wrote_status = false;
  try {
    const ReconcileResult result = reconcile_(*key);
    wrote_status = result.status_written;
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
    observer_.on_reconcile(std::chrono::steady_clock::now() - started, failed, wrote_status);
  }
  return true;
}

void connect_informers(ChannelInformer& channels, PodInformer& pods, ChannelPodIndex& index,
                       const StatusPacer& pacer, WorkQueue& queue) {
  auto queue_changed = [&pacer, &queue](const std::vector<std::string>& keys) {
    for (const auto& key : keys) {
      const auto delay = pacer.delay(key);
      if (delay > std::chrono::nanoseconds::zero()) {
        queue.add_after(key, delay);
      } else {
        queue.add(key);
      }
    }
  };
  ChannelInformer::Handlers channel_handlers;
  auto index_channel = [&pods, &index](const ChannelPtr& channel) {
    index.upsert_channel(channel,
                         [&] { return pods.list_namespace(channel->metadata.namespace_name); });
  };
  channel_handlers.on_add = [index_channel, &queue](const ChannelPtr& channel) {
    index_channel(channel);
    queue.add(channel->key());
  };
  channel_handlers.on_update = [index_channel, &queue, queue_changed](const ChannelPtr& old_channel,
                                                                      const ChannelPtr& channel) {
    index_channel(channel);
    // A spec change is the user's: reconciled at once. Anything else is mostly the watch bringing
    // back this operator's own status write, paced like a Pod event: under churn an immediate
    // reconcile would find new Pods and write again, and the pacer would never hold.
    if (old_channel->metadata.generation != channel->metadata.generation ||
        old_channel->metadata.uid != channel->metadata.uid) {
      queue.add(channel->key());
    } else {
      queue_changed({channel->key()});
    }
  };
  channel_handlers.on_delete = [&index, &queue](const ChannelPtr& channel) {
    index.remove_channel(channel->key());
    queue.add(channel->key());
  };
  channels.add_handlers(std::move(channel_handlers));

  PodInformer::Handlers pod_handlers;
  pod_handlers.on_add = [&index, queue_changed](const PodPtr& pod) {
    queue_changed(index.upsert_pod(pod));
  };
  pod_handlers.on_update = [&index, queue_changed](const PodPtr& old_pod, const PodPtr& pod) {
    // Most Pod updates are status churn (conditions, IPs) that no channel's status depends on.
    if (counted_fields_differ(*old_pod, *pod)) queue_changed(index.upsert_pod(pod));
  };
  pod_handlers.on_delete = [&index, queue_changed](const PodPtr& pod) {
    queue_changed(index.remove_pod(pod));
  };
  pods.add_handlers(std::move(pod_handlers));
}

void connect_namespace_informer(ChannelInformer& channels, NamespaceInformer& namespaces,
                                WorkQueue& queue) {
  auto queue_channels = [&channels, &queue](const NamespacePtr& record) {
    for (const auto& channel : channels.list_namespace(record->name)) queue.add(channel->key());
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
