// Raw POSIX message queues: mq_send/mq_receive straight on the kernel API, the baseline the
// targets are measured against. One queue per direction.
#include <fcntl.h>
#include <mqueue.h>

#include <cerrno>
#include <string>

#include "environment.hpp"
#include "transport.hpp"
#include "transport_factories.hpp"

namespace ipcmesh::bench {
namespace {

class PosixQueueEndpoint final : public Endpoint {
 public:
  PosixQueueEndpoint(mqd_t out, mqd_t in, std::size_t size, bool fill)
      : out_(out), in_(in), buffer_(size, fill), receive_buffer_(size) {}
  ~PosixQueueEndpoint() override {
    if (out_ != static_cast<mqd_t>(-1)) mq_close(out_);
    if (in_ != static_cast<mqd_t>(-1)) mq_close(in_);
  }

  Result<void> send(std::uint64_t seq, std::uint32_t flags) override {
    const auto bytes = buffer_.stamp(seq, flags);
    while (mq_send(out_, reinterpret_cast<const char*>(bytes.data()), bytes.size(), 0) != 0) {
      if (errno != EINTR) return tl::unexpected(system_error("mq_send", "bench queue", errno));
    }
    return {};
  }

  Result<Stamp> receive() override {
    for (;;) {
      const ssize_t n = mq_receive(in_, reinterpret_cast<char*>(receive_buffer_.data()),
                                   receive_buffer_.size(), nullptr);
      if (n >= 0) {
        return read_stamp({receive_buffer_.data(), static_cast<std::size_t>(n)});
      }
      if (errno != EINTR) return tl::unexpected(system_error("mq_receive", "bench queue", errno));
    }
  }

 private:
  mqd_t out_;
  mqd_t in_;
  MessageBuffer buffer_;
  std::vector<std::byte> receive_buffer_;
};

class PosixQueueLink final : public Link {
 public:
  PosixQueueLink(std::string ab, std::string ba, std::size_t size, long depth, bool fill)
      : ab_(std::move(ab)), ba_(std::move(ba)), size_(size), depth_(depth), fill_(fill) {}
  ~PosixQueueLink() override {
    if (!ab_.empty()) mq_unlink(ab_.c_str());
    if (!ba_.empty()) mq_unlink(ba_.c_str());
  }

  Result<std::unique_ptr<Endpoint>> open(Side side) override {
    // A writes a->b and reads b->a; B the reverse. Streaming has no b->a queue.
    const std::string& out_name = side == Side::kA ? ab_ : ba_;
    const std::string& in_name = side == Side::kA ? ba_ : ab_;
    mqd_t out = static_cast<mqd_t>(-1);
    mqd_t in = static_cast<mqd_t>(-1);
    if (!out_name.empty()) {
      out = mq_open(out_name.c_str(), O_WRONLY);
      if (out == static_cast<mqd_t>(-1)) {
        return tl::unexpected(system_error("mq_open", out_name, errno));
      }
    }
    if (!in_name.empty()) {
      in = mq_open(in_name.c_str(), O_RDONLY);
      if (in == static_cast<mqd_t>(-1)) {
        const int saved = errno;
        if (out != static_cast<mqd_t>(-1)) mq_close(out);
        return tl::unexpected(system_error("mq_open", in_name, saved));
      }
    }
    return std::make_unique<PosixQueueEndpoint>(out, in, size_, fill_);
  }

  nlohmann::json config() const override {
    return {{"queue_depth", depth_}, {"message_size", size_}};
  }

 private:
  std::string ab_;
  std::string ba_;
  std::size_t size_;
  long depth_;
  bool fill_;
};

Result<void> create_queue(const std::string& name, long depth, std::size_t size) {
  mq_unlink(name.c_str());  // a leftover of a killed run
  mq_attr attr{};
  attr.mq_maxmsg = depth;
  attr.mq_msgsize = static_cast<long>(size);
  const mqd_t q = mq_open(name.c_str(), O_CREAT | O_EXCL | O_RDWR, 0600, &attr);
  if (q == static_cast<mqd_t>(-1)) {
    const int saved = errno;
    Error error = system_error("mq_open(O_CREAT)", name, saved);
    error.message += " (" + describe_mqueue_limits() + ", depth " + std::to_string(depth) +
                     ", message size " + std::to_string(size) + ")";
    return tl::unexpected(error);
  }
  mq_close(q);
  return {};
}

class PosixQueueTransport final : public Transport {
 public:
  std::string_view name() const override { return "posix-mqueue"; }
  std::string_view description() const override {
    return "raw POSIX message queue (mq_send/mq_receive), one queue per direction";
  }

  std::string group_limitation(const GroupShape& shape) const override {
    return queue_group_limitation(shape);
  }

  Result<std::unique_ptr<Link>> prepare(const LinkSpec& spec) override {
    const int queues = spec.pattern == Pattern::kPingPong ? 2 : 1;
    long depth = bench_queue_depth(spec.message_size, queues);
    const std::string ab = "/ipcmesh-bench." + spec.tag + ".ab";
    const std::string ba =
        spec.pattern == Pattern::kPingPong ? "/ipcmesh-bench." + spec.tag + ".ba" : std::string();
    // EMFILE here is RLIMIT_MSGQUEUE, whose budget other processes of this uid share: halve
    // the depth and retry rather than not run.
    for (;;) {
      auto first = create_queue(ab, depth, spec.message_size);
      auto second = first && !ba.empty() ? create_queue(ba, depth, spec.message_size) : first;
      if (first && second) break;
      mq_unlink(ab.c_str());
      const Error error = first ? second.error() : first.error();
      if (error.message.find("Too many open files") == std::string::npos || depth == 1) {
        return tl::unexpected(error);
      }
      depth /= 2;
    }
    return std::make_unique<PosixQueueLink>(ab, ba, spec.message_size, depth, spec.fill_payload);
  }
};

}  // namespace

std::unique_ptr<Transport> make_posix_mqueue_transport() {
  return std::make_unique<PosixQueueTransport>();
}

}  // namespace ipcmesh::bench
