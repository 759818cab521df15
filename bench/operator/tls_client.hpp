// A minimal HTTP/1.1 client over one keep-alive TLS connection (OpenSSL, blocking), the way
// kube-apiserver reuses its connection to a webhook. Deliberately tiny: the benchmark must time
// the server, not a client library's queues, and must know it uses exactly one connection.
#pragma once

#include <memory>
#include <string>

namespace ipcmesh::bench::operator_bench {

struct HttpReply {
  int status = 0;
  std::string body;
};

class TlsClient {
 public:
  // Connects to 127.0.0.1:port and verifies the server against `ca_file` (IP SAN 127.0.0.1).
  // Throws std::runtime_error on failure.
  TlsClient(int port, const std::string& ca_file);
  ~TlsClient();
  TlsClient(const TlsClient&) = delete;
  TlsClient& operator=(const TlsClient&) = delete;

  // POSTs `body` as application/json and reads the whole answer (Content-Length framed).
  // Throws std::runtime_error when the connection fails or the answer is malformed.
  HttpReply post(const std::string& path, const std::string& body);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace ipcmesh::bench::operator_bench
