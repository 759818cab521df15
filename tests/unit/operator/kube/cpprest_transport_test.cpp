// Component test: the real CppRestTransport against a local HTTPS server (cpprestsdk's
// http_listener) with a throwaway CA and server certificate made by the openssl CLI.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <boost/asio/ssl.hpp>
#include <condition_variable>
#include <filesystem>
#include <fstream>
#include <future>
#include <sstream>
#include <thread>

#include "kube/http_transport.hpp"

// clang-format off
// After gtest: cpprestsdk's U() macro breaks gtest's headers; <utility> first for boost/asio.
#include <utility>
#include <cpprest/http_listener.h>
#include <cpprest/producerconsumerstream.h>
// clang-format on

namespace ipcmesh::kube {
namespace {

namespace fs = std::filesystem;
using web::http::experimental::listener::http_listener;
using web::http::experimental::listener::http_listener_config;
using namespace std::chrono_literals;

std::string read_text(const fs::path& path) {
  std::ifstream in(path);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

void run(const std::string& command) {
  ASSERT_EQ(std::system((command + " >/dev/null 2>&1").c_str()), 0) << command;
}

int free_port() {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address));
  socklen_t length = sizeof(address);
  getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length);
  close(fd);
  return ntohs(address.sin_port);
}

// Server side of the streaming test: the handler writes a line, then waits until the client
// says it has read that line before writing the next. A client that only saw the body at its end
// would make every wait time out, which the test detects.
struct LineByLine {
  std::mutex mutex;
  std::condition_variable changed;
  int acknowledged = 0;
  std::atomic<int> timeouts{0};
};

class TlsServer : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    char pattern[] = "/tmp/ipcmesh-tls-XXXXXX";
    ASSERT_NE(mkdtemp(pattern), nullptr);
    dir_ = pattern;
    const std::string d = dir_.string();
    const std::string ec = "-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes";
    run("openssl req -x509 " + ec + " -keyout " + d + "/ca.key -out " + d +
        "/ca.crt -days 1 -subj /CN=ipcmesh-test-ca");
    run("openssl req -x509 " + ec + " -keyout " + d + "/other.key -out " + d +
        "/other.crt -days 1 -subj /CN=ipcmesh-other-ca");
    std::ofstream(dir_ / "san.ext") << "subjectAltName=DNS:localhost,IP:127.0.0.1\n";
    run("openssl req " + ec + " -keyout " + d + "/server.key -out " + d +
        "/server.csr -subj /CN=localhost");
    run("openssl x509 -req -in " + d + "/server.csr -CA " + d + "/ca.crt -CAkey " + d +
        "/ca.key -CAcreateserial -out " + d + "/server.crt -days 1 -extfile " + d + "/san.ext");
  }
  static void TearDownTestSuite() { fs::remove_all(dir_); }

  void SetUp() override {
    port_ = free_port();
    http_listener_config config;
    const std::string cert = (dir_ / "server.crt").string();
    const std::string key = (dir_ / "server.key").string();
    config.set_ssl_context_callback([cert, key](boost::asio::ssl::context& context) {
      context.use_certificate_chain_file(cert);
      context.use_private_key_file(key, boost::asio::ssl::context::pem);
    });
    listener_ = std::make_unique<http_listener>(
        web::uri("https://localhost:" + std::to_string(port_) + "/"), config);
    listener_->support(web::http::methods::GET, [this](web::http::http_request request) {
      const std::string path = request.relative_uri().path();
      if (path == "/hello") {
        const auto& headers = request.headers();
        const std::string auth =
            headers.has("Authorization") ? headers.find("Authorization")->second : "";
        request.reply(web::http::status_codes::OK, "hello " + auth);
      } else if (path == "/watch") {
        serve_stream(request);
      } else if (path == "/forever") {
        concurrency::streams::producer_consumer_buffer<std::uint8_t> buffer;
        hold_ = buffer;  // never written, never closed: the read blocks until cancelled
        web::http::http_response response(web::http::status_codes::OK);
        response.set_body(buffer.create_istream());
        request.reply(response);
      } else {
        request.reply(web::http::status_codes::NotFound, "nope");
      }
    });
    listener_->open().wait();
  }

  void TearDown() override {
    if (hold_) hold_->close(std::ios_base::out).wait();
    listener_->close().wait();
    if (writer_.joinable()) writer_.join();
  }

  void serve_stream(web::http::http_request request) {
    concurrency::streams::producer_consumer_buffer<std::uint8_t> buffer;
    web::http::http_response response(web::http::status_codes::OK);
    response.set_body(buffer.create_istream());  // no length: chunked transfer encoding
    request.reply(response);
    writer_ = std::thread([this, buffer]() mutable {
      for (int i = 0; i < kLines; ++i) {
        const std::string line = R"({"type":"ADDED","n":)" + std::to_string(i) + "}\n";
        buffer.putn_nocopy(reinterpret_cast<const std::uint8_t*>(line.data()), line.size()).wait();
        buffer.sync().wait();
        std::unique_lock lock(lines_.mutex);
        if (!lines_.changed.wait_for(lock, 20s, [&] { return lines_.acknowledged > i; })) {
          ++lines_.timeouts;
        }
      }
      buffer.close(std::ios_base::out).wait();
    });
  }

  ClusterConnection connection(const std::string& ca_file) const {
    ClusterConnection c;
    c.server = "https://localhost:" + std::to_string(port_);
    c.ca_pem = read_text(dir_ / ca_file);
    c.token = [] { return std::string("t0ken"); };
    return c;
  }

  static constexpr int kLines = 5;
  static inline fs::path dir_;
  int port_ = 0;
  std::unique_ptr<http_listener> listener_;
  std::optional<concurrency::streams::producer_consumer_buffer<std::uint8_t>> hold_;
  std::thread writer_;
  LineByLine lines_;
};

// With the right CA the request succeeds (and carries the bearer token); with another CA the
// handshake fails as a TLS error: verification is on and trusts exactly the configured CA.
TEST_F(TlsServer, VerifiesTheServerAgainstTheConfiguredCaOnly) {
  auto good = make_cpprest_transport(connection("ca.crt"));
  const HttpResponse response = good->send({"GET", "/hello", {}, ""});
  EXPECT_EQ(response.status, 200);
  EXPECT_EQ(response.body, "hello Bearer t0ken");

  auto wrong = make_cpprest_transport(connection("other.crt"));
  try {
    wrong->send({"GET", "/hello", {}, ""});
    FAIL() << "a server signed by another CA was accepted";
  } catch (const TransportError& error) {
    EXPECT_EQ(error.kind(), TransportError::Kind::kTls) << error.what();
  }
}

// A chunked body is delivered line by line as it arrives, not when it ends.
TEST_F(TlsServer, StreamsAChunkedBodyLineByLine) {
  auto transport = make_cpprest_transport(connection("ca.crt"));
  Cancellation cancellation;
  std::vector<std::string> received;
  const HttpResponse response = transport->stream(
      {"GET", "/watch", {}, ""},
      [&](std::string_view line) {
        received.emplace_back(line);
        {
          std::lock_guard lock(lines_.mutex);
          ++lines_.acknowledged;
        }
        lines_.changed.notify_all();
        return true;
      },
      cancellation);
  EXPECT_EQ(response.status, 200);
  ASSERT_EQ(received.size(), static_cast<std::size_t>(kLines));
  EXPECT_EQ(received.front(), R"({"type":"ADDED","n":0})");
  EXPECT_EQ(received.back(), R"({"type":"ADDED","n":4})");
  if (writer_.joinable()) writer_.join();
  EXPECT_EQ(lines_.timeouts.load(), 0);  // each line was read before the next was written
}

// Cancelling a stream blocked on a silent body returns promptly with kCancelled; non-2xx streams
// return their status and body without calling the handler.
TEST_F(TlsServer, CancellingABlockedStreamReturnsPromptly) {
  auto transport = make_cpprest_transport(connection("ca.crt"));
  Cancellation cancellation;
  auto result = std::async(std::launch::async, [&] {
    try {
      transport->stream(
          {"GET", "/forever", {}, ""}, [](std::string_view) { return true; }, cancellation);
      return std::string("returned");
    } catch (const TransportError& error) {
      return std::string(error.kind() == TransportError::Kind::kCancelled ? "cancelled"
                                                                          : error.what());
    }
  });
  std::this_thread::sleep_for(300ms);
  cancellation.cancel();
  ASSERT_EQ(result.wait_for(30s), std::future_status::ready);
  EXPECT_EQ(result.get(), "cancelled");

  Cancellation fresh;
  bool called = false;
  const HttpResponse missing = transport->stream(
      {"GET", "/missing", {}, ""}, [&](std::string_view) { return called = true; }, fresh);
  EXPECT_EQ(missing.status, 404);
  EXPECT_EQ(missing.body, "nope");
  EXPECT_FALSE(called);
}

// Unusable TLS material is refused when the transport is built, not at the first handshake.
TEST(CppRestTransport, RejectsUnusablePemUpFront) {
  ClusterConnection c;
  c.server = "https://localhost:1";
  c.ca_pem = "not a certificate";
  EXPECT_THROW(make_cpprest_transport(c), std::invalid_argument);
  c.ca_pem.clear();
  c.server = "ftp://x";
  EXPECT_THROW(make_cpprest_transport(c), std::invalid_argument);
}

}  // namespace
}  // namespace ipcmesh::kube
