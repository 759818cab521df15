// An HttpTransport that plays a script: each send() or stream() takes the next step, records the
// request, and when the script runs out cancels the caller so its loop ends. Tests then run the
// informer synchronously on the test thread.
#pragma once

#include <deque>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "kube/http_transport.hpp"

namespace ipcmesh::kube::testing {

struct Step {
  int status = 200;
  std::string body;                           // send(), or the body of a non-2xx stream
  std::vector<std::string> lines;             // stream(): delivered one by one
  std::optional<TransportError::Kind> error;  // throw this instead of answering
  std::function<void()> during;               // runs mid-step (e.g. advance a fake clock)
};

class ScriptedTransport final : public HttpTransport {
 public:
  void push(Step step) { script_.push_back(std::move(step)); }

  HttpResponse send(const HttpRequest& request) override {
    requests_.push_back(request);
    Step step = next();
    if (step.during) step.during();
    if (step.error) throw TransportError(*step.error, "scripted failure");
    return HttpResponse{step.status, {}, step.body};
  }

  HttpResponse stream(const HttpRequest& request, const LineHandler& on_line,
                      Cancellation& cancellation) override {
    requests_.push_back(request);
    if (script_.empty()) {
      cancellation.cancel();
      throw TransportError(TransportError::Kind::kCancelled, "script finished");
    }
    Step step = next();
    if (step.status >= 200 && step.status <= 299) {
      for (const auto& line : step.lines) {
        if (!on_line(line)) break;
      }
    }
    if (step.during) step.during();
    if (step.error) throw TransportError(*step.error, "scripted failure");
    return HttpResponse{step.status, {}, step.status >= 300 ? step.body : ""};
  }

  const std::vector<HttpRequest>& requests() const { return requests_; }

 private:
  Step next() {
    if (script_.empty()) throw TransportError(TransportError::Kind::kCancelled, "script finished");
    Step step = std::move(script_.front());
    script_.pop_front();
    return step;
  }
  std::deque<Step> script_;
  std::vector<HttpRequest> requests_;
};

}  // namespace ipcmesh::kube::testing
