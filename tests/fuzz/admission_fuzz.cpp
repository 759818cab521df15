// libFuzzer target: arbitrary bytes as an AdmissionReview body (the webhook's whole input surface)
// and, when they parse as JSON, as a Pod handed straight to the mutation. Any crash, sanitizer
// report or exception escaping is a bug: malformed input must become an answer.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "webhook/admission.hpp"

namespace {

using namespace ipcmesh;

std::shared_ptr<webhook::ChannelSnapshot> make_catalog() {
  auto store = std::make_shared<webhook::ChannelSnapshot>();
  std::vector<api::IpcChannel> channels;
  for (const char* text : {
           R"({"metadata":{"name":"frames","namespace":"team","uid":"u1","generation":1},
               "spec":{"selector":{"matchLabels":{"app":"pipeline"}}}})",
           R"({"metadata":{"name":"jobs","namespace":"team"},
               "spec":{"transport":"MessageQueue","messageQueue":{"maxMessages":64}}})",
           R"({"metadata":{"name":"node","namespace":"team"},
               "spec":{"scope":"Node","selector":{"matchExpressions":[{"key":"bus","operator":"Exists"}]}}})",
           R"({"metadata":{"name":"all","namespace":"open"},"spec":{"selector":{}}})"}) {
    if (auto channel = api::ipc_channel_from_json(nlohmann::json::parse(text))) {
      channels.push_back(std::move(*channel));
    }
  }
  store->replace(std::move(channels));
  return store;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const auto catalog = make_catalog();
  static const webhook::AdmissionHandler handler(catalog, webhook::MutationOptions{});
  const std::string body(reinterpret_cast<const char*>(data), size);

  webhook::HttpRequest request;
  request.method = "POST";
  request.path = "/mutate-pods";
  request.content_type = "application/json";
  request.body = body;
  const auto response = handler.handle(request);
  if (response.status == 200) {
    // Every 200 answer is an AdmissionReview with a response.
    const auto review = nlohmann::json::parse(response.body);
    if (!review.at("response").is_object()) __builtin_trap();
  }

  if (!webhook::json_nesting_exceeds(body)) {
    const auto pod = nlohmann::json::parse(body, nullptr, /*allow_exceptions=*/false);
    if (!pod.is_discarded()) {
      for (const char* ns : {"team", "open"}) {
        auto result = webhook::mutate_pod(pod, ns, *catalog->snapshot(), {});
        if (result.outcome == webhook::MutationOutcome::kMutated) {
          // The patch must turn the input into the mutated Pod.
          const auto patch = webhook::make_json_patch(pod, result.pod);
          if (pod.patch(patch) != result.pod) __builtin_trap();
        }
      }
    }
  }
  return 0;
}
