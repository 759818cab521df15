#include "kube/kube_config.hpp"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <map>
#include <memory>
#include <sstream>

namespace ipcmesh::kube {
namespace fs = std::filesystem;
namespace {

std::string read_file(const fs::path& path, const std::string& what) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw ConfigError(what + ": cannot read " + path.string());
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

std::string trim(std::string text) {
  const auto first = text.find_first_not_of(" \t\r\n");
  if (first == std::string::npos) return {};
  const auto last = text.find_last_not_of(" \t\r\n");
  return text.substr(first, last - first + 1);
}

// One named stanza and the folder of the file it came from (relative paths resolve there).
struct Stanza {
  YAML::Node body;
  fs::path folder;
  fs::path file;
};

struct Merged {
  std::map<std::string, Stanza> clusters;
  std::map<std::string, Stanza> users;
  std::map<std::string, Stanza> contexts;
  std::string current_context;
};

void merge_list(const YAML::Node& list, const char* list_name, const char* body_name,
                const fs::path& file, std::map<std::string, Stanza>& into) {
  if (!list) return;
  if (!list.IsSequence()) throw ConfigError(file.string() + ": " + list_name + " is not a list");
  for (const auto& entry : list) {
    const std::string name = entry["name"] ? entry["name"].as<std::string>() : "";
    if (name.empty())
      throw ConfigError(file.string() + ": an entry of " + list_name + " has no name");
    // First definition wins (client-go merges KUBECONFIG files in order, earlier files win).
    into.try_emplace(name,
                     Stanza{entry[body_name] ? entry[body_name] : YAML::Node(YAML::NodeType::Map),
                            fs::absolute(file).parent_path(), file});
  }
}

std::string string_field(const YAML::Node& node, const char* key) {
  if (!node || !node[key] || node[key].IsNull()) return {};
  return node[key].as<std::string>();
}

fs::path resolve(const Stanza& stanza, const std::string& path) {
  fs::path candidate(path);
  return candidate.is_absolute() ? candidate : stanza.folder / candidate;
}

// "<field>-data" (base64) wins over "<field>" (a path), as in client-go.
std::string data_or_file(const Stanza& stanza, const std::string& field, const std::string& where) {
  const std::string data = string_field(stanza.body, (field + "-data").c_str());
  if (!data.empty()) {
    try {
      return decode_base64(data);
    } catch (const ConfigError& error) {
      throw ConfigError(where + "." + field + "-data: " + error.what());
    }
  }
  const std::string path = string_field(stanza.body, field.c_str());
  if (path.empty()) return {};
  return read_file(resolve(stanza, path), where + "." + field);
}

std::string bracket_ipv6(const std::string& host) {
  if (host.find(':') != std::string::npos && host.front() != '[') return "[" + host + "]";
  return host;
}

}  // namespace

Environment process_environment() {
  return [](const std::string& name) -> std::optional<std::string> {
    const char* value = std::getenv(name.c_str());  // NOLINT(concurrency-mt-unsafe): read-only
    if (value == nullptr) return std::nullopt;
    return std::string(value);
  };
}

std::string decode_base64(std::string_view text) {
  auto value_of = [](char c) -> int {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+' || c == '-') return 62;
    if (c == '/' || c == '_') return 63;
    return -1;
  };
  std::string out;
  out.reserve(text.size() * 3 / 4);
  std::uint32_t buffer = 0;
  int bits = 0;
  bool padding = false;
  for (char c : text) {
    if (c == '\n' || c == '\r' || c == ' ' || c == '\t') continue;
    if (c == '=') {
      padding = true;
      continue;
    }
    const int value = value_of(c);
    if (value < 0 || padding) throw ConfigError("not valid base64");
    buffer = (buffer << 6) | static_cast<std::uint32_t>(value);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<char>((buffer >> bits) & 0xFF));
    }
  }
  if (bits >= 6) throw ConfigError("not valid base64 (truncated)");
  return out;
}

FileTokenSource::FileTokenSource(fs::path path, std::chrono::seconds max_age, Now now)
    : path_(std::move(path)), max_age_(max_age), now_(std::move(now)) {}

std::string FileTokenSource::token() {
  std::lock_guard lock(mutex_);
  const auto now = now_();
  if (read_at_ && now - *read_at_ < max_age_) return token_;
  try {
    token_ = trim(read_file(path_, "token file"));
    read_at_ = now;
  } catch (const ConfigError&) {
    if (!read_at_) throw;
    // Keep the last good token; try again on the next request rather than after max_age.
  }
  return token_;
}

std::vector<fs::path> kubeconfig_paths(const Environment& environment) {
  std::vector<fs::path> paths;
  if (const auto list = environment("KUBECONFIG"); list && !list->empty()) {
    std::string entry;
    std::istringstream in(*list);
    while (std::getline(in, entry, ':')) {
      if (!entry.empty()) paths.emplace_back(entry);
    }
    return paths;
  }
  if (const auto home = environment("HOME"); home && !home->empty()) {
    paths.push_back(fs::path(*home) / ".kube" / "config");
  }
  return paths;
}

bool any_kubeconfig_file(const Environment& environment) {
  const std::vector<fs::path> files = kubeconfig_paths(environment);
  return std::any_of(files.begin(), files.end(), [](const fs::path& file) {
    std::error_code ignored;
    return fs::exists(file, ignored);
  });
}

namespace {

// The files' clusters, users and contexts, the first definition of each name winning.
Merged merge_kubeconfig_files(const std::vector<fs::path>& files) {
  Merged merged;
  bool any = false;
  for (const auto& file : files) {
    std::error_code ignored;
    if (!fs::exists(file, ignored)) continue;  // client-go skips missing files of the list
    YAML::Node root;
    try {
      root = YAML::LoadFile(file.string());
    } catch (const YAML::Exception& error) {
      throw ConfigError(file.string() + ": " + error.what());
    }
    any = true;
    if (!root || root.IsNull()) continue;
    merge_list(root["clusters"], "clusters", "cluster", file, merged.clusters);
    merge_list(root["users"], "users", "user", file, merged.users);
    merge_list(root["contexts"], "contexts", "context", file, merged.contexts);
    if (merged.current_context.empty())
      merged.current_context = string_field(root, "current-context");
  }
  if (!any) {
    std::string tried;
    for (const auto& file : files) tried += (tried.empty() ? "" : ", ") + file.string();
    throw ConfigError(
        "no kubeconfig file found (looked for " +
        (tried.empty() ? std::string("none: no --kubeconfig, $KUBECONFIG or $HOME") : tried) + ")");
  }
  return merged;
}

void apply_cluster(const Stanza& cluster, const std::string& cluster_name,
                   ClusterConnection& connection) {
  const std::string where = cluster.file.string() + ": clusters[" + cluster_name + "]";
  connection.server = string_field(cluster.body, "server");
  if (connection.server.empty()) throw ConfigError(where + ".server is empty");
  if (cluster.body["insecure-skip-tls-verify"] &&
      cluster.body["insecure-skip-tls-verify"].as<bool>(false)) {
    throw ConfigError(where +
                      ".insecure-skip-tls-verify: ipcmesh always verifies TLS; give "
                      "certificate-authority(-data) instead");
  }
  connection.ca_pem = data_or_file(cluster, "certificate-authority", where);
}

void apply_user(const Stanza& user, const std::string& user_name, ClusterConnection& connection) {
  const std::string user_where = user.file.string() + ": users[" + user_name + "]";
  if (user.body["exec"] || user.body["auth-provider"]) {
    throw ConfigError(user_where +
                      ": exec and auth-provider plugins are not supported; use a "
                      "token, tokenFile or client certificate");
  }
  connection.client_certificate_pem = data_or_file(user, "client-certificate", user_where);
  connection.client_key_pem = data_or_file(user, "client-key", user_where);
  if (connection.client_certificate_pem.empty() != connection.client_key_pem.empty()) {
    throw ConfigError(user_where + ": client-certificate and client-key come together");
  }
  const std::string token = string_field(user.body, "token");
  const std::string token_file = string_field(user.body, "tokenFile");
  if (!token.empty()) {
    connection.token = [token] { return token; };
  } else if (!token_file.empty()) {
    auto source = std::make_shared<FileTokenSource>(resolve(user, token_file));
    source->token();  // fail now, with the file's name, rather than on the first request
    connection.token = [source] { return source->token(); };
  }
}

// The stanza a context names, or an error saying which context named what.
const Stanza& named_stanza(const std::map<std::string, Stanza>& stanzas, const std::string& name,
                           const std::string& kind, const std::string& context_name) {
  const auto found = stanzas.find(name);
  if (found == stanzas.end()) {
    throw ConfigError("kubeconfig: context \"" + context_name + "\" names " + kind + " \"" + name +
                      "\", which is not defined");
  }
  return found->second;
}

}  // namespace

ClusterConnection load_kubeconfig(const std::vector<fs::path>& files, const std::string& context) {
  const Merged merged = merge_kubeconfig_files(files);
  const std::string context_name = context.empty() ? merged.current_context : context;
  if (context_name.empty()) throw ConfigError("kubeconfig: no current-context and none given");
  const auto context_it = merged.contexts.find(context_name);
  if (context_it == merged.contexts.end()) {
    throw ConfigError("kubeconfig: context \"" + context_name + "\" is not defined");
  }
  const YAML::Node& context_body = context_it->second.body;
  const std::string cluster_name = string_field(context_body, "cluster");
  const std::string user_name = string_field(context_body, "user");

  ClusterConnection connection;
  apply_cluster(named_stanza(merged.clusters, cluster_name, "cluster", context_name), cluster_name,
                connection);
  const std::string ns = string_field(context_body, "namespace");
  if (!ns.empty()) connection.default_namespace = ns;
  if (!user_name.empty()) {
    apply_user(named_stanza(merged.users, user_name, "user", context_name), user_name, connection);
  }
  return connection;
}

bool running_in_cluster(const Environment& environment) {
  const auto host = environment("KUBERNETES_SERVICE_HOST");
  const auto port = environment("KUBERNETES_SERVICE_PORT");
  return host && !host->empty() && port && !port->empty();
}

ClusterConnection in_cluster_config(const Environment& environment,
                                    const fs::path& service_account_dir) {
  if (!running_in_cluster(environment)) {
    throw ConfigError(
        "not in a cluster: KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT "
        "must be set");
  }
  ClusterConnection connection;
  connection.server = "https://" + bracket_ipv6(*environment("KUBERNETES_SERVICE_HOST")) + ":" +
                      *environment("KUBERNETES_SERVICE_PORT");
  connection.ca_pem = read_file(service_account_dir / "ca.crt", "service-account CA");
  auto source = std::make_shared<FileTokenSource>(service_account_dir / "token");
  source->token();
  connection.token = [source] { return source->token(); };
  std::error_code ignored;
  if (fs::exists(service_account_dir / "namespace", ignored)) {
    const std::string ns = trim(read_file(service_account_dir / "namespace", "namespace"));
    if (!ns.empty()) connection.default_namespace = ns;
  }
  return connection;
}

ClusterConnection load_cluster_connection(const Environment& environment,
                                          const std::string& kubeconfig_path,
                                          const std::string& context) {
  if (!kubeconfig_path.empty()) return load_kubeconfig({fs::path(kubeconfig_path)}, context);
  if (running_in_cluster(environment)) return in_cluster_config(environment);
  return load_kubeconfig(kubeconfig_paths(environment), context);
}

ClusterConnection load_kubectl_connection(const Environment& environment,
                                          const std::string& kubeconfig_path,
                                          const std::string& context,
                                          const fs::path& service_account_dir) {
  if (!kubeconfig_path.empty()) return load_kubeconfig({fs::path(kubeconfig_path)}, context);
  if (!any_kubeconfig_file(environment) && context.empty() && running_in_cluster(environment)) {
    return in_cluster_config(environment, service_account_dir);
  }
  return load_kubeconfig(kubeconfig_paths(environment), context);
}

}  // namespace ipcmesh::kube
