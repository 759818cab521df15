// The CRD as the real API server enforces it: OpenAPI schema, defaults and CEL rules from
// crds/ipcchannel.yaml. No operator runs here: the API server alone must reject bad channels.
#include <gtest/gtest.h>

#include <string>

#include "cluster.hpp"

namespace ipcmesh::cluster {
namespace {

class CrdValidation : public ::testing::Test {
 protected:
  void SetUp() override { ns_ = create_namespace("crd"); }
  void TearDown() override { kubectl({"delete", "namespace", ns_, "--wait=false"}); }

  CommandResult apply_channel(const std::string& name, const std::string& spec_yaml) {
    return kubectl({"apply", "-n", ns_, "-f", "-"},
                   "apiVersion: ipcmesh.io/v1alpha1\nkind: IpcChannel\nmetadata:\n  name: " + name +
                       "\nspec:\n" + spec_yaml);
  }

  std::string ns_;
};

TEST_F(CrdValidation, EveryExampleChannelIsAccepted) {
  for (const char* file :
       {"examples/shared-memory.yaml", "examples/message-queue.yaml",
        "examples/both-legacy-bridge.yaml", "examples/classic/shared-memory/channel.yaml",
        "examples/classic/message-queue/channel.yaml", "examples/classic/legacy-mq/channel.yaml"}) {
    const CommandResult applied = kubectl({"apply", "--dry-run=server", "-f", repo_path(file)});
    EXPECT_TRUE(applied.ok()) << file << ": " << applied.err;
  }
}

TEST_F(CrdValidation, DefaultsAreFilledInByTheApiServer) {
  ASSERT_TRUE(apply_channel("defaults",
                            "  selector: {matchLabels: {app: a}}\n  sharedMemory: {size: 8Mi}\n")
                  .ok());
  const nlohmann::json stored = kubectl_json({"get", "ipch", "defaults", "-n", ns_});
  const nlohmann::json& spec = stored.at("spec");
  EXPECT_EQ(spec.value("transport", ""), "SharedMemory");
  EXPECT_EQ(spec.value("scope", ""), "Pod");
  // Defaults inside an object the user wrote; an absent sharedMemory is the operator's to
  // default (the contract's 64Mi ring), since the API server fills only objects that exist.
  EXPECT_EQ(spec.at("sharedMemory").value("maxMessageSize", ""), "1Mi") << spec.dump();
  EXPECT_EQ(spec.at("sharedMemory").value("slowConsumer", ""), "Block") << spec.dump();
  EXPECT_EQ(spec.at("sharedMemory").value("waitMode", ""), "Adaptive") << spec.dump();
}

// The seed article's queue, declared with only its legacy name, gets the kernel's own limits
// (10 messages of 8Ki), so the webhook admits its Pods without any mqueue sysctl.
TEST_F(CrdValidation, ABareQueueDefaultsToTheKernelLimits) {
  ASSERT_TRUE(apply_channel("legacy",
                            "  transport: MessageQueue\n"
                            "  messageQueue: {name: /posix_mq_example}\n")
                  .ok());
  const nlohmann::json stored = kubectl_json({"get", "ipch", "legacy", "-n", ns_});
  const nlohmann::json& queue = stored.at("spec").at("messageQueue");
  EXPECT_EQ(queue.value("maxMessages", 0), 10) << queue.dump();
  EXPECT_EQ(queue.value("maxMessageSize", ""), "8Ki") << queue.dump();
}

struct InvalidChannel {
  const char* what;
  const char* spec_yaml;
  const char* message_part;  // the API server's message must contain this
};

TEST_F(CrdValidation, InvalidChannelsAreRejectedWithClearMessages) {
  const InvalidChannel cases[] = {
      {"unknown transport", "  transport: Carrier-Pigeon\n", "transport"},
      {"message larger than the ring",
       "  transport: SharedMemory\n  sharedMemory:\n    size: 1Mi\n    maxMessageSize: 4Mi\n",
       "maxMessageSize"},
      {"shared memory settings on a queue channel",
       "  transport: MessageQueue\n  sharedMemory:\n    size: 1Mi\n",
       "sharedMemory is set but transport is MessageQueue"},
      {"unknown wait mode", "  sharedMemory:\n    waitMode: busypoll\n",
       "spec.sharedMemory.waitMode"},
      {"legacy queue name that is not a POSIX name",
       "  transport: MessageQueue\n  messageQueue:\n    name: no-leading-slash\n",
       "messageQueue.name must be a POSIX queue name"},
      {"bridge in both directions",
       "  transport: Both\n  relay:\n    bridge:\n      mqToShm: true\n      shmToMq: true\n",
       "choose one direction"},
  };
  int index = 0;
  for (const InvalidChannel& c : cases) {
    const CommandResult result = apply_channel("bad-" + std::to_string(index++), c.spec_yaml);
    EXPECT_FALSE(result.ok()) << c.what << " was accepted";
    EXPECT_NE(result.err.find(c.message_part), std::string::npos)
        << c.what << ": the message does not say '" << c.message_part << "':\n"
        << result.err;
  }
  // Nothing invalid was stored.
  const nlohmann::json list = kubectl_json({"get", "ipch", "-n", ns_});
  EXPECT_TRUE(list.at("items").empty()) << list.dump();
}

TEST_F(CrdValidation, ShortNameCategoryAndPrinterColumnsWork) {
  ASSERT_TRUE(apply_channel("printed", "  selector: {matchLabels: {app: a}}\n").ok());
  const std::string table = kubectl_ok({"get", "ipcmesh", "-n", ns_});
  for (const char* column : {"TRANSPORT", "SCOPE", "SELECTED", "INJECTED", "READY", "AGE"}) {
    EXPECT_NE(table.find(column), std::string::npos) << column << " missing in:\n" << table;
  }
  const std::string explained = kubectl_ok({"explain", "ipcchannel.spec.transport"});
  EXPECT_NE(explained.find("DESCRIPTION"), std::string::npos) << explained;
}

}  // namespace
}  // namespace ipcmesh::cluster
