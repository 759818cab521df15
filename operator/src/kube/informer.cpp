#include "kube/informer.hpp"

#include <spdlog/spdlog.h>

namespace ipcmesh::kube {

std::string object_key(const nlohmann::json& object) {
  const auto& metadata = object.at("metadata");
  const std::string ns = metadata.value("namespace", "");
  const std::string name = metadata.at("name").get<std::string>();
  return ns.empty() ? name : ns + "/" + name;
}

std::string_view resource_version_of(const nlohmann::json& object) {
  const auto metadata = object.find("metadata");
  if (metadata == object.end() || !metadata->is_object()) return {};
  const auto version = metadata->find("resourceVersion");
  if (version == metadata->end() || !version->is_string()) return {};
  return version->get_ref<const std::string&>();
}

namespace {

constexpr std::string_view kListedObjects[] = {"items", ""};
constexpr std::string_view kWatchedObject[] = {"object"};

// The informer reads every object's key and version, whatever the filter says.
FieldFilter keeping_identity(FieldFilter filter) {
  if (!filter) return filter;
  return [filter = std::move(filter)](std::span<const std::string> path) {
    if (path.size() == 2 && path[0] == "metadata" &&
        (path[1] == "name" || path[1] == "namespace" || path[1] == "resourceVersion")) {
      return true;
    }
    return filter(path);
  };
}

}  // namespace

Reflector::Reflector(HttpTransport& transport, Clock& clock, InformerOptions options)
    : transport_(transport),
      clock_(clock),
      options_(std::move(options)),
      parse_filter_(keeping_identity(options_.parse_filter)),
      backoff_(options_.backoff, options_.seed),
      engine_(options_.seed ^ 0x9e3779b97f4a7c15ull) {}

Reflector::~Reflector() {
  stop();
}

void Reflector::start() {
  thread_ = std::thread([this] { run(cancellation_); });
}

void Reflector::stop() {
  cancellation_.cancel();
  if (thread_.joinable()) thread_.join();
}

std::string Reflector::resource_version() const {
  std::lock_guard lock(version_mutex_);
  return resource_version_;
}

void Reflector::set_resource_version(std::string version) {
  std::lock_guard lock(version_mutex_);
  resource_version_ = std::move(version);
}

void Reflector::note_restart() {
  ++watch_restarts_;
  if (restart_callback_) restart_callback_();
}

void Reflector::prepare(nlohmann::json& object) const {
  if (!options_.api_version.empty() && !object.contains("apiVersion")) {
    object["apiVersion"] = options_.api_version;
  }
  if (!options_.kind.empty() && !object.contains("kind")) object["kind"] = options_.kind;
  if (options_.transform) options_.transform(object);
}

void Reflector::run(Cancellation& cancellation) {
  bool need_list = true;
  while (!cancellation.cancelled()) {
    WatchEnd end = WatchEnd::kError;
    Clock::SteadyTime watch_started = clock_.now();
    try {
      if (need_list) {
        relist(cancellation);
        need_list = false;
      }
      watch_started = clock_.now();
      end = watch_once(cancellation);
    } catch (const TransportError& error) {
      if (error.kind() == TransportError::Kind::kCancelled || cancellation.cancelled()) return;
      spdlog::warn("{}: {}", options_.name, error.what());
    } catch (const ApiError& error) {
      if (error.gone()) {
        end = WatchEnd::kGone;
      } else {
        spdlog::warn("{}: {}", options_.name, error.what());
      }
    } catch (const std::exception& error) {
      spdlog::warn("{}: {}", options_.name, error.what());
    }
    if (cancellation.cancelled()) return;
    if (end == WatchEnd::kGone) need_list = true;
    note_restart();
    // The server ended a healthy watch (its timeoutSeconds), or our version fell out of its
    // window (410) after the watch had run: resume or relist at once, since the cache is stale
    // for as long as we wait. A watch that ends as soon as it starts is not healthy; back off so
    // we never spin.
    const bool was_healthy = clock_.now() - watch_started >= std::chrono::seconds(1);
    if ((end == WatchEnd::kClean || end == WatchEnd::kGone) && was_healthy) continue;
    if (!clock_.sleep_for(backoff_.next(clock_.now()), cancellation)) return;
  }
}

void Reflector::relist(Cancellation& cancellation) {
  begin_list();
  std::size_t listed = 0;
  std::string version;
  std::string continue_token;
  do {
    std::string query = "?limit=" + std::to_string(options_.page_size);
    if (!continue_token.empty()) query += "&continue=" + url_encode(continue_token);
    if (!options_.label_selector.empty()) {
      query += "&labelSelector=" + url_encode(options_.label_selector);
    }
    if (!options_.field_selector.empty()) {
      query += "&fieldSelector=" + url_encode(options_.field_selector);
    }
    HttpRequest request;
    request.path_and_query = options_.collection.path() + query;
    request.headers["Accept"] = "application/json";
    if (cancellation.cancelled()) throw TransportError(TransportError::Kind::kCancelled, "stopped");
    const HttpResponse response = transport_.send(request);
    if (response.status != 200) throw_api_error(response, "LIST " + request.path_and_query);
    nlohmann::json page = parse_filter_
                              ? parse_filtered(response.body, parse_filter_, kListedObjects)
                              : nlohmann::json::parse(response.body);
    for (auto& item : page["items"]) {
      prepare(item);
      std::string key = object_key(item);
      add_listed(std::move(key), std::move(item));
      ++listed;
    }
    const auto& metadata = page["metadata"];
    version = metadata.value("resourceVersion", "");
    continue_token = metadata.value("continue", "");
  } while (!continue_token.empty());

  set_resource_version(version);
  ++relists_;
  replace_with_listed();
  if (options_.after_relist) options_.after_relist();
  synced_ = true;
  spdlog::info("{}: listed {} objects at resourceVersion {}", options_.name, listed, version);
}

std::string Reflector::watch_path(const std::string& resource_version,
                                  std::chrono::seconds timeout) const {
  std::string path =
      options_.collection.path() +
      "?watch=1&allowWatchBookmarks=true&resourceVersion=" + url_encode(resource_version) +
      "&timeoutSeconds=" + std::to_string(timeout.count());
  if (!options_.label_selector.empty()) {
    path += "&labelSelector=" + url_encode(options_.label_selector);
  }
  if (!options_.field_selector.empty()) {
    path += "&fieldSelector=" + url_encode(options_.field_selector);
  }
  return path;
}

nlohmann::json Reflector::parse_event(std::string_view line) const {
  if (!parse_filter_) return nlohmann::json::parse(line, nullptr, false);
  auto event = parse_filtered(line, parse_filter_, kWatchedObject, false);
  // An ERROR event carries a Status, not one of our objects: the filter must not touch it.
  if (event.is_object() && event.value("type", "") == "ERROR") {
    return nlohmann::json::parse(line, nullptr, false);
  }
  return event;
}

// One line of a watch stream; false ends the watch, with `end` and `error_message` saying why.
bool Reflector::handle_watch_line(std::string_view line, WatchEnd& end,
                                  std::string& error_message) {
  auto event = parse_event(line);
  if (!event.is_object() || !event.contains("type") || !event["object"].is_object()) {
    error_message = "malformed watch event: " + std::string(line.substr(0, 200));
    end = WatchEnd::kError;
    return false;
  }
  const std::string type = event["type"].get<std::string>();
  auto& object = event["object"];
  if (type == "ERROR") {
    // A Status object; 410 means our resourceVersion is older than the server keeps.
    const int code = object.value("code", 0);
    error_message = object.value("message", "watch error");
    end = (code == 410 || object.value("reason", "") == "Expired" ||
           object.value("reason", "") == "Gone")
              ? WatchEnd::kGone
              : WatchEnd::kError;
    return false;
  }
  if (type == "BOOKMARK") {
    // Only the resourceVersion moves: a later watch resumes from it instead of an old one the
    // server may have compacted away.
    if (const auto version = resource_version_of(object); !version.empty()) {
      set_resource_version(std::string(version));
    }
    return true;
  }
  if (type != "ADDED" && type != "MODIFIED" && type != "DELETED") {
    error_message = "unknown watch event type " + type;
    end = WatchEnd::kError;
    return false;
  }
  prepare(object);
  std::string key = object_key(object);
  // The object's version is where a later watch resumes: only once it is cached.
  std::string version(resource_version_of(object));
  apply(type == "ADDED"     ? EventType::kAdded
        : type == "DELETED" ? EventType::kDeleted
                            : EventType::kModified,
        std::move(key), std::move(object));
  if (!version.empty()) set_resource_version(std::move(version));
  return true;
}

Reflector::WatchEnd Reflector::watch_once(Cancellation& cancellation) {
  // A random timeout in [min, max], as client-go does, so that watches do not all end at once.
  const auto span = options_.watch_timeout_max - options_.watch_timeout_min;
  const auto timeout =
      options_.watch_timeout_min +
      std::chrono::seconds(std::uniform_int_distribution<std::int64_t>(0, span.count())(engine_));
  HttpRequest request;
  request.path_and_query = watch_path(resource_version(), timeout);
  request.headers["Accept"] = "application/json";

  WatchEnd end = WatchEnd::kClean;
  std::string error_message;
  const HttpResponse response = transport_.stream(
      request, [&](std::string_view line) { return handle_watch_line(line, end, error_message); },
      cancellation);
  if (response.status == 410) {
    spdlog::info("{}: resourceVersion expired (HTTP 410), relisting", options_.name);
    return WatchEnd::kGone;
  }
  if (response.status < 200 || response.status > 299) {
    throw_api_error(response, "WATCH " + request.path_and_query);
  }
  if (end == WatchEnd::kGone) {
    spdlog::info("{}: {} (410), relisting", options_.name, error_message);
  } else if (end == WatchEnd::kError) {
    spdlog::warn("{}: watch ended: {}", options_.name, error_message);
  }
  return end;
}

}  // namespace ipcmesh::kube
