#include "channel/shm_segment.hpp"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <random>
#include <thread>

#include "channel/futex.hpp"

namespace ipcmesh::shm {
namespace {

std::uint64_t fresh_random() {
  std::random_device device;
  return (std::uint64_t{device()} << 32) ^ device() ^
         static_cast<std::uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count());
}

std::string dev_shm_advice(std::uint64_t needed) {
  struct statvfs vfs {};
  std::string text = "the channel needs " + std::to_string(needed) + " bytes of /dev/shm";
  if (::statvfs("/dev/shm", &vfs) == 0) {
    text += ", " + std::to_string(std::uint64_t{vfs.f_bavail} * vfs.f_frsize) + " bytes are free";
  }
  return text + "; enlarge the /dev/shm emptyDir (sizeLimit) or shrink sharedMemory.size";
}

Result<void> map_segment(Segment& segment, std::uint64_t bytes) {
  auto mapping = posix::Mapping::map_shared(segment.fd.get(), bytes, segment.name);
  if (!mapping) return tl::unexpected(mapping.error());
  segment.mapping = std::move(*mapping);
  return {};
}

// Stale means: no live creator holds the creator lock and the segment is not being initialised
// right now by a creator that has not taken its lock yet.
Result<bool> existing_segment_is_stale(std::string_view name) {
  const std::string text(name);
  const posix::UniqueFd probe(::shm_open(text.c_str(), O_RDWR, 0));
  if (!probe) {
    if (errno == ENOENT) return true;  // vanished meanwhile: retry the create
    return tl::unexpected(system_error("shm_open", name, errno));
  }
  for (int attempt = 0; attempt < 50; ++attempt) {
    if (posix::locked_by_other(probe.get(), kCreatorLockOffset)) return false;
    struct stat st {};
    if (::fstat(probe.get(), &st) == 0 && st.st_size > 0) return true;
    // Size 0: a creator between shm_open(O_EXCL) and its lock; give it a moment.
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  return true;
}

}  // namespace

bool Segment::resized(std::uint64_t* size_now) const {
  struct stat st {};
  // fstat on an open descriptor fails only for a bad fd: then there is nothing to conclude.
  if (::fstat(fd.get(), &st) != 0) return false;
  if (size_now != nullptr) *size_now = static_cast<std::uint64_t>(st.st_size);
  return static_cast<std::uint64_t>(st.st_size) != header.total_bytes;
}

bool quarantine_mapping(void* base, std::size_t bytes) noexcept {
  // MAP_FIXED replaces the shared pages in place: every address stays valid and nothing can fault
  // any more. Only mmap and two stores: safe in a signal handler.
  if (::mmap(base, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0) ==
      MAP_FAILED) {
    return false;
  }
  if (bytes >= sizeof(ControlBlock)) {
    auto* control = static_cast<ControlBlock*>(base);
    control->tail.store(kTailClosed, std::memory_order_relaxed);
    control->state.store(static_cast<std::uint32_t>(SegmentState::kSuperseded),
                         std::memory_order_release);
  }
  return true;
}

void Segment::quarantine() const {
  if (base() == nullptr || quarantined.exchange(true)) return;
  quarantine_mapping(base(), mapping.size());
}

void wake_sleepers(const Segment& segment) {
  ControlBlock& control = segment.control();
  for (std::atomic<std::uint32_t>* word : {&control.data_futex, &control.space_futex}) {
    word->fetch_add(1, std::memory_order_seq_cst);
    futex_wake_all(*word);
  }
}

void close_generation(const Segment& segment) {
  ControlBlock& control = segment.control();
  // seq_cst, like the reservations it stops: a producer whose CAS comes after this one fails and
  // sees the bit on its retry; one whose CAS came first reserved below the closed tail, where
  // subscribers still read (rule G1).
  std::uint64_t tail = control.tail.load(std::memory_order_seq_cst);
  while ((tail & kTailClosed) == 0 &&
         !control.tail.compare_exchange_weak(tail, tail | kTailClosed, std::memory_order_seq_cst)) {
  }
  control.state.store(static_cast<std::uint32_t>(SegmentState::kSuperseded),
                      std::memory_order_seq_cst);
  // After the close: a sleeper that loaded a futex word before the bump either sees the closed
  // tail on its re-check or is woken (rules W1, W2).
  wake_sleepers(segment);
}

ChannelLink::ChannelLink(std::shared_ptr<Segment> segment, bool follows)
    : name_(segment->name), follows_(follows), current_(std::move(segment)) {}

std::shared_ptr<Segment> ChannelLink::current() const {
  std::lock_guard lock(mutex_);
  return current_;
}

Result<std::shared_ptr<Segment>> ChannelLink::successor(const std::shared_ptr<Segment>& from) {
  {
    std::lock_guard lock(mutex_);
    if (current_ != from) return current_;  // a peer of this handle moved on already
  }
  auto opened = open_segment(name_);  // without the lock: it may take a moment
  if (!opened) return tl::unexpected(opened.error());
  if ((*opened)->identity == from->identity) {
    return make_error(ErrorCode::kNotFound,
                      "shm " + name_ + " still refers to the generation this process leaves");
  }
  std::shared_ptr<Segment> next(std::move(*opened));
  std::lock_guard lock(mutex_);
  if (current_ == from) {
    std::erase_if(earlier_, [](const std::weak_ptr<Segment>& old) { return old.expired(); });
    earlier_.push_back(current_);
    current_ = std::move(next);
  }
  return current_;
}

void ChannelLink::wake_all() const {
  std::vector<std::shared_ptr<Segment>> segments;
  {
    std::lock_guard lock(mutex_);
    segments.push_back(current_);
    for (const auto& old : earlier_) {
      if (auto alive = old.lock()) segments.push_back(std::move(alive));
    }
  }
  for (const auto& segment : segments) {
    // A resized segment would fault on the futex word: quarantine it instead (rule F2).
    if (segment->resized()) segment->quarantine();
    if (!segment->quarantined.load(std::memory_order_acquire)) wake_sleepers(*segment);
  }
}

namespace {

// Rule L1: O_CREAT|O_EXCL, reclaiming the name from a dead creator (its lock is free), never
// from a live one (kAlreadyExists).
Result<void> create_exclusive(Segment& segment, const ShmChannelOptions& options) {
  for (int attempt = 0;; ++attempt) {
    segment.fd.reset(::shm_open(options.name.c_str(), O_RDWR | O_CREAT | O_EXCL, options.mode));
    if (segment.fd) break;
    if (errno != EEXIST || attempt >= 3) {
      return tl::unexpected(system_error("shm_open(O_CREAT|O_EXCL)", options.name, errno));
    }
    auto stale = existing_segment_is_stale(options.name);
    if (!stale) return tl::unexpected(stale.error());
    if (!*stale) {
      return make_error(
          ErrorCode::kAlreadyExists,
          "shm " + options.name + " belongs to a live channel creator; not replacing it");
    }
    (void)posix::ShmName::unlink(options.name);  // reclaim what a dead creator left behind
  }
  auto identity = posix::ObjectIdentity::of(segment.fd.get(), options.name);
  // Without the identity the name's owner could not tell its object from a newer one later.
  if (!identity) return tl::unexpected(identity.error());
  segment.identity = *identity;
  segment.owned_name = posix::ShmName(options.name, *identity);
  if (!segment.try_lock(kCreatorLockOffset)) {
    return tl::unexpected(system_error("fcntl(F_OFD_SETLK creator)", options.name, errno));
  }
  return {};
}

// The declared mode, the size, and every page reserved now: a too-small /dev/shm fails here
// with a message, not with SIGBUS in an app later.
Result<void> size_segment(const Segment& segment, const ShmChannelOptions& options,
                          std::uint64_t total_bytes) {
  // shm_open applies the umask; the spec's mode is what the operator promised.
  if (::fchmod(segment.fd.get(), options.mode) != 0) {
    return tl::unexpected(system_error("fchmod", options.name, errno));
  }
  if (::ftruncate(segment.fd.get(), static_cast<off_t>(total_bytes)) != 0) {
    return tl::unexpected(system_error("ftruncate", options.name, errno));
  }
  if (int rc = ::posix_fallocate(segment.fd.get(), 0, static_cast<off_t>(total_bytes)); rc != 0) {
    if (rc == ENOSPC) {
      return make_error(ErrorCode::kNoSpace,
                        "shm " + options.name + ": " + dev_shm_advice(total_bytes));
    }
    return tl::unexpected(system_error("posix_fallocate", options.name, rc));
  }
  return {};
}

StaticHeader make_header(const ShmChannelOptions& options, const SegmentGeometry& geometry) {
  StaticHeader h;
  std::memset(&h, 0, sizeof h);
  h.magic = kMagic;
  h.layout_version = kLayoutVersion;
  h.control_block_bytes = kControlBlockBytes;
  h.total_bytes = geometry.total_bytes;
  h.capacity = geometry.capacity;
  h.max_message_size = options.max_message_size;
  h.policy = static_cast<std::uint32_t>(options.policy);
  h.max_subscribers = geometry.max_subscribers;
  h.max_producers = geometry.max_producers;
  h.subscribers_offset = geometry.subscribers_offset;
  h.producers_offset = geometry.producers_offset;
  h.data_offset = geometry.data_offset;
  h.generation = fresh_random();
  h.record_key = fresh_random();
  h.creator_pid = ::getpid();
  h.creator_uid = ::getuid();
  ::gethostname(h.creator_host, sizeof h.creator_host - 1);
  h.static_checksum = static_checksum(h);
  return h;
}

// Writes the header into the zero-filled object and marks it ready last (release, rule L1).
void initialise(Segment& segment, const StaticHeader& header) {
  segment.header = header;
  ControlBlock& control = segment.control();
  std::memcpy(&control.fixed, &header, sizeof header);
  // The log starts one capacity in, so zeroed memory (position 0) never looks like a record.
  control.tail.store(header.capacity, std::memory_order_relaxed);
  for (std::uint32_t i = 0; i < header.max_producers; ++i) {
    segment.producer(i).inflight_position.store(kNoPosition, std::memory_order_relaxed);
  }
  control.state.store(static_cast<std::uint32_t>(SegmentState::kReady), std::memory_order_release);
}

}  // namespace

Result<std::unique_ptr<Segment>> create_segment(const ShmChannelOptions& options) {
  if (auto valid = validate_posix_name(options.name); !valid) return tl::unexpected(valid.error());
  auto geometry = plan_geometry(options.capacity_bytes, options.max_message_size,
                                options.max_subscribers, options.max_producers);
  if (!geometry) return tl::unexpected(geometry.error());
  auto segment = std::make_unique<Segment>();
  segment->name = options.name;
  if (auto created = create_exclusive(*segment, options); !created) {
    return tl::unexpected(created.error());
  }
  if (auto sized = size_segment(*segment, options, geometry->total_bytes); !sized) {
    return tl::unexpected(sized.error());
  }
  if (auto mapped = map_segment(*segment, geometry->total_bytes); !mapped) {
    return tl::unexpected(mapped.error());
  }
  initialise(*segment, make_header(options, *geometry));
  return segment;
}

namespace {
// Openers treat a segment that is not ready (rule L1) or superseded (rule G1) as not there yet.
Result<void> check_ready(const Segment& segment) {
  const std::uint32_t state = segment.control().state.load(std::memory_order_acquire);
  if (state == static_cast<std::uint32_t>(SegmentState::kSuperseded)) {
    // Between the relay's close and its unlink (rule G1): the next generation comes next.
    return make_error(ErrorCode::kNotFound, "shm " + segment.name +
                                                " is superseded; its relay is creating the next "
                                                "generation");
  }
  if (state != static_cast<std::uint32_t>(SegmentState::kReady)) {
    // A creator still writing the header (magic first): come back later. Anything else falls
    // through to validation, which names what is wrong with a foreign or damaged segment.
    std::uint64_t magic = 0;
    std::memcpy(&magic, segment.base(), sizeof magic);
    if (magic == kMagic || magic == 0) {
      return make_error(ErrorCode::kNotFound, "shm " + segment.name + " is not initialised yet");
    }
  }
  return {};
}
}  // namespace

Result<std::unique_ptr<Segment>> open_segment(std::string_view name) {
  if (auto valid = validate_posix_name(name); !valid) return tl::unexpected(valid.error());
  auto segment = std::make_unique<Segment>();
  segment->name = std::string(name);
  segment->fd.reset(::shm_open(segment->name.c_str(), O_RDWR, 0));
  if (!segment->fd) {
    const int err = errno;
    if (err == ENOENT) {
      return make_error(ErrorCode::kNotFound,
                        "shm " + segment->name + " does not exist (is the relay running?)");
    }
    return tl::unexpected(system_error("shm_open", segment->name, err));
  }
  struct stat st {};
  if (::fstat(segment->fd.get(), &st) != 0)
    return tl::unexpected(system_error("fstat", segment->name, errno));
  const auto file_size = static_cast<std::uint64_t>(st.st_size);
  segment->identity = posix::ObjectIdentity{st.st_dev, st.st_ino};
  if (file_size < kControlBlockBytes) {
    // Either a creator that has not sized it yet, or a foreign object.
    return make_error(ErrorCode::kNotFound, "shm " + segment->name + " is not initialised yet (" +
                                                std::to_string(file_size) + " bytes)");
  }
  if (auto mapped = map_segment(*segment, kControlBlockBytes); !mapped)
    return tl::unexpected(mapped.error());
  if (auto ready = check_ready(*segment); !ready) return tl::unexpected(ready.error());
  auto header =
      validate_header(std::span<const std::byte>(segment->base(), kControlBlockBytes), file_size);
  if (!header) {
    Error error = header.error();
    error.message = "shm " + segment->name + ": " + error.message;
    return tl::unexpected(error);
  }
  segment->header = *header;
  segment->mapping.unmap();  // the control block only: mapped again whole below
  if (auto mapped = map_segment(*segment, header->total_bytes); !mapped)
    return tl::unexpected(mapped.error());
  return segment;
}

namespace {
std::string describe_geometry(std::uint64_t capacity, std::uint32_t max_message_size,
                              SlowConsumerPolicy policy, std::uint32_t max_subscribers,
                              std::uint32_t max_producers) {
  return std::to_string(capacity) + "-byte ring, " + std::to_string(max_message_size) +
         "-byte messages, " + std::string(to_string(policy)) + ", " +
         std::to_string(max_subscribers) + " subscribers, " + std::to_string(max_producers) +
         " producers";
}
}  // namespace

Result<std::unique_ptr<Segment>> adopt_segment(const ShmChannelOptions& options) {
  auto geometry = plan_geometry(options.capacity_bytes, options.max_message_size,
                                options.max_subscribers, options.max_producers);
  if (!geometry) return tl::unexpected(geometry.error());
  auto segment = open_segment(options.name);
  if (!segment) return tl::unexpected(segment.error());
  Segment& found = **segment;
  if (!found.try_lock(kCreatorLockOffset)) {
    return make_error(
        ErrorCode::kAlreadyExists,
        "shm " + options.name + " belongs to a live channel creator; not adopting it");
  }
  const StaticHeader& header = found.header;
  const auto policy = static_cast<SlowConsumerPolicy>(header.policy);
  if (header.capacity != geometry->capacity ||
      header.max_message_size != options.max_message_size || policy != options.policy ||
      header.max_subscribers != geometry->max_subscribers ||
      header.max_producers != geometry->max_producers) {
    found.unlock(kCreatorLockOffset);
    return make_error(
        ErrorCode::kIncompatible,
        "shm " + options.name + " is a " +
            describe_geometry(header.capacity, header.max_message_size, policy,
                              header.max_subscribers, header.max_producers) +
            "; the channel asks for a " +
            describe_geometry(geometry->capacity, options.max_message_size, options.policy,
                              geometry->max_subscribers, geometry->max_producers));
  }
  found.owned_name = posix::ShmName(found.name, found.identity);
  return segment;
}

}  // namespace ipcmesh::shm
