// A reflector and its cache (client-go's Reflector + Indexer in one): LIST (paged), then WATCH from
// the list's resourceVersion with bookmarks, one JSON event per line. A 410 (Expired/Gone, as an
// HTTP status or an ERROR event) relists and swaps the whole cache at once; failures back off
// exponentially (backoff.hpp); every watch asks for a random 5-10 min timeoutSeconds so that
// replicas do not reconnect together. The loop runs on its own std::thread, never on a transport
// pool thread, and stops through a Cancellation.
#pragma once

#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <span>
#include <string>
#include <thread>
#include <vector>

#include "kube/backoff.hpp"
#include "kube/clock.hpp"
#include "kube/http_transport.hpp"
#include "kube/kube_client.hpp"

namespace ipcmesh::kube {

using ObjectPtr = std::shared_ptr<const nlohmann::json>;

// Decides, while a LIST page or a watch event is being parsed, whether one field of an object is
// kept. `path` names the field from the object's root through object members only, e.g.
// {"metadata", "managedFields"}; a dropped field is never built, nor anything under it. Members
// inside arrays are not asked about (an array is kept or dropped whole). The informer always keeps
// metadata.name, metadata.namespace and metadata.resourceVersion (it needs them), and parses ERROR
// events without the filter.
using FieldFilter = std::function<bool(std::span<const std::string> path)>;

// "namespace/name", or "name" for cluster-scoped objects (client-go's MetaNamespaceKeyFunc).
std::string object_key(const nlohmann::json& object);

struct InformerOptions {
  ResourcePath collection;  // namespace_name empty: all namespaces
  std::string api_version;  // stamped on listed items, which the server sends without it
  std::string kind;
  std::string label_selector;
  std::string field_selector;
  int page_size = 500;
  BackoffPolicy backoff;
  std::chrono::seconds watch_timeout_min{300};
  std::chrono::seconds watch_timeout_max{600};
  // Trims an object before it is cached (client-go's SetTransform), e.g. drop managedFields:
  // most of a Pod's bytes are fields no controller here reads.
  std::function<void(nlohmann::json&)> transform;
  // Optional: drops fields during parsing, before `transform` runs (which still sees every kept
  // field). A 500-object page parsed whole is ~10x its text as a DOM; dropping what the transform
  // would drop anyway keeps the peak and the heap's fragmentation down.
  FieldFilter parse_filter;
  // Optional: runs after each relist swapped the cache and the old objects were freed (e.g.
  // malloc_trim, to hand the freed pages back to the system).
  std::function<void()> after_relist;
  std::string name = "informer";  // for logs
  std::uint64_t seed = std::random_device{}();
};

// Called on the informer's thread, in event order, outside the cache lock.
struct InformerHandlers {
  std::function<void(const ObjectPtr&)> on_add;
  std::function<void(const ObjectPtr& old_object, const ObjectPtr& new_object)> on_update;
  std::function<void(const ObjectPtr&)> on_delete;
};

class Informer {
 public:
  Informer(HttpTransport& transport, Clock& clock, InformerOptions options);
  ~Informer();
  Informer(const Informer&) = delete;
  Informer& operator=(const Informer&) = delete;

  void add_handlers(InformerHandlers handlers);  // before start()
  void start();                                  // runs run() on a new thread
  void stop();                                   // cancels and joins; idempotent
  // The loop itself (start() calls it on a thread); returns when `cancellation` fires.
  void run(Cancellation& cancellation);

  bool has_synced() const noexcept { return synced_.load(); }
  ObjectPtr get(const std::string& key) const;
  std::vector<ObjectPtr> list() const;
  std::vector<ObjectPtr> list_namespace(const std::string& ns) const;
  std::size_t size() const;
  std::string resource_version() const;
  std::uint64_t watch_restarts() const noexcept { return watch_restarts_.load(); }
  std::uint64_t relists() const noexcept { return relists_.load(); }
  // Called after each watch restart (for a metric); set before start().
  void on_watch_restart(std::function<void()> callback) { restart_callback_ = std::move(callback); }

 private:
  enum class WatchEnd { kClean, kGone, kError };
  void relist(Cancellation& cancellation);
  void notify_replaced(const std::map<std::string, ObjectPtr>& old,
                       const std::map<std::string, ObjectPtr>& fresh);
  nlohmann::json parse_event(std::string_view line) const;
  WatchEnd watch_once(Cancellation& cancellation);
  ObjectPtr prepare(nlohmann::json object) const;
  void apply(const std::string& type, ObjectPtr object);
  std::string watch_path(const std::string& resource_version, std::chrono::seconds timeout) const;
  void note_restart();

  HttpTransport& transport_;
  Clock& clock_;
  InformerOptions options_;
  std::vector<InformerHandlers> handlers_;
  std::function<void()> restart_callback_;
  Backoff backoff_;
  std::mt19937_64 engine_;

  mutable std::mutex mutex_;
  std::map<std::string, ObjectPtr> cache_;  // ordered: a namespace is a key-prefix range
  std::string resource_version_;

  std::atomic<bool> synced_{false};
  std::atomic<std::uint64_t> watch_restarts_{0};
  std::atomic<std::uint64_t> relists_{0};
  Cancellation cancellation_;
  std::thread thread_;
};

}  // namespace ipcmesh::kube
