// The operator down: what the API server does with Pod creations under each failurePolicy of the
// MutatingWebhookConfiguration, and what the controller reports about them once it is back.
#include <gtest/gtest.h>

#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "cluster.hpp"
#include "ipc_objects.hpp"

namespace ipcmesh::cluster {
namespace {

using nlohmann::json;

class OperatorDown : public ::testing::Test {
 protected:
  void SetUp() override {
    ns_ = create_namespace("failure");
    operator_ = std::make_unique<OperatorProcess>(
        OperatorOptions{.identity = "failure-policy", .extra_flags = {}});
    operator_->wait_ready();
    kubectl_ok({"apply", "-n", ns_, "-f", "-"}, channel_manifest("frames", "demo"));
    wait_for_counts(ns_, "frames", {1, 0, 0, 0}, *operator_);
  }
  void TearDown() override {
    webhook_.reset();
    operator_.reset();
    kubectl({"delete", "namespace", ns_, "--wait=false"});
  }

  void register_webhook(const std::string& name, FailurePolicy policy) {
    webhook_ = std::make_unique<WebhookRegistration>(name, operator_->webhook_port(), policy);
  }
  // The operator back on the same ports, so the registration reaches it again.
  void bring_operator_back() {
    operator_->restart();
    operator_->wait_ready();
  }
  CommandResult create_pod(const std::string& name, const std::string& app) {
    return kubectl({"create", "-n", ns_, "-f", "-"}, pod_manifest(name, app));
  }
  json pod(const std::string& name) { return kubectl_json({"get", "pod", name, "-n", ns_}); }

  std::unique_ptr<OperatorProcess> operator_;
  std::unique_ptr<WebhookRegistration> webhook_;
  std::string ns_;
};

bool is_injected(const json& pod) {
  return pod["metadata"].value("annotations", json::object()).contains("ipcmesh.io/status") ||
         pod["spec"].contains("initContainers");
}

TEST_F(OperatorDown, WithFailPolicyAPodCreationIsRejectedWhileTheOperatorIsDown) {
  register_webhook("ipcmesh-fail", FailurePolicy::kFail);
  operator_->stop();

  const CommandResult selected = create_pod("selected", "demo");
  EXPECT_FALSE(selected.ok()) << "created while the webhook was unreachable: " << selected.out;
  // The API server names the webhook it could not call, so an operator knows where to look.
  EXPECT_NE(selected.err.find("failed calling webhook"), std::string::npos) << selected.err;
  EXPECT_NE(selected.err.find("ipcmesh-fail.test.ipcmesh.io"), std::string::npos) << selected.err;
  EXPECT_FALSE(kubectl({"get", "pod", "selected", "-n", ns_}).ok()) << "the Pod was stored";
  // The policy covers every Pod the registration matches, selected by a channel or not.
  const CommandResult unselected = create_pod("unselected", "other");
  EXPECT_FALSE(unselected.ok()) << unselected.out;
  EXPECT_NE(unselected.err.find("ipcmesh-fail.test.ipcmesh.io"), std::string::npos)
      << unselected.err;

  // Rejected Pods never existed: nothing was missed. Once back, the same Pod is injected.
  bring_operator_back();
  const CommandResult retried = create_pod("selected", "demo");
  ASSERT_TRUE(retried.ok()) << retried.err;
  EXPECT_TRUE(is_injected(pod("selected"))) << pod("selected").dump(2);
  const json channel = wait_for_counts(ns_, "frames", {1, 1, 1, 0}, *operator_);
  EXPECT_EQ(condition_of(channel, "Ready").value("reason", ""), "AllPodsInjected");
}

TEST_F(OperatorDown, WithIgnorePolicyPodsAreAdmittedUninjectedAndReportedOnceTheOperatorIsBack) {
  register_webhook("ipcmesh-ignore", FailurePolicy::kIgnore);
  operator_->stop();

  for (const char* name : {"missed-1", "missed-2"}) {
    const CommandResult created = create_pod(name, "demo");
    ASSERT_TRUE(created.ok()) << name << ": " << created.err;
    EXPECT_FALSE(is_injected(pod(name))) << pod(name).dump(2);
  }

  bring_operator_back();
  // The controller counts what the webhook never saw: selected, not injected, pending restart.
  const json channel = wait_for_counts(ns_, "frames", {1, 2, 0, 2}, *operator_);
  const json ready = condition_of(channel, "Ready");
  EXPECT_EQ(ready.value("status", ""), "False") << ready.dump();
  EXPECT_EQ(ready.value("reason", ""), "PodsPendingRestart") << ready.dump();
  const std::string message = ready.value("message", "");
  EXPECT_NE(message.find("2 of 2 selected Pods need a restart"), std::string::npos) << message;
  EXPECT_NE(message.find("missed-1"), std::string::npos) << message;
  EXPECT_NE(message.find("missed-2"), std::string::npos) << message;

  // ... and says so in an Event on the channel: a Warning naming the Pods (the counts are in the
  // status only).
  std::vector<json> events;
  const bool reported = eventually([&] {
    events = events_about(ns_, "frames");
    const json warning = find_event(events, "Warning", "PodsPendingRestart");
    return warning.value("message", "").find("missed-1") != std::string::npos &&
           warning.value("message", "").find("missed-2") != std::string::npos;
  });
  EXPECT_TRUE(reported) << "Events about frames:\n" << describe_events(events);

  // Pods created now are injected again; the missed ones stay pending until recreated.
  ASSERT_TRUE(create_pod("after", "demo").ok());
  EXPECT_TRUE(is_injected(pod("after"))) << pod("after").dump(2);
  wait_for_counts(ns_, "frames", {1, 3, 1, 2}, *operator_);
}

}  // namespace
}  // namespace ipcmesh::cluster
