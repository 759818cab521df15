#include "relay/http_server.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <utility>

namespace ipcmesh::relay {
namespace {

constexpr std::size_t kMaxRequestHead = 8192;

std::string_view reason_phrase(int status) {
  switch (status) {
    case 200:
      return "OK";
    case 404:
      return "Not Found";
    case 405:
      return "Method Not Allowed";
    case 400:
      return "Bad Request";
    case 503:
      return "Service Unavailable";
    default:
      return "Internal Server Error";
  }
}

void write_all(int fd, std::string_view data) {
  while (!data.empty()) {
    const ssize_t written = ::send(fd, data.data(), data.size(), MSG_NOSIGNAL);
    if (written < 0 && errno == EINTR) {
      continue;
    }
    if (written <= 0) {
      return;  // the scraper went away; nothing to do about it
    }
    data.remove_prefix(static_cast<std::size_t>(written));
  }
}

}  // namespace

bool parse_request_line(std::string_view head, std::string& method, std::string& path) {
  const auto line_end = head.find("\r\n");
  const std::string_view line = head.substr(0, line_end);
  const auto first = line.find(' ');
  if (first == std::string_view::npos) {
    return false;
  }
  const auto second = line.find(' ', first + 1);
  if (second == std::string_view::npos || line.substr(second + 1).rfind("HTTP/", 0) != 0) {
    return false;
  }
  method = std::string(line.substr(0, first));
  path = std::string(line.substr(first + 1, second - first - 1));
  if (const auto query = path.find('?'); query != std::string::npos) {
    path.resize(query);
  }
  return !method.empty() && !path.empty() && path.front() == '/';
}

Result<HttpServer> HttpServer::bind(const std::string& host, std::uint16_t port) {
  const std::string where = host + ":" + std::to_string(port);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(port);
  if (::inet_pton(AF_INET, host.c_str(), &address.sin_addr) != 1) {
    return make_error(ErrorCode::kInvalidArgument,
                      "listen address '" + host + "' is not an IPv4 address");
  }
  posix::UniqueFd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!fd) {
    return tl::unexpected(system_error("socket", where, errno));
  }
  const int one = 1;
  ::setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (::bind(fd.get(), reinterpret_cast<sockaddr*>(&address), sizeof address) != 0 ||
      ::listen(fd.get(), 16) != 0) {
    return tl::unexpected(system_error("bind/listen", where, errno));
  }
  socklen_t length = sizeof address;
  ::getsockname(fd.get(), reinterpret_cast<sockaddr*>(&address), &length);
  return HttpServer(std::move(fd), ntohs(address.sin_port));
}

HttpServer::HttpServer(HttpServer&& other) noexcept
    : listen_fd_(std::move(other.listen_fd_)),
      port_(other.port_),
      handler_(std::move(other.handler_)),
      thread_(std::move(other.thread_)) {}

HttpServer::~HttpServer() {
  stop();  // before the listening socket closes (member destruction): the thread accepts on it
}

void HttpServer::start(HttpHandler handler) {
  handler_ = std::move(handler);
  thread_ = std::thread([this] {
    for (;;) {
      const posix::UniqueFd client(::accept4(listen_fd_.get(), nullptr, nullptr, SOCK_CLOEXEC));
      if (!client) {
        if (errno == EINTR || errno == ECONNABORTED || errno == EMFILE || errno == ENFILE) {
          continue;
        }
        return;  // EINVAL after shutdown(): we are stopping
      }
      serve_one(client.get());
    }
  });
}

void HttpServer::stop() {
  if (thread_.joinable()) {
    ::shutdown(listen_fd_.get(), SHUT_RDWR);
    thread_.join();
  }
}

void HttpServer::serve_one(int client) const {
  // A scraper that connects and says nothing must not hold the only serving thread forever.
  timeval timeout{.tv_sec = 5, .tv_usec = 0};
  ::setsockopt(client, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
  ::setsockopt(client, SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof timeout);
  std::string head;
  char buffer[1024];
  while (head.find("\r\n\r\n") == std::string::npos && head.size() < kMaxRequestHead) {
    const ssize_t got = ::recv(client, buffer, sizeof buffer, 0);
    if (got < 0 && errno == EINTR) {
      continue;
    }
    if (got <= 0) {
      break;
    }
    head.append(buffer, static_cast<std::size_t>(got));
  }
  std::string method;
  std::string path;
  HttpResponse response;
  if (!parse_request_line(head, method, path)) {
    response = {400, "text/plain; charset=utf-8", "bad request\n"};
  } else if (method != "GET" && method != "HEAD") {
    response = {405, "text/plain; charset=utf-8", "only GET\n"};
  } else {
    response = handler_(method, path);
  }
  std::string out = "HTTP/1.1 " + std::to_string(response.status) + " " +
                    std::string(reason_phrase(response.status)) +
                    "\r\nContent-Type: " + response.content_type +
                    "\r\nContent-Length: " + std::to_string(response.body.size()) +
                    "\r\nConnection: close\r\n\r\n";
  if (method != "HEAD") {
    out += response.body;
  }
  write_all(client, out);
}

}  // namespace ipcmesh::relay
