// examples/classic/: the seed article's scenarios done right, each a self-checking Pod that must
// end Succeeded and print its count (no sleeps, no start-up race, no torn reads).
#include <gtest/gtest.h>

#include <filesystem>
#include <sstream>

#include "e2e.hpp"

namespace ipcmesh::e2e {
namespace {

struct Expectation {
  std::string pod;
  std::string container;
  std::string line;
};

class ClassicExamplesTest : public ::testing::Test {
 protected:
  void SetUp() override { ns_ = create_namespace("e2e-classic"); }
  void TearDown() override { kubectl({"delete", "namespace", ns_, "--wait=false"}); }

  // Applies the folder's channel (waiting until the operator has observed it, since the webhook
  // decides from its cache), then its Pods, then checks each expectation.
  void run_scenario(const std::string& folder, const std::vector<Expectation>& expectations) {
    const std::string channel = "examples/classic/" + folder + "/channel.yaml";
    if (std::filesystem::exists(repo_path(channel))) {
      apply_example(channel, ns_);
      const auto names =
          kubectl_ok({"get", "ipch", "-n", ns_, "-o", "jsonpath={.items[*].metadata.name}"});
      std::istringstream stream(names);
      for (std::string name; stream >> name;) {
        const bool observed = eventually([&] {
          return kubectl({"get", "ipch", name, "-n", ns_, "-o",
                          "jsonpath={.status.observedGeneration}"})
                     .out == "1";
        });
        ASSERT_TRUE(observed) << "the operator never observed IpcChannel " << name;
      }
    }
    apply_example("examples/classic/" + folder + "/pod.yaml", ns_);
    for (const auto& expected : expectations) {
      wait_for_phase(ns_, expected.pod, "Succeeded", std::chrono::seconds(240));
      const std::string logs = pod_logs(ns_, expected.pod, expected.container);
      EXPECT_NE(logs.find(expected.line), std::string::npos)
          << expected.pod << "/" << expected.container << " did not print '" << expected.line
          << "':\n"
          << logs;
    }
  }

  std::string ns_;
};

TEST_F(ClassicExamplesTest, SharedVolume) {
  run_scenario("shared-volume", {{"classic-shared-volume", "writer", "wrote 100 files"},
                                 {"classic-shared-volume", "reader", "read 100 files"}});
}

TEST_F(ClassicExamplesTest, SharedMemoryProducerAndConsumer) {
  run_scenario("shared-memory",
               {{"classic-shared-memory", "producer", "published 1000 messages"},
                {"classic-shared-memory", "consumer", "received 1000 messages in order"}});
}

TEST_F(ClassicExamplesTest, MessageQueueSenderAndReceiver) {
  run_scenario("message-queue",
               {{"classic-message-queue", "sender", "published 1000"},
                {"classic-message-queue", "receiver", "received 1000 messages in order"}});
}

TEST_F(ClassicExamplesTest, UnmodifiedLegacyQueueAppAndItsBridgeToSharedMemory) {
  run_scenario("legacy-mq",
               {{"classic-legacy-mq", "legacy-sender", "sent 1000"},
                {"classic-legacy-mq", "legacy-receiver", "received 1000"},
                {"classic-legacy-bridge", "legacy-sender", "sent 1000"},
                {"classic-legacy-bridge", "subscriber", "received 1000 messages in order"}});
}

}  // namespace
}  // namespace ipcmesh::e2e
