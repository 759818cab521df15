// HttpTransport on cpprestsdk's http_client. The only kube file that includes cpprest (it compiles
// slowly). Settings follow /work/shared/notes/cpprestsdk.md: idle timeouts above the watch
// timeout, streams read in blocks and cut into lines on the caller's own thread, cancellation
// through a pplx token, errors told apart by error_code().
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <algorithm>
#include <boost/asio/ssl.hpp>
#include <cctype>
#include <stdexcept>
#include <vector>

#include "kube/http_transport.hpp"
#include "kube/line_splitter.hpp"

// clang-format off
#include <utility>  // before cpprest: boost/asio/awaitable.hpp uses std::exchange unincluded
#include <cpprest/http_client.h>
// clang-format on

namespace ipcmesh::kube {
namespace {

namespace http = web::http;
namespace client = web::http::client;

std::string to_lower(std::string text) {
  std::transform(text.begin(), text.end(), text.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return text;
}

// Trust exactly the given CA when one is configured (kubectl's rule): cpprestsdk has already
// loaded the system store into the context, so replace the store before adding ours.
void configure_tls(boost::asio::ssl::context& context, const ClusterConnection& connection) {
  if (!connection.ca_pem.empty()) {
    SSL_CTX_set_cert_store(context.native_handle(), X509_STORE_new());
    context.add_certificate_authority(
        boost::asio::buffer(connection.ca_pem.data(), connection.ca_pem.size()));
  }
  if (!connection.client_certificate_pem.empty()) {
    context.use_certificate_chain(boost::asio::buffer(connection.client_certificate_pem.data(),
                                                      connection.client_certificate_pem.size()));
    context.use_private_key(
        boost::asio::buffer(connection.client_key_pem.data(), connection.client_key_pem.size()),
        boost::asio::ssl::context::pem);
  }
  SSL_CTX_set_min_proto_version(context.native_handle(), TLS1_2_VERSION);
}

TransportError translate(const http::http_exception& error, const std::string& what) {
  const int code = error.error_code().value();
  const std::string message = what + ": " + error.what();
  // Codes measured with cpprestsdk 2.10.18 (asio): 110 timeout, 125 cancel, 1 server abort.
  if (code == 110) return TransportError(TransportError::Kind::kTimeout, message);
  if (code == 125) return TransportError(TransportError::Kind::kCancelled, message);
  const std::string lowered = to_lower(error.what());
  if (lowered.find("handshake") != std::string::npos ||
      lowered.find("certificate") != std::string::npos ||
      error.error_code().category().name() == std::string("asio.ssl")) {
    return TransportError(TransportError::Kind::kTls, message);
  }
  return TransportError(TransportError::Kind::kConnection, message);
}

// Reads a streamed body into `on_line` until it ends (true) or the handler returns false. Each
// read takes all that has arrived (at least one byte, waiting for it): istream::read_line costs a
// locked virtual call per byte, which was most of the operator's CPU per watch event (issue 13).
bool read_lines(concurrency::streams::streambuf<std::uint8_t> body, const LineHandler& on_line) {
  constexpr std::size_t kBlockSize = 64 * 1024;
  std::vector<std::uint8_t> block(kBlockSize);
  LineSplitter lines(on_line);
  while (true) {
    const std::size_t wanted = std::clamp<std::size_t>(body.in_avail(), 1, kBlockSize);
    const std::size_t got = body.getn(block.data(), wanted).get();
    if (got == 0) return lines.finish();  // the end of the body
    if (!lines.feed({reinterpret_cast<const char*>(block.data()), got})) return false;
  }
}

class CppRestTransport final : public HttpTransport {
 public:
  CppRestTransport(ClusterConnection connection, TransportOptions options)
      : connection_(std::move(connection)),
        options_(std::move(options)),
        client_(base_uri(), make_config(options_.request_timeout)),
        stream_client_(base_uri(), make_config(options_.stream_idle_timeout)) {}

  HttpResponse send(const HttpRequest& request) override {
    const std::string what = request.method + " " + request.path_and_query;
    try {
      http::http_response response = client_.request(to_cpprest(request)).get();
      HttpResponse out = head_of(response);
      out.body = response.extract_utf8string(true).get();
      return out;
    } catch (const http::http_exception& error) {
      throw translate(error, what);
    } catch (const pplx::task_canceled&) {
      throw TransportError(TransportError::Kind::kCancelled, what + ": cancelled");
    }
  }

  HttpResponse stream(const HttpRequest& request, const LineHandler& on_line,
                      Cancellation& cancellation) override {
    const std::string what = request.method + " " + request.path_and_query;
    pplx::cancellation_token_source source;
    CancellationSubscription subscription(cancellation, [&source] { source.cancel(); });
    try {
      if (cancellation.cancelled()) throw pplx::task_canceled();
      http::http_response response =
          stream_client_.request(to_cpprest(request), source.get_token()).get();
      HttpResponse out = head_of(response);
      if (out.status < 200 || out.status > 299) {
        out.body = response.extract_utf8string(true).get();
        return out;
      }
      if (!read_lines(response.body().streambuf(), on_line)) {
        // Stop the rest of the body from being read into memory in the background.
        source.cancel();
      }
      if (cancellation.cancelled()) throw pplx::task_canceled();
      return out;
    } catch (const http::http_exception& error) {
      if (cancellation.cancelled()) {
        throw TransportError(TransportError::Kind::kCancelled, what + ": cancelled");
      }
      throw translate(error, what);
    } catch (const pplx::task_canceled&) {
      throw TransportError(TransportError::Kind::kCancelled, what + ": cancelled");
    } catch (const std::exception& error) {
      // A body stream closed with an error (connection reset mid-watch).
      if (cancellation.cancelled()) {
        throw TransportError(TransportError::Kind::kCancelled, what + ": cancelled");
      }
      throw TransportError(TransportError::Kind::kConnection, what + ": " + error.what());
    }
  }

 private:
  web::uri base_uri() const {
    try {
      web::uri uri(utility::conversions::to_string_t(connection_.server));
      if (uri.scheme() != "https" && uri.scheme() != "http") {
        throw std::invalid_argument("scheme must be https");
      }
      return uri;
    } catch (const web::uri_exception& error) {
      throw std::invalid_argument("server URL \"" + connection_.server + "\": " + error.what());
    }
  }

  client::http_client_config make_config(std::chrono::seconds timeout) const {
    client::http_client_config config;
    config.set_timeout(timeout);
    config.set_validate_certificates(true);
    // Check the PEM now: a throw inside the callback would only surface as a silent handshake
    // failure on every connection.
    try {
      boost::asio::ssl::context probe(boost::asio::ssl::context::tls_client);
      configure_tls(probe, connection_);
    } catch (const std::exception& error) {
      throw std::invalid_argument(std::string("TLS material for ") + connection_.server +
                                  " is unusable: " + error.what());
    }
    config.set_ssl_context_callback([connection = connection_](boost::asio::ssl::context& context) {
      configure_tls(context, connection);
    });
    return config;
  }

  http::http_request to_cpprest(const HttpRequest& request) const {
    http::http_request out{http::method(request.method)};
    out.set_request_uri(web::uri(utility::conversions::to_string_t(request.path_and_query)));
    std::string content_type = "application/json";
    for (const auto& [name, value] : request.headers) {
      if (to_lower(name) == "content-type") {
        content_type = value;
      } else {
        out.headers().add(name, value);
      }
    }
    if (!out.headers().has("User-Agent")) out.headers().add("User-Agent", options_.user_agent);
    if (connection_.token) {
      const std::string token = connection_.token();
      if (!token.empty()) out.headers().add("Authorization", "Bearer " + token);
    }
    if (!request.body.empty()) out.set_body(request.body, content_type);
    return out;
  }

  static HttpResponse head_of(const http::http_response& response) {
    HttpResponse out;
    out.status = response.status_code();
    for (const auto& [name, value] : response.headers()) out.headers[to_lower(name)] = value;
    return out;
  }

  ClusterConnection connection_;
  TransportOptions options_;
  // Two clients: a watch may be silent for minutes, an ordinary request should not be.
  client::http_client client_;
  client::http_client stream_client_;
};

}  // namespace

std::unique_ptr<HttpTransport> make_cpprest_transport(ClusterConnection connection,
                                                      TransportOptions options) {
  return std::make_unique<CppRestTransport>(std::move(connection), std::move(options));
}

}  // namespace ipcmesh::kube
