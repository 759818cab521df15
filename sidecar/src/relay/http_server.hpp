// A minimal HTTP/1.1 server for /healthz, /readyz and /metrics: one thread blocked in accept()
// (no CPU while nobody scrapes), one request per connection, Connection: close. Small on purpose:
// a scrape endpoint on localhost needs no more, and it keeps the relay's RSS and thread count low.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <thread>

#include "ipcmesh/error.hpp"
#include "ipcmesh/posix/unique_fd.hpp"

namespace ipcmesh::relay {

struct HttpResponse {
  int status = 200;
  std::string content_type = "text/plain; charset=utf-8";
  std::string body;
};

using HttpHandler = std::function<HttpResponse(std::string_view method, std::string_view path)>;

class HttpServer {
 public:
  // Binds and listens (port 0 picks a free one); accepting starts with start().
  static Result<HttpServer> bind(const std::string& host, std::uint16_t port);

  HttpServer(HttpServer&& other) noexcept;
  HttpServer& operator=(HttpServer&&) = delete;
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;
  ~HttpServer();  // stops and joins

  std::uint16_t port() const { return port_; }
  void start(HttpHandler handler);
  // Wakes the accept() with shutdown() and joins the thread.
  void stop();

 private:
  HttpServer(posix::UniqueFd fd, std::uint16_t port) : listen_fd_(std::move(fd)), port_(port) {}
  void serve_one(int client) const;
  posix::UniqueFd listen_fd_;
  std::uint16_t port_ = 0;
  HttpHandler handler_;
  std::thread thread_;
};

// Parses "GET /path HTTP/1.1" from the request head; false when malformed.
bool parse_request_line(std::string_view head, std::string& method, std::string& path);

}  // namespace ipcmesh::relay
