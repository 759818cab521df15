// docs/operator.md is the reference of the operator's surface: every setting (flag and config
// key), every metric family it serves, every condition reason and Event reason. These tests read
// the list from the code and fail on the first name the page leaves out.
#include <gtest/gtest.h>

#include <fstream>
#include <regex>
#include <set>
#include <sstream>
#include <string>

#include "controller/ipc_channel_reconciler.hpp"
#include "main/operator_config.hpp"
#include "main/operator_metrics.hpp"

namespace ipcmesh::operator_main {
namespace {

std::string operator_doc() {
  std::ifstream in(std::string(IPCMESH_SOURCE_DIR) + "/docs/operator.md");
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

bool mentions(const std::string& doc, const std::string& code_span) {
  return doc.find("`" + code_span + "`") != std::string::npos;
}

// The family names of a text exposition (its "# TYPE name kind" lines).
std::set<std::string> family_names(const std::string& exposition) {
  static const std::regex kType("^# TYPE ([a-zA-Z_:][a-zA-Z0-9_:]*) ");
  std::set<std::string> names;
  std::istringstream lines(exposition);
  for (std::string line; std::getline(lines, line);) {
    std::smatch match;
    if (std::regex_search(line, match, kType)) names.insert(match[1]);
  }
  return names;
}

TEST(OperatorDoc, ListsEverySettingWithItsFlagAndConfigKey) {
  const std::string doc = operator_doc();
  ASSERT_FALSE(doc.empty());
  EXPECT_TRUE(mentions(doc, "--config"));
  const auto names = setting_names();
  ASSERT_GT(names.size(), 15u);
  for (const SettingName& name : names) {
    EXPECT_TRUE(mentions(doc, "--" + name.flag)) << "--" << name.flag << " is not in the doc";
    EXPECT_TRUE(mentions(doc, name.file_key)) << name.file_key << " is not in the doc";
  }
}

TEST(OperatorDoc, ListsEveryMetricFamilyTheOperatorServes) {
  OperatorMetrics metrics;
  // Families with labels appear once a series exists: touch each kind once.
  metrics.admission({"mutated", "injected", 200, std::chrono::milliseconds(1)});
  metrics.reconcile(std::chrono::milliseconds(2), false, true);
  metrics.event(kube::EventOutcome::kCreated, kube::EventType::kWarning);
  metrics.watch_restart("pods");
  metrics.set_leader(true);
  const std::set<std::string> families = family_names(metrics.serialize());
  ASSERT_GE(families.size(), 20u);
  const std::string doc = operator_doc();
  for (const std::string& family : families) {
    EXPECT_TRUE(mentions(doc, family)) << family << " is not in docs/operator.md";
  }
}

TEST(OperatorDoc, ListsEveryConditionAndEventReason) {
  const std::string doc = operator_doc();
  using namespace controller;
  for (const std::string_view reason :
       {kReasonAllPodsInjected, kReasonNoPodsSelected, kReasonPodsPendingRestart,
        kReasonInvalidSpec, kReasonOutdatedInjection, kReasonAsExpected, kReasonNamespaceEnabled,
        kReasonNamespaceNotEnabled, kReasonNamespaceNotObserved, kReasonRelayNotReady,
        kEventRelayRestarted}) {
    EXPECT_TRUE(mentions(doc, std::string(reason))) << reason << " is not in docs/operator.md";
  }
  for (const std::string_view condition :
       {api::kConditionReady, api::kConditionDegraded, api::kConditionInjectionEnabled}) {
    EXPECT_TRUE(mentions(doc, std::string(condition))) << condition;
  }
}

}  // namespace
}  // namespace ipcmesh::operator_main
