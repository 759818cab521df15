// Kubernetes metav1.LabelSelector: matchLabels plus matchExpressions (In, NotIn, Exists,
// DoesNotExist), with the API server's semantics: all terms are ANDed, an empty selector matches
// every object, NotIn and DoesNotExist match objects that lack the key.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <nlohmann/json_fwd.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "ipcmesh/channel_spec.hpp"
#include "ipcmesh/error.hpp"

namespace ipcmesh::api {

using Labels = std::map<std::string, std::string, std::less<>>;
// A label's value by key, or nullopt when the object lacks the key: lets a selector match labels
// kept in another form than Labels (the Pod cache packs them, see api/pod_record.hpp).
using LabelLookup = std::function<std::optional<std::string_view>(std::string_view key)>;

enum class SelectorOperator : std::uint8_t { kIn, kNotIn, kExists, kDoesNotExist };

std::string_view to_string(SelectorOperator op) noexcept;

struct LabelSelectorRequirement {
  std::string key;
  SelectorOperator op = SelectorOperator::kExists;
  std::vector<std::string> values;  // non-empty for In/NotIn, empty for Exists/DoesNotExist
  friend bool operator==(const LabelSelectorRequirement&,
                         const LabelSelectorRequirement&) = default;
};

struct LabelSelector {
  Labels match_labels;
  std::vector<LabelSelectorRequirement> match_expressions;

  // An empty selector ({}) selects everything, as in metav1.LabelSelectorAsSelector.
  bool empty() const noexcept { return match_labels.empty() && match_expressions.empty(); }
  bool matches(const Labels& labels) const;
  bool matches(const LabelLookup& label) const;
  friend bool operator==(const LabelSelector&, const LabelSelector&) = default;
};

// Parses a LabelSelector object. Errors name the JSON path: "spec.selector.matchExpressions[1]:
// operator In needs at least one value". Rejects unknown operators and invalid label keys/values.
Result<LabelSelector> label_selector_from_json(const nlohmann::json& object,
                                               std::string_view path = "selector");
nlohmann::json to_json(const LabelSelector& selector);

// metadata.labels (or any string map) to Labels; a missing/null object gives no labels. Non-string
// values are an error (the API server never sends them; a fuzzer or a hand-written file might).
Result<Labels> labels_from_json(const nlohmann::json& object, std::string_view path = "labels");

// Label key: optional DNS-1123 subdomain prefix and '/', then a name of at most 63 characters of
// [A-Za-z0-9-_.] starting and ending alphanumeric. Label value: empty or the same name rule.
Result<void> validate_label_key(std::string_view key);
Result<void> validate_label_value(std::string_view value);

}  // namespace ipcmesh::api
