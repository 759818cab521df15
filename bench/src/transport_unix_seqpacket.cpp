// A Unix domain socket pair of type SOCK_SEQPACKET: message boundaries kept by the kernel, one
// send and one recv per message, both directions on one socket.
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>

#include "transport.hpp"
#include "transport_factories.hpp"

namespace ipcmesh::bench {
namespace {

class SeqpacketEndpoint final : public Endpoint {
 public:
  SeqpacketEndpoint(int fd, std::size_t size, bool fill)
      : fd_(fd), buffer_(size, fill), receive_buffer_(size) {}
  ~SeqpacketEndpoint() override { ::close(fd_); }

  Result<void> send(std::uint64_t seq, std::uint32_t flags) override {
    const auto bytes = buffer_.stamp(seq, flags);
    for (;;) {
      const ssize_t n = ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
      if (n == static_cast<ssize_t>(bytes.size())) return {};
      if (n >= 0) return make_error(ErrorCode::kSystem, "seqpacket send: short write");
      if (errno != EINTR) return tl::unexpected(system_error("send", "socketpair", errno));
    }
  }

  Result<Stamp> receive() override {
    for (;;) {
      // MSG_TRUNC makes recv return the real length, so a too-long packet is seen as corrupt.
      const ssize_t n = ::recv(fd_, receive_buffer_.data(), receive_buffer_.size(), MSG_TRUNC);
      if (n > static_cast<ssize_t>(receive_buffer_.size())) return Stamp{};
      if (n > 0) return read_stamp({receive_buffer_.data(), static_cast<std::size_t>(n)});
      if (n == 0) return make_error(ErrorCode::kSystem, "seqpacket recv: peer closed");
      if (errno != EINTR) return tl::unexpected(system_error("recv", "socketpair", errno));
    }
  }

 private:
  int fd_;
  MessageBuffer buffer_;
  std::vector<std::byte> receive_buffer_;
};

class SeqpacketLink final : public Link {
 public:
  SeqpacketLink(int a, int b, std::size_t size, bool fill) : fds_{a, b}, size_(size), fill_(fill) {}
  ~SeqpacketLink() override {
    ::close(fds_[0]);
    ::close(fds_[1]);
  }

  Result<std::unique_ptr<Endpoint>> open(Side side) override {
    // Each forked side keeps its own end and closes the other, as two real programs would.
    const int mine = fds_[side == Side::kA ? 0 : 1];
    const int other = fds_[side == Side::kA ? 1 : 0];
    ::close(other);
    const int fd = ::dup(mine);
    if (fd < 0) return tl::unexpected(system_error("dup", "socketpair", errno));
    return std::make_unique<SeqpacketEndpoint>(fd, size_, fill_);
  }

  nlohmann::json config() const override {
    int sndbuf = 0;
    socklen_t len = sizeof sndbuf;
    ::getsockopt(fds_[0], SOL_SOCKET, SO_SNDBUF, &sndbuf, &len);
    return {{"socket", "socketpair(AF_UNIX, SOCK_SEQPACKET)"}, {"so_sndbuf", sndbuf}};
  }

 private:
  int fds_[2];
  std::size_t size_;
  bool fill_;
};

class SeqpacketTransport final : public Transport {
 public:
  std::string_view name() const override { return "uds-seqpacket"; }
  std::string_view description() const override {
    return "Unix domain socketpair, SOCK_SEQPACKET, default buffers";
  }

  Result<std::unique_ptr<Link>> prepare(const LinkSpec& spec) override {
    int fds[2];
    if (::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, fds) != 0) {
      return tl::unexpected(system_error("socketpair", "AF_UNIX/SOCK_SEQPACKET", errno));
    }
    return std::make_unique<SeqpacketLink>(fds[0], fds[1], spec.message_size, spec.fill_payload);
  }
};

}  // namespace

std::unique_ptr<Transport> make_unix_seqpacket_transport() {
  return std::make_unique<SeqpacketTransport>();
}

}  // namespace ipcmesh::bench
