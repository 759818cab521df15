// An HttpTransport that answers like an API server from a table of paths: each GET path (without
// its query) has an answer; anything else is a 404 Status, as kube-apiserver sends it. Records
// every request, so tests can check which calls a command made. Requests may come from several
// threads (describe scrapes relays concurrently); set the answers before the command runs.
#pragma once

#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "kube/http_transport.hpp"

namespace ipcmesh::cli::testing {

class FakeApiServer final : public kube::HttpTransport {
 public:
  void answer(const std::string& path, const nlohmann::json& body, int status = 200) {
    answers_[path] = {status, {}, body.dump()};
  }
  void answer_text(const std::string& path, const std::string& body, int status = 200) {
    answers_[path] = {status, {}, body};
  }
  // A Status body, as kube-apiserver answers failures.
  void fail(const std::string& path, int status, const std::string& reason,
            const std::string& message) {
    answer(path,
           {{"kind", "Status"}, {"status", "Failure"}, {"reason", reason}, {"message", message}},
           status);
  }

  kube::HttpResponse send(const kube::HttpRequest& request) override {
    {
      const std::lock_guard lock(mutex_);
      requests_.push_back(request.path_and_query);
    }
    const std::string path = request.path_and_query.substr(0, request.path_and_query.find('?'));
    const auto it = answers_.find(path);
    if (it != answers_.end()) return it->second;
    return {404,
            {},
            nlohmann::json{{"kind", "Status"}, {"reason", "NotFound"}, {"message", path}}.dump()};
  }
  kube::HttpResponse stream(const kube::HttpRequest&, const kube::LineHandler&,
                            kube::Cancellation&) override {
    throw kube::TransportError(kube::TransportError::Kind::kOther, "the fake does not stream");
  }
  const std::vector<std::string>& requests() const { return requests_; }

 private:
  std::map<std::string, kube::HttpResponse> answers_;
  std::mutex mutex_;
  std::vector<std::string> requests_;
};

}  // namespace ipcmesh::cli::testing
