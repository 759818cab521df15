// The API server as the operator's informers see it in the benchmark: paged LISTs of realistic
// objects generated on demand (never the whole collection in memory at once, as with a real
// server), and watches that stay quiet until the informer stops, unless a Pod watch source is
// given (the watch-event benchmark streams its events through one).
#pragma once

#include <atomic>
#include <cstdint>
#include <string>

#include "kube/http_transport.hpp"
#include "objects.hpp"

namespace ipcmesh::bench::operator_bench {

class ScriptedApiServer final : public kube::HttpTransport {
 public:
  // `pod_watches`, when set, answers every Pod WATCH (it must outlive this object).
  explicit ScriptedApiServer(ClusterShape shape, kube::HttpTransport* pod_watches = nullptr)
      : shape_(shape), pod_watches_(pod_watches) {}

  kube::HttpResponse send(const kube::HttpRequest& request) override;
  kube::HttpResponse stream(const kube::HttpRequest& request, const kube::LineHandler& on_line,
                            kube::Cancellation& cancellation) override;

  std::uint64_t listed_bytes() const { return listed_bytes_; }
  std::uint64_t pod_bytes() const { return pod_bytes_; }

 private:
  ClusterShape shape_;
  kube::HttpTransport* pod_watches_;
  std::atomic<std::uint64_t> listed_bytes_{0};
  std::atomic<std::uint64_t> pod_bytes_{0};
};

}  // namespace ipcmesh::bench::operator_bench
