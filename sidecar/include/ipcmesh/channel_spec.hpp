// The one contract between the operator and the sidecar (DESIGN.md "One contract, one place"):
// channel identity, the POSIX names derived from it, Kubernetes quantities, and the JSON document
// the operator writes into a Pod (env IPCMESH_CHANNELS / file) that the relay and libipcmesh read.
// docs/channel-contract.md describes the same thing for humans; keep the two in step.
#pragma once

#include <cstdint>
#include <nlohmann/json_fwd.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "ipcmesh/error.hpp"

namespace ipcmesh {

// ---- Pod-facing constants (env variables, files, annotations) ----
inline constexpr std::string_view kEnvChannels = "IPCMESH_CHANNELS";  // the JSON document
inline constexpr std::string_view kEnvChannelsFile =
    "IPCMESH_CHANNELS_FILE";                                               // or a file holding it
inline constexpr std::string_view kEnvControlDir = "IPCMESH_CONTROL_DIR";  // relay control files
inline constexpr std::string_view kDefaultControlDir = "/var/run/ipcmesh";
inline constexpr std::string_view kReadyFileName = "ready";  // created by the relay when ready
inline constexpr std::string_view kAnnotationInject = "ipcmesh.io/inject";      // "false" opts out
inline constexpr std::string_view kAnnotationChannels = "ipcmesh.io/channels";  // "a,b" selects
inline constexpr std::string_view kAnnotationStatus = "ipcmesh.io/status";      // injector record
// Set by an app (not the operator): the wait mode of its shm subscribers, overriding the
// channel's sharedMemory.waitMode (see subscriber_wait_mode).
inline constexpr std::string_view kEnvWaitMode = "IPCMESH_WAIT_MODE";
inline constexpr int kContractVersion = 1;

// ---- The relay container: what the webhook writes into it and the relay answers to ----
// docs/channel-contract.md "The relay container". The control mount is kDefaultControlDir above.
// The relay serves its endpoints on 127.0.0.1 unless told HOST:PORT with this flag; the webhook
// passes 0.0.0.0 and the first channel's metricsPort, because the kubelet probes the Pod IP.
inline constexpr std::string_view kRelayListenFlag = "--listen";
inline constexpr std::string_view kRelayHealthzPath = "/healthz";  // the process answers
// Every channel object exists and no ring is broken: the startup and readiness probes.
inline constexpr std::string_view kRelayReadyzPath = "/readyz";
inline constexpr std::string_view kRelayMetricsPath = "/metrics";  // Prometheus text format
// The name of the relay's container port: the probes (and scrape configs) refer to the port by it,
// so a Pod's relay may listen on any metricsPort.
inline constexpr std::string_view kRelayMetricsPortName = "ipcmesh-metrics";
// The relay's own Pod, from the downward API (metadata.name, metadata.namespace).
inline constexpr std::string_view kEnvPodName = "POD_NAME";
inline constexpr std::string_view kEnvPodNamespace = "POD_NAMESPACE";

// ---- POSIX limits (Linux) ----
// shm_open and mq_open names: one leading '/', no other '/', at most NAME_MAX (255) bytes after
// the slash, not "." or "..".
inline constexpr std::size_t kPosixNameMax = 255;

enum class Transport : std::uint8_t { kSharedMemory, kMessageQueue, kBoth };
enum class Scope : std::uint8_t { kPod, kNode };
enum class SlowConsumerPolicy : std::uint8_t { kBlock, kDropOldest, kDropNewest };

// How a subscriber waits for the next message (docs/protocol.md W3 says when to choose which).
// The contract owns the type because a channel's spec chooses it (sharedMemory.waitMode); the
// ring's SubscriberOptions::wait_mode takes it as is.
enum class WaitMode : std::uint8_t {
  // Default: spins up to spin_time while that pays (most recent spins ended with data), else
  // sleeps on the futex at once; a spin also ends as soon as it shows that the thread is being
  // descheduled (a core shared with the producer, a spent CPU quota).
  kAdaptive,
  kSpinThenSleep,  // spins spin_time on every wait, then sleeps: low latency, costs CPU
  kBusyPoll,       // never sleeps: lowest latency, one core busy (pinned, dedicated cores)
};

std::string_view to_string(Transport value) noexcept;
std::string_view to_string(Scope value) noexcept;
std::string_view to_string(SlowConsumerPolicy value) noexcept;
std::string_view to_string(WaitMode value) noexcept;  // the CRD's spelling: "SpinThenSleep"
Result<Transport> parse_transport(std::string_view text);
Result<Scope> parse_scope(std::string_view text);
Result<SlowConsumerPolicy> parse_slow_consumer_policy(std::string_view text);
Result<WaitMode> parse_wait_mode(std::string_view text);

// Kubernetes resource quantities as bytes: "64Mi", "1Ki", "8k", "1.5Gi", "1e3", "4096".
// Rejects negatives, fractions of a byte, overflow, unknown suffixes, and milli ("m").
Result<std::uint64_t> parse_quantity(std::string_view text);
// Canonical form: the largest binary suffix that divides exactly ("64Mi", "1536", "8Ki").
std::string format_quantity(std::uint64_t bytes);

// Validates a POSIX IPC object name (shm_open/mq_open rules above).
Result<void> validate_posix_name(std::string_view name);
// Validates a Kubernetes object name / namespace (DNS-1123 label for namespaces, subdomain for
// names).
Result<void> validate_dns1123_label(std::string_view text);
Result<void> validate_dns1123_subdomain(std::string_view text);

struct ChannelId {
  std::string namespace_name;
  std::string name;
  friend bool operator==(const ChannelId&, const ChannelId&) = default;
};

// Derived POSIX names. "/ipcmesh.<namespace>.<name>" for the shm ring and
// "/ipcmesh.<namespace>.<name>.mq" for the queue; when that exceeds kPosixNameMax the name part is
// shortened and a 16-hex-digit FNV-1a hash of the full identity keeps it unique.
std::string shm_object_name(const ChannelId& id);
std::string mq_object_name(const ChannelId& id);

struct SharedMemorySpec {
  std::uint64_t size_bytes = 64ull << 20;  // ring data capacity
  std::uint32_t max_message_size = 1u << 20;
  SlowConsumerPolicy slow_consumer = SlowConsumerPolicy::kBlock;
  std::uint32_t max_subscribers = 64;
  WaitMode wait_mode = WaitMode::kAdaptive;  // for subscribers of the C API and ipcmeshctl
};

struct MessageQueueSpec {
  std::optional<std::string> name;  // legacy fixed queue name; default is mq_object_name(id)
  std::uint32_t max_messages = 10;  // the kernel defaults (fs.mqueue.msg_max, msgsize_max):
                                    // a bare channel needs no sysctl
  std::uint32_t max_message_size = 8192;
};

struct BridgeSpec {
  bool mq_to_shm = false;  // relay fans messages from the queue out to every shm subscriber
  bool shm_to_mq = false;  // relay forwards shm messages into the queue (work-queue consumers)
};

struct ChannelSpec {
  ChannelId id;
  Transport transport = Transport::kSharedMemory;
  Scope scope = Scope::kPod;
  std::optional<SharedMemorySpec> shared_memory;  // set when transport is SharedMemory or Both
  std::optional<MessageQueueSpec> message_queue;  // set when transport is MessageQueue or Both
  BridgeSpec bridge;
  std::uint16_t metrics_port = 9090;

  std::string shm_name() const { return shm_object_name(id); }
  std::string mq_name() const;  // the legacy name when given, else mq_object_name(id)
};

// The document in IPCMESH_CHANNELS: {"version":1,"channels":[...]}.
struct ChannelSet {
  std::vector<ChannelSpec> channels;
  const ChannelSpec* find(std::string_view name) const;  // by channel name (first match)
};

// Parses one channel object in the CRD's own field names (spec fields plus "namespace" and "name");
// quantities may be strings ("64Mi") or integers. Errors name the JSON path and the reason, e.g.
// "channels[0].sharedMemory.maxMessageSize: 2Mi does not fit a 1Mi ring".
Result<ChannelSpec> channel_spec_from_json(const nlohmann::json& object,
                                           std::string_view path = "");
nlohmann::json to_json(const ChannelSpec& spec);

Result<ChannelSet> parse_channel_set(std::string_view json_text);
std::string serialize_channel_set(const ChannelSet& set);

// Cross-field rules shared with the CRD's CEL validations.
Result<void> validate(const ChannelSpec& spec);

// Reads the document from IPCMESH_CHANNELS, else from the file named by IPCMESH_CHANNELS_FILE.
Result<ChannelSet> channel_set_from_environment();

// The wait mode of an app's subscriber to a channel (the C API's, ipcmeshctl's): `env_value`
// (the app's IPCMESH_WAIT_MODE; nullptr or "" when unset) when set, else the channel's
// sharedMemory.waitMode (`spec` is nullptr for a raw POSIX name, which has no spec), else
// kAdaptive. A bad env_value is an error that names IPCMESH_WAIT_MODE, never a silent default.
Result<WaitMode> subscriber_wait_mode(const ChannelSpec* spec, const char* env_value);
// The same with IPCMESH_WAIT_MODE read from this process's environment.
Result<WaitMode> subscriber_wait_mode_from_environment(const ChannelSpec* spec);

}  // namespace ipcmesh
