#include "kube/filtered_json.hpp"

#include <vector>

namespace ipcmesh::kube {
namespace {

using nlohmann::json;

// nlohmann's SAX interface (json::sax_parse), building the kept part of the document.
class FilteringDomBuilder {
 public:
  FilteringDomBuilder(json& root, const FieldFilter& filter,
                      std::span<const std::string_view> object_path, bool allow_exceptions)
      : root_(root),
        filter_(filter),
        object_path_(object_path),
        allow_exceptions_(allow_exceptions) {}

  bool null() { return add(nullptr); }
  bool boolean(bool value) { return add(value); }
  bool number_integer(json::number_integer_t value) { return add(value); }
  bool number_unsigned(json::number_unsigned_t value) { return add(value); }
  bool number_float(json::number_float_t value, const json::string_t&) { return add(value); }
  bool string(json::string_t& value) { return add(value); }
  bool binary(json::binary_t& value) { return add(json::binary(value)); }
  bool start_object(std::size_t) { return open(json::value_t::object); }
  bool start_array(std::size_t) { return open(json::value_t::array); }
  bool end_object() { return close(); }
  bool end_array() { return close(); }
  bool key(json::string_t& name);

  template <class Exception>
  bool parse_error(std::size_t, const std::string&, const Exception& error) {
    if (allow_exceptions_) throw error;
    return false;
  }

 private:
  template <class Value>
  bool add(Value&& value);
  bool open(json::value_t type);
  bool close();
  json* place(json value);
  bool wanted(const std::string& name);
  std::string& path_slot(std::size_t at);

  json& root_;
  const FieldFilter& filter_;
  std::span<const std::string_view> object_path_;
  bool allow_exceptions_;
  std::vector<json*> open_;  // the containers being built, the root's first
  json* member_ = nullptr;   // where the value of the last kept key goes
  bool drop_next_ = false;   // the next value belongs to a dropped key
  std::size_t skipped_ = 0;  // depth inside a dropped container
  // path_[0..open_.size() - 1) names the open containers below the root (a member's key, "" for
  // an array element); path_[open_.size() - 1] is the key being decided. Slots keep their
  // capacity from one object to the next.
  std::vector<std::string> path_;
};

std::string& FilteringDomBuilder::path_slot(std::size_t at) {
  if (path_.size() <= at) path_.resize(at + 1);
  return path_[at];
}

json* FilteringDomBuilder::place(json value) {
  if (open_.empty()) {
    root_ = std::move(value);
    return &root_;
  }
  json& container = *open_.back();
  if (container.is_array()) {
    auto& elements = container.get_ref<json::array_t&>();
    elements.push_back(std::move(value));
    return &elements.back();
  }
  *member_ = std::move(value);
  return member_;
}

template <class Value>
bool FilteringDomBuilder::add(Value&& value) {
  if (skipped_ > 0) return true;
  if (drop_next_) {
    drop_next_ = false;
    return true;
  }
  place(json(std::forward<Value>(value)));
  return true;
}

bool FilteringDomBuilder::open(json::value_t type) {
  if (skipped_ > 0 || drop_next_) {
    drop_next_ = false;
    ++skipped_;
    return true;
  }
  if (!open_.empty() && open_.back()->is_array()) path_slot(open_.size() - 1).clear();
  open_.push_back(place(json(type)));
  return true;
}

bool FilteringDomBuilder::close() {
  if (skipped_ > 0) {
    --skipped_;
  } else {
    open_.pop_back();
  }
  return true;
}

bool FilteringDomBuilder::key(json::string_t& name) {
  if (skipped_ > 0) return true;
  path_slot(open_.size() - 1) = name;
  if (wanted(name)) {
    member_ = &open_.back()->get_ref<json::object_t&>()[name];
  } else {
    drop_next_ = true;
  }
  return true;
}

// Whether the member `name` of the innermost open object is kept: asked of the filter when the
// object lies inside one at object_path_.
bool FilteringDomBuilder::wanted(const std::string& name) {
  const std::size_t depth = object_path_.size();
  const std::size_t length = open_.size();  // the member's path from the root, `name` included
  if (length <= depth) return true;
  for (std::size_t i = 0; i < depth; ++i) {
    if (path_[i] != object_path_[i]) return true;
  }
  static_cast<void>(name);  // it is path_[length - 1]
  return filter_(std::span<const std::string>(path_.data() + depth, length - depth));
}

}  // namespace

json parse_filtered(std::string_view text, const FieldFilter& filter,
                    std::span<const std::string_view> object_path, bool allow_exceptions) {
  json root;
  FilteringDomBuilder builder(root, filter, object_path, allow_exceptions);
  if (!json::sax_parse(text, &builder)) return json(json::value_t::discarded);
  return root;
}

}  // namespace ipcmesh::kube
