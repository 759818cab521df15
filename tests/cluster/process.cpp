#include "process.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <thread>
#include <utility>

extern char** environ;

namespace ipcmesh::cluster {
namespace {

struct Pipe {
  int read_end = -1;
  int write_end = -1;
  Pipe() {
    int fds[2];
    if (::pipe2(fds, O_CLOEXEC) != 0) {
      throw std::runtime_error(std::string("pipe: ") + std::strerror(errno));
    }
    read_end = fds[0];
    write_end = fds[1];
  }
  Pipe(const Pipe&) = delete;
  Pipe& operator=(const Pipe&) = delete;
  ~Pipe() {
    if (read_end >= 0) ::close(read_end);
    if (write_end >= 0) ::close(write_end);
  }
  void close_read() { ::close(std::exchange(read_end, -1)); }
  void close_write() { ::close(std::exchange(write_end, -1)); }
};

int exit_code_of(int status) {
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return -1;
}

// Only async-signal-safe calls between fork and exec.
[[noreturn]] void exec_child(const std::vector<std::string>& argv,
                             const std::vector<std::string>& extra_environment) {
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  for (const auto& assignment : extra_environment) ::putenv(const_cast<char*>(assignment.c_str()));
  ::execvp(args[0], args.data());
  ::_exit(127);
}

}  // namespace

CommandResult run_command(const std::vector<std::string>& argv, const std::string& input,
                          const std::vector<std::string>& extra_environment) {
  if (argv.empty()) throw std::invalid_argument("run_command: empty argv");
  Pipe in, out, err;
  const pid_t pid = ::fork();
  if (pid < 0) throw std::runtime_error(std::string("fork: ") + std::strerror(errno));
  if (pid == 0) {
    ::dup2(in.read_end, STDIN_FILENO);
    ::dup2(out.write_end, STDOUT_FILENO);
    ::dup2(err.write_end, STDERR_FILENO);
    exec_child(argv, extra_environment);
  }
  in.close_read();
  out.close_write();
  err.close_write();

  // Feed stdin and drain both outputs together, so a large output never deadlocks the child.
  CommandResult result;
  std::size_t written = 0;
  if (input.empty()) in.close_write();
  ::fcntl(in.write_end, F_SETFL, O_NONBLOCK);
  while (out.read_end >= 0 || err.read_end >= 0) {
    pollfd fds[3] = {
        {out.read_end, POLLIN, 0}, {err.read_end, POLLIN, 0}, {in.write_end, POLLOUT, 0}};
    if (::poll(fds, 3, -1) < 0) {
      if (errno == EINTR) continue;
      break;
    }
    if (in.write_end >= 0 && (fds[2].revents & (POLLOUT | POLLERR | POLLHUP))) {
      const ssize_t n = ::write(in.write_end, input.data() + written, input.size() - written);
      if (n > 0) written += static_cast<std::size_t>(n);
      if (n < 0 || written == input.size()) in.close_write();
    }
    for (int i = 0; i < 2; ++i) {
      if (fds[i].fd < 0 || !(fds[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
      char buffer[65536];
      const ssize_t n = ::read(fds[i].fd, buffer, sizeof buffer);
      if (n > 0) {
        (i == 0 ? result.out : result.err).append(buffer, static_cast<std::size_t>(n));
      } else if (n == 0 || errno != EINTR) {
        i == 0 ? out.close_read() : err.close_read();
      }
    }
  }
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  result.exit_code = exit_code_of(status);
  return result;
}

BackgroundProcess::BackgroundProcess(const std::vector<std::string>& argv,
                                     const std::string& log_file,
                                     const std::vector<std::string>& extra_environment) {
  const int log = ::open(log_file.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (log < 0) throw std::runtime_error("open " + log_file + ": " + std::strerror(errno));
  pid_ = ::fork();
  if (pid_ < 0) {
    ::close(log);
    throw std::runtime_error(std::string("fork: ") + std::strerror(errno));
  }
  if (pid_ == 0) {
    ::setpgid(0, 0);
    ::dup2(log, STDOUT_FILENO);
    ::dup2(log, STDERR_FILENO);
    const int null = ::open("/dev/null", O_RDONLY);
    ::dup2(null, STDIN_FILENO);
    exec_child(argv, extra_environment);
  }
  ::close(log);
}

BackgroundProcess::BackgroundProcess(BackgroundProcess&& other) noexcept
    : pid_(std::exchange(other.pid_, -1)), exit_code_(other.exit_code_) {}

BackgroundProcess& BackgroundProcess::operator=(BackgroundProcess&& other) noexcept {
  if (this != &other) {
    if (pid_ > 0) stop();
    pid_ = std::exchange(other.pid_, -1);
    exit_code_ = other.exit_code_;
  }
  return *this;
}

BackgroundProcess::~BackgroundProcess() {
  if (pid_ > 0) stop(std::chrono::seconds(5));
}

int BackgroundProcess::reap(bool wait) {
  int status = 0;
  const pid_t done = ::waitpid(pid_, &status, wait ? 0 : WNOHANG);
  if (done == pid_) {
    exit_code_ = exit_code_of(status);
    pid_ = -1;
  }
  return exit_code_;
}

bool BackgroundProcess::running() {
  if (pid_ <= 0) return false;
  reap(false);
  return pid_ > 0;
}

int BackgroundProcess::stop(std::chrono::milliseconds grace) {
  if (!running()) return exit_code_;
  ::kill(-pid_, SIGTERM);
  const auto deadline = std::chrono::steady_clock::now() + grace;
  while (running() && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  if (pid_ > 0) {
    ::kill(-pid_, SIGKILL);
    reap(true);
  }
  return exit_code_;
}

void BackgroundProcess::kill_now() {
  if (!running()) return;
  ::kill(-pid_, SIGKILL);
  reap(true);
}

}  // namespace ipcmesh::cluster
