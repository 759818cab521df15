#include "api/pod_record.hpp"

#include <algorithm>
#include <charconv>
#include <chrono>
#include <limits>
#include <nlohmann/json.hpp>

#include "api/injection_status.hpp"

namespace ipcmesh::api {
namespace {

using nlohmann::json;

std::size_t length_size(std::size_t length) {
  std::size_t bytes = 1;
  while (length >= 0x80) {
    length >>= 7;
    ++bytes;
  }
  return bytes;
}

void append(std::string& out, std::string_view text) {
  std::size_t length = text.size();
  while (length >= 0x80) {
    out += static_cast<char>(0x80 | (length & 0x7f));
    length >>= 7;
  }
  out += static_cast<char>(length);
  out += text;
}

// Reads the string at `at` and moves `at` past it. Only bytes append() wrote are read.
std::string_view read(std::string_view bytes, std::size_t& at) {
  std::size_t length = 0;
  for (int shift = 0;; shift += 7) {
    const auto byte = static_cast<unsigned char>(bytes[at++]);
    length |= static_cast<std::size_t>(byte & 0x7f) << shift;
    if ((byte & 0x80) == 0) break;
  }
  const std::string_view text = bytes.substr(at, length);
  at += length;
  return text;
}

std::string string_or_empty(const json& object, const char* key) {
  const auto it = object.find(key);
  return it != object.end() && it->is_string() ? it->get<std::string>() : std::string();
}

std::int32_t int32_or_zero(const json& object, const char* key) {
  const auto it = object.find(key);
  if (it == object.end() || !it->is_number_integer()) return 0;
  const auto value = it->get<std::int64_t>();
  using Limits = std::numeric_limits<std::int32_t>;
  return value >= Limits::min() && value <= Limits::max() ? static_cast<std::int32_t>(value) : 0;
}

const json* object_member(const json& object, const char* key) {
  const auto it = object.find(key);
  return it != object.end() && it->is_object() ? &*it : nullptr;
}

ContainerTermination termination_of(const json& terminated) {
  return {string_or_empty(terminated, "reason"), int32_or_zero(terminated, "exitCode")};
}

// The relay's entry of status.initContainerStatuses (a native sidecar) or, failing that, of
// status.containerStatuses (a classic container).
const json* relay_entry(const json& status) {
  for (const char* list : {"initContainerStatuses", "containerStatuses"}) {
    const auto entries = status.find(list);
    if (entries == status.end() || !entries->is_array()) continue;
    for (const auto& entry : *entries) {
      if (entry.is_object() && string_or_empty(entry, "name") == kRelayContainerName) return &entry;
    }
  }
  return nullptr;
}

RelayContainerStatus relay_status_of(const json& entry) {
  using State = RelayContainerStatus::State;
  RelayContainerStatus relay;
  if (const auto ready = entry.find("ready"); ready != entry.end() && ready->is_boolean()) {
    relay.ready = ready->get<bool>();
  }
  relay.restart_count = int32_or_zero(entry, "restartCount");
  // The API server sets at most one of waiting, running and terminated.
  if (const json* state = object_member(entry, "state")) {
    if (const json* waiting = object_member(*state, "waiting")) {
      relay.state = State::kWaiting;
      relay.reason = string_or_empty(*waiting, "reason");
    } else if (const json* running = object_member(*state, "running")) {
      relay.state = State::kRunning;
      if (!relay.ready) {
        relay.started_at = parse_kube_time(string_or_empty(*running, "startedAt")).value_or(0);
      }
    } else if (const json* terminated = object_member(*state, "terminated")) {
      relay.state = State::kTerminated;
      const ContainerTermination ended = termination_of(*terminated);
      relay.reason = ended.reason;
      relay.exit_code = ended.exit_code;
    }
  }
  if (const json* last = object_member(entry, "lastState")) {
    if (const json* terminated = object_member(*last, "terminated")) {
      relay.last_termination = termination_of(*terminated);
    }
  }
  return relay;
}

}  // namespace

RelayStatusPtr::RelayStatusPtr(RelayContainerStatus status) {
  // Immutable and shared by every Pod whose relay is ready and never restarted: no heap per Pod.
  static const auto steady = [] {
    RelayContainerStatus ready;
    ready.state = RelayContainerStatus::State::kRunning;
    ready.ready = true;
    return std::make_shared<const RelayContainerStatus>(std::move(ready));
  }();
  status_ =
      status == *steady ? steady : std::make_shared<const RelayContainerStatus>(std::move(status));
}

std::optional<std::int64_t> parse_kube_time(std::string_view text) {
  // metav1.Time is RFC 3339 in UTC: "2006-01-02T15:04:05Z" (MicroTime adds ".000000").
  if (text.size() < 20 || text[4] != '-' || text[7] != '-' || text[10] != 'T' || text[13] != ':' ||
      text[16] != ':' || text.back() != 'Z') {
    return std::nullopt;
  }
  auto number = [&](std::size_t at, std::size_t length) -> std::optional<int> {
    int value = 0;
    const char* first = text.data() + at;
    const auto [end, error] = std::from_chars(first, first + length, value);
    if (error != std::errc() || end != first + length) return std::nullopt;
    return value;
  };
  const auto year = number(0, 4), month = number(5, 2), day = number(8, 2);
  const auto hours = number(11, 2), minutes = number(14, 2), seconds = number(17, 2);
  if (!year || !month || !day || !hours || !minutes || !seconds) return std::nullopt;
  const std::string_view fraction = text.substr(19, text.size() - 20);
  if (!fraction.empty() &&
      (fraction[0] != '.' || fraction.size() < 2 ||
       fraction.find_first_not_of("0123456789", 1) != std::string_view::npos)) {
    return std::nullopt;
  }
  const std::chrono::year_month_day date{std::chrono::year(*year),
                                         std::chrono::month(static_cast<unsigned>(*month)),
                                         std::chrono::day(static_cast<unsigned>(*day))};
  if (!date.ok() || *hours > 23 || *minutes > 59 || *seconds > 60) return std::nullopt;
  const auto time = std::chrono::sys_days(date) + std::chrono::hours(*hours) +
                    std::chrono::minutes(*minutes) + std::chrono::seconds(*seconds);
  return std::chrono::duration_cast<std::chrono::seconds>(time.time_since_epoch()).count();
}

PackedStringMap::Entry PackedStringMap::Iterator::operator*() const {
  std::size_t at = at_;
  const std::string_view key = read(bytes_, at);
  return {key, read(bytes_, at)};
}

PackedStringMap::Iterator& PackedStringMap::Iterator::operator++() {
  read(bytes_, at_);
  read(bytes_, at_);
  return *this;
}

PackedStringMap::PackedStringMap(std::vector<Entry> entries) {
  std::stable_sort(entries.begin(), entries.end(),
                   [](const Entry& a, const Entry& b) { return a.first < b.first; });
  entries.erase(std::unique(entries.begin(), entries.end(),
                            [](const Entry& a, const Entry& b) { return a.first == b.first; }),
                entries.end());
  std::size_t size = 0;
  for (const auto& [key, value] : entries) {
    size += length_size(key.size()) + key.size() + length_size(value.size()) + value.size();
  }
  bytes_.reserve(size);  // exactly: the map never grows, so no slack is kept
  for (const auto& [key, value] : entries) {
    append(bytes_, key);
    append(bytes_, value);
  }
}

std::optional<std::string_view> PackedStringMap::find(std::string_view key) const {
  for (const auto& [entry_key, value] : *this) {
    if (entry_key == key) return value;
    if (entry_key > key) break;  // sorted
  }
  return std::nullopt;
}

std::size_t PackedStringMap::size() const {
  return static_cast<std::size_t>(std::distance(begin(), end()));
}

PodRecord pod_record_from_json(const json& pod) {
  PodRecord record;
  const json& metadata = pod.at("metadata");
  record.name = metadata.at("name").get<std::string>();
  record.namespace_name = string_or_empty(metadata, "namespace");
  record.uid = string_or_empty(metadata, "uid");
  record.resource_version = string_or_empty(metadata, "resourceVersion");

  if (const auto labels = metadata.find("labels");
      labels != metadata.end() && labels->is_object()) {
    std::vector<PackedStringMap::Entry> entries;
    bool all_strings = true;
    for (const auto& [key, value] : labels->items()) {
      if (!value.is_string()) {
        all_strings = false;
        break;
      }
      entries.emplace_back(key, value.get_ref<const std::string&>());
    }
    if (all_strings) record.labels = PackedStringMap(std::move(entries));
  }
  if (const auto annotations = metadata.find("annotations");
      annotations != metadata.end() && annotations->is_object()) {
    std::vector<PackedStringMap::Entry> entries;
    for (const auto& [key, value] : annotations->items()) {
      if (std::string_view(key).starts_with(kOwnAnnotationPrefix) && value.is_string()) {
        entries.emplace_back(key, value.get_ref<const std::string&>());
      }
    }
    record.annotations = PackedStringMap(std::move(entries));
  }
  if (const auto deletion = metadata.find("deletionTimestamp"); deletion != metadata.end()) {
    record.terminating = !deletion->is_null();
  }
  if (const auto status = pod.find("status"); status != pod.end() && status->is_object()) {
    record.phase = string_or_empty(*status, "phase");
    if (const json* relay = relay_entry(*status))
      record.relay = RelayStatusPtr(relay_status_of(*relay));
  }
  return record;
}

}  // namespace ipcmesh::api
