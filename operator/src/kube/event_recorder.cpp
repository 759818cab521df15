#include "kube/event_recorder.hpp"

#include <random>

namespace ipcmesh::kube {
namespace {

using nlohmann::json;

inline const ResourcePath kCoreEvents{"", "v1", "events", "", "", ""};

std::string random_suffix() {
  // Event names only need to be unique per object and moment; a short random suffix does it.
  thread_local std::mt19937_64 engine{std::random_device{}()};
  static constexpr char kAlphabet[] = "bcdfghjklmnpqrstvwxz2456789";
  std::string out;
  for (int i = 0; i < 10; ++i) out.push_back(kAlphabet[engine() % (sizeof(kAlphabet) - 1)]);
  return out;
}

}  // namespace

EventOutcome EventRecorder::record(const json& regarding, EventType type, const std::string& reason,
                                   const std::string& action, const std::string& note) {
  try {
    const auto& metadata = regarding.at("metadata");
    const std::string type_text = type == EventType::kNormal ? "Normal" : "Warning";
    // events.k8s.io/v1 limits note to 1 KiB.
    const std::string short_note = note.size() > 1024 ? note.substr(0, 1024) : note;
    std::string key = metadata.value("uid", "");
    for (const std::string& part : {metadata.value("namespace", ""), metadata.value("name", ""),
                                    type_text, reason, action, short_note}) {
      key += '\x1f' + part;
    }
    std::lock_guard lock(mutex_);
    const auto now = clock_.now();
    if (const auto it = series_.find(key); it != series_.end()) {
      Series& series = it->second;
      lru_.splice(lru_.end(), lru_, series.age);
      if (now - series.last_seen < policy_.window) {
        ++series.count;
        series.last_seen = now;
        if (patch(series)) return finish(EventOutcome::kAggregated, type);
      }
      // Too old to continue, or the Event is gone (expired, deleted): a new one.
      lru_.erase(series.age);
      series_.erase(it);
    }
    Series series;
    const EventOutcome outcome = create(regarding, type_text, reason, action, short_note, series);
    if (outcome == EventOutcome::kCreated) {
      series.last_seen = now;
      remember(key, std::move(series));
    }
    return finish(outcome, type);
  } catch (const std::exception&) {
    // Best effort by design (client-go's recorder drops on failure too); the caller logs state.
    return finish(EventOutcome::kFailed, type);
  }
}

EventOutcome EventRecorder::create(const json& regarding, const std::string& type_text,
                                   const std::string& reason, const std::string& action,
                                   const std::string& note, Series& series) {
  const auto& metadata = regarding.at("metadata");
  series.ns = metadata.value("namespace", "default");
  series.name = metadata.value("name", "") + "." + random_suffix();
  const json reference = {{"apiVersion", regarding.value("apiVersion", "")},
                          {"kind", regarding.value("kind", "")},
                          {"namespace", series.ns},
                          {"name", metadata.value("name", "")},
                          {"uid", metadata.value("uid", "")},
                          {"resourceVersion", metadata.value("resourceVersion", "")}};
  const auto wall = clock_.wall_now();
  try {
    client_.create(kEvents.in(series.ns),
                   {{"apiVersion", "events.k8s.io/v1"},
                    {"kind", "Event"},
                    {"metadata", {{"name", series.name}, {"namespace", series.ns}}},
                    {"eventTime", format_micro_time(wall)},
                    {"type", type_text},
                    {"reason", reason},
                    {"action", action},
                    {"note", note},
                    {"regarding", reference},
                    {"reportingController", reporting_controller_},
                    {"reportingInstance", reporting_instance_}});
    return EventOutcome::kCreated;
  } catch (const ApiError& error) {
    if (!error.not_found()) throw;
  }
  series.legacy = true;
  client_.create(kCoreEvents.in(series.ns),
                 {{"apiVersion", "v1"},
                  {"kind", "Event"},
                  {"metadata", {{"name", series.name}, {"namespace", series.ns}}},
                  {"type", type_text},
                  {"reason", reason},
                  {"message", note},
                  {"involvedObject", reference},
                  {"firstTimestamp", format_time(wall)},
                  {"lastTimestamp", format_time(wall)},
                  {"count", 1},
                  {"source", {{"component", reporting_controller_}}},
                  {"reportingComponent", reporting_controller_},
                  {"reportingInstance", reporting_instance_}});
  return EventOutcome::kCreated;
}

bool EventRecorder::patch(const Series& series) {
  const auto wall = clock_.wall_now();
  const json body =
      series.legacy
          ? json{{"count", series.count}, {"lastTimestamp", format_time(wall)}}
          : json{{"series",
                  {{"count", series.count}, {"lastObservedTime", format_micro_time(wall)}}}};
  try {
    client_.patch((series.legacy ? kCoreEvents : kEvents).in(series.ns).named(series.name), body,
                  PatchType::kMerge);
    return true;
  } catch (const ApiError& error) {
    if (error.not_found()) return false;
    throw;
  }
}

void EventRecorder::remember(const std::string& key, Series series) {
  series.age = lru_.insert(lru_.end(), key);
  series_.emplace(key, std::move(series));
  while (series_.size() > policy_.max_series) {
    series_.erase(lru_.front());
    lru_.pop_front();
  }
}

EventOutcome EventRecorder::finish(EventOutcome outcome, EventType type) {
  if (observer_) observer_(outcome, type);
  return outcome;
}

}  // namespace ipcmesh::kube
