// A real segment in /dev/shm for the unit tests of the ring's algorithms (the ones that need the
// tables and the liveness locks; the record tests use a plain buffer).
#pragma once

#include <unistd.h>

#include <memory>
#include <string>

#include "channel/shm_segment.hpp"

namespace ipcmesh::shm::testing {

inline std::unique_ptr<Segment> make_segment(const char* what,
                                             SlowConsumerPolicy policy = SlowConsumerPolicy::kBlock,
                                             std::uint64_t capacity = 4096) {
  ShmChannelOptions options;
  options.name = "/ipcmesh-unit-" + std::string(what) + "." + std::to_string(::getpid());
  options.capacity_bytes = capacity;
  options.max_message_size = 256;
  options.policy = policy;
  options.max_subscribers = 4;
  options.max_producers = 4;
  (void)ShmChannel::unlink(options.name);
  auto segment = create_segment(options);
  return segment ? std::move(*segment) : nullptr;
}

}  // namespace ipcmesh::shm::testing
