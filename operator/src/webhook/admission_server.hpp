// The HTTPS server in front of an HttpHandler (normally AdmissionHandler::handle). cpprestsdk's
// http_listener does the work inside admission_server.cpp only; this header shows no library type.
// TLS: the certificate and key are re-read on change at each new connection (CertificateReloader),
// so a rotation needs no restart. Bodies above the limit get 413 before they are read.
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
  std::chrono::seconds idle_timeout{30};
  std::size_t max_body_bytes = kMaxRequestBodyBytes;
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
  // Stops accepting and waits for the listener to close. Idempotent.
  void stop();
  // True between a successful start() and stop(): the operator's /readyz reads it.
  bool serving() const;
  // Accepted certificate pairs so far (1 after start, +1 per rotation picked up).
  std::uint64_t certificate_generation() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace ipcmesh::webhook
