// The images `make images` built, run as real containers in the local Docker engine: tags,
// user, entrypoint, size, a read-only root filesystem, and the relay and an app exchanging
// messages across two containers that share one IPC namespace, as in a Pod.
#include <gtest/gtest.h>

#include <chrono>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "docker_container.hpp"
#include "process.hpp"

namespace ipcmesh::images {
namespace {

using cluster::CommandResult;
using cluster::run_command;
using nlohmann::json;

const std::string kVersion = IPCMESH_VERSION;

std::string image(const std::string& name) {
  return "ipcmesh/" + name + ":" + kVersion;
}

CommandResult docker(std::vector<std::string> args) {
  args.insert(args.begin(), "docker");
  return run_command(args);
}

json inspect(const std::string& reference) {
  const CommandResult result = docker({"image", "inspect", reference});
  if (!result.ok()) {
    ADD_FAILURE() << reference << " is not in the local engine (make images): " << result.err;
    return json::object();
  }
  return json::parse(result.out).at(0);
}

// A container of the test, which fails the test when it cannot start.
class Container : public cluster::DockerContainer {
 public:
  explicit Container(const std::vector<std::string>& run_args)
      : DockerContainer("ipcmesh-it", run_args) {
    EXPECT_TRUE(started()) << start_error();
  }
};

bool eventually(const std::function<bool()>& condition, std::chrono::seconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (condition()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return condition();
}

// What every pod-facing container here runs with: the restricted Pod Security Standard's
// settings, as docker spells them.
std::vector<std::string> restricted() {
  return {"--read-only",    "--network",        "none", "--cap-drop", "ALL",
          "--security-opt", "no-new-privileges"};
}

class Images : public ::testing::TestWithParam<const char*> {};

// Tags are the project's version (operator and relay move together), never :latest.
TEST_P(Images, IsTaggedWithTheProjectVersionAndRunsAsUser65532) {
  const json config = inspect(image(GetParam())).value("Config", json::object());
  EXPECT_EQ(config.value("User", ""), "65532:65532");
  EXPECT_FALSE(docker({"image", "inspect", std::string("ipcmesh/") + GetParam() + ":latest"}).ok())
      << "ipcmesh/" << GetParam() << ":latest must not exist";
}

INSTANTIATE_TEST_SUITE_P(EveryImage, Images, ::testing::Values("relay", "operator", "tools"));

// The webhook gives the relay container only `args`, so the image's ENTRYPOINT is the relay.
TEST(RelayImage, EntrypointIsTheRelaySoArgsAloneStartIt) {
  const json config = inspect(image("relay")).value("Config", json::object());
  EXPECT_EQ(config.value("Entrypoint", json::array()),
            json::array({"/usr/local/bin/ipcmesh-relay"}));
  const CommandResult version = docker({"run", "--rm", "--read-only", image("relay"), "--version"});
  EXPECT_TRUE(version.ok()) << version.err;
  EXPECT_NE(version.out.find(kVersion), std::string::npos) << version.out;
}

// It runs in every selected Pod: at most 40 MB.
TEST(RelayImage, IsAtMost40MB) {
  const auto bytes = inspect(image("relay")).value("Size", std::int64_t{0});
  EXPECT_GT(bytes, 0);
  EXPECT_LE(bytes, 40'000'000) << "relay image is " << bytes / 1'000'000 << " MB";
  RecordProperty("relay_image_bytes", std::to_string(bytes));
}

TEST(OperatorImage, StartsOnAReadOnlyRootAndKnowsItsVersion) {
  const CommandResult version =
      docker({"run", "--rm", "--read-only", image("operator"), "--version"});
  EXPECT_TRUE(version.ok()) << version.err;
  EXPECT_NE(version.out.find(kVersion), std::string::npos) << version.out;
  // Without a cluster it must say so and exit non-zero, not crash on a missing library.
  const CommandResult no_cluster = docker({"run", "--rm", "--read-only", "--network", "none",
                                           image("operator"), "--kubeconfig", "/nonexistent"});
  EXPECT_FALSE(no_cluster.ok());
  EXPECT_LT(no_cluster.exit_code, 128) << "killed by a signal: " << no_cluster.err;
  EXPECT_NE((no_cluster.out + no_cluster.err).find("/nonexistent"), std::string::npos)
      << no_cluster.out << no_cluster.err;
}

TEST(ToolsImage, HasAShellForDebuggingAndEveryProgram) {
  const CommandResult listed =
      docker({"run", "--rm", "--read-only", image("tools"), "sh", "-c",
              "ipcmeshctl --version && for program in ipcmesh-example-pubsub "
              "ipcmesh-example-legacy-mq-sender ipcmesh-example-legacy-mq-receiver; do "
              "command -v $program; done"});  // dash's command -v takes one name
  EXPECT_TRUE(listed.ok()) << listed.out << listed.err;
  EXPECT_NE(listed.out.find(kVersion), std::string::npos) << listed.out;
  for (const char* program : {"ipcmesh-example-pubsub", "ipcmesh-example-legacy-mq-sender",
                              "ipcmesh-example-legacy-mq-receiver"}) {
    EXPECT_NE(listed.out.find(std::string("/usr/local/bin/") + program), std::string::npos)
        << listed.out;
  }
}

// As in a Pod: the relay container creates the channels in an IPC namespace (and /dev/shm) that
// the app containers join; a subscriber in one app container gets what a publisher in another
// sends, through shared memory and through the queue. Every container is unprivileged with a
// read-only root and no network.
TEST(Containers, RelayAndAppsExchangeMessagesThroughOneIpcNamespace) {
  const std::string channels =
      R"({"version":1,"channels":[{"namespace":"default","name":"images",)"
      R"("transport":"Both","sharedMemory":{"size":"1Mi","maxMessageSize":"4Ki"},)"
      R"("messageQueue":{"maxMessages":10,"maxMessageSize":"1Ki"}}]})";
  std::vector<std::string> relay_args = {"--ipc",      "shareable",
                                         "--shm-size", "16m",
                                         "--tmpfs",    "/run/ipcmesh:uid=65532,gid=65532",
                                         "-e",         "IPCMESH_CHANNELS=" + channels};
  for (const auto& flag : restricted()) relay_args.push_back(flag);
  relay_args.insert(relay_args.end(), {image("relay"), "--control-dir", "/run/ipcmesh"});
  Container relay(relay_args);
  ASSERT_TRUE(eventually([&] { return relay.logs().find("ready: ") != std::string::npos; },
                         std::chrono::seconds(30)))
      << relay.logs();

  const auto app = [&](const std::vector<std::string>& command) {
    std::vector<std::string> args = {"--ipc", "container:" + relay.name(), "--group-add", "65532"};
    for (const auto& flag : restricted()) args.push_back(flag);
    args.push_back(image("tools"));
    args.insert(args.end(), command.begin(), command.end());
    return args;
  };
  // shm: the subscriber attaches at the tail, so the publisher keeps sending until it has heard
  // five messages.
  Container subscriber(app({"ipcmeshctl", "sub", "--channel", "images", "--namespace", "default",
                            "--count", "5", "--timeout", "60s"}));
  Container publisher(app({"ipcmeshctl", "pub", "--channel", "images", "--namespace", "default",
                           "--size", "32", "--count", "600", "--interval", "100ms"}));
  EXPECT_EQ(subscriber.wait(std::chrono::seconds(90)), 0) << subscriber.logs();
  const std::string received = subscriber.logs();  // one string: begin() and end() of the same
  EXPECT_GE(std::count(received.begin(), received.end(), '\n'), 5) << received;
  EXPECT_NE(received.find(" ......"), std::string::npos)
      << "not the generated messages: " << received;

  // mq: the queue keeps messages until they are read, so order does not matter.
  Container sender(app({"ipcmeshctl", "pub", "--channel", "images", "--namespace", "default",
                        "--transport", "mq", "--size", "32", "--count", "3"}));
  EXPECT_EQ(sender.wait(std::chrono::seconds(60)), 0) << sender.logs();
  Container receiver(app({"ipcmeshctl", "sub", "--channel", "images", "--namespace", "default",
                          "--transport", "mq", "--count", "3", "--timeout", "30s"}));
  EXPECT_EQ(receiver.wait(std::chrono::seconds(60)), 0) << receiver.logs();
}

}  // namespace
}  // namespace ipcmesh::images
