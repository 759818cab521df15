#include "tls_client.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>
#include <stdexcept>

namespace ipcmesh::bench::operator_bench {
namespace {

std::string openssl_error(const char* what) {
  char text[256] = {};
  ERR_error_string_n(ERR_get_error(), text, sizeof(text));
  return std::string(what) + ": " + text;
}

}  // namespace

struct TlsClient::Impl {
  int port = 0;
  int fd = -1;
  SSL_CTX* context = nullptr;
  SSL* ssl = nullptr;
  std::string buffer;  // bytes read past the previous answer

  ~Impl() {
    if (ssl != nullptr) {
      SSL_shutdown(ssl);
      SSL_free(ssl);
    }
    if (context != nullptr) SSL_CTX_free(context);
    if (fd >= 0) ::close(fd);
  }

  void read_more() {
    char chunk[16384];
    const int n = SSL_read(ssl, chunk, sizeof(chunk));
    if (n <= 0) throw std::runtime_error(openssl_error("TLS read (connection closed?)"));
    buffer.append(chunk, static_cast<std::size_t>(n));
  }
};

TlsClient::TlsClient(int port, const std::string& ca_file) : impl_(std::make_unique<Impl>()) {
  auto& impl = *impl_;
  impl.port = port;
  impl.context = SSL_CTX_new(TLS_client_method());
  if (impl.context == nullptr) throw std::runtime_error(openssl_error("SSL_CTX_new"));
  SSL_CTX_set_min_proto_version(impl.context, TLS1_2_VERSION);
  if (SSL_CTX_load_verify_locations(impl.context, ca_file.c_str(), nullptr) != 1) {
    throw std::runtime_error(openssl_error(("loading " + ca_file).c_str()));
  }
  SSL_CTX_set_verify(impl.context, SSL_VERIFY_PEER, nullptr);

  impl.fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (impl.fd < 0) throw std::runtime_error(std::string("socket: ") + std::strerror(errno));
  const int one = 1;
  ::setsockopt(impl.fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(static_cast<std::uint16_t>(port));
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(impl.fd, reinterpret_cast<const sockaddr*>(&address), sizeof(address)) != 0) {
    throw std::runtime_error("connect 127.0.0.1:" + std::to_string(port) + ": " +
                             std::strerror(errno));
  }
  impl.ssl = SSL_new(impl.context);
  SSL_set_fd(impl.ssl, impl.fd);
  X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(impl.ssl), "127.0.0.1");
  if (SSL_connect(impl.ssl) != 1) throw std::runtime_error(openssl_error("TLS handshake"));
}

TlsClient::~TlsClient() = default;

HttpReply TlsClient::post(const std::string& path, const std::string& body) {
  auto& impl = *impl_;
  std::string request = "POST " + path +
                        " HTTP/1.1\r\nHost: 127.0.0.1:" + std::to_string(impl.port) +
                        "\r\nContent-Type: application/json\r\nAccept: application/json\r\n"
                        "Content-Length: " +
                        std::to_string(body.size()) + "\r\n\r\n";
  request += body;  // one write: headers and body leave in the same TLS record
  if (SSL_write(impl.ssl, request.data(), static_cast<int>(request.size())) <= 0) {
    throw std::runtime_error(openssl_error("TLS write"));
  }

  std::size_t header_end;
  while ((header_end = impl.buffer.find("\r\n\r\n")) == std::string::npos) impl.read_more();
  const std::string headers = impl.buffer.substr(0, header_end);
  HttpReply reply;
  if (headers.size() < 12 || headers.compare(0, 5, "HTTP/") != 0) {
    throw std::runtime_error("malformed status line: " + headers.substr(0, 40));
  }
  reply.status = std::atoi(headers.c_str() + 9);
  std::size_t length = std::string::npos;
  for (std::size_t at = headers.find("\r\n"); at != std::string::npos;
       at = headers.find("\r\n", at + 2)) {
    static constexpr char kName[] = "content-length:";
    if (strncasecmp(headers.c_str() + at + 2, kName, sizeof(kName) - 1) == 0) {
      length = std::strtoull(headers.c_str() + at + 2 + sizeof(kName) - 1, nullptr, 10);
    }
  }
  if (length == std::string::npos) throw std::runtime_error("answer without Content-Length");
  const std::size_t body_start = header_end + 4;
  while (impl.buffer.size() < body_start + length) impl.read_more();
  reply.body = impl.buffer.substr(body_start, length);
  impl.buffer.erase(0, body_start + length);
  return reply;
}

}  // namespace ipcmesh::bench::operator_bench
