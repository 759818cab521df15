#include "manifest_files.hpp"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <istream>
#include <sstream>
#include <stdexcept>

#include "yaml_documents.hpp"

namespace ipcmesh::cli {
namespace {

namespace fs = std::filesystem;

bool is_manifest_file(const fs::path& path) {
  const std::string extension = path.extension().string();
  return extension == ".yaml" || extension == ".yml" || extension == ".json";
}

std::string read_file(const std::string& name) {
  std::ifstream file(name, std::ios::binary);
  if (!file) throw std::runtime_error("cannot read " + name);
  std::ostringstream text;
  text << file.rdbuf();
  return text.str();
}

void add_documents(const std::string& source, const std::string& text,
                   std::vector<Manifest>& into) {
  std::vector<nlohmann::json> documents;
  try {
    // JSON is YAML: one parser for both (and for stdin, which has no extension).
    documents = documents_from_yaml(text);
  } catch (const std::runtime_error& error) {
    throw std::runtime_error(source + ": " + error.what());
  }
  for (auto& document : documents) into.push_back({source, std::move(document)});
}

}  // namespace

std::vector<Manifest> read_manifests(const std::vector<std::string>& paths, std::istream& in) {
  std::vector<Manifest> manifests;
  for (const std::string& path : paths) {
    if (path == "-") {
      std::ostringstream text;
      text << in.rdbuf();
      add_documents("-", text.str(), manifests);
      continue;
    }
    std::error_code error;
    if (!fs::is_directory(path, error)) {
      add_documents(path, read_file(path), manifests);
      continue;
    }
    std::vector<fs::path> files;
    for (fs::recursive_directory_iterator it(path, error), end; !error && it != end;
         it.increment(error)) {
      if (it->is_regular_file() && is_manifest_file(it->path())) files.push_back(it->path());
    }
    if (error) throw std::runtime_error("cannot list " + path + ": " + error.message());
    std::sort(files.begin(), files.end());
    for (const fs::path& file : files) add_documents(file.string(), read_file(file), manifests);
  }
  return manifests;
}

}  // namespace ipcmesh::cli
