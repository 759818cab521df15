// The HTTP seam between the Kubernetes client and an HTTP library. cpprestsdk (archived upstream)
// lives behind it in cpprest_transport.cpp only; tests script it with a fake. No library types
// here.
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>

#include "kube/cancellation.hpp"

namespace ipcmesh::kube {

// Header names compare case-insensitively (RFC 9110); we normalise to lower case on receipt.
using HttpHeaders = std::map<std::string, std::string>;

struct HttpRequest {
  std::string method = "GET";
  std::string path_and_query;  // "/api/v1/pods?watch=1&resourceVersion=12"
  HttpHeaders headers;         // Content-Type, Accept; Authorization is added by the transport
  std::string body;
};

struct HttpResponse {
  int status = 0;
  HttpHeaders headers;  // lower-case names
  std::string body;     // for stream(): the body of a non-2xx answer only
};

// A failed exchange (no HTTP status to speak of). Timeouts, resets and cancellation are told apart
// because the informer reacts differently: cancellation ends the loop, the others back off.
class TransportError : public std::runtime_error {
 public:
  enum class Kind { kTimeout, kConnection, kCancelled, kTls, kOther };
  TransportError(Kind kind, const std::string& what) : std::runtime_error(what), kind_(kind) {}
  Kind kind() const noexcept { return kind_; }

 private:
  Kind kind_;
};

// Called once per line of a streamed 2xx body (without the '\n'); return false to stop reading.
using LineHandler = std::function<bool(std::string_view line)>;

class HttpTransport {
 public:
  virtual ~HttpTransport() = default;
  // One request, whole body. Throws TransportError when no answer arrives.
  virtual HttpResponse send(const HttpRequest& request) = 0;
  // A long request whose 2xx body arrives line by line (a watch). Blocks the calling thread until
  // the body ends, the handler returns false, or `cancellation` fires (then throws TransportError
  // kCancelled). Call it from a thread of your own, never from a library pool thread.
  virtual HttpResponse stream(const HttpRequest& request, const LineHandler& on_line,
                              Cancellation& cancellation) = 0;
};

// Where and how to reach an API server; built by kube_config from a kubeconfig or the Pod's
// service account. PEM text, not paths, so a transport never reads files itself.
struct ClusterConnection {
  std::string server;  // "https://10.0.0.1:443", "https://[fd00::1]:6443"
  std::string ca_pem;  // empty: the system trust store
  std::string client_certificate_pem;
  std::string client_key_pem;
  // Called per request; returns the current bearer token ("" for none). In-cluster it re-reads
  // the projected service-account token, which the kubelet rotates.
  std::function<std::string()> token;
  std::string default_namespace = "default";
};

struct TransportOptions {
  // Idle timeout for ordinary requests.
  std::chrono::seconds request_timeout{30};
  // Idle timeout for streams: above the longest watch (10 min) so the server, not the client,
  // ends a quiet watch (cpprestsdk's timeout is an idle timeout, not a deadline).
  std::chrono::seconds stream_idle_timeout{11 * 60};
  std::string user_agent = "ipcmesh-operator";
};

// The real transport (cpprestsdk http_client, TLS verification always on). Throws
// std::invalid_argument for an unusable server URL or unreadable PEM.
std::unique_ptr<HttpTransport> make_cpprest_transport(ClusterConnection connection,
                                                      TransportOptions options = {});

}  // namespace ipcmesh::kube
