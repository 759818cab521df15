// The Grafana dashboard and the alerting rules the chart ships (charts/ipcmesh/dashboards,
// charts/ipcmesh/alerts) use only series that exist: every ipcmesh_* and process_* name in their
// PromQL is served by the operator (its registry, rendered in-process) or by a real relay process
// (a ring, a queue and a bridge, a subscriber attached, scraped over HTTP), and every label they
// match on is one those series carry. docs/relay.md lists every family the relay serves, and
// `ipcmeshctl describe channel` reads the real relay's version and counters.
#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include <map>
#include <nlohmann/json.hpp>
#include <regex>
#include <set>

#include "ipcmesh/shm_channel.hpp"
#include "main/operator_metrics.hpp"
#include "relay_metrics.hpp"
#include "relay_test_support.hpp"

namespace ipcmesh::relay_testing {
namespace {

using nlohmann::json;

// Sample name (histograms' _bucket/_sum/_count included) -> the label names its samples carry.
using Served = std::map<std::string, std::set<std::string>>;

void add_exposition(Served& served, const std::string& text) {
  static const std::regex kSample(R"(^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{([^}]*)\})? )");
  static const std::regex kLabel(R"(([a-zA-Z_][a-zA-Z0-9_]*)=")");
  std::istringstream lines(text);
  for (std::string line; std::getline(lines, line);) {
    std::smatch sample;
    if (line.empty() || line[0] == '#' || !std::regex_search(line, sample, kSample)) continue;
    auto& labels = served[sample[1]];
    const std::string label_text = sample[3];
    for (std::sregex_iterator it(label_text.begin(), label_text.end(), kLabel), end; it != end;
         ++it) {
      labels.insert((*it)[1]);
    }
  }
}

std::string operator_exposition() {
  operator_main::OperatorMetrics metrics;
  metrics.admission({"error", "bad review", 400, std::chrono::milliseconds(1)});
  metrics.reconcile(std::chrono::milliseconds(2), true, true);
  metrics.event(kube::EventOutcome::kAggregated, kube::EventType::kNormal);
  metrics.watch_restart("pods");
  metrics.set_leader(true);
  return metrics.serialize();
}

// Every PromQL expression of the dashboard (panel targets and template variables).
std::vector<std::string> dashboard_expressions() {
  const json dashboard = json::parse(
      read_file(std::string(IPCMESH_SOURCE_DIR) + "/charts/ipcmesh/dashboards/ipcmesh.json"));
  std::vector<std::string> out;
  for (const json& panel : dashboard.at("panels")) {
    for (const json& target : panel.value("targets", json::array()))
      out.push_back(target.at("expr"));
  }
  for (const json& variable : dashboard.at("templating").at("list")) {
    if (variable.value("type", "") == "query") out.push_back(variable.at("query").at("query"));
  }
  return out;
}

std::vector<std::string> alert_expressions() {
  const YAML::Node rules = YAML::LoadFile(std::string(IPCMESH_SOURCE_DIR) +
                                          "/charts/ipcmesh/alerts/ipcmesh-alerts.yaml");
  std::vector<std::string> out;
  for (const auto& group : rules["groups"]) {
    for (const auto& rule : group["rules"]) out.push_back(rule["expr"].as<std::string>());
  }
  return out;
}

struct MetricUse {
  std::string name;
  std::vector<std::string> matched_labels;  // inside name{...}
};

std::vector<MetricUse> metric_uses(const std::string& expression) {
  static const std::regex kUse(R"(\b((ipcmesh|process)_[a-zA-Z0-9_]+)(\{([^}]*)\})?)");
  static const std::regex kMatcher(R"(([a-zA-Z_][a-zA-Z0-9_]*)\s*(=~|!~|!=|=))");
  std::vector<MetricUse> uses;
  for (std::sregex_iterator it(expression.begin(), expression.end(), kUse), end; it != end; ++it) {
    MetricUse use{(*it)[1], {}};
    const std::string matchers = (*it)[4];
    for (std::sregex_iterator m(matchers.begin(), matchers.end(), kMatcher), stop; m != stop; ++m) {
      use.matched_labels.push_back((*m)[1]);
    }
    uses.push_back(std::move(use));
  }
  return uses;
}

class Monitoring : public RelayTest {
 protected:
  // A relay with a ring, a queue and a bridge between them, one subscriber on the ring.
  std::string relay_exposition() {
    const std::string legacy = "/monitoring_" + std::to_string(::getpid());
    const std::string spec = write_spec({ChannelJson{
        .name = "metrics", .transport = "Both", .queue_name = legacy, .mq_to_shm = true}});
    auto relay = start_relay(spec);
    const std::uint16_t port = wait_ready(*relay);
    if (port == 0) return {};
    auto channel = ShmChannel::open(shm_object_name({namespace_, "metrics"}));
    EXPECT_TRUE(channel);
    if (!channel) return {};
    auto subscriber = Subscriber::attach(*channel);
    EXPECT_TRUE(subscriber);
    const HttpResult metrics = http_get(port, "/metrics");
    EXPECT_EQ(metrics.status, 200);
    relay->signal(SIGTERM);
    EXPECT_EQ(relay->wait(), 0) << relay->err();
    return metrics.body;
  }
};

TEST_F(Monitoring, DashboardAndAlertsUseOnlySeriesAndLabelsTheOperatorAndRelayServe) {
  const std::string relay_text = relay_exposition();
  ASSERT_FALSE(relay_text.empty());
  Served served;
  add_exposition(served, operator_exposition());
  add_exposition(served, relay_text);

  std::vector<std::string> expressions = dashboard_expressions();
  const std::vector<std::string> alerts = alert_expressions();
  ASSERT_GE(expressions.size(), 20u);
  ASSERT_GE(alerts.size(), 8u);
  expressions.insert(expressions.end(), alerts.begin(), alerts.end());
  std::set<std::string> used;
  for (const std::string& expression : expressions) {
    for (const MetricUse& use : metric_uses(expression)) {
      used.insert(use.name);
      const auto found = served.find(use.name);
      ASSERT_NE(found, served.end()) << use.name << " (in `" << expression << "`) is served by "
                                     << "neither the operator nor the relay";
      for (const std::string& label : use.matched_labels) {
        EXPECT_TRUE(found->second.count(label))
            << use.name << " has no label " << label << " (in `" << expression << "`)";
      }
    }
  }
  // The issue's minimum: relay not ready, subscriber lag, drops, webhook errors.
  for (const char* name :
       {"ipcmesh_relay_ready", "ipcmesh_subscriber_lag_bytes",
        "ipcmesh_channel_dropped_oldest_total", "ipcmesh_admission_requests_total"}) {
    EXPECT_TRUE(used.count(name)) << name << " is used by no panel or alert";
  }
}

TEST_F(Monitoring, RelayDocListsEveryFamilyTheRelayServes) {
  const std::string relay_text = relay_exposition();
  ASSERT_FALSE(relay_text.empty());
  const std::string doc = read_file(std::string(IPCMESH_SOURCE_DIR) + "/docs/relay.md");
  static const std::regex kType(R"(# TYPE ([a-zA-Z_:][a-zA-Z0-9_:]*) )");
  int families = 0;
  for (std::sregex_iterator it(relay_text.begin(), relay_text.end(), kType), end; it != end;
       ++it, ++families) {
    const std::string name = (*it)[1];
    EXPECT_NE(doc.find("`" + name + "`"), std::string::npos) << name << " is not in docs/relay.md";
  }
  EXPECT_GT(families, 25);
}

// What describe channel shows per Pod comes from the relay's real exposition, not a copy of it.
TEST_F(Monitoring, IpcmeshctlReadsTheVersionAndCountersOfARealRelay) {
  const std::string relay_text = relay_exposition();
  ASSERT_FALSE(relay_text.empty());
  const cli::RelayCounters counters =
      cli::relay_counters_from_metrics(relay_text, namespace_, "metrics");
  EXPECT_EQ(counters.relay_version, IPCMESH_VERSION);
  EXPECT_TRUE(counters.channel_found);
  EXPECT_EQ(counters.subscribers, 1u);
}

}  // namespace
}  // namespace ipcmesh::relay_testing
