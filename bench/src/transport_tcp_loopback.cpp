// TCP over 127.0.0.1 with TCP_NODELAY and a 4-byte length prefix per message. The receiver reads
// into a large buffer and parses frames out of it, as a well-written TCP consumer would, so
// streaming small messages is not charged two syscalls each.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "transport.hpp"
#include "transport_factories.hpp"

namespace ipcmesh::bench {
namespace {

constexpr std::size_t kPrefix = 4;
constexpr std::size_t kReadChunk = 256 * 1024;

class TcpEndpoint final : public Endpoint {
 public:
  TcpEndpoint(int fd, std::size_t size, bool fill)
      : fd_(fd), size_(size), buffer_(size, fill, kPrefix), in_(kReadChunk + kPrefix + size) {
    const auto length = static_cast<std::uint32_t>(size);
    std::memcpy(buffer_.data(), &length, kPrefix);
  }
  ~TcpEndpoint() override { ::close(fd_); }

  Result<void> send(std::uint64_t seq, std::uint32_t flags) override {
    const auto frame = buffer_.stamp(seq, flags);
    std::size_t sent = 0;
    while (sent < frame.size()) {
      const ssize_t n = ::send(fd_, frame.data() + sent, frame.size() - sent, MSG_NOSIGNAL);
      if (n > 0) {
        sent += static_cast<std::size_t>(n);
      } else if (n < 0 && errno != EINTR) {
        return tl::unexpected(system_error("send", "tcp loopback", errno));
      }
    }
    return {};
  }

  Result<Stamp> receive() override {
    if (auto r = fill(kPrefix); !r) return tl::unexpected(r.error());
    std::uint32_t length = 0;
    std::memcpy(&length, in_.data() + begin_, kPrefix);
    if (length != size_) return Stamp{};  // a broken frame: count it, the stream is lost anyway
    if (auto r = fill(kPrefix + length); !r) return tl::unexpected(r.error());
    const Stamp stamp = read_stamp({in_.data() + begin_ + kPrefix, length});
    begin_ += kPrefix + length;
    return stamp;
  }

 private:
  // Makes at least `need` unparsed bytes available at begin_, reading as much as the socket has.
  Result<void> fill(std::size_t need) {
    if (end_ - begin_ >= need) return {};
    if (begin_ + need > in_.size()) {  // compact: move the partial frame to the front
      std::memmove(in_.data(), in_.data() + begin_, end_ - begin_);
      end_ -= begin_;
      begin_ = 0;
    }
    while (end_ - begin_ < need) {
      const ssize_t n = ::recv(fd_, in_.data() + end_, in_.size() - end_, 0);
      if (n > 0) {
        end_ += static_cast<std::size_t>(n);
      } else if (n == 0) {
        return make_error(ErrorCode::kSystem, "tcp recv: peer closed");
      } else if (errno != EINTR) {
        return tl::unexpected(system_error("recv", "tcp loopback", errno));
      }
    }
    return {};
  }

  int fd_;
  std::size_t size_;
  MessageBuffer buffer_;
  std::vector<std::byte> in_;
  std::size_t begin_ = 0;
  std::size_t end_ = 0;
};

Result<void> set_nodelay(int fd) {
  const int one = 1;
  if (::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one) != 0) {
    return tl::unexpected(system_error("setsockopt(TCP_NODELAY)", "tcp loopback", errno));
  }
  return {};
}

class TcpLink final : public Link {
 public:
  TcpLink(int listener, std::uint16_t port, std::size_t size, bool fill)
      : listener_(listener), port_(port), size_(size), fill_(fill) {}
  ~TcpLink() override { ::close(listener_); }

  Result<std::unique_ptr<Endpoint>> open(Side side) override {
    int fd = -1;
    if (side == Side::kB) {  // B accepts, A connects
      fd = ::accept4(listener_, nullptr, nullptr, SOCK_CLOEXEC);
      if (fd < 0) return tl::unexpected(system_error("accept", "127.0.0.1", errno));
    } else {
      fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
      if (fd < 0) return tl::unexpected(system_error("socket", "AF_INET", errno));
      sockaddr_in address{};
      address.sin_family = AF_INET;
      address.sin_port = htons(port_);
      address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
      if (::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0) {
        const int saved = errno;
        ::close(fd);
        return tl::unexpected(system_error("connect", "127.0.0.1", saved));
      }
    }
    ::close(listener_);
    if (auto r = set_nodelay(fd); !r) {
      ::close(fd);
      return tl::unexpected(r.error());
    }
    return std::make_unique<TcpEndpoint>(fd, size_, fill_);
  }

  nlohmann::json config() const override {
    return {{"address", "127.0.0.1:" + std::to_string(port_)},
            {"tcp_nodelay", true},
            {"framing", "4-byte length prefix"},
            {"receive_buffer", kReadChunk}};
  }

 private:
  int listener_;
  std::uint16_t port_;
  std::size_t size_;
  bool fill_;
};

class TcpTransport final : public Transport {
 public:
  std::string_view name() const override { return "tcp-loopback"; }
  std::string_view description() const override {
    return "TCP over 127.0.0.1, TCP_NODELAY, length-prefixed frames";
  }

  Result<std::unique_ptr<Link>> prepare(const LinkSpec& spec) override {
    const int listener = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (listener < 0) return tl::unexpected(system_error("socket", "AF_INET", errno));
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = 0;  // an ephemeral port: parallel runs never collide
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t length = sizeof address;
    if (::bind(listener, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0 ||
        ::listen(listener, 1) != 0 ||
        ::getsockname(listener, reinterpret_cast<sockaddr*>(&address), &length) != 0) {
      const int saved = errno;
      ::close(listener);
      return tl::unexpected(system_error("bind/listen", "127.0.0.1:0", saved));
    }
    return std::make_unique<TcpLink>(listener, ntohs(address.sin_port), spec.message_size,
                                     spec.fill_payload);
  }
};

}  // namespace

std::unique_ptr<Transport> make_tcp_loopback_transport() {
  return std::make_unique<TcpTransport>();
}

}  // namespace ipcmesh::bench
