#include "relay/bridge.hpp"

#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <vector>

#include "relay/hosted_channel.hpp"

namespace ipcmesh::relay {
namespace {

// How long one blocking call waits before re-checking the stop flag. Only reached while a
// message is in hand and the target is full (Block), or while a shm subscriber waits for data;
// an idle mq->shm bridge never wakes at all.
constexpr auto kBlockedRecheck = std::chrono::seconds(1);
// How long the shm->mq subscriber waits for data before re-checking the stop flag.

}  // namespace

std::string_view to_string(BridgeDirection direction) noexcept {
  return direction == BridgeDirection::kMqToShm ? "mq_to_shm" : "shm_to_mq";
}

WaitMode bridge_wait_mode(WaitMode channel_mode) noexcept {
  return channel_mode == WaitMode::kBusyPoll ? WaitMode::kSpinThenSleep : channel_mode;
}

Bridge::Bridge(BridgeDirection direction, ShmChannel& channel, RingHealth& health,
               MessageQueue& queue, std::shared_ptr<spdlog::logger> logger)
    : direction_(direction),
      channel_(channel),
      health_(health),
      queue_(queue),
      logger_(std::move(logger)) {}

Result<std::unique_ptr<Bridge>> Bridge::start(BridgeDirection direction, ShmChannel& channel,
                                              RingHealth& health, MessageQueue& queue,
                                              WaitMode channel_wait_mode,
                                              std::shared_ptr<spdlog::logger> logger) {
  std::unique_ptr<Bridge> bridge(new Bridge(direction, channel, health, queue, std::move(logger)));
  bridge->stop_event_.reset(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  if (!bridge->stop_event_) {
    return tl::unexpected(system_error("eventfd", "bridge " + channel.name(), errno));
  }
  if (direction == BridgeDirection::kMqToShm) {
    auto publisher = Publisher::attach(channel);
    if (!publisher) {
      return tl::unexpected(publisher.error());
    }
    bridge->thread_ = std::thread([raw = bridge.get(), p = std::move(*publisher)]() mutable {
      raw->run_mq_to_shm(std::move(p));
    });
  } else {
    // The stop flag cancels a blocked receive (stop() sets it, then wake_all()): the bridge
    // sleeps without a timeout, so an idle relay never wakes.
    SubscriberOptions options;
    options.wait_mode = bridge_wait_mode(channel_wait_mode);
    options.cancel = &bridge->stop_;
    auto subscriber = Subscriber::attach(channel, options);
    if (!subscriber) {
      return tl::unexpected(subscriber.error());
    }
    bridge->thread_ = std::thread([raw = bridge.get(), s = std::move(*subscriber)]() mutable {
      raw->run_shm_to_mq(std::move(s));
    });
  }
  return bridge;
}

Bridge::~Bridge() {
  stop();
}

void Bridge::stop() {
  if (!thread_.joinable()) {
    return;
  }
  stop_.store(true, std::memory_order_release);
  const std::uint64_t one = 1;
  [[maybe_unused]] const auto written = ::write(stop_event_.get(), &one, sizeof one);
  if (direction_ == BridgeDirection::kShmToMq) {
    channel_.wake_all();  // a subscriber asleep on the futex returns promptly
  }
  thread_.join();
}

void Bridge::forward_to_ring(Publisher& publisher, std::span<const std::byte> payload) {
  for (;;) {
    auto published = publisher.publish(payload, kBlockedRecheck);
    // One check per message, after it: a ring corrupted before or during the publish took the
    // message into quarantined memory (or the guard's), so it is an error, not forwarded.
    if (published && !health_.check(channel_)) {
      published = make_error(ErrorCode::kCorrupted, "the ring was corrupted while publishing");
    }
    if (published) {
      counters_.messages.fetch_add(1, std::memory_order_relaxed);
      counters_.bytes.fetch_add(payload.size(), std::memory_order_relaxed);
      return;
    }
    if (published.error().code == ErrorCode::kTimeout && !stopping()) {
      continue;  // Block: slow subscribers hold the ring; wait again rather than drop
    }
    if (published.error().code == ErrorCode::kWouldBlock ||
        published.error().code == ErrorCode::kMessageTooLarge) {
      counters_.dropped.fetch_add(1, std::memory_order_relaxed);
    } else {
      counters_.errors.fetch_add(1, std::memory_order_relaxed);
      logger_->warn("bridge mq_to_shm {} -> {}: {}", queue_.name(), channel_.name(),
                    published.error().message);
    }
    return;
  }
}

void Bridge::run_mq_to_shm(Publisher publisher) {
  std::vector<std::byte> buffer(queue_.max_message_size());
  pollfd fds[2] = {{.fd = queue_.native_handle(), .events = POLLIN, .revents = 0},
                   {.fd = stop_event_.get(), .events = POLLIN, .revents = 0}};
  while (!stopping()) {
    // Linux mqueue descriptors are pollable: sleep here until a message or the stop event.
    if (::poll(fds, 2, -1) < 0) {
      if (errno != EINTR) {
        counters_.errors.fetch_add(1, std::memory_order_relaxed);
        logger_->error("bridge mq_to_shm {}: poll failed: {}", queue_.name(), std::strerror(errno));
        return;
      }
      continue;
    }
    if (fds[1].revents != 0) {
      return;
    }
    busy_.store(true, std::memory_order_release);
    auto received = queue_.receive(buffer, std::chrono::nanoseconds(0));
    if (!received) {
      busy_.store(false, std::memory_order_release);
      if (received.error().code != ErrorCode::kWouldBlock) {
        counters_.errors.fetch_add(1, std::memory_order_relaxed);
        logger_->error("bridge mq_to_shm {}: {}", queue_.name(), received.error().message);
      }
      continue;
    }
    forward_to_ring(publisher, std::span<const std::byte>(buffer.data(), received->size));
    busy_.store(false, std::memory_order_release);
    if (!health_.check(channel_)) {
      report_corrupted_ring(/*message_lost=*/false);
      return;
    }
  }
}

void Bridge::report_corrupted_ring(bool message_lost) {
  if (message_lost) counters_.errors.fetch_add(1, std::memory_order_relaxed);
  busy_.store(false, std::memory_order_release);
  const bool to_shm = direction_ == BridgeDirection::kMqToShm;
  logger_->warn("bridge {} {} -> {} stopped: the ring is corrupted", to_string(direction_),
                to_shm ? queue_.name() : channel_.name(), to_shm ? channel_.name() : queue_.name());
}

void Bridge::run_shm_to_mq(Subscriber subscriber) {
  while (!stopping()) {
    auto view = subscriber.receive(kWaitForever);
    if (!view) {
      busy_.store(false, std::memory_order_release);
      if (view.error().code == ErrorCode::kCancelled) continue;
      counters_.errors.fetch_add(1, std::memory_order_relaxed);
      logger_->warn("bridge shm_to_mq {}: {}", channel_.name(), view.error().message);
      if (!health_.check(channel_)) {
        report_corrupted_ring(/*message_lost=*/false);
        return;
      }
      continue;
    }
    busy_.store(true, std::memory_order_release);
    if (!health_.check(channel_)) {
      // The view may be the quarantined ring's zeros: never forward it.
      report_corrupted_ring(/*message_lost=*/true);
      return;
    }
    for (;;) {
      auto sent = queue_.send(view->data, 0, kBlockedRecheck);
      if (sent) {
        counters_.messages.fetch_add(1, std::memory_order_relaxed);
        counters_.bytes.fetch_add(view->data.size(), std::memory_order_relaxed);
        break;
      }
      if (sent.error().code == ErrorCode::kTimeout && !stopping()) {
        if (!health_.check(channel_)) {
          // The held message is gone with the ring (its bytes now read as zeros): drop it.
          report_corrupted_ring(/*message_lost=*/true);
          return;
        }
        continue;  // the queue is full: keep the ring held back instead of dropping
      }
      if (sent.error().code == ErrorCode::kMessageTooLarge) {
        counters_.dropped.fetch_add(1, std::memory_order_relaxed);
      } else if (sent.error().code != ErrorCode::kTimeout) {
        counters_.errors.fetch_add(1, std::memory_order_relaxed);
        logger_->warn("bridge shm_to_mq {} -> {}: {}", channel_.name(), queue_.name(),
                      sent.error().message);
      }
      break;
    }
    [[maybe_unused]] auto released = subscriber.release();
    busy_.store(false, std::memory_order_release);
  }
}

}  // namespace ipcmesh::relay
