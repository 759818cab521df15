// The HTTP(S) server in front of an HttpHandler (normally AdmissionHandler::handle). Boost.Beast
// does the work inside admission_server.cpp only; this header shows no library type.
//
// Whatever a client sends, the server holds a bounded amount of memory and no connection forever:
// - at most max_connections connections; more are closed at accept;
// - TLS handshakes, idle keep-alive, request headers and bodies each have a deadline;
// - a body larger than max_body_bytes is never read: a declared Content-Length over the limit is
//   answered 413 at once (also instead of `100 Continue`), a chunked one when it passes the limit,
//   and the connection is closed;
// - the bodies being read at once share max_buffered_body_bytes (a request reserves its
//   Content-Length, a chunked one max_body_bytes); a request that does not fit gets 503 and
//   Retry-After, so a few huge uploads cannot starve the ~10 KB reviews of kube-apiserver.
// TLS: the certificate and key are re-read on change at each new connection (CertificateReloader),
// so a rotation needs no restart.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "webhook/http_types.hpp"

namespace ipcmesh::webhook {

struct AdmissionServerConfig {
  // "https://0.0.0.0:8443"; "http://" serves plain HTTP (only for a local test or a TLS proxy).
  std::string address = "https://0.0.0.0:8443";
  std::string certificate_file;  // PEM, leaf first; required for https
  std::string key_file;          // PEM, unencrypted
  // Keep-alive: how long a connection may wait for (and send the header of) its next request.
  // Shorter than Go's 90 s idle pool timeout is fine: kube-apiserver simply reconnects.
  std::chrono::milliseconds idle_timeout{std::chrono::seconds(30)};
  std::size_t max_body_bytes = kMaxRequestBodyBytes;
  // From accept to the end of the TLS handshake.
  std::chrono::milliseconds handshake_timeout{std::chrono::seconds(10)};
  // From the end of a request's header to the end of its body, and for writing the response.
  // kube-apiserver waits at most 30 s (timeoutSeconds) for the whole call.
  std::chrono::milliseconds request_timeout{std::chrono::seconds(10)};
  std::size_t max_connections = 512;
  std::size_t max_header_bytes = 16 * 1024;
  std::size_t max_buffered_body_bytes = 64u << 20;
  // Threads running the connections (the handler runs on them); 0: one per core, at most 4.
  unsigned threads = 0;
};

// What the server has seen, for metrics and tests. Counters only grow, except open_connections.
struct AdmissionServerStats {
  std::uint64_t open_connections = 0;
  std::uint64_t accepted_connections = 0;
  std::uint64_t refused_connections = 0;    // over max_connections
  std::uint64_t handshake_failures = 0;     // TLS handshakes that failed or timed out
  std::uint64_t timed_out_connections = 0;  // closed by a deadline (handshake, idle, slow request)
  std::uint64_t requests = 0;               // requests answered, whatever the status
  std::uint64_t too_large_requests = 0;     // answered 413
  std::uint64_t over_budget_requests = 0;   // answered 503: max_buffered_body_bytes in use
  std::uint64_t buffered_body_bytes = 0;    // reserved now by bodies being read
};

class AdmissionServer {
 public:
  AdmissionServer(AdmissionServerConfig config, HttpHandler handler);
  ~AdmissionServer();
  AdmissionServer(const AdmissionServer&) = delete;
  AdmissionServer& operator=(const AdmissionServer&) = delete;

  // Loads the certificate and starts listening. Throws std::runtime_error with the reason
  // (unreadable or mismatched certificate, address in use).
  void start();
  // Stops accepting, closes every connection and joins the threads. Idempotent.
  void stop();
  // True between a successful start() and stop(): the operator's /readyz reads it.
  bool serving() const;
  // The port bound (useful with port 0), 0 before start().
  std::uint16_t port() const;
  // Accepted certificate pairs so far (1 after start, +1 per rotation picked up).
  std::uint64_t certificate_generation() const;
  AdmissionServerStats stats() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace ipcmesh::webhook
