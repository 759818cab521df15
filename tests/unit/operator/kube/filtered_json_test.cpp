#include "kube/filtered_json.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace ipcmesh::kube {
namespace {

using nlohmann::json;

constexpr std::string_view kWatched[] = {"object"};
constexpr std::string_view kListed[] = {"items", ""};

std::string joined(std::span<const std::string> path) {
  std::string out;
  for (const auto& step : path) out += (out.empty() ? "" : ".") + step;
  return out;
}

// What parse_filtered must give: the whole document, then every member the filter drops removed
// (the obvious, slow way).
void prune(json& value, std::vector<std::string>& path, const FieldFilter& filter) {
  if (value.is_array()) {
    path.emplace_back();
    for (auto& element : value) prune(element, path, filter);
    path.pop_back();
    return;
  }
  if (!value.is_object()) return;
  for (auto it = value.begin(); it != value.end();) {
    path.push_back(it.key());
    const bool keep = filter(path);
    if (keep) prune(it.value(), path, filter);
    path.pop_back();
    it = keep ? std::next(it) : value.erase(it);
  }
}

const json kPod = json::parse(R"({
  "apiVersion": "v1", "kind": "Pod",
  "metadata": {"name": "a", "namespace": "ns", "labels": {"app": "x", "tier": "web"},
               "managedFields": [{"manager": "kubectl", "fieldsV1": {"f:spec": {}}}]},
  "spec": {"containers": [{"name": "app", "image": "busybox", "ports": [[1, 2], [3]]}]},
  "status": {"phase": "Running", "ready": true, "restarts": 3, "big": 18446744073709551615,
             "negative": -4, "ratio": 0.25, "gone": null,
             "containerStatuses": [{"name": "app", "image": "busybox", "state": {"running": {}}},
                                   {"name": "relay", "image": "r", "state": {"waiting": {}}}]}
})");

const FieldFilter kFilters[] = {
    [](std::span<const std::string>) { return true; },
    [](std::span<const std::string> path) { return path[0] == "metadata"; },
    [](std::span<const std::string> path) {
      const std::string p = joined(path);
      return p != "spec" && p != "metadata.managedFields" && p != "status.containerStatuses..image";
    },
    [](std::span<const std::string> path) {
      return path.size() != 1 || path[0] == "status";  // keeps all of status, nothing else
    },
    [](std::span<const std::string> path) { return joined(path) != "status.ratio"; },
};

// For every filter, a watch event and a LIST page parse to the pruned document: filtered inside
// the objects at the object path, untouched outside them.
TEST(ParseFiltered, EqualsTheWholeDocumentWithTheDroppedFieldsRemoved) {
  const json event = {{"type", "MODIFIED"}, {"object", kPod}};
  const json page = {{"kind", "PodList"},
                     {"metadata", {{"resourceVersion", "9"}}},
                     {"items", json::array({kPod, kPod})}};
  for (std::size_t i = 0; i < std::size(kFilters); ++i) {
    json expected_event = event;
    std::vector<std::string> path;
    prune(expected_event["object"], path, kFilters[i]);
    EXPECT_EQ(parse_filtered(event.dump(), kFilters[i], kWatched), expected_event)
        << "filter " << i;

    json expected_page = page;
    for (auto& item : expected_page["items"]) prune(item, path, kFilters[i]);
    EXPECT_EQ(parse_filtered(page.dump(2), kFilters[i], kListed), expected_page) << "filter " << i;
  }
}

// The filter is asked about each member of a kept object once, with "" for array elements, and
// never about anything inside a dropped field.
TEST(ParseFiltered, AsksOnlyAboutMembersOfKeptObjects) {
  std::vector<std::string> asked;
  const FieldFilter filter = [&asked](std::span<const std::string> path) {
    asked.push_back(joined(path));
    return asked.back() != "spec" && asked.back() != "metadata.labels";
  };
  parse_filtered(json{{"type", "ADDED"}, {"object", kPod}}.dump(), filter, kWatched);
  const std::vector<std::string> expected = {
      "apiVersion",
      "kind",
      "metadata",
      "metadata.labels",
      "metadata.managedFields",
      "metadata.managedFields..fieldsV1",
      "metadata.managedFields..fieldsV1.f:spec",
      "metadata.managedFields..manager",
      "metadata.name",
      "metadata.namespace",
      "spec",
      "status",
      "status.big",
      "status.containerStatuses",
      "status.containerStatuses..image",
      "status.containerStatuses..name",
      "status.containerStatuses..state",
      "status.containerStatuses..state.running",
      "status.containerStatuses..image",
      "status.containerStatuses..name",
      "status.containerStatuses..state",
      "status.containerStatuses..state.waiting",
      "status.gone",
      "status.negative",
      "status.phase",
      "status.ratio",
      "status.ready",
      "status.restarts",
  };
  EXPECT_EQ(asked, expected);
}

// Malformed text fails as json::parse does: an exception, or a discarded value when asked.
TEST(ParseFiltered, MalformedTextThrowsOrIsDiscarded) {
  const FieldFilter all = [](std::span<const std::string>) { return true; };
  for (const char* text : {R"({"type":"ADDED","object":{"a":})", R"({"object":{}} trailing)", ""}) {
    EXPECT_THROW(parse_filtered(text, all, kWatched), json::parse_error) << text;
    EXPECT_TRUE(parse_filtered(text, all, kWatched, false).is_discarded()) << text;
  }
}

}  // namespace
}  // namespace ipcmesh::kube
