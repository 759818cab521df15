// The ipcmesh shared-memory channel through its public API, zero-copy: Publisher::loan -> write
// the stamp in place -> commit; Subscriber::receive -> check the view -> release. Ping-pong uses
// two channels (ping a->b, pong b->a). Policy Block, so nothing may be lost.
#include <unistd.h>

#include <algorithm>

#include "ipcmesh/shm_channel.hpp"
#include "transport.hpp"
#include "transport_factories.hpp"

namespace ipcmesh::bench {
namespace {

// Producer and subscriber table sizes: 4 in every pair measurement, more when a fan-out or fan-in
// needs them. Not more than needed: the publisher scans the subscriber table, so a larger one
// would change the pair's figures.
std::uint32_t table_size(std::uint32_t members) {
  return std::max<std::uint32_t>(4, members);
}

// One transport per wait mode, so that a run shows what each costs.
struct WaitVariant {
  WaitMode mode;
  const char* transport;
  const char* description;
};
constexpr WaitVariant kWaitVariants[] = {
    {WaitMode::kAdaptive, "ipcmesh-shm",
     "ipcmesh shm channel, default WaitMode::kAdaptive, zero-copy loan/commit"},
    {WaitMode::kSpinThenSleep, "ipcmesh-shm-spin",
     "ipcmesh shm channel, WaitMode::kSpinThenSleep (the default before rule W3: spin 50 us on "
     "every wait, then sleep), zero-copy loan/commit"},
    {WaitMode::kBusyPoll, "ipcmesh-shm-busy",
     "ipcmesh shm channel, WaitMode::kBusyPoll, zero-copy loan/commit"},
};

const WaitVariant& variant_of(WaitMode mode) {
  for (const auto& variant : kWaitVariants) {
    if (variant.mode == mode) return variant;
  }
  return kWaitVariants[0];
}

class ShmEndpoint final : public Endpoint {
 public:
  ShmEndpoint(std::size_t size, bool fill, std::vector<ShmChannel> channels,
              std::optional<Publisher> publisher, std::optional<Subscriber> subscriber)
      : size_(size),
        fill_(fill),
        channels_(std::move(channels)),
        publisher_(std::move(publisher)),
        subscriber_(std::move(subscriber)) {}

  ~ShmEndpoint() override {
    subscriber_.reset();  // detach before the mappings go
    publisher_.reset();
  }

  Result<void> send(std::uint64_t seq, std::uint32_t flags) override {
    auto loan = publisher_->loan(size_);
    if (!loan) return tl::unexpected(loan.error());
    write_stamp(loan->data().data(), size_, seq, flags, fill_);
    return publisher_->commit(std::move(*loan));
  }

  Result<Stamp> receive() override {
    auto view = subscriber_->receive();
    if (!view) return tl::unexpected(view.error());
    const Stamp stamp = read_stamp(view->data);
    if (view->missed_before != 0)
      return make_error(ErrorCode::kOverrun, "messages missed under Block");
    if (auto r = subscriber_->release(); !r) return tl::unexpected(r.error());
    return stamp;
  }

 private:
  std::size_t size_;
  bool fill_;
  std::vector<ShmChannel> channels_;  // keeps the mappings alive
  std::optional<Publisher> publisher_;
  std::optional<Subscriber> subscriber_;
};

class ShmLink final : public Link {
 public:
  ShmLink(std::vector<ShmChannel> channels, std::size_t size, std::uint64_t ring, WaitMode mode,
          bool fill, GroupShape group)
      : channels_(std::move(channels)),
        size_(size),
        ring_(ring),
        mode_(mode),
        fill_(fill),
        group_(group) {}

  Result<std::unique_ptr<Endpoint>> open(Side side) override {
    // A publishes on channel 0 (a->b) and subscribes to channel 1 (b->a); B the reverse.
    const std::size_t out = side == Side::kA ? 0 : 1;
    const std::size_t in = side == Side::kA ? 1 : 0;
    std::vector<ShmChannel> mapped;
    std::optional<Publisher> publisher;
    std::optional<Subscriber> subscriber;
    // Map by name, as a separate program would, rather than reuse the parent's mapping.
    const auto map = [&](std::size_t index) -> Result<ShmChannel*> {
      auto channel = ShmChannel::open(channels_[index].name());
      if (!channel) return tl::unexpected(channel.error());
      mapped.push_back(std::move(*channel));
      return &mapped.back();
    };
    mapped.reserve(2);
    if (out < channels_.size()) {
      auto channel = map(out);
      if (!channel) return tl::unexpected(channel.error());
      auto p = Publisher::attach(**channel);
      if (!p) return tl::unexpected(p.error());
      publisher.emplace(std::move(*p));
    }
    if (in < channels_.size()) {
      auto channel = map(in);
      if (!channel) return tl::unexpected(channel.error());
      SubscriberOptions options;
      options.wait_mode = mode_;
      auto s = Subscriber::attach(**channel, options);
      if (!s) return tl::unexpected(s.error());
      subscriber.emplace(std::move(*s));
    }
    return std::make_unique<ShmEndpoint>(size_, fill_, std::move(mapped), std::move(publisher),
                                         std::move(subscriber));
  }

  nlohmann::json config() const override {
    return {{"ring_bytes", ring_},
            {"channels", channels_.size()},
            {"max_subscribers", table_size(group_.subscribers)},
            {"max_producers", table_size(group_.producers)},
            {"policy", "Block"},
            {"wait_mode", std::string(to_string(mode_))},
            {"api", "zero-copy loan/commit, receive/release"}};
  }

 private:
  std::vector<ShmChannel> channels_;  // created and owned (unlinked) by the parent
  std::size_t size_;
  std::uint64_t ring_;
  WaitMode mode_;
  bool fill_;
  GroupShape group_;
};

class ShmTransport final : public Transport {
 public:
  explicit ShmTransport(WaitMode mode) : mode_(mode) {}

  std::string_view name() const override { return variant_of(mode_).transport; }
  std::string_view description() const override { return variant_of(mode_).description; }

  // A broadcast log with a producer table: any number of publishers and subscribers (up to the
  // table sizes prepare() sets), every subscriber reading every record under Block.
  std::string group_limitation(const GroupShape&) const override { return {}; }

  Result<std::unique_ptr<Link>> prepare(const LinkSpec& spec) override {
    const std::uint64_t ring = ring_bytes_for(spec.message_size);
    std::vector<ShmChannel> channels;
    const int count = spec.pattern == Pattern::kPingPong ? 2 : 1;
    for (int i = 0; i < count; ++i) {
      ShmChannelOptions options;
      options.name = "/ipcmesh-bench." + spec.tag + (i == 0 ? ".ab" : ".ba");
      options.capacity_bytes = ring;
      options.max_message_size = static_cast<std::uint32_t>(spec.message_size);
      options.policy = SlowConsumerPolicy::kBlock;
      options.max_subscribers = table_size(spec.group.subscribers);
      options.max_producers = table_size(spec.group.producers);
      options.mode = 0600;
      ShmChannel::unlink(options.name);  // a leftover of a killed run
      auto channel = ShmChannel::create(options);
      if (!channel) return tl::unexpected(channel.error());
      channels.push_back(std::move(*channel));
    }
    return std::make_unique<ShmLink>(std::move(channels), spec.message_size, ring, mode_,
                                     spec.fill_payload, spec.group);
  }

 private:
  WaitMode mode_;
};

}  // namespace

std::unique_ptr<Transport> make_ipcmesh_shm_transport(WaitMode mode) {
  return std::make_unique<ShmTransport>(mode);
}

}  // namespace ipcmesh::bench
