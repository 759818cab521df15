// The real admission server and handler as a process of their own, so the webhook tier can attack
// it from outside and read its memory from /proc. Serves one channel ("frames" in "team",
// selecting app=pipeline) on https://127.0.0.1:<free port>, writes the port to --port-file, and
// stops on SIGTERM or SIGINT.
#include <signal.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "webhook/admission.hpp"
#include "webhook/admission_server.hpp"

namespace {

constexpr std::string_view kUsage =
    "usage: ipcmesh-admission-fixture --cert FILE --key FILE --port-file FILE\n"
    "         [--max-connections N] [--handshake-timeout-ms N] [--idle-timeout-ms N]\n"
    "         [--request-timeout-ms N]\n";

}  // namespace

int main(int argc, char** argv) {
  using namespace ipcmesh::webhook;
  AdmissionServerConfig config;
  config.address = "https://127.0.0.1:0";
  std::string port_file;
  for (int i = 1; i < argc; ++i) {
    const std::string_view flag = argv[i];
    if (flag == "-h" || flag == "--help") {
      std::cout << kUsage;
      return 0;
    }
    if (i + 1 >= argc) {
      std::cerr << "ipcmesh-admission-fixture: " << flag << " needs a value\n" << kUsage;
      return 2;
    }
    const std::string value = argv[++i];
    if (flag == "--cert") {
      config.certificate_file = value;
    } else if (flag == "--key") {
      config.key_file = value;
    } else if (flag == "--port-file") {
      port_file = value;
    } else if (flag == "--max-connections") {
      config.max_connections = std::stoul(value);
    } else if (flag == "--handshake-timeout-ms") {
      config.handshake_timeout = std::chrono::milliseconds(std::stol(value));
    } else if (flag == "--idle-timeout-ms") {
      config.idle_timeout = std::chrono::milliseconds(std::stol(value));
    } else if (flag == "--request-timeout-ms") {
      config.request_timeout = std::chrono::milliseconds(std::stol(value));
    } else {
      std::cerr << "ipcmesh-admission-fixture: unknown flag " << flag << "\n" << kUsage;
      return 2;
    }
  }
  if (config.certificate_file.empty() || config.key_file.empty() || port_file.empty()) {
    std::cerr << kUsage;
    return 2;
  }

  auto catalog = std::make_shared<ChannelSnapshot>();
  auto channel = ipcmesh::api::ipc_channel_from_json(nlohmann::json::parse(R"({
    "metadata":{"name":"frames","namespace":"team","uid":"u1","generation":1},
    "spec":{"selector":{"matchLabels":{"app":"pipeline"}}}})"));
  if (!channel) {
    std::cerr << "ipcmesh-admission-fixture: bad built-in channel\n";
    return 1;
  }
  catalog->replace({*channel});
  const AdmissionHandler handler(catalog, MutationOptions{});

  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);  // before the server's threads start

  AdmissionServer server(config, [&handler](const HttpRequest& r) { return handler.handle(r); });
  server.start();
  {
    std::ofstream out(port_file + ".tmp");
    out << server.port() << "\n";
  }
  std::rename((port_file + ".tmp").c_str(), port_file.c_str());
  int signal = 0;
  sigwait(&stop_signals, &signal);
  const auto stats = server.stats();
  server.stop();
  std::cout << "accepted " << stats.accepted_connections << " refused " << stats.refused_connections
            << " timed-out " << stats.timed_out_connections << " handshake-failures "
            << stats.handshake_failures << " too-large " << stats.too_large_requests
            << " over-budget " << stats.over_budget_requests << " requests " << stats.requests
            << "\n";
  return 0;
}
