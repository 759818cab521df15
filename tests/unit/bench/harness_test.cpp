// The harness with real transports and real forked processes, on a fixed message count so that
// nothing depends on the machine's speed: the spsc-floor reference moves every message verified,
// a fan-out or fan-in group delivers every message to every subscriber or fails verification, and
// a paced pair keeps its rate and measures a one-way latency for every message.
#include "harness.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <memory>
#include <ostream>
#include <stdexcept>
#include <string>

#include "environment.hpp"
#include "transport.hpp"

namespace ipcmesh::bench {
namespace {

constexpr std::uint64_t kWarmup = 200;
constexpr std::uint64_t kMessages = 3000;  // per producer, after its warm-up

HarnessOptions counted_run(bool inject_gap = false) {
  HarnessOptions options;
  options.messages = kMessages;
  options.stream_warmup = kWarmup;
  options.pingpong_warmup = 50;
  options.timeout_seconds = 60;
  options.inject_gap = inject_gap;
  options.cores = allowed_cores();
  return options;
}

std::string unique_tag() {
  static int counter = 0;
  return "unit-" + std::to_string(getpid()) + "-" + std::to_string(++counter);
}

// A transport of the registry by name, started; empty `skip` when it can run here.
struct StartedTransport {
  std::unique_ptr<Transport> transport;
  std::string skip;
  StartedTransport() = default;
  StartedTransport(StartedTransport&&) = default;
  StartedTransport& operator=(StartedTransport&&) = default;
  ~StartedTransport() {
    if (transport && skip.empty()) transport->stop();
  }
};

StartedTransport start_transport(const std::string& name, std::size_t size) {
  StartedTransport started;
  for (auto& transport : make_transports()) {
    if (transport->name() == name) started.transport = std::move(transport);
  }
  if (!started.transport) {
    started.skip = name + " is not in the registry";
    return started;
  }
  started.skip = started.transport->start({size});
  return started;
}

std::unique_ptr<Link> prepared(Transport& transport, LinkSpec spec) {
  auto link = transport.prepare(spec);
  EXPECT_TRUE(link.has_value()) << (link ? "" : link.error().message);
  return link ? std::move(*link) : nullptr;
}

struct FloorCase {
  std::size_t size;
  bool fill;
};
void PrintTo(const FloorCase& c, std::ostream* out) {
  *out << c.size << " B" << (c.fill ? ", every byte filled" : ", stamp only");
}

class SpscFloor : public ::testing::TestWithParam<FloorCase> {};

// The reference streams every message, complete and in order, through the common harness, with
// a message size that is not a multiple of the 64-byte slot and with every byte checked.
TEST_P(SpscFloor, StreamsEveryMessageVerified) {
  const auto started = start_transport("spsc-floor", GetParam().size);
  ASSERT_TRUE(started.skip.empty()) << started.skip;
  auto link = prepared(*started.transport, {GetParam().size, Pattern::kStream, unique_tag(),
                                            GetParam().fill, GroupShape{}});
  ASSERT_TRUE(link);
  const auto result = run_measurement(*link, Pattern::kStream, GetParam().size, counted_run());
  EXPECT_TRUE(result["verified"].get<bool>()) << result.dump(2);
  EXPECT_EQ(result["messages"], kWarmup + kMessages);
  EXPECT_EQ(result["measured_messages"], kMessages);
  EXPECT_EQ(result["lost"], 0);
  EXPECT_EQ(result["corrupt"], 0);
  EXPECT_TRUE(link->config().contains("reference"));  // it says it is not a product
}

// Ping-pong uses a second ring for the answers; every pong carries its ping's sequence number.
TEST_P(SpscFloor, AnswersEveryPingInPingPong) {
  const auto started = start_transport("spsc-floor", GetParam().size);
  ASSERT_TRUE(started.skip.empty()) << started.skip;
  auto link = prepared(*started.transport, {GetParam().size, Pattern::kPingPong, unique_tag(),
                                            GetParam().fill, GroupShape{}});
  ASSERT_TRUE(link);
  const auto options = counted_run();
  const auto result = run_measurement(*link, Pattern::kPingPong, GetParam().size, options);
  EXPECT_TRUE(result["verified"].get<bool>()) << result.dump(2);
  EXPECT_EQ(result["round_trips"], options.pingpong_warmup + kMessages);
  EXPECT_EQ(result["mismatched"], 0);
}

// A lost message is caught on the floor as on every transport.
TEST(SpscFloorSelfCheck, ASkippedSequenceNumberFailsVerification) {
  const auto started = start_transport("spsc-floor", 64);
  ASSERT_TRUE(started.skip.empty()) << started.skip;
  auto link = prepared(*started.transport, {64, Pattern::kStream, unique_tag(), false, {}});
  ASSERT_TRUE(link);
  const auto result = run_measurement(*link, Pattern::kStream, 64, counted_run(true));
  EXPECT_FALSE(result["verified"].get<bool>());
  EXPECT_EQ(result["lost"], 1);
}

INSTANTIATE_TEST_SUITE_P(Sizes, SpscFloor,
                         ::testing::Values(FloorCase{64, false}, FloorCase{1000, true},
                                           FloorCase{8192, true}),
                         [](const auto& info) {
                           return std::to_string(info.param.size) + "B" +
                                  (info.param.fill ? "Filled" : "Stamped");
                         });

struct GroupCase {
  const char* transport;
  GroupShape shape;
};
void PrintTo(const GroupCase& c, std::ostream* out) {
  *out << c.transport << " " << c.shape.producers << " -> " << c.shape.subscribers;
}

class GroupMeasurement : public ::testing::TestWithParam<GroupCase> {
 protected:
  nlohmann::json run(bool inject_gap, std::string& skip) {
    started_ = start_transport(GetParam().transport, 64);
    skip = started_.skip;
    if (!skip.empty()) return {};
    auto link = prepared(*started_.transport,
                         {64, Pattern::kStream, unique_tag(), false, GetParam().shape});
    if (!link) return {};
    return run_group_measurement(*link, GetParam().shape, 64, counted_run(inject_gap));
  }

 private:
  StartedTransport started_;
};

// Every subscriber gets every message of every producer, and the figures add up.
TEST_P(GroupMeasurement, EverySubscriberReceivesEveryMessage) {
  std::string skip;
  const auto result = run(false, skip);
  ASSERT_TRUE(skip.empty()) << "cannot start the transport here: " << skip;
  ASSERT_FALSE(result.is_null());
  const auto& shape = GetParam().shape;
  EXPECT_TRUE(result["verified"].get<bool>()) << result.dump(2);
  EXPECT_EQ(result["messages_sent"], shape.producers * (kWarmup + kMessages));
  ASSERT_EQ(result["subscriber_sides"].size(), shape.subscribers);
  ASSERT_EQ(result["producer_sides"].size(), shape.producers);
  for (const auto& side : result["subscriber_sides"]) {
    EXPECT_EQ(side["messages"], shape.producers * (kWarmup + kMessages)) << side.dump();
    EXPECT_EQ(side["lost"], 0);
    EXPECT_EQ(side["out_of_order"], 0);
  }
  EXPECT_EQ(result["cores"].size(), shape.producers + shape.subscribers);
}

// Each producer skips one sequence number: every subscriber must count each skip as lost, and
// the measurement must fail.
TEST_P(GroupMeasurement, ALostMessageFailsVerificationAtEverySubscriber) {
  std::string skip;
  const auto result = run(true, skip);
  ASSERT_TRUE(skip.empty()) << "cannot start the transport here: " << skip;
  ASSERT_FALSE(result.is_null());
  EXPECT_FALSE(result["verified"].get<bool>());
  for (const auto& side : result["subscriber_sides"]) {
    EXPECT_EQ(side["lost"], GetParam().shape.producers) << side.dump();
  }
  EXPECT_EQ(result["errors"].size(), GetParam().shape.subscribers) << result["errors"].dump();
}

INSTANTIATE_TEST_SUITE_P(Shapes, GroupMeasurement,
                         ::testing::Values(GroupCase{"ipcmesh-shm", {1, 2}},
                                           GroupCase{"ipcmesh-shm", {4, 1}},
                                           GroupCase{"posix-mqueue", {4, 1}}),
                         [](const auto& info) {
                           std::string name = info.param.transport;
                           std::erase(name, '-');
                           return name + "_" + std::to_string(info.param.shape.producers) + "to" +
                                  std::to_string(info.param.shape.subscribers);
                         });

struct PacedCase {
  const char* transport;
  bool fill;
};
void PrintTo(const PacedCase& c, std::ostream* out) {
  *out << c.transport << (c.fill ? ", every byte filled" : ", stamp only");
}

class PacedMeasurement : public ::testing::TestWithParam<PacedCase> {};

// 200 measured messages at 2,000 msgs/s take about 0.1 s: bounds generous enough for a loaded
// machine, tight enough to catch a producer that bursts (far below) or sleeps too long (above).
TEST_P(PacedMeasurement, SendsEveryMessageAtTheRateAndTimesEachOne) {
  constexpr std::uint64_t kPacedMessages = 200;
  constexpr std::uint64_t kPacedWarmup = 20;
  const auto started = start_transport(GetParam().transport, 64);
  ASSERT_TRUE(started.skip.empty()) << "cannot start the transport here: " << started.skip;
  auto link = prepared(*started.transport,
                       {64, Pattern::kStream, unique_tag(), GetParam().fill, GroupShape{}});
  ASSERT_TRUE(link);
  HarnessOptions options = counted_run();
  options.messages = kPacedMessages;
  options.stream_warmup = kPacedWarmup;
  options.paced_rate = 2000;
  const auto result = run_measurement(*link, Pattern::kStream, 64, options);
  ASSERT_TRUE(result["verified"].get<bool>()) << result.dump(2);
  EXPECT_EQ(result["messages"], kPacedWarmup + kPacedMessages);
  EXPECT_EQ(result["measured_messages"], kPacedMessages);
  EXPECT_GE(result["seconds"].get<double>(), 0.08) << result.dump(2);
  EXPECT_LE(result["seconds"].get<double>(), 0.5) << result.dump(2);

  ASSERT_TRUE(result.contains("paced")) << result.dump(2);
  const auto& paced = result["paced"];
  EXPECT_EQ(paced["rate_msgs_per_s"], 2000.0);
  EXPECT_EQ(paced["latency_samples"], kPacedMessages);
  const double p50 = paced["latency_p50_ns"], p99 = paced["latency_p99_ns"];
  const double p999 = paced["latency_p999_ns"], max = paced["latency_max_ns"];
  EXPECT_GE(paced["latency_min_ns"].get<double>(), 0.0);
  EXPECT_LE(paced["latency_min_ns"].get<double>(), p50);
  EXPECT_LE(p50, p99);
  EXPECT_LE(p99, p999);
  EXPECT_LE(p999, max);
  EXPECT_GE(paced["late_messages"].get<std::uint64_t>(), 0u);
  for (const char* side : {"subscriber", "producer"}) {
    EXPECT_GE(paced[side]["cpu_s"].get<double>(), 0.0) << side;
    EXPECT_GT(paced[side]["wall_s"].get<double>(), 0.0) << side;
    EXPECT_GE(paced[side]["cpu_percent"].get<double>(), 0.0) << side;
    EXPECT_TRUE(paced[side].contains("involuntary_switches")) << side;
  }
}

INSTANTIATE_TEST_SUITE_P(Transports, PacedMeasurement,
                         ::testing::Values(PacedCase{"ipcmesh-shm", false},
                                           PacedCase{"ipcmesh-shm-spin", false},
                                           PacedCase{"posix-mqueue", true}),
                         [](const auto& info) {
                           std::string name = info.param.transport;
                           std::erase(name, '-');
                           return name + (info.param.fill ? "Filled" : "Stamped");
                         });

// Pacing is a property of a stream; and the send time needs room beside the stamp.
TEST(PacedMeasurementSetup, RefusesPingPongAndMessagesWithoutRoomForTheTime) {
  const auto started = start_transport("spsc-floor", 64);
  ASSERT_TRUE(started.skip.empty()) << started.skip;
  HarnessOptions options = counted_run();
  options.paced_rate = 1000;
  auto pingpong = prepared(*started.transport, {64, Pattern::kPingPong, unique_tag(), false, {}});
  ASSERT_TRUE(pingpong);
  EXPECT_THROW(run_measurement(*pingpong, Pattern::kPingPong, 64, options), std::invalid_argument);
  auto small = prepared(*started.transport, {24, Pattern::kStream, unique_tag(), false, {}});
  ASSERT_TRUE(small);
  EXPECT_THROW(run_measurement(*small, Pattern::kStream, 24, options), std::invalid_argument);
}

// The transports say which shapes they cannot serve, and why.
TEST(GroupLimitation, QueuesCannotFanOutAndPairsCannotGroup) {
  for (auto& transport : make_transports()) {
    if (transport->name() == "posix-mqueue") {
      EXPECT_EQ(transport->group_limitation({1, 2}), "a queue delivers each message to one reader");
      EXPECT_EQ(transport->group_limitation({4, 1}), "");
    }
    if (transport->name() == "spsc-floor" || transport->name() == "uds-seqpacket") {
      EXPECT_NE(transport->group_limitation({1, 2}), "");
      EXPECT_NE(transport->group_limitation({4, 1}), "");
    }
  }
}

}  // namespace
}  // namespace ipcmesh::bench
