// Typed errors for the data path: hot paths return tl::expected<T, Error>, never throw.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <tl/expected.hpp>

namespace ipcmesh {

enum class ErrorCode : std::uint8_t {
  kInvalidArgument,  // caller passed something the contract forbids
  kNotFound,         // the POSIX object does not exist (yet)
  kAlreadyExists,    // a live channel of that name exists
  kTimeout,          // waited as long as asked
  kWouldBlock,       // DropNewest: the ring is full, the message was not published
  kMessageTooLarge,  // larger than the channel's maxMessageSize
  kCorrupted,        // a header or record failed validation (foreign or damaged segment)
  kIncompatible,     // a valid header of another layout version
  kNoSpace,          // /dev/shm or a kernel limit cannot hold the channel
  kLimitExceeded,    // a kernel limit (fs.mqueue.*, RLIMIT_MSGQUEUE) refuses the request
  kOverrun,          // DropOldest: the message under a zero-copy view was overwritten
  kTableFull,        // no free subscriber or producer slot
  kSystem,           // any other failed system call (errno text in the message)
  kCancelled,        // the caller's cancel flag was set (see SubscriberOptions::cancel)
};

std::string_view to_string(ErrorCode code) noexcept;

struct Error {
  ErrorCode code;
  std::string message;  // says what was attempted, on what name, and why it failed
};

template <typename T>
using Result = tl::expected<T, Error>;

inline tl::unexpected<Error> make_error(ErrorCode code, std::string message) {
  return tl::unexpected<Error>(Error{code, std::move(message)});
}

// "shm_open(/ipcmesh.default.pipeline): No such file or directory" from the current errno.
Error system_error(std::string_view what, std::string_view name, int errno_value);

}  // namespace ipcmesh
