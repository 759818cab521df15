// The only translation unit of the webhook that includes cpprestsdk (slow to compile, archived
// upstream: keep it contained). See /work/shared/notes/cpprestsdk.md for the measured behaviour.
// cpprestsdk's U() macro breaks fmt (spdlog): `decltype(format_as(U()))` in fmt/core.h.
#define _TURN_OFF_PLATFORM_STRING
#include "webhook/admission_server.hpp"

#include <cpprest/http_listener.h>
#include <spdlog/spdlog.h>

#include <atomic>
#include <stdexcept>

#include "webhook/certificate_reloader.hpp"

namespace ipcmesh::webhook {

namespace http = web::http;

struct AdmissionServer::Impl {
  AdmissionServerConfig config;
  HttpHandler handler;
  std::shared_ptr<CertificateReloader> certificates;
  std::unique_ptr<http::experimental::listener::http_listener> listener;
  std::atomic<bool> serving{false};
  std::atomic<std::uint64_t> last_logged_generation{0};

  void reply(const http::http_request& request, const HttpResponse& response) const {
    http::http_response out(static_cast<http::status_code>(response.status));
    out.set_body(response.body, response.content_type);
    request.reply(out).then([](pplx::task<void> sent) {
      try {
        sent.get();
      } catch (const std::exception& error) {
        // The client went away: nothing to answer to, and nothing to crash over.
        spdlog::debug("admission: reply not delivered: {}", error.what());
      }
    });
  }

  void on_request(http::http_request request) const {
    HttpRequest in;
    in.method = request.method();
    in.path = request.relative_uri().path();
    if (request.headers().has(http::header_names::content_type)) {
      in.content_type = request.headers().content_type();
    }
    if (request.headers().has(http::header_names::content_length)) {
      in.content_length = request.headers().content_length();
    }
    if (in.content_length && *in.content_length > config.max_body_bytes) {
      // Answer without reading the body: the handler writes the 413 message.
      reply(request, handler(in));
      return;
    }
    // Never block a pool thread: continue when the body has arrived.
    request.extract_utf8string(/*ignore_content_type=*/true)
        .then([this, request, in = std::move(in)](pplx::task<std::string> body) mutable {
          try {
            in.body = body.get();
          } catch (const std::exception& error) {
            spdlog::warn("admission: cannot read the request body: {}", error.what());
            HttpResponse bad;
            bad.status = 400;
            bad.body =
                R"({"kind":"Status","status":"Failure","code":400,"message":"ipcmesh webhook: cannot read the request body"})";
            reply(request, bad);
            return;
          }
          HttpResponse response;
          try {
            response = handler(in);
          } catch (const std::exception& error) {
            spdlog::error("admission: handler failed: {}", error.what());
            response.status = 500;
            response.body =
                R"({"kind":"Status","status":"Failure","code":500,"message":"ipcmesh webhook: internal error"})";
          }
          reply(request, response);
        });
  }

  // Called by cpprestsdk for every accepted connection. It must not throw (a throw fails the
  // handshake silently), so it serves the last good pair and logs what went wrong.
  void configure_tls(boost::asio::ssl::context& context) {
    try {
      context.set_options(
          boost::asio::ssl::context::default_workarounds | boost::asio::ssl::context::no_sslv2 |
          boost::asio::ssl::context::no_sslv3 | boost::asio::ssl::context::no_tlsv1 |
          boost::asio::ssl::context::no_tlsv1_1 | boost::asio::ssl::context::single_dh_use);
      const auto pair = certificates->current();
      if (auto error = certificates->last_error(); !error.empty()) {
        spdlog::warn("admission: new TLS certificate not taken, serving generation {}: {}",
                     pair->generation, error);
      }
      if (last_logged_generation.exchange(pair->generation) != pair->generation &&
          pair->generation > 1) {
        spdlog::info("admission: serving rotated TLS certificate (generation {})",
                     pair->generation);
      }
      context.use_certificate_chain(
          boost::asio::buffer(pair->certificate_pem.data(), pair->certificate_pem.size()));
      context.use_private_key(boost::asio::buffer(pair->key_pem.data(), pair->key_pem.size()),
                              boost::asio::ssl::context::pem);
    } catch (const std::exception& error) {
      spdlog::error("admission: TLS setup failed: {}", error.what());
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
  http::experimental::listener::http_listener_config config;
  config.set_timeout(impl.config.idle_timeout);
  const bool https = impl.config.address.rfind("https://", 0) == 0;
  if (https) {
    impl.certificates =
        std::make_shared<CertificateReloader>(impl.config.certificate_file, impl.config.key_file);
    impl.last_logged_generation = impl.certificates->current()->generation;
    config.set_ssl_context_callback(
        [&impl](boost::asio::ssl::context& context) { impl.configure_tls(context); });
  }
  try {
    impl.listener = std::make_unique<http::experimental::listener::http_listener>(
        web::uri(impl.config.address), config);
    impl.listener->support([&impl](http::http_request request) { impl.on_request(request); });
    impl.listener->open().wait();
  } catch (const std::exception& error) {
    impl.listener.reset();
    throw std::runtime_error("admission server cannot listen on " + impl.config.address + ": " +
                             error.what());
  }
  impl.serving = true;
  spdlog::info("admission: serving on {}", impl.config.address);
}

void AdmissionServer::stop() {
  auto& impl = *impl_;
  if (!impl.listener) return;
  impl.serving = false;
  try {
    impl.listener->close().wait();
  } catch (const std::exception& error) {
    spdlog::warn("admission: closing the listener: {}", error.what());
  }
  impl.listener.reset();
}

bool AdmissionServer::serving() const {
  return impl_->serving;
}

std::uint64_t AdmissionServer::certificate_generation() const {
  return impl_->certificates ? impl_->certificates->current()->generation : 0;
}

}  // namespace ipcmesh::webhook
