// Component test: the real admission server over TLS on 127.0.0.1, a throwaway certificate made
// with the openssl CLI, and cpprestsdk's http_client as kube-apiserver would call it.
#define _TURN_OFF_PLATFORM_STRING
#include "webhook/admission_server.hpp"

#include <cpprest/http_client.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "webhook/admission.hpp"
#include "webhook/certificate_reloader.hpp"

namespace ipcmesh::webhook {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

struct TempDir {
  fs::path path;
  TempDir() {
    path = fs::temp_directory_path() / ("ipcmesh-webhook-" + std::to_string(::getpid()));
    fs::create_directories(path);
  }
  ~TempDir() { fs::remove_all(path); }
};

// A self-signed certificate for 127.0.0.1 with the given common name.
void make_certificate(const fs::path& dir, const std::string& name, const std::string& cn) {
  const std::string command = "openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=" + cn +
                              " -addext subjectAltName=IP:127.0.0.1 -keyout " +
                              (dir / (name + ".key")).string() + " -out " +
                              (dir / (name + ".crt")).string() + " 2>/dev/null";
  ASSERT_EQ(std::system(command.c_str()), 0) << command;
}

std::string read(const fs::path& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// A port derived from the pid; SetUp tries the next ones when start() finds it taken.
int free_port() {
  return 20000 + (::getpid() % 20000);
}

class AdmissionServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    make_certificate(dir_.path, "serving", "first");
    auto store = std::make_shared<ChannelSnapshot>();
    auto channel = api::ipc_channel_from_json(json::parse(R"({
      "metadata":{"name":"frames","namespace":"team","uid":"u1","generation":1},
      "spec":{"selector":{"matchLabels":{"app":"pipeline"}}}})"));
    ASSERT_TRUE(channel.has_value());
    store->replace({*channel});
    handler_ = std::make_shared<AdmissionHandler>(store, MutationOptions{});
    AdmissionServerConfig config;
    for (int attempt = 0; attempt < 20; ++attempt) {
      port_ = free_port() + attempt * 7;
      config.address = "https://127.0.0.1:" + std::to_string(port_);
      config.certificate_file = (dir_.path / "serving.crt").string();
      config.key_file = (dir_.path / "serving.key").string();
      server_ = std::make_unique<AdmissionServer>(
          config, [handler = handler_](const HttpRequest& r) { return handler->handle(r); });
      try {
        server_->start();
        break;
      } catch (const std::exception&) {
        server_.reset();
      }
    }
    ASSERT_TRUE(server_ && server_->serving());
  }

  // A client that trusts only the certificate in `ca_file` and records the peer's common name.
  web::http::client::http_client client(const fs::path& ca_file) {
    web::http::client::http_client_config config;
    config.set_timeout(std::chrono::seconds(30));
    config.set_ssl_context_callback([ca = ca_file.string()](boost::asio::ssl::context& context) {
      context.load_verify_file(ca);
    });
    config.set_validate_certificates(true);
    return web::http::client::http_client("https://127.0.0.1:" + std::to_string(port_), config);
  }

  web::http::http_response post(web::http::client::http_client& c, const std::string& body,
                                const std::string& content_type = "application/json") {
    web::http::http_request request(web::http::methods::POST);
    request.set_request_uri("/mutate-pods");
    request.set_body(body, content_type);
    return c.request(request).get();
  }

  static json review() {
    return json{{"apiVersion", "admission.k8s.io/v1"},
                {"kind", "AdmissionReview"},
                {"request",
                 {{"uid", "abc-123"},
                  {"kind", {{"group", ""}, {"version", "v1"}, {"kind", "Pod"}}},
                  {"namespace", "team"},
                  {"operation", "CREATE"},
                  {"object",
                   {{"metadata", {{"name", "p"}, {"labels", {{"app", "pipeline"}}}}},
                    {"spec", {{"containers", json::array({{{"name", "app"}}})}}}}}}}};
  }

  TempDir dir_;
  int port_ = 0;
  std::shared_ptr<AdmissionHandler> handler_;
  std::unique_ptr<AdmissionServer> server_;
};

// Over TLS the server answers a valid review with a patch, malformed ones with clear errors, and
// keeps serving after each of them.
TEST_F(AdmissionServerTest, AnswersValidAndMalformedReviewsAndKeepsServing) {
  auto c = client(dir_.path / "serving.crt");
  auto response = post(c, review().dump());
  ASSERT_EQ(response.status_code(), 200);
  const json answer = json::parse(response.extract_utf8string(true).get());
  EXPECT_EQ(answer["response"]["uid"], "abc-123");
  EXPECT_EQ(answer["response"]["allowed"], true);
  EXPECT_EQ(answer["response"]["patchType"], "JSONPatch");

  response = post(c, "{this is not json");
  EXPECT_EQ(response.status_code(), 400);
  EXPECT_NE(response.extract_utf8string(true).get().find("not valid JSON"), std::string::npos);

  response = post(c, review().dump(), "text/plain");
  EXPECT_EQ(response.status_code(), 415);
  EXPECT_NE(response.extract_utf8string(true).get().find("application/json"), std::string::npos);

  auto no_uid = review();
  no_uid["request"].erase("uid");
  response = post(c, no_uid.dump());
  EXPECT_EQ(response.status_code(), 400);
  EXPECT_NE(response.extract_utf8string(true).get().find("request.uid"), std::string::npos);

  response = post(c, std::string(kMaxRequestBodyBytes + 1024, 'x'));
  EXPECT_EQ(response.status_code(), 413);
  EXPECT_NE(response.extract_utf8string(true).get().find("7 MiB"), std::string::npos);

  // Still serving, on a fresh connection too.
  auto fresh = client(dir_.path / "serving.crt");
  response = post(fresh, review().dump());
  EXPECT_EQ(response.status_code(), 200);
  EXPECT_TRUE(server_->serving());
}

// A rotated certificate is served to new connections without a restart; a broken rotation
// (mismatched key) keeps the last good pair serving.
TEST_F(AdmissionServerTest, PicksUpARotatedCertificateWithoutRestart) {
  EXPECT_EQ(server_->certificate_generation(), 1u);
  {
    auto c = client(dir_.path / "serving.crt");
    EXPECT_EQ(post(c, review().dump()).status_code(), 200);
  }
  const std::string first_cert = read(dir_.path / "serving.crt");
  make_certificate(dir_.path, "next", "second");
  // A half-done rotation: new certificate, old key. Handshakes keep using the first pair.
  fs::copy_file(dir_.path / "next.crt", dir_.path / "serving.crt",
                fs::copy_options::overwrite_existing);
  {
    // Trusting the first certificate still works: the broken pair was not taken.
    std::ofstream(dir_.path / "first.crt") << first_cert;
    auto c = client(dir_.path / "first.crt");
    EXPECT_EQ(post(c, review().dump()).status_code(), 200);
  }
  EXPECT_EQ(server_->certificate_generation(), 1u);
  // Finish the rotation: now the key matches and new connections get the second certificate.
  fs::copy_file(dir_.path / "next.key", dir_.path / "serving.key",
                fs::copy_options::overwrite_existing);
  {
    auto c = client(dir_.path / "next.crt");
    EXPECT_EQ(post(c, review().dump()).status_code(), 200);
  }
  EXPECT_EQ(server_->certificate_generation(), 2u);
  {
    // And a client that trusts only the old certificate is now refused at the handshake.
    auto c = client(dir_.path / "first.crt");
    EXPECT_THROW(post(c, review().dump()), web::http::http_exception);
  }
}

// The reloader refuses a key that does not belong to the certificate, with a reason.
TEST(CertificateReloader, RefusesMismatchedPairs) {
  TempDir dir;
  make_certificate(dir.path, "a", "a");
  make_certificate(dir.path, "b", "b");
  EXPECT_EQ(check_certificate_pair(read(dir.path / "a.crt"), read(dir.path / "a.key")), "");
  EXPECT_NE(check_certificate_pair(read(dir.path / "a.crt"), read(dir.path / "b.key")), "");
  EXPECT_NE(check_certificate_pair("junk", read(dir.path / "a.key")), "");
  EXPECT_THROW(CertificateReloader((dir.path / "a.crt").string(), (dir.path / "b.key").string()),
               std::runtime_error);
}

}  // namespace
}  // namespace ipcmesh::webhook
