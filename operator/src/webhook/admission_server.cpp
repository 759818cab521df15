// The only translation unit of the webhook that includes Boost.Beast (header-only, slow to
// compile: keep it contained). cpprestsdk's listener, used before, buffers a whole body before
// anyone can check its size and never times out idle or half-sent connections; Beast's parser
// lets us stop at the header, and each read and write here has a deadline.
//
// One coroutine per connection, on its own strand: read a header, decide, maybe read a body,
// answer, repeat while keep-alive. Every exit path closes the socket by leaving the coroutine.
#include "webhook/admission_server.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <stdexcept>
#include <thread>
#include <utility>  // Boost 1.74's asio/awaitable.hpp uses std::exchange without including it
#include <vector>

#include "webhook/certificate_reloader.hpp"

namespace ipcmesh::webhook {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

namespace {

struct ListenAddress {
  bool https = false;
  std::string host;
  std::uint16_t port = 0;
};

ListenAddress parse_address(const std::string& address) {
  ListenAddress parsed;
  std::string rest;
  if (address.rfind("https://", 0) == 0) {
    parsed.https = true;
    rest = address.substr(8);
  } else if (address.rfind("http://", 0) == 0) {
    rest = address.substr(7);
  } else {
    throw std::runtime_error("address must start with https:// or http://");
  }
  while (!rest.empty() && rest.back() == '/') rest.pop_back();
  const auto colon = rest.rfind(':');
  if (colon == std::string::npos || colon == 0) throw std::runtime_error("address needs host:port");
  parsed.host = rest.substr(0, colon);
  if (parsed.host.size() > 2 && parsed.host.front() == '[') {
    parsed.host = parsed.host.substr(1, parsed.host.size() - 2);  // [::]
  }
  const std::string port = rest.substr(colon + 1);
  if (port.empty() || port.size() > 5 ||
      port.find_first_not_of("0123456789") != std::string::npos || std::stoul(port) > 65535) {
    throw std::runtime_error("bad port \"" + port + "\"");
  }
  parsed.port = static_cast<std::uint16_t>(std::stoul(port));
  return parsed;
}

// "7340032 bytes (7 MiB)": the exact limit, and the size a person reads.
std::string byte_count(std::uint64_t bytes) {
  std::string text = std::to_string(bytes) + " bytes";
  if (bytes >= (1u << 20) && bytes % (1u << 20) == 0) {
    text += " (" + std::to_string(bytes >> 20) + " MiB)";
  }
  return text;
}

HttpResponse status_response(int code, std::string_view reason, const std::string& message) {
  const nlohmann::json status = {{"kind", "Status"},    {"apiVersion", "v1"},
                                 {"status", "Failure"}, {"code", code},
                                 {"reason", reason},    {"message", "ipcmesh webhook: " + message}};
  return {code, "application/json", status.dump()};
}

}  // namespace

// How long a connection answered 413 may keep sending before it is closed.
constexpr std::chrono::seconds kLingerTime{1};

struct AdmissionServer::Impl {
  AdmissionServerConfig config;
  HttpHandler handler;
  ListenAddress listen;
  std::shared_ptr<CertificateReloader> certificates;
  std::mutex tls_mutex;
  std::shared_ptr<asio::ssl::context> tls_context;  // for the generation below
  std::uint64_t tls_generation = 0;

  std::unique_ptr<asio::io_context> io;
  std::optional<tcp::acceptor> acceptor;
  std::vector<std::thread> threads;
  std::atomic<bool> serving{false};
  std::atomic<std::uint16_t> bound_port{0};

  std::atomic<std::uint64_t> open_connections{0};
  std::atomic<std::uint64_t> accepted_connections{0};
  std::atomic<std::uint64_t> refused_connections{0};
  std::atomic<std::uint64_t> handshake_failures{0};
  std::atomic<std::uint64_t> timed_out_connections{0};
  std::atomic<std::uint64_t> requests{0};
  std::atomic<std::uint64_t> too_large_requests{0};
  std::atomic<std::uint64_t> over_budget_requests{0};
  std::atomic<std::uint64_t> buffered_body_bytes{0};

  // Holds a connection's place in open_connections for as long as its coroutine lives.
  struct ConnectionSlot {
    Impl& impl;
    explicit ConnectionSlot(Impl& owner) : impl(owner) {}
    ConnectionSlot(const ConnectionSlot&) = delete;
    ConnectionSlot& operator=(const ConnectionSlot&) = delete;
    ~ConnectionSlot() { impl.open_connections.fetch_sub(1, std::memory_order_relaxed); }
  };

  // A share of max_buffered_body_bytes, returned when the request is answered.
  class BodyReservation {
   public:
    BodyReservation(Impl& impl, std::uint64_t bytes) : impl_(impl) {
      std::uint64_t used = impl.buffered_body_bytes.load(std::memory_order_relaxed);
      do {
        if (used + bytes > impl.config.max_buffered_body_bytes) return;
      } while (!impl.buffered_body_bytes.compare_exchange_weak(used, used + bytes,
                                                               std::memory_order_relaxed));
      bytes_ = bytes;
      granted_ = true;
    }
    BodyReservation(const BodyReservation&) = delete;
    BodyReservation& operator=(const BodyReservation&) = delete;
    ~BodyReservation() {
      if (granted_) impl_.buffered_body_bytes.fetch_sub(bytes_, std::memory_order_relaxed);
    }
    explicit operator bool() const { return granted_; }

   private:
    Impl& impl_;
    std::uint64_t bytes_ = 0;
    bool granted_ = false;
  };

  // The TLS context for new connections, rebuilt only when the reloader has a new pair. Never
  // throws: a context that cannot take the new pair leaves the last good one serving.
  std::shared_ptr<asio::ssl::context> current_tls_context() {
    const auto pair = certificates->current();
    std::lock_guard lock(tls_mutex);
    if (tls_context && pair->generation == tls_generation) return tls_context;
    try {
      auto context = std::make_shared<asio::ssl::context>(asio::ssl::context::tls_server);
      context->set_options(asio::ssl::context::default_workarounds | asio::ssl::context::no_sslv2 |
                           asio::ssl::context::no_sslv3 | asio::ssl::context::no_tlsv1 |
                           asio::ssl::context::no_tlsv1_1 | asio::ssl::context::single_dh_use);
      context->use_certificate_chain(
          asio::buffer(pair->certificate_pem.data(), pair->certificate_pem.size()));
      context->use_private_key(asio::buffer(pair->key_pem.data(), pair->key_pem.size()),
                               asio::ssl::context::pem);
      if (tls_context) {
        spdlog::info("admission: serving rotated TLS certificate (generation {})",
                     pair->generation);
      }
      tls_context = std::move(context);
      tls_generation = pair->generation;
    } catch (const std::exception& error) {
      spdlog::error("admission: TLS setup with certificate generation {} failed: {}",
                    pair->generation, error.what());
    }
    if (auto error = certificates->last_error(); !error.empty()) {
      spdlog::warn("admission: new TLS certificate not taken, serving generation {}: {}",
                   tls_generation, error);
    }
    return tls_context;
  }

  HttpResponse call_handler(const HttpRequest& request) const {
    try {
      return handler(request);
    } catch (const std::exception& error) {
      spdlog::error("admission: handler failed: {}", error.what());
      return status_response(500, "InternalError", "internal error");
    }
  }

  template <class Stream>
  static asio::awaitable<bool> write(Stream& stream, const HttpResponse& response, unsigned version,
                                     bool keep_alive, std::chrono::milliseconds timeout,
                                     bool retry_later = false) {
    http::response<http::string_body> out{static_cast<http::status>(response.status), version};
    out.set(http::field::content_type, response.content_type);
    if (retry_later) out.set(http::field::retry_after, "1");
    out.keep_alive(keep_alive);
    out.body() = response.body;
    out.prepare_payload();
    beast::get_lowest_layer(stream).expires_after(timeout);
    beast::error_code error;
    co_await http::async_write(stream, out, asio::redirect_error(asio::use_awaitable, error));
    co_return !error;
  }

  // After a 413 the client may still be sending: closing with unread bytes makes the kernel reset
  // the connection, and the client never sees the answer. So read and drop a bounded amount for a
  // short while first (nginx's lingering close); nothing is kept.
  template <class Stream>
  asio::awaitable<void> discard_rest(Stream& stream) const {
    auto& socket = beast::get_lowest_layer(stream);
    beast::error_code error;
    socket.socket().shutdown(tcp::socket::shutdown_send, error);
    socket.expires_after(kLingerTime);
    std::array<char, 16 * 1024> sink;
    for (std::uint64_t dropped = 0; dropped < config.max_body_bytes;) {
      dropped += co_await stream.async_read_some(asio::buffer(sink),
                                                 asio::redirect_error(asio::use_awaitable, error));
      if (error) break;
    }
  }

  static HttpRequest request_head(const http::request_parser<http::string_body>& parser) {
    const auto& message = parser.get();
    HttpRequest request;
    request.method = std::string(message.method_string());
    const std::string_view target(message.target().data(), message.target().size());
    request.path = std::string(target.substr(0, target.find('?')));
    if (const auto it = message.find(http::field::content_type); it != message.end()) {
      request.content_type = std::string(it->value());
    }
    if (const auto length = parser.content_length()) request.content_length = *length;
    return request;
  }

  // Serves requests until the client closes, a deadline passes, or an answer closes the connection.
  template <class Stream>
  asio::awaitable<void> serve_requests(Stream& stream) {
    auto& socket = beast::get_lowest_layer(stream);
    beast::flat_buffer buffer;
    for (;;) {
      http::request_parser<http::string_body> parser;
      parser.header_limit(static_cast<std::uint32_t>(config.max_header_bytes));
      parser.body_limit(config.max_body_bytes);
      socket.expires_after(config.idle_timeout);
      beast::error_code error;
      co_await http::async_read_header(stream, buffer, parser,
                                       asio::redirect_error(asio::use_awaitable, error));
      // Beast stops at the header when its Content-Length is over body_limit.
      const bool declared_too_large =
          error == http::error::body_limit ||
          (!error && parser.content_length() && *parser.content_length() > config.max_body_bytes);
      if (error && !declared_too_large) {
        if (error == beast::error::timeout) timed_out_connections.fetch_add(1);
        co_return;
      }
      HttpRequest request = request_head(parser);
      const unsigned version = parser.get().version();
      requests.fetch_add(1, std::memory_order_relaxed);
      if (declared_too_large) {
        // The body is never read, so the connection must close after the answer.
        too_large_requests.fetch_add(1, std::memory_order_relaxed);
        co_await write(
            stream,
            status_response(413, "RequestEntityTooLarge",
                            "the request body has " +
                                byte_count(parser.content_length().value_or(0)) + "; at most " +
                                byte_count(config.max_body_bytes) + " are accepted"),
            version, false, config.request_timeout);
        co_await discard_rest(stream);
        co_return;
      }
      const BodyReservation reservation(
          *this, parser.chunked() ? config.max_body_bytes : request.content_length.value_or(0));
      if (!reservation) {
        over_budget_requests.fetch_add(1, std::memory_order_relaxed);
        co_await write(
            stream,
            status_response(503, "ServiceUnavailable", "too many request bodies in flight; retry"),
            version, false, config.request_timeout, /*retry_later=*/true);
        co_return;
      }
      if (!parser.is_done()) {
        if (const auto expect = parser.get().find(http::field::expect);
            expect != parser.get().end() && beast::iequals(expect->value(), "100-continue")) {
          http::response<http::empty_body> proceed{http::status::continue_, version};
          socket.expires_after(config.request_timeout);
          co_await http::async_write(stream, proceed,
                                     asio::redirect_error(asio::use_awaitable, error));
          if (error) co_return;
        }
        socket.expires_after(config.request_timeout);
        co_await http::async_read(stream, buffer, parser,
                                  asio::redirect_error(asio::use_awaitable, error));
        if (error == http::error::body_limit) {  // chunked, past the limit
          too_large_requests.fetch_add(1, std::memory_order_relaxed);
          co_await write(stream,
                         status_response(413, "RequestEntityTooLarge",
                                         "the request body exceeds " +
                                             byte_count(config.max_body_bytes) + " (chunked)"),
                         version, false, config.request_timeout);
          co_await discard_rest(stream);
          co_return;
        }
        if (error) {
          if (error == beast::error::timeout) timed_out_connections.fetch_add(1);
          co_return;
        }
      }
      request.body = std::move(parser.get().body());
      const HttpResponse response = call_handler(request);
      request.body = std::string();  // give the buffer back before a slow client reads the answer
      const bool keep_alive = parser.get().keep_alive() && serving.load();
      if (!co_await write(stream, response, version, keep_alive, config.request_timeout)) {
        co_return;
      }
      if (!keep_alive) co_return;
    }
  }

  asio::awaitable<void> serve_connection(tcp::socket socket) {
    const ConnectionSlot slot(*this);
    beast::tcp_stream plain(std::move(socket));
    if (!listen.https) {
      co_await serve_requests(plain);
      co_return;
    }
    const auto context = current_tls_context();
    if (!context) co_return;
    beast::ssl_stream<beast::tcp_stream> stream(std::move(plain), *context);
    beast::get_lowest_layer(stream).expires_after(config.handshake_timeout);
    beast::error_code error;
    co_await stream.async_handshake(asio::ssl::stream_base::server,
                                    asio::redirect_error(asio::use_awaitable, error));
    if (error) {
      handshake_failures.fetch_add(1, std::memory_order_relaxed);
      if (error == beast::error::timeout) timed_out_connections.fetch_add(1);
      spdlog::debug("admission: TLS handshake failed: {}", error.message());
      co_return;
    }
    co_await serve_requests(stream);
  }

  asio::awaitable<void> accept_connections() {
    for (;;) {
      beast::error_code error;
      tcp::socket socket = co_await acceptor->async_accept(
          asio::make_strand(*io), asio::redirect_error(asio::use_awaitable, error));
      if (error) {
        if (error == asio::error::operation_aborted || !acceptor->is_open()) co_return;
        // EMFILE and friends: wait a little rather than spin on a failing accept().
        spdlog::warn("admission: accept failed: {}", error.message());
        asio::steady_timer pause(acceptor->get_executor(), std::chrono::milliseconds(100));
        co_await pause.async_wait(asio::redirect_error(asio::use_awaitable, error));
        continue;
      }
      if (open_connections.load(std::memory_order_relaxed) >= config.max_connections) {
        refused_connections.fetch_add(1, std::memory_order_relaxed);
        socket.close(error);
        continue;
      }
      open_connections.fetch_add(1, std::memory_order_relaxed);
      accepted_connections.fetch_add(1, std::memory_order_relaxed);
      const auto executor = socket.get_executor();
      asio::co_spawn(executor, serve_connection(std::move(socket)), asio::detached);
    }
  }
};

AdmissionServer::AdmissionServer(AdmissionServerConfig config, HttpHandler handler)
    : impl_(std::make_unique<Impl>()) {
  impl_->config = std::move(config);
  impl_->handler = std::move(handler);
}

AdmissionServer::~AdmissionServer() {
  stop();
}

void AdmissionServer::start() {
  auto& impl = *impl_;
  if (impl.serving) return;
  try {
    impl.listen = parse_address(impl.config.address);
    if (impl.listen.https) {
      impl.certificates =
          std::make_shared<CertificateReloader>(impl.config.certificate_file, impl.config.key_file);
      if (!impl.current_tls_context()) {
        throw std::runtime_error("the certificate and key cannot serve TLS");
      }
    }
    impl.io = std::make_unique<asio::io_context>();
    const tcp::endpoint endpoint(asio::ip::make_address(impl.listen.host), impl.listen.port);
    impl.acceptor.emplace(*impl.io);
    impl.acceptor->open(endpoint.protocol());
    impl.acceptor->set_option(asio::socket_base::reuse_address(true));
    impl.acceptor->bind(endpoint);
    impl.acceptor->listen(asio::socket_base::max_listen_connections);
    impl.bound_port = impl.acceptor->local_endpoint().port();
  } catch (const std::exception& error) {
    impl.acceptor.reset();
    impl.io.reset();
    throw std::runtime_error("admission server cannot listen on " + impl.config.address + ": " +
                             error.what());
  }
  asio::co_spawn(*impl.io, impl.accept_connections(), asio::detached);
  unsigned threads = impl.config.threads;
  if (threads == 0) threads = std::clamp(std::thread::hardware_concurrency(), 1u, 4u);
  for (unsigned i = 0; i < threads; ++i) {
    impl.threads.emplace_back([&impl] {
      for (;;) {
        try {
          impl.io->run();
          return;
        } catch (const std::exception& error) {
          spdlog::error("admission: connection failed: {}", error.what());
        }
      }
    });
  }
  impl.serving = true;
  spdlog::info("admission: serving on {}", impl.config.address);
}

void AdmissionServer::stop() {
  auto& impl = *impl_;
  if (!impl.io) return;
  impl.serving = false;
  asio::post(*impl.io, [&impl] {
    beast::error_code ignored;
    impl.acceptor->close(ignored);
  });
  impl.io->stop();
  for (auto& thread : impl.threads) thread.join();
  impl.threads.clear();
  impl.acceptor.reset();
  // Destroying the context destroys the suspended connection coroutines, closing their sockets.
  impl.io.reset();
}

bool AdmissionServer::serving() const {
  return impl_->serving;
}

std::uint16_t AdmissionServer::port() const {
  return impl_->bound_port;
}

std::uint64_t AdmissionServer::certificate_generation() const {
  if (!impl_->certificates) return 0;
  std::lock_guard lock(impl_->tls_mutex);
  return impl_->tls_generation;
}

AdmissionServerStats AdmissionServer::stats() const {
  const auto& impl = *impl_;
  AdmissionServerStats stats;
  stats.open_connections = impl.open_connections.load();
  stats.accepted_connections = impl.accepted_connections.load();
  stats.refused_connections = impl.refused_connections.load();
  stats.handshake_failures = impl.handshake_failures.load();
  stats.timed_out_connections = impl.timed_out_connections.load();
  stats.requests = impl.requests.load();
  stats.too_large_requests = impl.too_large_requests.load();
  stats.over_budget_requests = impl.over_budget_requests.load();
  stats.buffered_body_bytes = impl.buffered_body_bytes.load();
  return stats;
}

}  // namespace ipcmesh::webhook
