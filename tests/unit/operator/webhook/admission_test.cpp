#include "webhook/admission.hpp"

#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

namespace ipcmesh::webhook {
namespace {

using nlohmann::json;

std::string base64_decode(const std::string& text) {
  static const std::string alphabet =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  std::uint32_t buffer = 0;
  int bits = 0;
  for (char c : text) {
    if (c == '=') break;
    buffer = (buffer << 6) | static_cast<std::uint32_t>(alphabet.find(c));
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out += static_cast<char>((buffer >> bits) & 0xff);
    }
  }
  return out;
}

json fixture(const std::string& name) {
  std::ifstream in(std::string(IPCMESH_SOURCE_DIR) + "/tests/unit/operator/webhook/fixtures/" +
                   name);
  std::stringstream text;
  text << in.rdbuf();
  return json::parse(text.str());
}

std::shared_ptr<ChannelSnapshot> snapshot() {
  auto store = std::make_shared<ChannelSnapshot>();
  std::vector<api::IpcChannel> channels;
  for (const auto& item : fixture("channels.json")) {
    auto channel = api::ipc_channel_from_json(item);
    if (channel) channels.push_back(std::move(*channel));
  }
  store->replace(std::move(channels));
  return store;
}

json review_for(const json& pod, const std::string& ns = "team", const char* uid = "uid-1") {
  return json{{"apiVersion", "admission.k8s.io/v1"},
              {"kind", "AdmissionReview"},
              {"request",
               {{"uid", uid},
                {"kind", {{"group", ""}, {"version", "v1"}, {"kind", "Pod"}}},
                {"resource", {{"group", ""}, {"version", "v1"}, {"resource", "pods"}}},
                {"namespace", ns},
                {"operation", "CREATE"},
                {"object", pod}}}};
}

HttpRequest post(std::string body, std::string content_type = "application/json") {
  HttpRequest request;
  request.method = "POST";
  request.path = "/mutate-pods";
  request.content_type = std::move(content_type);
  request.body = std::move(body);
  return request;
}

// RFC 4648 test vectors.
TEST(Admission, Base64MatchesTheRfcVectors) {
  EXPECT_EQ(base64_encode(""), "");
  EXPECT_EQ(base64_encode("f"), "Zg==");
  EXPECT_EQ(base64_encode("fo"), "Zm8=");
  EXPECT_EQ(base64_encode("foo"), "Zm9v");
  EXPECT_EQ(base64_encode("foobar"), "Zm9vYmFy");
  EXPECT_EQ(base64_decode(base64_encode(std::string("\0\xff\x10", 3))),
            std::string("\0\xff\x10", 3));
}

// Keys holding '/' and '~' are escaped as ~1 and ~0 (RFC 6901) and the patch applies back.
TEST(Admission, PatchEscapesJsonPointerTokens) {
  const json before = {{"metadata", {{"annotations", {{"a~b", "1"}}}}}};
  json after = before;
  after["metadata"]["annotations"]["ipcmesh.io/status"] = "x";
  after["metadata"]["annotations"]["a~b"] = "2";
  const auto patch = make_json_patch(before, after);
  const std::string text = patch.dump();
  EXPECT_NE(text.find("/metadata/annotations/ipcmesh.io~1status"), std::string::npos) << text;
  EXPECT_NE(text.find("/metadata/annotations/a~0b"), std::string::npos) << text;
  EXPECT_EQ(before.patch(patch), after);
}

// The answer echoes the uid, carries a base64 JSONPatch, and applying the patch to the request's
// Pod gives exactly the mutated Pod.
TEST(Admission, PatchAppliedToThePodGivesTheMutatedPod) {
  for (const char* name : {"plain_pod.json", "pod_with_volumes.json", "pod_own_dev_shm.json",
                           "host_network_pod.json", "job_pod.json"}) {
    AdmissionHandler handler(snapshot(), MutationOptions{});
    const json pod = fixture(name);
    auto response = handler.handle(post(review_for(pod).dump()));
    ASSERT_EQ(response.status, 200) << response.body;
    const json review = json::parse(response.body);
    EXPECT_EQ(review["apiVersion"], "admission.k8s.io/v1");
    EXPECT_EQ(review["kind"], "AdmissionReview");
    EXPECT_EQ(review["response"]["uid"], "uid-1");
    EXPECT_EQ(review["response"]["allowed"], true);
    EXPECT_EQ(review["response"]["patchType"], "JSONPatch");
    const json patch = json::parse(base64_decode(review["response"]["patch"]));
    const auto expected = mutate_pod(pod, "team", *snapshot()->snapshot(), MutationOptions{});
    EXPECT_EQ(pod.patch(patch), expected.pod) << name;
  }
}

// A denial is allowed=false with a 403 status and the user-facing message.
TEST(Admission, DenialCarriesTheMessage) {
  AdmissionHandler handler(snapshot(), MutationOptions{});
  auto response = handler.handle(post(review_for(fixture("annotated_pod.json")).dump()));
  ASSERT_EQ(response.status, 200);
  const json review = json::parse(response.body);
  EXPECT_EQ(review["response"]["allowed"], false);
  EXPECT_EQ(review["response"]["status"]["code"], 403);
  EXPECT_NE(review["response"]["status"]["message"].get<std::string>().find("fs.mqueue"),
            std::string::npos);
  EXPECT_FALSE(review["response"].contains("patch"));
}

// Updates, other kinds and unselected Pods are allowed without a patch.
TEST(Admission, EverythingElseIsAllowedUntouched) {
  AdmissionHandler handler(snapshot(), MutationOptions{});
  auto update = review_for(fixture("plain_pod.json"));
  update["request"]["operation"] = "UPDATE";
  auto other_kind = review_for(fixture("plain_pod.json"));
  other_kind["request"]["kind"]["kind"] = "Service";
  auto unselected = review_for(fixture("plain_pod.json"), "quiet");
  // Found by admission_fuzz: a mistyped request.kind once threw instead of being "not a Pod".
  auto mistyped_kind = review_for(fixture("plain_pod.json"));
  mistyped_kind["request"]["kind"]["kind"] = json::object({{"containers", json::array()}});
  mistyped_kind["request"]["kind"]["group"] = 7;
  for (const auto& review : {update, other_kind, unselected, mistyped_kind}) {
    auto response = handler.handle(post(review.dump()));
    ASSERT_EQ(response.status, 200);
    const json answer = json::parse(response.body);
    EXPECT_EQ(answer["response"]["allowed"], true);
    EXPECT_FALSE(answer["response"].contains("patch"));
  }
}

// Malformed requests get clear HTTP errors (and the observer sees them); none throws.
TEST(Admission, MalformedRequestsGetClearErrors) {
  std::vector<std::string> reasons;
  AdmissionHandler handler(snapshot(), MutationOptions{}, [&](const AdmissionEvent& event) {
    reasons.emplace_back(event.reason);
  });
  const auto expect = [&](const HttpRequest& request, int status, const char* words) {
    auto response = handler.handle(request);
    EXPECT_EQ(response.status, status) << response.body;
    EXPECT_NE(response.body.find(words), std::string::npos) << response.body;
  };
  expect(post("{not json"), 400, "not valid JSON");
  expect(post("[1,2]"), 400, "AdmissionReview object");
  auto no_uid = review_for(fixture("plain_pod.json"));
  no_uid["request"].erase("uid");
  expect(post(no_uid.dump()), 400, "request.uid");
  auto v1beta1 = review_for(fixture("plain_pod.json"));
  v1beta1["apiVersion"] = "admission.k8s.io/v1beta1";
  expect(post(v1beta1.dump()), 400, "admissionReviewVersions");
  expect(post("{}", "text/plain"), 415, "Content-Type must be application/json");
  expect(post(std::string(kMaxRequestBodyBytes + 1, ' ')), 413, "7 MiB");
  expect(post(std::string(10000, '[') + std::string(10000, ']')), 400, "nests deeper");
  auto get = post("");
  get.method = "GET";
  expect(get, 405, "only POST");
  auto elsewhere = post("{}");
  elsewhere.path = "/other";
  expect(elsewhere, 404, "/mutate-pods");
  EXPECT_EQ(reasons.size(), 9u);
  // charset parameters are fine.
  EXPECT_EQ(handler
                .handle(post(review_for(fixture("plain_pod.json")).dump(),
                             "application/json; charset=utf-8"))
                .status,
            200);
}

// The server version set at run time switches between native sidecar and plain container.
TEST(Admission, ServerMinorSwitchesTheSidecarKind) {
  AdmissionHandler handler(snapshot(), MutationOptions{});
  handler.set_server_minor(27);
  auto response = handler.handle(post(review_for(fixture("plain_pod.json")).dump()));
  const json review = json::parse(response.body);
  const json patched =
      fixture("plain_pod.json").patch(json::parse(base64_decode(review["response"]["patch"])));
  EXPECT_EQ(patched["spec"]["containers"][0]["name"], kRelayContainerName);
  EXPECT_FALSE(patched["spec"].contains("initContainers"));
}

// The snapshot store replaces, upserts and removes channels without disturbing readers.
TEST(Admission, ChannelSnapshotCopiesOnWrite) {
  auto store = snapshot();
  const auto before = store->snapshot();
  store->remove("team", "frames");
  EXPECT_EQ(store->snapshot()->size(), before->size() - 1);
  store->upsert((*before)[0]);
  store->upsert((*before)[0]);
  EXPECT_EQ(store->snapshot()->size(), before->size());
  EXPECT_EQ(before->size(), 5u) << "a reader's snapshot never changes";
}

}  // namespace
}  // namespace ipcmesh::webhook
