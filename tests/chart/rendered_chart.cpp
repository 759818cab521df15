#include "rendered_chart.hpp"

#include <unistd.h>
#include <yaml-cpp/yaml.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>
#include <stdexcept>

namespace ipcmesh::chart {
namespace {

// A plain (unquoted) scalar read the way Kubernetes' YAML 1.1 parser reads the values we render.
nlohmann::json plain_scalar(const std::string& text) {
  static const std::regex kInteger("[-+]?[0-9]+");
  static const std::regex kFloat("[-+]?([0-9]*\\.[0-9]+|[0-9]+\\.[0-9]*)([eE][-+]?[0-9]+)?");
  if (text.empty() || text == "~" || text == "null" || text == "Null" || text == "NULL") {
    return nullptr;
  }
  if (text == "true" || text == "True" || text == "TRUE") return true;
  if (text == "false" || text == "False" || text == "FALSE") return false;
  // A leading zero is octal in YAML 1.1 (defaultMode: 0440): keep such numbers as written.
  if (std::regex_match(text, kInteger) && !(text.size() > 1 && text[0] == '0')) {
    return std::stoll(text);
  }
  if (std::regex_match(text, kFloat)) return std::stod(text);
  return text;
}

nlohmann::json to_json(const YAML::Node& node) {
  switch (node.Type()) {
    case YAML::NodeType::Null:
    case YAML::NodeType::Undefined:
      return nullptr;
    case YAML::NodeType::Scalar:
      // "?" is a plain scalar; "!" a quoted one, always a string.
      return node.Tag() == "?" ? plain_scalar(node.Scalar()) : nlohmann::json(node.Scalar());
    case YAML::NodeType::Sequence: {
      nlohmann::json array = nlohmann::json::array();
      for (const auto& item : node) array.push_back(to_json(item));
      return array;
    }
    case YAML::NodeType::Map: {
      nlohmann::json object = nlohmann::json::object();
      for (const auto& entry : node) object[entry.first.as<std::string>()] = to_json(entry.second);
      return object;
    }
  }
  return nullptr;
}

std::vector<std::string> template_argv(const std::vector<std::string>& sets) {
  std::vector<std::string> args = {"template",        kReleaseName,     chart_path(), "--namespace",
                                   kReleaseNamespace, "--kube-version", "1.36.0"};
  for (const auto& set : sets) args.insert(args.end(), {"--set", set});
  return args;
}

}  // namespace

std::string repo_path(const std::string& relative) {
  return std::string(IPCMESH_SOURCE_DIR) + "/" + relative;
}

std::string chart_path() {
  return repo_path("charts/ipcmesh");
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot read " + path);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

std::string helm_binary() {
  std::vector<std::string> tried;
  if (const char* bin = std::getenv("IPCMESH_TOOLS_BIN"); bin && *bin) {
    tried.push_back(bin);
  } else {
    tried.push_back(IPCMESH_TOOLS_BIN);
    tried.push_back(repo_path("build/tools/bin"));
  }
  std::string where;
  for (const auto& dir : tried) {
    const std::string helm = dir + "/helm";
    if (::access(helm.c_str(), X_OK) == 0) return helm;
    where += " " + helm;
  }
  throw std::runtime_error("helm is not built: none of" + where +
                           " exists. Run `make tools` (or set IPCMESH_TOOLS_BIN to a folder "
                           "holding helm).");
}

cluster::CommandResult helm(const std::vector<std::string>& args) {
  std::vector<std::string> argv = {helm_binary()};
  argv.insert(argv.end(), args.begin(), args.end());
  return cluster::run_command(argv);
}

std::vector<nlohmann::json> parse_yaml_documents(const std::string& text) {
  std::vector<nlohmann::json> documents;
  for (const auto& node : YAML::LoadAll(text)) {
    nlohmann::json document = to_json(node);
    if (!document.is_null()) documents.push_back(std::move(document));
  }
  return documents;
}

RenderedChart::RenderedChart(const std::vector<std::string>& sets) {
  const cluster::CommandResult result = helm(template_argv(sets));
  if (!result.ok()) {
    throw std::runtime_error("helm template failed (exit " + std::to_string(result.exit_code) +
                             "): " + result.err);
  }
  text_ = result.out;
  objects_ = parse_yaml_documents(text_);
}

const nlohmann::json& RenderedChart::get(const std::string& kind, const std::string& name) const {
  const nlohmann::json* found = nullptr;
  for (const auto& object : objects_) {
    if (object.value("kind", "") != kind) continue;
    if (!name.empty() && object["metadata"].value("name", "") != name) continue;
    if (found) throw std::runtime_error("more than one " + kind + " named '" + name + "'");
    found = &object;
  }
  if (!found) throw std::runtime_error("the chart renders no " + kind + " '" + name + "'");
  return *found;
}

std::size_t RenderedChart::count(const std::string& kind) const {
  std::size_t n = 0;
  for (const auto& object : objects_) n += object.value("kind", "") == kind ? 1 : 0;
  return n;
}

cluster::CommandResult render_expecting_failure(const std::vector<std::string>& sets) {
  return helm(template_argv(sets));
}

}  // namespace ipcmesh::chart
