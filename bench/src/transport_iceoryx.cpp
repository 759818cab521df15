// iceoryx 2.0 (Debian's libiceoryx-posh-dev) as the zero-copy peer: untyped publisher and
// subscriber, loan -> write the stamp in place -> publish, take -> check -> release. Delivery is
// made lossless (WAIT_FOR_CONSUMER + BLOCK_PRODUCER) so that it can be verified like the others.
// "iceoryx" waits on a WaitSet (its blocking API), "iceoryx-poll" spins on take().
//
// The bench starts its own RouDi with a generated config whose mempools fit the message sizes
// (the built-in config has too few large chunks for a 256-deep queue of 64 KiB messages) and
// stops it when the run ends.
#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <thread>
#include <type_traits>

#include "environment.hpp"
#include "iceoryx_hoofs/log/logmanager.hpp"
#include "iceoryx_posh/iceoryx_posh_deployment.hpp"
#include "iceoryx_posh/mepoo/chunk_header.hpp"
#include "iceoryx_posh/popo/untyped_publisher.hpp"
#include "iceoryx_posh/popo/untyped_subscriber.hpp"
#include "iceoryx_posh/popo/wait_set.hpp"
#include "iceoryx_posh/runtime/posh_runtime.hpp"
#include "transport.hpp"
#include "transport_factories.hpp"

namespace ipcmesh::bench {
namespace {

using Clock = std::chrono::steady_clock;
constexpr auto kRouDiStartTimeout = std::chrono::seconds(15);
constexpr auto kRouDiStopTimeout = std::chrono::seconds(10);
constexpr auto kConnectTimeout = std::chrono::seconds(20);
constexpr std::uint64_t kQueueCapacity = 256;  // iceoryx's maximum subscriber queue
constexpr bool kOneToManyOnly =
    std::is_same_v<iox::build::CommunicationPolicy, iox::build::OneToManyPolicy>;

#ifdef IPCMESH_BENCH_ROUDI
constexpr const char* kRouDiPath = IPCMESH_BENCH_ROUDI;
#else
constexpr const char* kRouDiPath = "/usr/bin/iox-roudi";
#endif

iox::capro::IdString_t id_string(const std::string& text) {
  return iox::capro::IdString_t(iox::cxx::TruncateToCapacity, text.c_str(), text.size());
}

iox::capro::ServiceDescription topic(const std::string& tag, const char* direction) {
  return {id_string("ipcmesh-bench"), id_string(tag), id_string(direction)};
}

std::string file_tail(const std::string& path, std::size_t bytes) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  std::string all = text.str();
  if (all.size() > bytes) all = "..." + all.substr(all.size() - bytes);
  for (auto& c : all) {
    if (c == '\n') c = ' ';
  }
  return all;
}

// The RouDi daemon, started once for both iceoryx transports and stopped when both are gone.
class RouDi {
 public:
  ~RouDi() { stop(); }

  // Empty when RouDi is up (or was already started by us); the reason otherwise.
  std::string start(const std::vector<std::size_t>& sizes) {
    if (pid_ > 0) return {};
    if (!failure_.empty()) return failure_;
    failure_ = launch(sizes);
    return failure_;
  }

  void stop() {
    if (pid_ <= 0) return;
    kill(pid_, SIGTERM);
    const auto deadline = Clock::now() + kRouDiStopTimeout;
    int status = 0;
    while (waitpid(pid_, &status, WNOHANG) == 0) {
      if (Clock::now() > deadline) {
        kill(pid_, SIGKILL);
        waitpid(pid_, &status, 0);
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    pid_ = -1;
    std::error_code ignored;
    std::filesystem::remove_all(directory_, ignored);
  }

  nlohmann::json config() const { return config_; }

 private:
  std::string launch(const std::vector<std::size_t>& sizes) {
    if (access(kRouDiPath, X_OK) != 0) {
      return std::string(kRouDiPath) + " not found (apt-get install iceoryx)";
    }
    char pattern[] = "/tmp/ipcmesh-bench-roudi-XXXXXX";
    if (mkdtemp(pattern) == nullptr) return std::string("mkdtemp: ") + std::strerror(errno);
    directory_ = pattern;
    const std::string toml = directory_ + "/roudi.toml";
    const std::string log = directory_ + "/roudi.log";

    // One mempool per message size: chunks for a full 256-deep queue in each direction plus
    // slack, capped at 64 MiB per pool.
    std::set<std::size_t> payloads;
    for (const auto size : sizes) payloads.insert((size + 7) / 8 * 8);
    std::ofstream out(toml);
    out << "[general]\nversion = 1\n\n[[segment]]\n";
    nlohmann::json pools = nlohmann::json::array();
    for (const auto payload : payloads) {
      const std::size_t count =
          std::clamp<std::size_t>((64u << 20) / payload, 2 * kQueueCapacity + 64, 4096);
      out << "\n[[segment.mempool]]\nsize = " << payload << "\ncount = " << count << "\n";
      pools.push_back({{"payload_bytes", payload}, {"count", count}});
    }
    out.close();
    if (!out) return "cannot write " + toml;
    config_ = {{"roudi", kRouDiPath},
               {"mempools", pools},
               {"queue_capacity", kQueueCapacity},
               {"policies", "WAIT_FOR_CONSUMER / BLOCK_PRODUCER (lossless)"}};

    const pid_t pid = fork();
    if (pid < 0) return std::string("fork: ") + std::strerror(errno);
    if (pid == 0) {
      prctl(PR_SET_PDEATHSIG, SIGTERM);  // never outlive a bench that was killed
      raise_to_side_priority();          // the sides wait on it, also under --hog
      const int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
      if (fd >= 0) {
        dup2(fd, STDOUT_FILENO);
        dup2(fd, STDERR_FILENO);
      }
      execl(kRouDiPath, kRouDiPath, "-c", toml.c_str(), "-l", "info", static_cast<char*>(nullptr));
      _exit(127);
    }
    pid_ = pid;
    const auto deadline = Clock::now() + kRouDiStartTimeout;
    for (;;) {
      int status = 0;
      if (waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = -1;
        return "iox-roudi exited during start-up (status " + std::to_string(status) +
               "): " + file_tail(log, 400);
      }
      std::ifstream in(log);
      std::stringstream text;
      text << in.rdbuf();
      if (text.str().find("RouDi is ready for clients") != std::string::npos) return {};
      if (Clock::now() > deadline) {
        stop();
        return "iox-roudi did not report ready within 15 s: " + file_tail(log, 400);
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  }

  pid_t pid_ = -1;
  std::string failure_;
  std::string directory_;
  nlohmann::json config_;
};

class IceoryxEndpoint final : public Endpoint {
 public:
  IceoryxEndpoint(std::size_t size, bool busy_poll, bool fill)
      : size_(size), busy_poll_(busy_poll), fill_(fill) {}

  Result<void> connect(const std::string& tag, Pattern pattern, Side side) {
    const char* out = side == Side::kA ? "ab" : "ba";
    const char* in = side == Side::kA ? "ba" : "ab";
    const bool sends = pattern == Pattern::kPingPong || side == Side::kA;
    const bool receives = pattern == Pattern::kPingPong || side == Side::kB;
    if (sends) {
      iox::popo::PublisherOptions options;
      options.subscriberTooSlowPolicy = iox::popo::ConsumerTooSlowPolicy::WAIT_FOR_CONSUMER;
      publisher_ = std::make_unique<iox::popo::UntypedPublisher>(topic(tag, out), options);
    }
    if (receives) {
      iox::popo::SubscriberOptions options;
      options.queueCapacity = kQueueCapacity;
      options.queueFullPolicy = iox::popo::QueueFullPolicy::BLOCK_PRODUCER;
      subscriber_ = std::make_unique<iox::popo::UntypedSubscriber>(topic(tag, in), options);
      if (!busy_poll_) {
        waitset_ = std::make_unique<iox::popo::WaitSet<>>();
        if (waitset_->attachState(*subscriber_, iox::popo::SubscriberState::HAS_DATA).has_error()) {
          return make_error(ErrorCode::kSystem,
                            "iceoryx: cannot attach the subscriber to a WaitSet");
        }
      }
    }
    // Both directions must be connected before the first message, or it would be lost.
    const auto deadline = Clock::now() + kConnectTimeout;
    while (
        (publisher_ && !publisher_->hasSubscribers()) ||
        (subscriber_ && subscriber_->getSubscriptionState() != iox::SubscribeState::SUBSCRIBED)) {
      if (Clock::now() > deadline) {
        return make_error(ErrorCode::kTimeout, "iceoryx: publisher and subscriber did not connect");
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    return {};
  }

  ~IceoryxEndpoint() override {
    waitset_.reset();  // before the subscriber it watches
    subscriber_.reset();
    publisher_.reset();
  }

  Result<void> send(std::uint64_t seq, std::uint32_t flags) override {
    auto loaned = publisher_->loan(static_cast<std::uint32_t>(size_));
    if (loaned.has_error()) {
      return make_error(ErrorCode::kSystem,
                        "iceoryx loan failed (AllocationError " +
                            std::to_string(static_cast<int>(loaned.get_error())) + ")");
    }
    void* payload = loaned.value();
    write_stamp(static_cast<std::byte*>(payload), size_, seq, flags, fill_);
    publisher_->publish(payload);
    return {};
  }

  Result<Stamp> receive() override {
    for (;;) {
      auto taken = subscriber_->take();
      if (!taken.has_error()) {
        const void* payload = taken.value();
        const auto* header = iox::mepoo::ChunkHeader::fromUserPayload(payload);
        const Stamp stamp =
            read_stamp({static_cast<const std::byte*>(payload), header->userPayloadSize()});
        subscriber_->release(payload);
        return stamp;
      }
      if (taken.get_error() != iox::popo::ChunkReceiveResult::NO_CHUNK_AVAILABLE) {
        return make_error(ErrorCode::kSystem, "iceoryx take failed (too many chunks held)");
      }
      if (!busy_poll_) waitset_->wait();
    }
  }

 private:
  std::size_t size_;
  bool busy_poll_;
  bool fill_;
  std::unique_ptr<iox::popo::UntypedPublisher> publisher_;
  std::unique_ptr<iox::popo::UntypedSubscriber> subscriber_;
  std::unique_ptr<iox::popo::WaitSet<>> waitset_;
};

class IceoryxLink final : public Link {
 public:
  IceoryxLink(LinkSpec spec, bool busy_poll) : spec_(std::move(spec)), busy_poll_(busy_poll) {}

  Result<std::unique_ptr<Endpoint>> open(Side side) override {
    // One runtime per process (the forked side), registered with RouDi under a unique name.
    const std::string name = "ipcmesh-bench-" + std::to_string(getpid());
    // Debian's build logs every registration at debug level; keep the table readable.
    iox::log::LogManager::GetLogManager().SetDefaultLogLevel(
        iox::log::LogLevel::kWarn, iox::log::LogLevelOutput::kHideLogLevel);
    iox::runtime::PoshRuntime::initRuntime(
        iox::RuntimeName_t(iox::cxx::TruncateToCapacity, name.c_str(), name.size()));
    auto endpoint =
        std::make_unique<IceoryxEndpoint>(spec_.message_size, busy_poll_, spec_.fill_payload);
    if (auto r = endpoint->connect(spec_.tag, spec_.pattern, side); !r) {
      return tl::unexpected(r.error());
    }
    return std::unique_ptr<Endpoint>(std::move(endpoint));
  }

  nlohmann::json config() const override {
    return {{"service", "ipcmesh-bench/" + spec_.tag},
            {"wait", busy_poll_ ? "busy poll" : "WaitSet"}};
  }

 private:
  LinkSpec spec_;
  bool busy_poll_;
};

class IceoryxTransport final : public Transport {
 public:
  IceoryxTransport(std::shared_ptr<RouDi> roudi, bool busy_poll)
      : roudi_(std::move(roudi)), busy_poll_(busy_poll) {}

  std::string_view name() const override { return busy_poll_ ? "iceoryx-poll" : "iceoryx"; }
  std::string_view description() const override {
    return busy_poll_ ? "iceoryx 2.0 untyped pub/sub, loan/publish, subscriber busy-polls take()"
                      : "iceoryx 2.0 untyped pub/sub, loan/publish, subscriber waits on a WaitSet";
  }
  std::string start(const std::vector<std::size_t>& sizes) override { return roudi_->start(sizes); }
  // A publisher delivers every sample to each of its subscribers (up to 256). Several publishers
  // may offer one service unless iceoryx was built 1:n only (ONE_TO_MANY_ONLY); Debian's 2.0.3
  // is built n:m (CommunicationPolicy in iceoryx_posh_deployment.hpp).
  std::string group_limitation(const GroupShape& shape) const override {
    if (shape.producers > 1 && kOneToManyOnly) {
      return "this iceoryx is built 1:n only (ONE_TO_MANY_ONLY): one publisher per service";
    }
    return {};
  }
  Result<std::unique_ptr<Link>> prepare(const LinkSpec& spec) override {
    return std::make_unique<IceoryxLink>(spec, busy_poll_);
  }
  nlohmann::json config() const override { return roudi_->config(); }

 private:
  std::shared_ptr<RouDi> roudi_;
  bool busy_poll_;
};

}  // namespace

std::vector<std::unique_ptr<Transport>> make_iceoryx_transports() {
  auto roudi = std::make_shared<RouDi>();
  std::vector<std::unique_ptr<Transport>> transports;
  transports.push_back(std::make_unique<IceoryxTransport>(roudi, false));
  transports.push_back(std::make_unique<IceoryxTransport>(roudi, true));
  return transports;
}

}  // namespace ipcmesh::bench
