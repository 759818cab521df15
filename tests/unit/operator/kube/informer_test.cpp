#include "kube/informer.hpp"

#include <gtest/gtest.h>

#include <thread>

#include "fake_clock.hpp"
#include "scripted_transport.hpp"
#include "watch_bodies.hpp"

namespace ipcmesh::kube {
namespace {

using nlohmann::json;
using testing::event;
using testing::FakeClock;
using testing::list_body;
using testing::ScriptedTransport;
using testing::Step;
using namespace std::chrono_literals;

json pod(const std::string& name, const std::string& version) {
  return {{"metadata", {{"namespace", "default"}, {"name", name}, {"resourceVersion", version}}}};
}

std::string expired_event() {
  return event("ERROR", {{"kind", "Status"},
                         {"status", "Failure"},
                         {"reason", "Expired"},
                         {"code", 410},
                         {"message", "too old resource version: 10 (50)"}});
}

InformerOptions pod_options() {
  InformerOptions options;
  options.collection = kPods;
  options.api_version = "v1";
  options.kind = "Pod";
  options.backoff.jitter = 0;
  options.seed = 7;
  return options;
}

// Records handler calls as "add a", "update a", "delete b".
struct Recorder {
  std::vector<std::string> calls;
  InformerHandlers handlers() {
    return {[this](const ObjectPtr& o) { calls.push_back("add " + object_key(*o)); },
            [this](const ObjectPtr&, const ObjectPtr& o) {
              calls.push_back("update " + object_key(*o));
            },
            [this](const ObjectPtr& o) { calls.push_back("delete " + object_key(*o)); }};
  }
};

std::string query_value(const std::string& path, const std::string& key) {
  const auto at = path.find(key + "=");
  if (at == std::string::npos) return {};
  const auto start = at + key.size() + 1;
  return path.substr(start, path.find('&', start) - start);
}

// LIST fills the cache and marks it synced; the WATCH starts from the list's resourceVersion with
// bookmarks and a 5-10 min timeout, and its events reach the cache and the handlers in order.
TEST(Informer, ListsThenWatchesFromTheListedResourceVersion) {
  ScriptedTransport transport;
  FakeClock clock;
  transport.push({200, list_body({pod("a", "5"), pod("b", "6")}, "10"), {}, {}, {}});
  transport.push({200,
                  "",
                  {event("ADDED", pod("c", "11")), event("MODIFIED", pod("a", "12")),
                   event("DELETED", pod("b", "13"))},
                  {},
                  {}});
  Informer informer(transport, clock, pod_options());
  Recorder recorder;
  informer.add_handlers(recorder.handlers());
  EXPECT_FALSE(informer.has_synced());
  Cancellation cancellation;
  informer.run(cancellation);

  EXPECT_TRUE(informer.has_synced());
  EXPECT_EQ(recorder.calls,
            (std::vector<std::string>{"add default/a", "add default/b", "add default/c",
                                      "update default/a", "delete default/b"}));
  ASSERT_EQ(informer.size(), 2u);
  EXPECT_EQ(informer.get("default/a")->at("metadata").at("resourceVersion"), "12");
  EXPECT_EQ(informer.get("default/a")->at("kind"), "Pod");  // stamped on listed items
  EXPECT_EQ(informer.resource_version(), "13");
  EXPECT_EQ(informer.list_namespace("default").size(), 2u);
  EXPECT_TRUE(informer.list_namespace("other").empty());

  const auto& requests = transport.requests();
  ASSERT_GE(requests.size(), 2u);
  EXPECT_EQ(requests[0].path_and_query, "/api/v1/pods?limit=500");
  const std::string& watch = requests[1].path_and_query;
  EXPECT_EQ(watch.rfind("/api/v1/pods?watch=1&allowWatchBookmarks=true&resourceVersion=10", 0), 0u)
      << watch;
  const int timeout = std::stoi(query_value(watch, "timeoutSeconds"));
  EXPECT_GE(timeout, 300);
  EXPECT_LE(timeout, 600);
}

// A BOOKMARK moves the resourceVersion (the next watch resumes from it) and touches nothing
// else; a watch the server ends after a healthy while is resumed at once, without backoff.
TEST(Informer, BookmarkAdvancesTheResourceVersionOnly) {
  ScriptedTransport transport;
  FakeClock clock;
  transport.push({200, list_body({pod("a", "5")}, "10"), {}, {}, {}});
  transport.push(
      {200, "", {event("BOOKMARK", {{"metadata", {{"resourceVersion", "50"}}}})}, {}, [&clock] {
         clock.advance(6min);
       }});
  Informer informer(transport, clock, pod_options());
  Recorder recorder;
  informer.add_handlers(recorder.handlers());
  Cancellation cancellation;
  informer.run(cancellation);

  EXPECT_EQ(recorder.calls, std::vector<std::string>{"add default/a"});
  EXPECT_EQ(informer.resource_version(), "50");
  ASSERT_EQ(transport.requests().size(), 3u);
  EXPECT_EQ(query_value(transport.requests()[2].path_and_query, "resourceVersion"), "50");
  EXPECT_TRUE(clock.sleeps().empty());
  EXPECT_EQ(informer.relists(), 1u);
}

// 410 Gone, whether an ERROR event or the watch's HTTP status, relists; the new list replaces the
// cache in one swap (a handler already sees the whole new state) and handlers get the difference.
TEST(Informer, ExpiredResourceVersionRelistsAndSwapsTheCacheAtomically) {
  struct Case {
    const char* name;
    Step expired;
  };
  for (const Case& c : {Case{"ERROR event", Step{200, "", {expired_event()}, {}, {}}},
                        Case{"HTTP 410", Step{410, expired_event(), {}, {}, {}}}}) {
    SCOPED_TRACE(c.name);
    ScriptedTransport transport;
    FakeClock clock;
    transport.push({200, list_body({pod("a", "5"), pod("b", "6")}, "10"), {}, {}, {}});
    transport.push(c.expired);
    transport.push({200, list_body({pod("b", "7"), pod("c", "8")}, "20"), {}, {}, {}});
    Informer informer(transport, clock, pod_options());
    Recorder recorder;
    informer.add_handlers(recorder.handlers());
    std::vector<std::size_t> sizes_seen;
    bool saw_old_a = false;
    informer.add_handlers({[&](const ObjectPtr&) {
                             sizes_seen.push_back(informer.size());
                             saw_old_a = saw_old_a ||
                                         (informer.relists() > 0 && informer.get("default/c") &&
                                          informer.get("default/a"));
                           },
                           nullptr, nullptr});
    Cancellation cancellation;
    informer.run(cancellation);

    EXPECT_EQ(recorder.calls,
              (std::vector<std::string>{"add default/a", "add default/b", "update default/b",
                                        "add default/c", "delete default/a"}));
    EXPECT_FALSE(saw_old_a);  // never a mix of the old and the new list
    EXPECT_EQ(sizes_seen.back(), 2u);
    EXPECT_EQ(informer.size(), 2u);
    EXPECT_FALSE(informer.get("default/a"));
    EXPECT_EQ(informer.relists(), 2u);
    EXPECT_EQ(informer.resource_version(), "20");
    const auto& requests = transport.requests();
    ASSERT_EQ(requests.size(), 4u);
    EXPECT_EQ(requests[2].path_and_query, "/api/v1/pods?limit=500");  // a fresh list, no RV
    EXPECT_EQ(query_value(requests[3].path_and_query, "resourceVersion"), "20");
    EXPECT_GE(informer.watch_restarts(), 1u);
  }
}

// Failures back off 0.8 s, 1.6 s, ... up to 30 s; once a watch has been healthy for longer than
// two minutes the next failure starts again at 0.8 s.
TEST(Informer, BackoffGrowsToThirtySecondsAndResetsAfterAHealthyPeriod) {
  ScriptedTransport transport;
  FakeClock clock;
  transport.push({200, list_body({}, "10"), {}, {}, {}});
  for (int i = 0; i < 8; ++i) {
    transport.push({200, "", {}, TransportError::Kind::kConnection, {}});
  }
  transport.push(
      {200, "", {}, TransportError::Kind::kConnection, [&clock] { clock.advance(3min); }});
  transport.push({500, R"({"kind":"Status","code":500,"message":"etcd down"})", {}, {}, {}});
  Informer informer(transport, clock, pod_options());
  Cancellation cancellation;
  informer.run(cancellation);

  using ms = std::chrono::milliseconds;
  std::vector<ms> sleeps;
  for (auto sleep : clock.sleeps()) sleeps.push_back(std::chrono::duration_cast<ms>(sleep));
  EXPECT_EQ(sleeps, (std::vector<ms>{ms(800), ms(1600), ms(3200), ms(6400), ms(12800), ms(25600),
                                     ms(30000), ms(30000), ms(800), ms(1600)}));
  EXPECT_EQ(informer.relists(), 1u);  // plain failures re-watch; they do not relist
  EXPECT_EQ(informer.watch_restarts(), 10u);
}

// A paged LIST follows the continue token and the cache holds every page.
TEST(Informer, PagedListFollowsTheContinueToken) {
  ScriptedTransport transport;
  FakeClock clock;
  transport.push({200, list_body({pod("a", "1")}, "9", "token/1"), {}, {}, {}});
  transport.push({200, list_body({pod("b", "2")}, "10"), {}, {}, {}});
  auto options = pod_options();
  options.page_size = 1;
  options.label_selector = "app=x";
  Informer informer(transport, clock, options);
  Cancellation cancellation;
  informer.run(cancellation);
  EXPECT_EQ(informer.size(), 2u);
  EXPECT_EQ(informer.resource_version(), "10");
  EXPECT_EQ(transport.requests()[1].path_and_query,
            "/api/v1/pods?limit=1&continue=token%2F1&labelSelector=app%3Dx");
}

// The transform runs before caching (e.g. dropping managedFields to save memory).
TEST(Informer, TransformTrimsObjectsBeforeTheyAreCached) {
  ScriptedTransport transport;
  FakeClock clock;
  json fat = pod("a", "1");
  fat["metadata"]["managedFields"] = json::array({{{"manager", "kubectl"}}});
  transport.push({200, list_body({fat}, "10"), {}, {}, {}});
  auto options = pod_options();
  options.transform = [](json& object) { object["metadata"].erase("managedFields"); };
  Informer informer(transport, clock, options);
  Cancellation cancellation;
  informer.run(cancellation);
  EXPECT_FALSE(informer.get("default/a")->at("metadata").contains("managedFields"));
}

// A cached type other than JSON: what the operator's Pod cache does with its records.
struct NameAndVersion {
  std::string name;
  std::string version;
};
std::string_view resource_version_of(const NameAndVersion& object) {
  return object.version;
}

// A typed informer caches what its decoder makes of each listed and watched object (after the
// transform), keyed as the JSON informer keys; relists compare versions through the record, so an
// unchanged object is no update and a changed one is.
TEST(Informer, TypedCacheHoldsWhatTheDecoderMakes) {
  ScriptedTransport transport;
  FakeClock clock;
  transport.push({200, list_body({pod("a", "5"), pod("b", "6")}, "10"), {}, {}, {}});
  transport.push(
      {200,
       "",
       {event("MODIFIED", pod("a", "11")), event("DELETED", pod("b", "12")), expired_event()},
       {},
       {}});
  transport.push({200, list_body({pod("a", "11"), pod("c", "13")}, "20"), {}, {}, {}});
  auto options = pod_options();
  options.transform = [](json& object) {
    object["metadata"]["name"] = "x-" + object["metadata"]["name"].get<std::string>();
  };
  BasicInformer<NameAndVersion> informer(transport, clock, options, [](json&& object) {
    return NameAndVersion{object["metadata"]["name"].get<std::string>(),
                          object["metadata"]["resourceVersion"].get<std::string>()};
  });
  std::vector<std::string> calls;
  informer.add_handlers(
      {[&](const auto& o) { calls.push_back("add " + o->name); },
       [&](const auto& old, const auto& now) {
         calls.push_back("update " + old->name + "@" + old->version + "->" + now->version);
       },
       [&](const auto& o) { calls.push_back("delete " + o->name + "@" + o->version); }});
  Cancellation cancellation;
  informer.run(cancellation);

  EXPECT_EQ(calls, (std::vector<std::string>{"add x-a", "add x-b", "update x-a@5->11",
                                             "delete x-b@6", "add x-c"}));
  ASSERT_EQ(informer.size(), 2u);
  EXPECT_EQ(informer.get("default/x-a")->version, "11");
  EXPECT_EQ(informer.get("default/x-c")->version, "13");
  EXPECT_EQ(informer.list_namespace("default").size(), 2u);
  EXPECT_EQ(informer.resource_version(), "20");
}

// A watch blocked in the transport returns when stop() cancels it: stop() joins promptly.
TEST(Informer, StopCancelsABlockedWatchAndJoins) {
  class BlockingTransport final : public HttpTransport {
   public:
    HttpResponse send(const HttpRequest&) override {
      return {200, {}, list_body({pod("a", "1")}, "10")};
    }
    HttpResponse stream(const HttpRequest&, const LineHandler&, Cancellation& c) override {
      c.wait_for(std::chrono::minutes(5));
      throw TransportError(TransportError::Kind::kCancelled, "cancelled");
    }
  };
  BlockingTransport transport;
  SystemClock clock;
  Informer informer(transport, clock, pod_options());
  informer.start();
  for (int i = 0; i < 1000 && !informer.has_synced(); ++i) std::this_thread::sleep_for(10ms);
  ASSERT_TRUE(informer.has_synced());
  const auto before = std::chrono::steady_clock::now();
  informer.stop();
  EXPECT_LT(std::chrono::steady_clock::now() - before, std::chrono::minutes(1));
}

}  // namespace
}  // namespace ipcmesh::kube
