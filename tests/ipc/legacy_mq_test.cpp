// The legacy message-queue pair of examples/classic/legacy-mq (examples/c/legacy_mq_sender.c and
// legacy_mq_receiver.c: plain POSIX, no ipcmesh) as real processes with real mq_open. Both
// hard-code /posix_mq_example, so every run happens in a private IPC namespace
// (unshare(CLONE_NEWIPC), what `unshare --ipc` does): the host's queue of that name, if any, is
// never touched, and the namespace's queues vanish with it. Needs root, like the rest of the IPC
// tier.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <mqueue.h>
#include <sched.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <sstream>
#include <string>
#include <vector>

namespace ipcmesh {
namespace {

const std::string kSender = IPCMESH_BIN_DIR "/ipcmesh-example-legacy-mq-sender";
const std::string kReceiver = IPCMESH_BIN_DIR "/ipcmesh-example-legacy-mq-receiver";
constexpr const char* kQueue = "/posix_mq_example";

// A scratch directory for the children's output, removed at the end of the test.
class ScratchDir {
 public:
  ScratchDir() {
    std::string pattern = (std::filesystem::temp_directory_path() / "legacy-mq-XXXXXX").string();
    if (::mkdtemp(pattern.data()) != nullptr) path_ = pattern;
  }
  ~ScratchDir() {
    std::error_code ignored;
    if (!path_.empty()) std::filesystem::remove_all(path_, ignored);
  }
  ScratchDir(const ScratchDir&) = delete;
  ScratchDir& operator=(const ScratchDir&) = delete;
  const std::string& path() const { return path_; }
  std::string file(const std::string& name) const { return path_ + "/" + name; }
  std::string read(const std::string& name) const {
    std::ifstream in(file(name));
    std::stringstream text;
    text << in.rdbuf();
    return text.str();
  }

 private:
  std::string path_;
};

// The steps below run in the forked namespace child, which must not call into GoogleTest: they
// record what happened in files of the scratch directory, and the test checks those afterwards.

// Starts argv with stdout and stderr in DIR/NAME.out and DIR/NAME.err; killed if the namespace
// child dies (a hung run ends with it instead of lingering in an orphaned namespace).
pid_t spawn(const ScratchDir& dir, const std::string& name, const std::vector<std::string>& argv) {
  const std::string out = dir.file(name + ".out");
  const std::string err = dir.file(name + ".err");
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  const pid_t parent = ::getpid();
  const pid_t pid = ::fork();
  if (pid == 0) {
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != parent) ::_exit(126);
    const int out_fd = ::open(out.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    const int err_fd = ::open(err.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (out_fd < 0 || err_fd < 0) ::_exit(126);
    ::dup2(out_fd, STDOUT_FILENO);
    ::dup2(err_fd, STDERR_FILENO);
    ::execv(args[0], args.data());
    ::_exit(127);
  }
  return pid;
}

// Waits for a spawned child and writes "NAME EXIT_CODE" to DIR/results (-1: killed by a signal).
void record_exit(const ScratchDir& dir, const std::string& name, pid_t pid) {
  int status = 0;
  int code = -1;
  if (pid > 0 && ::waitpid(pid, &status, 0) == pid && WIFEXITED(status)) {
    code = WEXITSTATUS(status);
  }
  std::ofstream(dir.file("results"), std::ios::app) << name << " " << code << "\n";
}

void record(const ScratchDir& dir, const std::string& key, const std::string& value) {
  std::ofstream(dir.file("results"), std::ios::app) << key << " " << value << "\n";
}

// What the namespace child recorded: key -> value ("sender" -> "0", "mq_open" -> "ok", ...).
std::map<std::string, std::string> results(const ScratchDir& dir) {
  std::map<std::string, std::string> map;
  std::istringstream lines(dir.read("results"));
  std::string key;
  std::string value;
  while (lines >> key >> value) map[key] = value;
  return map;
}

// Runs `steps` in a forked child that first enters a new IPC namespace; empty on success,
// otherwise why the child failed. A run that hangs is killed after 60 s (its processes with it).
std::string in_private_ipc_namespace(const std::function<void()>& steps) {
  const pid_t child = ::fork();
  if (child < 0) return std::string("fork: ") + std::strerror(errno);
  if (child == 0) {
    if (::unshare(CLONE_NEWIPC) != 0) ::_exit(3);
    ::alarm(60);
    steps();
    ::_exit(0);
  }
  int status = 0;
  if (::waitpid(child, &status, 0) != child) return std::string("waitpid: ") + std::strerror(errno);
  if (WIFSIGNALED(status)) {
    return "the namespace child died of signal " + std::to_string(WTERMSIG(status)) +
           (WTERMSIG(status) == SIGALRM ? " (SIGALRM: the run hung for 60 s)" : "");
  }
  if (WEXITSTATUS(status) == 3) {
    return "unshare(CLONE_NEWIPC) failed: the IPC tier needs root (CAP_SYS_ADMIN)";
  }
  return WEXITSTATUS(status) == 0 ? "" : "exit status " + std::to_string(WEXITSTATUS(status));
}

// Creates kQueue as another program would before the legacy pair starts (the ipcmesh relay in a
// Pod), with its own depth and message size; records "created ok" or the error.
void create_queue_first(const ScratchDir& dir, long max_messages, long message_size) {
  mq_attr attr{};
  attr.mq_maxmsg = max_messages;
  attr.mq_msgsize = message_size;
  const mqd_t queue = ::mq_open(kQueue, O_CREAT | O_EXCL | O_RDWR, 0660, &attr);
  record(dir, "created", queue == static_cast<mqd_t>(-1) ? std::to_string(errno) : "ok");
  if (queue != static_cast<mqd_t>(-1)) ::mq_close(queue);
}

// Records the queue's attributes as "maxmsg N", "msgsize N", "curmsgs N".
void record_attributes(const ScratchDir& dir) {
  const mqd_t queue = ::mq_open(kQueue, O_RDONLY);
  mq_attr attr{};
  if (queue == static_cast<mqd_t>(-1) || ::mq_getattr(queue, &attr) != 0) {
    record(dir, "maxmsg", "error");
    return;
  }
  record(dir, "maxmsg", std::to_string(attr.mq_maxmsg));
  record(dir, "msgsize", std::to_string(attr.mq_msgsize));
  record(dir, "curmsgs", std::to_string(attr.mq_curmsgs));
  ::mq_close(queue);
}

std::string received_lines(long count) {
  std::string lines;
  for (long i = 0; i < count; ++i) lines += "message " + std::to_string(i) + "\n";
  return lines + "received " + std::to_string(count) + "\n";
}

// Proves the pair works as the classic article's Pod runs it, started together in one IPC
// namespace: 500 messages through a 10-slot queue (so the sender really blocks on a full queue
// and the receiver on an empty one), every one received, in order, nothing left behind.
TEST(LegacyMq, SenderAndReceiverStartedTogetherDeliverEveryMessageInOrder) {
  ScratchDir dir;
  ASSERT_FALSE(dir.path().empty());
  const std::string failure = in_private_ipc_namespace([&] {
    const pid_t receiver = spawn(dir, "receiver", {kReceiver, "500"});
    const pid_t sender = spawn(dir, "sender", {kSender, "500"});
    record_exit(dir, "sender", sender);
    record_exit(dir, "receiver", receiver);
    record_attributes(dir);
  });
  ASSERT_EQ(failure, "");
  auto map = results(dir);
  EXPECT_EQ(map["sender"], "0") << dir.read("sender.err");
  EXPECT_EQ(map["receiver"], "0") << dir.read("receiver.err");
  EXPECT_EQ(dir.read("sender.out"), "sent 500\n");
  EXPECT_EQ(dir.read("receiver.out"), received_lines(500));
  // Whichever started first created the queue with the programs' own attributes.
  EXPECT_EQ(map["maxmsg"], "10");
  EXPECT_EQ(map["msgsize"], "256");
  EXPECT_EQ(map["curmsgs"], "0");
}

// Proves the other start order: a sender alone creates the queue and leaves its 10 messages
// there (10 = the queue's depth, so it never blocks); a receiver started after it gets them all.
TEST(LegacyMq, MessagesWaitInTheQueueForAReceiverThatStartsLater) {
  ScratchDir dir;
  ASSERT_FALSE(dir.path().empty());
  const std::string failure = in_private_ipc_namespace([&] {
    record_exit(dir, "sender", spawn(dir, "sender", {kSender, "10"}));
    record_attributes(dir);
    record_exit(dir, "receiver", spawn(dir, "receiver", {kReceiver, "10"}));
  });
  ASSERT_EQ(failure, "");
  auto map = results(dir);
  EXPECT_EQ(map["sender"], "0") << dir.read("sender.err");
  EXPECT_EQ(map["curmsgs"], "10") << "the sender's messages wait in the queue";
  EXPECT_EQ(map["receiver"], "0") << dir.read("receiver.err");
  EXPECT_EQ(dir.read("receiver.out"), received_lines(10));
}

// Proves the unmodified pair works on a queue someone else created first with other attributes,
// as the ipcmesh relay does in examples/classic/legacy-mq (its 8Ki messages, here a depth of 2):
// the sender's O_CREAT attributes are ignored without an error, the receiver sizes its buffer
// from mq_getattr (a 256-byte buffer would get EMSGSIZE on every mq_receive), and 200 messages
// pass in order through two slots. The queue keeps the creator's attributes.
TEST(LegacyMq, UnmodifiedPairUsesAQueueCreatedFirstWithOtherAttributes) {
  ScratchDir dir;
  ASSERT_FALSE(dir.path().empty());
  const std::string failure = in_private_ipc_namespace([&] {
    create_queue_first(dir, 2, 8192);
    const pid_t sender = spawn(dir, "sender", {kSender, "200"});
    const pid_t receiver = spawn(dir, "receiver", {kReceiver, "200"});
    record_exit(dir, "sender", sender);
    record_exit(dir, "receiver", receiver);
    record_attributes(dir);
  });
  ASSERT_EQ(failure, "");
  auto map = results(dir);
  ASSERT_EQ(map["created"], "ok") << "errno " << map["created"];
  EXPECT_EQ(map["sender"], "0") << dir.read("sender.err");
  EXPECT_EQ(map["receiver"], "0") << dir.read("receiver.err");
  EXPECT_EQ(dir.read("sender.out"), "sent 200\n");
  EXPECT_EQ(dir.read("receiver.out"), received_lines(200));
  EXPECT_EQ(map["maxmsg"], "2");
  EXPECT_EQ(map["msgsize"], "8192");
}

// Proves the sender fails clearly, not silently, when a queue created first takes smaller
// messages than it sends: exit 1 and one line naming mq_send, the errno text and the limit.
TEST(LegacyMq, SenderReportsAQueueWhoseMessagesAreTooSmall) {
  ScratchDir dir;
  ASSERT_FALSE(dir.path().empty());
  const std::string failure = in_private_ipc_namespace([&] {
    create_queue_first(dir, 4, 4);
    record_exit(dir, "sender", spawn(dir, "sender", {kSender, "3"}));
  });
  ASSERT_EQ(failure, "");
  auto map = results(dir);
  ASSERT_EQ(map["created"], "ok") << "errno " << map["created"];
  EXPECT_EQ(map["sender"], "1");
  EXPECT_EQ(dir.read("sender.out"), "");
  EXPECT_EQ(dir.read("sender.err"),
            "legacy-mq-sender: mq_send(\"/posix_mq_example\") of message 0 (9 bytes): " +
                std::string(std::strerror(EMSGSIZE)) +
                " (the queue takes at most 4 bytes a message)\n");
}

// Proves a bad COUNT is a usage error (exit 2) before any queue is opened.
TEST(LegacyMq, BadCountIsAUsageError) {
  ScratchDir dir;
  ASSERT_FALSE(dir.path().empty());
  const std::string failure = in_private_ipc_namespace([&] {
    record_exit(dir, "sender", spawn(dir, "sender", {kSender, "ten"}));
    record_exit(dir, "receiver", spawn(dir, "receiver", {kReceiver}));
    const mqd_t queue = ::mq_open(kQueue, O_RDONLY);
    record(dir, "queue", queue == static_cast<mqd_t>(-1) && errno == ENOENT ? "absent" : "exists");
  });
  ASSERT_EQ(failure, "");
  auto map = results(dir);
  EXPECT_EQ(map["sender"], "2");
  EXPECT_EQ(dir.read("sender.err"),
            "legacy-mq-sender: COUNT must be a whole number >= 0, not 'ten'\n");
  EXPECT_EQ(map["receiver"], "2");
  EXPECT_EQ(dir.read("receiver.err"), "usage: ipcmesh-example-legacy-mq-receiver COUNT\n");
  EXPECT_EQ(map["queue"], "absent");
}

}  // namespace
}  // namespace ipcmesh
