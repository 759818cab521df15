// POSIX IPC object names, Kubernetes object names, and the names derived from a channel identity.
#include <cstdint>
#include <cstdio>
#include <string>
#include <string_view>

#include "ipcmesh/channel_spec.hpp"

namespace ipcmesh {
namespace {

constexpr std::size_t kDns1123LabelMax = 63;       // RFC 1123 label, Kubernetes namespaces
constexpr std::size_t kDns1123SubdomainMax = 253;  // RFC 1123 subdomain, most object names
constexpr std::string_view kNamePrefix = "ipcmesh.";
constexpr std::string_view kMqSuffix = ".mq";
constexpr std::size_t kHashDigits = 16;

tl::unexpected<Error> invalid(std::string message) {
  return make_error(ErrorCode::kInvalidArgument, std::move(message));
}

std::string quoted(std::string_view text) {
  std::string out = "\"";
  for (char c : text) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) {
      char escaped[8];
      std::snprintf(escaped, sizeof escaped, "\\x%02x", static_cast<unsigned char>(c));
      out += escaped;
    } else {
      out += c;
    }
  }
  return out + "\"";
}

bool is_label_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-';
}
bool is_alnum_lower(char c) {
  return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

// One RFC 1123 label without the length rule: [a-z0-9]([-a-z0-9]*[a-z0-9])?
std::string label_problem(std::string_view label) {
  if (label.empty()) return "has an empty label";
  for (char c : label) {
    if (!is_label_char(c)) {
      return "contains " + quoted(std::string_view(&c, 1)) +
             " (only lowercase letters, digits and '-' are allowed)";
    }
  }
  if (!is_alnum_lower(label.front()) || !is_alnum_lower(label.back())) {
    return "must start and end with a lowercase letter or digit";
  }
  return {};
}

// FNV-1a, 64 bit, over "<namespace>/<name>": '/' can appear in neither part, so the input is
// unambiguous. docs/channel-contract.md gives the same definition for other implementations.
std::string identity_hash(const ChannelId& id) {
  std::uint64_t hash = 0xcbf29ce484222325ull;
  const auto mix = [&hash](std::string_view bytes) {
    for (unsigned char c : bytes) {
      hash ^= c;
      hash *= 0x100000001b3ull;
    }
  };
  mix(id.namespace_name);
  mix("/");
  mix(id.name);
  char hex[kHashDigits + 1];
  std::snprintf(hex, sizeof hex, "%016llx", static_cast<unsigned long long>(hash));
  return std::string(hex, kHashDigits);
}

std::string derived_name(const ChannelId& id, std::string_view suffix) {
  std::string base;
  base.reserve(kNamePrefix.size() + id.namespace_name.size() + 1 + id.name.size());
  base.append(kNamePrefix).append(id.namespace_name).append(".").append(id.name);
  if (base.size() + suffix.size() <= kPosixNameMax) {
    return "/" + base + std::string(suffix);
  }
  // Too long: keep a readable prefix and make it unique with the hash of the full identity.
  const std::size_t keep = kPosixNameMax - suffix.size() - 1 - kHashDigits;
  return "/" + base.substr(0, keep) + "-" + identity_hash(id) + std::string(suffix);
}

}  // namespace

Result<void> validate_posix_name(std::string_view name) {
  if (name.empty()) return invalid("POSIX name is empty (expected \"/name\")");
  if (name.front() != '/') {
    return invalid("POSIX name " + quoted(name) + " must start with '/'");
  }
  const std::string_view rest = name.substr(1);
  if (rest.empty()) return invalid("POSIX name \"/\" has nothing after the '/'");
  if (rest.find('/') != std::string_view::npos) {
    return invalid("POSIX name " + quoted(name) + " may contain no '/' after the first");
  }
  if (rest.find('\0') != std::string_view::npos) {
    return invalid("POSIX name " + quoted(name) + " contains a NUL byte");
  }
  if (rest == "." || rest == "..") {
    return invalid("POSIX name " + quoted(name) + " is not allowed");
  }
  if (rest.size() > kPosixNameMax) {
    return invalid("POSIX name is " + std::to_string(rest.size()) +
                   " bytes after the '/', the limit is " + std::to_string(kPosixNameMax));
  }
  return {};
}

Result<void> validate_dns1123_label(std::string_view text) {
  if (text.empty()) return invalid("must not be empty");
  if (text.size() > kDns1123LabelMax) {
    return invalid(quoted(text) + " is " + std::to_string(text.size()) +
                   " characters, a DNS-1123 label has at most " + std::to_string(kDns1123LabelMax));
  }
  if (auto problem = label_problem(text); !problem.empty()) {
    return invalid(quoted(text) + " is not a DNS-1123 label: it " + problem);
  }
  return {};
}

Result<void> validate_dns1123_subdomain(std::string_view text) {
  if (text.empty()) return invalid("must not be empty");
  if (text.size() > kDns1123SubdomainMax) {
    return invalid(quoted(text.substr(0, 32)) + "... is " + std::to_string(text.size()) +
                   " characters, a DNS-1123 subdomain has at most " +
                   std::to_string(kDns1123SubdomainMax));
  }
  std::size_t start = 0;
  while (true) {
    const std::size_t dot = text.find('.', start);
    const std::string_view label =
        text.substr(start, dot == std::string_view::npos ? std::string_view::npos : dot - start);
    if (auto problem = label_problem(label); !problem.empty()) {
      return invalid(quoted(text) + " is not a DNS-1123 subdomain: it " + problem);
    }
    if (dot == std::string_view::npos) break;
    start = dot + 1;
  }
  return {};
}

std::string shm_object_name(const ChannelId& id) {
  return derived_name(id, "");
}
std::string mq_object_name(const ChannelId& id) {
  return derived_name(id, kMqSuffix);
}

}  // namespace ipcmesh
