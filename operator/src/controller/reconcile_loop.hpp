// Runs a reconcile function over a WorkQueue with N worker threads, controller-runtime style:
// success forgets the key's failure history (and honours requeue_after), an exception requeues it
// rate-limited. connect_informers() keeps the channel->Pods index and turns cache events into
// keys: an IpcChannel event queues that channel, a Pod event the channels whose view of the Pod
// changed (channel_pod_index.hpp), paced by the StatusPacer (at most one status write per channel
// per window under churn; the queue's dedup folds the events of a window into one reconcile).
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include "controller/ipc_channel_reconciler.hpp"
#include "controller/work_queue.hpp"
#include "kube/informer.hpp"

namespace ipcmesh::controller {

struct ReconcileObserver {
  // Called after each reconcile with its duration, whether it failed and whether it wrote the
  // channel's status.
  std::function<void(std::chrono::duration<double> duration, bool failed, bool wrote_status)>
      on_reconcile;
};

class ReconcileLoop {
 public:
  using Reconcile = std::function<ReconcileResult(const std::string& key)>;
  ReconcileLoop(WorkQueue& queue, Reconcile reconcile, ReconcileObserver observer = {})
      : queue_(queue), reconcile_(std::move(reconcile)), observer_(std::move(observer)) {}
  ~ReconcileLoop() { join(); }

  void start(int workers);
  // Waits for the workers; they return once the queue is shut down and drained.
  void join();
  // One key: get, reconcile, done. False once the queue is shut down. Public for tests.
  bool process_next();

 private:
  WorkQueue& queue_;
  Reconcile reconcile_;
  ReconcileObserver observer_;
  std::vector<std::thread> workers_;
};

void connect_informers(ChannelInformer& channels, PodInformer& pods, ChannelPodIndex& index,
                       const StatusPacer& pacer, WorkQueue& queue);
// A Namespace added, deleted or relabelled queues every channel of that namespace, so labelling a
// namespace clears its channels' InjectionEnabled=False at once (only when the operator checks a
// namespace label, i.e. watches namespaces).
void connect_namespace_informer(ChannelInformer& channels, NamespaceInformer& namespaces,
                                WorkQueue& queue);

}  // namespace ipcmesh::controller
