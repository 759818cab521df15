// The admission server's HTTP seam: plain structs and a handler function, so the AdmissionReview
// logic is tested without a socket and cpprestsdk stays inside admission_server.cpp.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>

namespace ipcmesh::webhook {

// kube-apiserver caps an admission request body at 3 MiB of object plus envelope; 7 MiB leaves
// room for old and new object without letting a client make us buffer arbitrary amounts.
inline constexpr std::size_t kMaxRequestBodyBytes = 7u << 20;

struct HttpRequest {
  std::string method;                           // "POST"
  std::string path;                             // "/mutate-pods" (no query)
  std::string content_type;                     // the Content-Type header as sent, "" when absent
  std::optional<std::uint64_t> content_length;  // from the header, when sent
  std::string body;
};

struct HttpResponse {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
};

using HttpHandler = std::function<HttpResponse(const HttpRequest&)>;

}  // namespace ipcmesh::webhook
