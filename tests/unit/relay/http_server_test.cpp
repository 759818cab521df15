#include "relay/http_server.hpp"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <string>

#include "ipcmesh/posix/unique_fd.hpp"

namespace ipcmesh::relay {
namespace {

// The request line parser takes method and path (query dropped) and refuses garbage.
TEST(HttpServer, ParsesTheRequestLine) {
  std::string method;
  std::string path;
  ASSERT_TRUE(parse_request_line("GET /metrics?x=1 HTTP/1.1\r\nHost: a\r\n\r\n", method, path));
  EXPECT_EQ(method, "GET");
  EXPECT_EQ(path, "/metrics");
  EXPECT_FALSE(parse_request_line("hello\r\n\r\n", method, path));
  EXPECT_FALSE(parse_request_line("GET metrics HTTP/1.1\r\n", method, path));
  EXPECT_FALSE(parse_request_line("GET /x SMTP\r\n", method, path));
}

posix::UniqueFd connect_to(std::uint16_t port) {
  posix::UniqueFd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(port);
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd.get(), reinterpret_cast<sockaddr*>(&address), sizeof address) != 0) fd.reset();
  return fd;
}

std::string get(std::uint16_t port, const std::string& path) {
  const posix::UniqueFd fd = connect_to(port);
  if (!fd) return "connect failed";
  const std::string request = "GET " + path + " HTTP/1.1\r\nHost: x\r\n\r\n";
  if (::send(fd.get(), request.data(), request.size(), MSG_NOSIGNAL) < 0) return "send failed";
  std::string response;
  char buffer[512];
  for (ssize_t got; (got = ::recv(fd.get(), buffer, sizeof buffer, 0)) > 0;) {
    response.append(buffer, static_cast<std::size_t>(got));
  }
  return response;
}

// A request on a real socket gets the handler's answer; each connection is closed after one
// answer (the client reads to EOF), and a stopped server's port refuses connections (its
// listening socket is closed with it).
TEST(HttpServer, AnswersOnARealSocketAndClosesItsSocketsWhenItGoes) {
  std::uint16_t port = 0;
  {
    auto server = HttpServer::bind("127.0.0.1", 0);
    ASSERT_TRUE(server) << server.error().message;
    port = server->port();
    server->start([](std::string_view, std::string_view path) {
      return HttpResponse{path == "/healthz" ? 200 : 404, "text/plain", "ok\n"};
    });
    const std::string ok = get(port, "/healthz");
    EXPECT_EQ(ok.rfind("HTTP/1.1 200 OK\r\n", 0), 0u) << ok;
    EXPECT_NE(ok.find("\r\n\r\nok\n"), std::string::npos) << ok;
    EXPECT_EQ(get(port, "/nope").rfind("HTTP/1.1 404", 0), 0u);
  }
  EXPECT_FALSE(connect_to(port));
}

TEST(HttpServer, ABadListenAddressIsRefusedWithItsText) {
  auto server = HttpServer::bind("localhost", 0);
  ASSERT_FALSE(server);
  EXPECT_EQ(server.error().code, ErrorCode::kInvalidArgument);
  EXPECT_NE(server.error().message.find("'localhost'"), std::string::npos);
}

}  // namespace
}  // namespace ipcmesh::relay
