#include <gtest/gtest.h>

#include <algorithm>

#include "fake_clock.hpp"
#include "kube/informer.hpp"
#include "scripted_transport.hpp"
#include "watch_bodies.hpp"

namespace ipcmesh::kube {
namespace {

using nlohmann::json;
using testing::event;
using testing::FakeClock;
using testing::list_body;
using testing::ScriptedTransport;

json full_pod(const std::string& name, const std::string& version) {
  return {{"metadata",
           {{"namespace", "default"},
            {"name", name},
            {"resourceVersion", version},
            {"labels", {{"app", "x"}}},
            {"managedFields", json::array({{{"manager", "kubectl"}}})}}},
          {"spec", {{"containers", json::array({{{"name", "app"}, {"image", "busybox"}}})}}},
          {"status", {{"phase", "Running"}, {"podIP", "10.0.0.1"}}}};
}

InformerOptions options_with(FieldFilter filter) {
  InformerOptions options;
  options.collection = kPods;
  options.kind = "Pod";
  options.backoff.jitter = 0;
  options.seed = 11;
  options.parse_filter = std::move(filter);
  return options;
}

// A filter that keeps only metadata.labels and status.phase: the informer's own fields (name,
// namespace, resourceVersion) survive it, list pages keep paging, and the transform sees the
// filtered object, for LIST items and watch events alike.
TEST(InformerParseFilter, DropsFieldsOfListedAndWatchedObjectsBeforeTheTransform) {
  ScriptedTransport transport;
  FakeClock clock;
  transport.push({200, list_body({full_pod("a", "5")}, "9", "next"), {}, {}, {}});
  transport.push({200, list_body({full_pod("b", "6")}, "10"), {}, {}, {}});
  transport.push({200, "", {event("ADDED", full_pod("c", "11"))}, {}, {}});
  auto options = options_with([](std::span<const std::string> path) {
    if (path.size() == 1) return path[0] == "metadata" || path[0] == "status";
    if (path.size() == 2 && path[0] == "metadata") return path[1] == "labels";
    if (path.size() == 2 && path[0] == "status") return path[1] == "phase";
    return true;
  });
  std::vector<json> transformed;
  options.transform = [&transformed](json& object) { transformed.push_back(object); };
  Informer informer(transport, clock, options);
  Cancellation cancellation;
  informer.run(cancellation);

  ASSERT_EQ(informer.size(), 3u);
  const json expected = {{"kind", "Pod"},
                         {"metadata",
                          {{"namespace", "default"},
                           {"name", "c"},
                           {"resourceVersion", "11"},
                           {"labels", {{"app", "x"}}}}},
                         {"status", {{"phase", "Running"}}}};
  EXPECT_EQ(*informer.get("default/c"), expected);
  EXPECT_EQ(informer.get("default/a")->at("metadata").at("labels"), json({{"app", "x"}}));
  EXPECT_FALSE(informer.get("default/b")->contains("spec"));
  ASSERT_EQ(transformed.size(), 3u);
  for (const auto& object : transformed) {
    EXPECT_FALSE(object.contains("spec")) << object.dump();
    EXPECT_FALSE(object["metadata"].contains("managedFields")) << object.dump();
  }
  EXPECT_EQ(informer.resource_version(), "11");
}

// The members of objects inside arrays are asked about with "" for the element, so a filter keeps
// some fields of each element; paths name object members and array elements only.
TEST(InformerParseFilter, AsksAboutMembersOfArrayElementsWithAnEmptyStepForTheElement) {
  ScriptedTransport transport;
  FakeClock clock;
  transport.push({200, list_body({full_pod("a", "5")}, "10"), {}, {}, {}});
  std::vector<std::string> asked;
  Informer informer(transport, clock, options_with([&asked](std::span<const std::string> path) {
                      std::string joined;
                      for (const auto& part : path) joined += (joined.empty() ? "" : ".") + part;
                      asked.push_back(joined);
                      return joined != "status.podIP" && joined != "spec.containers..image";
                    }));
  Cancellation cancellation;
  informer.run(cancellation);

  const auto pod = informer.get("default/a");
  ASSERT_TRUE(pod);
  EXPECT_EQ(pod->at("spec").at("containers"), json::array({{{"name", "app"}}}));
  EXPECT_EQ(pod->at("metadata").at("managedFields"),
            full_pod("a", "5")["metadata"]["managedFields"]);
  EXPECT_FALSE(pod->at("status").contains("podIP"));
  EXPECT_EQ(std::count(asked.begin(), asked.end(), "spec.containers"), 1);
  EXPECT_EQ(std::count(asked.begin(), asked.end(), "spec.containers..name"), 1);
  EXPECT_EQ(std::count(asked.begin(), asked.end(), "spec.containers..image"), 1);
  EXPECT_EQ(std::count(asked.begin(), asked.end(), "metadata.managedFields..manager"), 1);
  EXPECT_EQ(std::count(asked.begin(), asked.end(), "metadata.labels.app"), 1);
  for (const auto& path : asked) {
    EXPECT_NE(path, "resourceVersion");  // the page's own metadata is not an object's field
    EXPECT_NE(path, "items..metadata");  // nor the page's path to its objects
  }
}

// An ERROR event carries a Status whose code and reason the filter would drop; it is parsed
// without the filter, so a 410 still leads to a relist.
TEST(InformerParseFilter, ErrorEventsAreParsedWithoutTheFilter) {
  ScriptedTransport transport;
  FakeClock clock;
  transport.push({200, list_body({full_pod("a", "5")}, "10"), {}, {}, {}});
  transport.push({200,
                  "",
                  {event("ERROR", {{"kind", "Status"},
                                   {"reason", "Expired"},
                                   {"code", 410},
                                   {"message", "too old resource version"}})},
                  {},
                  {}});
  transport.push({200, list_body({full_pod("b", "20")}, "21"), {}, {}, {}});
  Informer informer(transport, clock, options_with([](std::span<const std::string> path) {
                      return path[0] == "metadata";
                    }));
  Cancellation cancellation;
  informer.run(cancellation);

  EXPECT_EQ(informer.relists(), 2u);
  EXPECT_TRUE(informer.get("default/b"));
  EXPECT_FALSE(informer.get("default/a"));
  EXPECT_EQ(informer.resource_version(), "21");
}

}  // namespace
}  // namespace ipcmesh::kube
