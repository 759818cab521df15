#include "webhook/admission.hpp"

#include <algorithm>
#include <cctype>
#include <nlohmann/json.hpp>

namespace ipcmesh::webhook {
namespace {

using nlohmann::json;

constexpr std::string_view kAdmissionApiVersion = "admission.k8s.io/v1";

// A metav1.Status body for HTTP errors: kube-apiserver logs it when the call fails, and a human
// with curl reads it.
HttpResponse http_error(int status, std::string_view reason, const std::string& message) {
  HttpResponse response;
  response.status = status;
  response.body =
      json{{"apiVersion", "v1"}, {"kind", "Status"}, {"status", "Failure"},
           {"code", status},     {"reason", reason}, {"message", "ipcmesh webhook: " + message}}
          .dump();
  return response;
}

std::string lower(std::string_view text) {
  std::string out(text);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

// "application/json; charset=utf-8" -> "application/json".
std::string media_type(std::string_view content_type) {
  auto semicolon = content_type.find(';');
  std::string_view type = content_type.substr(0, semicolon);
  while (!type.empty() && std::isspace(static_cast<unsigned char>(type.front()))) {
    type.remove_prefix(1);
  }
  while (!type.empty() && std::isspace(static_cast<unsigned char>(type.back()))) {
    type.remove_suffix(1);
  }
  return lower(type);
}

std::string json_type(const json& value) {
  return value.type_name();
}

json review_envelope(json response) {
  return json{{"apiVersion", kAdmissionApiVersion},
              {"kind", "AdmissionReview"},
              {"response", std::move(response)}};
}

HttpResponse ok(json body) {
  HttpResponse response;
  response.body = body.dump(-1, ' ', false, json::error_handler_t::replace);
  return response;
}

}  // namespace

bool json_nesting_exceeds(std::string_view text, std::size_t limit) {
  std::size_t depth = 0;
  bool in_string = false;
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (in_string) {
      if (c == '\\') {
        ++i;  // skip the escaped character, which may be a quote
      } else if (c == '"') {
        in_string = false;
      }
    } else if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      if (++depth > limit) return true;
    } else if ((c == ']' || c == '}') && depth > 0) {
      --depth;
    }
  }
  return false;
}

std::string base64_encode(std::string_view bytes) {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  std::size_t i = 0;
  for (; i + 2 < bytes.size(); i += 3) {
    const std::uint32_t n = (static_cast<std::uint8_t>(bytes[i]) << 16) |
                            (static_cast<std::uint8_t>(bytes[i + 1]) << 8) |
                            static_cast<std::uint8_t>(bytes[i + 2]);
    out += kAlphabet[(n >> 18) & 63];
    out += kAlphabet[(n >> 12) & 63];
    out += kAlphabet[(n >> 6) & 63];
    out += kAlphabet[n & 63];
  }
  if (const std::size_t rest = bytes.size() - i; rest > 0) {
    std::uint32_t n = static_cast<std::uint8_t>(bytes[i]) << 16;
    if (rest == 2) n |= static_cast<std::uint8_t>(bytes[i + 1]) << 8;
    out += kAlphabet[(n >> 18) & 63];
    out += kAlphabet[(n >> 12) & 63];
    out += rest == 2 ? kAlphabet[(n >> 6) & 63] : '=';
    out += '=';
  }
  return out;
}

json make_json_patch(const json& original, const json& mutated) {
  // nlohmann::json::diff emits RFC 6902 operations with RFC 6901 pointers ("~1" for '/', "~0"
  // for '~'), e.g. /metadata/annotations/ipcmesh.io~1status. Never hand-written ops.
  return json::diff(original, mutated);
}

AdmissionHandler::AdmissionHandler(std::shared_ptr<const ChannelCatalog> catalog,
                                   MutationOptions options, AdmissionObserver observer)
    : catalog_(std::move(catalog)),
      options_(std::make_shared<const MutationOptions>(std::move(options))),
      observer_(std::move(observer)) {}

void AdmissionHandler::set_server_minor(int minor) {
  std::lock_guard lock(options_mutex_);
  auto next = std::make_shared<MutationOptions>(*options_);
  next->server_minor = minor;
  options_ = std::move(next);
}

MutationOptions AdmissionHandler::options() const {
  std::lock_guard lock(options_mutex_);
  return *options_;
}

HttpResponse AdmissionHandler::handle(const HttpRequest& request) const {
  const auto started = std::chrono::steady_clock::now();
  HttpResponse response;
  std::string outcome = "error";
  std::string reason;
  if (request.path != kMutatePodsPath) {
    reason = "not-found";
    response = http_error(
        404, "NotFound",
        "no handler for " + request.path + " (use POST " + std::string(kMutatePodsPath) + ")");
  } else if (request.method != "POST") {
    reason = "method-not-allowed";
    response = http_error(405, "MethodNotAllowed",
                          request.method + " " + request.path + ": only POST is supported");
  } else if (media_type(request.content_type) != "application/json") {
    reason = "unsupported-media-type";
    response = http_error(415, "UnsupportedMediaType",
                          "Content-Type must be application/json (an AdmissionReview), got \"" +
                              request.content_type + "\"");
  } else if ((request.content_length && *request.content_length > kMaxRequestBodyBytes) ||
             request.body.size() > kMaxRequestBodyBytes) {
    reason = "request-too-large";
    const auto size = request.content_length.value_or(request.body.size());
    response = http_error(413, "RequestEntityTooLarge",
                          "the request body has " + std::to_string(size) +
                              " bytes; an AdmissionReview may have at most " +
                              std::to_string(kMaxRequestBodyBytes) + " (7 MiB)");
  } else {
    response = review_impl(request.body, outcome, reason);
  }
  if (observer_) {
    observer_(AdmissionEvent{outcome, reason, response.status,
                             std::chrono::steady_clock::now() - started});
  }
  return response;
}

HttpResponse AdmissionHandler::review(std::string_view body) const {
  std::string outcome;
  std::string reason;
  return review_impl(body, outcome, reason);
}

HttpResponse AdmissionHandler::review_impl(std::string_view body, std::string& outcome,
                                           std::string& reason) const {
  outcome = "error";
  if (json_nesting_exceeds(body)) {
    reason = "malformed-json";
    return http_error(
        400, "BadRequest",
        "the body nests deeper than " + std::to_string(kMaxJsonDepth) + " levels; that is no Pod");
  }
  const json document = json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (document.is_discarded()) {
    reason = "malformed-json";
    return http_error(400, "BadRequest",
                      "the body is not valid JSON (expected an AdmissionReview)");
  }
  if (!document.is_object()) {
    reason = "malformed-review";
    return http_error(400, "BadRequest",
                      "expected an AdmissionReview object, got JSON " + json_type(document));
  }
  const auto api_version = document.find("apiVersion");
  const auto kind = document.find("kind");
  if (api_version == document.end() || !api_version->is_string() ||
      api_version->get<std::string>() != kAdmissionApiVersion || kind == document.end() ||
      !kind->is_string() || kind->get<std::string>() != "AdmissionReview") {
    reason = "malformed-review";
    return http_error(400, "BadRequest",
                      "expected apiVersion admission.k8s.io/v1 and kind AdmissionReview "
                      "(set admissionReviewVersions: [v1] in the webhook configuration)");
  }
  const auto request = document.find("request");
  if (request == document.end() || !request->is_object()) {
    reason = "malformed-review";
    return http_error(400, "BadRequest", "the AdmissionReview has no request object");
  }
  const auto uid = request->find("uid");
  if (uid == request->end() || !uid->is_string() || uid->get<std::string>().empty()) {
    reason = "malformed-review";
    return http_error(400, "BadRequest",
                      "request.uid is missing or not a string; it must be echoed in the response");
  }

  json response{{"uid", *uid}, {"allowed", true}};
  // json::value() throws when the member exists with another type: read strings leniently.
  const auto string_member = [](const json& parent, const char* key) -> std::string {
    const auto it = parent.find(key);
    return it != parent.end() && it->is_string() ? it->get<std::string>() : std::string();
  };
  const auto string_field = [&](const char* key) { return string_member(*request, key); };
  // Only Pod CREATE is ours; anything else (a misconfigured webhook, UPDATE, a subresource) is
  // admitted untouched: the webhook denies only on purpose.
  std::string request_kind;
  if (const auto it = request->find("kind"); it != request->end() && it->is_object()) {
    request_kind = string_member(*it, "kind");
    if (!string_member(*it, "group").empty()) request_kind = "(non-core) " + request_kind;
  }
  if (request_kind != "Pod" || !string_field("subResource").empty()) {
    outcome = "unchanged";
    reason = "not-a-pod";
    return ok(review_envelope(std::move(response)));
  }
  if (string_field("operation") != "CREATE") {
    outcome = "unchanged";
    reason = "not-create";
    return ok(review_envelope(std::move(response)));
  }
  const auto object = request->find("object");
  if (object == request->end() || !object->is_object()) {
    outcome = "unchanged";
    reason = "not-a-pod";
    response["warnings"] = json::array({"ipcmesh: request.object is not a Pod; not injected"});
    return ok(review_envelope(std::move(response)));
  }

  std::shared_ptr<const MutationOptions> options;
  {
    std::lock_guard lock(options_mutex_);
    options = options_;
  }
  const auto channels = catalog_ ? catalog_->snapshot() : std::make_shared<const ChannelList>();
  auto result = mutate_pod(*object, string_field("namespace"), *channels, *options);
  outcome = std::string(to_string(result.outcome));
  reason = result.reason;

  if (!result.warnings.empty()) response["warnings"] = result.warnings;
  switch (result.outcome) {
    case MutationOutcome::kDenied:
      response["allowed"] = false;
      response["status"] = json{{"status", "Failure"},
                                {"code", 403},
                                {"reason", "Forbidden"},
                                {"message", result.message}};
      break;
    case MutationOutcome::kMutated: {
      const auto patch = make_json_patch(*object, result.pod);
      if (!patch.empty()) {
        response["patchType"] = "JSONPatch";
        response["patch"] =
            base64_encode(patch.dump(-1, ' ', false, json::error_handler_t::replace));
      }
      break;
    }
    case MutationOutcome::kUnchanged:
      break;
  }
  return ok(review_envelope(std::move(response)));
}

}  // namespace ipcmesh::webhook
