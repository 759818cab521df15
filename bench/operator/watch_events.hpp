// Part (c): the operator's CPU per Pod watch event with a full namespace (issue 13). The
// operator's own Pod and IpcChannel informers, Pod records, channel->Pods index and work-queue
// wiring (as in cache_memory.hpp) sync N Pods and C channels in one namespace, each channel
// selecting a 1/C share of the Pods; then M MODIFIED events (one label changed, no channel's
// count changes, so no reconcile is queued) stream through the Pod watch, either straight into
// the informer's line handler ("scripted") or through the real cpprestsdk transport over HTTP
// from a local server sending one chunk per event, as kube-apiserver does ("cpprest"). The events
// are generated in a child process, so the figure is the operator's CPU only.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>

namespace ipcmesh::bench::operator_bench {

struct EventsOptions {
  std::size_t pods = 5000;
  std::size_t channels = 10;
  std::size_t events = 20000;
  std::string transport = "scripted";  // or "cpprest"
  // 0: as fast as the operator takes them (a burst); else one event per interval, so that each
  // arrives alone as a label patch's does (the transport's wake-ups count too).
  std::chrono::microseconds interval{0};
  int threads = 2;  // cpprestsdk pool
};

struct EventsResult {
  std::size_t events = 0;
  double average_event_bytes = 0;
  double sync_seconds = 0;
  double cpu_seconds = 0;             // process CPU (user + system) while the events were applied
  double wall_seconds = 0;            // from the first byte offered to the last event applied
  std::size_t queued_reconciles = 0;  // channel keys queued by the events (expected 0)
  std::uint64_t synced_rss_kib = 0;
  std::uint64_t after_events_rss_kib = 0;
  std::uint64_t peak_rss_kib = 0;
};

// Must run in a fresh process before any other thread starts (it forks the event generator).
EventsResult measure_watch_events(const EventsOptions& options);

}  // namespace ipcmesh::bench::operator_bench
