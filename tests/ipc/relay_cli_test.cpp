// What a person or a script sees at the edges: a bad channel spec is refused with a message that
// names the field, the spec may come from the environment, and both binaries keep their exit-code
// promise (0 ok, 1 failure, 2 usage) with one clear line on stderr.
#include "ipcmesh/channel_spec.hpp"
#include "ipcmesh/shm_channel.hpp"
#include "relay_test_support.hpp"
#include "subscriber_probe.hpp"

namespace ipcmesh::relay_testing {
namespace {

class RelayCli : public RelayTest {};

struct BadSpecCase {
  std::string label;
  std::string document;
  std::string expected_in_message;
};

// Each bad document makes the relay exit 2 before creating anything, and its log line names the
// field at fault and the reason.
TEST_F(RelayCli, BadSpecIsRejectedWithAMessageNamingTheField) {
  const std::vector<BadSpecCase> cases = {
      {"not json", "{", "--spec"},
      {"no channels", R"({"version":1,"channels":[]})", "channels"},
      {"message larger than ring",
       R"({"version":1,"channels":[{"namespace":"a","name":"b","transport":"SharedMemory",
          "sharedMemory":{"size":"4Ki","maxMessageSize":"1Mi"}}]})",
       "channels[0].sharedMemory.maxMessageSize"},
      {"unknown slow consumer policy",
       R"({"version":1,"channels":[{"namespace":"a","name":"b","transport":"SharedMemory",
          "sharedMemory":{"size":"1Mi","slowConsumer":"Sometimes"}}]})",
       "channels[0].sharedMemory.slowConsumer"},
      {"bridge without both transports",
       R"({"version":1,"channels":[{"namespace":"a","name":"b","transport":"SharedMemory",
          "sharedMemory":{"size":"1Mi","maxMessageSize":"8Ki"},"relay":{"bridge":{"mqToShm":true}}}]})",
       "channels[0].relay.bridge"},
      {"bridged queue message does not fit the ring",
       R"({"version":1,"channels":[{"namespace":"a","name":"b","transport":"Both",
          "sharedMemory":{"size":"1Mi","maxMessageSize":"1Ki"},
          "messageQueue":{"maxMessages":10,"maxMessageSize":"8Ki"},
          "relay":{"bridge":{"mqToShm":true}}}]})",
       "channels[0].messageQueue.maxMessageSize"},
      {"queue name that is not a POSIX name",
       R"({"version":1,"channels":[{"namespace":"a","name":"b","transport":"MessageQueue",
          "messageQueue":{"name":"no/slash/allowed","maxMessages":10}}]})",
       "channels[0].messageQueue.name"},
  };
  for (const BadSpecCase& bad : cases) {
    const std::string path = work_dir_ + "/bad.json";
    write_file(path, bad.document);
    auto relay = start_relay(path);
    EXPECT_EQ(relay->wait(), 2) << bad.label << ": " << relay->err();
    EXPECT_NE(relay->err().find(bad.expected_in_message), std::string::npos)
        << bad.label << ": " << relay->err();
    EXPECT_NE(relay->err().find("\"level\":\"error\""), std::string::npos) << relay->err();
    EXPECT_EQ(shm_objects(), std::vector<std::string>{}) << bad.label;
    EXPECT_EQ(queues(), std::vector<std::string>{}) << bad.label;
  }
}

// Without --spec the relay reads the contract's IPCMESH_CHANNELS variable, as in an injected Pod.
TEST_F(RelayCli, ChannelsComeFromTheEnvironmentWithoutSpecFlag) {
  const std::string document =
      R"({"version":1,"channels":[)" + ChannelJson{.name = "fromenv"}.render(namespace_) + "]}";
  Process relay({kRelay, "--control-dir", control_dir(), "--metrics-port", "0"}, work_dir_,
                {"IPCMESH_CHANNELS=" + document});
  ASSERT_NE(wait_ready(relay), 0);
  EXPECT_TRUE(file_exists("/dev/shm" + shm_object_name({namespace_, "fromenv"})));
  relay.signal(SIGTERM);
  EXPECT_EQ(relay.wait(), 0) << relay.err();
}

// --help and --version exit 0 on stdout; an unknown flag exits 2 with one line on stderr.
TEST_F(RelayCli, RelayFlagsKeepTheirExitCodes) {
  auto help = run({kRelay, "--help"});
  EXPECT_EQ(help->wait(), 0);
  EXPECT_NE(help->out().find("--grace-period"), std::string::npos);
  auto version = run({kRelay, "--version"});
  EXPECT_EQ(version->wait(), 0);
  EXPECT_EQ(version->out(), std::string("ipcmesh-relay ") + IPCMESH_VERSION + "\n");
  auto bad = run({kRelay, "--no-such-flag"});
  EXPECT_EQ(bad->wait(), 2);
  EXPECT_EQ(bad->err(),
            "ipcmesh-relay: The following argument was not expected: --no-such-flag (see "
            "ipcmesh-relay --help)\n");
  auto bad_grace = run({kRelay, "--grace-period", "soon"});
  EXPECT_EQ(bad_grace->wait(), 2);
  EXPECT_NE(bad_grace->err().find("--grace-period"), std::string::npos);
}

// ipcmeshctl: usage mistakes exit 2, runtime failures exit 1, each with one stderr line.
TEST_F(RelayCli, IpcmeshctlExitCodesAreMeaningful) {
  struct Case {
    std::vector<std::string> argv;
    int code;
    std::string in_stderr;
  };
  const std::vector<Case> cases = {
      {{kCtl}, 2, "A subcommand is required"},
      {{kCtl, "frobnicate"}, 2, "not expected: frobnicate"},
      {{kCtl, "pub", "--chanel", "x"}, 2, "not expected: --chanel"},
      {{kCtl, "pub"}, 2, "--channel is required"},
      {{kCtl, "sub", "--channel", "x", "--transport", "carrier-pigeon"}, 2, "--transport"},
      {{kCtl, "sub", "--channel", "x", "--count", "many"}, 2, "--count"},
      {{kCtl, "sub", "--channel", "x", "--wait-mode", "nonsense"},
       2,
       "--wait-mode: unknown wait mode \"nonsense\" (one of Adaptive, SpinThenSleep, BusyPoll)"},
      {{kCtl, "sub", "--channel", "x", "--transport", "mq", "--wait-mode", "BusyPoll"},
       2,
       "--wait-mode: only for --transport shm"},
      {{kCtl, "stat", "--channel", "Not_A_Name!"}, 2, "--channel"},
      {{kCtl, "stat", "--channel", "absent", "--namespace", namespace_}, 1, "absent"},
      {{kCtl, "pub", "--channel", "/absent_queue", "--transport", "mq", "--timeout", "100ms",
        "--size", "4"},
       1,
       "absent_queue"},
  };
  for (const Case& c : cases) {
    auto process = run(c.argv);
    EXPECT_EQ(process->wait(), c.code) << c.argv.back() << ": " << process->err();
    const std::string err = process->err();
    EXPECT_NE(err.find(c.in_stderr), std::string::npos) << err;
    EXPECT_EQ(std::count(err.begin(), err.end(), '\n'), 1) << err;
  }
  // --client: the client's line alone, whatever cluster the machine's kubeconfig names.
  auto version = run({kCtl, "version", "--client"});
  EXPECT_EQ(version->wait(), 0);
  EXPECT_EQ(version->out(), std::string("ipcmeshctl ") + IPCMESH_VERSION + "\n");
  auto bad_mode = run({kCtl, "sub", "--channel", "x"}, "", {"IPCMESH_WAIT_MODE=Fast"});
  EXPECT_EQ(bad_mode->wait(), 2) << bad_mode->err();
  EXPECT_EQ(bad_mode->err(),
            "ipcmeshctl sub: IPCMESH_WAIT_MODE: unknown wait mode \"Fast\" (one of Adaptive, "
            "SpinThenSleep, BusyPoll) (see ipcmeshctl sub --help)\n");
}

// ipcmeshctl sub waits in --wait-mode, else IPCMESH_WAIT_MODE, else the channel's
// sharedMemory.waitMode when it finds the channel in IPCMESH_CHANNELS, else Adaptive, and
// receives every message in each. Observable from outside: a BusyPoll subscriber never sleeps on
// the futex; the others do while the ring is idle.
TEST_F(RelayCli, SubWaitsInTheChosenModeAndReceivesEveryMessage) {
  const std::string spec = write_spec({ChannelJson{.name = "busy", .wait_mode = "BusyPoll"}});
  auto relay = start_relay(spec);
  ASSERT_NE(wait_ready(*relay), 0);
  auto channel = ShmChannel::open(shm_object_name({namespace_, "busy"}));
  ASSERT_TRUE(channel) << channel.error().message;
  const std::string document = "IPCMESH_CHANNELS=" + read_file(spec);
  struct Case {
    const char* what;
    std::vector<std::string> flags;
    std::vector<std::string> env;
    bool busy_polls;
  };
  const Case cases[] = {
      {"--wait-mode BusyPoll", {"--wait-mode", "BusyPoll"}, {}, true},
      {"the channel's BusyPoll", {}, {document}, true},
      {"--wait-mode over the channel's", {"--wait-mode", "SpinThenSleep"}, {document}, false},
      {"IPCMESH_WAIT_MODE over the channel's", {}, {document, "IPCMESH_WAIT_MODE=Adaptive"}, false},
      {"--wait-mode over IPCMESH_WAIT_MODE",
       {"--wait-mode", "BusyPoll"},
       {"IPCMESH_WAIT_MODE=Adaptive"},
       true},
      {"derived name, no document: Adaptive", {}, {}, false},
  };
  for (const Case& c : cases) {
    std::vector<std::string> argv = {kCtl,          "sub",      "--channel", "busy",
                                     "--namespace", namespace_, "--count",   "10",
                                     "--timeout",   "60s",      "--quiet"};
    argv.insert(argv.end(), c.flags.begin(), c.flags.end());
    auto sub = run(argv, "", c.env);
    ASSERT_TRUE(eventually([&] { return channel->stats().subscribers.size() == 1; }))
        << c.what << ": " << sub->err();
    if (c.busy_polls) {
      EXPECT_FALSE(subscriber_sleeps(*channel, 300ms)) << c.what << ": slept, so not BusyPoll";
    } else {
      EXPECT_TRUE(subscriber_sleeps(*channel, 10s)) << c.what << ": never slept";
    }
    auto pub = run({kCtl, "pub", "--channel", "busy", "--namespace", namespace_, "--size", "10",
                    "--count", "10"});
    ASSERT_EQ(pub->wait(), 0) << c.what << ": " << pub->err();
    ASSERT_EQ(sub->wait(), 0) << c.what << ": " << sub->err();
    EXPECT_EQ(sub->out(), "10\n") << c.what;
  }
  relay->signal(SIGTERM);
  EXPECT_EQ(relay->wait(), 0) << relay->err();
}

// A subscriber that was promised N messages and gets fewer before its timeout exits 1 and says so;
// stat reports the channel's header, also as JSON.
TEST_F(RelayCli, SubTimesOutWithExitOneAndStatReadsTheHeader) {
  const std::string spec = write_spec({ChannelJson{.name = "quiet"}});
  auto relay = start_relay(spec);
  ASSERT_NE(wait_ready(*relay), 0);
  auto sub = run({kCtl, "sub", "--channel", "quiet", "--namespace", namespace_, "--count", "2",
                  "--timeout", "300ms", "--quiet"});
  EXPECT_EQ(sub->wait(), 1);
  EXPECT_NE(sub->err().find("0 of 2"), std::string::npos) << sub->err();
  EXPECT_EQ(sub->out(), "0\n");

  auto pub = run({kCtl, "pub", "--channel", "quiet", "--namespace", namespace_, "--size", "10",
                  "--count", "4"});
  ASSERT_EQ(pub->wait(), 0) << pub->err();
  auto stat = run({kCtl, "stat", "--channel", "quiet", "--namespace", namespace_, "-o", "json"});
  ASSERT_EQ(stat->wait(), 0) << stat->err();
  EXPECT_NE(stat->out().find("\"publishedMessages\":4"), std::string::npos) << stat->out();
  EXPECT_NE(stat->out().find("\"capacityBytes\":1048576"), std::string::npos) << stat->out();
  auto text = run({kCtl, "stat", "--channel", "quiet", "--namespace", namespace_});
  ASSERT_EQ(text->wait(), 0) << text->err();
  EXPECT_NE(text->out().find("published       4 messages, 40 bytes"), std::string::npos)
      << text->out();
  relay->signal(SIGTERM);
  EXPECT_EQ(relay->wait(), 0) << relay->err();
}

}  // namespace
}  // namespace ipcmesh::relay_testing
