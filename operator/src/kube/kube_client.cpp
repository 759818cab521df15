#include "kube/kube_client.hpp"

#include <cctype>
#include <ctime>

namespace ipcmesh::kube {
namespace {

std::string kind_path(const ResourcePath& path) {
  return path.group.empty() ? "/api/" + path.version : "/apis/" + path.group + "/" + path.version;
}

}  // namespace

ResourcePath ResourcePath::in(std::string ns) const {
  ResourcePath out = *this;
  out.namespace_name = std::move(ns);
  return out;
}
ResourcePath ResourcePath::named(std::string object_name) const {
  ResourcePath out = *this;
  out.name = std::move(object_name);
  return out;
}
ResourcePath ResourcePath::sub(std::string sub_name) const {
  ResourcePath out = *this;
  out.subresource = std::move(sub_name);
  return out;
}
std::string ResourcePath::path() const {
  std::string out = kind_path(*this);
  if (!namespace_name.empty()) out += "/namespaces/" + namespace_name;
  out += "/" + resource;
  if (!name.empty()) out += "/" + name;
  if (!subresource.empty()) out += "/" + subresource;
  return out;
}

std::string url_encode(std::string_view text) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : text) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back('%');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 0xF]);
    }
  }
  return out;
}

void throw_api_error(const HttpResponse& response, const std::string& what) {
  std::string reason;
  std::string message = response.body;
  const auto status = nlohmann::json::parse(response.body, nullptr, false);
  if (status.is_object() && status.value("kind", "") == "Status") {
    reason = status.value("reason", "");
    message = status.value("message", "");
  }
  if (message.size() > 512) message.resize(512);
  throw ApiError(response.status, reason,
                 what + ": HTTP " + std::to_string(response.status) +
                     (reason.empty() ? "" : " " + reason) +
                     (message.empty() ? "" : ": " + message));
}

nlohmann::json KubeClient::call(const std::string& method, const std::string& path,
                                const std::string& body, const std::string& content_type) {
  HttpRequest request;
  request.method = method;
  request.path_and_query = path;
  request.headers["Accept"] = "application/json";
  if (!body.empty()) {
    request.headers["Content-Type"] = content_type.empty() ? "application/json" : content_type;
    request.body = body;
  }
  const HttpResponse response = transport_.send(request);
  if (response.status < 200 || response.status > 299)
    throw_api_error(response, method + " " + path);
  if (response.body.empty()) return nlohmann::json::object();
  return nlohmann::json::parse(response.body);
}

nlohmann::json KubeClient::get(const ResourcePath& object) {
  return call("GET", object.path());
}

std::optional<nlohmann::json> KubeClient::get_if_exists(const ResourcePath& object) {
  try {
    return get(object);
  } catch (const ApiError& error) {
    if (error.not_found()) return std::nullopt;
    throw;
  }
}

nlohmann::json KubeClient::list(const ResourcePath& collection, const ListOptions& options) {
  std::string query;
  auto add = [&query](const char* key, const std::string& value) {
    if (value.empty()) return;
    query += (query.empty() ? "?" : "&") + std::string(key) + "=" + url_encode(value);
  };
  add("labelSelector", options.label_selector);
  add("fieldSelector", options.field_selector);
  add("resourceVersion", options.resource_version);
  add("limit", options.limit > 0 ? std::to_string(options.limit) : "");
  add("continue", options.continue_token);
  return call("GET", collection.path() + query);
}

nlohmann::json KubeClient::create(const ResourcePath& collection, const nlohmann::json& object) {
  return call("POST", collection.path(), object.dump());
}

nlohmann::json KubeClient::update(const ResourcePath& object, const nlohmann::json& body) {
  return call("PUT", object.path(), body.dump());
}

nlohmann::json KubeClient::patch(const ResourcePath& object, const nlohmann::json& body,
                                 PatchType type) {
  const char* content_type = type == PatchType::kMerge ? "application/merge-patch+json"
                             : type == PatchType::kStrategicMerge
                                 ? "application/strategic-merge-patch+json"
                                 : "application/json-patch+json";
  return call("PATCH", object.path(), body.dump(), content_type);
}

ServerVersion parse_server_version(const nlohmann::json& body) {
  ServerVersion version;
  auto leading_int = [](const std::string& text) {
    int value = 0;
    for (char c : text) {
      if (!std::isdigit(static_cast<unsigned char>(c))) break;
      value = value * 10 + (c - '0');
    }
    return value;
  };
  version.major = leading_int(body.value("major", "0"));
  version.minor = leading_int(body.value("minor", "0"));
  version.git_version = body.value("gitVersion", "");
  // Some distributions leave major/minor empty; gitVersion "v1.30.2" is always there.
  if (version.minor == 0 && version.git_version.size() > 1 && version.git_version[0] == 'v') {
    const auto dot = version.git_version.find('.');
    if (dot != std::string::npos) {
      version.major = leading_int(version.git_version.substr(1));
      version.minor = leading_int(version.git_version.substr(dot + 1));
    }
  }
  return version;
}

ServerVersion KubeClient::server_version() {
  return parse_server_version(call("GET", "/version"));
}

std::optional<nlohmann::json> KubeClient::get_lease(const std::string& ns,
                                                    const std::string& name) {
  return get_if_exists(kLeases.in(ns).named(name));
}

nlohmann::json KubeClient::create_lease(const std::string& ns, const nlohmann::json& lease) {
  return create(kLeases.in(ns), lease);
}

nlohmann::json KubeClient::update_lease(const std::string& ns, const nlohmann::json& lease) {
  return update(kLeases.in(ns).named(lease.at("metadata").at("name").get<std::string>()), lease);
}

std::string format_micro_time(std::chrono::system_clock::time_point time) {
  const auto micros =
      std::chrono::duration_cast<std::chrono::microseconds>(time.time_since_epoch()).count();
  const std::time_t seconds = static_cast<std::time_t>(micros / 1000000);
  std::tm utc{};
  gmtime_r(&seconds, &utc);
  char text[40];
  std::strftime(text, sizeof(text), "%Y-%m-%dT%H:%M:%S", &utc);
  char fraction[16];
  std::snprintf(fraction, sizeof(fraction), ".%06dZ", static_cast<int>(micros % 1000000));
  return std::string(text) + fraction;
}

std::string format_time(std::chrono::system_clock::time_point time) {
  const std::time_t seconds = std::chrono::system_clock::to_time_t(time);
  std::tm utc{};
  gmtime_r(&seconds, &utc);
  char text[40];
  std::strftime(text, sizeof(text), "%Y-%m-%dT%H:%M:%SZ", &utc);
  return text;
}

}  // namespace ipcmesh::kube
