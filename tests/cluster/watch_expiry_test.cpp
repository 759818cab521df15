// A watch whose resourceVersion etcd has compacted away gets 410 Expired, and the operator's
// informers relist without losing what happened meanwhile: Pods deleted and created, a channel
// created, another one's spec changed.
//
// What exactly triggers the 410 here. The control plane's kube-apiserver serves every watch from
// its watch cache, which keeps at least 75 s of events in memory whatever etcd compacted: there,
// compacting etcd does not expire a watch, and a stalled client's open watch is just buffered
// (the second test shows that path). So, for the 410:
//  - the operator talks to a second kube-apiserver on the same etcd, started by this test with
//    --watch-cache=false, which serves each watch straight from an etcd watch;
//  - through a TCP proxy the test controls, so that the operator's connections can be cut;
//  - the operator is frozen (SIGSTOP), its connections are cut, the cluster changes, a few more
//    etcd revisions are written and etcd is compacted at the newest revision (v3 HTTP gateway);
//  - on SIGCONT the operator finds its watches closed and re-watches from the resourceVersions it
//    had; etcd answers "required revision has been compacted", which the API server returns as a
//    410 Expired ERROR event ("The resourceVersion for the provided watch is too old."). The test
//    proves the relist from the operator's log and ipcmesh_watch_restarts_total, and the absence
//    of lost events from the channels' statuses.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <list>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <regex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "cluster.hpp"
#include "ipc_objects.hpp"

namespace ipcmesh::cluster {
namespace {

using nlohmann::json;

// A loopback TCP forwarder whose open connections can be cut at once (sever()); new connections
// are always accepted and forwarded to 127.0.0.1:upstream_port. TLS passes through untouched.
class SeverableProxy {
 public:
  explicit SeverableProxy(int upstream_port) : upstream_port_(upstream_port) {
    listen_fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t length = sizeof address;
    if (listen_fd_ < 0 || ::bind(listen_fd_, reinterpret_cast<sockaddr*>(&address), length) != 0 ||
        ::listen(listen_fd_, 64) != 0 ||
        ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&address), &length) != 0 ||
        ::pipe2(wake_, O_CLOEXEC) != 0) {
      const std::string reason = std::strerror(errno);
      if (listen_fd_ >= 0) ::close(listen_fd_);
      throw std::runtime_error("proxy: listen on loopback: " + reason);
    }
    port_ = ntohs(address.sin_port);
    acceptor_ = std::thread([this] { accept_loop(); });
  }
  ~SeverableProxy() {
    stopping_ = true;
    const char byte = 0;
    (void)!::write(wake_[1], &byte, 1);
    acceptor_.join();
    sever();
    for (auto& pump : pumps_) pump.join();
    ::close(listen_fd_);
    ::close(wake_[0]);
    ::close(wake_[1]);
  }
  SeverableProxy(const SeverableProxy&) = delete;
  SeverableProxy& operator=(const SeverableProxy&) = delete;

  int port() const { return port_; }

  // Shuts both sides of every open connection down; returns how many there were.
  int sever() {
    std::lock_guard lock(mutex_);
    for (const Connection& connection : connections_) {
      ::shutdown(connection.client, SHUT_RDWR);
      ::shutdown(connection.upstream, SHUT_RDWR);
    }
    return static_cast<int>(connections_.size());
  }

 private:
  struct Connection {
    int client;
    int upstream;
  };

  void accept_loop() {
    while (!stopping_) {
      pollfd fds[2] = {{listen_fd_, POLLIN, 0}, {wake_[0], POLLIN, 0}};
      if (::poll(fds, 2, -1) < 0 || (fds[1].revents & POLLIN) != 0) continue;
      const int client = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
      if (client < 0) continue;
      const int upstream = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
      sockaddr_in address{};
      address.sin_family = AF_INET;
      address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
      address.sin_port = htons(static_cast<std::uint16_t>(upstream_port_));
      if (upstream < 0 ||
          ::connect(upstream, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0) {
        if (upstream >= 0) ::close(upstream);
        ::close(client);
        continue;
      }
      std::list<Connection>::iterator entry;
      {
        std::lock_guard lock(mutex_);
        entry = connections_.insert(connections_.end(), {client, upstream});
      }
      pumps_.emplace_back([this, entry] { pump(entry); });
    }
  }

  // Copies bytes both ways until either side closes or the connection is severed.
  void pump(std::list<Connection>::iterator entry) {
    const int client = entry->client;
    const int upstream = entry->upstream;
    char buffer[64 * 1024];
    for (bool open = true; open;) {
      pollfd fds[2] = {{client, POLLIN, 0}, {upstream, POLLIN, 0}};
      if (::poll(fds, 2, -1) < 0) {
        if (errno == EINTR) continue;
        break;
      }
      for (int i = 0; i < 2 && open; ++i) {
        if (fds[i].revents == 0) continue;
        const int from = fds[i].fd;
        const int to = from == client ? upstream : client;
        const ssize_t got = ::read(from, buffer, sizeof buffer);
        if (got <= 0) {
          open = false;
          break;
        }
        for (ssize_t sent = 0; sent < got;) {
          const ssize_t n =
              ::send(to, buffer + sent, static_cast<std::size_t>(got - sent), MSG_NOSIGNAL);
          if (n <= 0) {
            open = false;
            break;
          }
          sent += n;
        }
      }
    }
    std::lock_guard lock(mutex_);
    ::close(client);
    ::close(upstream);
    connections_.erase(entry);
  }

  int upstream_port_;
  int port_ = 0;
  int listen_fd_ = -1;
  int wake_[2] = {-1, -1};
  std::atomic<bool> stopping_{false};
  std::mutex mutex_;
  std::list<Connection> connections_;
  std::vector<std::thread> pumps_;  // touched by the acceptor thread only, then by ~SeverableProxy
  std::thread acceptor_;
};

// A second kube-apiserver on the control plane's etcd and PKI that serves watches from etcd
// directly (--watch-cache=false). Same flags as control-plane.sh otherwise; it reconciles no
// `kubernetes` Service endpoints, so stopping it leaves the main API server's untouched.
class EtcdDirectApiServer {
 public:
  EtcdDirectApiServer() : port_(free_port()) {
    const ControlPlane& plane = ClusterEnvironment::control_plane();
    const std::string pki = plane.dir + "/pki";
    const std::string cert_dir = plane.dir + "/etcd-direct-apiserver";
    std::filesystem::create_directories(cert_dir);
    log_file_ = plane.dir + "/logs/etcd-direct-apiserver.log";
    std::vector<std::string> argv = {plane.tools_bin + "/kube-apiserver"};
    for (const auto& [flag, value] : std::vector<std::pair<std::string, std::string>>{
             {"etcd-servers", plane.etcd_url},
             {"watch-cache", "false"},  // why this server exists
             {"endpoint-reconciler-type", "none"},
             {"bind-address", "127.0.0.1"},
             {"advertise-address", "127.0.0.1"},
             {"secure-port", std::to_string(port_)},
             {"cert-dir", cert_dir},
             {"tls-cert-file", pki + "/apiserver.crt"},
             {"tls-private-key-file", pki + "/apiserver.key"},
             {"client-ca-file", pki + "/ca.crt"},
             {"service-account-issuer", "https://kubernetes.default.svc"},
             {"service-account-key-file", pki + "/sa.pub"},
             {"service-account-signing-key-file", pki + "/sa.key"},
             {"service-cluster-ip-range", "10.0.0.0/24"},
             {"authorization-mode", "RBAC"},
             {"allow-privileged", "true"},
             {"profiling", "false"},
             {"v", "1"}}) {
      argv.push_back("--" + flag + "=" + value);
    }
    process_ = BackgroundProcess(argv, log_file_);
  }

  int port() const { return port_; }
  void wait_ready() {
    const bool ready = eventually(
        [&] {
          return kubectl({"--server", "https://127.0.0.1:" + std::to_string(port_), "get", "--raw",
                          "/readyz"})
                     .ok() ||
                 !process_.running();
        },
        std::chrono::seconds(120));
    if (!ready || !process_.running()) {
      ADD_FAILURE() << "the etcd-direct kube-apiserver did not become ready; log tail:\n"
                    << run_command({"tail", "-n", "30", log_file_}).out;
      throw std::runtime_error("etcd-direct kube-apiserver not ready");
    }
  }

 private:
  int port_;
  std::string log_file_;
  BackgroundProcess process_;
};

// The operator's kubeconfig (the chart's ServiceAccount token) with another server address (the
// proxy in front of the second server).
std::string kubeconfig_for_port(int port) {
  const ControlPlane& plane = ClusterEnvironment::control_plane();
  const std::string text = read_file(plane.operator_kubeconfig);
  const std::string rewritten =
      std::regex_replace(text, std::regex("server: https://127\\.0\\.0\\.1:[0-9]+"),
                         "server: https://127.0.0.1:" + std::to_string(port));
  if (rewritten == text) throw std::runtime_error("no server line in " + plane.operator_kubeconfig);
  const std::string file = plane.dir + "/kubeconfig-via-proxy-" + std::to_string(port);
  std::ofstream(file) << rewritten;
  return file;
}

// etcd's v3 JSON gateway (grpc-gateway: int64 as strings, keys base64).
json etcd_post(const std::string& path, const json& body) {
  const CommandResult result =
      run_command({"curl", "-sf", "-m", "30", "-X", "POST", "-d", body.dump(),
                   ClusterEnvironment::control_plane().etcd_url + path});
  if (!result.ok()) throw std::runtime_error("etcd " + path + " failed: " + result.err);
  return json::parse(result.out);
}

std::string base64(const std::string& text) {
  return run_command({"base64", "-w0"}, text).out;
}

std::int64_t etcd_revision() {
  const json answer = etcd_post("/v3/kv/range", {{"key", base64("/ipcmesh-test/revision")}});
  return std::stoll(answer.at("header").at("revision").get<std::string>());
}

// Writes `count` revisions no API server watches (outside /registry), then removes the key.
void write_unwatched_revisions(int count) {
  const std::string key = base64("/ipcmesh-test/churn");
  for (int i = 0; i < count; ++i) {
    etcd_post("/v3/kv/put", {{"key", key}, {"value", base64(std::to_string(i))}});
  }
  etcd_post("/v3/kv/deleterange", {{"key", key}});
}

// Keeps the operator frozen (SIGSTOP) for this object's lifetime.
class Frozen {
 public:
  explicit Frozen(pid_t pid) : pid_(pid) {
    if (::kill(pid_, SIGSTOP) != 0) throw std::runtime_error("SIGSTOP failed");
  }
  ~Frozen() { ::kill(pid_, SIGCONT); }
  Frozen(const Frozen&) = delete;
  Frozen& operator=(const Frozen&) = delete;

 private:
  pid_t pid_;
};

int count_of(const std::string& text, const std::string& part) {
  int count = 0;
  for (std::size_t at = text.find(part); at != std::string::npos; at = text.find(part, at + 1)) {
    ++count;
  }
  return count;
}

// The main API server's port, from the admin kubeconfig.
int main_apiserver_port() {
  const std::string text = read_file(ClusterEnvironment::control_plane().kubeconfig);
  std::smatch match;
  if (!std::regex_search(text, match, std::regex("server: https://127\\.0\\.0\\.1:([0-9]+)"))) {
    throw std::runtime_error("no server line in the admin kubeconfig");
  }
  return std::stoi(match[1].str());
}

class WatchExpiry : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    apiserver_ = std::make_unique<EtcdDirectApiServer>();
    apiserver_->wait_ready();
  }
  static void TearDownTestSuite() { apiserver_.reset(); }
  void SetUp() override { ns_ = create_namespace("expiry"); }
  void TearDown() override { kubectl({"delete", "namespace", ns_, "--wait=false"}); }

  void apply(const std::string& manifest) { kubectl_ok({"apply", "-n", ns_, "-f", "-"}, manifest); }

  struct Outage {
    std::string log;  // what the operator logged from the freeze on
    double pod_watch_restarts = 0;
    std::int64_t compacted_at = 0;
  };

  // Runs the operator against 127.0.0.1:upstream_port through a proxy; freezes it, cuts its
  // connections, changes the cluster, compacts etcd past everything it has seen, thaws it, and
  // waits until the statuses show every change.
  Outage cut_watches_while_the_cluster_changes(int upstream_port) {
    SeverableProxy proxy(upstream_port);
    // No leader election: a frozen leader would lose its Lease and exit, which is another test.
    // No webhook either: a frozen webhook would hold every Pod creation for its timeout.
    OperatorProcess op({.identity = "watch-expiry-" + ns_,
                        .extra_flags = {"--kubeconfig", kubeconfig_for_port(proxy.port()),
                                        "--leader-elect=false"}});
    op.wait_ready();

    apply(channel_manifest("frames", "demo"));
    for (const char* name : {"before-1", "before-2", "before-3"}) apply(pod_manifest(name, "demo"));
    wait_for_counts(ns_, "frames", {1, 3, 0, 3}, op);

    const std::size_t log_offset = read_file(op.log_file()).size();
    const double restarts_before =
        metric_value(op.health_get("/metrics"), "ipcmesh_watch_restarts_total", "pods");
    Outage outage;
    {
      const Frozen frozen(op.pid());
      EXPECT_GE(proxy.sever(), 2) << "the operator's two watches were not open through the proxy";
      // What the operator must not miss: deletions, creations, a new channel, a spec change.
      kubectl_ok({"delete", "pod", "before-1", "before-2", "-n", ns_, "--wait=true"});
      for (const char* name : {"during-1", "during-2", "during-3"}) {
        apply(pod_manifest(name, "demo"));
      }
      apply(channel_manifest("late", "late"));
      for (const char* name : {"late-1", "late-2"}) apply(pod_manifest(name, "late"));
      kubectl_ok({"patch", "ipch", "frames", "-n", ns_, "--type", "merge", "-p",
                  R"({"spec":{"sharedMemory":{"size":"16Mi"}}})"});
      // A few revisions past the last Pod and channel event, so that every resourceVersion the
      // operator holds is strictly older than the compaction point.
      write_unwatched_revisions(3);
      outage.compacted_at = etcd_revision();
      etcd_post("/v3/kv/compaction",
                {{"revision", std::to_string(outage.compacted_at)}, {"physical", true}});
    }  // SIGCONT

    // Nothing was lost: every change made while the watches were gone shows in the statuses.
    wait_for_counts(ns_, "frames", {2, 4, 0, 4}, op, std::chrono::seconds(60));
    wait_for_counts(ns_, "late", {1, 2, 0, 2}, op, std::chrono::seconds(60));
    outage.log = read_file(op.log_file()).substr(log_offset);
    outage.pod_watch_restarts =
        metric_value(op.health_get("/metrics"), "ipcmesh_watch_restarts_total", "pods") -
        restarts_before;
    return outage;
  }

  static inline std::unique_ptr<EtcdDirectApiServer> apiserver_;
  std::string ns_;
};

bool saw_410(const std::string& log, const std::string& informer) {
  return std::regex_search(log, std::regex(informer + ": [^\n]*(\\(410\\), relisting|HTTP 410)"));
}

TEST_F(WatchExpiry, AWatchCompactedAwayGets410AndTheRelistLosesNoEvent) {
  const Outage outage = cut_watches_while_the_cluster_changes(apiserver_->port());
  for (const char* informer : {"pods", "ipcchannels"}) {
    EXPECT_TRUE(saw_410(outage.log, informer))
        << informer << " saw no 410 after etcd was compacted at revision " << outage.compacted_at
        << "; log since the freeze:\n"
        << outage.log;
    EXPECT_GE(count_of(outage.log, std::string(informer) + ": listed "), 1)
        << informer << " did not relist; log since the freeze:\n"
        << outage.log;
  }
  EXPECT_GE(outage.pod_watch_restarts, 1);
}

// The same outage against the main API server: its watch cache still holds the events after the
// operator's resourceVersion (it keeps 75 s of them, whatever etcd compacted), so the operator
// resumes its watches where it left off, without a 410 and without a relist, and loses nothing.
TEST_F(WatchExpiry, ACutWatchResumesFromTheWatchCacheAndLosesNoEvent) {
  const Outage outage = cut_watches_while_the_cluster_changes(main_apiserver_port());
  for (const char* informer : {"pods", "ipcchannels"}) {
    EXPECT_FALSE(saw_410(outage.log, informer)) << outage.log;
    EXPECT_EQ(count_of(outage.log, std::string(informer) + ": listed "), 0) << outage.log;
  }
  EXPECT_GE(outage.pod_watch_restarts, 1) << "the cut watch was never restarted";
}

}  // namespace
}  // namespace ipcmesh::cluster
