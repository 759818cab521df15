// One interface for every transport the bench compares. The parent process prepares a Link (the
// kernel objects of one measurement: queues, sockets, rings) before it forks; each forked side
// then opens its Endpoint on it and only sends and receives stamped messages. Keeping the
// transports behind this small seam is what makes the figures comparable: the harness, the
// timing and the verification are the same code for all of them.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "ipcmesh/error.hpp"
#include "message_stamp.hpp"

namespace ipcmesh::bench {

enum class Pattern : std::uint8_t {
  kStream,    // side A sends, side B receives
  kPingPong,  // A sends a ping, B answers with a pong carrying the same stamp
};

// A is the producer (stream) or the client measuring round trips (ping-pong); B the other one.
enum class Side : std::uint8_t { kA, kB };

// Largest number of producers, and of subscribers, in one fan-out or fan-in measurement.
inline constexpr std::uint32_t kMaxGroupMembers = 32;
static_assert(kMaxGroupMembers <= kMaxStampProducers);

// Who streams to whom: 1 -> 1 (the pair of the main table), 1 -> N (fan-out: every subscriber
// receives every message) or N -> 1 (fan-in: the subscriber receives every producer's messages).
// In a stream Link every producer process opens Side::kA and every subscriber process Side::kB.
struct GroupShape {
  std::uint32_t producers = 1;
  std::uint32_t subscribers = 1;
};

struct LinkSpec {
  std::size_t message_size = 64;
  Pattern pattern = Pattern::kStream;
  std::string tag;            // unique per measurement, safe in POSIX names ("<pid>-<n>")
  bool fill_payload = false;  // writers fill every byte and readers check it (--fill-payload)
  GroupShape group;           // stream only: how many processes will open each side
};

class Endpoint {
 public:
  virtual ~Endpoint() = default;
  // Sends one message of the link's size stamped with seq and flags (blocking when full).
  virtual Result<void> send(std::uint64_t seq, std::uint32_t flags) = 0;
  // Blocks until one message arrives (spinning or sleeping as the transport does) and returns
  // its stamp as read from the received bytes.
  virtual Result<Stamp> receive() = 0;
};

class Link {
 public:
  virtual ~Link() = default;
  // Called in a forked child: the side's endpoint. For a transport with a rendezvous (iceoryx,
  // TCP) this waits until the other side is there.
  virtual Result<std::unique_ptr<Endpoint>> open(Side side) = 0;
  // What was configured (ring or queue sizes, socket buffers), recorded in the report.
  virtual nlohmann::json config() const { return nlohmann::json::object(); }
};

class Transport {
 public:
  virtual ~Transport() = default;
  virtual std::string_view name() const = 0;
  virtual std::string_view description() const = 0;
  // Called once before the first measurement: a non-empty reason makes every row of this
  // transport "not run" (e.g. iceoryx not built, RouDi does not start).
  virtual std::string start(const std::vector<std::size_t>& sizes) {
    (void)sizes;
    return {};
  }
  // Called after the transport's last measurement (stops a daemon start() launched).
  virtual void stop() {}
  // Called in the parent before the fork. A failure here is reported as "not run" with the
  // error, e.g. a message size above a kernel limit.
  virtual Result<std::unique_ptr<Link>> prepare(const LinkSpec& spec) = 0;
  // Whether one stream Link can serve `shape` with every subscriber receiving every message of
  // every producer (the fan-out and fan-in measurements): empty when it can, else why not, which
  // the report prints as "not run: <reason>". The default is a transport whose link joins one
  // writer to one reader; its 1 -> 1 stream is already the main table's.
  virtual std::string group_limitation(const GroupShape& shape) const {
    (void)shape;
    return "a link joins exactly one writer and one reader (its 1 -> 1 stream is in the main "
           "table)";
  }
  // Transport-wide settings for the report (e.g. the RouDi mempools).
  virtual nlohmann::json config() const { return nlohmann::json::object(); }
};

// The transports in report order; those not compiled in are placeholders whose start() says why.
std::vector<std::unique_ptr<Transport>> make_transports();

// The group rule of a message queue: any number of writers may share it, but each message goes
// to one reader, so it cannot fan out.
std::string queue_group_limitation(const GroupShape& shape);

// Shared by transports whose kernel objects need no per-side work: the ring size used for a
// message size (4 MiB, or 64 messages when that is more), recorded in the report.
std::uint64_t ring_bytes_for(std::size_t message_size);

}  // namespace ipcmesh::bench
