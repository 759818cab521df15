#include "ipcmesh/error.hpp"

#include <cerrno>
#include <cstring>
#include <string>

namespace ipcmesh {

std::string_view to_string(ErrorCode code) noexcept {
  switch (code) {
    case ErrorCode::kInvalidArgument:
      return "invalid argument";
    case ErrorCode::kNotFound:
      return "not found";
    case ErrorCode::kAlreadyExists:
      return "already exists";
    case ErrorCode::kTimeout:
      return "timeout";
    case ErrorCode::kWouldBlock:
      return "would block";
    case ErrorCode::kMessageTooLarge:
      return "message too large";
    case ErrorCode::kCorrupted:
      return "corrupted";
    case ErrorCode::kIncompatible:
      return "incompatible";
    case ErrorCode::kNoSpace:
      return "no space";
    case ErrorCode::kLimitExceeded:
      return "limit exceeded";
    case ErrorCode::kOverrun:
      return "overrun";
    case ErrorCode::kTableFull:
      return "table full";
    case ErrorCode::kCancelled:
      return "cancelled";
    case ErrorCode::kSystem:
      return "system error";
  }
  return "unknown error";
}

Error system_error(std::string_view what, std::string_view name, int errno_value) {
  // strerror_r (GNU flavour) is thread-safe; the buffer is only used for unknown errno values.
  char buffer[128];
  const char* text = strerror_r(errno_value, buffer, sizeof buffer);
  std::string message;
  message.reserve(what.size() + name.size() + 64);
  message.append(what).append("(").append(name).append("): ").append(text);
  ErrorCode code = ErrorCode::kSystem;
  switch (errno_value) {
    case ENOENT:
      code = ErrorCode::kNotFound;
      break;
    case EEXIST:
      code = ErrorCode::kAlreadyExists;
      break;
    case EINVAL:
    case ENAMETOOLONG:
      code = ErrorCode::kInvalidArgument;
      break;
    case ETIMEDOUT:
      code = ErrorCode::kTimeout;
      break;
    case EAGAIN:
      code = ErrorCode::kWouldBlock;
      break;
    case EMSGSIZE:
      code = ErrorCode::kMessageTooLarge;
      break;
    case ENOSPC:
    case ENOMEM:
      code = ErrorCode::kNoSpace;
      break;
    default:
      break;
  }
  return Error{code, std::move(message)};
}

}  // namespace ipcmesh
