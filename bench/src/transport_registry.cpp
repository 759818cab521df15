#include <algorithm>
#include <bit>

#include "transport.hpp"
#include "transport_factories.hpp"

namespace ipcmesh::bench {
namespace {

class UnavailableTransport final : public Transport {
 public:
  UnavailableTransport(std::string name, std::string description, std::string reason)
      : name_(std::move(name)), description_(std::move(description)), reason_(std::move(reason)) {}
  std::string_view name() const override { return name_; }
  std::string_view description() const override { return description_; }
  std::string start(const std::vector<std::size_t>&) override { return reason_; }
  Result<std::unique_ptr<Link>> prepare(const LinkSpec&) override {
    return make_error(ErrorCode::kNotFound, reason_);
  }

 private:
  std::string name_;
  std::string description_;
  std::string reason_;
};

}  // namespace

std::unique_ptr<Transport> make_unavailable_transport(std::string name, std::string description,
                                                      std::string reason) {
  return std::make_unique<UnavailableTransport>(std::move(name), std::move(description),
                                                std::move(reason));
}

std::vector<std::unique_ptr<Transport>> make_transports() {
  std::vector<std::unique_ptr<Transport>> transports;
  // The floor first: every other row is read as a fraction of it.
  transports.push_back(make_spsc_floor_transport());
#ifdef IPCMESH_BENCH_HAVE_SHM
  transports.push_back(make_ipcmesh_shm_transport(WaitMode::kAdaptive));
  transports.push_back(make_ipcmesh_shm_transport(WaitMode::kSpinThenSleep));
  transports.push_back(make_ipcmesh_shm_transport(WaitMode::kBusyPoll));
#else
  const std::string no_shm =
      "not built: sidecar/src/channel/shm_*.cpp did not exist at configure time";
  transports.push_back(make_unavailable_transport(
      "ipcmesh-shm", "ipcmesh shm channel, default mode (adaptive)", no_shm));
  transports.push_back(make_unavailable_transport(
      "ipcmesh-shm-spin", "ipcmesh shm channel, spin-then-sleep mode", no_shm));
  transports.push_back(make_unavailable_transport("ipcmesh-shm-busy",
                                                  "ipcmesh shm channel, busy-poll mode", no_shm));
#endif
#ifdef IPCMESH_BENCH_HAVE_MQ
  transports.push_back(make_ipcmesh_mqueue_transport());
#else
  transports.push_back(make_unavailable_transport(
      "ipcmesh-mqueue", "ipcmesh MessageQueue wrapper",
      "not built: sidecar/src/channel/message_queue.cpp did not exist at configure time"));
#endif
  transports.push_back(make_posix_mqueue_transport());
  transports.push_back(make_unix_seqpacket_transport());
  transports.push_back(make_tcp_loopback_transport());
#ifdef IPCMESH_BENCH_HAVE_ICEORYX
  for (auto& transport : make_iceoryx_transports()) transports.push_back(std::move(transport));
#else
  const std::string no_iceoryx =
      "not built: CMake package iceoryx_posh not found "
      "(apt-get install iceoryx libiceoryx-posh-dev)";
  transports.push_back(
      make_unavailable_transport("iceoryx", "iceoryx 2.0 untyped pub/sub, WaitSet", no_iceoryx));
  transports.push_back(make_unavailable_transport(
      "iceoryx-poll", "iceoryx 2.0 untyped pub/sub, busy polling", no_iceoryx));
#endif
  return transports;
}

std::string queue_group_limitation(const GroupShape& shape) {
  if (shape.subscribers > 1) return "a queue delivers each message to one reader";
  return {};
}

std::uint64_t ring_bytes_for(std::size_t message_size) {
  // 4 MiB, or room for 64 messages with their record headers when that is more.
  const std::uint64_t want = std::max<std::uint64_t>(4u << 20, 64 * (message_size + 64));
  return std::bit_ceil(want);
}

}  // namespace ipcmesh::bench
