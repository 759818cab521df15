// The channel handle: creating, opening and adopting a ring, and what the relay and ipcmeshctl
// ask of it (stats, reaping dead peers, waking everyone, closing a generation). Publishing and
// subscribing are in publisher.cpp and subscriber.cpp, the ring's algorithms each in its own
// file beside them; docs/protocol.md states the rules they implement.
#include "ipcmesh/shm_channel.hpp"

#include <algorithm>
#include <thread>

#include "channel/dead_peers.hpp"
#include "channel/deadline.hpp"
#include "channel/generation.hpp"
#include "channel/peer_table.hpp"
#include "channel/posix/shm_name.hpp"
#include "channel/shm_layout.hpp"
#include "channel/shm_segment.hpp"

namespace ipcmesh {

using shm::ChannelLink;
using shm::Clock;
using shm::ControlBlock;
using shm::ProducerSlot;
using shm::Segment;
using shm::SlotState;
using shm::SubscriberSlot;

ShmChannel::ShmChannel(std::shared_ptr<Segment> segment, bool follows)
    : link_(std::make_shared<ChannelLink>(std::move(segment), follows)) {}
ShmChannel::ShmChannel(ShmChannel&&) noexcept = default;
ShmChannel& ShmChannel::operator=(ShmChannel&&) noexcept = default;
ShmChannel::~ShmChannel() = default;

std::shared_ptr<Segment> ShmChannel::segment() const {
  return link_->current();
}

// A creator's handle (create, adopt) is the authority over its name and never follows it; an
// opener's handle follows the channel to its next generations.
Result<ShmChannel> ShmChannel::create(const ShmChannelOptions& options) {
  auto segment = shm::create_segment(options);
  if (!segment) return tl::unexpected(segment.error());
  return ShmChannel(std::shared_ptr<Segment>(std::move(*segment)), false);
}

Result<ShmChannel> ShmChannel::adopt(const ShmChannelOptions& options) {
  auto segment = shm::adopt_segment(options);
  if (!segment) return tl::unexpected(segment.error());
  return ShmChannel(std::shared_ptr<Segment>(std::move(*segment)), false);
}

Result<ShmChannel> ShmChannel::open(std::string_view name) {
  auto segment = shm::open_segment(name);
  if (!segment) return tl::unexpected(segment.error());
  return ShmChannel(std::shared_ptr<Segment>(std::move(*segment)), true);
}

Result<ShmChannel> ShmChannel::open_wait(std::string_view name, std::chrono::nanoseconds timeout) {
  const auto deadline = shm::deadline_after(timeout);
  auto pause = std::chrono::milliseconds(1);
  for (;;) {
    auto channel = open(name);
    if (channel || channel.error().code != ErrorCode::kNotFound || Clock::now() >= deadline) {
      return channel;
    }
    std::this_thread::sleep_for(
        std::min<std::chrono::nanoseconds>(pause, shm::until(deadline, pause)));
    pause = std::min(pause * 2, std::chrono::milliseconds(50));
  }
}

Result<void> ShmChannel::unlink(std::string_view name) {
  return posix::ShmName::unlink(std::string(name));
}

const std::string& ShmChannel::name() const {
  return link_->name();
}
std::uint64_t ShmChannel::capacity() const {
  return segment()->header.capacity;
}
std::uint32_t ShmChannel::max_message_size() const {
  return segment()->header.max_message_size;
}
SlowConsumerPolicy ShmChannel::policy() const {
  return static_cast<SlowConsumerPolicy>(segment()->header.policy);
}
void ShmChannel::release_name() {
  segment()->owned_name.release();
}

void ShmChannel::wake_all() {
  link_->wake_all();
}

Result<void> ShmChannel::supersede() {
  const auto segment = this->segment();
  if (auto intact = shm::ensure_intact(*segment, "creator"); !intact) return intact;
  shm::close_generation(*segment);
  return {};
}

Result<void> ShmChannel::verify() const {
  return shm::ensure_intact(*segment(), "process");
}

std::span<std::byte> ShmChannel::mapping() const {
  const auto segment = this->segment();
  return {segment->base(), segment->mapping.size()};
}

bool ShmChannel::quarantine_mapping(std::span<std::byte> mapping) noexcept {
  return shm::quarantine_mapping(mapping.data(), mapping.size());
}

std::uint32_t ShmChannel::reap_dead_peers() {
  const auto current = segment();
  const std::uint32_t subscribers = shm::reap_dead_subscribers(*current);
  return subscribers + shm::reap_dead_producers(*current);
}

namespace {

// The channel's totals: the retired producers' plus every active producer's own counters.
void add_producer_totals(const Segment& segment, ChannelStats& stats) {
  const ControlBlock& control = segment.control();
  stats.published_messages = control.retired_messages.load(std::memory_order_relaxed);
  stats.published_bytes = control.retired_bytes.load(std::memory_order_relaxed);
  stats.rejected_full = control.retired_rejected.load(std::memory_order_relaxed);
  stats.dropped_oldest = control.retired_dropped.load(std::memory_order_relaxed);
  for (std::uint32_t i = 0; i < segment.header.max_producers; ++i) {
    const ProducerSlot& slot = segment.producer(i);
    if (slot.state.load(std::memory_order_acquire) != shm::state_value(SlotState::kActive)) {
      continue;
    }
    ++stats.producers;
    stats.published_messages += slot.published_messages.load(std::memory_order_relaxed);
    stats.published_bytes += slot.published_bytes.load(std::memory_order_relaxed);
    stats.rejected_full += slot.rejected_full.load(std::memory_order_relaxed);
    stats.dropped_oldest += slot.dropped_oldest.load(std::memory_order_relaxed);
  }
}

// Every active subscriber as of its last published batch (rule S1); returns the slowest cursor.
std::uint64_t add_subscribers(const Segment& segment, std::uint64_t tail, ChannelStats& stats) {
  std::uint64_t slowest = tail;
  for (std::uint32_t i = 0; i < segment.header.max_subscribers; ++i) {
    const SubscriberSlot& slot = segment.subscriber(i);
    if (slot.state.load(std::memory_order_acquire) != shm::state_value(SlotState::kActive)) {
      continue;
    }
    SubscriberStats sub;
    sub.slot = i;
    sub.pid = slot.pid;
    sub.cursor = slot.cursor.load(std::memory_order_acquire);
    sub.lag_bytes = tail > sub.cursor ? tail - sub.cursor : 0;
    sub.missed = slot.missed.load(std::memory_order_relaxed);
    const std::uint32_t sleeping = slot.sleeping.load(std::memory_order_relaxed);
    sub.sleeping = (sleeping & shm::kSleepingNow) != 0;
    sub.sleeps_with_barrier = (sleeping & shm::kSleepsWithBarrier) != 0;
    sub.delivered_messages = slot.delivered_messages.load(std::memory_order_relaxed);
    sub.delivered_bytes = slot.delivered_bytes.load(std::memory_order_relaxed);
    slowest = std::min(slowest, sub.cursor);
    sub.cursor -= std::min(sub.cursor, segment.header.capacity);  // the log starts one capacity in
    stats.subscribers.push_back(sub);
  }
  return slowest;
}

}  // namespace

ChannelStats ShmChannel::stats() const {
  const auto current = segment();
  const Segment& segment = *current;
  const ControlBlock& control = segment.control();
  const shm::StaticHeader& h = segment.header;
  ChannelStats stats;
  stats.name = segment.name;
  stats.layout_version = h.layout_version;
  stats.generation = h.generation;
  stats.creator_pid = h.creator_pid;
  stats.capacity_bytes = h.capacity;
  stats.max_message_size = h.max_message_size;
  stats.policy = static_cast<SlowConsumerPolicy>(h.policy);
  const std::uint64_t tail_word = control.tail.load(std::memory_order_acquire);
  const std::uint64_t tail = shm::tail_position(tail_word);
  stats.superseded = (tail_word & shm::kTailClosed) != 0;
  stats.tail_position = tail - h.capacity;  // the log starts one capacity in
  add_producer_totals(segment, stats);
  stats.gaps = control.gaps.load(std::memory_order_relaxed);
  stats.reaped_subscribers = control.reaped_subscribers.load(std::memory_order_relaxed);
  stats.reattached = control.reattached.load(std::memory_order_relaxed);
  const std::uint64_t slowest = add_subscribers(segment, tail, stats);
  stats.fill_ratio = static_cast<double>(tail - slowest) / static_cast<double>(h.capacity);
  return stats;
}

}  // namespace ipcmesh
