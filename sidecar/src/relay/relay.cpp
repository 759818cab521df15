#include "relay/relay.hpp"

#include <signal.h>
#include <unistd.h>

#include <nlohmann/json.hpp>
#include <thread>

#include "relay/duration.hpp"
#include "relay/http_server.hpp"
#include "relay/ready_file.hpp"

namespace ipcmesh::relay {
namespace {

// While a live relay still owns a channel (e.g. the old container of a
// restarting Pod has not exited yet), retry this often. Only during start-up; a
// ready relay never polls.
constexpr auto kOwnershipRetry = std::chrono::milliseconds(500);
// How often the drain re-reads subscriber lag; only during the grace period.
constexpr auto kDrainCheck = std::chrono::milliseconds(50);

std::string_view phase_text(RelayPhase phase) {
  switch (phase) {
    case RelayPhase::kStarting:
      return "starting";
    case RelayPhase::kReady:
      return "ready";
    case RelayPhase::kDraining:
      return "draining";
  }
  return "unknown";
}

}  // namespace

Relay::Relay(ChannelSet channels, RelayOptions options, std::shared_ptr<spdlog::logger> logger,
             const ShutdownSignals& signals, RingFaultGuard& fault_guard)
    : set_(std::move(channels)),
      options_(std::move(options)),
      logger_(std::move(logger)),
      signals_(signals),
      fault_guard_(fault_guard),
      metrics_(table_) {}

std::string Relay::corrupted_ring() const {
  std::lock_guard lock(table_.mutex);
  for (const auto& channel : table_.channels) {
    if (!channel->ring_intact()) {
      return "channel " + channel->spec.id.namespace_name + "/" + channel->spec.id.name + ": " +
             channel->ring_problem();
    }
  }
  return {};
}

Relay::~Relay() = default;

HttpResponse Relay::serve(std::string_view path) {
  if (path == kRelayHealthzPath) {
    return {200, "text/plain; charset=utf-8", "ok\n"};
  }
  if (path == kRelayReadyzPath) {
    const RelayPhase phase = phase_.load();
    if (phase == RelayPhase::kReady) {
      // Each probe looks at the rings (one fstat each): a truncated one is
      // reported here.
      if (const std::string corrupted = corrupted_ring(); !corrupted.empty()) {
        return {503, "text/plain; charset=utf-8", "corrupted: " + corrupted + "\n"};
      }
      return {200, "text/plain; charset=utf-8", "ready\n"};
    }
    std::lock_guard lock(table_.mutex);
    return {
        503, "text/plain; charset=utf-8",
        std::string(phase_text(phase)) + (waiting_for_.empty() ? "" : ": " + waiting_for_) + "\n"};
  }
  if (path == kRelayMetricsPath) {
    metrics_.count_scrape();
    metrics_.set_ready(phase_.load() == RelayPhase::kReady && corrupted_ring().empty());
    return {200, "text/plain; version=0.0.4; charset=utf-8", metrics_.render()};
  }
  return {404, "text/plain; charset=utf-8",
          "not found (try " + std::string(kRelayHealthzPath) + ", " +
              std::string(kRelayReadyzPath) + ", " + std::string(kRelayMetricsPath) + ")\n"};
}

int Relay::run() {
  // A ready file left by a relay that crashed would tell apps the channels
  // exist: they do not yet.
  const std::string stale_ready = options_.control_dir + "/" + std::string(kReadyFileName);
  if (::unlink(stale_ready.c_str()) == 0) {
    logger_->warn("removed stale ready file {} left by a relay that is gone", stale_ready);
  }
  const std::uint16_t wanted_port =
      options_.metrics_port.value_or(set_.channels.front().metrics_port);
  auto server = HttpServer::bind(options_.listen_host, wanted_port);
  if (!server) {
    logger_->error("cannot serve metrics: {}", server.error().message);
    return 1;
  }
  port_ = server->port();
  server->start([this](std::string_view, std::string_view path) { return serve(path); });
  logger_->info("serving {} {} {} on {}:{}", kRelayHealthzPath, kRelayReadyzPath, kRelayMetricsPath,
                options_.listen_host, port_);
  std::optional<ReadyFile> ready_file =
      create_channels() ? serve_until_shutdown() : std::optional<ReadyFile>();
  stop(ready_file, *server);
  return failed_ ? 1 : 0;
}

std::optional<ReadyFile> Relay::serve_until_shutdown() {
  auto written = ReadyFile::write(options_.control_dir, ready_document());
  if (!written) {
    logger_->error("cannot write ready file: {}", written.error().message);
    failed_ = true;
    return std::nullopt;
  }
  phase_ = RelayPhase::kReady;
  metrics_.set_ready(true);
  logger_->info("ready: {} channel(s), ready file {}", set_.channels.size(), written->path());
  const int signal_number = wait_for_shutdown();
  // An owner that left just now kept the objects for us: take them over, so
  // that they are removed below if nobody else is left, instead of staying on
  // the node.
  take_over_followed_channels();
  logger_->info("received {}, draining for up to {}", strsignal(signal_number),
                format_duration(options_.grace_period));
  return std::move(*written);
}

void Relay::stop(std::optional<ReadyFile>& ready_file, HttpServer& server) {
  // Stop accepting: not ready any more, apps waiting for the ready file see it
  // gone.
  phase_ = RelayPhase::kDraining;
  metrics_.set_ready(false);
  if (ready_file) {
    ready_file->remove();
    drain();
  }
  {
    std::lock_guard lock(table_.mutex);
    for (auto& channel : table_.channels) {
      if (channel->bridge) {
        channel->bridge->stop();
      }
    }
  }
  server.stop();
  std::size_t kept = 0;
  std::size_t removed = 0;
  {
    std::lock_guard lock(table_.mutex);
    for (auto& channel : table_.channels) {
      kept += keep_for_attached_apps(*channel) ? 1 : 0;
    }
    removed = table_.channels.size() - kept;
    table_.channels.clear();  // unlinks the objects not kept, then drops the
                              // ownership locks
  }
  logger_->info("stopped: unlinked the objects of {} channel(s), kept {}", removed, kept);
}

bool Relay::keep_for_attached_apps(HostedChannel& channel) {
  // A SIGTERM while apps are still attached is a restart (a failed liveness
  // probe), not the end of the Pod: the kubelet stops a native sidecar only
  // after the apps. Unlinking now would split the Pod between the old objects
  // and the next relay's new ones, so they stay for the next relay to adopt
  // (docs/relay.md). Other relays of the node still serve this node channel:
  // one of them takes it over.
  if (channel.members && !channel.members->last_one_out()) {
    if (channel.shm) channel.shm->release_name();
    if (channel.queue) channel.queue->release_name();
    logger_->info("keeping channel {}/{}: other relays of the node still serve it",
                  channel.spec.id.namespace_name, channel.spec.id.name);
    return true;
  }
  if (!channel.shm) return false;
  channel.bridge.reset();  // its own publisher or subscriber must not count as an app
  if (!channel.ring_intact()) {
    // Nobody can use a truncated ring: the next relay creates a new one, and
    // the apps move to it.
    logger_->warn("removing corrupted {}: {}", channel.spec.shm_name(), channel.ring_problem());
    return false;
  }
  channel.shm->reap_dead_peers();
  const ChannelStats stats = channel.shm->stats();
  if (stats.subscribers.empty() && stats.producers == 0) return false;
  channel.shm->release_name();
  if (channel.queue) channel.queue->release_name();
  logger_->warn(
      "keeping {}{}: {} subscriber(s) and {} producer(s) are still "
      "attached, so this is a restart "
      "and not the Pod's end; the next relay adopts them",
      channel.spec.shm_name(), channel.queue ? " and " + channel.queue->name() : "",
      stats.subscribers.size(), stats.producers);
  return true;
}

int Relay::wait_for_shutdown() {
  while (!followed_.empty()) {
    if (auto signal_number = signals_.wait(kOwnershipRetry)) return *signal_number;
    take_over_followed_channels();
  }
  return signals_.wait();
}

bool Relay::objects_exist(const ChannelSpec& spec) {
  return (!spec.shared_memory || ShmChannel::open(spec.shm_name())) &&
         (!spec.message_queue || MessageQueue::open(spec.mq_name()));
}

void Relay::take_over_followed_channels() {
  for (auto it = followed_.begin(); it != followed_.end();) {
    auto claimed = claim_channel(it->spec, lock_directory);
    if (!claimed) {
      ++it;
      continue;
    }
    auto channel = std::make_unique<HostedChannel>(std::move(*claimed));
    channel->members.emplace(std::move(it->members));
    logger_->info("channel {}/{}: its owner is gone; taking it over", it->spec.id.namespace_name,
                  it->spec.id.name);
    if (auto created = create_channel_objects(*channel, fault_guard_, logger_); !created) {
      logger_->error("{}", created.error().message);
    }
    std::lock_guard lock(table_.mutex);
    table_.channels.push_back(std::move(channel));
    it = followed_.erase(it);
  }
}

bool Relay::create_channels() {
  for (const ChannelSpec& spec : set_.channels) {
    std::optional<MemberLock> members;
    if (spec.scope == Scope::kNode) {
      auto joined = MemberLock::join(
          member_lock_path(spec.shared_memory ? spec.shm_name() : spec.mq_name(), lock_directory));
      if (!joined) {
        logger_->error("channel {}/{}: {}", spec.id.namespace_name, spec.id.name,
                       joined.error().message);
        failed_ = true;
        return false;
      }
      members.emplace(std::move(*joined));
    }
    if (!create_channel(spec, members)) return false;
  }
  return true;
}

bool Relay::create_channel(const ChannelSpec& spec, std::optional<MemberLock>& members) {
  bool logged_wait = false;
  for (;;) {
    auto claimed = claim_channel(spec, lock_directory);
    if (claimed) {
      auto channel = std::make_unique<HostedChannel>(std::move(*claimed));
      if (members) channel->members.emplace(std::move(*members));
      auto created = create_channel_objects(*channel, fault_guard_, logger_);
      if (!created) {
        logger_->error("{}", created.error().message);
        failed_ = true;
      }
      std::lock_guard lock(table_.mutex);
      table_.channels.push_back(std::move(channel));  // a failed one is unlinked with the rest
      if (created) waiting_for_.clear();
      return created.has_value();
    }
    if (claimed.error().code != ErrorCode::kAlreadyExists) {
      logger_->error("channel {}/{}: {}", spec.id.namespace_name, spec.id.name,
                     claimed.error().message);
      failed_ = true;
      return false;
    }
    // Another Pod's relay on this node owns a node channel that exists: follow
    // it (ready now, take over when it goes).
    if (members && objects_exist(spec)) {
      logger_->info("channel {}/{}: following the relay that {}", spec.id.namespace_name,
                    spec.id.name, claimed.error().message);
      followed_.push_back(Followed{spec, std::move(*members)});
      std::lock_guard lock(table_.mutex);
      waiting_for_.clear();
      return true;
    }
    // A live relay owns it: never touch its objects; wait until it is gone or
    // we are told to stop.
    {
      std::lock_guard lock(table_.mutex);
      waiting_for_ = "channel " + spec.id.name + " " + claimed.error().message;
    }
    if (!logged_wait) {
      logger_->warn("waiting: channel {}/{} is {}", spec.id.namespace_name, spec.id.name,
                    claimed.error().message);
      logged_wait = true;
    }
    if (auto signal_number = signals_.wait(kOwnershipRetry)) {
      logger_->info("received {} before ready", strsignal(*signal_number));
      return false;
    }
  }
}

void Relay::drain() {
  // Wait until every subscriber has released everything published (lag 0),
  // every mq->shm bridge has emptied its queue, and no bridge holds a message,
  // or the grace period ends.
  const auto deadline = std::chrono::steady_clock::now() + options_.grace_period;
  for (;;) {
    std::string pending;
    {
      std::lock_guard lock(table_.mutex);
      for (const auto& channel : table_.channels) {
        if (channel->shm && channel->ring_intact()) {
          for (const SubscriberStats& subscriber : channel->shm->stats().subscribers) {
            if (subscriber.lag_bytes > 0) {
              pending = channel->spec.shm_name() + " subscriber pid " +
                        std::to_string(subscriber.pid) + " lags " +
                        std::to_string(subscriber.lag_bytes) + " bytes";
            }
          }
        }
        // A bridge stopped on a corrupted ring drains nothing any more.
        if (channel->bridge && channel->bridge->direction() == BridgeDirection::kMqToShm &&
            channel->ring_intact() && channel->queue->current_messages() > 0) {
          pending = channel->queue->name() + " still holds messages for the bridge";
        }
        if (channel->bridge && !channel->bridge->idle()) {
          pending = channel->spec.id.name + " bridge is forwarding";
        }
      }
    }
    if (pending.empty()) {
      logger_->info("drained");
      return;
    }
    if (std::chrono::steady_clock::now() >= deadline) {
      logger_->warn("grace period over before drain finished: {}", pending);
      return;
    }
    std::this_thread::sleep_for(kDrainCheck);
  }
}

std::string Relay::ready_document() const {
  nlohmann::json channels = nlohmann::json::array();
  for (const ChannelSpec& spec : set_.channels) {
    nlohmann::json entry = {{"namespace", spec.id.namespace_name}, {"name", spec.id.name}};
    if (spec.shared_memory) {
      entry["shm"] = spec.shm_name();
    }
    if (spec.message_queue) {
      entry["mq"] = spec.mq_name();
    }
    channels.push_back(std::move(entry));
  }
  const nlohmann::json document = {{"pid", ::getpid()},
                                   {"metricsPort", port_},
                                   {"version", IPCMESH_VERSION},
                                   {"channels", std::move(channels)}};
  return document.dump() + "\n";
}

}  // namespace ipcmesh::relay
