// An informer: a reflector and its cache (client-go's Reflector + Indexer). LIST (paged), then
// WATCH from the list's resourceVersion with bookmarks, one JSON event per line. A 410
// (Expired/Gone, as an HTTP status or an ERROR event) relists and swaps the whole cache at once;
// failures back off exponentially (backoff.hpp); every watch asks for a random 5-10 min
// timeoutSeconds so that replicas do not reconnect together. The loop runs on its own std::thread,
// never on a transport pool thread, and stops through a Cancellation.
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
#include <type_traits>
#include <vector>

#include "kube/backoff.hpp"
#include "kube/clock.hpp"
#include "kube/filtered_json.hpp"
#include "kube/http_transport.hpp"
#include "kube/kube_client.hpp"

namespace ipcmesh::kube {

using ObjectPtr = std::shared_ptr<const nlohmann::json>;  // what Informer caches

// parse_filter (a FieldFilter, filtered_json.hpp): the informer always keeps metadata.name,
// metadata.namespace and metadata.resourceVersion (it needs them), and parses ERROR events
// without the filter.

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

// The LIST/WATCH protocol of an informer (client-go's Reflector), apart from what it caches: it
// hands each listed or watched object, parsed (through parse_filter), stamped and transformed, to
// the cache it feeds (BasicInformer below) through the protected hooks, on its own thread.
class Reflector {
 public:
  virtual ~Reflector();
  Reflector(const Reflector&) = delete;
  Reflector& operator=(const Reflector&) = delete;

  void start();  // runs run() on a new thread
  void stop();   // cancels and joins; idempotent
  // The loop itself (start() calls it on a thread); returns when `cancellation` fires.
  void run(Cancellation& cancellation);

  bool has_synced() const noexcept { return synced_.load(); }
  std::string resource_version() const;
  std::uint64_t watch_restarts() const noexcept { return watch_restarts_.load(); }
  std::uint64_t relists() const noexcept { return relists_.load(); }
  // Called after each watch restart (for a metric); set before start().
  void on_watch_restart(std::function<void()> callback) { restart_callback_ = std::move(callback); }

 protected:
  enum class EventType { kAdded, kModified, kDeleted };

  Reflector(HttpTransport& transport, Clock& clock, InformerOptions options);

  // A relist: begin_list(), add_listed() for every item of every page, then replace_with_listed()
  // to swap them in at once and notify. A relist that fails part way starts again at begin_list().
  virtual void begin_list() = 0;
  virtual void add_listed(std::string key, nlohmann::json object) = 0;
  virtual void replace_with_listed() = 0;
  // One ADDED, MODIFIED or DELETED watch event.
  virtual void apply(EventType type, std::string key, nlohmann::json object) = 0;

 private:
  enum class WatchEnd { kClean, kGone, kError };
  void relist(Cancellation& cancellation);
  nlohmann::json parse_event(std::string_view line) const;
  WatchEnd watch_once(Cancellation& cancellation);
  bool handle_watch_line(std::string_view line, WatchEnd& end, std::string& error_message);
  void prepare(nlohmann::json& object) const;
  void set_resource_version(std::string version);
  std::string watch_path(const std::string& resource_version, std::chrono::seconds timeout) const;
  void note_restart();

  HttpTransport& transport_;
  Clock& clock_;
  InformerOptions options_;
  FieldFilter parse_filter_;  // options_.parse_filter, keeping what the informer reads
  std::function<void()> restart_callback_;
  Backoff backoff_;
  std::mt19937_64 engine_;

  mutable std::mutex version_mutex_;
  std::string resource_version_;

  std::atomic<bool> synced_{false};
  std::atomic<std::uint64_t> watch_restarts_{0};
  std::atomic<std::uint64_t> relists_{0};
  Cancellation cancellation_;
  std::thread thread_;
};

// Called on the informer's thread, in event order, outside the cache lock.
template <typename Object>
struct BasicInformerHandlers {
  using Ptr = std::shared_ptr<const Object>;
  std::function<void(const Ptr&)> on_add;
  std::function<void(const Ptr& old_object, const Ptr& new_object)> on_update;
  std::function<void(const Ptr&)> on_delete;
};

// What an informer reads of a cached object besides its key: a cached type other than
// nlohmann::json provides this in its own namespace (argument-dependent lookup finds it).
std::string_view resource_version_of(const nlohmann::json& object);

// A reflector and its cache (client-go's Reflector + Indexer in one). The cache holds `Object`s
// that `decode` makes from the parsed JSON: nlohmann::json itself by default (Informer), or a
// small typed record where keeping the JSON would cost too much (the operator's Pod cache). Readers
// share the cached objects; a change replaces an object, never edits it.
template <typename Object>
class BasicInformer final : public Reflector {
 public:
  using Ptr = std::shared_ptr<const Object>;
  using Handlers = BasicInformerHandlers<Object>;
  using Decoder = std::function<Object(nlohmann::json&&)>;

  BasicInformer(HttpTransport& transport, Clock& clock, InformerOptions options, Decoder decode)
      : Reflector(transport, clock, std::move(options)), decode_(std::move(decode)) {}
  BasicInformer(HttpTransport& transport, Clock& clock,
                InformerOptions options) requires std::is_same_v<Object, nlohmann::json>
      : BasicInformer(transport, clock, std::move(options),
                      [](nlohmann::json&& object) { return std::move(object); }) {}
  // The loop calls this object's hooks: it must stop before the cache goes.
  ~BasicInformer() override { stop(); }

  void add_handlers(Handlers handlers) {
    handlers_.push_back(std::move(handlers));
  }  // before start()

  Ptr get(const std::string& key) const {
    std::lock_guard lock(mutex_);
    const auto it = cache_.find(key);
    return it == cache_.end() ? nullptr : it->second;
  }
  std::vector<Ptr> list() const {
    std::lock_guard lock(mutex_);
    std::vector<Ptr> out;
    out.reserve(cache_.size());
    for (const auto& [key, object] : cache_) out.push_back(object);
    return out;
  }
  std::vector<Ptr> list_namespace(const std::string& ns) const {
    std::lock_guard lock(mutex_);
    std::vector<Ptr> out;
    const std::string prefix = ns + "/";
    for (auto it = cache_.lower_bound(prefix);
         it != cache_.end() && it->first.compare(0, prefix.size(), prefix) == 0; ++it) {
      out.push_back(it->second);
    }
    return out;
  }
  std::size_t size() const {
    std::lock_guard lock(mutex_);
    return cache_.size();
  }

 private:
  void begin_list() override { listed_.clear(); }

  void add_listed(std::string key, nlohmann::json object) override {
    listed_[std::move(key)] = std::make_shared<const Object>(decode_(std::move(object)));
  }

  void replace_with_listed() override {
    // Swap the whole cache in one step (readers see the old or the new state, never a mix), then
    // tell handlers what changed, as client-go's DeltaFIFO.Replace does.
    std::map<std::string, Ptr> old;
    {
      std::lock_guard lock(mutex_);
      old = std::move(cache_);
      cache_ = std::move(listed_);
    }
    listed_.clear();
    // Only this thread writes cache_, so reading it here without the lock is safe (others only
    // read); moving rather than copying saves a second map of every key.
    for (const auto& [key, object] : cache_) {
      const auto previous = old.find(key);
      for (const auto& handler : handlers_) {
        if (previous == old.end()) {
          if (handler.on_add) handler.on_add(object);
        } else if (resource_version_of(*previous->second) != resource_version_of(*object)) {
          if (handler.on_update) handler.on_update(previous->second, object);
        }
      }
    }
    for (const auto& [key, object] : old) {
      if (cache_.count(key) != 0) continue;
      for (const auto& handler : handlers_) {
        if (handler.on_delete) handler.on_delete(object);
      }
    }
  }

  void apply(EventType type, std::string key, nlohmann::json json) override {
    const Ptr object = std::make_shared<const Object>(decode_(std::move(json)));
    Ptr previous;
    {
      std::lock_guard lock(mutex_);
      const auto it = cache_.find(key);
      if (it != cache_.end()) previous = it->second;
      if (type == EventType::kDeleted) {
        if (it != cache_.end()) cache_.erase(it);
      } else if (it != cache_.end()) {
        it->second = object;
      } else {
        cache_.emplace(std::move(key), object);
      }
    }
    for (const auto& handler : handlers_) {
      if (type == EventType::kDeleted) {
        if (handler.on_delete) handler.on_delete(previous ? previous : object);
      } else if (previous) {
        if (handler.on_update) handler.on_update(previous, object);
      } else if (handler.on_add) {
        handler.on_add(object);
      }
    }
  }

  Decoder decode_;
  std::vector<Handlers> handlers_;
  mutable std::mutex mutex_;
  std::map<std::string, Ptr> cache_;   // ordered: a namespace is a key-prefix range
  std::map<std::string, Ptr> listed_;  // the relist in progress; only the loop's thread uses it
};

using Informer = BasicInformer<nlohmann::json>;
using InformerHandlers = BasicInformerHandlers<nlohmann::json>;

}  // namespace ipcmesh::kube
