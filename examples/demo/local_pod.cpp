// ipcmesh-local-pod: runs the containers of one Pod, as the API server stored it, as local
// processes — a stand-in for a kubelet, for `make demo` only (the control plane of the demo has
// no kubelet; a later issue adds real Pods).
//
// What it does, in the kubelet's order: it reads the Pod JSON, makes the Pod's sandbox out of
// namespaces (IPC, mount, network, UTS: one of each, shared by all containers like a Pod's), mounts
// every emptyDir as a tmpfs (sizeLimit, fsGroup) and an mqueue filesystem, applies fs.mqueue.*
// sysctls, then starts the native sidecars (init containers with restartPolicy Always) one by one,
// each after the previous one's startupProbe passed, runs the plain init containers to completion
// and starts the app containers. Commands, args and env come from the Pod itself; an image is
// only mapped to a binary in --bin-dir. Each container runs as its securityContext's user,
// group and supplementary groups (fsGroup). On SIGTERM the apps stop first, then the sidecars in
// reverse order, as the kubelet does.
//
// What it does not do (see docs/demo.md): pull images or give each container its own root
// filesystem, enforce resources, readOnlyRootFilesystem or seccomp, mount volumes other than
// emptyDir, run liveness probes.
#include <fcntl.h>
#include <grp.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <pty.h>
#include <sched.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "ipcmesh/channel_spec.hpp"

namespace ipcmesh::demo {
namespace {

using json = nlohmann::json;
using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

constexpr std::string_view kUsage =
    R"(Usage: ipcmesh-local-pod --pod FILE --bin-dir DIR [--image REPOSITORY=PROGRAM ...]

A stand-in for a kubelet, for the ipcmesh demo only: runs the containers of one Pod, read from
FILE (the Pod as `kubectl get pod NAME -o json` prints it; - for stdin), as local processes that
share one private IPC, mount, network and UTS namespace, the way a Pod's containers do.

  - every emptyDir volume becomes a tmpfs at its mountPath (sizeLimit and fsGroup applied), and
    an mqueue filesystem is mounted on /dev/mqueue; Pod sysctls fs.mqueue.* are applied;
  - native sidecars (init containers with restartPolicy: Always) start first, one at a time,
    each after its startupProbe (httpGet) passes; then plain init containers run to completion;
    then the app containers start;
  - commands, args and env come from the Pod (value, and valueFrom.fieldRef for metadata.name,
    metadata.namespace, metadata.uid, metadata.labels/annotations['KEY'], spec.nodeName,
    spec.serviceAccountName); $(VAR) references are expanded as Kubernetes does;
  - images are not pulled: a container's command[0] is looked up by its base name in --bin-dir;
    a container without a command runs the PROGRAM that --image maps its image repository to
    (tag ignored), e.g. --image ipcmesh/relay=ipcmesh-relay;
  - each container runs as its securityContext's runAsUser/runAsGroup with fsGroup and
    supplementalGroups, with no_new_privs when allowPrivilegeEscalation is false;
  - output (stdout and stderr, through a pseudo-terminal so lines come out at once) is printed
    with a "[container] " prefix; the runner's own lines start with "[local-pod] ";
  - containers that exit are restarted per restartPolicy (back-off 1 s doubling to 60 s);
  - SIGTERM or SIGINT stops the apps, then the sidecars in reverse order (SIGTERM, then SIGKILL
    after terminationGracePeriodSeconds), and exits 0.

Not done: images and per-container root filesystems, resource limits, readOnlyRootFilesystem,
seccomp, capabilities beyond what a non-root user has, volumes other than emptyDir, liveness
and readiness probes. Needs root (it creates namespaces and mounts).

Exit codes: 0 stopped by a signal, or every app container completed with 0; 1 a container
failed (could not start, init container failed, startup probe never passed, an app failed under
restartPolicy Never); 2 usage, or a Pod this runner cannot run (the message says why).
)";

constexpr int kExitOk = 0;
constexpr int kExitFailure = 1;
constexpr int kExitUsage = 2;

// A Pod this runner cannot run, or a bad command line: exit 2.
struct UnsupportedPod : std::runtime_error {
  using std::runtime_error::runtime_error;
};

std::string errno_text(int error) {
  return std::strerror(error);
}

[[noreturn]] void fail_system(const std::string& what, int error = errno) {
  throw std::runtime_error(what + ": " + errno_text(error));
}

class UniqueFd {
 public:
  UniqueFd() = default;
  explicit UniqueFd(int fd) : fd_(fd) {}
  UniqueFd(UniqueFd&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
  UniqueFd& operator=(UniqueFd&& other) noexcept {
    if (this != &other) {
      reset();
      fd_ = std::exchange(other.fd_, -1);
    }
    return *this;
  }
  UniqueFd(const UniqueFd&) = delete;
  UniqueFd& operator=(const UniqueFd&) = delete;
  ~UniqueFd() { reset(); }
  int get() const { return fd_; }
  explicit operator bool() const { return fd_ >= 0; }
  void reset() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }

 private:
  int fd_ = -1;
};

// One line of output, written with a single write() so lines of different containers never mix.
void emit(std::string_view source, std::string_view text) {
  std::string line = "[" + std::string(source) + "] ";
  line.append(text);
  line += '\n';
  for (std::size_t done = 0; done < line.size();) {
    const ssize_t n = ::write(STDOUT_FILENO, line.data() + done, line.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;  // nowhere to log to: keep running the Pod
    done += static_cast<std::size_t>(n);
  }
}

void note(std::string_view text) {
  emit("local-pod", text);
}

// ---------------------------------------------------------------------------------------------
// The plan: everything read from the Pod and checked before any namespace or process exists.

struct Flags {
  std::string pod_file;
  std::string bin_dir;
  std::map<std::string, std::string> image_programs;  // repository -> program in bin_dir
};

enum class Role { kSidecar, kInit, kApp };

struct HttpProbe {
  std::string path;
  int port = 0;
  std::chrono::seconds period{10};
  int failure_threshold = 3;
};

struct ContainerPlan {
  std::string name;
  Role role = Role::kApp;
  std::vector<std::string> argv;  // argv[0] is the resolved binary
  std::vector<std::string> env;   // NAME=value
  uid_t uid = 0;
  gid_t gid = 0;
  std::vector<gid_t> groups;
  std::string working_dir = "/";
  bool no_new_privs = false;
  std::optional<HttpProbe> startup_probe;
};

struct TmpfsMount {
  std::string volume;
  std::vector<std::string> paths;  // the first gets the tmpfs, the others bind mounts of it
  std::optional<std::uint64_t> size_bytes;
  bool memory_medium = false;
};

struct PodPlan {
  std::string name;
  std::string namespace_name;
  std::string restart_policy = "Always";
  std::chrono::seconds grace{30};
  std::vector<ContainerPlan> containers;  // sidecars and init containers first, in Pod order
  std::vector<TmpfsMount> mounts;
  std::vector<std::pair<std::string, std::string>> mqueue_sysctls;
  std::vector<std::string> notes;  // what the runner leaves out, said once at start
};

const json& member(const json& object, const char* key) {
  static const json kNull;
  if (!object.is_object()) return kNull;
  auto it = object.find(key);
  return it == object.end() ? kNull : *it;
}

std::string string_member(const json& object, const char* key) {
  const json& value = member(object, key);
  return value.is_string() ? value.get<std::string>() : "";
}

// Kubernetes $(VAR) expansion (k8s.io/kubernetes third_party/forked/golang/expansion): $(NAME)
// becomes the value when NAME is defined, $$ is a literal $, anything else stays as written.
std::string expand(const std::string& text, const std::map<std::string, std::string>& vars) {
  std::string out;
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] != '$' || i + 1 >= text.size()) {
      out += text[i];
      continue;
    }
    if (text[i + 1] == '$') {
      out += '$';
      ++i;
      continue;
    }
    if (text[i + 1] == '(') {
      const auto close = text.find(')', i + 2);
      if (close != std::string::npos) {
        const auto found = vars.find(text.substr(i + 2, close - i - 2));
        if (found != vars.end()) {
          out += found->second;
          i = close;
          continue;
        }
      }
    }
    out += text[i];
  }
  return out;
}

// metadata.labels['app'] -> ("labels", "app").
std::optional<std::pair<std::string, std::string>> map_field(const std::string& path) {
  for (const std::string map : {"labels", "annotations"}) {
    const std::string prefix = "metadata." + map + "['";
    if (path.rfind(prefix, 0) == 0 && path.size() > prefix.size() + 2 &&
        path.compare(path.size() - 2, 2, "']") == 0) {
      return std::pair{map, path.substr(prefix.size(), path.size() - prefix.size() - 2)};
    }
  }
  return std::nullopt;
}

std::string field_ref(const json& pod, const std::string& container, const std::string& path) {
  const json& meta = member(pod, "metadata");
  const json& spec = member(pod, "spec");
  if (path == "metadata.name") return string_member(meta, "name");
  if (path == "metadata.namespace") return string_member(meta, "namespace");
  if (path == "metadata.uid") return string_member(meta, "uid");
  if (path == "spec.nodeName") return string_member(spec, "nodeName");
  if (path == "spec.serviceAccountName") return string_member(spec, "serviceAccountName");
  if (auto field = map_field(path)) {
    return string_member(member(meta, field->first.c_str()), field->second.c_str());
  }
  throw UnsupportedPod("container " + container + ": env fieldRef " + path +
                       " is not supported by the local runner");
}

std::optional<std::int64_t> int_member(const json& object, const char* key) {
  const json& value = member(object, key);
  if (value.is_number_integer()) return value.get<std::int64_t>();
  return std::nullopt;
}

std::string image_repository(std::string image) {
  if (auto at = image.find('@'); at != std::string::npos) image.resize(at);
  const auto colon = image.rfind(':');
  const auto slash = image.rfind('/');
  if (colon != std::string::npos && (slash == std::string::npos || colon > slash)) {
    image.resize(colon);  // the tag; a colon before the last slash is a registry port
  }
  return image;
}

std::vector<std::string> command_line(const json& container, const std::string& name,
                                      const Flags& flags,
                                      const std::map<std::string, std::string>& vars) {
  std::vector<std::string> words;
  for (const char* key : {"command", "args"}) {
    for (const json& word : member(container, key)) {
      if (!word.is_string())
        throw UnsupportedPod("container " + name + ": " + key + " not strings");
      words.push_back(expand(word.get<std::string>(), vars));
    }
  }
  std::string program;
  if (!member(container, "command").empty()) {
    program = std::filesystem::path(words.front()).filename().string();
    words.erase(words.begin());
  } else {
    const std::string repository = image_repository(string_member(container, "image"));
    const auto mapped = flags.image_programs.find(repository);
    if (mapped == flags.image_programs.end()) {
      throw UnsupportedPod("container " + name + " has no command and image repository '" +
                           repository + "' is not mapped to a program (--image " + repository +
                           "=PROGRAM)");
    }
    program = mapped->second;
  }
  const std::string binary = flags.bin_dir + "/" + program;
  if (::access(binary.c_str(), X_OK) != 0) {
    throw UnsupportedPod("container " + name + " runs '" + program + "', but " + binary + " is " +
                         errno_text(errno) +
                         " (the local runner runs only programs from --bin-dir, not images)");
  }
  words.insert(words.begin(), binary);
  return words;
}

HttpProbe startup_probe(const json& probe, const json& container, const std::string& name) {
  const json& get = member(probe, "httpGet");
  if (get.is_null()) {
    throw UnsupportedPod("container " + name + ": only httpGet startup probes are supported");
  }
  HttpProbe result;
  result.path = string_member(get, "path").empty() ? "/" : string_member(get, "path");
  const json& port = member(get, "port");
  if (port.is_number_integer()) {
    result.port = port.get<int>();
  } else if (port.is_string()) {  // a named container port
    for (const json& declared : member(container, "ports")) {
      if (string_member(declared, "name") == port.get<std::string>()) {
        result.port = int_member(declared, "containerPort").value_or(0);
      }
    }
  }
  if (result.port <= 0) {
    throw UnsupportedPod("container " + name + ": startupProbe port " + port.dump() +
                         " names no container port");
  }
  result.period = std::chrono::seconds(int_member(probe, "periodSeconds").value_or(10));
  result.failure_threshold = static_cast<int>(int_member(probe, "failureThreshold").value_or(3));
  return result;
}

ContainerPlan plan_container(const json& pod, const json& container, Role role,
                             const Flags& flags) {
  ContainerPlan plan;
  plan.name = string_member(container, "name");
  plan.role = role;
  const json& pod_security = member(member(pod, "spec"), "securityContext");
  const json& security = member(container, "securityContext");

  // Env: what a container runtime always sets, then the Pod's list in order (a value may refer
  // to variables defined before it).
  std::map<std::string, std::string> vars = {
      {"PATH", "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"},
      {"HOSTNAME", string_member(member(pod, "metadata"), "name")},
      {"HOME", "/"}};
  std::vector<std::string> order = {"PATH", "HOSTNAME", "HOME"};
  if (!member(container, "envFrom").empty()) {
    throw UnsupportedPod("container " + plan.name +
                         ": envFrom is not supported by the local runner");
  }
  for (const json& entry : member(container, "env")) {
    const std::string name = string_member(entry, "name");
    std::string value;
    if (const json& from = member(entry, "valueFrom"); !from.is_null()) {
      const std::string path = string_member(member(from, "fieldRef"), "fieldPath");
      if (path.empty()) {
        throw UnsupportedPod("container " + plan.name + ": env " + name +
                             " uses a valueFrom other than fieldRef (not supported here)");
      }
      value = field_ref(pod, plan.name, path);
    } else {
      value = expand(string_member(entry, "value"), vars);
    }
    if (!vars.contains(name)) order.push_back(name);
    vars[name] = value;
  }
  for (const auto& name : order) plan.env.push_back(name + "=" + vars[name]);
  plan.argv = command_line(container, plan.name, flags, vars);
  if (!string_member(container, "workingDir").empty()) {
    plan.working_dir = string_member(container, "workingDir");
  }

  // Identity: the container's securityContext wins over the Pod's (Kubernetes' rule).
  auto pick = [&](const char* key) {
    auto value = int_member(security, key);
    return value ? value : int_member(pod_security, key);
  };
  plan.uid = static_cast<uid_t>(pick("runAsUser").value_or(0));
  plan.gid = static_cast<gid_t>(pick("runAsGroup").value_or(0));
  const json& non_root = member(security, "runAsNonRoot").is_boolean()
                             ? member(security, "runAsNonRoot")
                             : member(pod_security, "runAsNonRoot");
  if (non_root.is_boolean() && non_root.get<bool>() && plan.uid == 0) {
    throw UnsupportedPod("container " + plan.name +
                         ": runAsNonRoot without runAsUser (the kubelet would read the image's "
                         "USER, which the local runner does not have)");
  }
  // The kubelet adds fsGroup and supplementalGroups to every container's groups.
  if (auto fs_group = int_member(pod_security, "fsGroup")) {
    plan.groups.push_back(static_cast<gid_t>(*fs_group));
  }
  for (const json& group : member(pod_security, "supplementalGroups")) {
    if (group.is_number_integer()) plan.groups.push_back(group.get<gid_t>());
  }
  const json& escalation = member(security, "allowPrivilegeEscalation");
  plan.no_new_privs = escalation.is_boolean() && !escalation.get<bool>();
  if (const json& probe = member(container, "startupProbe"); !probe.is_null()) {
    plan.startup_probe = startup_probe(probe, container, plan.name);
  }
  return plan;
}

std::vector<TmpfsMount> plan_mounts(const json& pod, std::vector<std::string>& notes) {
  const json& spec = member(pod, "spec");
  std::vector<TmpfsMount> mounts;
  for (const json& volume : member(spec, "volumes")) {
    const std::string name = string_member(volume, "name");
    const json& empty_dir = member(volume, "emptyDir");
    if (empty_dir.is_null()) {
      notes.push_back("volume " + name + " is not an emptyDir: not mounted");
      continue;
    }
    TmpfsMount mount;
    mount.volume = name;
    mount.memory_medium = string_member(empty_dir, "medium") == "Memory";
    if (const json& limit = member(empty_dir, "sizeLimit"); limit.is_string()) {
      auto bytes = parse_quantity(limit.get<std::string>());
      if (!bytes) {
        throw UnsupportedPod("volume " + name + ": sizeLimit: " + bytes.error().message);
      }
      mount.size_bytes = *bytes;
    }
    for (const char* list : {"initContainers", "containers"}) {
      for (const json& container : member(spec, list)) {
        for (const json& volume_mount : member(container, "volumeMounts")) {
          if (string_member(volume_mount, "name") != name) continue;
          const std::string path = string_member(volume_mount, "mountPath");
          if (!string_member(volume_mount, "subPath").empty()) {
            throw UnsupportedPod("volume " + name + ": subPath mounts are not supported here");
          }
          if (std::find(mount.paths.begin(), mount.paths.end(), path) == mount.paths.end()) {
            mount.paths.push_back(path);
          }
        }
      }
    }
    if (!mount.paths.empty()) mounts.push_back(std::move(mount));
  }
  // Parents before children, so a deeper mount is not hidden by a later one above it.
  std::sort(mounts.begin(), mounts.end(),
            [](const TmpfsMount& a, const TmpfsMount& b) { return a.paths[0] < b.paths[0]; });
  return mounts;
}

PodPlan plan_pod(const json& pod, const Flags& flags) {
  if (string_member(pod, "kind") != "Pod") {
    throw UnsupportedPod("the input is a " + string_member(pod, "kind") + ", not a Pod");
  }
  PodPlan plan;
  const json& meta = member(pod, "metadata");
  const json& spec = member(pod, "spec");
  plan.name = string_member(meta, "name");
  plan.namespace_name = string_member(meta, "namespace");
  if (!string_member(spec, "restartPolicy").empty()) {
    plan.restart_policy = string_member(spec, "restartPolicy");
  }
  plan.grace = std::chrono::seconds(int_member(spec, "terminationGracePeriodSeconds").value_or(30));
  for (const char* host : {"hostNetwork", "hostIPC", "hostPID"}) {
    if (member(spec, host).is_boolean() && member(spec, host).get<bool>()) {
      throw UnsupportedPod(std::string("the Pod sets ") + host +
                           ": the local runner only makes private namespaces");
    }
  }
  for (const json& container : member(spec, "initContainers")) {
    const bool sidecar = string_member(container, "restartPolicy") == "Always";
    plan.containers.push_back(
        plan_container(pod, container, sidecar ? Role::kSidecar : Role::kInit, flags));
  }
  for (const json& container : member(spec, "containers")) {
    plan.containers.push_back(plan_container(pod, container, Role::kApp, flags));
  }
  plan.mounts = plan_mounts(pod, plan.notes);
  for (const json& sysctl : member(member(spec, "securityContext"), "sysctls")) {
    const std::string name = string_member(sysctl, "name");
    if (name.rfind("fs.mqueue.", 0) == 0) {
      plan.mqueue_sysctls.emplace_back(name, string_member(sysctl, "value"));
    } else {
      plan.notes.push_back("sysctl " + name + " is not applied (only fs.mqueue.*)");
    }
  }
  plan.notes.push_back(
      "not enforced here: images, resources, readOnlyRootFilesystem, seccomp, "
      "liveness probes");
  return plan;
}

// ---------------------------------------------------------------------------------------------
// The sandbox: namespaces and mounts, made once in this process and inherited by every container.

void write_text(const std::string& path, const std::string& text) {
  std::ofstream out(path);
  out << text;
  out.flush();
  if (!out) throw std::runtime_error("cannot write '" + text + "' to " + path);
}

void bring_up_loopback() {
  UniqueFd socket_fd(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  if (!socket_fd) fail_system("socket for the loopback interface");
  ifreq request{};
  std::strncpy(request.ifr_name, "lo", IFNAMSIZ - 1);
  if (::ioctl(socket_fd.get(), SIOCGIFFLAGS, &request) != 0) fail_system("SIOCGIFFLAGS lo");
  request.ifr_flags |= IFF_UP | IFF_RUNNING;
  if (::ioctl(socket_fd.get(), SIOCSIFFLAGS, &request) != 0) fail_system("SIOCSIFFLAGS lo up");
}

// Missing mount points (e.g. /var/run/ipcmesh) are created on the host and left there, empty:
// removing one could detach the mount of another runner's sandbox that uses the same path.
void enter_sandbox(const PodPlan& plan, std::optional<gid_t> fs_group) {
  if (::unshare(CLONE_NEWIPC | CLONE_NEWNS | CLONE_NEWNET | CLONE_NEWUTS) != 0) {
    fail_system("unshare(IPC, mount, network, UTS namespaces)");
  }
  // Nothing mounted from here on may propagate back to the host.
  if (::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0) {
    fail_system("mount --make-rprivate /");
  }
  for (const TmpfsMount& volume : plan.mounts) {
    // The kubelet makes an emptyDir 0777; with fsGroup it is owned by that group and setgid, so
    // files created in it (the relay's rings in /dev/shm) belong to the Pod's group.
    std::string options = fs_group ? "mode=2777,gid=" + std::to_string(*fs_group) : "mode=0777";
    if (volume.size_bytes) options += ",size=" + std::to_string(*volume.size_bytes);
    const std::string& first = volume.paths.front();
    std::filesystem::create_directories(first);
    if (::mount("tmpfs", first.c_str(), "tmpfs", MS_NOSUID | MS_NODEV, options.c_str()) != 0) {
      fail_system("mount tmpfs (" + options + ") on " + first + " for volume " + volume.volume);
    }
    for (std::size_t i = 1; i < volume.paths.size(); ++i) {
      std::filesystem::create_directories(volume.paths[i]);
      if (::mount(first.c_str(), volume.paths[i].c_str(), nullptr, MS_BIND, nullptr) != 0) {
        fail_system("bind mount " + first + " on " + volume.paths[i]);
      }
    }
    note("volume " + volume.volume + ": tmpfs on " + first +
         (volume.size_bytes ? " (" + format_quantity(*volume.size_bytes) + ")" : "") +
         (volume.memory_medium ? "" : " (a tmpfs stands in for the node's disk)"));
  }
  // The new IPC namespace's queues, visible like on a node (and to `ls` for the curious).
  std::filesystem::create_directories("/dev/mqueue");
  if (::mount("mqueue", "/dev/mqueue", "mqueue", MS_NOSUID | MS_NODEV | MS_NOEXEC, nullptr) != 0) {
    fail_system("mount mqueue on /dev/mqueue");
  }
  for (const auto& [name, value] : plan.mqueue_sysctls) {
    std::string path = "/proc/sys/" + name;
    std::replace(path.begin() + 10, path.end(), '.', '/');
    write_text(path, value);  // fs.mqueue.* belong to the IPC namespace: only this Pod's
    note("sysctl " + name + "=" + value);
  }
  bring_up_loopback();
  if (::sethostname(plan.name.c_str(), std::min<std::size_t>(plan.name.size(), 63)) != 0) {
    fail_system("sethostname " + plan.name);
  }
}

// ---------------------------------------------------------------------------------------------
// Running containers.

// GET http://127.0.0.1:PORT/PATH in the Pod's network namespace; true for 2xx/3xx (the kubelet's
// rule for httpGet probes).
bool probe_passes(const HttpProbe& probe) {
  UniqueFd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!fd) return false;
  timeval timeout{.tv_sec = 1, .tv_usec = 0};
  ::setsockopt(fd.get(), SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
  ::setsockopt(fd.get(), SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof timeout);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(static_cast<std::uint16_t>(probe.port));
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd.get(), reinterpret_cast<sockaddr*>(&address), sizeof address) != 0) {
    return false;
  }
  const std::string request = "GET " + probe.path + " HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";
  if (::send(fd.get(), request.data(), request.size(), MSG_NOSIGNAL) < 0) return false;
  char reply[32] = {};
  const ssize_t n = ::recv(fd.get(), reply, sizeof reply - 1, 0);
  if (n < 12 || std::strncmp(reply, "HTTP/1.", 7) != 0) return false;
  const int status = std::atoi(reply + 9);
  return status >= 200 && status < 400;
}

struct Container {
  const ContainerPlan* plan = nullptr;
  pid_t pid = -1;
  UniqueFd output;  // the pty master: the container's stdout and stderr
  std::string partial_line;
  std::optional<int> exit_code;  // of the last run
  std::optional<Clock::time_point> restart_at;
  std::chrono::seconds backoff{1};
  bool finished = false;  // exited and will not be restarted
};

class LocalPod {
 public:
  LocalPod(const PodPlan& plan, UniqueFd signals) : plan_(plan), signals_(std::move(signals)) {
    for (const ContainerPlan& container : plan_.containers) {
      Container& added = containers_.emplace_back();
      added.plan = &container;
    }
  }

  int run() {
    const int started = start_all();
    if (started != kExitOk) {
      stop_all();
      return started;
    }
    note("all containers started; SIGTERM stops the Pod");
    while (!terminating_) {
      pump(next_wake());
      restart_due();
      if (apps_completed()) {
        note("every app container has completed");
        const bool all_ok = std::all_of(containers_.begin(), containers_.end(), [](auto& c) {
          return c.plan->role != Role::kApp || c.exit_code == 0;
        });
        stop_all();
        return all_ok ? kExitOk : kExitFailure;
      }
    }
    note("stopping: app containers first, then the sidecars");
    stop_all();
    note("stopped");
    return kExitOk;
  }

 private:
  // The kubelet's start order: each native sidecar after the previous one's startup probe, each
  // plain init container after the previous one completed, then all app containers at once.
  int start_all() {
    for (Container& container : containers_) {
      if (terminating_) return kExitOk;
      start(container);
      const ContainerPlan& plan = *container.plan;
      if (plan.role == Role::kSidecar && !wait_started(container)) {
        return terminating_ ? kExitOk : kExitFailure;
      }
      if (plan.role == Role::kInit) {
        while (!container.exit_code && !terminating_) pump(Clock::now() + 1s);
        if (terminating_) return kExitOk;
        if (*container.exit_code != 0) {
          note("init container " + plan.name + " failed with exit code " +
               std::to_string(*container.exit_code) + ": the Pod does not start");
          return kExitFailure;
        }
        container.finished = true;
      }
    }
    return kExitOk;
  }

  bool wait_started(Container& container) {
    const ContainerPlan& plan = *container.plan;
    if (!plan.startup_probe) return true;  // started as soon as it runs
    const HttpProbe& probe = *plan.startup_probe;
    note("waiting for " + plan.name +
         "'s startupProbe: GET http://127.0.0.1:" + std::to_string(probe.port) + probe.path);
    for (int failures = 0; failures < probe.failure_threshold;) {
      if (terminating_) return false;
      if (container.exit_code) {
        note("sidecar " + plan.name + " exited with code " + std::to_string(*container.exit_code) +
             " before its startup probe passed: the Pod does not start");
        return false;
      }
      if (probe_passes(probe)) {
        note(plan.name + " is started (startup probe passed)");
        return true;
      }
      ++failures;
      const auto next = Clock::now() + probe.period;
      while (Clock::now() < next && !terminating_ && !container.exit_code) pump(next);
    }
    note("sidecar " + plan.name + ": startup probe failed " +
         std::to_string(probe.failure_threshold) + " times: the Pod does not start");
    return false;
  }

  void start(Container& container) {
    const ContainerPlan& plan = *container.plan;
    close_output(container);  // a restart: the previous run's terminal
    int master = -1;
    int replica = -1;
    if (::openpty(&master, &replica, nullptr, nullptr, nullptr) != 0) fail_system("openpty");
    UniqueFd master_fd(master);
    UniqueFd replica_fd(replica);
    // Raw mode: "\n" stays "\n" (no "\r\n"); the terminal is only there so that stdio in the
    // container flushes each line, as it does on a console.
    termios mode{};
    if (::tcgetattr(replica, &mode) == 0) {
      ::cfmakeraw(&mode);
      ::tcsetattr(replica, TCSANOW, &mode);
    }
    ::fcntl(master, F_SETFD, FD_CLOEXEC);
    ::fcntl(master, F_SETFL, ::fcntl(master, F_GETFL) | O_NONBLOCK);

    std::vector<char*> argv;
    for (const auto& word : plan.argv) argv.push_back(const_cast<char*>(word.c_str()));
    argv.push_back(nullptr);
    std::vector<char*> envp;
    for (const auto& entry : plan.env) envp.push_back(const_cast<char*>(entry.c_str()));
    envp.push_back(nullptr);
    const pid_t parent = ::getpid();

    const pid_t pid = ::fork();
    if (pid < 0) fail_system("fork for container " + plan.name);
    if (pid == 0) exec_container(plan, replica, parent, argv.data(), envp.data());
    container.pid = pid;
    container.output = std::move(master_fd);
    container.exit_code.reset();
    container.restart_at.reset();
    note("started " + plan.name + " (pid " + std::to_string(pid) + ", uid " +
         std::to_string(plan.uid) + "): " + join(plan.argv));
  }

  // In the child: only async-signal-safe calls from here to execve.
  [[noreturn]] static void exec_container(const ContainerPlan& plan, int terminal, pid_t parent,
                                          char* const* argv, char* const* envp) {
    sigset_t none;
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    ::setsid();  // its own process group, so a signal reaches everything it starts
    const int null_fd = ::open("/dev/null", O_RDONLY);
    ::dup2(null_fd, STDIN_FILENO);
    ::dup2(terminal, STDOUT_FILENO);
    ::dup2(terminal, STDERR_FILENO);
    auto die = [](const char* what) {
      const std::string line = std::string(what) + ": " + std::strerror(errno) + "\n";
      [[maybe_unused]] const ssize_t written = ::write(STDERR_FILENO, line.data(), line.size());
      ::_exit(128);
    };
    if (::setgroups(plan.groups.size(), plan.groups.data()) != 0) die("setgroups");
    if (::setgid(plan.gid) != 0) die("setgid");
    if (::setuid(plan.uid) != 0) die("setuid");
    // After the identity change (which clears it): die with the runner, even on its SIGKILL.
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != parent) ::_exit(128);
    if (plan.no_new_privs && ::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) die("no_new_privs");
    if (::chdir(plan.working_dir.c_str()) != 0) die("chdir to workingDir");
    ::execve(argv[0], argv, envp);
    die(argv[0]);
    ::_exit(128);
  }

  static std::string join(const std::vector<std::string>& words) {
    std::string text;
    for (const auto& word : words) text += (text.empty() ? "" : " ") + word;
    return text;
  }

  Clock::time_point next_wake() const {
    Clock::time_point wake = Clock::now() + 1s;
    for (const Container& c : containers_) {
      if (c.restart_at) wake = std::min(wake, *c.restart_at);
    }
    return wake;
  }

  // Waits until `until` for output or a signal and handles what arrived.
  void pump(Clock::time_point until) {
    std::vector<pollfd> fds = {{.fd = signals_.get(), .events = POLLIN, .revents = 0}};
    std::vector<Container*> owners = {nullptr};
    for (Container& c : containers_) {
      if (c.output) {
        fds.push_back({.fd = c.output.get(), .events = POLLIN, .revents = 0});
        owners.push_back(&c);
      }
    }
    const auto wait = std::chrono::ceil<std::chrono::milliseconds>(until - Clock::now());
    const int ready = ::poll(fds.data(), fds.size(), std::max<int>(0, wait.count()));
    if (ready < 0 && errno != EINTR) fail_system("poll");
    for (std::size_t i = 1; i < fds.size(); ++i) {
      if (fds[i].revents != 0) read_output(*owners[i]);
    }
    if (fds[0].revents & POLLIN) take_signals();
  }

  void read_output(Container& c) {
    char buffer[4096];
    for (;;) {
      const ssize_t n = ::read(c.output.get(), buffer, sizeof buffer);
      if (n > 0) {
        c.partial_line.append(buffer, static_cast<std::size_t>(n));
        for (std::size_t end; (end = c.partial_line.find('\n')) != std::string::npos;) {
          emit(c.plan->name, std::string_view(c.partial_line).substr(0, end));
          c.partial_line.erase(0, end + 1);
        }
        continue;
      }
      if (n < 0 && errno == EINTR) continue;
      if (n < 0 && errno == EAGAIN) return;
      // EIO (Linux) or 0: every holder of the terminal's other end is gone.
      if (!c.partial_line.empty()) emit(c.plan->name, c.partial_line);
      c.partial_line.clear();
      c.output.reset();
      return;
    }
  }

  void take_signals() {
    signalfd_siginfo info{};
    while (::read(signals_.get(), &info, sizeof info) == static_cast<ssize_t>(sizeof info)) {
      if (info.ssi_signo == SIGCHLD) {
        reap();
      } else if (!terminating_) {
        note(std::string("received ") + ::strsignal(static_cast<int>(info.ssi_signo)));
        terminating_ = true;
      }
    }
  }

  void reap() {
    int status = 0;
    for (pid_t pid; (pid = ::waitpid(-1, &status, WNOHANG)) > 0;) {
      auto it = std::find_if(containers_.begin(), containers_.end(),
                             [&](const Container& c) { return c.pid == pid; });
      if (it == containers_.end()) continue;
      Container& c = *it;
      close_output(c);  // all it wrote before exiting, up to the last byte
      c.pid = -1;
      c.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
      note(c.plan->name + " exited with code " + std::to_string(*c.exit_code) +
           (WIFSIGNALED(status) ? std::string(" (") + ::strsignal(WTERMSIG(status)) + ")" : ""));
      if (terminating_ || c.plan->role == Role::kInit) continue;
      if (should_restart(c)) {
        c.restart_at = Clock::now() + c.backoff;
        note("restarting " + c.plan->name + " in " + std::to_string(c.backoff.count()) + " s");
        c.backoff = std::min<std::chrono::seconds>(c.backoff * 2, 60s);
      } else {
        c.finished = true;
      }
    }
  }

  bool should_restart(const Container& c) const {
    if (c.plan->role == Role::kSidecar) return true;  // restartPolicy: Always on the container
    if (plan_.restart_policy == "Always") return true;
    return plan_.restart_policy == "OnFailure" && c.exit_code != 0;
  }

  void restart_due() {
    for (Container& c : containers_) {
      if (c.restart_at && Clock::now() >= *c.restart_at && !terminating_) start(c);
    }
  }

  bool apps_completed() const {
    return std::all_of(containers_.begin(), containers_.end(),
                       [](const Container& c) { return c.plan->role != Role::kApp || c.finished; });
  }

  // Apps all at once, then the sidecars one by one in reverse order (the kubelet's order).
  void stop_all() {
    terminating_ = true;
    std::vector<Container*> apps;
    for (Container& c : containers_) {
      if (c.plan->role == Role::kApp) apps.push_back(&c);
    }
    stop(apps);
    for (auto it = containers_.rbegin(); it != containers_.rend(); ++it) {
      if (it->plan->role != Role::kApp) stop({&*it});
    }
  }

  void stop(const std::vector<Container*>& group) {
    auto running = [&] {
      return std::any_of(group.begin(), group.end(), [](Container* c) { return c->pid > 0; });
    };
    if (!running()) return;
    for (Container* c : group) {
      if (c->pid > 0 && ::kill(-c->pid, SIGTERM) != 0) ::kill(c->pid, SIGTERM);
    }
    const auto deadline = Clock::now() + plan_.grace;
    while (running() && Clock::now() < deadline) pump(std::min(deadline, Clock::now() + 200ms));
    for (Container* c : group) {
      if (c->pid <= 0) continue;
      note(c->plan->name + " did not stop within " + std::to_string(plan_.grace.count()) +
           " s: SIGKILL");
      if (::kill(-c->pid, SIGKILL) != 0) ::kill(c->pid, SIGKILL);
    }
    while (running()) pump(Clock::now() + 200ms);
    for (Container* c : group) close_output(*c);
  }

  // Prints what is left of an exited container's output, then lets the terminal go. The kernel
  // hands a pty's last writes to the master asynchronously: read until EIO says the replica side
  // is drained and closed (bounded, in case a stray grandchild still holds it), or the tail of a
  // dying container's last message would be lost.
  void close_output(Container& c) {
    const auto deadline = Clock::now() + 500ms;
    while (c.output) {
      read_output(c);
      if (!c.output || Clock::now() >= deadline) break;
      pollfd pending{.fd = c.output.get(), .events = POLLIN, .revents = 0};
      ::poll(&pending, 1, 20);
    }
    if (!c.partial_line.empty()) emit(c.plan->name, c.partial_line);
    c.partial_line.clear();
    c.output.reset();
  }

  const PodPlan& plan_;
  UniqueFd signals_;
  std::vector<Container> containers_;
  bool terminating_ = false;
};

// ---------------------------------------------------------------------------------------------

Flags parse_flags(int argc, char** argv, bool& help) {
  Flags flags;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--help" || arg == "-h") {
      help = true;
      return flags;
    }
    if (i + 1 >= argc) throw UnsupportedPod("flag " + arg + " needs a value (see --help)");
    const std::string value = argv[++i];
    if (arg == "--pod") {
      flags.pod_file = value;
    } else if (arg == "--bin-dir") {
      flags.bin_dir = value;
    } else if (arg == "--image") {
      const auto equals = value.find('=');
      if (equals == std::string::npos || equals == 0 || equals + 1 == value.size()) {
        throw UnsupportedPod("--image " + value + ": expected REPOSITORY=PROGRAM");
      }
      flags.image_programs[value.substr(0, equals)] = value.substr(equals + 1);
    } else {
      throw UnsupportedPod("unknown flag " + arg + " (see --help)");
    }
  }
  if (flags.pod_file.empty() || flags.bin_dir.empty()) {
    throw UnsupportedPod("--pod and --bin-dir are required (see --help)");
  }
  // Containers start in their workingDir (default /), so their binaries need absolute paths.
  flags.bin_dir = std::filesystem::absolute(flags.bin_dir).lexically_normal().string();
  return flags;
}

json read_pod(const std::string& file) {
  std::ifstream in;
  if (file != "-") {
    in.open(file);
    if (!in) throw UnsupportedPod("cannot read " + file + ": " + errno_text(errno));
  }
  try {
    return json::parse(file == "-" ? std::cin : in);
  } catch (const json::exception& error) {
    throw UnsupportedPod(file + " is not JSON (kubectl get pod NAME -o json): " + error.what());
  }
}

int run(int argc, char** argv) {
  bool help = false;
  Flags flags;
  PodPlan plan;
  std::optional<gid_t> fs_group;
  try {
    flags = parse_flags(argc, argv, help);
    if (help) {
      std::cout << kUsage;
      return kExitOk;
    }
    const json pod = read_pod(flags.pod_file);
    plan = plan_pod(pod, flags);
    if (auto group = int_member(member(member(pod, "spec"), "securityContext"), "fsGroup")) {
      fs_group = static_cast<gid_t>(*group);
    }
  } catch (const UnsupportedPod& error) {
    std::cerr << "ipcmesh-local-pod: " << error.what() << "\n";
    return kExitUsage;
  }
  if (::geteuid() != 0) {
    std::cerr << "ipcmesh-local-pod: needs root: it creates IPC, mount, network and UTS "
                 "namespaces, mounts tmpfs and mqueue, and runs containers as their users\n";
    return kExitFailure;
  }
  try {
    // Signals are taken synchronously through a signalfd; children unblock them before exec.
    sigset_t handled;
    sigemptyset(&handled);
    for (int signal_number : {SIGCHLD, SIGTERM, SIGINT, SIGHUP}) sigaddset(&handled, signal_number);
    if (::sigprocmask(SIG_BLOCK, &handled, nullptr) != 0) fail_system("sigprocmask");
    UniqueFd signals(::signalfd(-1, &handled, SFD_CLOEXEC | SFD_NONBLOCK));
    if (!signals) fail_system("signalfd");

    note("Pod " + plan.namespace_name + "/" + plan.name +
         ": running its containers as local processes (a stand-in for a kubelet, demo only)");
    for (const auto& text : plan.notes) note(text);
    enter_sandbox(plan, fs_group);
    note("sandbox: private IPC, mount, network (loopback only) and UTS namespaces, runner pid " +
         std::to_string(::getpid()));
    LocalPod pod(plan, std::move(signals));
    return pod.run();
  } catch (const std::exception& error) {
    note(std::string("error: ") + error.what());
    std::cerr << "ipcmesh-local-pod: " << error.what() << "\n";
    return kExitFailure;
  }
}

}  // namespace
}  // namespace ipcmesh::demo

int main(int argc, char** argv) {
  return ipcmesh::demo::run(argc, argv);
}
