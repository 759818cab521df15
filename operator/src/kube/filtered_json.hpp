// Parses JSON text into a DOM that holds only the fields a FieldFilter keeps: a dropped field is
// never built, nor anything under it, so a 5.6 KB Pod event becomes a DOM of a few dozen nodes
// instead of a few hundred. A SAX handler of nlohmann's (json::sax_parse): unlike nlohmann's
// parser callback, it makes no JSON value for each token it is told about, and it skips a dropped
// subtree by counting brackets.
#pragma once

#include <functional>
#include <nlohmann/json.hpp>
#include <span>
#include <string>
#include <string_view>

namespace ipcmesh::kube {

// Decides, while a LIST page or a watch event is being parsed, whether one field of an object is
// kept. `path` names the field from the object's root, e.g. {"metadata", "managedFields"}, with ""
// standing for an element of an array: {"status", "containerStatuses", "", "image"} is the image
// of each container status.
using FieldFilter = std::function<bool(std::span<const std::string> path)>;

// The objects of `text` at `object_path` (keys from the document's root; "" stands for each
// element of an array: {"items", ""} for a LIST page, {"object"} for a watch event) keep the
// fields `filter` keeps; everything outside them is kept. Malformed text throws
// nlohmann::json::parse_error, as json::parse does, or gives a discarded value when
// `allow_exceptions` is false.
nlohmann::json parse_filtered(std::string_view text, const FieldFilter& filter,
                              std::span<const std::string_view> object_path,
                              bool allow_exceptions = true);

}  // namespace ipcmesh::kube
