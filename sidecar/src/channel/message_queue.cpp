// POSIX message queues with errors that name the kernel limit at fault. On Linux an mqd_t is a
// file descriptor (close-on-exec), so fchmod and mq_getattr work on it directly.
#include "ipcmesh/message_queue.hpp"

#include <fcntl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>

#include <cerrno>
#include <fstream>
#include <limits>
#include <string>
#include <utility>

#include "ipcmesh/channel_spec.hpp"

namespace ipcmesh {
namespace {

constexpr std::uint32_t kHardMaxMessages = 65536;         // HARD_MSGMAX in ipc/mqueue.c
constexpr std::uint32_t kHardMaxMessageSize = 16u << 20;  // HARD_MSGSIZEMAX

long read_proc_long(const char* path) {
  std::ifstream in(path);
  long value = -1;
  if (!(in >> value)) return -1;
  return value;
}

std::string limit_text(long value) {
  return value < 0 ? "unknown" : std::to_string(value);
}

std::string limits_summary(const MessageQueueLimits& limits) {
  return "current limits: fs.mqueue.msg_max=" + limit_text(limits.msg_max) +
         ", fs.mqueue.msgsize_max=" + limit_text(limits.msgsize_max) +
         ", fs.mqueue.queues_max=" + limit_text(limits.queues_max) + ", RLIMIT_MSGQUEUE=" +
         (limits.rlimit_msgqueue < 0 ? std::string("unlimited")
                                     : std::to_string(limits.rlimit_msgqueue) + " bytes");
}

// Which limit an EINVAL from mq_open(O_CREAT) ran into (ipc/mqueue.c checks the hard ceilings,
// then msg_max and msgsize_max).
std::string why_invalid(const MessageQueueOptions& options, const MessageQueueLimits& limits) {
  if (options.max_messages > kHardMaxMessages || options.max_message_size > kHardMaxMessageSize) {
    return "the kernel never allows more than " + std::to_string(kHardMaxMessages) +
           " messages or " + std::to_string(kHardMaxMessageSize) + " bytes per message";
  }
  if (limits.msg_max >= 0 && options.max_messages > limits.msg_max) {
    return "fs.mqueue.msg_max is " + std::to_string(limits.msg_max) + ", the channel asks for " +
           std::to_string(options.max_messages) + " messages";
  }
  if (limits.msgsize_max >= 0 && options.max_message_size > limits.msgsize_max) {
    return "fs.mqueue.msgsize_max is " + std::to_string(limits.msgsize_max) +
           ", the channel asks for " + std::to_string(options.max_message_size) + " bytes";
  }
  return "the attributes exceed fs.mqueue.msg_max or fs.mqueue.msgsize_max";
}

// Explains a failed O_CREAT mq_open in terms of the limit that refused it (see mq_open(3) and
// ipc/mqueue.c: EINVAL for msg_max/msgsize_max, EMFILE for RLIMIT_MSGQUEUE, ENOSPC for queues_max).
Error explain_create_failure(const MessageQueueOptions& options, int error) {
  const std::string what = "mq_open(" + options.name + ", O_CREAT) with " +
                           std::to_string(options.max_messages) + " messages of " +
                           std::to_string(options.max_message_size) + " bytes";
  const MessageQueueLimits limits = MessageQueueLimits::read_current();
  switch (error) {
    case EINVAL:
      return Error{ErrorCode::kLimitExceeded,
                   what + ": Invalid argument: " + why_invalid(options, limits) +
                       "; raise the sysctls in this IPC namespace (Pod sysctls fs.mqueue.*) or "
                       "ask for less (" +
                       limits_summary(limits) + ")"};
    case EMFILE:
      return Error{
          ErrorCode::kLimitExceeded,
          what + ": Too many open files: the user's RLIMIT_MSGQUEUE (" +
              (limits.rlimit_msgqueue < 0 ? std::string("unlimited")
                                          : std::to_string(limits.rlimit_msgqueue)) +
              " bytes) cannot hold another queue of about " +
              std::to_string(std::uint64_t{options.max_messages} * options.max_message_size) +
              " bytes, or the process is out of descriptors (RLIMIT_NOFILE) (" +
              limits_summary(limits) + ")"};
    case ENOSPC:
      return Error{ErrorCode::kLimitExceeded,
                   what + ": No space left on device: fs.mqueue.queues_max (" +
                       limit_text(limits.queues_max) +
                       ") queues already exist in this IPC namespace; remove stale queues or "
                       "raise the sysctl"};
    case EACCES:
    case EPERM:
      return Error{ErrorCode::kSystem,
                   what +
                       ": Permission denied: this user may not create the queue (mode or "
                       "owner of an existing queue, or the mqueue filesystem)"};
    case EEXIST:
      return Error{ErrorCode::kAlreadyExists, what + ": the queue already exists"};
    case ENOMEM:
      return Error{ErrorCode::kNoSpace,
                   what + ": Cannot allocate memory (" + limits_summary(limits) + ")"};
    default:
      return system_error("mq_open", options.name + " O_CREAT", error);
  }
}

Error explain_open_failure(std::string_view name, int error) {
  switch (error) {
    case ENOENT:
      return Error{ErrorCode::kNotFound,
                   "mq_open(" + std::string(name) +
                       "): No such file or directory: the queue does not exist in this IPC "
                       "namespace (not created yet, or another namespace)"};
    case EACCES:
      return Error{ErrorCode::kSystem, "mq_open(" + std::string(name) +
                                           "): Permission denied: the queue's mode or owner "
                                           "refuses this user"};
    case EMFILE:
    case ENFILE:
      return Error{ErrorCode::kLimitExceeded,
                   "mq_open(" + std::string(name) + "): out of file descriptors"};
    default:
      return system_error("mq_open", name, error);
  }
}

int open_flags(MessageQueue::Access access) {
  switch (access) {
    case MessageQueue::Access::kReadOnly:
      return O_RDONLY;
    case MessageQueue::Access::kWriteOnly:
      return O_WRONLY;
    case MessageQueue::Access::kReadWrite:
      break;
  }
  return O_RDWR;
}

// The CLOCK_REALTIME instant `timeout` from now (mq_timed* take absolute realtime deadlines),
// saturating instead of overflowing for very long timeouts.
timespec deadline_after(std::chrono::nanoseconds timeout) {
  timespec now{};
  clock_gettime(CLOCK_REALTIME, &now);
  constexpr std::int64_t kNanos = 1'000'000'000;
  const std::int64_t count = timeout.count();
  const std::int64_t seconds = count / kNanos;
  std::int64_t nanos = now.tv_nsec + count % kNanos;
  std::int64_t total_seconds = now.tv_sec;
  if (seconds > std::numeric_limits<time_t>::max() - total_seconds - 1) {
    return timespec{std::numeric_limits<time_t>::max(), kNanos - 1};
  }
  total_seconds += seconds;
  if (nanos >= kNanos) {
    nanos -= kNanos;
    ++total_seconds;
  }
  return timespec{static_cast<time_t>(total_seconds), static_cast<long>(nanos)};
}

// A deadline in the past makes mq_timed* return ETIMEDOUT at once when the queue is full/empty:
// "try once" without toggling O_NONBLOCK on a descriptor that other threads may share.
constexpr timespec kAlreadyExpired{0, 0};

}  // namespace

MessageQueueLimits MessageQueueLimits::read_current() {
  MessageQueueLimits limits;
  limits.msg_max = read_proc_long("/proc/sys/fs/mqueue/msg_max");
  limits.msgsize_max = read_proc_long("/proc/sys/fs/mqueue/msgsize_max");
  limits.queues_max = read_proc_long("/proc/sys/fs/mqueue/queues_max");
  rlimit rl{};
  if (getrlimit(RLIMIT_MSGQUEUE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY) {
    limits.rlimit_msgqueue = static_cast<long long>(rl.rlim_cur);
  }
  return limits;
}

MessageQueue::MessageQueue(posix::UniqueMq descriptor, posix::MqName name)
    : name_(std::move(name)), descriptor_(std::move(descriptor)) {
  mq_attr attr{};
  if (mq_getattr(descriptor_.get(), &attr) == 0) {
    max_messages_ = static_cast<std::uint32_t>(attr.mq_maxmsg);
    max_message_size_ = static_cast<std::uint32_t>(attr.mq_msgsize);
  }
}

Result<MessageQueue> MessageQueue::create(const MessageQueueOptions& options) {
  if (auto ok = validate_posix_name(options.name); !ok) return tl::unexpected(ok.error());
  if (options.max_messages == 0 || options.max_message_size == 0) {
    return make_error(ErrorCode::kInvalidArgument,
                      "mq_open(" + options.name +
                          "): max_messages and max_message_size must be "
                          "at least 1");
  }
  mq_attr attr{};
  attr.mq_maxmsg = options.max_messages;
  attr.mq_msgsize = options.max_message_size;
  posix::UniqueMq descriptor(
      mq_open(options.name.c_str(), O_RDWR | O_CREAT | O_EXCL, options.mode, &attr));
  if (!descriptor) return tl::unexpected(explain_create_failure(options, errno));
  MessageQueue queue(std::move(descriptor), posix::MqName(options.name, /*owned=*/true));
  // The umask may have narrowed the mode; containers of one Pod often run as different users
  // of one group, so the declared mode is applied as given.
  if (fchmod(queue.descriptor_.get(), options.mode) != 0) {
    return tl::unexpected(system_error("fchmod", options.name, errno));
  }
  return queue;
}

Result<MessageQueue> MessageQueue::create_or_open(const MessageQueueOptions& options) {
  // Between a failed create and the open, the other creator may unlink the name again: retry.
  for (int attempt = 0; attempt < 8; ++attempt) {
    auto created = create(options);
    if (created || created.error().code != ErrorCode::kAlreadyExists) return created;
    auto opened = open(options.name);
    if (!opened) {
      if (opened.error().code == ErrorCode::kNotFound) continue;
      return opened;
    }
    if (opened->max_messages() != options.max_messages ||
        opened->max_message_size() != options.max_message_size) {
      return make_error(ErrorCode::kIncompatible,
                        "mq_open(" + options.name + "): an existing queue has " +
                            std::to_string(opened->max_messages()) + " messages of " +
                            std::to_string(opened->max_message_size()) +
                            " bytes, the channel asks for " + std::to_string(options.max_messages) +
                            " of " + std::to_string(options.max_message_size));
    }
    return opened;
  }
  return make_error(ErrorCode::kSystem,
                    "mq_open(" + options.name + "): the queue kept appearing and disappearing");
}

Result<MessageQueue> MessageQueue::adopt(const MessageQueueOptions& options) {
  auto opened = open(options.name);
  if (!opened) return opened;
  if (opened->max_messages() < options.max_messages ||
      opened->max_message_size() < options.max_message_size) {
    return make_error(ErrorCode::kIncompatible,
                      "mq " + options.name + " exists with room for " +
                          std::to_string(opened->max_messages()) + " messages of " +
                          std::to_string(opened->max_message_size()) +
                          " bytes; the channel asks for " + std::to_string(options.max_messages) +
                          " of " + std::to_string(options.max_message_size));
  }
  opened->name_.own();
  return opened;
}

Result<MessageQueue> MessageQueue::open(std::string_view name, Access access) {
  if (auto ok = validate_posix_name(name); !ok) return tl::unexpected(ok.error());
  const std::string owned(name);
  posix::UniqueMq descriptor(mq_open(owned.c_str(), open_flags(access)));
  if (!descriptor) return tl::unexpected(explain_open_failure(name, errno));
  return MessageQueue(std::move(descriptor), posix::MqName(owned, /*owned=*/false));
}

Result<void> MessageQueue::unlink(std::string_view name) {
  if (auto ok = validate_posix_name(name); !ok) return tl::unexpected(ok.error());
  return posix::MqName::unlink(std::string(name));
}

// Moving hands over the descriptor and the name; assigning over a queue closes it (and unlinks
// its name when this object owned it).
MessageQueue::MessageQueue(MessageQueue&&) noexcept = default;
MessageQueue& MessageQueue::operator=(MessageQueue&&) noexcept = default;
MessageQueue::~MessageQueue() = default;

Result<void> MessageQueue::send(std::span<const std::byte> payload, unsigned priority,
                                std::chrono::nanoseconds timeout) {
  if (payload.size() > max_message_size_) {
    return make_error(ErrorCode::kMessageTooLarge,
                      "mq_send(" + name_.str() + "): " + std::to_string(payload.size()) +
                          " bytes exceed the queue's max message size of " +
                          std::to_string(max_message_size_));
  }
  if (priority >= MQ_PRIO_MAX) {
    return make_error(ErrorCode::kInvalidArgument, "mq_send(" + name_.str() + "): priority " +
                                                       std::to_string(priority) + " is not below " +
                                                       std::to_string(MQ_PRIO_MAX));
  }
  const auto* data = reinterpret_cast<const char*>(payload.data());
  const bool forever = timeout == std::chrono::nanoseconds::max();
  const bool once = timeout <= std::chrono::nanoseconds::zero();
  const timespec deadline = once ? kAlreadyExpired : forever ? timespec{} : deadline_after(timeout);
  while (true) {
    const int rc = forever
                       ? mq_send(descriptor_.get(), data, payload.size(), priority)
                       : mq_timedsend(descriptor_.get(), data, payload.size(), priority, &deadline);
    if (rc == 0) return {};
    const int error = errno;
    if (error == EINTR) continue;  // a signal handler ran; the absolute deadline still holds
    if (error == ETIMEDOUT || error == EAGAIN) {
      if (once || error == EAGAIN) {
        return make_error(ErrorCode::kWouldBlock, "mq_send(" + name_.str() +
                                                      "): the queue is full (" +
                                                      std::to_string(max_messages_) + " messages)");
      }
      return make_error(
          ErrorCode::kTimeout,
          "mq_send(" + name_.str() + "): the queue stayed full for " +
              std::to_string(
                  std::chrono::duration_cast<std::chrono::milliseconds>(timeout).count()) +
              " ms");
    }
    return tl::unexpected(system_error("mq_send", name_.str(), error));
  }
}

Result<ReceivedMessage> MessageQueue::receive(std::span<std::byte> buffer,
                                              std::chrono::nanoseconds timeout) {
  // The kernel refuses (EMSGSIZE) any buffer smaller than mq_msgsize, whatever the message size.
  if (buffer.size() < max_message_size_) {
    return make_error(ErrorCode::kMessageTooLarge,
                      "mq_receive(" + name_.str() + "): a buffer of " +
                          std::to_string(buffer.size()) +
                          " bytes is smaller than the queue's max message size of " +
                          std::to_string(max_message_size_));
  }
  auto* data = reinterpret_cast<char*>(buffer.data());
  const bool forever = timeout == std::chrono::nanoseconds::max();
  const bool once = timeout <= std::chrono::nanoseconds::zero();
  const timespec deadline = once ? kAlreadyExpired : forever ? timespec{} : deadline_after(timeout);
  while (true) {
    unsigned priority = 0;
    const ssize_t size =
        forever ? mq_receive(descriptor_.get(), data, buffer.size(), &priority)
                : mq_timedreceive(descriptor_.get(), data, buffer.size(), &priority, &deadline);
    if (size >= 0) return ReceivedMessage{static_cast<std::size_t>(size), priority};
    const int error = errno;
    if (error == EINTR) continue;
    if (error == ETIMEDOUT || error == EAGAIN) {
      if (once || error == EAGAIN) {
        return make_error(ErrorCode::kWouldBlock,
                          "mq_receive(" + name_.str() + "): the queue is empty");
      }
      return make_error(
          ErrorCode::kTimeout,
          "mq_receive(" + name_.str() + "): no message within " +
              std::to_string(
                  std::chrono::duration_cast<std::chrono::milliseconds>(timeout).count()) +
              " ms");
    }
    return tl::unexpected(system_error("mq_receive", name_.str(), error));
  }
}

long MessageQueue::current_messages() const {
  mq_attr attr{};
  if (mq_getattr(descriptor_.get(), &attr) != 0) return -1;
  return attr.mq_curmsgs;
}

}  // namespace ipcmesh
