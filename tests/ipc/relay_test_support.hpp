// What the relay tests share: a private IPC + mount namespace per test (a fresh mqueue namespace
// and a private tmpfs on /dev/shm, so the test can list exactly what the relay left behind), real
// child processes with their output in files, a tiny HTTP GET, and spec files.
//
// Isolation choice: the test process itself calls unshare(CLONE_NEWNS | CLONE_NEWIPC) in SetUp
// (ctest runs each test in its own single-threaded process), makes / private and mounts a tmpfs
// on /dev/shm and an mqueue fs on a temp dir. Every child (relay, ipcmeshctl, the C example)
// inherits both namespaces. Names still carry getpid() so a run outside ctest cannot collide.
#pragma once

#include <arpa/inet.h>
#include <dirent.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sched.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <functional>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

extern char** environ;

namespace ipcmesh::relay_testing {

using namespace std::chrono_literals;

inline const std::string kRelay = IPCMESH_BIN_DIR "/ipcmesh-relay";
inline const std::string kCtl = IPCMESH_BIN_DIR "/ipcmeshctl";
inline const std::string kExample = IPCMESH_BIN_DIR "/ipcmesh-example-pubsub";

inline std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

inline void write_file(const std::string& path, const std::string& text) {
  std::ofstream(path, std::ios::binary) << text;
}

inline bool file_exists(const std::string& path) {
  return ::access(path.c_str(), F_OK) == 0;
}

// Names in a directory (without . and ..).
inline std::vector<std::string> list_dir(const std::string& path) {
  std::vector<std::string> names;
  if (DIR* dir = ::opendir(path.c_str())) {
    while (const dirent* entry = ::readdir(dir)) {
      const std::string name = entry->d_name;
      if (name != "." && name != "..") names.push_back(name);
    }
    ::closedir(dir);
  }
  return names;
}

// Polls a condition on a loaded machine: generous deadline, no timing assertion.
inline bool eventually(const std::function<bool()>& condition,
                       std::chrono::milliseconds timeout = 30s) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (condition()) return true;
    std::this_thread::sleep_for(20ms);
  }
  return condition();
}

// A child process; stdin from a file (or /dev/null), stdout and stderr into files.
class Process {
 public:
  Process(const std::vector<std::string>& argv, const std::string& work_dir,
          const std::vector<std::string>& extra_env = {}, const std::string& stdin_path = "") {
    static int counter = 0;
    const std::string base = work_dir + "/proc" + std::to_string(++counter);
    out_path_ = base + ".out";
    err_path_ = base + ".err";
    std::vector<std::string> env;
    for (char** e = environ; *e != nullptr; ++e) env.emplace_back(*e);
    for (const auto& e : extra_env) env.push_back(e);
    std::vector<char*> args;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    std::vector<char*> envp;
    for (auto& e : env) envp.push_back(e.data());
    envp.push_back(nullptr);
    const std::string in_path = stdin_path.empty() ? "/dev/null" : stdin_path;
    pid_ = ::fork();
    if (pid_ == 0) {
      const int in = ::open(in_path.c_str(), O_RDONLY);
      const int out = ::open(out_path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
      const int err = ::open(err_path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
      ::dup2(in, STDIN_FILENO);
      ::dup2(out, STDOUT_FILENO);
      ::dup2(err, STDERR_FILENO);
      ::execve(args[0], args.data(), envp.data());
      ::_exit(127);
    }
  }
  Process(const Process&) = delete;
  Process& operator=(const Process&) = delete;
  ~Process() {
    if (pid_ > 0 && !status_) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
  }

  pid_t pid() const { return pid_; }
  void signal(int number) const { ::kill(pid_, number); }
  bool running() {
    if (status_) return false;
    int status = 0;
    if (::waitpid(pid_, &status, WNOHANG) == pid_) {
      status_ = status;
      return false;
    }
    return true;
  }
  // The exit code (128+signal when killed), or nullopt if still running after timeout.
  std::optional<int> wait(std::chrono::milliseconds timeout = 60s) {
    if (!eventually([&] { return !running(); }, timeout)) return std::nullopt;
    if (WIFEXITED(*status_)) return WEXITSTATUS(*status_);
    return 128 + WTERMSIG(*status_);
  }
  std::string out() const { return read_file(out_path_); }
  std::string err() const { return read_file(err_path_); }

 private:
  pid_t pid_ = -1;
  std::optional<int> status_;
  std::string out_path_;
  std::string err_path_;
};

struct HttpResult {
  int status = 0;  // 0: could not connect
  std::string body;
};

inline HttpResult http_get(std::uint16_t port, const std::string& path) {
  HttpResult result;
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(port);
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0) {
    ::close(fd);
    return result;
  }
  const std::string request = "GET " + path + " HTTP/1.1\r\nHost: localhost\r\n\r\n";
  [[maybe_unused]] auto sent = ::send(fd, request.data(), request.size(), MSG_NOSIGNAL);
  std::string response;
  char buffer[4096];
  for (ssize_t n; (n = ::recv(fd, buffer, sizeof buffer, 0)) > 0;) response.append(buffer, n);
  ::close(fd);
  if (response.rfind("HTTP/1.1 ", 0) != 0) return result;
  result.status = std::atoi(response.c_str() + 9);
  if (auto body = response.find("\r\n\r\n"); body != std::string::npos) {
    result.body = response.substr(body + 4);
  }
  return result;
}

// The value of the sample whose line starts with `series` (name plus labels as rendered), e.g.
// metric(text, "ipcmesh_channel_published_messages_total{channel_namespace=\"t\",channel=\"c\"}").
inline std::optional<double> metric(const std::string& text, const std::string& series) {
  std::istringstream lines(text);
  for (std::string line; std::getline(lines, line);) {
    if (line.rfind(series + " ", 0) == 0) return std::stod(line.substr(series.size() + 1));
  }
  return std::nullopt;
}

// A port that was free a moment ago (for tests that must query /readyz before the relay is ready).
inline std::uint16_t free_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address);
  socklen_t length = sizeof address;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length);
  ::close(fd);
  return ntohs(address.sin_port);
}

// One channel of the contract's document, as JSON text.
struct ChannelJson {
  std::string name = {};
  std::string transport = "SharedMemory";
  std::string shm_size = "1Mi";
  std::string shm_max_message = "8Ki";
  std::string slow_consumer = "Block";
  std::optional<std::string> wait_mode = std::nullopt;  // sharedMemory.waitMode, absent by default
  std::optional<std::string> queue_name = std::nullopt;
  int queue_max_messages = 10;
  std::string queue_max_message = "8Ki";
  bool mq_to_shm = false;
  bool shm_to_mq = false;
  std::string scope = "Pod";

  std::string render(const std::string& namespace_name) const {
    std::string json = R"({"namespace":")" + namespace_name + R"(","name":")" + name +
                       R"(","transport":")" + transport + R"(","scope":")" + scope + R"(")";
    if (transport != "MessageQueue") {
      json += R"(,"sharedMemory":{"size":")" + shm_size + R"(","maxMessageSize":")" +
              shm_max_message + R"(","slowConsumer":")" + slow_consumer + R"(")";
      if (wait_mode) json += R"(,"waitMode":")" + *wait_mode + R"(")";
      json += "}";
    }
    if (transport != "SharedMemory") {
      json += R"(,"messageQueue":{)";
      if (queue_name) json += R"("name":")" + *queue_name + R"(",)";
      json += R"("maxMessages":)" + std::to_string(queue_max_messages) + R"(,"maxMessageSize":")" +
              queue_max_message + R"("})";
    }
    json += std::string(R"(,"relay":{"bridge":{"mqToShm":)") + (mq_to_shm ? "true" : "false") +
            R"(,"shmToMq":)" + (shm_to_mq ? "true" : "false") + "}}}";
    return json;
  }
};

// Per test: private namespaces, a work dir, helpers to start relays.
class RelayTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_EQ(::unshare(CLONE_NEWNS | CLONE_NEWIPC), 0) << "unshare: " << std::strerror(errno);
    ASSERT_EQ(::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr), 0);
    ASSERT_EQ(::mount("tmpfs", "/dev/shm", "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777"), 0)
        << std::strerror(errno);
    char work[] = "/tmp/ipcmesh-relay-test-XXXXXX";
    ASSERT_NE(::mkdtemp(work), nullptr);
    work_dir_ = work;
    mqueue_dir_ = work_dir_ + "/mqueue";
    ASSERT_EQ(::mkdir(mqueue_dir_.c_str(), 0755), 0);
    ASSERT_EQ(::mount("mqueue", mqueue_dir_.c_str(), "mqueue", 0, nullptr), 0)
        << std::strerror(errno);
    namespace_ = "t" + std::to_string(::getpid());
  }

  void TearDown() override {
    ::umount2(mqueue_dir_.c_str(), MNT_DETACH);
    std::system(("rm -rf " + work_dir_).c_str());
  }

  std::string write_spec(const std::vector<ChannelJson>& channels,
                         const std::string& file = "spec.json") {
    std::string json = R"({"version":1,"channels":[)";
    for (std::size_t i = 0; i < channels.size(); ++i) {
      json += (i ? "," : "") + channels[i].render(namespace_);
    }
    json += "]}";
    const std::string path = work_dir_ + "/" + file;
    write_file(path, json);
    return path;
  }

  std::string control_dir(const std::string& suffix = "control") const {
    return work_dir_ + "/" + suffix;
  }

  std::unique_ptr<Process> start_relay(const std::string& spec_path, std::uint16_t port = 0,
                                       const std::string& control = "control",
                                       const std::string& grace = "5s") {
    return std::make_unique<Process>(
        std::vector<std::string>{kRelay, "--spec", spec_path, "--control-dir", control_dir(control),
                                 "--metrics-port", std::to_string(port), "--grace-period", grace,
                                 "--log-level", "debug"},
        work_dir_);
  }

  // Waits for this relay's ready file and returns the metrics port it announces (0 on timeout).
  std::uint16_t wait_ready(Process& relay, const std::string& control = "control") {
    const std::string path = control_dir(control) + "/ready";
    const std::string mine = "\"pid\":" + std::to_string(relay.pid()) + ",";
    auto written_by_relay = [&] { return read_file(path).find(mine) != std::string::npos; };
    if (!eventually([&] { return written_by_relay() || !relay.running(); }) ||
        !written_by_relay()) {
      ADD_FAILURE() << "relay not ready; stderr:\n" << relay.err();
      return 0;
    }
    const std::string text = read_file(path);
    const auto at = text.find("\"metricsPort\":");
    return at == std::string::npos ? 0
                                   : static_cast<std::uint16_t>(std::atoi(text.c_str() + at + 14));
  }

  std::unique_ptr<Process> run(const std::vector<std::string>& argv,
                               const std::string& stdin_path = "",
                               const std::vector<std::string>& env = {}) {
    return std::make_unique<Process>(argv, work_dir_, env, stdin_path);
  }

  // Objects left in this test's /dev/shm and mqueue namespace.
  std::vector<std::string> shm_objects() const { return list_dir("/dev/shm"); }
  std::vector<std::string> queues() const { return list_dir(mqueue_dir_); }

  std::string series(const std::string& name, const std::string& channel) const {
    return name + "{channel_namespace=\"" + namespace_ + "\",channel=\"" + channel + "\"}";
  }

  std::string work_dir_;
  std::string mqueue_dir_;
  std::string namespace_;
};

}  // namespace ipcmesh::relay_testing
