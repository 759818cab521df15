#include "channel/generation.hpp"

#include <string>
#include <thread>

namespace ipcmesh::shm {
namespace {
// Pauses while waiting for the relay to create the next generation (rules G2, G3).
constexpr auto kFirstFollowPause = std::chrono::milliseconds(1);
constexpr auto kMaxFollowPause = std::chrono::milliseconds(50);
}  // namespace

Result<void> ensure_intact(const Segment& segment, std::string_view who) {
  std::uint64_t size = 0;
  if (!segment.resized(&size)) return {};
  segment.quarantine();
  return make_error(
      ErrorCode::kCorrupted,
      "channel " + segment.name + ": shm was resized to " + std::to_string(size) +
          " bytes under this " + std::string(who) + " (the ring is " +
          std::to_string(segment.header.total_bytes) +
          " bytes): another program truncated it (an app that maps the channel's name itself?); "
          "the messages in it are lost" +
          (who == "publisher" || who == "subscriber"
               ? ". The relay reports the ring as corrupted; this " + std::string(who) +
                     " moves to a new ring once one replaces it under the same name"
               : std::string()));
}

void close_if_replaced(ChannelLink& link, const std::shared_ptr<Segment>& segment) {
  if (!link.follows() || segment->name_target() != NameTarget::kOther) return;
  auto next = link.successor(segment);
  if (next && *next != segment) close_generation(*segment);
}

Result<std::shared_ptr<Segment>> wait_for_successor(ChannelLink& link,
                                                    const std::shared_ptr<Segment>& from,
                                                    Clock::time_point deadline,
                                                    std::chrono::nanoseconds timeout,
                                                    const std::atomic<bool>* cancel) {
  if (!link.follows()) {
    return make_error(ErrorCode::kCorrupted,
                      "channel " + from->name +
                          ": its ring was closed, and this handle is the ring's creator, which "
                          "does not follow the name to another ring");
  }
  auto pause = std::chrono::nanoseconds(kFirstFollowPause);
  for (;;) {
    auto next = link.successor(from);
    if (next || next.error().code != ErrorCode::kNotFound) return next;
    if (cancel != nullptr && cancel->load(std::memory_order_acquire)) {
      return make_error(ErrorCode::kCancelled, "channel " + from->name + ": cancelled");
    }
    if (Clock::now() >= deadline) {
      return make_error(timeout.count() == 0 ? ErrorCode::kWouldBlock : ErrorCode::kTimeout,
                        "channel " + from->name +
                            ": its ring was superseded and the next generation does not exist "
                            "yet (" +
                            next.error().message + ")");
    }
    std::this_thread::sleep_for(std::min(pause, until(deadline, pause)));
    pause = std::min<std::chrono::nanoseconds>(pause * 2, kMaxFollowPause);
  }
}

}  // namespace ipcmesh::shm
