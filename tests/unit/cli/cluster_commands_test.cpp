// ipcmeshctl get channels, describe channel and version against a fake API server (the
// kube::HttpTransport seam): kubectl-style tables, -o json|yaml, relay counters through the Pod
// proxy (an unreachable relay is a cell, not a failure), version skew warnings, and clear errors
// for malformed answers. `why` has its own file.
#include "cluster_commands.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <condition_variable>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <sstream>

#include "cluster_fixtures.hpp"
#include "ipcmeshctl.hpp"
#include "relay_metrics.hpp"
#include "text_table.hpp"

namespace ipcmesh::cli {
namespace {

using namespace testing;

struct Output {
  int code = -1;
  std::string out;
  std::string err;
};

template <typename Run>
Output capture(Run&& run) {
  std::ostringstream out, err;
  const int code = run(out, err);
  return {code, out.str(), err.str()};
}

Output get(FakeCluster& cluster, GetArguments arguments) {
  return capture([&](std::ostream& out, std::ostream& err) {
    return run_get_channels(arguments, cluster.access, out, err);
  });
}

Output describe(FakeCluster& cluster, const std::string& name, const std::string& output = "") {
  DescribeArguments arguments;
  arguments.name = name;
  arguments.cluster.output = output;
  return capture([&](std::ostream& out, std::ostream& err) {
    return run_describe_channel(arguments, cluster.access, out, err);
  });
}

// The table has kubectl's columns and the operator's counts; -A adds NAMESPACE and -o wide the
// Degraded status and the selector.
TEST(GetChannels, PrintsTheOperatorsCountsAsAKubectlTable) {
  FakeCluster cluster;
  cluster.server.answer(kChannelsPath,
                        list_of({with_status(channel_json("orders", "shop"), 2, 2, 0, true),
                                 with_status(channel_json("frames", "demo"), 2, 1, 1, false)}));
  const Output table = get(cluster, {});
  EXPECT_EQ(table.code, 0) << table.err;
  EXPECT_EQ(table.out,
            "NAME     TRANSPORT      SCOPE   SELECTED   INJECTED   PENDING-RESTART   READY   AGE\n"
            "frames   SharedMemory   Pod     2          1          1                 False   5m\n"
            "orders   SharedMemory   Pod     2          2          0                 True    5m\n");

  cluster.server.answer("/apis/ipcmesh.io/v1alpha1/ipcchannels",
                        list_of({with_status(channel_json("frames", "demo"), 2, 1, 1, false)}));
  GetArguments wide;
  wide.cluster.all_namespaces = true;
  wide.cluster.output = "wide";
  const Output all = get(cluster, wide);
  EXPECT_EQ(all.code, 0) << all.err;
  EXPECT_NE(all.out.find("NAMESPACE   NAME"), std::string::npos) << all.out;
  EXPECT_NE(all.out.find("DEGRADED   SELECTOR"), std::string::npos) << all.out;
  EXPECT_NE(all.out.find("team        frames"), std::string::npos) << all.out;
  EXPECT_NE(all.out.find("False      app=demo"), std::string::npos) << all.out;
}

// -o json is a List of the objects as stored; a name gives the object itself; no channel is a
// message on stderr (kubectl's "No resources found"), not a failure.
TEST(GetChannels, JsonIsTheStoredObjectsAndAnEmptyListIsNoFailure) {
  FakeCluster cluster;
  const json frames = with_status(channel_json("frames", "demo"), 1, 1, 0, true);
  cluster.server.answer(kChannelsPath, list_of({frames}));
  cluster.server.answer(kChannelsPath + "/frames", frames);
  GetArguments listed;
  listed.cluster.output = "json";
  const Output list = get(cluster, listed);
  ASSERT_EQ(list.code, 0) << list.err;
  EXPECT_EQ(json::parse(list.out)["items"][0], frames);
  GetArguments one = listed;
  one.name = "frames";
  EXPECT_EQ(json::parse(get(cluster, one).out), frames);
  one.cluster.output = "yaml";
  EXPECT_NE(get(cluster, one).out.find("name: frames"), std::string::npos);

  cluster.server.answer(kChannelsPath, list_of({}));
  const Output empty = get(cluster, {});
  EXPECT_EQ(empty.code, 0);
  EXPECT_EQ(empty.out, "");
  EXPECT_EQ(empty.err, "No IpcChannels found in namespace team.\n");
}

// What the API server may answer instead: no CRD, a forbidden list, a list that is no list, a
// channel without a name, an unreachable server. Each is one line naming the problem, exit 1.
TEST(GetChannels, BadAnswersAreOneClearLineAndExitOne) {
  struct Case {
    std::string name;
    std::function<void(FakeApiServer&)> arrange;
    std::string in_error;
  };
  const std::vector<Case> cases = {
      {"no CRD", [](FakeApiServer&) {}, "install the CRD"},
      {"forbidden",
       [](FakeApiServer& s) {
         s.fail(kChannelsPath, 403, "Forbidden", "user \"dev\" cannot list ipcchannels");
       },
       "cannot list ipcchannels"},
      {"not a list",
       [](FakeApiServer& s) {
         s.answer(kChannelsPath, json{{"kind", "Status"}});
       },
       "the answer is not a list"},
      {"item not an object", [](FakeApiServer& s) { s.answer(kChannelsPath, list_of({json(3)})); },
       "an item of the list is not an object"},
      {"channel without a name",
       [](FakeApiServer& s) {
         json nameless = channel_json("x", "demo");
         nameless["metadata"].erase("name");
         s.answer(kChannelsPath, list_of({nameless}));
       },
       "an IpcChannel the operator cannot read"},
      {"not JSON", [](FakeApiServer& s) { s.answer_text(kChannelsPath, "<html>proxy</html>"); },
       "parse error"},
  };
  for (const Case& c : cases) {
    FakeCluster cluster;
    c.arrange(cluster.server);
    const Output result = get(cluster, {});
    EXPECT_EQ(result.code, 1) << c.name;
    EXPECT_EQ(result.out, "") << c.name;
    EXPECT_EQ(std::count(result.err.begin(), result.err.end(), '\n'), 1) << c.name << result.err;
    EXPECT_NE(result.err.find("ipcmeshctl get channels: "), std::string::npos) << result.err;
    EXPECT_NE(result.err.find(c.in_error), std::string::npos) << c.name << ": " << result.err;
  }
}

// describe: spec, counts and conditions, then each Pod with its state as the controller counts
// it, and its relay's counters through the Pod proxy. A relay the proxy cannot reach is shown
// as unreachable and the command still succeeds.
TEST(DescribeChannel, ShowsEachPodsInjectionAndItsRelaysLiveCounters) {
  FakeCluster cluster;
  const json v1 = channel_json("frames", "demo", 1);
  const json v2 = with_status(channel_json("frames", "demo", 2), 3, 2, 2, false);
  cluster.server.answer(kChannelsPath + "/frames", v2);
  cluster.server.answer(
      kPodsPath,
      list_of({injected(pod_json("current", "demo"), {v2}), injected(pod_json("old", "demo"), {v1}),
               pod_json("early", "demo", kEarly), pod_json("unrelated", "other")}));
  cluster.server.answer_text(kPodsPath + "/current:9090/proxy/metrics",
                             relay_metrics_text("frames", 120, 118));
  cluster.server.fail(kPodsPath + "/old:9090/proxy/metrics", 503, "ServiceUnavailable",
                      "no endpoints available for pod \"old\"");

  const Output text = describe(cluster, "frames");
  ASSERT_EQ(text.code, 0) << text.err;
  EXPECT_NE(text.out.find("Name:          frames\nNamespace:     team\n"), std::string::npos)
      << text.out;
  EXPECT_NE(text.out.find("Generation:    2 (status observed 2)"), std::string::npos) << text.out;
  EXPECT_NE(text.out.find("Selector:      app=demo"), std::string::npos) << text.out;
  EXPECT_NE(text.out.find("Counts:        3 selected, 2 injected, 2 pending restart"),
            std::string::npos)
      << text.out;
  EXPECT_NE(text.out.find("Ready      False    PodsPendingRestart"), std::string::npos) << text.out;
  EXPECT_NE(text.out.find("current   injected                  " IPCMESH_VERSION
                          "         1             120         118         3         2Ki"),
            std::string::npos)
      << text.out;
  EXPECT_NE(text.out.find("early     pending restart           none"), std::string::npos)
      << text.out;
  EXPECT_NE(text.out.find("old       outdated (generation 1)   unreachable   -"), std::string::npos)
      << text.out;
  EXPECT_NE(text.out.find("  old: unreachable: "), std::string::npos) << text.out;
  EXPECT_NE(text.out.find("no endpoints available"), std::string::npos) << text.out;
  EXPECT_EQ(text.out.find("unrelated"), std::string::npos) << text.out;
  // The pending Pod has no relay: nobody asked its proxy.
  for (const auto& request : cluster.server.requests()) {
    EXPECT_EQ(request.find("early:"), std::string::npos) << request;
  }

  const json object = json::parse(describe(cluster, "frames", "json").out);
  EXPECT_EQ(object["channel"], v2);
  ASSERT_EQ(object["pods"].size(), 3u) << object.dump(2);
  EXPECT_EQ(object["pods"][0]["name"], "current");
  EXPECT_EQ(object["pods"][0]["relay"]["publishedMessages"], 120);
  EXPECT_EQ(object["pods"][0]["relay"]["droppedMessages"], 3);
  EXPECT_EQ(object["pods"][2]["name"], "old");
  EXPECT_EQ(object["pods"][2]["relay"]["reachable"], false);
}

// Relays the proxy answers only once two scrapes were in flight together: describe must ask them
// concurrently (a relay that hangs costs its deadline once, not once per Pod) and still print
// the Pods in the order it listed them.
class RendezvousRelays final : public kube::HttpTransport {
 public:
  explicit RendezvousRelays(kube::HttpTransport& answers) : answers_(answers) {}
  kube::HttpResponse send(const kube::HttpRequest& request) override {
    {
      std::unique_lock lock(mutex_);
      ++in_flight_;
      most_in_flight_ = std::max(most_in_flight_, in_flight_);
      met_ = met_ || in_flight_ >= 2;
      changed_.notify_all();
      changed_.wait_for(lock, std::chrono::seconds(2), [&] { return met_; });
    }
    kube::HttpResponse response = answers_.send(request);
    const std::lock_guard lock(mutex_);
    --in_flight_;
    return response;
  }
  kube::HttpResponse stream(const kube::HttpRequest& request, const kube::LineHandler& on_line,
                            kube::Cancellation& cancellation) override {
    return answers_.stream(request, on_line, cancellation);
  }
  int most_in_flight() {
    const std::lock_guard lock(mutex_);
    return most_in_flight_;
  }

 private:
  kube::HttpTransport& answers_;
  std::mutex mutex_;
  std::condition_variable changed_;
  int in_flight_ = 0, most_in_flight_ = 0;
  bool met_ = false;
};

TEST(DescribeChannel, ScrapesTheRelaysConcurrentlyAndKeepsThePodsInOrder) {
  FakeCluster cluster;
  const json channel = with_status(channel_json("frames", "demo", 1), 12, 12, 0, true);
  cluster.server.answer(kChannelsPath + "/frames", channel);
  std::vector<json> pods;
  for (int i = 0; i < 12; ++i) {
    const std::string name = "p" + std::to_string(10 + i);
    pods.push_back(injected(pod_json(name, "demo"), {channel}));
    cluster.server.answer_text(kPodsPath + "/" + name + ":9090/proxy/metrics",
                               relay_metrics_text("frames", 100 + i, 100 + i));
  }
  cluster.server.answer(kPodsPath, list_of(pods));
  RendezvousRelays relays(cluster.server);
  ClusterAccess access{cluster.client, relays, kTeam, kNow, "https://fake:6443"};
  DescribeArguments arguments;
  arguments.name = "frames";
  arguments.cluster.output = "json";
  const Output result = capture([&](std::ostream& out, std::ostream& err) {
    return run_describe_channel(arguments, access, out, err);
  });
  ASSERT_EQ(result.code, 0) << result.err;
  EXPECT_GE(relays.most_in_flight(), 2) << "the relays were scraped one after another";
  EXPECT_LE(relays.most_in_flight(), 8) << "more concurrent scrapes than the proxy should see";
  const json object = json::parse(result.out);
  ASSERT_EQ(object["pods"].size(), 12u);
  for (int i = 0; i < 12; ++i) {
    EXPECT_EQ(object["pods"][i]["name"], "p" + std::to_string(10 + i));
    EXPECT_EQ(object["pods"][i]["relay"]["publishedMessages"], 100 + i) << object.dump(2);
  }
}

TEST(DescribeChannel, AMissingChannelIsOneLineAndExitOne) {
  FakeCluster cluster;
  cluster.server.fail(kChannelsPath + "/nope", 404, "NotFound",
                      "ipcchannels.ipcmesh.io \"nope\" not found");
  const Output result = describe(cluster, "nope");
  EXPECT_EQ(result.code, 1);
  EXPECT_EQ(result.out, "");
  EXPECT_NE(result.err.find("ipcmeshctl describe channel: "), std::string::npos) << result.err;
  EXPECT_NE(result.err.find("ipcchannels.ipcmesh.io \"nope\" not found"), std::string::npos)
      << result.err;
}

// Only the named channel's samples count; a relay that does not report the channel is no zero.
TEST(RelayMetrics, ReadsTheChannelsCountersAndIgnoresOthersAndGarbage) {
  const std::string text = relay_metrics_text("frames", 5, 4) + "garbage line\nbad{ 1\n";
  const RelayCounters counters = relay_counters_from_metrics(text, "team", "frames");
  EXPECT_TRUE(counters.channel_found);
  EXPECT_EQ(counters.published_messages, 5u);
  EXPECT_EQ(counters.delivered_messages, 4u);
  EXPECT_EQ(counters.dropped_messages, 3u);
  EXPECT_EQ(counters.max_lag_bytes, 2048u);
  EXPECT_EQ(counters.subscribers, 1u);
  EXPECT_EQ(counters.relay_version, IPCMESH_VERSION);
  EXPECT_FALSE(relay_counters_from_metrics(text, "team", "orders").channel_found);
  EXPECT_EQ(label_value(R"({a="x\"y",b="z"})", "a"), "x\"y");
  EXPECT_EQ(label_value(R"({ba="x",a="y"})", "a"), "y");
}

Output version(FakeCluster* cluster, const std::string& output = "") {
  VersionArguments arguments;
  arguments.cluster.output = output;
  return capture([&](std::ostream& out, std::ostream& err) {
    return run_version(arguments, cluster ? &cluster->access : nullptr, out, err);
  });
}

const std::string kDeploymentsPath = "/apis/apps/v1/deployments";
const std::string kAllPodsPath = "/api/v1/pods";

// version: the client, the operator by the chart's labels, the relays by their image tags; a
// relay or an operator of another release is a warning on stderr.
TEST(Version, ShowsClientOperatorAndRelaysAndWarnsOnSkew) {
  FakeCluster cluster;
  cluster.server.answer(kDeploymentsPath, list_of({operator_deployment(IPCMESH_VERSION)}));
  json old_relay = injected(pod_json("old", "demo"), {channel_json("frames", "demo")});
  old_relay["spec"]["initContainers"][0]["image"] = "ipcmesh/relay:0.0.9";
  cluster.server.answer(kAllPodsPath,
                        list_of({injected(pod_json("a", "demo"), {channel_json("frames", "demo")}),
                                 old_relay, pod_json("plain", "x")}));
  const Output text = version(&cluster);
  ASSERT_EQ(text.code, 0) << text.err;
  EXPECT_EQ(text.out, "ipcmeshctl " IPCMESH_VERSION
                      "\n"
                      "operator   " IPCMESH_VERSION
                      " (ipcmesh-system/ipcmesh-operator, image ipcmesh/operator:" IPCMESH_VERSION
                      ")\n"
                      "relay      0.0.9 (1 injected Pod)\n"
                      "relay      " IPCMESH_VERSION " (1 injected Pod)\n");
  EXPECT_EQ(
      text.err,
      "WARNING: version skew: 1 injected Pod run relay 0.0.9, the operator is " IPCMESH_VERSION
      ": re-create them to get the current relay (ipcmeshctl why POD names the command)\n");
  const json object = json::parse(version(&cluster, "json").out);
  EXPECT_EQ(object["client"], IPCMESH_VERSION);
  EXPECT_EQ(object["operators"][0]["version"], IPCMESH_VERSION);
  EXPECT_EQ(object["warnings"].size(), 1u);

  cluster.server.answer(kDeploymentsPath, list_of({operator_deployment("9.9.9")}));
  EXPECT_NE(version(&cluster).err.find("ipcmeshctl is " IPCMESH_VERSION
                                       ", operator ipcmesh-system/ipcmesh-operator is 9.9.9"),
            std::string::npos);
}

TEST(Version, NoOperatorIsNotFoundAndNoClusterIsTheClientAlone) {
  FakeCluster cluster;
  cluster.server.answer(kDeploymentsPath, list_of({}));
  cluster.server.answer(kAllPodsPath, list_of({}));
  const Output text = version(&cluster);
  EXPECT_EQ(text.code, 0);
  EXPECT_NE(
      text.out.find("operator   not found (no Deployment labelled "
                    "app.kubernetes.io/part-of=ipcmesh,app.kubernetes.io/component=operator)"),
      std::string::npos)
      << text.out;
  EXPECT_NE(text.out.find("relay      none running"), std::string::npos) << text.out;
  EXPECT_EQ(version(nullptr).out, "ipcmeshctl " IPCMESH_VERSION "\n");
}

// A read the API server refuses leaves that line unknown, says why on stderr and exits 1: a
// script must not take "unknown" for a version. The lines that could be read are still printed.
TEST(Version, AReadTheServerRefusesIsUnknownAndExitsOne) {
  FakeCluster cluster;
  cluster.server.answer(kDeploymentsPath, list_of({operator_deployment(IPCMESH_VERSION)}));
  cluster.server.fail(kAllPodsPath, 403, "Forbidden",
                      "pods is forbidden: User \"dev\" cannot list resource \"pods\"");
  const Output text = version(&cluster);
  EXPECT_EQ(text.code, 1);
  EXPECT_NE(text.out.find("operator   " IPCMESH_VERSION), std::string::npos) << text.out;
  EXPECT_NE(text.out.find("relay      unknown (GET /api/v1/pods?limit=500: HTTP 403 Forbidden"),
            std::string::npos)
      << text.out;
  EXPECT_NE(text.err.find("ipcmeshctl version: GET /api/v1/pods?limit=500: HTTP 403 Forbidden"),
            std::string::npos)
      << text.err;
  const Output structured = version(&cluster, "json");
  EXPECT_EQ(structured.code, 1);
  EXPECT_NE(json::parse(structured.out)["relayError"].get<std::string>().find("pods is forbidden"),
            std::string::npos);
}

// As the command line runs it: with nothing configured (no kubeconfig file, no service account)
// `version` is the client's line alone, exit 0; a kubeconfig that exists but cannot be used is
// exit 1, with the client's line still printed and the reason on stderr.
TEST(Version, NothingConfiguredIsTheClientAloneButABrokenKubeconfigExitsOne) {
  const std::filesystem::path home = std::filesystem::path(::testing::TempDir()) /
                                     ("ipcmeshctl-version-" + std::to_string(::getpid()));
  std::filesystem::remove_all(home);
  std::filesystem::create_directories(home / ".kube");
  std::map<std::string, std::string> variables = {{"HOME", home.string()}};
  const kube::Environment environment = [&](const std::string& name) {
    const auto it = variables.find(name);
    return it == variables.end() ? std::nullopt : std::optional<std::string>(it->second);
  };
  const auto run = [&] {
    return capture([&](std::ostream& out, std::ostream& err) {
      return run_version_command(VersionArguments{}, environment, out, err);
    });
  };

  const Output nothing = run();
  EXPECT_EQ(nothing.code, 0) << nothing.err;
  EXPECT_EQ(nothing.out, "ipcmeshctl " IPCMESH_VERSION "\n");
  EXPECT_NE(nothing.err.find("no cluster"), std::string::npos) << nothing.err;

  variables["KUBECONFIG"] = (home / "missing").string();
  EXPECT_EQ(run().code, 0) << "a KUBECONFIG naming no file is nothing configured, as for kubectl";
  // A Pod with automountServiceAccountToken: false (tests/node runs `ipcmeshctl version` in one).
  variables["KUBERNETES_SERVICE_HOST"] = "10.96.0.1";
  variables["KUBERNETES_SERVICE_PORT"] = "443";
  ASSERT_FALSE(std::filesystem::exists(std::string(kube::kServiceAccountDir) + "/token"));
  EXPECT_EQ(run().code, 0) << "a Pod without a service-account token is nothing configured";

  std::ofstream(home / "broken") << "clusters: {not: a list}\n";
  variables["KUBECONFIG"] = (home / "broken").string();
  const Output broken = run();
  EXPECT_EQ(broken.code, 1) << broken.out;
  EXPECT_EQ(broken.out, "ipcmeshctl " IPCMESH_VERSION "\n");
  EXPECT_NE(broken.err.find("ipcmeshctl version: "), std::string::npos) << broken.err;
  EXPECT_NE(broken.err.find("broken"), std::string::npos) << broken.err;
  std::filesystem::remove_all(home);
}

// Run as kubectl's plugin (argv[0] kubectl-ipcmesh), help names `kubectl ipcmesh`.
TEST(KubectlPlugin, HelpSaysKubectlIpcmeshWhenRunAsThePlugin) {
  EXPECT_EQ(program_name("/usr/local/bin/kubectl-ipcmesh"), "kubectl ipcmesh");
  EXPECT_EQ(program_name("kubectl-ipcmesh"), "kubectl ipcmesh");
  EXPECT_EQ(program_name("/opt/bin/ipcmeshctl"), "ipcmeshctl");
  std::istringstream in;
  std::ostringstream out, err;
  EXPECT_EQ(run_ipcmeshctl({"--help"}, in, out, err, "kubectl ipcmesh"), 0);
  EXPECT_NE(out.str().find("Usage: kubectl ipcmesh"), std::string::npos) << out.str();
  EXPECT_NE(out.str().find("Run \"kubectl ipcmesh COMMAND --help\""), std::string::npos);
}

// Usage mistakes of the new commands: exit 2, one line.
TEST(ClusterCommands, UsageMistakesAreOneLineAndExitTwo) {
  for (const std::vector<std::string>& args :
       std::vector<std::vector<std::string>>{{"get"},
                                             {"get", "pods"},
                                             {"describe", "channel"},
                                             {"why"},
                                             {"get", "channels", "-o", "xml"},
                                             {"version", "--context"}}) {
    std::istringstream in;
    std::ostringstream out, err;
    EXPECT_EQ(run_ipcmeshctl(args, in, out, err), 2) << args.back() << ": " << err.str();
    EXPECT_EQ(out.str(), "");
    const std::string message = err.str();
    EXPECT_EQ(std::count(message.begin(), message.end(), '\n'), 1) << message;
  }
}

TEST(TextTable, AgesAreKubectlsUnits) {
  const std::int64_t now = *api::parse_kube_time("2026-12-10T00:00:00Z");
  EXPECT_EQ(age_since("2026-12-09T23:59:30Z", now), "30s");
  EXPECT_EQ(age_since("2026-12-09T23:50:00Z", now), "10m");
  EXPECT_EQ(age_since("2026-12-09T20:00:00Z", now), "4h");
  EXPECT_EQ(age_since("2026-12-01T00:00:00Z", now), "9d");
  EXPECT_EQ(age_since("yesterday", now), "<unknown>");
}

}  // namespace
}  // namespace ipcmesh::cli
