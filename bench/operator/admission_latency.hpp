// Part (a): admission latency of the real AdmissionServer over TLS with keep-alive. A steady
// open-loop rate on one connection (as kube-apiserver keeps one to the webhook), then a closed
// loop on 1-2 connections for the maximum rate. Server-side latency comes from the handler's
// AdmissionObserver (time inside AdmissionHandler::handle: parse, mutate, diff, encode);
// client-side latency is the full round trip over TLS.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace ipcmesh::bench::operator_bench {

struct LatencyOptions {
  int threads = 2;  // cpprestsdk pool
  double rate = 200;
  double steady_seconds = 10;
  double max_seconds = 3;
  int max_connections = 2;
  double warmup_seconds = 1;
  std::size_t channels = 8;  // in the catalog, in the Pod's namespace
  std::string certificate_file;
  std::string key_file;
};

struct Percentiles {
  std::size_t count = 0;
  double p50_ms = 0, p99_ms = 0, max_ms = 0;
};
Percentiles percentiles(std::vector<std::int64_t> nanoseconds);

struct LatencyRun {
  std::string name;
  int connections = 1;
  double seconds = 0;
  double achieved_rate = 0;      // answered requests per second
  std::uint64_t errors = 0;      // non-200, non-patch or transport failures
  std::uint64_t late_sends = 0;  // steady run: requests sent > 1 ms after their slot
  Percentiles server, client;
};

struct LatencyResult {
  std::size_t request_bytes = 0;
  std::size_t response_bytes = 0;
  LatencyRun steady, maximum;
};

LatencyResult measure_admission_latency(const LatencyOptions& options);

}  // namespace ipcmesh::bench::operator_bench
