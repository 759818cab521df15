#include "api/label_selector.hpp"

#include <algorithm>
#include <nlohmann/json.hpp>

namespace ipcmesh::api {
namespace {

std::string join_path(std::string_view path, std::string_view field) {
  std::string out(path);
  if (!out.empty()) out += '.';
  out += field;
  return out;
}

bool is_alnum(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

// The "qualified name" part of a label key and a non-empty label value share this rule
// (k8s.io/apimachinery/pkg/util/validation: qualifiedNameFmt, 63 characters).
bool is_label_name(std::string_view text) {
  if (text.empty() || text.size() > 63) return false;
  if (!is_alnum(text.front()) || !is_alnum(text.back())) return false;
  return std::all_of(text.begin(), text.end(),
                     [](char c) { return is_alnum(c) || c == '-' || c == '_' || c == '.'; });
}

Result<SelectorOperator> parse_operator(std::string_view text) {
  if (text == "In") return SelectorOperator::kIn;
  if (text == "NotIn") return SelectorOperator::kNotIn;
  if (text == "Exists") return SelectorOperator::kExists;
  if (text == "DoesNotExist") return SelectorOperator::kDoesNotExist;
  return make_error(ErrorCode::kInvalidArgument,
                    "unknown operator \"" + std::string(text) +
                        "\" (expected In, NotIn, Exists or DoesNotExist)");
}

}  // namespace

std::string_view to_string(SelectorOperator op) noexcept {
  switch (op) {
    case SelectorOperator::kIn:
      return "In";
    case SelectorOperator::kNotIn:
      return "NotIn";
    case SelectorOperator::kExists:
      return "Exists";
    case SelectorOperator::kDoesNotExist:
      return "DoesNotExist";
  }
  return "Unknown";
}

Result<void> validate_label_key(std::string_view key) {
  const auto slash = key.find('/');
  std::string_view name = key;
  if (slash != std::string_view::npos) {
    const std::string_view prefix = key.substr(0, slash);
    name = key.substr(slash + 1);
    if (prefix.empty() || !ipcmesh::validate_dns1123_subdomain(prefix)) {
      return make_error(ErrorCode::kInvalidArgument,
                        "label key \"" + std::string(key) +
                            "\": prefix must be a DNS-1123 subdomain (e.g. example.com)");
    }
  }
  if (!is_label_name(name)) {
    return make_error(ErrorCode::kInvalidArgument,
                      "label key \"" + std::string(key) +
                          "\": name must be 1-63 characters of [A-Za-z0-9-_.], starting and "
                          "ending alphanumeric");
  }
  return {};
}

Result<void> validate_label_value(std::string_view value) {
  if (value.empty() || is_label_name(value)) return {};
  return make_error(ErrorCode::kInvalidArgument,
                    "label value \"" + std::string(value) +
                        "\": must be empty or 1-63 characters of [A-Za-z0-9-_.], starting and "
                        "ending alphanumeric");
}

bool LabelSelector::matches(const Labels& labels) const {
  return matches([&labels](std::string_view key) -> std::optional<std::string_view> {
    const auto it = labels.find(key);
    if (it == labels.end()) return std::nullopt;
    return it->second;
  });
}

bool LabelSelector::matches(const LabelLookup& label) const {
  for (const auto& [key, value] : match_labels) {
    const auto found = label(key);
    if (!found || *found != value) return false;
  }
  for (const auto& requirement : match_expressions) {
    const auto found = label(requirement.key);
    const auto in_values = [&] {
      return found && std::find(requirement.values.begin(), requirement.values.end(), *found) !=
                          requirement.values.end();
    };
    switch (requirement.op) {
      case SelectorOperator::kIn:
        if (!in_values()) return false;
        break;
      case SelectorOperator::kNotIn:
        // A missing key satisfies NotIn (labels.Requirement.Matches).
        if (in_values()) return false;
        break;
      case SelectorOperator::kExists:
        if (!found) return false;
        break;
      case SelectorOperator::kDoesNotExist:
        if (found) return false;
        break;
    }
  }
  return true;
}

Result<Labels> labels_from_json(const nlohmann::json& object, std::string_view path) {
  Labels labels;
  if (object.is_null()) return labels;
  if (!object.is_object()) {
    return make_error(ErrorCode::kInvalidArgument, std::string(path) + ": must be an object");
  }
  for (const auto& [key, value] : object.items()) {
    if (!value.is_string()) {
      return make_error(ErrorCode::kInvalidArgument,
                        join_path(path, key) + ": value must be a string");
    }
    labels.emplace(key, value.get<std::string>());
  }
  return labels;
}

Result<LabelSelector> label_selector_from_json(const nlohmann::json& object,
                                               std::string_view path) {
  LabelSelector selector;
  if (object.is_null()) return selector;
  if (!object.is_object()) {
    return make_error(ErrorCode::kInvalidArgument, std::string(path) + ": must be an object");
  }
  if (const auto it = object.find("matchLabels"); it != object.end()) {
    const std::string field = join_path(path, "matchLabels");
    auto labels = labels_from_json(*it, field);
    if (!labels) return tl::unexpected(labels.error());
    for (const auto& [key, value] : *labels) {
      if (auto ok = validate_label_key(key); !ok) {
        return make_error(ErrorCode::kInvalidArgument, field + ": " + ok.error().message);
      }
      if (auto ok = validate_label_value(value); !ok) {
        return make_error(ErrorCode::kInvalidArgument,
                          join_path(field, key) + ": " + ok.error().message);
      }
    }
    selector.match_labels = std::move(*labels);
  }
  if (const auto it = object.find("matchExpressions"); it != object.end() && !it->is_null()) {
    const std::string field = join_path(path, "matchExpressions");
    if (!it->is_array()) {
      return make_error(ErrorCode::kInvalidArgument, field + ": must be a list");
    }
    for (std::size_t i = 0; i < it->size(); ++i) {
      const auto& item = (*it)[i];
      const std::string at = field + "[" + std::to_string(i) + "]";
      if (!item.is_object()) {
        return make_error(ErrorCode::kInvalidArgument, at + ": must be an object");
      }
      LabelSelectorRequirement requirement;
      const auto key = item.find("key");
      if (key == item.end() || !key->is_string()) {
        return make_error(ErrorCode::kInvalidArgument, at + ".key: required string");
      }
      requirement.key = key->get<std::string>();
      if (auto ok = validate_label_key(requirement.key); !ok) {
        return make_error(ErrorCode::kInvalidArgument, at + ".key: " + ok.error().message);
      }
      const auto op = item.find("operator");
      if (op == item.end() || !op->is_string()) {
        return make_error(ErrorCode::kInvalidArgument, at + ".operator: required string");
      }
      auto parsed = parse_operator(op->get<std::string>());
      if (!parsed) {
        return make_error(ErrorCode::kInvalidArgument, at + ".operator: " + parsed.error().message);
      }
      requirement.op = *parsed;
      if (const auto values = item.find("values"); values != item.end() && !values->is_null()) {
        if (!values->is_array()) {
          return make_error(ErrorCode::kInvalidArgument, at + ".values: must be a list");
        }
        for (const auto& value : *values) {
          if (!value.is_string()) {
            return make_error(ErrorCode::kInvalidArgument,
                              at + ".values: every value must be a string");
          }
          requirement.values.push_back(value.get<std::string>());
        }
      }
      const bool wants_values =
          requirement.op == SelectorOperator::kIn || requirement.op == SelectorOperator::kNotIn;
      if (wants_values && requirement.values.empty()) {
        return make_error(ErrorCode::kInvalidArgument, at + ": operator " +
                                                           std::string(to_string(requirement.op)) +
                                                           " needs at least one value");
      }
      if (!wants_values && !requirement.values.empty()) {
        return make_error(
            ErrorCode::kInvalidArgument,
            at + ": operator " + std::string(to_string(requirement.op)) + " takes no values");
      }
      selector.match_expressions.push_back(std::move(requirement));
    }
  }
  return selector;
}

nlohmann::json to_json(const LabelSelector& selector) {
  nlohmann::json out = nlohmann::json::object();
  if (!selector.match_labels.empty()) {
    out["matchLabels"] = nlohmann::json::object();
    for (const auto& [key, value] : selector.match_labels) out["matchLabels"][key] = value;
  }
  if (!selector.match_expressions.empty()) {
    out["matchExpressions"] = nlohmann::json::array();
    for (const auto& requirement : selector.match_expressions) {
      nlohmann::json item{{"key", requirement.key},
                          {"operator", std::string(to_string(requirement.op))}};
      if (!requirement.values.empty()) item["values"] = requirement.values;
      out["matchExpressions"].push_back(std::move(item));
    }
  }
  return out;
}

}  // namespace ipcmesh::api
