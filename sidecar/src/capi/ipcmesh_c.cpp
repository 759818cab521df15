// The C API over ShmChannel/Publisher/Subscriber and MessageQueue. Every entry point catches
// everything: no C++ exception may cross into C (or Go, Rust, Python) callers.
#include <chrono>
#include <cstring>
#include <new>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "ipcmesh/channel_spec.hpp"
#include "ipcmesh/ipcmesh.h"
#include "ipcmesh/message_queue.hpp"
#include "ipcmesh/shm_channel.hpp"

struct ipcmesh_channel {
  ipcmesh_transport transport = IPCMESH_SHARED_MEMORY;
  ipcmesh_role role = IPCMESH_PUBLISHER;
  std::optional<ipcmesh::ShmChannel> shm;
  std::optional<ipcmesh::Publisher> publisher;
  std::optional<ipcmesh::Subscriber> subscriber;
  std::optional<ipcmesh::MessageQueue> queue;
  // A message taken off the channel that did not fit the caller's buffer: handed out first by
  // the next receive, so that from the caller's view nothing was consumed.
  std::vector<std::byte> scratch;
  std::size_t pending_size = 0;
  bool has_pending = false;
};

namespace {

using ipcmesh::Error;
using ipcmesh::ErrorCode;

// The C convention for "what went wrong" (errno, dlerror): per thread, so no locking and no
// cross-thread clobbering.
thread_local std::string last_error;

int fail(ipcmesh_status status, std::string message) {
  last_error = std::move(message);
  return status;
}

ipcmesh_status status_of(ErrorCode code) {
  switch (code) {
    case ErrorCode::kInvalidArgument:
      return IPCMESH_ERR_INVALID_ARGUMENT;
    case ErrorCode::kNotFound:
      return IPCMESH_ERR_NOT_FOUND;
    case ErrorCode::kTimeout:
    case ErrorCode::kCancelled:
      return IPCMESH_ERR_TIMEOUT;
    case ErrorCode::kWouldBlock:
      return IPCMESH_ERR_WOULD_BLOCK;
    case ErrorCode::kMessageTooLarge:
      return IPCMESH_ERR_MESSAGE_TOO_LARGE;
    case ErrorCode::kCorrupted:
    case ErrorCode::kIncompatible:
      return IPCMESH_ERR_CORRUPTED;
    case ErrorCode::kNoSpace:
    case ErrorCode::kLimitExceeded:
    case ErrorCode::kTableFull:
      return IPCMESH_ERR_LIMIT;
    case ErrorCode::kOverrun:
      return IPCMESH_ERR_OVERRUN;
    case ErrorCode::kAlreadyExists:
    case ErrorCode::kSystem:
      break;
  }
  return IPCMESH_ERR_SYSTEM;
}

int fail(const Error& error) {
  return fail(status_of(error.code), error.message);
}

std::optional<std::chrono::nanoseconds> to_timeout(int timeout_ms) {
  if (timeout_ms == IPCMESH_WAIT_FOREVER) return ipcmesh::kWaitForever;
  if (timeout_ms < 0) return std::nullopt;
  return std::chrono::milliseconds(timeout_ms);
}

// What ipcmesh_open's name stands for: the POSIX object, and the channel's spec when the name was
// looked up in the Pod's document (none for a POSIX name).
struct ResolvedName {
  std::string posix_name;
  std::optional<ipcmesh::ChannelSpec> spec;
};

// A name with a leading '/' is a POSIX object name; anything else is a channel of the Pod's
// IPCMESH_CHANNELS document, whose derived (or legacy) name for this transport is used.
ipcmesh::Result<ResolvedName> resolve_name(const char* name, ipcmesh_transport transport) {
  if (name[0] == '/') return ResolvedName{name, std::nullopt};
  auto set = ipcmesh::channel_set_from_environment();
  if (!set) {
    return ipcmesh::make_error(set.error().code,
                               std::string("channel \"") + name + "\": " + set.error().message);
  }
  const ipcmesh::ChannelSpec* spec = set->find(name);
  if (spec == nullptr) {
    std::string known;
    for (const auto& channel : set->channels) {
      known += (known.empty() ? "" : ", ") + channel.id.name;
    }
    return ipcmesh::make_error(
        ErrorCode::kNotFound,
        std::string("channel \"") + name +
            "\" is not in IPCMESH_CHANNELS (channels: " + (known.empty() ? "none" : known) + ")");
  }
  if (transport == IPCMESH_SHARED_MEMORY) {
    if (!spec->shared_memory) {
      return ipcmesh::make_error(ErrorCode::kInvalidArgument,
                                 std::string("channel \"") + name + "\" has transport " +
                                     std::string(ipcmesh::to_string(spec->transport)) +
                                     ", it has no shared-memory ring");
    }
    return ResolvedName{spec->shm_name(), *spec};
  }
  if (!spec->message_queue) {
    return ipcmesh::make_error(ErrorCode::kInvalidArgument,
                               std::string("channel \"") + name + "\" has transport " +
                                   std::string(ipcmesh::to_string(spec->transport)) +
                                   ", it has no message queue");
  }
  return ResolvedName{spec->mq_name(), *spec};
}

// Retries a missing queue until the relay has created it (no start-up race for apps).
ipcmesh::Result<ipcmesh::MessageQueue> open_queue_wait(const std::string& name,
                                                       ipcmesh::MessageQueue::Access access,
                                                       std::chrono::nanoseconds timeout) {
  using Clock = std::chrono::steady_clock;
  const bool forever = timeout == ipcmesh::kWaitForever;
  const auto deadline = forever ? Clock::time_point::max() : Clock::now() + timeout;
  auto pause = std::chrono::milliseconds(1);
  for (;;) {
    auto queue = ipcmesh::MessageQueue::open(name, access);
    if (queue || queue.error().code != ErrorCode::kNotFound || Clock::now() >= deadline) {
      return queue;
    }
    const auto left = deadline - Clock::now();
    std::this_thread::sleep_for(forever ? pause : std::min<Clock::duration>(pause, left));
    pause = std::min(pause * 2, std::chrono::milliseconds(50));
  }
}

int open_channel(const char* name, ipcmesh_transport transport, ipcmesh_role role, int timeout_ms,
                 ipcmesh_channel** out) {
  if (out == nullptr) return fail(IPCMESH_ERR_INVALID_ARGUMENT, "ipcmesh_open: out is NULL");
  *out = nullptr;
  if (name == nullptr || name[0] == '\0') {
    return fail(IPCMESH_ERR_INVALID_ARGUMENT, "ipcmesh_open: name is empty");
  }
  if (transport != IPCMESH_SHARED_MEMORY && transport != IPCMESH_MESSAGE_QUEUE) {
    return fail(IPCMESH_ERR_INVALID_ARGUMENT,
                "ipcmesh_open: unknown transport " + std::to_string(static_cast<int>(transport)));
  }
  if (role != IPCMESH_PUBLISHER && role != IPCMESH_SUBSCRIBER) {
    return fail(IPCMESH_ERR_INVALID_ARGUMENT,
                "ipcmesh_open: unknown role " + std::to_string(static_cast<int>(role)));
  }
  const auto timeout = to_timeout(timeout_ms);
  if (!timeout) {
    return fail(IPCMESH_ERR_INVALID_ARGUMENT, "ipcmesh_open: timeout_ms " +
                                                  std::to_string(timeout_ms) +
                                                  " (use -1 to wait forever, 0 to try once)");
  }
  auto resolved = resolve_name(name, transport);
  if (!resolved) return fail(resolved.error());
  const std::string& posix_name = resolved->posix_name;

  auto channel = std::make_unique<ipcmesh_channel>();
  channel->transport = transport;
  channel->role = role;
  if (transport == IPCMESH_SHARED_MEMORY) {
    // Before waiting for the ring: a bad IPCMESH_WAIT_MODE fails at once.
    ipcmesh::SubscriberOptions options;
    if (role == IPCMESH_SUBSCRIBER) {
      auto wait_mode = ipcmesh::subscriber_wait_mode_from_environment(
          resolved->spec ? &*resolved->spec : nullptr);
      if (!wait_mode) return fail(wait_mode.error());
      options.wait_mode = *wait_mode;
    }
    auto shm = ipcmesh::ShmChannel::open_wait(posix_name, *timeout);
    if (!shm) return fail(shm.error());
    channel->shm.emplace(std::move(*shm));
    if (role == IPCMESH_PUBLISHER) {
      auto publisher = ipcmesh::Publisher::attach(*channel->shm);
      if (!publisher) return fail(publisher.error());
      channel->publisher.emplace(std::move(*publisher));
    } else {
      auto subscriber = ipcmesh::Subscriber::attach(*channel->shm, options);
      if (!subscriber) return fail(subscriber.error());
      channel->subscriber.emplace(std::move(*subscriber));
    }
  } else {
    const auto access = role == IPCMESH_PUBLISHER ? ipcmesh::MessageQueue::Access::kWriteOnly
                                                  : ipcmesh::MessageQueue::Access::kReadOnly;
    auto queue = open_queue_wait(posix_name, access, *timeout);
    if (!queue) return fail(queue.error());
    channel->queue.emplace(std::move(*queue));
  }
  *out = channel.release();
  return IPCMESH_OK;
}

int publish(ipcmesh_channel* channel, const void* data, size_t size, int timeout_ms) {
  if (channel == nullptr)
    return fail(IPCMESH_ERR_INVALID_ARGUMENT, "ipcmesh_publish: NULL channel");
  if (channel->role != IPCMESH_PUBLISHER) {
    return fail(IPCMESH_ERR_INVALID_ARGUMENT,
                "ipcmesh_publish: the channel was opened as a subscriber");
  }
  if (data == nullptr && size > 0) {
    return fail(IPCMESH_ERR_INVALID_ARGUMENT, "ipcmesh_publish: data is NULL");
  }
  const auto timeout = to_timeout(timeout_ms);
  if (!timeout) {
    return fail(IPCMESH_ERR_INVALID_ARGUMENT,
                "ipcmesh_publish: timeout_ms " + std::to_string(timeout_ms));
  }
  const auto payload = std::span<const std::byte>(static_cast<const std::byte*>(data), size);
  const auto sent = channel->transport == IPCMESH_SHARED_MEMORY
                        ? channel->publisher->publish(payload, *timeout)
                        : channel->queue->send(payload, 0, *timeout);
  if (!sent) return fail(sent.error());
  return IPCMESH_OK;
}

// Takes the next message into channel->scratch (big enough for any message of the channel).
ipcmesh::Result<std::size_t> receive_into_scratch(ipcmesh_channel& channel,
                                                  std::chrono::nanoseconds timeout) {
  const std::size_t max_size = channel.transport == IPCMESH_SHARED_MEMORY
                                   ? channel.shm->max_message_size()
                                   : channel.queue->max_message_size();
  if (channel.scratch.size() < max_size) channel.scratch.resize(max_size);
  if (channel.transport == IPCMESH_SHARED_MEMORY) {
    return channel.subscriber->receive_copy(channel.scratch, timeout);
  }
  auto received = channel.queue->receive(channel.scratch, timeout);
  if (!received) return tl::unexpected(received.error());
  return received->size;
}

int deliver_pending(ipcmesh_channel& channel, void* buffer, size_t capacity, size_t* size_out) {
  *size_out = channel.pending_size;
  if (channel.pending_size > capacity) {
    return fail(IPCMESH_ERR_MESSAGE_TOO_LARGE,
                "ipcmesh_receive: the message of " + std::to_string(channel.pending_size) +
                    " bytes does not fit a buffer of " + std::to_string(capacity) +
                    " (nothing consumed; *size_out is the size needed)");
  }
  if (channel.pending_size > 0) std::memcpy(buffer, channel.scratch.data(), channel.pending_size);
  channel.has_pending = false;
  channel.pending_size = 0;
  return IPCMESH_OK;
}

int receive(ipcmesh_channel* channel, void* buffer, size_t capacity, size_t* size_out,
            int timeout_ms) {
  if (channel == nullptr || size_out == nullptr) {
    return fail(IPCMESH_ERR_INVALID_ARGUMENT, "ipcmesh_receive: NULL channel or size_out");
  }
  *size_out = 0;
  if (channel->role != IPCMESH_SUBSCRIBER) {
    return fail(IPCMESH_ERR_INVALID_ARGUMENT,
                "ipcmesh_receive: the channel was opened as a publisher");
  }
  if (buffer == nullptr && capacity > 0) {
    return fail(IPCMESH_ERR_INVALID_ARGUMENT, "ipcmesh_receive: buffer is NULL");
  }
  const auto timeout = to_timeout(timeout_ms);
  if (!timeout) {
    return fail(IPCMESH_ERR_INVALID_ARGUMENT,
                "ipcmesh_receive: timeout_ms " + std::to_string(timeout_ms));
  }
  if (channel->has_pending) return deliver_pending(*channel, buffer, capacity, size_out);

  if (channel->transport == IPCMESH_SHARED_MEMORY) {
    // Fast path: straight into the caller's buffer, one copy.
    auto size = channel->subscriber->receive_copy(
        std::span<std::byte>(static_cast<std::byte*>(buffer), capacity), *timeout);
    if (size) {
      *size_out = *size;
      return IPCMESH_OK;
    }
    if (size.error().code != ErrorCode::kMessageTooLarge) return fail(size.error());
    // The message is still unread; take it into scratch so the caller can learn its size.
    auto taken = receive_into_scratch(*channel, std::chrono::nanoseconds::zero());
    if (!taken) return fail(taken.error());
    channel->pending_size = *taken;
  } else if (capacity >= channel->queue->max_message_size()) {
    auto received = channel->queue->receive(
        std::span<std::byte>(static_cast<std::byte*>(buffer), capacity), *timeout);
    if (!received) return fail(received.error());
    *size_out = received->size;
    return IPCMESH_OK;
  } else {
    // The kernel wants a buffer of mq_msgsize even for short messages: go through scratch.
    auto taken = receive_into_scratch(*channel, *timeout);
    if (!taken) return fail(taken.error());
    channel->pending_size = *taken;
  }
  channel->has_pending = true;
  return deliver_pending(*channel, buffer, capacity, size_out);
}

}  // namespace

extern "C" {

int ipcmesh_open(const char* name, ipcmesh_transport transport, ipcmesh_role role, int timeout_ms,
                 ipcmesh_channel** out) {
  try {
    return open_channel(name, transport, role, timeout_ms, out);
  } catch (const std::bad_alloc&) {
    return fail(IPCMESH_ERR_SYSTEM, "ipcmesh_open: out of memory");
  } catch (const std::exception& error) {
    return fail(IPCMESH_ERR_SYSTEM, std::string("ipcmesh_open: ") + error.what());
  } catch (...) {
    return fail(IPCMESH_ERR_SYSTEM, "ipcmesh_open: unexpected error");
  }
}

int ipcmesh_publish(ipcmesh_channel* channel, const void* data, size_t size, int timeout_ms) {
  try {
    return publish(channel, data, size, timeout_ms);
  } catch (const std::exception& error) {
    return fail(IPCMESH_ERR_SYSTEM, std::string("ipcmesh_publish: ") + error.what());
  } catch (...) {
    return fail(IPCMESH_ERR_SYSTEM, "ipcmesh_publish: unexpected error");
  }
}

int ipcmesh_receive(ipcmesh_channel* channel, void* buffer, size_t capacity, size_t* size_out,
                    int timeout_ms) {
  try {
    return receive(channel, buffer, capacity, size_out, timeout_ms);
  } catch (const std::exception& error) {
    return fail(IPCMESH_ERR_SYSTEM, std::string("ipcmesh_receive: ") + error.what());
  } catch (...) {
    return fail(IPCMESH_ERR_SYSTEM, "ipcmesh_receive: unexpected error");
  }
}

uint64_t ipcmesh_missed(const ipcmesh_channel* channel) {
  if (channel == nullptr || !channel->subscriber) return 0;
  return channel->subscriber->missed();
}

void ipcmesh_close(ipcmesh_channel* channel) {
  delete channel;
}

const char* ipcmesh_last_error(void) {
  return last_error.c_str();
}

const char* ipcmesh_version(void) {
  return IPCMESH_VERSION;
}

}  // extern "C"
