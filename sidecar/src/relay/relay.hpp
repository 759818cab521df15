// The relay's life: serve health endpoints, claim and create every channel
// (waiting while a live relay still owns one), become ready, wait for
// SIGTERM/SIGINT, drain, unlink, exit.
#pragma once

#include <spdlog/logger.h>

#include <atomic>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "ipcmesh/channel_spec.hpp"
#include "relay/hosted_channel.hpp"
#include "relay/http_server.hpp"
#include "relay/ready_file.hpp"
#include "relay/relay_metrics.hpp"
#include "relay/relay_options.hpp"
#include "relay/ring_fault_guard.hpp"
#include "relay/shutdown_signals.hpp"

namespace ipcmesh::relay {

enum class RelayPhase : std::uint8_t { kStarting, kReady, kDraining };

class Relay {
 public:
  Relay(ChannelSet channels, RelayOptions options, std::shared_ptr<spdlog::logger> logger,
        const ShutdownSignals& signals, RingFaultGuard& fault_guard);
  Relay(const Relay&) = delete;
  Relay& operator=(const Relay&) = delete;
  ~Relay();

  // Runs until a shutdown signal; returns the process exit code (0 clean, 1
  // failure).
  int run();

  // Where POSIX ownership locks live (beside the shm objects); tests may point
  // it elsewhere.
  std::string lock_directory = "/dev/shm";

 private:
  // /healthz, /readyz and /metrics.
  HttpResponse serve(std::string_view path);
  bool create_channels();  // false: a signal arrived or creation failed (see failed_)
  // One channel: claim and create it, follow its owner (Node), or wait while a
  // live relay owns it. False: a signal arrived or creation failed (see
  // failed_).
  bool create_channel(const ChannelSpec& spec, std::optional<MemberLock>& members);
  // Writes the ready file and waits for a shutdown signal; nullopt when it
  // could not be written.
  std::optional<ReadyFile> serve_until_shutdown();
  // Drains, stops the bridges and the server, and unlinks what no app still
  // uses.
  void stop(std::optional<ReadyFile>& ready_file, HttpServer& server);
  // Waits for a shutdown signal; meanwhile a follower retries taking over its
  // channels.
  int wait_for_shutdown();
  // scope: Node: the objects exist (another Pod's relay owns them), so this
  // relay may follow.
  static bool objects_exist(const ChannelSpec& spec);
  // Takes over the channels whose owner is gone (adopting their objects).
  void take_over_followed_channels();
  void drain();
  // At shutdown: true (and the names released) when apps are still attached to
  // the ring.
  bool keep_for_attached_apps(HostedChannel& channel);
  std::string ready_document() const;
  // Why a hosted ring is unusable (a foreign program truncated it), checked
  // now; empty when every ring is intact. Takes table_.mutex.
  std::string corrupted_ring() const;

  ChannelSet set_;
  RelayOptions options_;
  std::shared_ptr<spdlog::logger> logger_;
  const ShutdownSignals& signals_;
  RingFaultGuard& fault_guard_;
  ChannelTable table_;
  RelayMetrics metrics_;
  std::atomic<RelayPhase> phase_{RelayPhase::kStarting};
  std::atomic<bool> failed_{false};
  std::string waiting_for_;  // guarded by table_.mutex: why /readyz says 503
  // scope: Node channels another relay of the node owns: this relay is ready
  // with them and takes one over (adopting it) when its owner goes. Touched by
  // the main thread only.
  struct Followed {
    ChannelSpec spec;
    MemberLock members;
  };
  std::vector<Followed> followed_;
  std::uint16_t port_ = 0;
};

}  // namespace ipcmesh::relay
