// The relay's small pieces in process: each does one job and says clearly when input is wrong.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "relay/bridge.hpp"
#include "relay/channel_source.hpp"
#include "relay/duration.hpp"
#include "relay/http_server.hpp"
#include "relay/json_log.hpp"
#include "relay/owner_lock.hpp"
#include "relay/relay_options.hpp"

namespace ipcmesh::relay {
namespace {

using namespace std::chrono_literals;

// The shm->mq bridge subscribes in the channel's waitMode, except that the relay never
// busy-polls (tests/ipc/relay_bridge_test.cpp shows it asleep on a BusyPoll channel).
TEST(BridgeWaitMode, FollowsTheChannelButNeverBusyPolls) {
  EXPECT_EQ(bridge_wait_mode(WaitMode::kAdaptive), WaitMode::kAdaptive);
  EXPECT_EQ(bridge_wait_mode(WaitMode::kSpinThenSleep), WaitMode::kSpinThenSleep);
  EXPECT_EQ(bridge_wait_mode(WaitMode::kBusyPoll), WaitMode::kSpinThenSleep);
}

// Durations accept the units people type and reject the rest with the text quoted.
TEST(Duration, ParsesCommonUnitsAndRejectsNonsense) {
  EXPECT_EQ(parse_duration("30s").value(), 30s);
  EXPECT_EQ(parse_duration("500ms").value(), 500ms);
  EXPECT_EQ(parse_duration("2m").value(), 120s);
  EXPECT_EQ(parse_duration("1.5").value(), 1500ms);
  EXPECT_EQ(parse_duration("250us").value(), 250us);
  EXPECT_FALSE(parse_duration("").has_value());
  EXPECT_FALSE(parse_duration("-1s").has_value());
  EXPECT_NE(parse_duration("3 days").error().find("'3 days'"), std::string::npos);
  EXPECT_NE(parse_duration("3d").error().find("unknown unit 'd'"), std::string::npos);
}

// The relay's flags: defaults, --listen HOST:PORT, and usage errors naming the flag.
TEST(RelayOptions, DefaultsAndFlags) {
  auto defaults = parse_relay_options({});
  ASSERT_TRUE(defaults);
  EXPECT_EQ(defaults->grace_period, 10s);
  EXPECT_EQ(defaults->listen_host, "127.0.0.1");
  EXPECT_FALSE(defaults->metrics_port.has_value());
  auto listen = parse_relay_options({"--listen", "0.0.0.0:9191", "--grace-period", "2s"});
  ASSERT_TRUE(listen);
  EXPECT_EQ(listen->listen_host, "0.0.0.0");
  EXPECT_EQ(listen->metrics_port, 9191);
  EXPECT_EQ(listen->grace_period, 2s);
  for (const std::vector<std::string>& bad : {std::vector<std::string>{"--listen", "nowhere"},
                                              {"--metrics-port", "70000"},
                                              {"--log-level", "loud"},
                                              {"--grace-period=soon"}}) {
    auto refused = parse_relay_options(bad);
    ASSERT_FALSE(refused) << bad[0];
    EXPECT_EQ(refused.error().exit_code, 2);
    EXPECT_EQ(
        refused.error().output.rfind("ipcmesh-relay: " + bad[0].substr(0, bad[0].find('=')), 0), 0u)
        << refused.error().output;
  }
  auto help = parse_relay_options({"--log-level", "loud", "--help"});
  ASSERT_FALSE(help);
  EXPECT_EQ(help.error().exit_code, 0);
  EXPECT_EQ(help.error().output, relay_usage());
}

// JSON escaping covers quotes, backslashes and control characters.
TEST(JsonLog, EscapesQuotesBackslashesAndControlCharacters) {
  EXPECT_EQ(json_escape(R"(say "hi" \ bye)"), R"(say \"hi\" \\ bye)");
  EXPECT_EQ(json_escape("a\nb\tc\x01"), "a\\nb\\tc\\u0001");
}

// A log line whose message holds quotes and newlines is still one valid JSON object.
TEST(JsonLog, EveryLineIsValidJsonEvenWithQuotesInTheMessage) {
  char path[] = "/tmp/ipcmesh-json-log-XXXXXX";
  const int file = ::mkstemp(path);
  ASSERT_GE(file, 0);
  const int saved = ::dup(STDERR_FILENO);
  ::dup2(file, STDERR_FILENO);
  {
    auto logger = make_json_logger("relay", spdlog::level::info);
    logger->warn("queue {} said \"{}\"\nand more", "/posix_mq_example", "no \\ space");
    logger->flush();
  }
  ::dup2(saved, STDERR_FILENO);
  ::close(saved);
  ::close(file);
  std::ifstream in(path);
  std::string line;
  ASSERT_TRUE(std::getline(in, line));
  ::unlink(path);
  const auto object = nlohmann::json::parse(line);
  EXPECT_EQ(object["msg"], "queue /posix_mq_example said \"no \\ space\"\nand more");
  EXPECT_EQ(object["level"], "warning");
  EXPECT_EQ(object["logger"], "relay");
  EXPECT_EQ(object["pid"], ::getpid());
}

// The request line parser takes method and path (query dropped) and refuses garbage.
TEST(HttpServer, ParsesTheRequestLine) {
  std::string method;
  std::string path;
  ASSERT_TRUE(parse_request_line("GET /metrics?x=1 HTTP/1.1\r\nHost: a\r\n\r\n", method, path));
  EXPECT_EQ(method, "GET");
  EXPECT_EQ(path, "/metrics");
  EXPECT_FALSE(parse_request_line("hello\r\n\r\n", method, path));
  EXPECT_FALSE(parse_request_line("GET metrics HTTP/1.1\r\n", method, path));
  EXPECT_FALSE(parse_request_line("GET /x SMTP\r\n", method, path));
}

// An ownership lock is exclusive while held (the contender learns the holder's pid), and its
// file is gone once released, so a new owner can take it.
TEST(OwnerLock, IsExclusiveNamesItsHolderAndVanishesOnRelease) {
  const std::string path = "/tmp/.ipcmesh-owner-test." + std::to_string(::getpid());
  {
    auto first = OwnerLock::try_acquire(path);
    ASSERT_TRUE(first) << first.error().message;
    auto second = OwnerLock::try_acquire(path);
    ASSERT_FALSE(second);
    EXPECT_EQ(second.error().code, ErrorCode::kAlreadyExists);
    EXPECT_NE(second.error().message.find("pid " + std::to_string(::getpid())), std::string::npos);
  }
  EXPECT_NE(::access(path.c_str(), F_OK), 0);
  auto again = OwnerLock::try_acquire(path);
  EXPECT_TRUE(again);
}

// Lock file names follow the object's POSIX name and stay within NAME_MAX for long names.
TEST(OwnerLock, PathFollowsThePosixNameAndFitsNameMax) {
  EXPECT_EQ(owner_lock_path(OwnedKind::kSharedMemory, "/ipcmesh.ns.orders"),
            "/dev/shm/.ipcmesh-owner.shm.ipcmesh.ns.orders");
  EXPECT_EQ(owner_lock_path(OwnedKind::kMessageQueue, "/posix_mq_example", "/x"),
            "/x/.ipcmesh-owner.mq.posix_mq_example");
  const std::string long_name = "/" + std::string(250, 'a');
  const std::string lock = owner_lock_path(OwnedKind::kSharedMemory, long_name, "/d");
  EXPECT_LE(lock.size() - 3, 255u);
  EXPECT_NE(lock, owner_lock_path(OwnedKind::kSharedMemory, long_name + "b", "/d"));
}

ChannelSet one_channel(const std::string& json) {
  auto set = parse_channel_set(R"({"version":1,"channels":[)" + json + "]}");
  EXPECT_TRUE(set) << set.error().message;
  return set ? *set : ChannelSet{};
}

// The relay's own rules on top of the contract, each naming the field at fault.
TEST(ChannelSource, RelayRulesNameTheField) {
  EXPECT_NE(validate_for_relay(ChannelSet{}).error().message.find("channels"), std::string::npos);
  const std::string ok = R"({"namespace":"a","name":"b","transport":"Both",
      "sharedMemory":{"size":"1Mi","maxMessageSize":"8Ki"},
      "messageQueue":{"maxMessages":10,"maxMessageSize":"8Ki"},
      "relay":{"bridge":{"shmToMq":true}}})";
  EXPECT_TRUE(validate_for_relay(one_channel(ok)));
  auto looping = one_channel(ok);
  looping.channels.front().bridge.mq_to_shm = true;  // both directions: the relay would echo
  EXPECT_NE(validate_for_relay(looping).error().message.find("channels[0].relay.bridge"),
            std::string::npos);
  auto oversized = one_channel(ok);
  oversized.channels.front().message_queue->max_message_size = 4096;
  oversized.channels.front().shared_memory->max_message_size = 8192;  // shm->mq: 8Ki into 4Ki
  EXPECT_NE(
      validate_for_relay(oversized).error().message.find("channels[0].sharedMemory.maxMessageSize"),
      std::string::npos);
  auto twice = one_channel(ok);
  twice.channels.push_back(twice.channels.front());
  EXPECT_NE(validate_for_relay(twice).error().message.find("used twice"), std::string::npos);
}

// --spec with a missing file names the file.
TEST(ChannelSource, MissingSpecFileIsNamed) {
  auto set = load_channel_set(std::string("/nonexistent/spec.json"));
  ASSERT_FALSE(set);
  EXPECT_NE(set.error().message.find("/nonexistent/spec.json"), std::string::npos);
}

}  // namespace
}  // namespace ipcmesh::relay
