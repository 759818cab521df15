#include "scripted_api_server.hpp"

#include <algorithm>
#include <nlohmann/json.hpp>

namespace ipcmesh::bench::operator_bench {
namespace {

using nlohmann::json;

std::size_t query_number(const std::string& path, const std::string& key, std::size_t fallback) {
  const auto at = path.find(key);
  if (at == std::string::npos) return fallback;
  return std::stoull(path.substr(at + key.size()));
}

}  // namespace

kube::HttpResponse ScriptedApiServer::send(const kube::HttpRequest& request) {
  const std::string& path = request.path_and_query;
  const bool pods = path.rfind("/api/v1/pods?", 0) == 0;
  const bool channels = path.rfind("/apis/ipcmesh.io/v1alpha1/ipcchannels?", 0) == 0;
  if (!pods && !channels) return {404, {}, R"({"kind":"Status","code":404})"};
  const std::size_t limit = query_number(path, "limit=", 500);
  const std::size_t start = query_number(path, "continue=", 0);
  const std::size_t total = pods ? shape_.pods : shape_.channels;
  const std::size_t end = std::min(total, start + limit);
  // The page text is written one object at a time: a whole page as a DOM (~10x its 2.5 MB of
  // text) would be the benchmark's own memory churn in the informer's malloc arena, not the
  // operator's (which receives the body as text).
  json metadata = {{"resourceVersion", "900000"}};
  if (end < total) metadata["continue"] = std::to_string(end);
  std::string body = json{
      {"kind", pods ? "PodList" : "IpcChannelList"},
      {"apiVersion", pods ? "v1" : "ipcmesh.io/v1alpha1"},
      {"metadata",
       metadata}}.dump();
  body.pop_back();  // the closing brace
  body += R"(,"items":[)";
  for (std::size_t i = start; i < end; ++i) {
    if (i != start) body += ',';
    body += (pods ? make_pod(shape_, i) : make_channel(shape_, i)).dump();
  }
  body += "]}";
  listed_bytes_ += body.size();
  if (pods) pod_bytes_ += body.size();
  return {200, {{"content-type", "application/json"}}, std::move(body)};
}

kube::HttpResponse ScriptedApiServer::stream(const kube::HttpRequest& request,
                                             const kube::LineHandler& on_line,
                                             kube::Cancellation& cancellation) {
  if (pod_watches_ != nullptr && request.path_and_query.rfind("/api/v1/pods?", 0) == 0) {
    return pod_watches_->stream(request, on_line, cancellation);
  }
  cancellation.wait_for(std::chrono::hours(24));
  throw kube::TransportError(kube::TransportError::Kind::kCancelled, "stopped");
}

}  // namespace ipcmesh::bench::operator_bench
