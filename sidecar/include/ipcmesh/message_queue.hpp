// RAII wrapper of a POSIX message queue (mq_open & co.) with timeouts, priorities and errors
// that explain the kernel limit at fault.
#pragma once

#include <mqueue.h>
#include <sys/types.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "ipcmesh/error.hpp"
#include "ipcmesh/posix/mq_name.hpp"
#include "ipcmesh/posix/unique_mq.hpp"

namespace ipcmesh {

struct MessageQueueOptions {
  std::string name;  // "/name"
  std::uint32_t max_messages = 10;
  std::uint32_t max_message_size = 8192;
  mode_t mode = 0660;
};

// The kernel's limits for this IPC namespace (/proc/sys/fs/mqueue/*) and RLIMIT_MSGQUEUE.
struct MessageQueueLimits {
  long msg_max = -1;
  long msgsize_max = -1;
  long queues_max = -1;
  long long rlimit_msgqueue = -1;  // bytes per user; -1 when unlimited or unknown
  static MessageQueueLimits read_current();
};

struct ReceivedMessage {
  std::size_t size = 0;
  unsigned priority = 0;
};

class MessageQueue {
 public:
  enum class Access : std::uint8_t { kReadWrite, kReadOnly, kWriteOnly };

  // O_CREAT|O_EXCL with the given attributes. EINVAL/EMFILE/ENOSPC/EPERM explain which limit
  // refused the request and print the current limits.
  static Result<MessageQueue> create(const MessageQueueOptions& options);
  // Creates, or opens an existing queue whose attributes match (kIncompatible otherwise).
  static Result<MessageQueue> create_or_open(const MessageQueueOptions& options);
  static Result<MessageQueue> open(std::string_view name, Access access = Access::kReadWrite);
  // Takes over an existing queue (made by a relay that is gone, or by an app that opened it with
  // O_CREAT first) when it fits the options: room for at least max_messages messages of at least
  // max_message_size bytes. Messages waiting in it stay; this object owns the name from now on.
  // kNotFound, kIncompatible (with both sets of attributes); the queue is never unlinked here.
  static Result<MessageQueue> adopt(const MessageQueueOptions& options);
  static Result<void> unlink(std::string_view name);

  MessageQueue(MessageQueue&&) noexcept;
  MessageQueue& operator=(MessageQueue&&) noexcept;
  MessageQueue(const MessageQueue&) = delete;
  MessageQueue& operator=(const MessageQueue&) = delete;
  ~MessageQueue();  // closes; unlinks too if this object created the name and still owns it

  // timeout 0 = try once (kWouldBlock when full/empty); kWaitForever-like max() = block.
  Result<void> send(std::span<const std::byte> payload, unsigned priority = 0,
                    std::chrono::nanoseconds timeout = std::chrono::nanoseconds::max());
  Result<ReceivedMessage> receive(std::span<std::byte> buffer, std::chrono::nanoseconds timeout =
                                                                   std::chrono::nanoseconds::max());

  const std::string& name() const { return name_.str(); }
  std::uint32_t max_messages() const { return max_messages_; }
  std::uint32_t max_message_size() const { return max_message_size_; }
  long current_messages() const;  // mq_getattr's mq_curmsgs, -1 on error
  mqd_t native_handle() const { return descriptor_.get(); }
  void release_name() { name_.release(); }

 private:
  MessageQueue(posix::UniqueMq descriptor, posix::MqName name);
  // The name first: destroyed after the descriptor is closed, as mq_close then mq_unlink.
  posix::MqName name_;
  posix::UniqueMq descriptor_;
  std::uint32_t max_messages_ = 0;
  std::uint32_t max_message_size_ = 0;
};

}  // namespace ipcmesh
