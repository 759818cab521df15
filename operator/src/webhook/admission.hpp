// AdmissionReview v1 in, AdmissionReview v1 out. The mutation is pod_mutation's; this file owns the
// envelope: echo the uid, JSONPatch computed by diffing the original and the mutated Pod (RFC 6902
// with RFC 6901 escaping, nlohmann::json::diff), base64, allowed/denied with a message, and a clear
// HTTP error for input that is not an AdmissionReview at all. Never throws, never crashes.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <nlohmann/json_fwd.hpp>
#include <string>
#include <string_view>

#include "webhook/channel_catalog.hpp"
#include "webhook/http_types.hpp"
#include "webhook/pod_mutation.hpp"

namespace ipcmesh::webhook {

inline constexpr std::string_view kMutatePodsPath = "/mutate-pods";

// One finished review, for metrics (the operator main turns these into Prometheus series).
struct AdmissionEvent {
  std::string_view outcome;  // mutated | unchanged | denied | error
  std::string_view reason;   // MutationResult::reason, or the HTTP error's reason
  int http_status = 200;
  std::chrono::nanoseconds duration{0};
};
using AdmissionObserver = std::function<void(const AdmissionEvent&)>;

// A Pod nests about 12 levels deep; copying or diffing JSON recurses, so input nested deeper
// than this is refused before it is parsed (kube-apiserver never sends such a Pod).
inline constexpr std::size_t kMaxJsonDepth = 256;
// True when the JSON text nests arrays/objects deeper than `limit` (strings are skipped).
bool json_nesting_exceeds(std::string_view text, std::size_t limit = kMaxJsonDepth);

// Standard base64 (RFC 4648, with padding), as AdmissionResponse.patch wants it.
std::string base64_encode(std::string_view bytes);

// RFC 6902 patch turning `original` into `mutated` (an empty array when they are equal).
nlohmann::json make_json_patch(const nlohmann::json& original, const nlohmann::json& mutated);

class AdmissionHandler {
 public:
  AdmissionHandler(std::shared_ptr<const ChannelCatalog> catalog, MutationOptions options,
                   AdmissionObserver observer = {});

  // Routes POST /mutate-pods; 404/405/413/415/400 with a JSON Status body otherwise.
  HttpResponse handle(const HttpRequest& request) const;

  // The body of POST /mutate-pods. Errors that leave no uid to answer to are HTTP 400.
  HttpResponse review(std::string_view body) const;

  // The main learns the server version after start-up (and on reconnect).
  void set_server_minor(int minor);
  MutationOptions options() const;

 private:
  HttpResponse review_impl(std::string_view body, std::string& outcome, std::string& reason) const;

  std::shared_ptr<const ChannelCatalog> catalog_;
  mutable std::mutex options_mutex_;
  std::shared_ptr<const MutationOptions> options_;
  AdmissionObserver observer_;
};

}  // namespace ipcmesh::webhook
