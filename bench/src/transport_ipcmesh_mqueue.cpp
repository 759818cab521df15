// The ipcmesh MessageQueue wrapper: the same kernel queues as posix-mqueue, through the RAII API
// with timeouts and explained errors, to show what the wrapper costs (it should cost nothing).
#include "environment.hpp"
#include "ipcmesh/message_queue.hpp"
#include "transport.hpp"
#include "transport_factories.hpp"

namespace ipcmesh::bench {
namespace {

class WrapperEndpoint final : public Endpoint {
 public:
  WrapperEndpoint(std::optional<MessageQueue> out, std::optional<MessageQueue> in, std::size_t size,
                  bool fill)
      : out_(std::move(out)), in_(std::move(in)), buffer_(size, fill), receive_buffer_(size) {}

  Result<void> send(std::uint64_t seq, std::uint32_t flags) override {
    return out_->send(buffer_.stamp(seq, flags));
  }

  Result<Stamp> receive() override {
    auto received = in_->receive(receive_buffer_);
    if (!received) return tl::unexpected(received.error());
    return read_stamp({receive_buffer_.data(), received->size});
  }

 private:
  std::optional<MessageQueue> out_;
  std::optional<MessageQueue> in_;
  MessageBuffer buffer_;
  std::vector<std::byte> receive_buffer_;
};

class WrapperLink final : public Link {
 public:
  WrapperLink(std::vector<MessageQueue> queues, std::size_t size, long depth, bool fill)
      : queues_(std::move(queues)), size_(size), depth_(depth), fill_(fill) {}

  Result<std::unique_ptr<Endpoint>> open(Side side) override {
    const std::size_t out = side == Side::kA ? 0 : 1;
    const std::size_t in = side == Side::kA ? 1 : 0;
    std::optional<MessageQueue> out_queue;
    std::optional<MessageQueue> in_queue;
    if (out < queues_.size()) {
      auto q = MessageQueue::open(queues_[out].name(), MessageQueue::Access::kWriteOnly);
      if (!q) return tl::unexpected(q.error());
      out_queue.emplace(std::move(*q));
    }
    if (in < queues_.size()) {
      auto q = MessageQueue::open(queues_[in].name(), MessageQueue::Access::kReadOnly);
      if (!q) return tl::unexpected(q.error());
      in_queue.emplace(std::move(*q));
    }
    return std::make_unique<WrapperEndpoint>(std::move(out_queue), std::move(in_queue), size_,
                                             fill_);
  }

  nlohmann::json config() const override {
    return {{"queue_depth", depth_}, {"message_size", size_}};
  }

 private:
  std::vector<MessageQueue> queues_;  // created by the parent, unlinked when it destroys them
  std::size_t size_;
  long depth_;
  bool fill_;
};

class WrapperTransport final : public Transport {
 public:
  std::string_view name() const override { return "ipcmesh-mqueue"; }
  std::string_view description() const override {
    return "ipcmesh MessageQueue wrapper (RAII mq_*), one queue per direction";
  }

  std::string group_limitation(const GroupShape& shape) const override {
    return queue_group_limitation(shape);
  }

  Result<std::unique_ptr<Link>> prepare(const LinkSpec& spec) override {
    const int count = spec.pattern == Pattern::kPingPong ? 2 : 1;
    long depth = bench_queue_depth(spec.message_size, count);
    std::vector<MessageQueue> queues;
    for (int i = 0; i < count; ++i) {
      MessageQueueOptions options;
      options.name = "/ipcmesh-bench." + spec.tag + (i == 0 ? ".wab" : ".wba");
      options.max_messages = static_cast<std::uint32_t>(depth);
      options.max_message_size = static_cast<std::uint32_t>(spec.message_size);
      options.mode = 0600;
      MessageQueue::unlink(options.name);  // a leftover of a killed run
      auto queue = MessageQueue::create(options);
      if (!queue && queue.error().code == ErrorCode::kLimitExceeded && depth > 1) {
        // RLIMIT_MSGQUEUE is shared with this uid's other processes: halve the depth, retry.
        queues.clear();
        depth /= 2;
        i = -1;
        continue;
      }
      if (!queue) return tl::unexpected(queue.error());
      queues.push_back(std::move(*queue));
    }
    return std::make_unique<WrapperLink>(std::move(queues), spec.message_size, depth,
                                         spec.fill_payload);
  }
};

}  // namespace

std::unique_ptr<Transport> make_ipcmesh_mqueue_transport() {
  return std::make_unique<WrapperTransport>();
}

}  // namespace ipcmesh::bench
