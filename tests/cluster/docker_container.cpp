#include "docker_container.hpp"

#include <unistd.h>

#include <random>

#include "process.hpp"

namespace ipcmesh::cluster {

DockerContainer::DockerContainer(const std::string& name_prefix,
                                 const std::vector<std::string>& run_args) {
  std::random_device random;
  name_ = name_prefix + "-" + std::to_string(::getpid()) + "-" + std::to_string(random() % 100000);
  std::vector<std::string> args = {"docker", "run", "-d", "--name", name_};
  args.insert(args.end(), run_args.begin(), run_args.end());
  const CommandResult result = run_command(args);
  if (!result.ok()) start_error_ = "docker run failed: " + result.err;
}

DockerContainer::~DockerContainer() {
  run_command({"docker", "rm", "-f", "-v", name_});
}

std::string DockerContainer::logs(int tail) const {
  std::vector<std::string> args = {"docker", "logs"};
  if (tail > 0) args.insert(args.end(), {"--tail", std::to_string(tail)});
  args.push_back(name_);
  const CommandResult result = run_command(args);
  return result.out + result.err;
}

int DockerContainer::wait(std::chrono::seconds timeout) const {
  const CommandResult result =
      run_command({"timeout", std::to_string(timeout.count()), "docker", "wait", name_});
  return result.ok() ? std::stoi(result.out) : -1;
}

}  // namespace ipcmesh::cluster
