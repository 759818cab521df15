// IPC namespaces are the isolation boundary of POSIX message queues: Kubernetes gives each Pod
// one, shared by its containers (which join the Pod's namespace, as setns(2) does below). These
// tests use real processes and real namespaces (we are root) to prove the boundary holds both
// ways, and what it does not cover (/dev/shm).
#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <functional>
#include <string>

#include "ipcmesh/message_queue.hpp"
#include "ipcmesh/shm_channel.hpp"

namespace ipcmesh {
namespace {

// A forked child that runs `body` and sends back its result through a pipe; the parent can talk
// to it in steps through a second pipe (write one byte = "go on").
class Child {
 public:
  explicit Child(const std::function<std::string(Child&)>& body) {
    int up[2];
    int down[2];
    if (pipe2(up, O_CLOEXEC) != 0 || pipe2(down, O_CLOEXEC) != 0) return;
    pid_ = fork();
    if (pid_ == 0) {
      close(up[0]);
      close(down[1]);
      up_ = up[1];
      down_ = down[0];
      report(body(*this));
      _exit(0);
    }
    close(up[1]);
    close(down[0]);
    up_ = up[0];
    down_ = down[1];
  }
  Child(const Child&) = delete;
  Child& operator=(const Child&) = delete;
  ~Child() {
    if (pid_ > 0) {
      close(down_);  // lets a child blocked in wait_for_go() finish
      int status = 0;
      waitpid(pid_, &status, 0);
    }
    close(up_);
  }

  // In the child: send a line to the parent.
  void report(const std::string& line) {
    const std::string framed = line + "\n";
    (void)!write(up_, framed.data(), framed.size());
  }
  // In the child: block until the parent says go (or goes away).
  void wait_for_go() {
    char byte;
    (void)!read(down_, &byte, 1);
  }
  // In the parent: the child's next line ("" on EOF or after 30 s).
  std::string next_line() {
    std::string line;
    char c;
    pollfd fd{up_, POLLIN, 0};
    while (poll(&fd, 1, 30000) > 0 && read(up_, &c, 1) == 1 && c != '\n') line += c;
    return line;
  }
  void go() { (void)!write(down_, "g", 1); }
  pid_t pid() const { return pid_; }

 private:
  pid_t pid_ = -1;
  int up_ = -1;
  int down_ = -1;
};

std::string queue_name(const char* what) {
  return "/ipcmesh-ns-" + std::to_string(getpid()) + "-" + what;
}

std::span<const std::byte> bytes(std::string_view text) {
  return std::as_bytes(std::span<const char>(text.data(), text.size()));
}

// What `open` of `name` says in the calling process's IPC namespace: "found" or the error code.
std::string probe(const std::string& name) {
  auto queue = MessageQueue::open(name);
  return queue ? "found" : std::string(to_string(queue.error().code));
}

// Creates a queue in a fresh IPC namespace and keeps it until told to go.
std::string create_in_fresh_namespace(Child& self, const std::string& name) {
  if (unshare(CLONE_NEWIPC) != 0) return std::string("unshare: ") + strerror(errno);
  auto queue = MessageQueue::create({name, 4, 64});
  if (!queue) return "create: " + queue.error().message;
  if (!queue->send(bytes("from the other side"))) return "send failed";
  self.report("created:" + probe(name));
  self.wait_for_go();
  return "done";
}

// Proves isolation: a queue created in one IPC namespace cannot be opened (ENOENT -> kNotFound)
// from the original namespace nor from a second fresh namespace, though the same name resolves
// inside its own namespace.
TEST(IpcNamespace, QueuesOfSeparateNamespacesAreInvisibleToEachOther) {
  const std::string name = queue_name("isolated");
  Child owner([&](Child& self) { return create_in_fresh_namespace(self, name); });
  ASSERT_EQ(owner.next_line(), "created:found");

  EXPECT_EQ(probe(name), "not found") << "the parent's namespace must not see the queue";
  Child stranger([&](Child&) {
    if (unshare(CLONE_NEWIPC) != 0) return std::string("unshare failed");
    return probe(name);
  });
  EXPECT_EQ(stranger.next_line(), "not found") << "another fresh namespace must not see it";

  // The other direction: a queue of the original namespace is invisible inside the fresh one.
  auto here = MessageQueue::create({queue_name("original"), 2, 64});
  ASSERT_TRUE(here) << here.error().message;
  Child outsider([&](Child&) {
    if (unshare(CLONE_NEWIPC) != 0) return std::string("unshare failed");
    return probe(here->name());
  });
  EXPECT_EQ(outsider.next_line(), "not found");
  owner.go();
  EXPECT_EQ(owner.next_line(), "done");
}

// Proves sharing: a process that joins another's IPC namespace with setns(2) (as a container
// joins its Pod's) and a child forked inside it both open the same queue and receive messages
// sent in that namespace.
TEST(IpcNamespace, ProcessesInOneNamespaceShareQueuesAndMessagesPass) {
  const std::string name = queue_name("shared");
  Child owner([&](Child& self) {
    if (unshare(CLONE_NEWIPC) != 0) return std::string("unshare failed");
    auto queue = MessageQueue::create({name, 4, 64});
    if (!queue) return "create: " + queue.error().message;
    if (!queue->send(bytes("to the forked child")) || !queue->send(bytes("to the joiner"))) {
      return std::string("send failed");
    }
    // A child forked after unshare stays in the new namespace.
    Child forked([&](Child&) {
      auto reader = MessageQueue::open(name);
      if (!reader) return "open: " + reader.error().message;
      std::array<std::byte, 64> buffer{};
      auto received = reader->receive(buffer, std::chrono::seconds(10));
      if (!received) return "receive: " + received.error().message;
      return std::string(reinterpret_cast<const char*>(buffer.data()), received->size);
    });
    self.report("forked child got: " + forked.next_line());
    self.wait_for_go();
    return std::string("done");
  });
  EXPECT_EQ(owner.next_line(), "forked child got: to the forked child");

  const std::string ns_path = "/proc/" + std::to_string(owner.pid()) + "/ns/ipc";
  Child joiner([&](Child&) {
    const int fd = open(ns_path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0 || setns(fd, CLONE_NEWIPC) != 0) return std::string("setns: ") + strerror(errno);
    close(fd);
    auto reader = MessageQueue::open(name);
    if (!reader) return "open: " + reader.error().message;
    std::array<std::byte, 64> buffer{};
    auto received = reader->receive(buffer, std::chrono::seconds(10));
    if (!received) return "receive: " + received.error().message;
    return std::string(reinterpret_cast<const char*>(buffer.data()), received->size);
  });
  EXPECT_EQ(joiner.next_line(), "to the joiner");
  owner.go();
  EXPECT_EQ(owner.next_line(), "done");
}

// Proves the same with the unshare(1) command and the C example, as an operator would check by
// hand: under `unshare --ipc` the example cannot find a queue of this namespace (exit status
// IPCMESH_ERR_NOT_FOUND = 2), while without it the example receives the queued message.
TEST(IpcNamespace, UnshareCommandHidesTheQueueFromTheCExample) {
  const std::string example = IPCMESH_BIN_DIR "/ipcmesh-example-pubsub";
  auto queue = MessageQueue::create({queue_name("cmd"), 2, 64});
  ASSERT_TRUE(queue) << queue.error().message;
  ASSERT_TRUE(queue->send(bytes("message 0")));
  const auto run = [](const std::string& command) {
    const int status = std::system((command + " >/dev/null 2>&1").c_str());
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  };
  EXPECT_EQ(run("unshare --ipc " + example + " subscribe " + queue->name() + " mq 1 0"), 2);
  EXPECT_EQ(queue->current_messages(), 1) << "the isolated process took nothing";
  EXPECT_EQ(run(example + " subscribe " + queue->name() + " mq 1 5000"), 0);
  EXPECT_EQ(queue->current_messages(), 0);
}

// Proves what an IPC namespace does NOT isolate: POSIX shared memory lives in the /dev/shm
// mount, not in the IPC namespace, so a shm channel is still visible after unshare --ipc. A Pod's
// shm isolation therefore comes from its own /dev/shm mount (the runtime's or ipcmesh's emptyDir).
TEST(IpcNamespace, SharedMemoryIsNotIsolatedByTheIpcNamespaceAlone) {
  ShmChannelOptions options;
  options.name = queue_name("shm");
  options.capacity_bytes = 4096;
  options.max_message_size = 64;
  auto channel = ShmChannel::create(options);
  ASSERT_TRUE(channel) << channel.error().message;
  Child isolated([&](Child&) {
    if (unshare(CLONE_NEWIPC) != 0) return std::string("unshare failed");
    if (probe(options.name) != "not found") return std::string("mq namespace leaked");
    auto opened = ShmChannel::open(options.name);
    return opened ? std::string("shm visible") : opened.error().message;
  });
  EXPECT_EQ(isolated.next_line(), "shm visible");
}

}  // namespace
}  // namespace ipcmesh
