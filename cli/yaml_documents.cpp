#include "yaml_documents.hpp"

#include <yaml-cpp/yaml.h>

#include <charconv>
#include <nlohmann/json.hpp>
#include <regex>
#include <stdexcept>

namespace ipcmesh::cli {
namespace {

using nlohmann::json;
// As deep as the admission webhook accepts JSON (webhook/admission.hpp): deeper is an attack or a
// mistake, and the recursion below must not exhaust the stack.
constexpr std::size_t kMaxJsonDepth = 256;

const std::regex& int_pattern() {
  static const std::regex pattern("[-+]?[0-9]+");
  return pattern;
}
const std::regex& float_pattern() {
  static const std::regex pattern(
      "[-+]?(\\.[0-9]+|[0-9]+(\\.[0-9]*)?)([eE][-+]?[0-9]+)?|[-+]?\\.(inf|Inf|INF)|\\.(nan|NaN|"
      "NAN)");
  return pattern;
}

bool is_null_word(const std::string& s) {
  return s.empty() || s == "~" || s == "null" || s == "Null" || s == "NULL";
}
bool is_true_word(const std::string& s) {
  return s == "true" || s == "True" || s == "TRUE";
}
bool is_false_word(const std::string& s) {
  return s == "false" || s == "False" || s == "FALSE";
}

json scalar_to_json(const YAML::Node& node) {
  const std::string& text = node.Scalar();
  const std::string& tag = node.Tag();
  if (tag == "!" || tag == "tag:yaml.org,2002:str") return text;  // quoted or explicitly a string
  if (tag != "?" && !tag.empty()) return text;                    // unknown tags: keep the text
  if (is_null_word(text)) return nullptr;
  if (is_true_word(text)) return true;
  if (is_false_word(text)) return false;
  if (std::regex_match(text, int_pattern())) {
    std::int64_t value = 0;
    const char* begin = text.data() + (text[0] == '+' ? 1 : 0);
    const auto [end, error] = std::from_chars(begin, text.data() + text.size(), value);
    // Non-negative numbers as unsigned, exactly as nlohmann::json::parse types them (the
    // contract's parser expects that for counts).
    if (error == std::errc() && end == text.data() + text.size()) {
      return value >= 0 ? json(static_cast<std::uint64_t>(value)) : json(value);
    }
    return text;  // out of range: keep it as text rather than lose digits
  }
  if (std::regex_match(text, float_pattern())) {
    try {
      return std::stod(text);
    } catch (const std::exception&) {
      return text;
    }
  }
  return text;
}

json node_to_json(const YAML::Node& node, int depth) {
  if (depth > static_cast<int>(kMaxJsonDepth)) {
    throw std::runtime_error("line " + std::to_string(node.Mark().line + 1) +
                             ": nested too deeply");
  }
  switch (node.Type()) {
    case YAML::NodeType::Null:
    case YAML::NodeType::Undefined:
      return nullptr;
    case YAML::NodeType::Scalar:
      return scalar_to_json(node);
    case YAML::NodeType::Sequence: {
      json out = json::array();
      for (const auto& item : node) out.push_back(node_to_json(item, depth + 1));
      return out;
    }
    case YAML::NodeType::Map: {
      json out = json::object();
      for (const auto& entry : node) {
        if (!entry.first.IsScalar()) {
          throw std::runtime_error("line " + std::to_string(entry.first.Mark().line + 1) +
                                   ": only string keys are supported");
        }
        out[entry.first.Scalar()] = node_to_json(entry.second, depth + 1);
      }
      return out;
    }
  }
  return nullptr;
}

// A string that a YAML reader would resolve to something else must be quoted.
bool needs_quotes(const std::string& s) {
  return is_null_word(s) || is_true_word(s) || is_false_word(s) ||
         std::regex_match(s, int_pattern()) || std::regex_match(s, float_pattern()) || s == "y" ||
         s == "n" || s == "yes" || s == "no" || s == "on" || s == "off" || s == "Y" || s == "N" ||
         s == "Yes" || s == "No" || s == "On" || s == "Off";
}

void emit(YAML::Emitter& out, const json& value) {
  switch (value.type()) {
    case json::value_t::object:
      out << YAML::BeginMap;
      for (const auto& [key, item] : value.items()) {
        out << YAML::Key;
        if (needs_quotes(key)) out << YAML::DoubleQuoted;
        out << key << YAML::Value;
        emit(out, item);
      }
      out << YAML::EndMap;
      break;
    case json::value_t::array:
      out << YAML::BeginSeq;
      for (const auto& item : value) emit(out, item);
      out << YAML::EndSeq;
      break;
    case json::value_t::string: {
      const auto& text = value.get_ref<const std::string&>();
      if (needs_quotes(text)) out << YAML::DoubleQuoted;
      out << text;
      break;
    }
    case json::value_t::boolean:
      out << (value.get<bool>() ? "true" : "false");
      break;
    case json::value_t::null:
      out << YAML::Null;
      break;
    default:  // numbers: JSON's text is valid YAML
      out << value.dump();
      break;
  }
}

}  // namespace

std::vector<json> documents_from_yaml(const std::string& text) {
  std::vector<json> documents;
  try {
    for (const auto& node : YAML::LoadAll(text)) {
      if (node.IsNull()) continue;  // "---" followed by nothing
      documents.push_back(node_to_json(node, 0));
    }
  } catch (const YAML::Exception& error) {
    throw std::runtime_error(std::string("not valid YAML: ") + error.what());
  }
  return documents;
}

std::string documents_to_yaml(const std::vector<json>& documents) {
  std::string out;
  for (const auto& document : documents) {
    YAML::Emitter emitter;
    emitter.SetIndent(2);
    emitter.SetSeqFormat(YAML::Block);
    emit(emitter, document);
    if (!out.empty()) out += "---\n";
    out += emitter.c_str();
    out += '\n';
  }
  return out;
}

}  // namespace ipcmesh::cli
