// The C API as an app uses it: the compiled C example (examples/c/pubsub.c, linked against
// libipcmesh.so) runs as real publisher and subscriber processes over both transports, and the
// API's own contract (sizes, roles, errors) is checked in process.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "ipcmesh/channel_spec.hpp"
#include "ipcmesh/ipcmesh.h"
#include "ipcmesh/message_queue.hpp"
#include "ipcmesh/shm_channel.hpp"
#include "subscriber_probe.hpp"

extern char** environ;

namespace ipcmesh {
namespace {

using namespace std::chrono_literals;

const std::string kExample = IPCMESH_BIN_DIR "/ipcmesh-example-pubsub";

// A child process running a program, with its stdout and stderr captured through pipes.
class Process {
 public:
  Process(const std::vector<std::string>& argv, const std::vector<std::string>& extra_env = {}) {
    int out[2];
    int err[2];
    if (pipe2(out, O_CLOEXEC) != 0 || pipe2(err, O_CLOEXEC) != 0) return;
    // Build argv and envp before fork: the child only calls async-signal-safe functions.
    std::vector<std::string> env;
    for (char** e = environ; *e != nullptr; ++e) env.emplace_back(*e);
    for (const auto& e : extra_env) env.push_back(e);
    std::vector<char*> args;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    std::vector<char*> envp;
    for (auto& e : env) envp.push_back(e.data());
    envp.push_back(nullptr);
    pid_ = fork();
    if (pid_ == 0) {
      dup2(out[1], STDOUT_FILENO);
      dup2(err[1], STDERR_FILENO);
      execve(args[0], args.data(), envp.data());
      _exit(127);
    }
    close(out[1]);
    close(err[1]);
    out_ = out[0];
    err_ = err[0];
  }
  Process(const Process&) = delete;
  Process& operator=(const Process&) = delete;
  ~Process() {
    if (pid_ > 0 && !reaped_) {
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
    }
    if (out_ >= 0) close(out_);
    if (err_ >= 0) close(err_);
  }

  // The next stdout line, or nullopt at EOF or after `timeout`.
  std::optional<std::string> read_line(std::chrono::milliseconds timeout = 30s) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (true) {
      if (auto newline = stdout_.find('\n', consumed_); newline != std::string::npos) {
        std::string line = stdout_.substr(consumed_, newline - consumed_);
        consumed_ = newline + 1;
        return line;
      }
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline - std::chrono::steady_clock::now());
      if (left <= 0ms || out_ < 0) return std::nullopt;
      pollfd fd{out_, POLLIN, 0};
      if (poll(&fd, 1, static_cast<int>(left.count())) <= 0) continue;
      if (!drain(out_, stdout_)) {
        close(out_);
        out_ = -1;
      }
    }
  }

  // Reads both pipes to EOF, then reaps the child; its exit code, or -1 after a kill/timeout.
  int wait(std::chrono::milliseconds timeout = 60s) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (out_ >= 0 || err_ >= 0) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline - std::chrono::steady_clock::now());
      if (left <= 0ms) {
        kill(pid_, SIGKILL);
        break;
      }
      pollfd fds[2] = {{out_, POLLIN, 0}, {err_, POLLIN, 0}};
      if (poll(fds, 2, static_cast<int>(left.count())) <= 0) continue;
      if (out_ >= 0 && fds[0].revents != 0 && !drain(out_, stdout_)) {
        close(out_);
        out_ = -1;
      }
      if (err_ >= 0 && fds[1].revents != 0 && !drain(err_, stderr_)) {
        close(err_);
        err_ = -1;
      }
    }
    int status = 0;
    waitpid(pid_, &status, 0);
    reaped_ = true;
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  }

  std::string remaining_stdout() const { return stdout_.substr(consumed_); }
  const std::string& stderr_text() const { return stderr_; }

 private:
  static bool drain(int fd, std::string& into) {
    char buffer[4096];
    const ssize_t n = read(fd, buffer, sizeof buffer);
    if (n <= 0) return false;
    into.append(buffer, static_cast<std::size_t>(n));
    return true;
  }

  pid_t pid_ = -1;
  bool reaped_ = false;
  int out_ = -1;
  int err_ = -1;
  std::string stdout_;
  std::string stderr_;
  std::size_t consumed_ = 0;
};

std::string expected_lines(int count) {
  std::string lines;
  for (int i = 0; i < count; ++i) lines += "received: message " + std::to_string(i) + "\n";
  return lines;
}

std::string unique(const char* what) {
  return "/ipcmesh-capi-" + std::to_string(getpid()) + "-" + what;
}

// Proves a C publisher and a C subscriber, separate processes linked against libipcmesh.so, pass
// 200 messages in order through a queue of 4 slots (so the publisher really blocks and resumes).
TEST(CApi, CExampleCarriesEveryMessageInOrderOverAMessageQueue) {
  const std::string name = unique("mq");
  auto queue = MessageQueue::create({name, 4, 256});
  ASSERT_TRUE(queue) << queue.error().message;
  Process subscriber({kExample, "subscribe", name, "mq", "200", "30000"});
  ASSERT_EQ(subscriber.read_line(), "ready") << subscriber.stderr_text();
  Process publisher({kExample, "publish", name, "mq", "200"});
  EXPECT_EQ(publisher.wait(), 0) << publisher.stderr_text();
  EXPECT_EQ(publisher.remaining_stdout(), "published 200\n");
  EXPECT_EQ(subscriber.wait(), 0) << subscriber.stderr_text();
  EXPECT_EQ(subscriber.remaining_stdout(), expected_lines(200));
}

// Proves the shared-memory transport broadcasts: two C subscribers each receive all 300 messages
// of one C publisher, in order, through a ring small enough to wrap many times.
TEST(CApi, CExampleBroadcastsEveryMessageToEverySubscriberOverSharedMemory) {
  const std::string name = unique("shm");
  ShmChannelOptions options;
  options.name = name;
  options.capacity_bytes = 4096;
  options.max_message_size = 256;
  auto channel = ShmChannel::create(options);
  ASSERT_TRUE(channel) << channel.error().message;
  Process first({kExample, "subscribe", name, "shm", "300", "30000"});
  Process second({kExample, "subscribe", name, "shm", "300", "30000"});
  ASSERT_EQ(first.read_line(), "ready") << first.stderr_text();
  ASSERT_EQ(second.read_line(), "ready") << second.stderr_text();
  Process publisher({kExample, "publish", name, "shm", "300"});
  EXPECT_EQ(publisher.wait(), 0) << publisher.stderr_text();
  EXPECT_EQ(first.wait(), 0) << first.stderr_text();
  EXPECT_EQ(second.wait(), 0) << second.stderr_text();
  EXPECT_EQ(first.remaining_stdout(), expected_lines(300));
  EXPECT_EQ(second.remaining_stdout(), expected_lines(300));
}

// Proves name lookup through the Pod document: given only the channel name and IPCMESH_CHANNELS
// (as the operator injects it), the C example finds the derived shm and mq names.
TEST(CApi, CExampleFindsTheChannelByNameInTheInjectedDocument) {
  ChannelSpec spec;
  spec.id = {"capi-" + std::to_string(getpid()), "pipeline"};
  spec.transport = Transport::kBoth;
  spec.shared_memory = SharedMemorySpec{64 << 10, 1024, SlowConsumerPolicy::kBlock, 8};
  spec.message_queue = MessageQueueSpec{std::nullopt, 8, 512};
  const std::string document = std::string(kEnvChannels) + "=" + serialize_channel_set({{spec}});

  ShmChannelOptions options;
  options.name = spec.shm_name();
  options.capacity_bytes = spec.shared_memory->size_bytes;
  options.max_message_size = spec.shared_memory->max_message_size;
  auto channel = ShmChannel::create(options);
  ASSERT_TRUE(channel) << channel.error().message;
  auto queue = MessageQueue::create({spec.mq_name(), 8, 512});
  ASSERT_TRUE(queue) << queue.error().message;

  for (const char* transport : {"shm", "mq"}) {
    Process subscriber({kExample, "subscribe", "pipeline", transport, "20", "30000"}, {document});
    ASSERT_EQ(subscriber.read_line(), "ready") << transport << ": " << subscriber.stderr_text();
    Process publisher({kExample, "publish", "pipeline", transport, "20"}, {document});
    EXPECT_EQ(publisher.wait(), 0) << transport << ": " << publisher.stderr_text();
    EXPECT_EQ(subscriber.wait(), 0) << transport << ": " << subscriber.stderr_text();
    EXPECT_EQ(subscriber.remaining_stdout(), expected_lines(20)) << transport;
  }
}

// Proves the C API's subscriber waits in the channel's sharedMemory.waitMode from IPCMESH_CHANNELS,
// that IPCMESH_WAIT_MODE overrides it both ways and also applies to a POSIX name, and that the C
// example receives every message in each mode. Observable from outside: a BusyPoll subscriber
// never sleeps on the futex; the others do while the channel is idle.
TEST(CApi, SubscriberWaitsInTheChannelsModeUnlessIpcmeshWaitModeSaysOtherwise) {
  struct Case {
    const char* what;
    std::optional<WaitMode> channel_mode;  // nullopt: open by POSIX name, no document
    const char* env;                       // IPCMESH_WAIT_MODE, nullptr: unset
    bool busy_polls;
  };
  const Case cases[] = {
      {"channel Adaptive", WaitMode::kAdaptive, nullptr, false},
      {"channel SpinThenSleep", WaitMode::kSpinThenSleep, nullptr, false},
      {"channel BusyPoll", WaitMode::kBusyPoll, nullptr, true},
      {"channel BusyPoll, env Adaptive", WaitMode::kBusyPoll, "Adaptive", false},
      {"channel Adaptive, env BusyPoll", WaitMode::kAdaptive, "BusyPoll", true},
      {"POSIX name", std::nullopt, nullptr, false},
      {"POSIX name, env BusyPoll", std::nullopt, "BusyPoll", true},
  };
  int index = 0;
  for (const Case& c : cases) {
    ChannelSpec spec;
    spec.id = {"capi-" + std::to_string(getpid()), "wait-" + std::to_string(index++)};
    spec.shared_memory = SharedMemorySpec{64 << 10, 1024, SlowConsumerPolicy::kBlock, 8,
                                          c.channel_mode.value_or(WaitMode::kAdaptive)};
    std::vector<std::string> env;
    if (c.channel_mode) {
      env.push_back(std::string(kEnvChannels) + "=" + serialize_channel_set({{spec}}));
    }
    if (c.env) env.push_back(std::string(kEnvWaitMode) + "=" + c.env);
    const std::string name = c.channel_mode ? spec.id.name : spec.shm_name();

    ShmChannelOptions options;
    options.name = spec.shm_name();
    options.capacity_bytes = spec.shared_memory->size_bytes;
    options.max_message_size = spec.shared_memory->max_message_size;
    auto channel = ShmChannel::create(options);
    ASSERT_TRUE(channel) << c.what << ": " << channel.error().message;
    Process subscriber({kExample, "subscribe", name, "shm", "20", "30000"}, env);
    ASSERT_EQ(subscriber.read_line(), "ready") << c.what << ": " << subscriber.stderr_text();
    if (c.busy_polls) {
      EXPECT_FALSE(subscriber_sleeps(*channel, 300ms)) << c.what << ": slept, so not BusyPoll";
    } else {
      EXPECT_TRUE(subscriber_sleeps(*channel, 10s)) << c.what << ": never slept";
    }
    Process publisher({kExample, "publish", name, "shm", "20"}, env);
    EXPECT_EQ(publisher.wait(), 0) << c.what << ": " << publisher.stderr_text();
    EXPECT_EQ(subscriber.wait(), 0) << c.what << ": " << subscriber.stderr_text();
    EXPECT_EQ(subscriber.remaining_stdout(), expected_lines(20)) << c.what;
  }
}

// Proves a bad IPCMESH_WAIT_MODE makes a shared-memory subscriber's ipcmesh_open fail at once
// (before it waits for the ring) with IPCMESH_ERR_INVALID_ARGUMENT and a message naming the
// variable and the choices, and that it does not concern publishers.
TEST(CApi, ABadIpcmeshWaitModeIsAnErrorNotASilentDefault) {
  const std::string bad = std::string(kEnvWaitMode) + "=Fast";
  Process subscriber({kExample, "subscribe", unique("never-created"), "shm", "1", "30000"}, {bad});
  EXPECT_EQ(subscriber.wait(10s), IPCMESH_ERR_INVALID_ARGUMENT) << subscriber.stderr_text();
  EXPECT_NE(subscriber.stderr_text().find(
                "IPCMESH_WAIT_MODE: unknown wait mode \"Fast\" (one of Adaptive, SpinThenSleep, "
                "BusyPoll)"),
            std::string::npos)
      << subscriber.stderr_text();

  ShmChannelOptions options;
  options.name = unique("bad-mode");
  options.capacity_bytes = 4096;
  options.max_message_size = 256;
  auto channel = ShmChannel::create(options);
  ASSERT_TRUE(channel) << channel.error().message;
  Process publisher({kExample, "publish", options.name, "shm", "1"}, {bad});
  EXPECT_EQ(publisher.wait(), 0) << publisher.stderr_text();
}

// Proves a channel that does not exist is reported by the exit status IPCMESH_ERR_NOT_FOUND and a
// message that says so, for both transports and for an unknown channel name.
TEST(CApi, CExampleReportsAMissingChannelAsNotFound) {
  for (const char* transport : {"shm", "mq"}) {
    Process missing({kExample, "subscribe", unique("absent"), transport, "1", "50"});
    EXPECT_EQ(missing.wait(), IPCMESH_ERR_NOT_FOUND) << transport;
    EXPECT_NE(missing.stderr_text().find("does not exist"), std::string::npos)
        << missing.stderr_text();
  }
  Process unknown({kExample, "subscribe", "nosuchchannel", "mq", "1", "0"},
                  {std::string(kEnvChannels) + R"(={"version":1,"channels":[]})"});
  EXPECT_EQ(unknown.wait(), IPCMESH_ERR_NOT_FOUND);
  EXPECT_NE(unknown.stderr_text().find("\"nosuchchannel\" is not in IPCMESH_CHANNELS"),
            std::string::npos)
      << unknown.stderr_text();
}

// Proves receive's size contract on both transports: a too-small buffer gets
// IPCMESH_ERR_MESSAGE_TOO_LARGE with the size needed and consumes nothing; a big enough buffer
// then gets that same message.
TEST(CApi, ReceiveIntoASmallBufferConsumesNothingAndSaysTheSizeNeeded) {
  const std::string shm_name = unique("small-shm");
  ShmChannelOptions options;
  options.name = shm_name;
  options.capacity_bytes = 8192;
  options.max_message_size = 1024;
  auto shm = ShmChannel::create(options);
  ASSERT_TRUE(shm) << shm.error().message;
  auto queue = MessageQueue::create({unique("small-mq"), 4, 1024});
  ASSERT_TRUE(queue) << queue.error().message;

  const struct {
    std::string name;
    ipcmesh_transport transport;
  } cases[] = {{shm_name, IPCMESH_SHARED_MEMORY}, {queue->name(), IPCMESH_MESSAGE_QUEUE}};
  for (const auto& c : cases) {
    ipcmesh_channel* sub = nullptr;
    ipcmesh_channel* pub = nullptr;
    ASSERT_EQ(ipcmesh_open(c.name.c_str(), c.transport, IPCMESH_SUBSCRIBER, 1000, &sub), 0)
        << ipcmesh_last_error();
    ASSERT_EQ(ipcmesh_open(c.name.c_str(), c.transport, IPCMESH_PUBLISHER, 1000, &pub), 0)
        << ipcmesh_last_error();
    const std::string first(600, 'a');
    ASSERT_EQ(ipcmesh_publish(pub, first.data(), first.size(), 1000), 0) << ipcmesh_last_error();
    ASSERT_EQ(ipcmesh_publish(pub, "second", 6, 1000), 0) << ipcmesh_last_error();

    char small[100];
    std::size_t size = 0;
    EXPECT_EQ(ipcmesh_receive(sub, small, sizeof small, &size, 1000),
              IPCMESH_ERR_MESSAGE_TOO_LARGE);
    EXPECT_EQ(size, 600u);
    EXPECT_NE(std::string(ipcmesh_last_error()).find("600"), std::string::npos);
    EXPECT_EQ(ipcmesh_receive(sub, small, sizeof small, &size, 1000),
              IPCMESH_ERR_MESSAGE_TOO_LARGE);  // still there
    char big[1024];
    ASSERT_EQ(ipcmesh_receive(sub, big, sizeof big, &size, 1000), 0) << ipcmesh_last_error();
    EXPECT_EQ(std::string(big, size), first);
    ASSERT_EQ(ipcmesh_receive(sub, small, sizeof small, &size, 1000), 0) << ipcmesh_last_error();
    EXPECT_EQ(std::string(small, size), "second");
    EXPECT_EQ(ipcmesh_receive(sub, small, sizeof small, &size, 0), IPCMESH_ERR_WOULD_BLOCK);
    EXPECT_EQ(ipcmesh_receive(sub, small, sizeof small, &size, 20), IPCMESH_ERR_TIMEOUT);
    EXPECT_EQ(ipcmesh_missed(sub), 0u);
    ipcmesh_close(sub);
    ipcmesh_close(pub);
  }
}

// Proves misuse is an error code with a message, never a crash: wrong role, NULL arguments,
// bad timeouts, oversized messages; and that the last error belongs to the calling thread.
TEST(CApi, MisuseIsAnErrorWithAMessageAndTheLastErrorIsPerThread) {
  auto queue = MessageQueue::create({unique("misuse"), 2, 64});
  ASSERT_TRUE(queue) << queue.error().message;
  ipcmesh_channel* pub = nullptr;
  ASSERT_EQ(ipcmesh_open(queue->name().c_str(), IPCMESH_MESSAGE_QUEUE, IPCMESH_PUBLISHER, 0, &pub),
            0);
  char buffer[64];
  std::size_t size = 0;
  EXPECT_EQ(ipcmesh_receive(pub, buffer, sizeof buffer, &size, 0), IPCMESH_ERR_INVALID_ARGUMENT);
  EXPECT_NE(std::string(ipcmesh_last_error()).find("publisher"), std::string::npos);
  const std::string too_big(65, 'x');
  EXPECT_EQ(ipcmesh_publish(pub, too_big.data(), too_big.size(), 0), IPCMESH_ERR_MESSAGE_TOO_LARGE);
  EXPECT_EQ(ipcmesh_publish(pub, nullptr, 3, 0), IPCMESH_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(ipcmesh_publish(pub, "x", 1, -7), IPCMESH_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(ipcmesh_publish(nullptr, "x", 1, 0), IPCMESH_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(ipcmesh_publish(pub, "x", 1, 0), 0);
  EXPECT_EQ(ipcmesh_publish(pub, "x", 1, 0), 0);
  EXPECT_EQ(ipcmesh_publish(pub, "x", 1, 0), IPCMESH_ERR_WOULD_BLOCK);  // two slots, full
  ipcmesh_close(pub);

  ipcmesh_channel* none = nullptr;
  EXPECT_EQ(ipcmesh_open(nullptr, IPCMESH_MESSAGE_QUEUE, IPCMESH_PUBLISHER, 0, &none),
            IPCMESH_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(ipcmesh_open("/x", static_cast<ipcmesh_transport>(7), IPCMESH_PUBLISHER, 0, &none),
            IPCMESH_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(ipcmesh_open("/bad/name", IPCMESH_MESSAGE_QUEUE, IPCMESH_PUBLISHER, 0, &none),
            IPCMESH_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(none, nullptr);
  const std::string mine = ipcmesh_last_error();
  std::string theirs;
  std::thread([&] { theirs = ipcmesh_last_error(); }).join();
  EXPECT_FALSE(mine.empty());
  EXPECT_TRUE(theirs.empty());
  EXPECT_STREQ(ipcmesh_version(), IPCMESH_VERSION);
}

}  // namespace
}  // namespace ipcmesh
